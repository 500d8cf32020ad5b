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

/// Said when every entry was read and only the central directory is
/// damaged: nothing is missing.
pub const DIRECTORY_ONLY: &str =
    "its central directory is cut short or damaged; every entry before it was read";

/// Said of an entry whose checksum fails once its bytes were read: the
/// visitor has seen them all by then.
const ALTERED: &str = "its checksum fails (it is altered)";

/// Whether `error` says the entry `name`, read to its end, is altered.
pub fn is_altered_entry(error: &Error, name: &str) -> bool {
    error
        .message
        .strip_prefix(&format!("cannot read {} in ", display_str(name)))
        .is_some_and(|rest| rest.ends_with(ALTERED))
}

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
    // The next record's signature, when reading a data descriptor read it.
    let mut next: Option<u32> = None;
    loop {
        let signature = match next.take().map_or_else(|| read_u32(&mut input), Ok) {
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
            return Err(stopped(DIRECTORY_ONLY, &last));
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
                        "{} is compressed with {}, which logkeep does not read",
                        display_str(&name),
                        method_name(method)
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
        let compressed = match &data {
            EntryData::Deflated(d) => d.total_in(),
            EntryData::Stored(_) => len,
        };
        drop(data);
        let sizes_match = match descriptor {
            true => {
                let found =
                    read_descriptor(&mut input, header.zip64, compressed, len).map_err(|e| {
                        stopped(
                            &format!("the data descriptor of {} {e}", display_str(&name)),
                            &last,
                        )
                    })?;
                next = found.next;
                found.crc == crc && found.sizes_match
            }
            false => header.crc == crc && header.size == len && header.compressed == compressed,
        };
        if !sizes_match {
            return Err(Error::new(format!(
                "cannot read {} in {}: {ALTERED}",
                display_str(&name),
                display_path(path)
            )));
        }
        last = Some(name);
    }
}

/// What went wrong reading a header or descriptor, after its name.
fn cut(e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "is cut short".to_string(),
        _ => crate::error::io_reason(&e),
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

/// What a data descriptor says, checked against what was read.
struct Descriptor {
    crc: u32,
    /// Its compressed and uncompressed sizes are those read.
    sizes_match: bool,
    /// The next record's signature, read to tell the descriptor's form.
    next: Option<u32>,
}

/// Read the data descriptor after an entry of `compressed` bytes that
/// unpacked to `len`. Its signature is optional, and its sizes take 4 bytes,
/// or 8 with Zip64: with a Zip64 field in the local header, and also without
/// one when an entry streamed past 4 GiB, as most streaming writers do. The
/// form is the one whose sizes are those read and after which the next
/// record starts (or the file ends).
fn read_descriptor(
    input: &mut impl Read,
    zip64: bool,
    compressed: u64,
    len: u64,
) -> std::result::Result<Descriptor, String> {
    let first = read_u32(input).map_err(cut)?;
    let crc = match first {
        DATA_DESCRIPTOR => read_u32(input).map_err(cut)?,
        crc => crc,
    };
    let wide = read_u64(input).map_err(cut)?;
    let low = |v: u64| v & 0xffff_ffff;
    let small_fits = !zip64
        && low(wide) == low(compressed)
        && wide >> 32 == low(len)
        && compressed < 0xffff_ffff
        && len < 0xffff_ffff;
    let wide_sizes_match = |size: u64| wide == compressed && size == len;
    let (sizes_match, next) = if small_fits {
        // 4-byte sizes, unless what follows is not a record and the 8-byte
        // form fits too (an empty entry: both read alike up to here).
        match read_u32(input) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => (true, None),
            Err(e) => return Err(cut(e)),
            Ok(next) if next == LOCAL_HEADER || DIRECTORY_STARTS.contains(&next) => {
                (true, Some(next))
            }
            Ok(size_low) => {
                let size_high = u64::from(read_u32(input).map_err(cut)?);
                match wide_sizes_match(u64::from(size_low) | size_high << 32) {
                    true => (true, None),
                    // The 4-byte sizes fit, and what follows is a damaged
                    // record, not the 8-byte form: this entry is whole.
                    false => (true, Some(size_low)),
                }
            }
        }
    } else {
        (wide_sizes_match(read_u64(input).map_err(cut)?), None)
    };
    Ok(Descriptor {
        crc,
        sizes_match,
        next,
    })
}

/// A zip's DOS date and time, read as UTC (the packer's local time).
pub fn dos_time(date: u16, time: u16) -> Option<Timestamp> {
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

/// A zip compression method (APPNOTE 4.4.5), by name, for the ones logkeep
/// does not read.
pub fn method_name(number: u16) -> String {
    let name = match number {
        1 => "Shrink",
        2..=5 => "Reduce",
        6 => "Implode",
        9 => "Deflate64",
        12 => "bzip2",
        14 => "LZMA",
        93 => "Zstandard",
        95 => "XZ",
        98 => "PPMd",
        99 => "AES encryption",
        _ => return format!("method {number}"),
    };
    name.to_string()
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

    /// How a hand-made entry ends.
    #[derive(Clone, Copy, PartialEq)]
    enum Ending {
        /// Sizes and checksum in the local header.
        Header,
        /// A descriptor with its signature and 4-byte sizes.
        Signed,
        /// A descriptor without its signature.
        Unsigned,
        /// A descriptor with 8-byte sizes, after a Zip64 field.
        Zip64,
        /// A descriptor with 8-byte sizes and no Zip64 field (as streaming
        /// writers do past 4 GiB).
        Wide,
    }

    /// One local entry, written by hand as zip writers do.
    fn entry(name: &str, data: &[u8], deflate: bool, ending: Ending) -> Vec<u8> {
        let body = match deflate {
            true => {
                let mut encoder =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(data).unwrap();
                encoder.finish().unwrap()
            }
            false => data.to_vec(),
        };
        let crc = crc32fast::hash(data);
        let in_header = ending == Ending::Header;
        let extra: Vec<u8> = match ending {
            Ending::Zip64 => [&1u16.to_le_bytes()[..], &16u16.to_le_bytes(), &[0; 16]].concat(),
            _ => Vec::new(),
        };
        let mut out = Vec::new();
        out.extend(LOCAL_HEADER.to_le_bytes());
        out.extend(45u16.to_le_bytes());
        out.extend((if in_header { 0u16 } else { HAS_DESCRIPTOR }).to_le_bytes());
        out.extend((if deflate { DEFLATED } else { STORED }).to_le_bytes());
        out.extend([0, 0, 0x21, 0]); // 1980-01-01 00:00
        for value in [crc, body.len() as u32, data.len() as u32] {
            out.extend((if in_header { value } else { 0 }).to_le_bytes());
        }
        out.extend((name.len() as u16).to_le_bytes());
        out.extend((extra.len() as u16).to_le_bytes());
        out.extend(name.as_bytes());
        out.extend(&extra);
        out.extend(&body);
        if ending != Ending::Unsigned && !in_header {
            out.extend(DATA_DESCRIPTOR.to_le_bytes());
        }
        match ending {
            Ending::Header => {}
            Ending::Signed | Ending::Unsigned => {
                for value in [crc, body.len() as u32, data.len() as u32] {
                    out.extend(value.to_le_bytes());
                }
            }
            Ending::Zip64 | Ending::Wide => {
                out.extend(crc.to_le_bytes());
                out.extend((body.len() as u64).to_le_bytes());
                out.extend((data.len() as u64).to_le_bytes());
            }
        }
        out
    }

    #[test]
    fn every_form_of_entry_end_is_read_and_checked() {
        let log = b"time=2026-06-11T05:00:00Z level=info msg=ok\n".repeat(50);
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for (n, ending) in [
            Ending::Header,
            Ending::Signed,
            Ending::Unsigned,
            Ending::Zip64,
            Ending::Wide,
        ]
        .into_iter()
        .enumerate()
        {
            // Each form, deflated and (where its size is known) stored, and
            // an empty entry, whose 4- and 8-byte descriptors begin alike.
            for (deflate, data) in [(true, &log[..]), (false, &log[..]), (true, &[][..])] {
                if !deflate && ending != Ending::Header {
                    continue;
                }
                let name = format!("{n}-{deflate}-{}.log", data.len());
                bytes.extend(entry(&name, data, deflate, ending));
                expected.push((name, data.to_vec()));
            }
        }
        bytes.extend(0x0201_4b50u32.to_le_bytes());
        let (seen, result) = read_front(&bytes);
        let names = |files: &[(String, Vec<u8>)]| -> Vec<String> {
            files.iter().map(|(name, _)| name.clone()).collect()
        };
        assert_eq!(names(&seen), names(&expected), "{result:?}");
        assert!(seen == expected, "an entry's bytes differ");
        let message = result.unwrap_err().message;
        assert!(
            message.contains("every entry before it was read"),
            "{message}"
        );

        // A descriptor whose checksum is not that of what was read: altered.
        let mut altered = entry("a.log", &log, true, Ending::Signed);
        let at = altered.len() - 12;
        altered[at] ^= 1;
        altered.extend(0x0201_4b50u32.to_le_bytes());
        let message = read_front(&altered).1.unwrap_err().message;
        assert!(
            message.contains("a.log") && message.contains("checksum fails"),
            "{message}"
        );
        // A stored entry whose size only the central directory holds.
        let mut stored = entry("s.log", &log, false, Ending::Signed);
        stored.extend(0x0201_4b50u32.to_le_bytes());
        let message = read_front(&stored).1.unwrap_err().message;
        assert!(
            message.contains("size only in the central directory"),
            "{message}"
        );
    }

    const ZIP_STORED: zip::CompressionMethod = zip::CompressionMethod::Stored;
    const ZIP_DEFLATED: zip::CompressionMethod = zip::CompressionMethod::Deflated;

    #[test]
    fn every_entry_before_the_directory_is_read_and_checked() {
        let a = b"first log\n".repeat(1000);
        let b = b"second log\n".to_vec();
        let bytes = zip_of(&[("a.log", &a, ZIP_DEFLATED), ("b.log", &b, ZIP_STORED)]);
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
        let bytes = zip_of(&[("a.log", &a, ZIP_DEFLATED), ("b.log", &b, ZIP_STORED)]);
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
