//! Shared pieces of the benchmarks and of the `e2e` load harness: a direct
//! OpenAI-compatible streaming client (the baseline the router is compared
//! with), closed- and open-loop load runners that record into hdrhistogram,
//! process CPU time, a seeded PRNG, request builders and markdown tables.

pub mod cpu;
pub mod direct;
pub mod load;
pub mod machine;
pub mod report;
pub mod req;
pub mod rng;
