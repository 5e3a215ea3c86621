//! Where generated text goes while it arrives: kept for a unary answer, or
//! forwarded piece by piece to a streaming caller.

use tokio::sync::mpsc;

/// Where generated text goes while it arrives.
pub enum DeltaSink {
    /// Keep it; the caller gets it whole in the completion.
    Collect,
    /// Forward each piece at once; a closed channel means the caller left.
    Forward(mpsc::Sender<String>),
}
