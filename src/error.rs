//! The one error type of the library: a message that names what it was about,
//! and a hint that says what the user can do.

use std::fmt;
use std::io;
use std::path::Path;

use crate::sanitize::display_path;

#[derive(Debug, Clone)]
pub struct Error {
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A file-system error about `path`, with a hint chosen from the error kind.
    pub fn io(action: &str, path: &Path, err: &io::Error) -> Self {
        Error::new(format!(
            "cannot {action} {}: {}",
            display_path(path),
            io_reason(err)
        ))
        .with_optional_hint(io_hint(err))
    }

    /// `what` failed on a temporary file: named by its folder (`TMPDIR`),
    /// which the user did not choose and may not know of, with what to do.
    pub fn temp_file(what: &str, err: &io::Error) -> Self {
        let folder = std::env::temp_dir();
        Error::new(format!(
            "cannot {what}: a temporary file in {}: {}",
            display_path(&folder),
            io_reason(err)
        ))
        .with_hint(
            "set TMPDIR to a folder that exists, is writable and has room \
             (about the size of the archive or logs read)",
        )
    }

    /// Print `error: …` and its hint on stderr. A closed stderr is not
    /// worth a panic: what cannot be said is dropped.
    pub fn print(&self) {
        use std::io::Write;
        let mut stderr = io::stderr().lock();
        let _ = writeln!(stderr, "error: {}", self.message);
        if let Some(hint) = &self.hint {
            let _ = writeln!(stderr, "  hint: {hint}");
        }
    }

    fn with_optional_hint(mut self, hint: Option<&str>) -> Self {
        self.hint = hint.map(str::to_string);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The OS message without Rust's "(os error N)" suffix, which tells a user
/// nothing. Control characters are escaped: a library's message may quote
/// bytes of a damaged archive (a tar header's field), which must not reach
/// a terminal as they are.
pub fn io_reason(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    crate::sanitize::display_str(text)
}

/// Has the process, or the system, run out of file descriptors?
pub fn out_of_descriptors(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

fn io_hint(err: &io::Error) -> Option<&'static str> {
    if out_of_descriptors(err) {
        return Some(
            "too many files are open at once: raise the limit of open files \
             (`ulimit -n 4096`) and run again",
        );
    }
    match err.kind() {
        io::ErrorKind::NotFound => Some("check that the path exists and is spelled right"),
        io::ErrorKind::PermissionDenied => {
            Some("run as a user that may access it, or change its permissions")
        }
        io::ErrorKind::AlreadyExists => Some("choose another name, or remove the existing one"),
        io::ErrorKind::StorageFull => Some("free some space or write the output elsewhere"),
        io::ErrorKind::ReadOnlyFilesystem => Some("write the output to a writable folder"),
        _ => None,
    }
}
