//! Logging set-up. Logs never carry prompt or completion text or secrets:
//! spans record model ids, sizes and timings only.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (text or JSON lines on stderr). Safe to
/// call more than once: later calls are ignored.
pub fn init_logging(filter: &str, json: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
