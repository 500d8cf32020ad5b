//! Exit codes are a contract scripts rely on; `--help` lists them.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done. Skipped files are listed, not fatal.
    Success = 0,
    /// An error: nothing was written.
    Error = 1,
    /// The command line is wrong (clap's own code).
    Usage = 2,
    /// Done, but problems were met and `--strict` was given.
    Problems = 3,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status as u8)
    }
}
