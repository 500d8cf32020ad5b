//! A problem met on one file: recorded, reported, and the run goes on.

use std::io;
use std::path::Path;

use serde::Serialize;

use crate::error::io_reason;
use crate::sanitize::display_path;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// The file or folder it was about.
    pub path: String,
    /// What went wrong and, where it matters, what was done about it.
    pub message: String,
}

impl Problem {
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        Problem {
            path: display_path(path),
            message: message.into(),
        }
    }

    pub fn io(path: &Path, action: &str, err: &io::Error) -> Self {
        Problem::new(path, format!("cannot {action}: {}", io_reason(err)))
    }
}
