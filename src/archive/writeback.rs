//! The output file, handed to the disk as it grows. An archive is synced to
//! disk before it is renamed into place; a sync started only then waits for
//! the whole archive to be written, with every core idle (50-60 ms for the
//! benchmark's 145 MB here; 1.5 s at 100 MB/s).
//!
//! So, on Linux, the kernel is asked to start writing each few MiB as soon
//! as they are written, and a thread of its own syncs what was written so
//! far, over and over, while packing goes on. Starting the writes was not
//! enough on a virtual machine's disk: its host keeps what is written in a
//! cache of its own until a sync tells it to keep it for good, and the final
//! sync of the benchmark's 145 MB still took 80-195 ms (a fresh 17 MiB file,
//! 33 ms). With the syncs along the way it takes about 20 ms.

use std::fs::File;
use std::io::{self, Write};

/// Bytes written between two requests to start writing them to disk, and
/// to sync what was written.
const STEP: u64 = 8 << 20;

pub struct Writeback {
    file: File,
    written: u64,
    /// Up to here, writing to disk has been asked for.
    requested: u64,
    flusher: Option<Flusher>,
}

impl Writeback {
    pub fn new(file: File) -> Writeback {
        let flusher = Flusher::start(&file);
        Writeback {
            file,
            written: 0,
            requested: 0,
            flusher,
        }
    }

    /// Wait until all of it is on disk.
    pub fn sync(mut self) -> io::Result<()> {
        if let Some(flusher) = self.flusher.take() {
            flusher.stop();
        }
        self.file.sync_all()
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        if let Some(flusher) = self.flusher.take() {
            flusher.stop();
        }
    }
}

impl Write for Writeback {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.requested >= STEP {
            start_writing(&self.file, self.requested, self.written - self.requested);
            self.requested = self.written;
            if let Some(flusher) = &self.flusher {
                flusher.wake();
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Best effort: a failure to write shows again at the final sync.
#[cfg(target_os = "linux")]
fn start_writing(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor is open for as long as `file` is borrowed, and
    // the call only schedules the range's dirty pages for writing.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Elsewhere the final sync writes it all.
#[cfg(not(target_os = "linux"))]
fn start_writing(_file: &File, _offset: u64, _len: u64) {}

/// A thread that syncs the output when woken, until stopped. Best effort:
/// it syncs through a descriptor of its own (the file opened again), so that
/// a failure to write is still reported to the final sync, which on Linux
/// tells each opening of a file of a failure once.
struct Flusher {
    wake: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Flusher {
    #[cfg(target_os = "linux")]
    fn start(file: &File) -> Option<Flusher> {
        use std::os::fd::AsRawFd;
        let own = File::open(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
        // One wake-up waits at most: those sent while it syncs are one.
        let (wake, woken) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("logkeep-flush".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    let _ = own.sync_data();
                }
            })
            .ok()?;
        Some(Flusher { wake, thread })
    }

    #[cfg(not(target_os = "linux"))]
    fn start(_file: &File) -> Option<Flusher> {
        None
    }

    fn wake(&self) {
        let _ = self.wake.try_send(());
    }

    /// Wait for the sync under way, if any.
    fn stop(self) {
        drop(self.wake);
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom};

    #[test]
    fn every_byte_written_is_in_the_file_after_the_sync() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..3 * STEP as usize + 12345)
            .map(|i| (i % 253) as u8)
            .collect();
        let mut out = Writeback::new(file.try_clone().unwrap());
        for chunk in data.chunks(1_000_003) {
            out.write_all(chunk).unwrap();
        }
        // Writing was asked for as it went: all but less than a step.
        assert!(out.requested > 2 * STEP && out.written - out.requested < STEP);
        out.sync().unwrap();
        let mut back = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut back).unwrap();
        assert!(back == data);
    }
}
