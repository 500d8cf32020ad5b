//! logkeep keeps the logs of a CI test environment before it is torn down:
//! [`rotate`] so no boot's log is overwritten, [`preserve`] the logs of VMs
//! before their folders are deleted, plan a [`layout`] of everything to keep
//! and [`pack`] it into an [`archive`] with a [`manifest`].

pub mod archive;
pub mod bats_results;
pub mod budget_queue;
pub mod checksum;
pub mod cli;
pub mod commands;
pub mod discover;
pub mod error;
pub mod exit_codes;
pub mod github;
pub mod interrupt;
pub mod layout;
pub mod literal_buckets;
pub mod logline;
pub mod manifest;
pub mod merge;
pub mod names;
pub mod output;
pub mod pack;
pub mod preserve;
pub mod problem;
pub mod reader;
pub mod redact;
pub mod rotate;
pub mod safe_fs;
pub mod sanitize;
pub mod sha256_in_step;
pub mod sources;
pub mod timestamp;
pub mod triage;
pub mod zip_recovery;

use std::ffi::OsString;
use std::process::ExitCode;

use exit_codes::ExitStatus;

/// Run logkeep with these command-line arguments and return its exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    interrupt::install();
    let command = match cli::parse(args) {
        Ok(Ok(command)) => command,
        Ok(Err(error)) => return report_error(&error, ExitStatus::Usage),
        Err(clap_error) => {
            let _ = clap_error.print();
            return ExitCode::from(clap_error.exit_code() as u8);
        }
    };
    match commands::run(command) {
        Ok(status) => status.into(),
        Err(error) => report_error(&error, ExitStatus::Error),
    }
}

fn report_error(error: &error::Error, status: ExitStatus) -> ExitCode {
    error.print();
    status.into()
}
