//! What can go wrong in the CLI and how each failure is reported.

use std::io::ErrorKind;
use std::process::ExitCode;

use ai_router_client::ClientError;

/// Exit status for "nothing useful happened": connection, RPC or input
/// errors. Matches clap's status for bad arguments.
pub const EXIT_ERROR: u8 = 2;

/// A failure that ends the command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The router could not be reached or refused the call.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The input (prompt, batch file) is unusable.
    #[error("{0}")]
    Input(String),
    /// The router broke the protocol (e.g. a stream without its last chunk).
    #[error("{0}")]
    Protocol(String),
    /// Reading input or writing output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Serialising output failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl CliError {
    /// Prints `error: ...` to stderr and returns the exit status.
    ///
    /// A closed stdout (`ai-router-cli batch ... | head`) is not an error
    /// worth shouting about: the reader got what it wanted, so exit quietly
    /// with success, as other Unix tools do.
    pub fn report(self) -> ExitCode {
        if matches!(&self, Self::Io(err) if err.kind() == ErrorKind::BrokenPipe) {
            return ExitCode::SUCCESS;
        }
        eprintln!("error: {}", self.describe());
        ExitCode::from(EXIT_ERROR)
    }

    /// The one-line description. A status already reads `CODE: message`
    /// (its source is the same status in tonic's debug-ish wording, so it is
    /// not repeated); everything else gets its cause chain.
    fn describe(&self) -> String {
        match self {
            Self::Client(err @ ClientError::Status(_)) => err.to_string(),
            other => ai_router_client::error_chain(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_errors_read_code_colon_message() {
        let err = CliError::from(ClientError::from(tonic::Status::not_found("no model")));
        assert_eq!(err.describe(), "NOT_FOUND: no model");
    }
}
