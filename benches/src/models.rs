//! Generated models the benchmarks share.

use ai_router_testkit::gguf::TinyModelSpec;

/// The "realistic-ish" model of the brief: 256 wide, 4 layers, ff 1024
/// (about 2.7k tokens/s on this machine, loads in tens of ms).
pub fn bigger_spec(seed: u64, name: &str) -> TinyModelSpec {
    TinyModelSpec {
        embedding: 256,
        layers: 4,
        heads: 4,
        ff: 1024,
        context: 4096,
        seed,
        name: name.to_string(),
    }
}
