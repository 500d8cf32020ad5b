//! tar.gz and tar.zst: GNU tar headers (long names as GNU long-name entries,
//! sizes past 8 GiB in base-256), one regular-file entry per log.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use zstd::stream::raw::CParameter;

use super::parallel::{BLOCK_SIZE, BlockFormat, Piece, Pipeline};
use super::writeback::Writeback;
use super::{ArchiveWriter, EntryMeta};
use crate::error::{Error, Result};

/// The compressed stream a tar is written into.
enum Compressor {
    Gzip(ParallelGzip),
    Zstd(zstd::Encoder<'static, BufWriter<Writeback>>),
}

impl Write for Compressor {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gzip(w) => w.write(buf),
            Compressor::Zstd(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Gzip(w) => w.flush(),
            Compressor::Zstd(w) => w.flush(),
        }
    }
}

impl Compressor {
    /// End the stream and flush the file to disk.
    fn finish(self) -> io::Result<()> {
        match self {
            Compressor::Gzip(w) => w.finish(),
            Compressor::Zstd(w) => {
                let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
                file.sync()
            }
        }
    }
}

/// gzip on every core: the stream is cut into blocks, each compressed as a
/// gzip member of its own; concatenated members are one valid gzip file
/// (RFC 1952), which gzip, GNU tar, bsdtar and Python read as one stream.
struct ParallelGzip {
    pipeline: Pipeline<()>,
    block: Vec<u8>,
}

impl ParallelGzip {
    fn new(file: File, level: u32) -> ParallelGzip {
        let pipeline = Pipeline::new(BlockFormat::GzipMember, level, move |pieces| {
            let mut out = BufWriter::with_capacity(BUFFER, Writeback::new(file));
            for piece in pieces {
                if let Piece::Compressed(block) = piece {
                    out.write_all(
                        &block
                            .recv()
                            .map_err(|_| io::Error::other("a compression worker stopped"))??,
                    )?;
                }
            }
            out.into_inner().map_err(|e| e.into_error())?.sync()
        });
        ParallelGzip {
            pipeline,
            block: Vec::with_capacity(BLOCK_SIZE),
        }
    }

    fn send_block(&mut self) -> io::Result<()> {
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK_SIZE));
        self.pipeline.compress(block, true)
    }

    fn finish(mut self) -> io::Result<()> {
        if !self.block.is_empty() {
            self.send_block()?;
        }
        self.pipeline.finish()
    }
}

impl Write for ParallelGzip {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK_SIZE - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK_SIZE {
            self.send_block()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub struct TarWriter {
    builder: tar::Builder<Compressor>,
    /// The output as the user named it, for error messages.
    output: PathBuf,
}

const BUFFER: usize = 256 * 1024;

/// Input bytes per zstd worker job. zstd's default is 4 windows (8 MiB at
/// level 3), and it keeps several jobs' input and output in memory (about
/// 40 MiB with two workers); 2 MiB jobs hold about a quarter of that, and the
/// output grows by under 0.03% (still smaller than `zstd -T0 -3`'s on the
/// benchmark corpora).
const ZSTD_JOB_SIZE: u32 = 2 << 20;
/// Levels whose window is at most 2 MiB: a job still spans a whole window.
/// Higher levels keep zstd's default job size.
const ZSTD_SMALL_WINDOW_LEVELS: i32 = 8;

impl TarWriter {
    pub fn gzip(file: File, level: i32, output: &Path) -> TarWriter {
        TarWriter::new(
            Compressor::Gzip(ParallelGzip::new(file, level.clamp(1, 9) as u32)),
            output,
        )
    }

    pub fn zstd(file: File, level: i32, output: &Path) -> Result<TarWriter> {
        let mut encoder = zstd::Encoder::new(
            BufWriter::with_capacity(BUFFER, Writeback::new(file)),
            level,
        )
        .map_err(|e| Error::io("start zstd stream for", output, &e))?;
        // Use every core: zstd compresses independent blocks in worker threads.
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        if workers > 1 {
            encoder
                .multithread(workers)
                .and_then(|()| match level <= ZSTD_SMALL_WINDOW_LEVELS {
                    true => encoder.set_parameter(CParameter::JobSize(ZSTD_JOB_SIZE)),
                    false => Ok(()),
                })
                .map_err(|e| Error::io("start zstd workers for", output, &e))?;
        }
        encoder
            .include_checksum(true)
            .map_err(|e| Error::io("configure zstd for", output, &e))?;
        Ok(TarWriter::new(Compressor::Zstd(encoder), output))
    }

    fn new(compressor: Compressor, output: &Path) -> TarWriter {
        let mut builder = tar::Builder::new(compressor);
        builder.mode(tar::HeaderMode::Deterministic);
        builder.follow_symlinks(false);
        TarWriter {
            builder,
            output: output.to_path_buf(),
        }
    }
}

impl ArchiveWriter for TarWriter {
    fn add_file(&mut self, entry: &EntryMeta<'_>, data: &mut dyn Read) -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(entry.size);
        header.set_mode(0o644);
        let mtime = entry
            .mtime
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        header.set_mtime(mtime);
        // Large reads: one system call per 256 KiB, not per 8 KiB.
        // (sized to the file: the buffer is initialised once per entry).
        let capacity = usize::try_from(entry.size)
            .unwrap_or(BUFFER)
            .clamp(512, BUFFER);
        let data = io::BufReader::with_capacity(capacity, data);
        self.builder
            .append_data(&mut header, entry.path, data)
            .map_err(|e| Error::io("write to", &self.output, &e))
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let TarWriter { builder, output } = *self;
        let compressor = builder
            .into_inner()
            .map_err(|e| Error::io("finish", &output, &e))?;
        compressor
            .finish()
            .map_err(|e| Error::io("finish", &output, &e))?;
        Ok(())
    }
}
