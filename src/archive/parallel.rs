//! Compress a stream in independent blocks on every core, and write the
//! results in order: the approach of pigz. A bounded number of blocks is in
//! flight, so memory stays flat whatever the input size.
//!
//! The caller cuts its data into blocks and may put markers between them (a
//! zip entry starts or ends); a sink thread receives blocks and markers in
//! the order they were given and writes them out.

use std::io;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Input bytes per block: large enough that losing the 32 KiB dictionary at
/// each block start costs well under 1% of output size.
pub const BLOCK_SIZE: usize = 1 << 20;

/// What each block becomes.
#[derive(Debug, Clone, Copy)]
pub enum BlockFormat {
    /// A complete gzip member; members concatenate into one valid gzip file.
    GzipMember,
    /// Raw deflate ending in a sync flush (byte-aligned, not final) or, for
    /// the last block of a stream, the final block: blocks concatenate into
    /// one deflate stream, as a zip entry needs.
    RawDeflate,
}

/// What the sink receives, in order.
pub enum Piece<M> {
    Compressed(Receiver<io::Result<Vec<u8>>>),
    Marker(M),
}

struct Job {
    data: Vec<u8>,
    last: bool,
    done: SyncSender<io::Result<Vec<u8>>>,
}

pub struct Pipeline<M: Send + 'static> {
    jobs: Option<SyncSender<Job>>,
    pieces: Option<SyncSender<Piece<M>>>,
    workers: Vec<JoinHandle<()>>,
    sink: Option<JoinHandle<io::Result<()>>>,
}

impl<M: Send + 'static> Pipeline<M> {
    /// Start one compressing worker per core and the sink thread.
    pub fn new(
        format: BlockFormat,
        level: u32,
        sink: impl FnOnce(Receiver<Piece<M>>) -> io::Result<()> + Send + 'static,
    ) -> Pipeline<M> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (jobs, job_queue) = sync_channel::<Job>(threads);
        let job_queue = Arc::new(Mutex::new(job_queue));
        let workers = (0..threads)
            .map(|_| {
                let queue = Arc::clone(&job_queue);
                std::thread::spawn(move || worker(format, level, &queue))
            })
            .collect();
        // Bounds the blocks waiting to be written: memory stays flat.
        let (pieces, piece_queue) = sync_channel::<Piece<M>>(2 * threads + 2);
        Pipeline {
            jobs: Some(jobs),
            pieces: Some(pieces),
            workers,
            sink: Some(std::thread::spawn(move || sink(piece_queue))),
        }
    }

    /// Queue a block for compression; `last` ends a deflate stream.
    pub fn compress(&mut self, data: Vec<u8>, last: bool) -> io::Result<()> {
        let (done, result) = sync_channel(1);
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(Job { data, last, done }).is_ok());
        if !sent {
            return Err(self.failure());
        }
        self.send(Piece::Compressed(result))
    }

    pub fn marker(&mut self, marker: M) -> io::Result<()> {
        self.send(Piece::Marker(marker))
    }

    fn send(&mut self, piece: Piece<M>) -> io::Result<()> {
        match self.pieces.as_ref().map(|pieces| pieces.send(piece)) {
            Some(Ok(())) => Ok(()),
            _ => Err(self.failure()),
        }
    }

    /// Wait for every block to be written and return the sink's result.
    pub fn finish(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.pieces.take();
        self.jobs.take();
        let result = match self.sink.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the archive writer thread panicked")),
            None => Ok(()),
        };
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        result
    }

    /// The sink stopped (it failed, e.g. the disk is full): its error.
    fn failure(&mut self) -> io::Error {
        match self.shutdown() {
            Err(e) => e,
            Ok(()) => io::Error::other("the compression pipeline stopped"),
        }
    }
}

impl<M: Send + 'static> Drop for Pipeline<M> {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn worker(format: BlockFormat, level: u32, queue: &Mutex<Receiver<Job>>) {
    let mut raw = Compress::new(Compression::new(level), false);
    loop {
        let job = match queue.lock().map(|q| q.recv()) {
            Ok(Ok(job)) => job,
            _ => return,
        };
        let result = match format {
            BlockFormat::GzipMember => gzip_member(&job.data, level),
            BlockFormat::RawDeflate => {
                raw.reset();
                raw_deflate(&mut raw, &job.data, job.last)
            }
        };
        // The sink may have stopped; then nobody waits for this block.
        let _ = job.done.send(result);
    }
}

fn gzip_member(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        Compression::new(level),
    );
    encoder.write_all(data)?;
    encoder.finish()
}

fn raw_deflate(compress: &mut Compress, data: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    let start = compress.total_in();
    loop {
        let consumed = (compress.total_in() - start) as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let status = compress
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = (compress.total_in() - start) as usize == data.len();
        let room_left = out.capacity() > out.len();
        match status {
            Status::StreamEnd => return Ok(out),
            // A sync flush is complete when all input is in and output space was left over.
            _ if !last && all_in && room_left => return Ok(out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample() -> Vec<u8> {
        let line = b"time=\"2026\" level=info msg=\"abc\"\n";
        (0..3 * BLOCK_SIZE + 12345)
            .map(|i| line[i % line.len()])
            .collect()
    }

    #[test]
    fn raw_deflate_blocks_concatenate_into_one_stream() {
        let data = sample();
        let mut compress = Compress::new(Compression::new(6), false);
        let mut stream = Vec::new();
        let blocks: Vec<&[u8]> = data.chunks(BLOCK_SIZE).collect();
        for (i, block) in blocks.iter().enumerate() {
            compress.reset();
            stream.extend(raw_deflate(&mut compress, block, i + 1 == blocks.len()).unwrap());
        }
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(&stream[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn gzip_members_concatenate_into_one_file() {
        let data = sample();
        let sink_out = Arc::new(Mutex::new(Vec::new()));
        let out = Arc::clone(&sink_out);
        let mut pipeline: Pipeline<()> = Pipeline::new(BlockFormat::GzipMember, 6, move |pieces| {
            for piece in pieces {
                if let Piece::Compressed(block) = piece {
                    out.lock()
                        .unwrap()
                        .extend(block.recv().map_err(io::Error::other)??);
                }
            }
            Ok(())
        });
        for block in data.chunks(BLOCK_SIZE) {
            pipeline.compress(block.to_vec(), true).unwrap();
        }
        pipeline.finish().unwrap();
        let gz = sink_out.lock().unwrap().clone();
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }
}
