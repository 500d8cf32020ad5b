//! Stream the planned files into an archive writer, hashing each one in the
//! same pass, then add the manifest. A file that changes while it is read
//! never corrupts the archive: each entry holds exactly the size its header
//! announced, the size the file had when it was opened.

use std::io::{self, Read};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::archive::{ArchiveWriter, EntryMeta};
use crate::error::{Result, io_reason};
use crate::layout::{PlannedFile, SkipReason, Skipped};
use crate::manifest::{FileRecord, MANIFEST_NAME, Manifest, rfc3339};
use crate::problem::Problem;
use crate::safe_fs::open_regular;
use crate::sanitize::display_path;

/// Called after each file with the bytes it added, for progress display.
pub type Progress<'a> = &'a mut dyn FnMut(&PlannedFile, u64);

/// Write every planned file, then the manifest, and finish the writer.
/// Files that cannot be opened are recorded in the manifest and skipped;
/// only a failure of the output itself is an error.
pub fn pack(
    files: &[PlannedFile],
    manifest: &mut Manifest,
    mut writer: Box<dyn ArchiveWriter>,
    progress: Progress<'_>,
) -> Result<()> {
    for planned in files {
        let added = add_file(planned, manifest, writer.as_mut())?;
        progress(planned, added);
    }
    manifest.finish_totals();
    let json = manifest.to_json();
    let entry = EntryMeta {
        path: MANIFEST_NAME,
        size: json.len() as u64,
        mtime: Some(SystemTime::now()),
    };
    writer.add_file(&entry, &mut json.as_slice())?;
    writer.finish()
}

fn add_file(
    planned: &PlannedFile,
    manifest: &mut Manifest,
    writer: &mut dyn ArchiveWriter,
) -> Result<u64> {
    let file = match open_regular(&planned.source) {
        Ok(file) => file,
        Err(e) => {
            let reason = match e.kind() {
                io::ErrorKind::NotFound => "vanished before it could be read".to_string(),
                _ => format!("cannot open: {}", io_reason(&e)),
            };
            manifest
                .problems
                .push(Problem::new(&planned.source, reason));
            manifest.skipped.push(Skipped {
                source: display_path(&planned.source),
                instance: planned.instance.clone(),
                reason: SkipReason::Unreadable,
            });
            return Ok(0);
        }
    };
    let opened = file.metadata().ok();
    let size = opened.as_ref().map_or(0, |m| m.len());
    let mtime = opened.as_ref().and_then(|m| m.modified().ok());
    let mut reader = SnapshotReader::new(&file, size);
    let entry = EntryMeta {
        path: &planned.path,
        size,
        mtime,
    };
    writer.add_file(&entry, &mut reader)?;
    let after = file.metadata().ok();
    let changed = after.is_some_and(|m| m.len() != size || m.modified().ok() != mtime);
    if let Some(e) = &reader.read_error {
        manifest.problems.push(Problem::new(
            &planned.source,
            format!(
                "read failed after {} of {size} bytes ({}); the rest is NUL-filled",
                size - reader.zero_filled,
                io_reason(e)
            ),
        ));
    } else if reader.zero_filled > 0 {
        manifest.problems.push(Problem::new(
            &planned.source,
            format!(
                "shrank while read: the last {} of {size} bytes are NUL-filled",
                reader.zero_filled
            ),
        ));
    }
    manifest.files.push(FileRecord {
        path: planned.path.clone(),
        source: display_path(&planned.source),
        instance: planned.instance.clone(),
        vm: planned.vm.clone(),
        kind: planned.kind,
        log: planned.log.clone(),
        rotation: planned.rotation,
        size,
        sha256: hex::encode(reader.hasher.finalize()),
        mtime: mtime.and_then(rfc3339),
        changed_while_read: changed || reader.zero_filled > 0,
        zero_filled: reader.zero_filled,
    });
    Ok(size)
}

/// Yields exactly `size` bytes of a file that may change meanwhile: what was
/// appended after opening is left out; what vanished is replaced by NUL bytes.
/// Hashes what it yields.
struct SnapshotReader<R> {
    inner: R,
    remaining: u64,
    /// The source ran out early (or failed): the rest is zero-filled.
    exhausted: bool,
    zero_filled: u64,
    read_error: Option<io::Error>,
    hasher: Sha256,
}

impl<R: Read> SnapshotReader<R> {
    fn new(inner: R, size: u64) -> Self {
        SnapshotReader {
            inner,
            remaining: size,
            exhausted: false,
            zero_filled: 0,
            read_error: None,
            hasher: Sha256::new(),
        }
    }
}

impl<R: Read> Read for SnapshotReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = if self.exhausted {
            0
        } else {
            loop {
                match self.inner.read(&mut buf[..want]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.read_error = Some(e);
                        break 0;
                    }
                }
            }
        };
        let n = if n == 0 {
            self.exhausted = true;
            buf[..want].fill(0);
            self.zero_filled += want as u64;
            want
        } else {
            n
        };
        self.hasher.update(&buf[..n]);
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], size: u64) -> (Vec<u8>, u64) {
        let mut reader = SnapshotReader::new(data, size);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        (out, reader.zero_filled)
    }

    #[test]
    fn stops_at_the_size_seen_when_opened() {
        assert_eq!(read_all(b"hello world", 5), (b"hello".to_vec(), 0));
    }

    #[test]
    fn fills_a_shrunken_file_with_nul() {
        assert_eq!(read_all(b"abc", 5), (b"abc\0\0".to_vec(), 2));
    }

    #[test]
    fn hashes_what_it_yields() {
        let mut reader = SnapshotReader::new(&b"abcdef"[..], 3);
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(
            hex::encode(reader.hasher.finalize()),
            hex::encode(Sha256::digest(b"abc"))
        );
    }
}
