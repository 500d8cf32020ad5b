//! A zip read without its central directory: entry by entry, from the local
//! headers at the front. A zip cut short (an interrupted download or
//! upload, a disk that filled up) has lost its directory, which sits at the
//! end, though every entry before the cut is whole. Reading goes on until
//! the data ends or stops making sense, and says where it stopped.
//!
//! Entries are deflated or stored. A deflated entry ends where its deflate
//! stream ends, so its size need not be known first; a data descriptor after
//! it (what streaming writers, logkeep's and GitHub's included, put there)
//! gives the checksum and the size that are then checked.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};
use crate::reader::{Entry, EntryKind, VisitEntry};
use crate::sanitize::{display_path, display_str};
use crate::timestamp::Timestamp;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
/// What may follow the last entry: the central directory, or its end.
const DIRECTORY_STARTS: [u32; 3] = [0x0201_4b50, 0x0605_4b50, 0x0606_4b50];

const ENCRYPTED: u16 = 1;
const HAS_DESCRIPTOR: u16 = 1 << 3;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;

/// The local header's fixed part, after its signature.
struct LocalHeader {
    flags: u16,
    method: u16,
    dos_time: u16,
    dos_date: u16,
    crc: u32,
    compressed: u64,
    size: u64,
    /// Sizes are 8 bytes in the data descriptor (Zip64).
    zip64: bool,
    mtime: Option<i64>,
}

/// Call `visit` for every entry that can be read from the front of the zip
/// at `path` (opened as `file`). Ok only when the entries end where a
/// central directory starts; otherwise an error says where reading stopped.
pub fn visit_local_entries(file: File, path: &Path, visit: &mut VisitEntry<'_>) -> Result<()> {
    let mut input = BufReader::with_capacity(256 * 1024, file);
    let mut seen = HashSet::new();
    let mut last: Option<String> = None;
    let stopped = |what: &str, last: &Option<String>| {
        let after = match last {
            Some(name) => format!("after {}", display_str(name)),
            None => "before its first entry".to_string(),
        };
        Error::new(format!(
            "cannot read zip {} {after}: {what}",
            display_path(path)
        ))
    };
    loop {
        let signature = match read_u32(&mut input) {
            Ok(signature) => signature,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(stopped(
                    "it ends there, without its central directory (cut short)",
                    &last,
                ));
            }
            Err(e) => return Err(stopped(&crate::error::io_reason(&e), &last)),
        };
        if DIRECTORY_STARTS.contains(&signature) {
            // Every entry was read: only the directory is damaged.
            return Err(stopped(
                "its central directory is cut short or damaged; every entry before it was read",
                &last,
            ));
        }
        if signature != LOCAL_HEADER {
            return Err(stopped("no entry header where one should start", &last));
        }
        let (header, name) = read_local_header(&mut input)
            .map_err(|e| stopped(&format!("an entry header {e}"), &last))?;
        if header.flags & ENCRYPTED != 0 {
            return Err(stopped(
                &format!("{} is encrypted", display_str(&name)),
                &last,
            ));
        }
        // As the central directory's check does (see `check_zip_names`).
        if name.contains('\0') || !seen.insert(name.clone()) {
            return Err(stopped(
                &format!(
                    "the name {:?} is stored twice or holds a NUL byte",
                    display_str(&name)
                ),
                &last,
            ));
        }
        let descriptor = header.flags & HAS_DESCRIPTOR != 0;
        let mut data = match header.method {
            DEFLATED => EntryData::Deflated(flate2::bufread::DeflateDecoder::new(&mut input)),
            // A folder holds nothing, whatever its header says.
            STORED if name.ends_with('/') => EntryData::Stored(Exact {
                inner: (&mut input).take(0),
            }),
            STORED if !descriptor || header.compressed > 0 => EntryData::Stored(Exact {
                inner: (&mut input).take(header.compressed),
            }),
            STORED => {
                return Err(stopped(
                    &format!(
                        "{} is stored with its size only in the central directory",
                        display_str(&name)
                    ),
                    &last,
                ));
            }
            method => {
                return Err(stopped(
                    &format!(
                        "{} is compressed with method {method}, which logkeep does not read",
                        display_str(&name)
                    ),
                    &last,
                ));
            }
        };
        let mut checked = Checked {
            inner: &mut data,
            crc: crc32fast::Hasher::new(),
            len: 0,
        };
        let kind = match name.ends_with('/') {
            true => EntryKind::Dir,
            false => EntryKind::File,
        };
        let entry = Entry {
            name: &name,
            kind,
            size: header.size,
            mtime: header
                .mtime
                .map(|secs| Timestamp(secs.saturating_mul(1_000_000_000)))
                .or_else(|| dos_time(header.dos_date, header.dos_time)),
        };
        visit(&entry, &mut checked)?;
        // What the visitor left unread, to reach the next entry.
        io::copy(&mut checked, &mut io::sink()).map_err(|e| {
            Error::new(format!(
                "cannot read {} in {}: {}",
                display_str(&name),
                display_path(path),
                crate::error::io_reason(&e)
            ))
        })?;
        let (crc, len) = (checked.crc.finalize(), checked.len);
        drop(data);
        let (want_crc, want_len) = match descriptor {
            true => read_descriptor(&mut input, header.zip64).map_err(|e| {
                stopped(
                    &format!("the data descriptor of {} {e}", display_str(&name)),
                    &last,
                )
            })?,
            false => (header.crc, header.size),
        };
        // A 4-byte size holds the length modulo 2^32.
        let len_matches = match header.zip64 || !descriptor {
            true => len == want_len,
            false => len & 0xffff_ffff == want_len,
        };
        if crc != want_crc || !len_matches {
            return Err(Error::new(format!(
                "cannot read {} in {}: its checksum fails (it is altered)",
                display_str(&name),
                display_path(path)
            )));
        }
        last = Some(name);
    }
}

fn read_u32(input: &mut impl Read) -> io::Result<u32> {
    let mut bytes = [0u8; 4];
    input.read_exact(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

fn read_u64(input: &mut impl Read) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    input.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// The rest of a local header, after its signature, and the entry's name.
fn read_local_header(input: &mut impl Read) -> std::result::Result<(LocalHeader, String), String> {
    let cut = |e: io::Error| match e.kind() {
        io::ErrorKind::UnexpectedEof => "is cut short".to_string(),
        _ => crate::error::io_reason(&e),
    };
    let mut fixed = [0u8; 26];
    input.read_exact(&mut fixed).map_err(cut)?;
    let u16_at = |at: usize| u16::from_le_bytes([fixed[at], fixed[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(fixed[at..at + 4].try_into().expect("4 bytes"));
    let mut name = vec![0u8; usize::from(u16_at(22))];
    input.read_exact(&mut name).map_err(cut)?;
    let mut extra = vec![0u8; usize::from(u16_at(24))];
    input.read_exact(&mut extra).map_err(cut)?;
    let mut header = LocalHeader {
        flags: u16_at(2),
        method: u16_at(4),
        dos_time: u16_at(6),
        dos_date: u16_at(8),
        crc: u32_at(10),
        compressed: u64::from(u32_at(14)),
        size: u64::from(u32_at(18)),
        zip64: false,
        mtime: None,
    };
    // Extra fields: ID, length, data.
    let mut fields = extra.as_slice();
    while let [a, b, c, d, rest @ ..] = fields {
        let (id, len) = (
            u16::from_le_bytes([*a, *b]),
            usize::from(u16::from_le_bytes([*c, *d])),
        );
        let Some(data) = rest.get(..len) else { break };
        match id {
            // Zip64: the sizes that do not fit in 4 bytes, in this order.
            0x0001 => {
                header.zip64 = true;
                let mut values = data
                    .chunks_exact(8)
                    .map(|v| u64::from_le_bytes(v.try_into().expect("8 bytes")));
                if header.size == 0xffff_ffff {
                    header.size = values.next().unwrap_or(header.size);
                }
                if header.compressed == 0xffff_ffff {
                    header.compressed = values.next().unwrap_or(header.compressed);
                }
            }
            // The Unix extended timestamp: flags, then the modification time.
            0x5455 => {
                if let [flags, m0, m1, m2, m3, ..] = data
                    && flags & 1 != 0
                {
                    header.mtime = Some(i64::from(i32::from_le_bytes([*m0, *m1, *m2, *m3])));
                }
            }
            _ => {}
        }
        fields = &rest[len..];
    }
    Ok((header, String::from_utf8_lossy(&name).into_owned()))
}

/// The checksum and size of a data descriptor (its signature is optional).
fn read_descriptor(input: &mut impl Read, zip64: bool) -> std::result::Result<(u32, u64), String> {
    let cut = |e: io::Error| match e.kind() {
        io::ErrorKind::UnexpectedEof => "is cut short".to_string(),
        _ => crate::error::io_reason(&e),
    };
    let first = read_u32(input).map_err(cut)?;
    let crc = match first {
        DATA_DESCRIPTOR => read_u32(input).map_err(cut)?,
        crc => crc,
    };
    let size = match zip64 {
        true => {
            read_u64(input).map_err(cut)?;
            read_u64(input).map_err(cut)?
        }
        false => {
            read_u32(input).map_err(cut)?;
            u64::from(read_u32(input).map_err(cut)?)
        }
    };
    Ok((crc, size))
}

/// The DOS date and time of a local header, read as UTC.
fn dos_time(date: u16, time: u16) -> Option<Timestamp> {
    let text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        1980 + (date >> 9),
        (date >> 5) & 0xf,
        date & 0x1f,
        time >> 11,
        (time >> 5) & 0x3f,
        (time & 0x1f) * 2
    );
    crate::timestamp::parse_prefix(&text).map(|(t, _)| t)
}

enum EntryData<R: BufRead> {
    Deflated(flate2::bufread::DeflateDecoder<R>),
    Stored(Exact<R>),
}

impl<R: BufRead> Read for EntryData<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            EntryData::Deflated(d) => {
                let n = d.read(buf)?;
                // The decoder takes the end of its input for the end of the
                // stream; an entry is always followed by more of the zip.
                if n == 0 && !buf.is_empty() && d.get_mut().fill_buf()?.is_empty() {
                    return Err(cut_short());
                }
                Ok(n)
            }
            EntryData::Stored(s) => s.read(buf),
        }
    }
}

/// A stored entry's bytes: all of them, or an error.
struct Exact<R: Read> {
    inner: io::Take<R>,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.inner.limit() > 0 {
            return Err(cut_short());
        }
        Ok(n)
    }
}

fn cut_short() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the zip ends inside this entry (cut short)",
    )
}

/// An entry's bytes, with their checksum and count as they are read.
struct Checked<'a, R: Read> {
    inner: &'a mut R,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<R: Read> Read for Checked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};
    use zip::write::SimpleFileOptions;

    /// A zip of `files`, each stored or deflated, with its central directory.
    fn zip_of(files: &[(&str, &[u8], zip::CompressionMethod)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data, method) in files {
            let options = SimpleFileOptions::default().compression_method(*method);
            zip.start_file(*name, options).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    /// The entries read from the front of `bytes`, and how reading ended.
    fn read_front(bytes: &[u8]) -> (Vec<(String, Vec<u8>)>, Result<()>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zip");
        std::fs::write(&path, bytes).unwrap();
        let mut seen = Vec::new();
        let result = visit_local_entries(File::open(&path).unwrap(), &path, &mut |entry, data| {
            let mut bytes = Vec::new();
            data.read_to_end(&mut bytes)
                .map_err(|e| Error::new(format!("read {}: {e}", entry.name)))?;
            seen.push((entry.name.to_string(), bytes));
            Ok(())
        });
        (seen, result)
    }

    const STORED: zip::CompressionMethod = zip::CompressionMethod::Stored;
    const DEFLATED: zip::CompressionMethod = zip::CompressionMethod::Deflated;

    #[test]
    fn every_entry_before_the_directory_is_read_and_checked() {
        let a = b"first log\n".repeat(1000);
        let b = b"second log\n".to_vec();
        let bytes = zip_of(&[("a.log", &a, DEFLATED), ("b.log", &b, STORED)]);
        let (seen, result) = read_front(&bytes);
        assert_eq!(seen, [("a.log".to_string(), a), ("b.log".to_string(), b)]);
        let message = result.unwrap_err().message;
        assert!(
            message.contains("after b.log: its central directory"),
            "{message}"
        );
    }

    #[test]
    fn an_entry_cut_short_or_altered_is_an_error_of_that_entry() {
        let a = b"first log\n".repeat(1000);
        let b = b"second log, stored\n".repeat(100);
        let bytes = zip_of(&[("a.log", &a, DEFLATED), ("b.log", &b, STORED)]);
        // Cut inside b.log's data: a.log whole, then b.log fails.
        let at = bytes.windows(5).position(|w| w == b"b.log").unwrap() + 5 + 100;
        let (seen, result) = read_front(&bytes[..at]);
        assert_eq!(seen.len(), 1);
        let message = result.unwrap_err().message;
        assert!(
            message.contains("read b.log") && message.contains("cut short"),
            "{message}"
        );
        // One byte of b.log altered: its checksum fails.
        let mut altered = bytes.clone();
        altered[at] ^= 1;
        let (seen, result) = read_front(&altered);
        assert_eq!(seen.len(), 2);
        let message = result.unwrap_err().message;
        assert!(
            message.contains("b.log") && message.contains("checksum fails"),
            "{message}"
        );
    }
}
