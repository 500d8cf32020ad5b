//! Stream the planned files into an archive writer, hashing each one in the
//! same pass, then add the manifest. A file that changes while it is read
//! never corrupts the archive: each entry holds exactly the size its header
//! announced, the size the file had when it was opened.

use std::io::{self, Read, Seek, SeekFrom};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::archive::{ArchiveWriter, EntryMeta};
use crate::error::{Result, io_reason};
use crate::layout::{PlannedFile, SkipReason, Skipped};
use crate::manifest::{Cut, FileRecord, MANIFEST_NAME, Manifest, rfc3339};
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
    max_file_size: Option<u64>,
    manifest: &mut Manifest,
    mut writer: Box<dyn ArchiveWriter>,
    progress: Progress<'_>,
) -> Result<()> {
    for planned in files {
        let added = add_file(planned, max_file_size, manifest, writer.as_mut())?;
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
    max_file_size: Option<u64>,
    manifest: &mut Manifest,
    writer: &mut dyn ArchiveWriter,
) -> Result<u64> {
    let file = match open_regular(&planned.source) {
        Ok(file) => file,
        Err(e) => {
            let reason = match e.kind() {
                io::ErrorKind::NotFound => "vanished before it could be read".to_string(),
                io::ErrorKind::InvalidInput => {
                    "replaced by something that is not a regular file; not read".to_string()
                }
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
    let mut reader = match max_file_size {
        Some(cap) if size > cap => SnapshotReader::head_and_tail(&file, size, cap),
        _ => SnapshotReader::whole(&file, size),
    };
    let entry = EntryMeta {
        path: &planned.path,
        size: reader.len(),
        mtime,
    };
    writer.add_file(&entry, &mut reader)?;
    let after = file.metadata().ok();
    let changed = after.is_some_and(|m| m.len() != size || m.modified().ok() != mtime);
    if let Some(e) = &reader.read_error {
        manifest.problems.push(Problem::new(
            &planned.source,
            format!(
                "read failed ({}); {} bytes are NUL-filled",
                io_reason(e),
                reader.zero_filled
            ),
        ));
    } else if reader.zero_filled > 0 {
        manifest.problems.push(Problem::new(
            &planned.source,
            format!(
                "shrank while read: {} of its {size} bytes are NUL-filled",
                reader.zero_filled
            ),
        ));
    }
    let cut = reader.cut;
    manifest.files.push(FileRecord {
        path: planned.path.clone(),
        source: display_path(&planned.source),
        instance: planned.instance.clone(),
        vm: planned.vm.clone(),
        kind: planned.kind,
        log: planned.log.clone(),
        rotation: planned.rotation,
        size: entry.size,
        sha256: hex::encode(reader.hasher.finalize()),
        mtime: mtime.and_then(rfc3339),
        changed_while_read: changed || reader.zero_filled > 0,
        zero_filled: reader.zero_filled,
        original_size: cut.map(|_| size),
        cut,
    });
    Ok(entry.size)
}

/// One piece of an entry: a range of the file, or bytes of our own.
enum Segment {
    File { offset: u64, len: u64 },
    Marker(Vec<u8>),
}

/// Yields exactly the entry's size from a file that may change meanwhile:
/// what is appended after opening is left out, and what vanished (the file
/// shrank, or a read failed) is replaced by NUL bytes. Hashes what it yields.
struct SnapshotReader<R> {
    inner: R,
    segments: std::collections::VecDeque<Segment>,
    /// Where the next read of `inner` starts.
    position: u64,
    /// The source ran out early or failed: the rest of the file is NUL.
    exhausted: bool,
    zero_filled: u64,
    read_error: Option<io::Error>,
    cut: Option<Cut>,
    hasher: Sha256,
}

impl<R: Read + Seek> SnapshotReader<R> {
    fn whole(inner: R, size: u64) -> Self {
        Self::new(
            inner,
            vec![Segment::File {
                offset: 0,
                len: size,
            }],
            None,
        )
    }

    /// The first and last `cap / 2` bytes around a line saying what was cut.
    fn head_and_tail(inner: R, size: u64, cap: u64) -> Self {
        let head = cap / 2;
        let tail = cap - head;
        let removed = size - head - tail;
        let marker = format!(
            "\n[logkeep: {removed} bytes cut here; the file had {size} bytes, \
             of which the first {head} and the last {tail} are kept]\n"
        );
        let segments = vec![
            Segment::File {
                offset: 0,
                len: head,
            },
            Segment::Marker(marker.into_bytes()),
            Segment::File {
                offset: size - tail,
                len: tail,
            },
        ];
        Self::new(
            inner,
            segments,
            Some(Cut {
                head,
                tail,
                removed,
            }),
        )
    }

    fn new(inner: R, segments: Vec<Segment>, cut: Option<Cut>) -> Self {
        SnapshotReader {
            inner,
            segments: segments.into(),
            position: 0,
            exhausted: false,
            zero_filled: 0,
            read_error: None,
            cut,
            hasher: Sha256::new(),
        }
    }

    /// The number of bytes this reader yields in all.
    fn len(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::File { len, .. } => *len,
                Segment::Marker(bytes) => bytes.len() as u64,
            })
            .sum()
    }

    fn read_file(&mut self, offset: u64, buf: &mut [u8]) -> usize {
        if self.exhausted {
            return 0;
        }
        if self.position != offset {
            if let Err(e) = self.inner.seek(SeekFrom::Start(offset)) {
                self.read_error = Some(e);
                self.exhausted = true;
                return 0;
            }
            self.position = offset;
        }
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.position += n as u64;
                    self.exhausted = n == 0;
                    return n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.read_error = Some(e);
                    self.exhausted = true;
                    return 0;
                }
            }
        }
    }
}

impl<R: Read + Seek> Read for SnapshotReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = loop {
            let Some(segment) = self.segments.front_mut() else {
                return Ok(0);
            };
            match segment {
                Segment::Marker(bytes) if bytes.is_empty() => {}
                Segment::File { len: 0, .. } => {}
                Segment::Marker(bytes) => {
                    let n = buf.len().min(bytes.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    bytes.drain(..n);
                    break n;
                }
                Segment::File { offset, len } => {
                    let (offset, want) = (
                        *offset,
                        buf.len().min(usize::try_from(*len).unwrap_or(usize::MAX)),
                    );
                    let mut n = self.read_file(offset, &mut buf[..want]);
                    if n == 0 {
                        buf[..want].fill(0);
                        self.zero_filled += want as u64;
                        n = want;
                    }
                    if let Some(Segment::File { offset, len }) = self.segments.front_mut() {
                        *offset += n as u64;
                        *len -= n as u64;
                    }
                    break n;
                }
            }
            self.segments.pop_front();
        };
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_all(mut reader: SnapshotReader<Cursor<&[u8]>>) -> (Vec<u8>, u64) {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        (out, reader.zero_filled)
    }

    #[test]
    fn stops_at_the_size_seen_when_opened() {
        let reader = SnapshotReader::whole(Cursor::new(&b"hello world"[..]), 5);
        assert_eq!(read_all(reader), (b"hello".to_vec(), 0));
    }

    #[test]
    fn fills_a_shrunken_file_with_nul() {
        let reader = SnapshotReader::whole(Cursor::new(&b"abc"[..]), 5);
        assert_eq!(read_all(reader), (b"abc\0\0".to_vec(), 2));
    }

    #[test]
    fn keeps_head_and_tail_around_a_marker() {
        let data = b"0123456789abcdefghij";
        let reader = SnapshotReader::head_and_tail(Cursor::new(&data[..]), 20, 8);
        let len = reader.len();
        let (out, zeros) = read_all(reader);
        assert_eq!(out.len() as u64, len);
        assert_eq!(zeros, 0);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("0123\n[logkeep: 12 bytes cut here"),
            "{text}"
        );
        assert!(text.ends_with("kept]\nghij"), "{text}");
    }

    #[test]
    fn hashes_what_it_yields() {
        let mut reader = SnapshotReader::whole(Cursor::new(&b"abcdef"[..]), 3);
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(
            hex::encode(reader.hasher.finalize()),
            hex::encode(Sha256::digest(b"abc"))
        );
    }
}
