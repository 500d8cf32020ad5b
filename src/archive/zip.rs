//! zip: deflate, UTF-8 names, Zip64 past 4 GiB. Each entry's data is cut into
//! blocks compressed on every core (see `parallel`); a sink thread writes the
//! entries in order with rawzip, which takes the compressed bytes as they are.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{SystemTime, UNIX_EPOCH};

use super::parallel::{BLOCK_SIZE, BlockFormat, Piece, Pipeline};
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
            let mut block = vec![0u8; len];
            data.read_exact(&mut block)
                .map_err(|e| self.write_error(&e))?;
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

/// The sink: entries in order, then the central directory; flushed to disk.
fn write_zip(file: File, pieces: Receiver<Piece<Boundary>>) -> io::Result<()> {
    let mut archive = rawzip::ZipArchiveWriter::new(BufWriter::with_capacity(256 * 1024, file));
    let mut pieces = pieces.into_iter();
    while let Some(piece) = pieces.next() {
        let Piece::Marker(Boundary::Start { path, mtime }) = piece else {
            return Err(io::Error::other("zip data outside an entry"));
        };
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
    }
    let buffered = archive.finish().map_err(zip_error)?;
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}
