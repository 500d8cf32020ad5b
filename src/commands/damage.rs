//! Unreadable outputs, for `verify`, `ls` and `summary`: an entry that cannot
//! be read is named and passed over, the rest is still read where the format
//! allows it, and an archive that cannot be read at all says what to do.
//!
//! A zip's entries and a folder's files are read one by one: one of them
//! damaged costs that one only. A tar.gz or tar.zst is one compressed
//! stream: reading cannot go on past damaged data, so what comes after it
//! is unknown (and the manifest, written last, is among it).

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use serde::Serialize;

use crate::error::Error;
use crate::manifest::MANIFEST_NAME;
pub use crate::reader::is_damaged_end;
use crate::sanitize::{display_path, display_str};
use crate::triage::{self, Line, LogFile, Scanned, Visitor};

/// How many damaged entries are passed over before reading gives up: each
/// one costs a new pass over the archive's entries.
pub const DAMAGED_MAX: usize = 100;

/// An entry that could not be read, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub path: String,
    pub reason: String,
}

/// Whether `input` is read as a single stream, which cannot be read past
/// damaged data: a tar.gz, a tar.zst, or a zip without its central
/// directory (cut short), read from its front entry by entry.
pub fn is_stream(input: &Path) -> bool {
    match opened_with_magic(input) {
        Some((_, [0x1f, 0x8b, ..] | [0x28, 0xb5, 0x2f, 0xfd])) => true,
        Some((file, [b'P', b'K', ..])) => crate::reader::zip_lacks_directory(file),
        _ => false,
    }
}

/// Whether `input` is a tar.gz or tar.zst: one checksum, of a gzip member or
/// of the whole stream, covers many entries' bytes (a zip's covers one).
pub fn is_compressed_tar(input: &Path) -> bool {
    matches!(
        opened_with_magic(input),
        Some((_, [0x1f, 0x8b, ..] | [0x28, 0xb5, 0x2f, 0xfd]))
    )
}

/// The regular file at `input`, opened, and its first 4 bytes.
fn opened_with_magic(input: &Path) -> Option<(File, [u8; 4])> {
    // Not a pipe: opening one waits for a writer (reading refuses it).
    if !input.is_file() {
        return None;
    }
    let mut file = File::open(input).ok()?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).ok()?;
    Some((file, magic))
}

/// The error of an archive that cannot be read (as a whole, or far enough to
/// reach its manifest), saying so and what to do. Errors that already say
/// what to do (a missing file, a permission, not an output) are kept.
pub fn unreadable_archive(input: &Path, error: Error) -> Error {
    if error.hint.is_some() || input.is_dir() {
        return error;
    }
    Error::new(format!(
        "{}; {} looks truncated or damaged",
        error.message,
        display_path(input)
    ))
    .with_hint(
        "download it again (an interrupted download or upload, or a disk that filled up \
         while it was written, leaves an archive cut short)",
    )
}

/// The reason alone from a reading error of `path` in `input`.
pub fn reason(input: &Path, path: &str, error: &Error) -> String {
    let prefix = format!("cannot read {path} in {}: ", display_path(input));
    error
        .message
        .strip_prefix(&prefix)
        .unwrap_or(&error.message)
        .to_string()
}

/// What a scan that passes over damaged entries came to.
pub struct Tolerant {
    /// The manifest, and how many files were met (not only read).
    pub scanned: Scanned,
    /// Files that could not be read; the visitor saw none of them whole.
    pub unreadable: Vec<Unreadable>,
    /// Why reading stopped before the end of the input, when it did: what
    /// came after was not read.
    pub stopped: Option<Error>,
    /// Reading stopped at the last unreadable file.
    pub halted: bool,
}

/// [`triage::scan`] that passes over a file it cannot read: the file is
/// recorded as damaged and the scan starts again, the files already read
/// and the damaged ones passed over (not read again). A visitor must drop
/// what it gathered of a file that does not reach `end_file`. Where reading
/// cannot go on (a compressed stream, an error between entries), it stops
/// and says why. A folder's manifest that the scan did not reach is read
/// directly.
///
/// An error of the visitor itself (a closed stdout, a full disk) is not
/// damage of the input: it ends the scan and is returned.
pub fn scan(input: &Path, visitor: &mut dyn Visitor) -> Result<Tolerant, Error> {
    let stream = is_stream(input);
    let mut guard = Guard {
        inner: visitor,
        done: HashSet::new(),
        skip: HashSet::new(),
        index: 0,
        met: 0,
        current: None,
        binary: 0,
        failed: None,
    };
    let mut damaged = Vec::new();
    let mut halted = false;
    let (mut scanned, stopped) = loop {
        guard.index = 0;
        guard.current = None;
        // What a pass learnt is kept when it stops: the manifest read before
        // the damage, or before a stream's end that does not check.
        let mut scanned = Scanned::default();
        match triage::scan_into(input, &mut guard, &mut scanned) {
            Ok(()) => break (scanned, None),
            Err(_) if guard.failed.is_some() => {
                return Err(guard.failed.take().expect("checked"));
            }
            Err(error) => match guard.current.take() {
                Some((index, path)) => {
                    guard.inner.cut_short(&path)?;
                    let why = reason(input, &path, &error);
                    let stop = if stream {
                        Some(format!("reading stopped at {path} ({why})"))
                    } else if damaged.len() + 1 >= DAMAGED_MAX {
                        Some(format!(
                            "reading stopped at {path} ({why}), the {DAMAGED_MAX}th file that cannot be read"
                        ))
                    } else {
                        None
                    };
                    damaged.push(Unreadable { path, reason: why });
                    if let Some(stop) = stop {
                        halted = true;
                        break (scanned, Some(Error::new(stop)));
                    }
                    guard.skip.insert(index);
                }
                None => break (scanned, Some(error)),
            },
        }
    };
    scanned.files = scanned.files.max(guard.met);
    scanned.binary = guard.binary;
    if scanned.manifest.is_none() && input.is_dir() {
        // Only a regular file: a FIFO there would wait for a writer.
        let mut bytes = Vec::new();
        scanned.manifest =
            crate::safe_fs::open_regular(&crate::reader::output_root(input).join(MANIFEST_NAME))
                .and_then(|mut file| file.read_to_end(&mut bytes))
                .ok()
                .and_then(|_| serde_json::from_slice(&bytes).ok());
    }
    Ok(Tolerant {
        scanned,
        unreadable: damaged,
        stopped,
        halted,
    })
}

impl Tolerant {
    /// Nothing could be read: reading stopped before the first file and the
    /// manifest.
    pub fn nothing_read(&self) -> bool {
        self.stopped.is_some() && self.scanned.manifest.is_none() && self.scanned.files == 0
    }

    /// The warnings of [`Scanned::warn_if_odd`]; of an input read only up
    /// to damage, only that every file read was binary (the rest says
    /// nothing of a damaged input).
    pub fn warn_if_odd(&self, input: &Path) {
        match self.stopped {
            None => self.scanned.warn_if_odd(input),
            Some(_) => self.scanned.warn_if_only_binary(input),
        }
    }

    /// Some of the input could not be read, or may be altered.
    pub fn damaged(&self) -> bool {
        self.stopped.is_some() || !self.unreadable.is_empty()
    }
}

/// What a command's results keep of a file it could not read to its end.
#[derive(Clone, Copy)]
pub enum Kept {
    /// Its lines before the damage (`grep`, `timeline`: they stream).
    LinesBefore,
    /// Nothing (`summary`: a file counts whole or not at all).
    Nothing,
}

/// Say on stderr what of `input` is missing from the results (`results`:
/// "the search", "the timeline", "the summary"), once per file and once for
/// where reading stopped, with what to do. An input of which nothing could
/// be read is an error, returned (not printed): the caller decides whether
/// the run goes on.
pub fn report(input: &Path, read: &Tolerant, results: &str, kept: Kept) -> Result<(), Error> {
    let stopped = read
        .stopped
        .as_ref()
        .map(|e| unreadable_archive(input, e.clone()));
    if read.nothing_read() {
        return Err(stopped.expect("nothing_read means reading stopped"));
    }
    let mut stderr = std::io::stderr().lock();
    let what_of_it = match kept {
        Kept::LinesBefore => format!("only its lines before the damage are in {results}"),
        Kept::Nothing => format!("it is left out of {results}"),
    };
    // Where reading stopped at an unreadable file, the stop names it.
    let shown = read.unreadable.len() - usize::from(read.halted);
    for unreadable in &read.unreadable[..shown] {
        let _ = writeln!(
            stderr,
            "warning: cannot read {} in {}: {}; {what_of_it}",
            display_str(&unreadable.path),
            display_path(input),
            display_str(&unreadable.reason)
        );
    }
    let Some(error) = stopped else {
        return Ok(());
    };
    let consequence = if read
        .stopped
        .as_ref()
        .is_some_and(crate::reader::only_directory_damaged)
    {
        format!("every file was read, and nothing is left out of {results}")
    } else if read.stopped.as_ref().is_some_and(is_damaged_end) {
        "what was read from it may be altered (`logkeep verify` checks each file against the manifest)"
            .to_string()
    } else {
        let halted_file = if read.halted {
            match kept {
                Kept::LinesBefore => "; of that file, only the lines before the damage are shown",
                Kept::Nothing => "; that file too",
            }
        } else {
            ""
        };
        format!(
            "what comes after it{} is left out of {results}{halted_file}{}",
            if read.scanned.manifest.is_none() {
                ", and the manifest,"
            } else {
                ""
            },
            if read
                .stopped
                .as_ref()
                .is_some_and(crate::reader::may_be_altered)
            {
                "; what was read before it may be altered"
            } else {
                ""
            }
        )
    };
    let _ = writeln!(stderr, "warning: {}; {consequence}", error.message);
    if let Some(hint) = &error.hint {
        let _ = writeln!(stderr, "  hint: {hint}");
    }
    Ok(())
}

/// Passes the files of earlier passes over, and knows which file is read.
struct Guard<'v> {
    inner: &'v mut dyn Visitor,
    /// Entries (by their place in the input) read whole, or not wanted.
    done: HashSet<u64>,
    /// Entries found damaged.
    skip: HashSet<u64>,
    /// The place of the next entry in this pass.
    index: u64,
    /// Entries met, over all passes.
    met: u64,
    /// The entry being read.
    current: Option<(u64, String)>,
    binary: u64,
    /// The visitor's own error, which is not the input's fault.
    failed: Option<Error>,
}

impl Visitor for Guard<'_> {
    fn wants(&mut self, file: &LogFile) -> bool {
        let index = self.index;
        self.index += 1;
        self.met = self.met.max(self.index);
        self.current = None;
        if self.done.contains(&index) || self.skip.contains(&index) {
            return false;
        }
        if self.inner.wants(file) {
            self.current = Some((index, file.path.clone()));
            true
        } else {
            self.done.insert(index);
            false
        }
    }

    fn needs_records(&self) -> bool {
        self.inner.needs_records()
    }

    fn line(&mut self, file: &LogFile, line: &Line<'_>) -> crate::error::Result<()> {
        self.inner.line(file, line).inspect_err(|e| {
            self.failed = Some(e.clone());
        })
    }

    fn end_file(&mut self, file: &LogFile, binary: bool) -> crate::error::Result<()> {
        if let Some((index, _)) = self.current.take() {
            self.done.insert(index);
        }
        self.binary += u64::from(binary);
        self.inner.end_file(file, binary).inspect_err(|e| {
            self.failed = Some(e.clone());
        })
    }
}
