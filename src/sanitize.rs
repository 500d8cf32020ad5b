//! Names from a log tree are untrusted text: escape what a terminal would
//! interpret (control characters, escape sequences) and bytes that are not UTF-8.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::Path;

/// A path as it is safe to print: control characters as `\n`, `\x1b`…, invalid
/// UTF-8 bytes as `\xNN`.
pub fn display_path(path: &Path) -> String {
    display_os(path.as_os_str())
}

pub fn display_os(text: &OsStr) -> String {
    let bytes = text.as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        push_escaped(chunk.valid(), &mut out);
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Escape control characters in text that is already valid UTF-8.
pub fn display_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(text, &mut out);
    out
}

/// Copies the runs between control characters whole: every path of a plan
/// passes through here, and almost none holds a control character.
fn push_escaped(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(at) = rest.find(char::is_control) {
        out.push_str(&rest[..at]);
        let c = rest[at..].chars().next().expect("found at a char boundary");
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
        }
        rest = &rest[at + c.len_utf8()..];
    }
    out.push_str(rest);
}

/// serde helpers: paths in reports and the manifest are strings even when a
/// name is not UTF-8 (serde's own path serializer fails on those).
pub mod serde_path {
    use std::path::{Path, PathBuf};

    use serde::Serializer;

    use super::display_path;

    pub fn one<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&display_path(path))
    }

    pub fn option<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        match path {
            Some(path) => one(path, s),
            None => s.serialize_none(),
        }
    }

    pub fn list<S: Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(paths.iter().map(|p| display_path(p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters() {
        assert_eq!(display_str("a\nb\x1b[31m"), "a\\nb\\x1b[31m");
        assert_eq!(display_str("\t\r\u{85}é\u{7f}"), "\\t\\r\\x85é\\x7f");
        assert_eq!(display_str("plain/path.log"), "plain/path.log");
    }

    #[cfg(unix)]
    #[test]
    fn escapes_invalid_utf8() {
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(display_os(OsStr::from_bytes(b"x\xffy.log")), "x\\xffy.log");
    }
}
