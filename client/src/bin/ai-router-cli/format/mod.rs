//! Plain-text rendering of router responses for people reading a terminal.
//!
//! Everything returns a `String` (no colours, no terminal queries) so the
//! output is the same in a pipe, a log file or a test assertion.

mod models;
mod stats;
mod summary;
mod table;
mod units;

pub use models::format_models;
pub use stats::format_stats;
pub use summary::timing_summary;
