//! An external merge: records are written to a temporary file in runs that
//! are each already in order (a log file's lines are, mostly), and read back
//! merged into one ordered stream. Memory holds one record and one read
//! buffer per run being merged, never the records themselves, so the
//! timeline of gigabytes of logs fits in a few MiB. The temporary file has
//! no name (see `tempfile::tempfile`): nothing is left behind, even when the
//! run is interrupted or killed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};

/// A record that can go through the spool.
pub trait Record: Sized {
    fn write_to(&self, out: &mut dyn Write) -> io::Result<()>;
    /// The next record, `None` at the end of the data.
    fn read_from(input: &mut dyn BufRead) -> io::Result<Option<Self>>;
}

/// Runs merged at once; more are first merged in groups of this many.
const FAN_IN: usize = 64;
const READ_BUFFER: usize = 64 * 1024;

/// Where a run is in the spool.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    count: u64,
}

pub struct RunSpool {
    file: File,
    writer: Option<CountingWriter<BufWriter<File>>>,
    runs: Vec<Run>,
}

struct CountingWriter<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl RunSpool {
    pub fn new() -> io::Result<RunSpool> {
        let file = tempfile::tempfile()?;
        let writer = CountingWriter {
            inner: BufWriter::with_capacity(256 * 1024, file.try_clone()?),
            written: 0,
        };
        Ok(RunSpool {
            file,
            writer: Some(writer),
            runs: Vec::new(),
        })
    }

    /// Append a record; `new_run` starts a new run with it (the caller says
    /// when the order breaks: a new file, or a record that sorts before the
    /// one before it).
    pub fn push(&mut self, record: &impl Record, new_run: bool) -> io::Result<()> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| io::Error::other("the spool is closed"))?;
        if new_run || self.runs.is_empty() {
            self.runs.push(Run {
                start: writer.written,
                count: 0,
            });
        }
        record.write_to(writer)?;
        if let Some(run) = self.runs.last_mut() {
            run.count += 1;
        }
        Ok(())
    }

    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    fn close(&mut self) -> io::Result<()> {
        if let Some(mut writer) = self.writer.take() {
            writer.flush()?;
        }
        Ok(())
    }

    /// Call `visit` with every record in the order of `key`; at equal keys
    /// the earlier run first. Can be called again for a second pass.
    pub fn merge<T: Record, K: Ord>(
        &mut self,
        key: &dyn Fn(&T) -> K,
        visit: &mut dyn FnMut(T) -> io::Result<()>,
    ) -> io::Result<()> {
        self.close()?;
        // Too many runs to hold a buffer for each: merge them in groups into
        // a new spool first, as often as needed.
        while self.runs.len() > FAN_IN {
            let mut next = RunSpool::new()?;
            for group in self.runs.chunks(FAN_IN) {
                let mut first = true;
                merge_runs(&self.file, group, key, &mut |record: T| {
                    next.push(&record, std::mem::take(&mut first))
                })?;
            }
            next.close()?;
            *self = next;
        }
        let runs = self.runs.clone();
        merge_runs(&self.file, &runs, key, visit)
    }
}

fn merge_runs<T: Record, K: Ord>(
    file: &File,
    runs: &[Run],
    key: &dyn Fn(&T) -> K,
    visit: &mut dyn FnMut(T) -> io::Result<()>,
) -> io::Result<()> {
    let mut readers = Vec::with_capacity(runs.len());
    let mut heads: Vec<Option<T>> = Vec::with_capacity(runs.len());
    let mut left: Vec<u64> = runs.iter().map(|r| r.count).collect();
    let mut heap = BinaryHeap::new();
    for (index, run) in runs.iter().enumerate() {
        let cursor = Cursor {
            file,
            offset: run.start,
        };
        let mut reader = BufReader::with_capacity(READ_BUFFER, cursor);
        let head = next_of(&mut reader, &mut left[index])?;
        if let Some(record) = &head {
            heap.push(Reverse((key(record), index)));
        }
        readers.push(reader);
        heads.push(head);
    }
    while let Some(Reverse((_, index))) = heap.pop() {
        let record = heads[index]
            .take()
            .expect("a head for each run in the heap");
        if let Some(next) = next_of(&mut readers[index], &mut left[index])? {
            heap.push(Reverse((key(&next), index)));
            heads[index] = Some(next);
        }
        visit(record)?;
    }
    Ok(())
}

/// Reads the spool from its own offset: each run being merged has one, over
/// the same unnamed file (which cannot be opened again by name).
struct Cursor<'f> {
    file: &'f File,
    offset: u64,
}

impl Read for Cursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_at(self.file, buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    // Moves the file's own position too: the spool is written to the end
    // before it is read, and not written again.
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(not(any(unix, windows)))]
fn read_at(_file: &File, _buf: &mut [u8], _offset: u64) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

fn next_of<T: Record>(reader: &mut dyn BufRead, left: &mut u64) -> io::Result<Option<T>> {
    if *left == 0 {
        return Ok(None);
    }
    *left -= 1;
    T::read_from(reader)?
        .map(Some)
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the spool ended early"))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct N(u64, u64);

    impl Record for N {
        fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
            out.write_all(&self.0.to_le_bytes())?;
            out.write_all(&self.1.to_le_bytes())
        }

        fn read_from(input: &mut dyn BufRead) -> io::Result<Option<Self>> {
            let mut bytes = [0u8; 16];
            match input.read_exact(&mut bytes) {
                Ok(()) => Ok(Some(N(
                    u64::from_le_bytes(bytes[..8].try_into().unwrap()),
                    u64::from_le_bytes(bytes[8..].try_into().unwrap()),
                ))),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
                Err(e) => Err(e),
            }
        }
    }

    /// Many runs (more than one merge's fan-in, so groups are merged first),
    /// equal keys across runs: the order is by key, then by run.
    #[test]
    fn merges_runs_in_order_and_stably() {
        let mut spool = RunSpool::new().unwrap();
        let runs = 300u64;
        for run in 0..runs {
            for i in 0..10 {
                // Keys 0, 3, 6… shifted per run; the second field says which run.
                spool.push(&N(i * 3 + run % 7, run), i == 0).unwrap();
            }
        }
        assert_eq!(spool.runs(), runs as usize);
        for _pass in 0..2 {
            let mut out = Vec::new();
            spool
                .merge(&|n: &N| n.0, &mut |n: N| {
                    out.push((n.0, n.1));
                    Ok(())
                })
                .unwrap();
            assert_eq!(out.len(), 3000);
            let mut sorted = out.clone();
            sorted.sort();
            assert_eq!(out, sorted, "by key, and runs in order at equal keys");
        }
    }
}
