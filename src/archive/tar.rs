//! tar.gz and tar.zst: GNU tar headers (long names as GNU long-name entries,
//! sizes past 8 GiB in base-256), one regular-file entry per log.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use zstd::stream::raw::CParameter;

use super::parallel::{BLOCK_SIZE, BlockFormat, Piece, Pipeline};
use super::writeback::Writeback;
use super::{ArchiveWriter, EntryMeta, ReadBuffer};
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
            let mut out = BufWriter::with_capacity(OUTPUT_BUFFER, Writeback::new(file));
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
        let block = std::mem::replace(&mut self.block, self.pipeline.block(BLOCK_SIZE));
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
    /// Entries' data passes through here, `READ_SIZE` at a time.
    buffer: ReadBuffer,
    /// The output as the user named it, for error messages.
    output: PathBuf,
    /// The zstd level the manifest is compressed at, when not the logs'.
    manifest_level: Option<i32>,
}

/// Compressed bytes gathered before each write to the output file (entries'
/// data is read through `TarWriter::buffer`, of `READ_SIZE`).
const OUTPUT_BUFFER: usize = 256 * 1024;

/// Input bytes per zstd worker job, by the number of workers. zstd's default
/// is 4 windows (8 MiB at level 3), and each worker keeps a few jobs' input
/// and output in memory: with two workers, peak memory on the 1 GiB
/// benchmark corpus was 62 MiB with 8 MiB jobs, 39 MiB with 4 MiB and
/// 27 MiB with 2 MiB, for 2.23 s, 2.29 s and 2.38 s (each job first indexes
/// the last 256 KiB of the one before, and small jobs wait on each other
/// more). More workers get smaller jobs, so that memory stays within 64 MiB:
/// 4 workers peaked at 53 MiB with 4 MiB jobs and 36 MiB with 2 MiB; 8 at
/// 75 MiB with 4 MiB and 35 MiB with 1 MiB; 16 at 45 MiB with 1 MiB. Output
/// sizes differ by under 0.02%.
fn zstd_job_size(workers: u32) -> u32 {
    (8 / workers.max(1)).clamp(1, 4) << 20
}
/// Beyond this many workers, more add memory but no speed: one scanner or
/// one reader feeds a few GB/s at most, and 16 workers compress about
/// 7 GB/s at level 3 (480 MB/s each here).
const ZSTD_MAX_WORKERS: u32 = 16;
/// Levels whose window is at most 2 MiB: the largest jobs span two windows
/// (from five workers on, jobs of 1 MiB span half of one, as zstd allows).
/// Higher levels keep zstd's default job size.
const ZSTD_SMALL_WINDOW_LEVELS: i32 = 8;
/// The manifest's SHA-256 values are random hex. zstd's levels 2 to 15
/// take the short matches found among them (runs of 5 or 6 digits recur
/// often among 20,000 values), and each costs more than the 4 bits per
/// digit of a literal. Level 1's match finder, with its smaller table,
/// finds fewer: on the manifest of the 20,000-file benchmark (6.6 MB) it
/// gave 1.005 MB against 1.178 MB at level 3 and 1.120-1.219 MB at 4 to 15.
/// From level 16 the parser weighs each match against its literals
/// (0.97-0.99 MB at 16 to 18), so the manifest keeps those levels.
const ZSTD_MANIFEST_LEVEL: i32 = 1;
const ZSTD_PRICED_MATCH_LEVELS: i32 = 16;

impl TarWriter {
    pub fn gzip(file: File, level: i32, output: &Path) -> TarWriter {
        TarWriter::new(
            Compressor::Gzip(ParallelGzip::new(file, level.clamp(1, 9) as u32)),
            output,
        )
    }

    pub fn zstd(file: File, level: i32, output: &Path) -> Result<TarWriter> {
        // Use every core: zstd compresses independent blocks in worker threads.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = u32::try_from(cores).map_or(ZSTD_MAX_WORKERS, |n| n.min(ZSTD_MAX_WORKERS));
        TarWriter::zstd_with_workers(file, level, workers, output)
    }

    fn zstd_with_workers(file: File, level: i32, workers: u32, output: &Path) -> Result<TarWriter> {
        let mut encoder = zstd::Encoder::new(
            BufWriter::with_capacity(OUTPUT_BUFFER, Writeback::new(file)),
            level,
        )
        .map_err(|e| Error::io("start zstd stream for", output, &e))?;
        if workers > 1 {
            encoder
                .multithread(workers)
                .and_then(|()| match level <= ZSTD_SMALL_WINDOW_LEVELS {
                    true => encoder.set_parameter(CParameter::JobSize(zstd_job_size(workers))),
                    false => Ok(()),
                })
                .map_err(|e| Error::io("start zstd workers for", output, &e))?;
        }
        encoder
            .include_checksum(true)
            .map_err(|e| Error::io("configure zstd for", output, &e))?;
        let mut writer = TarWriter::new(Compressor::Zstd(encoder), output);
        // zstd changes the level within a stream only between the jobs of
        // its workers; one thread keeps the level it started with.
        writer.manifest_level =
            (workers > 1 && level > ZSTD_MANIFEST_LEVEL && level < ZSTD_PRICED_MATCH_LEVELS)
                .then_some(ZSTD_MANIFEST_LEVEL);
        Ok(writer)
    }

    fn new(compressor: Compressor, output: &Path) -> TarWriter {
        let mut builder = tar::Builder::new(compressor);
        builder.mode(tar::HeaderMode::Deterministic);
        builder.follow_symlinks(false);
        TarWriter {
            builder,
            buffer: ReadBuffer::new(),
            output: output.to_path_buf(),
            manifest_level: None,
        }
    }
}

impl TarWriter {
    /// The entry's header, with a long-name record when the path needs one.
    /// tar's own copy of the data would go through `&mut dyn` reader and
    /// writer, so in 8 KiB pieces through a stack buffer: tar writes the
    /// header with no data, and the data follows from here.
    fn start_entry(&mut self, entry: &EntryMeta<'_>) -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(entry.size);
        header.set_mode(0o644);
        let mtime = entry
            .mtime
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        header.set_mtime(mtime);
        self.builder
            .append_data(&mut header, entry.path, io::empty())
            .map_err(|e| self.write_error(&e))
    }

    /// Pad the entry's data to a whole tar block.
    fn end_entry(&mut self, entry: &EntryMeta<'_>) -> Result<()> {
        let padding = (512 - entry.size % 512) % 512;
        self.builder
            .get_mut()
            .write_all(&[0; 512][..padding as usize])
            .map_err(|e| self.write_error(&e))
    }

    fn write_error(&self, e: &io::Error) -> Error {
        Error::io("write to", &self.output, e)
    }
}

impl ArchiveWriter for TarWriter {
    fn add_file(&mut self, entry: &EntryMeta<'_>, data: &mut dyn Read) -> Result<()> {
        self.start_entry(entry)?;
        // `READ_SIZE` at a time from one reused buffer, into which guarded
        // reads go straight.
        let mut copied = 0u64;
        while copied < entry.size {
            let want = usize::try_from(entry.size - copied)
                .unwrap_or(usize::MAX)
                .min(self.buffer.len());
            let n = match data.read(&mut self.buffer[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.write_error(&e)),
            };
            let written = self.builder.get_mut().write_all(&self.buffer[..n]);
            written.map_err(|e| self.write_error(&e))?;
            copied += n as u64;
        }
        if copied != entry.size {
            return Err(self.write_error(&entry.ended_early(copied)));
        }
        self.end_entry(entry)
    }

    fn add_bytes(&mut self, entry: &EntryMeta<'_>, data: &[u8]) -> Result<()> {
        if data.len() as u64 != entry.size {
            let e = io::Error::other(format!(
                "{} holds {} bytes, not the {} of its entry",
                entry.path,
                data.len(),
                entry.size
            ));
            return Err(self.write_error(&e));
        }
        self.start_entry(entry)?;
        let written = self.builder.get_mut().write_all(data);
        written.map_err(|e| self.write_error(&e))?;
        self.end_entry(entry)
    }

    fn add_manifest(&mut self, entry: &EntryMeta<'_>, data: &mut dyn Read) -> Result<()> {
        if let (Some(level), Compressor::Zstd(encoder)) =
            (self.manifest_level, self.builder.get_mut())
        {
            // The flush ends the job that holds the last logs, at their
            // level; the new level applies from the next job on.
            let switched = encoder
                .flush()
                .and_then(|()| encoder.set_parameter(CParameter::CompressionLevel(level)));
            switched.map_err(|e| self.write_error(&e))?;
        }
        self.add_file(entry, data)
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let TarWriter {
            builder, output, ..
        } = *self;
        let compressor = builder
            .into_inner()
            .map_err(|e| Error::io("finish", &output, &e))?;
        compressor
            .finish()
            .map_err(|e| Error::io("finish", &output, &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::READ_SIZE;

    fn zstd_writer(dir: &Path) -> (Box<dyn ArchiveWriter>, PathBuf) {
        let out = dir.join("out.tar.zst");
        let file = File::create(&out).unwrap();
        (Box::new(TarWriter::zstd(file, 3, &out).unwrap()), out)
    }

    /// The names and bytes of a tar.zst's entries, in order.
    fn read_back(archive: &Path) -> Vec<(String, Vec<u8>)> {
        let decoder = zstd::Decoder::new(File::open(archive).unwrap()).unwrap();
        let mut entries = Vec::new();
        for entry in tar::Archive::new(decoder).entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            entries.push((path, data));
        }
        entries
    }

    #[test]
    fn entries_from_readers_and_from_memory_read_back_with_their_names_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (mut writer, out) = zstd_writer(dir.path());
        let long = format!("{}/x.log", "d".repeat(150));
        let sizes = [
            0,
            1,
            511,
            512,
            513,
            READ_SIZE - 1,
            READ_SIZE,
            2 * READ_SIZE + 7,
        ];
        let mut expected = Vec::new();
        for (i, size) in sizes.into_iter().enumerate() {
            let data: Vec<u8> = (0..size).map(|b| (b * 7 + i) as u8).collect();
            for in_memory in [false, true] {
                let path = format!("{i}-{in_memory}-{long}");
                let entry = EntryMeta {
                    path: &path,
                    size: size as u64,
                    mtime: None,
                };
                match in_memory {
                    true => writer.add_bytes(&entry, &data).unwrap(),
                    false => writer.add_file(&entry, &mut &data[..]).unwrap(),
                }
                expected.push((path, data.clone()));
            }
        }
        writer.finish().unwrap();
        let found = read_back(&out);
        assert_eq!(found.len(), expected.len());
        for ((path, data), (want_path, want)) in found.iter().zip(&expected) {
            assert_eq!(path, want_path);
            assert!(
                data == want,
                "{path}: {} bytes, {} expected",
                data.len(),
                want.len()
            );
        }
    }

    /// A log, then a manifest-like list of SHA-256 values, to tar.zst: the
    /// list through `add_manifest` or as any other file. Checks what the
    /// archive reads back as, and gives its size.
    fn log_then_checksums(dir: &Path, workers: u32, as_manifest: bool) -> u64 {
        use sha2::Digest;
        let out = dir.join(format!("{workers}-{as_manifest}.tar.zst"));
        let file = File::create(&out).unwrap();
        let mut writer: Box<dyn ArchiveWriter> =
            Box::new(TarWriter::zstd_with_workers(file, 3, workers, &out).unwrap());
        let log: String = (0..20_000)
            .map(|i| {
                format!(
                    "04:{:02}:{:02} level=info msg=\"step {i}\" vm=test-{}\n",
                    i / 60 % 60,
                    i % 60,
                    i % 7
                )
            })
            .collect();
        let checksums: String = (0..8_000)
            .map(|i: u32| {
                let sha = hex::encode(sha2::Sha256::digest(i.to_le_bytes()));
                format!(
                    "{{\"path\":\"vm/{i}.log\",\"size\":{},\"sha256\":\"{sha}\"}},\n",
                    i * 7
                )
            })
            .collect();
        let log_entry = EntryMeta {
            path: "vm/test.log",
            size: log.len() as u64,
            mtime: None,
        };
        writer.add_bytes(&log_entry, log.as_bytes()).unwrap();
        let entry = EntryMeta {
            path: "manifest.json",
            size: checksums.len() as u64,
            mtime: None,
        };
        match as_manifest {
            true => writer.add_manifest(&entry, &mut checksums.as_bytes()),
            false => writer.add_file(&entry, &mut checksums.as_bytes()),
        }
        .unwrap();
        writer.finish().unwrap();
        let entries = read_back(&out);
        let expected = [("vm/test.log", log), ("manifest.json", checksums)]
            .map(|(path, data)| (path.to_string(), data.into_bytes()));
        assert_eq!(entries, expected);
        std::fs::metadata(&out).unwrap().len()
    }

    #[test]
    fn the_manifest_is_compressed_at_the_level_that_suits_its_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let as_file = log_then_checksums(dir.path(), 2, false);
        let as_manifest = log_then_checksums(dir.path(), 2, true);
        assert!(
            as_manifest * 100 < as_file * 95,
            "{as_manifest} bytes, against {as_file} with the logs' level"
        );
        // One thread cannot change level within the stream: the same bytes.
        let as_file = log_then_checksums(dir.path(), 1, false);
        let as_manifest = log_then_checksums(dir.path(), 1, true);
        assert_eq!(as_manifest, as_file);
        // Levels that weigh matches against literals, and level 1, are kept.
        let manifest_level = |workers, level| {
            let out = dir.path().join("levels.tar.zst");
            let file = File::create(&out).unwrap();
            let writer = TarWriter::zstd_with_workers(file, level, workers, &out).unwrap();
            writer.manifest_level
        };
        assert_eq!(manifest_level(2, 3), Some(1));
        assert_eq!(manifest_level(2, 15), Some(1));
        assert_eq!(manifest_level(2, 16), None);
        assert_eq!(manifest_level(2, 19), None);
        assert_eq!(manifest_level(2, 1), None);
        assert_eq!(manifest_level(1, 3), None);
    }

    #[test]
    fn zstd_jobs_shrink_as_workers_grow_so_that_memory_stays_bounded() {
        let mib = |workers| zstd_job_size(workers) >> 20;
        assert_eq!([1, 2, 3, 4, 8, 16].map(mib), [4, 4, 2, 2, 1, 1]);
    }

    #[test]
    fn an_entry_whose_data_ends_early_stops_the_archive_rather_than_shifting_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut writer, _) = zstd_writer(dir.path());
        let entry = EntryMeta {
            path: "short.log",
            size: 10,
            mtime: None,
        };
        let err = writer.add_file(&entry, &mut &b"12345"[..]).unwrap_err();
        assert!(
            err.to_string()
                .contains("short.log yielded 5 of its 10 bytes"),
            "{err}"
        );
        let err = writer.add_bytes(&entry, b"12345").unwrap_err();
        assert!(
            err.to_string()
                .contains("short.log holds 5 bytes, not the 10"),
            "{err}"
        );
    }
}
