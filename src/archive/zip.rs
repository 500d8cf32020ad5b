//! zip: deflate, UTF-8 names, Zip64 past 4 GiB. Each entry's data is cut into
//! blocks compressed on every core (see `parallel`); a sink thread writes the
//! entries in order with rawzip, which takes the compressed bytes as they are,
//! and spools the central directory to a temporary file.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc::Receiver;
use std::time::{SystemTime, UNIX_EPOCH};

use super::parallel::{BLOCK_SIZE, BlockFormat, Piece, Pipeline};
use super::writeback::Writeback;
use super::{ArchiveWriter, EntryMeta};
use crate::error::{Error, Result};

/// Entry boundaries between the compressed blocks.
enum Boundary {
    Start {
        path: String,
        mtime: Option<SystemTime>,
    },
    End {
        crc: u32,
        size: u64,
    },
}

pub struct ZipWriter {
    pipeline: Pipeline<Boundary>,
    output: PathBuf,
}

impl ZipWriter {
    pub fn new(file: File, level: i32, output: &Path) -> ZipWriter {
        let level = level.clamp(1, 9) as u32;
        ZipWriter {
            pipeline: Pipeline::new(BlockFormat::RawDeflate, level, move |pieces| {
                write_zip(file, pieces)
            }),
            output: output.to_path_buf(),
        }
    }

    fn write_error(&self, e: &io::Error) -> Error {
        Error::io("write to", &self.output, e)
    }
}

impl ArchiveWriter for ZipWriter {
    fn add_file(&mut self, entry: &EntryMeta<'_>, data: &mut dyn Read) -> Result<()> {
        let start = Boundary::Start {
            path: entry.path.to_string(),
            mtime: entry.mtime,
        };
        self.pipeline
            .marker(start)
            .map_err(|e| self.write_error(&e))?;
        let mut crc = crc32fast::Hasher::new();
        let mut remaining = entry.size;
        loop {
            let len = remaining.min(BLOCK_SIZE as u64) as usize;
            let mut block = self.pipeline.block(len);
            // Into the buffer's spare capacity: no zero-filling first.
            let n = data
                .take(len as u64)
                .read_to_end(&mut block)
                .map_err(|e| self.write_error(&e))?;
            if n < len {
                let yielded = entry.size - remaining + n as u64;
                return Err(self.write_error(&entry.ended_early(yielded)));
            }
            crc.update(&block);
            remaining -= len as u64;
            let last = remaining == 0;
            self.pipeline
                .compress(block, last)
                .map_err(|e| self.write_error(&e))?;
            if last {
                break;
            }
        }
        let end = Boundary::End {
            crc: crc.finalize(),
            size: entry.size,
        };
        self.pipeline.marker(end).map_err(|e| self.write_error(&e))
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let ZipWriter { pipeline, output } = *self;
        pipeline
            .finish()
            .map_err(|e| Error::io("write to", &output, &e))
    }
}

fn zip_error(e: rawzip::Error) -> io::Error {
    io::Error::other(e.to_string())
}

/// Where the bytes of a one-entry rawzip archive go: its local header, data
/// and descriptor to the output; its central directory, once the entry is
/// done, to memory, from where its record is moved to the spool.
struct Router<'a> {
    out: &'a mut BufWriter<Writeback>,
    /// Bytes written to `out` so far: the next entry's offset.
    written: &'a mut u64,
    central: Rc<RefCell<Option<Vec<u8>>>>,
}

impl Write for Router<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(central) = self.central.borrow_mut().as_mut() {
            central.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let n = self.out.write(buf)?;
        *self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.central.borrow().is_some() {
            true => Ok(()),
            false => self.out.flush(),
        }
    }
}

/// The fixed part of a central directory record; its name, extra field and
/// comment lengths are at offsets 28, 30 and 32.
const CENTRAL_FIXED: usize = 46;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
/// A record's "version needed" (offset 6) when its entry needs Zip64.
const ZIP64_VERSION_NEEDED: u16 = 45;
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const EOCD_SIGNATURE: u32 = 0x0605_4b50;

/// The first central directory record in what a one-entry archive's
/// `finish` wrote (the end-of-central-directory records that follow are not
/// kept), and whether its entry needs Zip64.
fn central_record(written: &[u8]) -> io::Result<(&[u8], bool)> {
    let u16_at = |i: usize| u16::from_le_bytes([written[i], written[i + 1]]);
    if written.len() < CENTRAL_FIXED
        || u32::from_le_bytes([written[0], written[1], written[2], written[3]]) != CENTRAL_SIGNATURE
    {
        return Err(io::Error::other("unexpected zip central directory record"));
    }
    let len = CENTRAL_FIXED + (u16_at(28) as usize) + (u16_at(30) as usize) + (u16_at(32) as usize);
    if written.len() < len {
        return Err(io::Error::other("zip central directory record cut short"));
    }
    Ok((&written[..len], u16_at(6) >= ZIP64_VERSION_NEEDED))
}

/// The sink: entries in order, then the central directory; flushed to disk.
/// Each entry is written by a one-entry rawzip archive that starts where the
/// previous one ended; its central directory record is spooled to a
/// temporary file, so memory stays the same whatever the number of entries.
fn write_zip(file: File, pieces: Receiver<Piece<Boundary>>) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(256 * 1024, Writeback::new(file));
    let mut spool = BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?);
    let mut written = 0u64;
    let mut entries = 0u64;
    let mut any_zip64 = false;
    let mut pieces = pieces.into_iter();
    while let Some(piece) = pieces.next() {
        let Piece::Marker(Boundary::Start { path, mtime }) = piece else {
            return Err(io::Error::other("zip data outside an entry"));
        };
        let central = Rc::new(RefCell::new(None));
        let router = Router {
            out: &mut out,
            written: &mut written,
            central: Rc::clone(&central),
        };
        let offset = *router.written;
        let mut archive = rawzip::ZipArchiveWriter::builder()
            .with_offset(offset)
            .build(router);
        let mut builder = archive
            .new_file(path.as_str())
            .compression_method(rawzip::CompressionMethod::DEFLATE)
            .unix_permissions(0o644);
        if let Some(seconds) = mtime.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
            builder = builder.last_modified(rawzip::time::UtcDateTime::from_unix(
                seconds.as_secs() as i64,
            ));
        }
        let (mut entry, _) = builder.start().map_err(zip_error)?;
        loop {
            match pieces.next() {
                Some(Piece::Compressed(block)) => {
                    let block = block
                        .recv()
                        .map_err(|_| io::Error::other("a compression worker stopped"))??;
                    entry.write_all(&block)?;
                }
                Some(Piece::Marker(Boundary::End { crc, size })) => {
                    entry
                        .finish(rawzip::DataDescriptorOutput::new(crc, size))
                        .map_err(zip_error)?;
                    break;
                }
                _ => return Err(io::Error::other("zip entry cut short")),
            }
        }
        *central.borrow_mut() = Some(Vec::new());
        archive.finish().map_err(zip_error)?;
        let finished = central.borrow_mut().take().unwrap_or_default();
        let (record, zip64) = central_record(&finished)?;
        spool.write_all(record)?;
        any_zip64 |= zip64;
        entries += 1;
    }
    // The central directory, from the spool.
    let cd_offset = written;
    let mut spool = spool.into_inner().map_err(|e| e.into_error())?;
    let cd_size = spool.seek(SeekFrom::End(0))?;
    spool.seek(SeekFrom::Start(0))?;
    io::copy(&mut spool, &mut out)?;
    // Then its end, as rawzip writes it: Zip64 records first when needed.
    let limit = u64::from(u32::MAX);
    if any_zip64 || entries >= u64::from(u16::MAX) || cd_size >= limit || cd_offset >= limit {
        let eocd64_offset = cd_offset + cd_size;
        out.write_all(&ZIP64_EOCD_SIGNATURE.to_le_bytes())?;
        out.write_all(&(56u64 - 12).to_le_bytes())?;
        out.write_all(&ZIP64_VERSION_NEEDED.to_le_bytes())?;
        out.write_all(&ZIP64_VERSION_NEEDED.to_le_bytes())?;
        out.write_all(&[0u8; 8])?;
        out.write_all(&entries.to_le_bytes())?;
        out.write_all(&entries.to_le_bytes())?;
        out.write_all(&cd_size.to_le_bytes())?;
        out.write_all(&cd_offset.to_le_bytes())?;
        out.write_all(&ZIP64_LOCATOR_SIGNATURE.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&eocd64_offset.to_le_bytes())?;
        out.write_all(&1u32.to_le_bytes())?;
    }
    let count = entries.min(u64::from(u16::MAX)) as u16;
    out.write_all(&EOCD_SIGNATURE.to_le_bytes())?;
    out.write_all(&[0u8; 4])?;
    out.write_all(&count.to_le_bytes())?;
    out.write_all(&count.to_le_bytes())?;
    out.write_all(&(cd_size.min(limit) as u32).to_le_bytes())?;
    out.write_all(&(cd_offset.min(limit) as u32).to_le_bytes())?;
    out.write_all(&0u16.to_le_bytes())?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_whose_data_ends_early_stops_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.zip");
        let mut writer: Box<dyn ArchiveWriter> =
            Box::new(ZipWriter::new(File::create(&out).unwrap(), 6, &out));
        let size = BLOCK_SIZE as u64 + 10;
        let entry = EntryMeta {
            path: "short.log",
            size,
            mtime: None,
        };
        let data = vec![b'x'; BLOCK_SIZE + 5];
        let err = writer.add_file(&entry, &mut &data[..]).unwrap_err();
        let expected = format!("short.log yielded {} of its {size} bytes", BLOCK_SIZE + 5);
        assert!(err.to_string().contains(&expected), "{err}");
    }
}
