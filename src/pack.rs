//! Stream the planned files into an archive writer, hashing each one in the
//! same pass, then add the manifest. A file that changes while it is read
//! never corrupts the archive: each entry holds exactly the size its header
//! announced, the size the file had when it was opened.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::archive::{ArchiveWriter, EntryMeta, PAGE, to_page};
use crate::budget_queue::{self, Held};
use crate::error::{Error, Result, io_reason};
use crate::layout::{PlannedFile, PlannedFiles, SkipReason, Skipped};
use crate::manifest::{Cut, FileRecord, MANIFEST_NAME, Manifest, rfc3339};
use crate::problem::Problem;
use crate::redact::{Counts, Redactor};
use crate::safe_fs::Opener;
use crate::sanitize::display_path;
use crate::sha256_in_step::{self, Sha256Stream};

/// Called after each file with the bytes it added, for progress display.
pub type Progress<'a> = &'a mut dyn FnMut(&PlannedFile, u64);

/// How files are read into the archive.
#[derive(Default, Clone, Copy)]
pub struct PackOptions<'a> {
    /// Cap each file, keeping its head and tail (`--max-file-size`).
    pub max_file_size: Option<u64>,
    /// Redact secrets in every file (`None` with `--no-redact`).
    pub redactor: Option<&'a Redactor>,
    /// Leave out files that hold a private key in their first bytes.
    pub exclude_private_keys: bool,
    /// Where to note each planned file (listed with its inode) that was not
    /// packed as listed: opened as another inode (`Some`: the log rotated
    /// meanwhile) or not opened at all (`None`: moved or deleted); see
    /// [`crate::layout::late_arrivals`].
    pub not_as_planned: Option<&'a Mutex<Vec<NotAsPlanned>>>,
}

/// A planned file's path, and the inode opened there (`None`: not opened).
pub type NotAsPlanned = (PathBuf, Option<u64>);

/// Write every planned file, then the manifest, and finish the writer.
/// Files that cannot be opened are recorded in the manifest and skipped;
/// only a failure of the output itself is an error.
///
/// Three stages overlap: a reader thread opens the files in plan order and
/// reads the small ones whole (redacted, and hashed two at a time); it
/// hands each large one to a scanner thread, which scans it for secrets
/// (hashing it in the same read) unless redaction is off, and counts the
/// redacted size of one that may hold a secret; and this thread writes
/// them all into the archive, taking the large ones from the scanner in
/// turn. The reader goes on with the files after a large one while it is
/// scanned, so the scan is usually over when its turn comes: the writer
/// seldom waits, and every core compresses. Nothing measures a file before
/// the reader opens it: a `stat` per file ahead of the open would cost as
/// much as reading a small log.
pub fn pack(
    files: &PlannedFiles,
    options: PackOptions<'_>,
    manifest: &mut Manifest,
    mut writer: Box<dyn ArchiveWriter>,
    progress: Progress<'_>,
) -> Result<()> {
    pack_files(files, options, manifest, writer.as_mut(), progress)?;
    add_manifest_and_finish(manifest, writer)
}

/// [`pack`] without the manifest: write every planned file, recording each
/// in `manifest`. Called again for files that appear meanwhile (see
/// [`crate::layout::late_arrivals`]), before [`add_manifest_and_finish`].
pub fn pack_files(
    files: &PlannedFiles,
    options: PackOptions<'_>,
    manifest: &mut Manifest,
    writer: &mut dyn ArchiveWriter,
    progress: Progress<'_>,
) -> Result<()> {
    std::thread::scope(|scope| {
        let spare = descriptors_to_spare();
        let (to_scan, scan_queue) = budget_queue::queue(TO_SCAN);
        let ahead = Held {
            items: SCANNED.items.min(spare),
            ..SCANNED
        };
        let (scans, scanned) = budget_queue::queue(ahead);
        let to_scan = scanner_floor(options).map(|_| {
            scope.spawn(move || scanner(options, scan_queue, scans, ahead));
            to_scan
        });
        let (batches, prepared) = budget_queue::queue(HANDOVER);
        let open_ahead = OPEN_AHEAD.min(spare);
        scope.spawn(move || prepare_all(files, options, open_ahead, to_scan, batches));
        // An error returns early: dropping `prepared` and `scanned` stops the
        // reader and the scanner. A batch counts against `HANDOVER` until it
        // is written, a scanned file against `SCANNED`.
        while let Some(mut batch) = prepared.recv() {
            for (planned, handed) in batch.take() {
                let mut scan = None;
                let prepared = match handed {
                    Handed::Ready(prepared) => prepared,
                    Handed::ToScanner => {
                        scan = scanned.recv();
                        match scan.as_mut().map(|scan| scan.take()) {
                            Some(ScannedFile { source, prepared }) if source == planned.source => {
                                prepared
                            }
                            // Never lose a file: the scanner stopped (or is
                            // out of step, which it is not made to be).
                            other => {
                                debug_assert!(other.is_none(), "the scanner is out of step");
                                prepare(&planned, options, &mut Opener::default())
                            }
                        }
                    }
                };
                let added = write_prepared(&planned, prepared, options, manifest, writer)?;
                drop(scan);
                progress(&planned, added);
            }
        }
        Ok::<(), Error>(())
    })?;
    if let Some(e) = files.spool_error() {
        return Err(Error::temp_file(
            "read the list of files to collect back",
            &e,
        ));
    }
    Ok(())
}

/// Add the manifest of what was packed, and finish the archive.
pub fn add_manifest_and_finish(
    manifest: &mut Manifest,
    mut writer: Box<dyn ArchiveWriter>,
) -> Result<()> {
    manifest.finish_totals();
    // Streamed from the records' spool: with many files the JSON text is
    // large, and memory stays the same whatever the number of files.
    let mut json = manifest.json().map_err(spool_error)?;
    let len = json.len;
    add_manifest(writer.as_mut(), &mut json, len)?;
    writer.finish()
}

/// Add the manifest's text, `len` bytes read from `json`. The writers take
/// any error of their input for one of the output; the text is read back
/// from a temporary file, and a failure there is told as what it is.
fn add_manifest(writer: &mut dyn ArchiveWriter, json: &mut dyn Read, len: u64) -> Result<()> {
    let entry = EntryMeta {
        path: MANIFEST_NAME,
        size: len,
        mtime: Some(SystemTime::now()),
    };
    let mut json = KeepReadError {
        inner: json,
        error: None,
    };
    writer
        .add_manifest(&entry, &mut json)
        .map_err(|written| match json.error.take() {
            Some(e) => Error::temp_file("read the manifest back", &e),
            None => written,
        })
}

/// A reader that keeps the first error of the one it wraps (its caller is
/// given a copy).
struct KeepReadError<'a> {
    inner: &'a mut dyn Read,
    error: Option<io::Error>,
}

impl Read for KeepReadError<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted && self.error.is_none() {
                self.error = Some(io::Error::new(e.kind(), e.to_string()));
            }
        })
    }
}

fn spool_error(e: io::Error) -> Error {
    Error::temp_file("write the manifest", &e)
}

/// What the reader may have read into memory ahead of the writer: the batch
/// being written and at most one more, and those together at most 1 MiB
/// (one larger batch still goes alone). Files are handed over in batches,
/// not one by one: with many small files, waking the other thread for each
/// would cost more than reading it. Bounding the bytes, with small batches
/// and `IN_MEMORY`, keeps the peak about the same whatever the sizes of the
/// logs (see `IN_MEMORY`).
const HANDOVER: Held = Held {
    items: 2,
    bytes: 1 << 20,
};
/// A batch ends after this many files…
const BATCH_FILES: usize = 64;
/// …or this many bytes read into memory, or at a file to be streamed. The
/// reader fills one batch while the others wait or are written.
const BATCH_BYTES: usize = 512 << 10;

/// A file as the reader leaves it for the writer.
enum Prepared {
    /// Not archived: recorded as skipped, and as a problem if unreadable.
    Skipped {
        skipped: Skipped,
        problem: Option<Problem>,
    },
    /// Read whole, redacted and hashed: the entry's bytes.
    InMemory {
        bytes: Vec<u8>,
        read: Archived,
        opened: Opened,
        changed: bool,
    },
    /// Too large to hold: the writer streams it from the open file.
    Stream {
        file: File,
        opened: Opened,
        how: Streaming,
    },
}

/// A file as the reader hands it to the writer, in plan order.
enum Handed {
    /// Prepared by the reader.
    Ready(Prepared),
    /// Too large to hold: the scanner prepares it and hands it over itself.
    ToScanner,
}

/// What a file was like when it was opened.
#[derive(Clone, Copy)]
struct Opened {
    size: u64,
    mtime: Option<SystemTime>,
    /// Under `--max-file-size`: what is kept, found once at opening, so that
    /// every pass over the file cuts it alike.
    cut: Option<CutPoints>,
}

#[derive(Clone, Copy)]
struct CutPoints {
    head: u64,
    tail: u64,
    /// The head ends with a line end (a line longer than the search is cut
    /// where the cap falls).
    head_ends_line: bool,
}

enum Streaming {
    /// No redaction (`--no-redact`): streamed and hashed as it is.
    Plain,
    /// The scan found nothing that may be a secret; what it saw.
    Clean(Scanned),
    /// It may hold a secret: redacted in two passes. The first, done ahead
    /// like the scan, counted the redacted size (a tar header needs it
    /// before the data); the writer streams the second.
    Redact { size: u64 },
}

/// Large files the reader opened and the scanner has yet to take.
const TO_SCAN: Held = Held {
    items: OPEN_AHEAD,
    bytes: 0,
};
const TO_SCAN_EACH: Held = Held { items: 1, bytes: 0 };

/// What the scanner may have prepared ahead of the writer: open files, and
/// the bytes of them it read, which the writer reads again (from the page
/// cache, unless it had to let them go). One file larger than this still
/// goes alone. With 8 files, the writer of the 1 GiB benchmark corpus
/// waited for the scan of its first 200 MB log when it came after a dozen
/// others: 4% more wall time than with 16 (or 32).
const SCANNED: Held = Held {
    items: 16,
    bytes: 256 << 20,
};

/// The scanner takes the files larger than this, or none when every file is
/// cut to no more than `IN_MEMORY` (all are read whole then).
fn scanner_floor(options: PackOptions<'_>) -> Option<u64> {
    match options.max_file_size {
        Some(cap) if cap <= IN_MEMORY => None,
        _ => Some(IN_MEMORY),
    }
}

/// Is a file of this size when opened (after any cut) streamed (scanned
/// first, unless redaction is off) rather than read whole?
fn streamed(size: u64, floor: Option<u64>) -> bool {
    floor.is_some_and(|floor| size > floor)
}

/// A large file the reader opened, for the scanner.
struct ToScan {
    planned: PlannedFile,
    file: File,
    opened: Opened,
}

/// What the scanner prepared of one large file, for the writer.
struct ScannedFile {
    source: PathBuf,
    prepared: Prepared,
}

/// Prepare the large files the reader opened, and hand them to the writer
/// in the order the reader sent them.
///
/// The first file not yet handed over (the lead) is the one the writer
/// waits for next. While the writer has a scanned file to write, a later
/// file is scanned in step with the lead, a block of each in turn, and the
/// two blocks are hashed together (see `sha256_in_step`: on x86 with the SHA
/// extensions, two streams take 0.6 times as long as one after the other).
/// While the writer has none, it may be waiting for the lead: the lead is
/// scanned alone, and no longer hashed (the writer hashes the rest as it
/// reads it again), so that it is ready sooner: hashing is most of a scan's
/// work. On the benchmark's 1 GiB the writer had no scanned file to write
/// for 189 of the 200 MiB of the largest log's scan. What is ready after the
/// lead waits for it, within `ahead` (what the writer may have waiting).
fn scanner(
    options: PackOptions<'_>,
    to_scan: budget_queue::Receiver<ToScan>,
    scanned: budget_queue::Sender<ScannedFile>,
    ahead: Held,
) {
    let mut jobs: std::collections::VecDeque<ScanJob<'_, '_>> = Default::default();
    loop {
        while jobs.front().is_some_and(|job| !job.streamed.is_scanning()) {
            let job = jobs.pop_front().expect("a job");
            if job.hand_over(&scanned).is_err() {
                return; // the writer stopped
            }
        }
        if jobs.is_empty() {
            let Some(delivered) = to_scan.recv() else {
                return;
            };
            jobs.push_back(ScanJob::start(delivered, options));
            continue;
        }
        let writer_has = scanned.holding();
        // The partner's place among the jobs after the lead.
        let partner = match in_step_allowed(&jobs, writer_has, ahead) {
            false => None,
            true => {
                let partner = jobs
                    .iter()
                    .skip(1)
                    .position(|job| job.streamed.is_scanning());
                if partner.is_none()
                    && let Some(delivered) = to_scan.try_recv()
                {
                    // Look again: it may need no scan.
                    jobs.push_back(ScanJob::start(delivered, options));
                    continue;
                }
                partner
            }
        };
        let jobs = jobs.make_contiguous();
        let (lead, later) = jobs.split_first_mut().expect("a lead");
        match partner {
            Some(i) => lead.step_with(&mut later[i]),
            None => {
                if writer_has.items == 0 {
                    lead.stop_hashing();
                }
                lead.step()
            }
        }
    }
}

/// May a file after the lead be scanned in step with it? Only while the
/// writer has a scanned file to write, and what is ready for it, with what
/// waits behind the lead, is within `ahead`.
fn in_step_allowed(
    jobs: &std::collections::VecDeque<ScanJob<'_, '_>>,
    writer_has: Held,
    ahead: Held,
) -> bool {
    let waiting = jobs
        .iter()
        .skip(1)
        .filter(|job| !job.streamed.is_scanning())
        .map(ScanJob::holds)
        .fold(writer_has, std::ops::Add::add);
    writer_has.items > 0 && waiting.items < ahead.items && waiting.bytes < ahead.bytes
}

/// Steps taken in step, for a test to see that they are.
#[cfg(test)]
static IN_STEP: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A large file in the scanner's hands, until the writer has it.
struct ScanJob<'q, 'a> {
    /// Counts against `TO_SCAN` until the file is handed to the writer.
    delivered: budget_queue::Delivered<'q, ToScan>,
    source: PathBuf,
    /// `Moved` only while a step has it.
    streamed: Streamed<'a>,
}

impl<'q, 'a> ScanJob<'q, 'a> {
    fn start(mut delivered: budget_queue::Delivered<'q, ToScan>, options: PackOptions<'a>) -> Self {
        let ToScan {
            planned,
            file,
            opened,
        } = delivered.take();
        let streamed = start_streamed(&planned, file, opened, options);
        ScanJob {
            delivered,
            source: planned.source,
            streamed,
        }
    }

    fn step(&mut self) {
        self.streamed = std::mem::replace(&mut self.streamed, Streamed::Moved).step();
    }

    fn stop_hashing(&mut self) {
        if let Streamed::Scanning(scan) = &mut self.streamed {
            scan.seen.stop_hashing();
        }
    }

    fn step_with(&mut self, other: &mut Self) {
        #[cfg(test)]
        IN_STEP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let a = std::mem::replace(&mut self.streamed, Streamed::Moved);
        let b = std::mem::replace(&mut other.streamed, Streamed::Moved);
        (self.streamed, other.streamed) = Streamed::step_both(a, b);
    }

    /// What a scanned file holds until the writer has read it again: the
    /// bytes scanned, which it reads from the page cache if still there.
    fn holds(&self) -> Held {
        match &self.streamed {
            Streamed::Ready(Prepared::Stream { opened, .. }) => Held {
                items: 1,
                bytes: opened.size,
            },
            _ => Held::default(),
        }
    }

    fn hand_over(self, scanned: &budget_queue::Sender<ScannedFile>) -> Result<(), ()> {
        let holds = self.holds();
        let Streamed::Ready(prepared) = self.streamed else {
            unreachable!("only a prepared file is handed over");
        };
        let scanned_file = ScannedFile {
            source: self.source,
            prepared,
        };
        let sent = scanned.send(scanned_file, holds).map_err(drop);
        drop(self.delivered);
        sent
    }
}

/// The reader opens files up to this many ahead of the one it reads, so
/// that it finds the large ones early: each is scanned while the files
/// before it are read and written, as the open is what tells a file's size
/// (a `stat` per file ahead of it would cost as much as reading a small log).
/// What is open stays under 64 descriptors: these, and the few large files
/// whose turn has come (a large file ends its batch, and at most two
/// batches wait for the writer). Past 64, Linux grows a threaded process's
/// table of descriptors only after an RCU grace period, and 64 ahead took
/// 15-25 ms more on 20,000 small logs (31-41 alternating rounds; 32 and 48
/// ahead did not, nor did 64 with the table grown before the threads
/// started). On the 1 GiB corpus 32, 48 and 64 ahead took the same time.
const OPEN_AHEAD: usize = 32;

/// A file the reader opened ahead of reading it.
enum OpenedAhead {
    /// Cannot be opened: what to record of it.
    Failed(Prepared),
    /// To be read whole here; opened at that instant.
    Small(File, Opened, Instant),
    /// To be scanned: `None` once handed to the scanner.
    Large(Option<ToScan>),
}

/// A small file read this soon after it was opened is taken as it was then;
/// one opened longer ago (the reader waited for the writer in between) is
/// looked at again, so that a live log that grew meanwhile is archived as
/// it is when read, not cut to its old size and said to have changed.
const STILL_AS_OPENED: Duration = Duration::from_millis(1);

/// What a small file opened ahead is like now: as when opened, if that was
/// just now.
fn still_as_opened(file: &File, opened: Opened, at: Instant, options: PackOptions<'_>) -> Opened {
    match at.elapsed() < STILL_AS_OPENED {
        true => opened,
        false => as_it_is_now(file, opened, options),
    }
}

/// What a small file opened a while ago is like now, if it is still one to
/// read whole and uncut (else what it was like when opened, which is then
/// what is archived).
fn as_it_is_now(file: &File, opened: Opened, options: PackOptions<'_>) -> Opened {
    let Ok(metadata) = file.metadata() else {
        return opened;
    };
    let size = metadata.len();
    let uncut_and_small = opened.cut.is_none()
        && options.max_file_size.is_none_or(|cap| size <= cap)
        && !streamed(size, scanner_floor(options));
    match uncut_and_small {
        true => Opened {
            size,
            mtime: metadata.modified().ok(),
            cut: None,
        },
        false => opened,
    }
}

/// How many files the reader may open ahead, and as many again the scanner
/// hand to the writer: under a low limit of open files (`ulimit -n`), a
/// quarter of those past the first 16, so that the output and the
/// temporary files still get theirs.
fn descriptors_to_spare() -> usize {
    #[cfg(unix)]
    if let Ok(limit) = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map(usize::try_from)
        .transpose()
    {
        return limit.map_or(usize::MAX, |limit| (limit.saturating_sub(16) / 4).max(1));
    }
    usize::MAX
}

/// Open the files in plan order, `open_ahead` (at most `OPEN_AHEAD`)
/// ahead: read the small ones whole, and hand the large ones to the scanner
/// (all are read here without one), leaving their place in the batch for
/// the writer to take them from it. Large files reach the scanner in plan order, and each before its
/// place reaches the writer.
fn prepare_all(
    files: &PlannedFiles,
    options: PackOptions<'_>,
    open_ahead: usize,
    to_scan: Option<budget_queue::Sender<ToScan>>,
    batches: budget_queue::Sender<Vec<(PlannedFile, Handed)>>,
) {
    let mut batch = Vec::new();
    let mut bytes = 0;
    let mut opener = Opener::default();
    let mut plan = files.iter().peekable();
    let mut ahead = std::collections::VecDeque::new();
    // A large file opened ahead that the scanner had no room for: those
    // after it wait to be opened, as the scanner takes them in order.
    let mut held_back = false;
    loop {
        while !held_back && ahead.len() < open_ahead {
            let Some(planned) = plan.peek() else { break };
            let opened = match open_planned(planned, options, &mut opener) {
                // Out of descriptors (a low limit): the next file is opened
                // again once those ahead have been read and closed.
                Err(e) if crate::error::out_of_descriptors(&e) && !ahead.is_empty() => break,
                Err(e) => OpenedAhead::Failed(unopened(planned, &e)),
                Ok((file, opened)) => match &to_scan {
                    Some(to_scan) if is_streamed(&file, opened, options) => {
                        let large = ToScan {
                            planned: planned.clone(),
                            file,
                            opened,
                        };
                        match to_scan.try_send(large, TO_SCAN_EACH) {
                            Ok(()) => OpenedAhead::Large(None),
                            Err(large) => {
                                held_back = true;
                                OpenedAhead::Large(Some(large))
                            }
                        }
                    }
                    _ => OpenedAhead::Small(file, opened, Instant::now()),
                },
            };
            ahead.extend(plan.next().map(|planned| (planned, opened)));
        }
        let Some((planned, opened)) = ahead.pop_front() else {
            break;
        };
        let mut handed = [None, None];
        match opened {
            OpenedAhead::Failed(skipped) => handed[0] = Some((planned, Handed::Ready(skipped))),
            OpenedAhead::Small(file, opened, at) => {
                let opened = still_as_opened(&file, opened, at, options);
                match ahead.front() {
                    // Two small files in a row are read whole together, so
                    // that their checksums are taken in step.
                    Some((_, OpenedAhead::Small(..))) => {
                        let Some((next, OpenedAhead::Small(next_file, next_opened, next_at))) =
                            ahead.pop_front()
                        else {
                            unreachable!("the next file was just seen to be small");
                        };
                        let next_opened =
                            still_as_opened(&next_file, next_opened, next_at, options);
                        let (first, second) = read_two_whole(
                            (&planned, file, opened),
                            (&next, next_file, next_opened),
                            options,
                        );
                        handed = [
                            Some((planned, Handed::Ready(first))),
                            Some((next, Handed::Ready(second))),
                        ];
                    }
                    _ => {
                        let prepared = read_whole(&planned, file, opened, options);
                        handed[0] = Some((planned, Handed::Ready(prepared)));
                    }
                }
            }
            OpenedAhead::Large(held) => {
                if let (Some(large), Some(to_scan)) = (held, &to_scan) {
                    // Every file before it has reached the writer, or is in
                    // `batch` (which holds no large one): the scanner makes
                    // room.
                    held_back = false;
                    if to_scan.send(large, TO_SCAN_EACH).is_err() {
                        return; // the writer stopped, and so the scanner
                    }
                }
                handed[0] = Some((planned, Handed::ToScanner));
            }
        }
        for (planned, handed) in handed.into_iter().flatten() {
            let ends_batch = match &handed {
                Handed::Ready(Prepared::InMemory { bytes: data, .. }) => {
                    bytes += data.len();
                    bytes >= BATCH_BYTES
                }
                // The files before a large one reach the writer without
                // waiting for more to be read.
                Handed::Ready(Prepared::Stream { .. }) | Handed::ToScanner => true,
                Handed::Ready(Prepared::Skipped { .. }) => false,
            };
            batch.push((planned, handed));
            if ends_batch || batch.len() == BATCH_FILES {
                if batches
                    .send(std::mem::take(&mut batch), holding(bytes))
                    .is_err()
                {
                    return; // the writer stopped
                }
                bytes = 0;
            }
        }
    }
    if !batch.is_empty() {
        let _ = batches.send(batch, holding(bytes));
    }
}

/// What a batch with `bytes` read into memory holds in the hand-over.
fn holding(bytes: usize) -> Held {
    Held {
        items: 1,
        bytes: bytes as u64,
    }
}

/// Open a file and do all that can be done ahead of writing it, here.
fn prepare(planned: &PlannedFile, options: PackOptions<'_>, opener: &mut Opener) -> Prepared {
    match open_planned(planned, options, opener) {
        Ok((file, opened)) => prepare_opened(planned, file, opened, options),
        Err(e) => unopened(planned, &e),
    }
}

/// What to record of a file that could not be opened.
fn unopened(planned: &PlannedFile, e: &io::Error) -> Prepared {
    let reason = match e.kind() {
        io::ErrorKind::NotFound => "vanished before it could be read".to_string(),
        io::ErrorKind::InvalidInput => {
            "replaced by something that is not a regular file; not read".to_string()
        }
        _ => format!("cannot open: {}", io_reason(e)),
    };
    Prepared::Skipped {
        skipped: Skipped::new(
            &planned.source,
            planned.instance.clone(),
            SkipReason::Unreadable,
        ),
        problem: Some(Problem::new(&planned.source, reason)),
    }
}

/// Open a file and note what it is like now, which is what is archived.
fn open_planned(
    planned: &PlannedFile,
    options: PackOptions<'_>,
    opener: &mut Opener,
) -> io::Result<(File, Opened)> {
    let opened = opener.open_regular_with_metadata(&planned.source);
    #[cfg(unix)]
    if let (Some(planned_ino), Some(not_as_planned)) = (planned.ino, options.not_as_planned) {
        let ino = opened
            .as_ref()
            .ok()
            .map(|(_, metadata)| std::os::unix::fs::MetadataExt::ino(metadata));
        if ino != Some(planned_ino)
            && let Ok(mut not_as_planned) = not_as_planned.lock()
        {
            not_as_planned.push((planned.source.clone(), ino));
        }
    }
    let (file, metadata) = opened?;
    let size = metadata.len();
    let opened = Opened {
        size,
        mtime: metadata.modified().ok(),
        cut: options
            .max_file_size
            .filter(|&cap| size > cap)
            .map(|cap| cut_at_line_ends(&file, size, cap))
            .map(|cut| match options.redactor {
                Some(redactor) => keep_secrets_whole(&file, size, cut, redactor),
                None => cut,
            }),
    };
    Ok((file, opened))
}

/// Is an open file streamed rather than read whole? Under a cap of at most
/// `IN_MEMORY`, a cut file is small too (the cap, and the line saying what
/// was cut): with no floor, nothing is streamed.
fn is_streamed(file: &File, opened: Opened, options: PackOptions<'_>) -> bool {
    streamed(snapshot(file, opened).len(), scanner_floor(options))
}

/// What to record of a file left out for the private key it holds.
fn private_key_skipped(planned: &PlannedFile) -> Prepared {
    let mut skipped = Skipped::new(
        &planned.source,
        planned.instance.clone(),
        SkipReason::Secret,
    );
    skipped.detail = Some("a private key in its first bytes".to_string());
    Prepared::Skipped {
        skipped,
        problem: None,
    }
}

/// Do all that can be done ahead of writing an open file: small files (most
/// logs) are read whole, larger ones scanned.
fn prepare_opened(
    planned: &PlannedFile,
    file: File,
    opened: Opened,
    options: PackOptions<'_>,
) -> Prepared {
    match is_streamed(&file, opened, options) {
        true => prepare_streamed(planned, file, opened, options),
        false => read_whole(planned, file, opened, options),
    }
}

/// Read a small file (most logs are) once into memory, redact and hash it
/// there.
fn read_whole(
    planned: &PlannedFile,
    file: File,
    opened: Opened,
    options: PackOptions<'_>,
) -> Prepared {
    let mut prepared = read_whole_unhashed(planned, file, opened, options);
    hash_alone(&mut prepared);
    prepared
}

/// `read_whole` on two small files, their checksums taken in step (one
/// SHA-256 leaves the CPU's SHA instructions waiting much of the time; see
/// `sha256_in_step`).
fn read_two_whole(
    (first, first_file, first_opened): (&PlannedFile, File, Opened),
    (second, second_file, second_opened): (&PlannedFile, File, Opened),
    options: PackOptions<'_>,
) -> (Prepared, Prepared) {
    let mut a = read_whole_unhashed(first, first_file, first_opened, options);
    let mut b = read_whole_unhashed(second, second_file, second_opened, options);
    match (unhashed(&mut a), unhashed(&mut b)) {
        (Some((bytes_a, sha256_a)), Some((bytes_b, sha256_b))) => {
            #[cfg(test)]
            PAIRED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (mut hash_a, mut hash_b) = (Sha256Stream::new(), Sha256Stream::new());
            sha256_in_step::update_both(&mut hash_a, bytes_a, &mut hash_b, bytes_b);
            *sha256_a = hash_a.finalize_hex();
            *sha256_b = hash_b.finalize_hex();
        }
        _ => {
            hash_alone(&mut a);
            hash_alone(&mut b);
        }
    }
    (a, b)
}

/// Take the checksum of a file read into memory, on its own.
fn hash_alone(prepared: &mut Prepared) {
    if let Some((bytes, sha256)) = unhashed(prepared) {
        *sha256 = hex::encode(Sha256::digest(bytes));
    }
}

/// Small files hashed in step, for a test to see that they are.
#[cfg(test)]
static PAIRED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A file read into memory: its bytes, and its checksum to fill in.
fn unhashed(prepared: &mut Prepared) -> Option<(&[u8], &mut String)> {
    match prepared {
        Prepared::InMemory { bytes, read, .. } => Some((bytes, &mut read.sha256)),
        _ => None,
    }
}

/// `read_whole` up to the checksum, which the caller takes: the entry's
/// `sha256` is left empty.
fn read_whole_unhashed(
    planned: &PlannedFile,
    file: File,
    opened: Opened,
    options: PackOptions<'_>,
) -> Prepared {
    let mut reader = snapshot(&file, opened);
    // A small file is read whole at once, and its head checked for a key
    // there: one read per file, where most files are small.
    let whole = reader.cut.is_none();
    if options.exclude_private_keys && !whole && holds_private_key(&file) {
        return private_key_skipped(planned);
    }
    if whole {
        // Nothing has read the file yet: no need to seek to its start.
        reader.position = Some(0);
    }
    let original = read_in_memory(&mut reader);
    if options.exclude_private_keys && whole && starts_with_private_key(&original) {
        return private_key_skipped(planned);
    }
    let (bytes, redactions) = redact_in_memory(original, options.redactor);
    let read = Archived::read_by(&mut reader, bytes.len() as u64, String::new(), redactions);
    let changed = changed_since(&file, opened);
    Prepared::InMemory {
        bytes,
        read,
        opened,
        changed,
    }
}

/// Scan a file too large to hold, to be streamed: one found clean is
/// streamed as it is, checked against the checksums of what the scan saw;
/// one that may hold a secret has its redacted size counted.
fn prepare_streamed(
    planned: &PlannedFile,
    file: File,
    opened: Opened,
    options: PackOptions<'_>,
) -> Prepared {
    let mut streamed = start_streamed(planned, file, opened, options);
    while streamed.is_scanning() {
        streamed = streamed.step();
    }
    match streamed {
        Streamed::Ready(prepared) => prepared,
        _ => unreachable!("a scan ends with a prepared file"),
    }
}

/// A large file on its way to the writer: being scanned for secrets, a
/// block at a time, or prepared.
enum Streamed<'a> {
    Scanning(Box<SecretScan<'a>>),
    Ready(Prepared),
    /// Taken out for a step (see `ScanJob`).
    Moved,
}

/// What can be done of a large file before its scan.
fn start_streamed<'a>(
    planned: &PlannedFile,
    file: File,
    opened: Opened,
    options: PackOptions<'a>,
) -> Streamed<'a> {
    if options.exclude_private_keys && holds_private_key(&file) {
        return Streamed::Ready(private_key_skipped(planned));
    }
    match options.redactor {
        Some(redactor) => Streamed::Scanning(Box::new(SecretScan::new(redactor, file, opened))),
        None => Streamed::Ready(Prepared::Stream {
            file,
            opened,
            how: Streaming::Plain,
        }),
    }
}

impl Streamed<'_> {
    fn is_scanning(&self) -> bool {
        matches!(self, Streamed::Scanning(_))
    }

    /// Scan the next block.
    fn step(self) -> Self {
        match self {
            Streamed::Scanning(mut scan) => {
                let read = scan.read();
                scan.absorb(read)
            }
            other => other,
        }
    }

    /// Scan the next block of each, hashing the two in step.
    fn step_both(a: Self, b: Self) -> (Self, Self) {
        let (Streamed::Scanning(mut a), Streamed::Scanning(mut b)) = (a, b) else {
            unreachable!("only files being scanned are scanned in step");
        };
        match (a.read(), b.read()) {
            (ScanStep::Read(n_a), ScanStep::Read(n_b)) => {
                checksum_both(&mut a, n_a, &mut b, n_b);
                (Streamed::Scanning(a), Streamed::Scanning(b))
            }
            (read_a, read_b) => (a.absorb(read_a), b.absorb(read_b)),
        }
    }
}

fn snapshot<R: Read + Seek>(file: R, opened: Opened) -> SnapshotReader<R> {
    match opened.cut {
        Some(cut) => SnapshotReader::head_and_tail(file, opened.size, cut),
        None => SnapshotReader::whole(file, opened.size),
    }
}

/// How far the search for a line end goes back from where the head would
/// end, and forward from where the tail would start: a longer line is cut
/// where the cap falls.
const LINE_END_SEARCH: u64 = 16 * 1024;

/// The head and tail a file of `size` bytes keeps under `cap`: half each,
/// each shortened to whole lines, so that the tail's first line keeps its
/// own timestamp. Should reading fail, the halves are kept as they are.
fn cut_at_line_ends(file: &File, size: u64, cap: u64) -> CutPoints {
    let head = cap / 2;
    let tail = cap - head;
    // The head ends after the last line end in its last bytes.
    let back = LINE_END_SEARCH.min(head);
    let line_end =
        read_range(file, head - back, back).and_then(|bytes| memchr::memrchr(b'\n', &bytes));
    let head_ends_line = line_end.is_some();
    let head = line_end.map_or(head, |i| head - back + i as u64 + 1);
    // The tail starts after the first line end from the byte before it
    // (one there already starts it at a line).
    let start = size - tail;
    let forward = LINE_END_SEARCH.min(tail);
    let tail = read_range(file, start - 1, forward)
        .and_then(|bytes| memchr::memchr(b'\n', &bytes))
        .map_or(tail, |i| tail - i as u64);
    CutPoints {
        head,
        tail,
        head_ends_line,
    }
}

/// `len` bytes of `file` from `start`, if it still has them.
fn read_range(mut file: &File, start: u64, len: u64) -> Option<Vec<u8>> {
    let mut bytes = vec![0; usize::try_from(len).ok()?];
    file.seek(SeekFrom::Start(start)).ok()?;
    file.read_exact(&mut bytes).ok()?;
    Some(bytes)
}

/// How far around a cut point secrets are looked for.
const CUT_SECRET_SEARCH: u64 = 64 * 1024;

/// Move the cut points of `cut_at_line_ends` so that no secret the redactor
/// sees around them is split, as a piece of one is too short for any rule
/// to know it: a head that ends inside a line ends before a secret that
/// crosses its end (its key included), a tail that starts inside a line
/// starts after one that crosses its start, and a tail that starts inside a
/// private key block starts after the block's end.
fn keep_secrets_whole(file: &File, size: u64, cut: CutPoints, redactor: &Redactor) -> CutPoints {
    // A head that ends a line splits no secret on a line.
    let head = match cut.head_ends_line {
        true => cut.head,
        false => CutWindow::around(file, size, cut.head).map_or(cut.head, |window| {
            window.out_of_secrets(cut.head, redactor, |(key, _)| key)
        }),
    };
    let start = size - cut.tail;
    let start = match CutWindow::around(file, size, start) {
        Some(window) => {
            let start = window.out_of_secrets(start, redactor, |(_, end)| end);
            window.past_open_private_key(start)
        }
        None => start,
    };
    CutPoints {
        head,
        tail: size - start.max(head),
        head_ends_line: cut.head_ends_line,
    }
}

/// The bytes around a cut point, read once for all that is checked there.
struct CutWindow {
    /// Where `bytes` start in the file.
    from: u64,
    bytes: Vec<u8>,
}

impl CutWindow {
    fn around(file: &File, size: u64, at: u64) -> Option<CutWindow> {
        let from = at.saturating_sub(CUT_SECRET_SEARCH);
        let bytes = read_range(file, from, (at + CUT_SECRET_SEARCH).min(size) - from)?;
        Some(CutWindow { from, bytes })
    }

    /// The point nearest `at` (taken `to` the start or the end of a secret
    /// that crosses it) that lies between secrets on its line.
    fn out_of_secrets(
        &self,
        at: u64,
        redactor: &Redactor,
        to: impl Fn((usize, usize)) -> usize,
    ) -> u64 {
        let bytes = &self.bytes;
        let cut = (at - self.from) as usize;
        // The line the point is on (or as much of it as was read).
        let line_start = memchr::memrchr(b'\n', &bytes[..cut]).map_or(0, |i| i + 1);
        if line_start == cut {
            return at; // at a line's start: no secret on a line crosses it
        }
        let line_end = memchr::memchr(b'\n', &bytes[cut..]).map_or(bytes.len(), |i| cut + i);
        let spans = redactor.secret_spans(&bytes[line_start..line_end]);
        let mut point = cut - line_start;
        // Spans do not overlap: moving out of one cannot land in another,
        // but a secret that starts right where another ends is checked too.
        while let Some(&span) = spans.iter().find(|(s, e)| *s < point && point < *e) {
            point = to(span);
        }
        self.from + (line_start + point) as u64
    }

    /// Where a tail starting at `start` inside a private key block (its
    /// BEGIN line before `start`, its END line not) must start instead:
    /// after the END line, when it is near.
    fn past_open_private_key(&self, start: u64) -> u64 {
        let (before, after) = self.bytes.split_at((start - self.from) as usize);
        let Some(begin) = memchr::memmem::rfind(before, b"-----BEGIN ") else {
            return start;
        };
        let begin_line = &before[begin..];
        let begin_line =
            &begin_line[..memchr::memchr(b'\n', begin_line).unwrap_or(begin_line.len())];
        let is_key = memchr::memmem::find(begin_line, b"PRIVATE KEY").is_some();
        if !is_key || memchr::memmem::find(&before[begin..], b"-----END ").is_some() {
            return start;
        }
        match memchr::memmem::find(after, b"-----END ") {
            Some(end) => {
                let line_end =
                    memchr::memchr(b'\n', &after[end..]).map_or(after.len(), |i| end + i + 1);
                start + line_end as u64
            }
            None => start,
        }
    }
}

/// Did the file change (size or modification time) since it was opened?
fn changed_since(file: &File, opened: Opened) -> bool {
    file.metadata()
        .ok()
        .is_some_and(|m| m.len() != opened.size || m.modified().ok() != opened.mtime)
}

/// Write one prepared file into the archive and record it in the manifest;
/// returns the bytes it added.
fn write_prepared(
    planned: &PlannedFile,
    prepared: Prepared,
    options: PackOptions<'_>,
    manifest: &mut Manifest,
    writer: &mut dyn ArchiveWriter,
) -> Result<u64> {
    let (read, opened, changed) = match prepared {
        Prepared::Skipped { skipped, problem } => {
            manifest.problems.extend(problem);
            manifest.skipped.push(skipped);
            return Ok(0);
        }
        Prepared::InMemory {
            bytes,
            read,
            opened,
            changed,
        } => {
            let entry = EntryMeta {
                path: &planned.path,
                size: bytes.len() as u64,
                mtime: opened.mtime,
            };
            writer.add_bytes(&entry, &bytes)?;
            (read, opened, changed)
        }
        Prepared::Stream { file, opened, how } => {
            let reader = || snapshot(&file, opened);
            let read = match (how, options.redactor) {
                (Streaming::Redact { size }, Some(redactor)) => {
                    add_redacted(planned, redactor, &reader, size, opened.mtime, writer)?
                }
                (Streaming::Clean(scanned), _) => {
                    add_plain(planned, reader(), Some(scanned), opened.mtime, writer)?
                }
                _ => add_plain(planned, reader(), None, opened.mtime, writer)?,
            };
            (read, opened, changed_since(&file, opened))
        }
    };
    record(planned, read, opened, changed, manifest)
}

/// Put what reading a file came to in the manifest.
fn record(
    planned: &PlannedFile,
    read: Archived,
    opened: Opened,
    changed: bool,
    manifest: &mut Manifest,
) -> Result<u64> {
    if let Some(e) = &read.read_error {
        manifest.problems.push(Problem::new(
            &planned.source,
            format!(
                "read failed ({}); {} bytes are NUL-filled",
                io_reason(e),
                read.zero_filled
            ),
        ));
    } else if read.zero_filled > 0 {
        manifest.problems.push(Problem::new(
            &planned.source,
            format!(
                "shrank or changed while read: {} bytes are NUL-filled",
                read.zero_filled
            ),
        ));
    } else if read.overran {
        manifest.problems.push(Problem::new(
            &planned.source,
            format!(
                "changed while read: redacted, it came to more than the {} bytes \
                 counted before; the entry ends there",
                read.size
            ),
        ));
    }
    for (rule, count) in &read.redactions {
        *manifest
            .redaction
            .replacements
            .entry(rule.clone())
            .or_default() += count;
    }
    let record = FileRecord {
        path: planned.path.clone(),
        source: display_path(&planned.source),
        instance: planned.instance.clone(),
        vm: planned.vm.clone(),
        kind: planned.kind,
        log: planned.log.clone(),
        rotation: planned.rotation,
        size: read.size,
        sha256: read.sha256,
        mtime: opened.mtime.and_then(rfc3339),
        changed_while_read: changed || read.zero_filled > 0 || read.overran,
        zero_filled: read.zero_filled,
        original_size: read.cut.map(|_| opened.size),
        cut: read.cut,
        redactions: read.redactions,
    };
    manifest.files.push(&record).map_err(spool_error)?;
    Ok(read.size)
}

/// What reading one file into the archive came to.
struct Archived {
    size: u64,
    sha256: String,
    zero_filled: u64,
    read_error: Option<io::Error>,
    cut: Option<Cut>,
    redactions: Counts,
    /// Redacted again, the file came to more than its entry's size (counted
    /// by the first pass): it changed in between, and the entry ends early.
    overran: bool,
}

impl Archived {
    /// What reading an entry of `size` bytes through `reader` came to.
    fn read_by(
        reader: &mut SnapshotReader<&File>,
        size: u64,
        sha256: String,
        redactions: Counts,
    ) -> Archived {
        Archived {
            size,
            sha256,
            zero_filled: reader.zero_filled,
            read_error: reader.read_error.take(),
            cut: reader.cut,
            redactions,
            overran: false,
        }
    }
}

/// Files up to this size are read and redacted in memory, in one pass;
/// larger ones go to the scanner, and one that may hold a secret is then
/// redacted in two passes (a tar header needs the redacted size first). What
/// is held in memory grows with this size, and so with the sizes of the logs:
/// at 4 MiB, 1 GiB of the benchmark's logs peaked at 32 MiB and 4 GiB (the
/// same logs, each 4 times larger) at 35.5 MiB; at 1 MiB, with smaller
/// batches, 28 and 26 MiB, for 2-3% more wall time to tar.zst (7 alternating
/// rounds; about this machine's noise), as 17 more logs with tokens take
/// two passes.
const IN_MEMORY: u64 = 1 << 20;

/// Read a small file whole (not hashed: what is archived may be redacted).
fn read_in_memory(reader: &mut SnapshotReader<&File>) -> Vec<u8> {
    reader.hasher = None;
    let mut data = Vec::with_capacity(reader.len() as usize);
    // A SnapshotReader never fails: what it cannot read, it NUL-fills.
    let _ = reader.read_to_end(&mut data);
    data
}

/// Redact a file read into memory if it may hold a secret (unless
/// redaction is off): the entry's bytes and what was replaced.
fn redact_in_memory(data: Vec<u8>, redactor: Option<&Redactor>) -> (Vec<u8>, Counts) {
    match redactor.filter(|r| r.may_match(&data)) {
        Some(redactor) => redactor.redact_bytes(&data),
        None => (data, Counts::new()),
    }
}

/// How many leading bytes are checked for a private key header.
const KEY_SNIFF: usize = 4096;

/// A key file: its first line is a PEM or OpenSSH private key header. (A log
/// that prints a key further down is collected, and the key redacted.)
fn holds_private_key(file: &File) -> bool {
    let mut head = vec![0u8; KEY_SNIFF];
    let mut reader = file;
    // From the start, wherever finding the cut of a capped file left it.
    if reader.seek(SeekFrom::Start(0)).is_err() {
        return false;
    }
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    starts_with_private_key(&head[..n])
}

fn starts_with_private_key(head: &[u8]) -> bool {
    let text = &head[..head.len().min(KEY_SNIFF)];
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let first_line = text[start..]
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    first_line.starts_with(b"-----BEGIN ")
        && (memchr::memmem::find(first_line, b"PRIVATE KEY-----").is_some()
            || memchr::memmem::find(first_line, b"PRIVATE KEY BLOCK-----").is_some())
}

/// The cheap first pass over a large file: does anything in it look like
/// the start of a secret? It reads the file a block at a time, so that the
/// scanner can hash two files in step (see `scanner`). Of a file found
/// clean, it keeps what it saw (see `Scanned`), so that the second pass can
/// check it yields the same bytes and need not hash them.
struct SecretScan<'a> {
    redactor: &'a Redactor,
    opened: Opened,
    snapshot: SnapshotReader<File>,
    /// Reads go to `buf[start..]`, `SCAN_READ` at a time; the tail of what
    /// was read before is kept just ahead of `start` (there is room for it),
    /// so that a trigger split between reads is still seen.
    buf: Vec<u8>,
    start: usize,
    kept: usize,
    seen: BlockChecksums,
}

/// How much of a file the scan reads at a time: a checksum block of the
/// guard, which the scan computes as it goes.
const SCAN_READ: usize = GUARD_BLOCK;

/// What one read of a `SecretScan` found.
enum ScanStep {
    /// This many bytes, free of triggers, are at `buf[start..]`: to be
    /// checksummed (`SecretScan::absorb`, or `checksum_both`).
    Read(usize),
    /// The end: nothing looked like a secret.
    Clean,
    /// Something may be a secret: the file goes through redaction.
    MayHoldSecret,
}

thread_local! {
    /// The scan buffers of the thread's scans, kept for the next ones: a
    /// fresh 1 MiB per file was mapped and zero-filled page by page each
    /// time, 25,000 of the 53,000 page faults of a run over the benchmark's
    /// 1 GiB.
    static SCAN_BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl<'a> SecretScan<'a> {
    fn new(redactor: &'a Redactor, file: File, opened: Opened) -> Self {
        let mut snapshot = snapshot(file, opened);
        snapshot.hasher = None;
        let mut buf = SCAN_BUFFERS.with_borrow_mut(Vec::pop).unwrap_or_default();
        // Each read lands on a page (see `ReadBuffer`), after room for the
        // tail kept from the read before.
        let room = redactor.overlap().next_multiple_of(PAGE).max(PAGE);
        buf.resize(room + SCAN_READ + PAGE, 0);
        let start = room + to_page(&buf[room..]);
        SecretScan {
            redactor,
            opened,
            snapshot,
            buf,
            start,
            kept: 0,
            seen: BlockChecksums::default(),
        }
    }

    fn read(&mut self) -> ScanStep {
        let start = self.start;
        let n = match self.snapshot.read(&mut self.buf[start..start + SCAN_READ]) {
            Ok(0) | Err(_) => return ScanStep::Clean,
            Ok(n) => n,
        };
        match self
            .redactor
            .may_match(&self.buf[start - self.kept..start + n])
        {
            true => ScanStep::MayHoldSecret,
            false => ScanStep::Read(n),
        }
    }

    /// Take in what a read found: checksum the block, or end the scan (the
    /// buffer goes back to the thread's spares).
    fn absorb(mut self: Box<Self>, read: ScanStep) -> Streamed<'a> {
        let clean = match read {
            ScanStep::Read(n) => {
                self.seen.update(&self.buf[self.start..self.start + n]);
                self.keep_tail(n);
                return Streamed::Scanning(self);
            }
            ScanStep::Clean => true,
            ScanStep::MayHoldSecret => false,
        };
        let SecretScan {
            redactor,
            opened,
            snapshot: scanned,
            buf,
            seen,
            ..
        } = *self;
        SCAN_BUFFERS.with_borrow_mut(|spare| spare.push(buf));
        let file = scanned.inner;
        let how = match clean {
            true => Streaming::Clean(seen.finish()),
            false => Streaming::Redact {
                size: redacted_size(redactor, snapshot(&file, opened)),
            },
        };
        Streamed::Ready(Prepared::Stream { file, opened, how })
    }

    fn keep_tail(&mut self, n: usize) {
        let end = self.start + n;
        let keep = self.redactor.overlap().min(self.kept + n);
        self.buf.copy_within(end - keep..end, self.start - keep);
        self.kept = keep;
    }
}

/// Checksum the blocks two scans just read, hashing the two in step.
fn checksum_both(a: &mut SecretScan<'_>, n_a: usize, b: &mut SecretScan<'_>, n_b: usize) {
    BlockChecksums::update_both(
        &mut a.seen,
        &a.buf[a.start..a.start + n_a],
        &mut b.seen,
        &b.buf[b.start..b.start + n_b],
    );
    a.keep_tail(n_a);
    b.keep_tail(n_b);
}

/// Stream a file as it is. With `scanned`, the file was found free of
/// secrets by the first pass, which saw these blocks; should a block differ
/// now (the file was rewritten meanwhile), it and the rest of the entry are
/// NUL-filled rather than let through unscanned.
fn add_plain(
    planned: &PlannedFile,
    mut reader: SnapshotReader<&File>,
    scanned: Option<Scanned>,
    mtime: Option<SystemTime>,
    writer: &mut dyn ArchiveWriter,
) -> Result<Archived> {
    let entry = EntryMeta {
        path: &planned.path,
        size: reader.len(),
        mtime,
    };
    if let Some(scanned) = scanned {
        reader.guard_with(scanned);
    }
    writer.add_file(&entry, &mut reader)?;
    let sha256 = reader.sha256();
    Ok(Archived::read_by(
        &mut reader,
        entry.size,
        sha256,
        Counts::new(),
    ))
}

/// The first redaction pass of a file that may hold a secret: the size of
/// its entry once redacted. A read error here shows again in the second
/// pass, which reports it.
fn redacted_size(redactor: &Redactor, mut snapshot: SnapshotReader<&File>) -> u64 {
    snapshot.hasher = None;
    let mut counting = CountingSink(0);
    let _ = redactor.redact_stream(&mut snapshot, &mut counting);
    counting.0
}

/// The second redaction pass of a file that may hold a secret: the redacted
/// bytes stream into the archive from another thread, exactly `size` of
/// them (what the first pass counted; the file may have changed since).
fn add_redacted<'f>(
    planned: &PlannedFile,
    redactor: &Redactor,
    snapshot: &(dyn Fn() -> SnapshotReader<&'f File> + Sync),
    size: u64,
    mtime: Option<SystemTime>,
    writer: &mut dyn ArchiveWriter,
) -> Result<Archived> {
    let cut = snapshot().cut;
    std::thread::scope(|scope| {
        let (blocks, received) = sync_channel::<Vec<u8>>(4);
        let producer = scope.spawn(move || {
            let mut reader = snapshot();
            reader.hasher = None;
            let mut sink = ChannelSink { blocks, sent: 0 };
            let redactions = redactor
                .redact_stream(&mut reader, &mut sink)
                .unwrap_or_default();
            SecondPass {
                redactions,
                zero_filled: reader.zero_filled,
                read_error: reader.read_error.take(),
                produced: sink.sent,
            }
        });
        let mut exact = ExactReader::new(received, size);
        let entry = EntryMeta {
            path: &planned.path,
            size,
            mtime,
        };
        let written = writer.add_file(&entry, &mut exact);
        let sha256 = hex::encode(exact.hasher.finalize_reset());
        let padded = exact.padded;
        // Should the file now redact to more than the entry has room for,
        // the producer still goes to the end (the source is read no further
        // than its size when opened), so that its redactions all count.
        // After a failed write, dropping the channel stops it instead.
        if written.is_ok() {
            exact.blocks.iter().for_each(drop);
        }
        drop(exact);
        let pass = producer.join().unwrap_or_else(|_| SecondPass {
            // Never report a failed redaction as a file that shrank.
            redactions: Counts::new(),
            zero_filled: 0,
            read_error: Some(io::Error::other(
                "redaction failed; the entry is NUL-filled",
            )),
            produced: size,
        });
        written?;
        // The source's NUL-filling ends the redacted text: what of it fits
        // in the entry, and the padding after a text that came to less.
        let overrun = pass.produced.saturating_sub(size);
        Ok(Archived {
            size,
            sha256,
            zero_filled: pass.zero_filled.saturating_sub(overrun) + padded,
            read_error: pass.read_error,
            cut,
            redactions: pass.redactions,
            overran: overrun > 0,
        })
    })
}

/// What the second redaction pass of a file came to.
struct SecondPass {
    redactions: Counts,
    /// NUL bytes for what the source lacked, at the end of the redacted text.
    zero_filled: u64,
    read_error: Option<io::Error>,
    /// Bytes of redacted text, whether or not the entry had room for them.
    produced: u64,
}

struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hands written bytes to another thread in blocks.
struct ChannelSink {
    blocks: SyncSender<Vec<u8>>,
    /// Bytes sent so far.
    sent: u64,
}

impl Write for ChannelSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.blocks.send(buf.to_vec()).map_err(|_| {
            io::Error::new(io::ErrorKind::BrokenPipe, "the archive stopped reading")
        })?;
        self.sent += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Yields exactly `remaining` bytes from a channel of blocks: NUL-padded if
/// the blocks run out early, cut if there are more (the file changed between
/// the two passes). Hashes what it yields.
struct ExactReader {
    blocks: Receiver<Vec<u8>>,
    current: Vec<u8>,
    offset: usize,
    remaining: u64,
    padded: u64,
    hasher: Sha256,
}

impl ExactReader {
    fn new(blocks: Receiver<Vec<u8>>, size: u64) -> ExactReader {
        ExactReader {
            blocks,
            current: Vec::new(),
            offset: 0,
            remaining: size,
            padded: 0,
            hasher: Sha256::new(),
        }
    }
}

impl Read for ExactReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        while self.offset == self.current.len() {
            match self.blocks.recv() {
                Ok(block) => {
                    self.current = block;
                    self.offset = 0;
                }
                Err(_) => {
                    let n = buf
                        .len()
                        .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                    buf[..n].fill(0);
                    self.padded += n as u64;
                    self.remaining -= n as u64;
                    self.hasher.update(&buf[..n]);
                    return Ok(n);
                }
            }
        }
        let n = buf
            .len()
            .min(self.current.len() - self.offset)
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.current[self.offset..self.offset + n]);
        self.offset += n;
        self.remaining -= n as u64;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// One piece of an entry: a range of the file, or bytes of our own.
enum Segment {
    File { offset: u64, len: u64 },
    Marker(Vec<u8>),
}

/// Bytes per checksum block of the guard: the second pass of a file found
/// clean reads whole blocks and checks each before yielding any of it. The
/// writers' read size, so that a block is read straight into their buffer.
const GUARD_BLOCK: usize = crate::archive::READ_SIZE;

/// What the secret scan saw of a file it found clean.
struct Scanned {
    /// CRC-32 of each `GUARD_BLOCK` bytes.
    checksums: Vec<u32>,
    /// The SHA-256 state before each block the scan hashed, and after the
    /// last: should a block differ in the second pass, hashing resumes from
    /// there over what is archived instead. A scan that stopped hashing (see
    /// `BlockChecksums::stop_hashing`) leaves the rest to the second pass,
    /// which resumes from the last.
    checkpoints: Vec<Sha256Stream>,
    /// SHA-256 of all of it, in hex, if the scan hashed all of it.
    sha256: Option<String>,
}

/// CRC-32 of each `GUARD_BLOCK` bytes of a stream, and its SHA-256 (or of
/// its first blocks only).
struct BlockChecksums {
    done: Vec<u32>,
    current: crc32fast::Hasher,
    filled: usize,
    hasher: Sha256Stream,
    checkpoints: Vec<Sha256Stream>,
    hashing: bool,
    /// Stop hashing at the next block that has data.
    stop: bool,
}

impl Default for BlockChecksums {
    fn default() -> Self {
        BlockChecksums {
            done: Vec::new(),
            current: crc32fast::Hasher::new(),
            filled: 0,
            hasher: Sha256Stream::new(),
            checkpoints: vec![Sha256Stream::new()],
            hashing: true,
            stop: false,
        }
    }
}

impl BlockChecksums {
    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            self.settle();
            let n = self.room(data);
            self.current.update(&data[..n]);
            if self.hashing {
                self.hasher.update(&data[..n]);
            }
            self.advance(n);
            data = &data[n..];
        }
    }

    /// Hash no more, from the start of the next block that has data: the
    /// second pass hashes the rest. The scanner does this to have the file
    /// the writer waits for ready sooner (see `scanner`).
    fn stop_hashing(&mut self) {
        self.stop = true;
    }

    fn settle(&mut self) {
        if self.stop && self.filled == 0 {
            self.hashing = false;
        }
    }

    /// `a.update(data_a); b.update(data_b)`, hashing the two in step (see
    /// `sha256_in_step`).
    fn update_both(
        a: &mut BlockChecksums,
        mut data_a: &[u8],
        b: &mut BlockChecksums,
        mut data_b: &[u8],
    ) {
        loop {
            a.settle();
            b.settle();
            if !a.hashing || !b.hashing || data_a.is_empty() || data_b.is_empty() {
                break;
            }
            let (n_a, n_b) = (a.room(data_a), b.room(data_b));
            a.current.update(&data_a[..n_a]);
            b.current.update(&data_b[..n_b]);
            sha256_in_step::update_both(
                &mut a.hasher,
                &data_a[..n_a],
                &mut b.hasher,
                &data_b[..n_b],
            );
            a.advance(n_a);
            b.advance(n_b);
            (data_a, data_b) = (&data_a[n_a..], &data_b[n_b..]);
        }
        a.update(data_a);
        b.update(data_b);
    }

    /// How much of `data` goes into the current block.
    fn room(&self, data: &[u8]) -> usize {
        data.len().min(GUARD_BLOCK - self.filled)
    }

    /// `n` more bytes were checksummed: end the block if it is whole.
    fn advance(&mut self, n: usize) {
        self.filled += n;
        if self.filled == GUARD_BLOCK {
            let block = std::mem::take(&mut self.current);
            self.done.push(block.finalize());
            if self.hashing {
                self.checkpoints.push(self.hasher.clone());
            }
            self.filled = 0;
        }
    }

    fn finish(mut self) -> Scanned {
        if self.filled > 0 {
            self.done.push(self.current.finalize());
        }
        Scanned {
            checksums: self.done,
            checkpoints: self.checkpoints,
            sha256: self.hashing.then(|| self.hasher.finalize_hex()),
        }
    }
}

/// Checks that a second pass yields what the secret scan saw, block by block.
struct Guard {
    scanned: Scanned,
    /// The next block's index.
    next: usize,
    /// A checked block, when the caller reads less than a block at a time…
    block: Vec<u8>,
    /// …and how much of it was yielded.
    offset: usize,
    /// A block differed: the rest is NUL already, nothing more to check.
    tripped: bool,
}

impl Guard {
    fn new(scanned: Scanned) -> Guard {
        Guard {
            scanned,
            next: 0,
            block: Vec::new(),
            offset: 0,
            tripped: false,
        }
    }
}

/// Yields exactly the entry's size from a file that may change meanwhile:
/// what is appended after opening is left out, and what vanished (the file
/// shrank, or a read failed) is replaced by NUL bytes. Hashes what it yields.
struct SnapshotReader<R> {
    inner: R,
    segments: std::collections::VecDeque<Segment>,
    /// Where the next read of `inner` starts; unknown at first, so the
    /// first read seeks (the file may have been read before).
    position: Option<u64>,
    /// The source ran out early or failed: the rest of the file is NUL.
    exhausted: bool,
    zero_filled: u64,
    read_error: Option<io::Error>,
    cut: Option<Cut>,
    hasher: Option<Sha256Stream>,
    guard: Option<Guard>,
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

    /// The first and last bytes of a file around a line saying what was cut.
    fn head_and_tail(inner: R, size: u64, cut: CutPoints) -> Self {
        let CutPoints { head, tail, .. } = cut;
        let removed = size - head - tail;
        // On a line of its own.
        let line_end = if cut.head_ends_line { "" } else { "\n" };
        let marker = format!(
            "{line_end}[logkeep: {removed} bytes cut here; the file had {size} bytes, \
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
            position: None,
            exhausted: false,
            zero_filled: 0,
            read_error: None,
            cut,
            hasher: Some(Sha256Stream::new()),
            guard: None,
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

    /// Check what is read against what the secret scan saw, whose SHA-256
    /// then stands for what is yielded (unless a block differs: see
    /// `read_guarded`).
    fn guard_with(&mut self, scanned: Scanned) {
        self.hasher = None;
        self.guard = Some(Guard::new(scanned));
    }

    /// SHA-256 of all that was yielded, in hex.
    fn sha256(&mut self) -> String {
        match (self.hasher.take(), &self.guard) {
            (Some(hasher), _) => hasher.finalize_hex(),
            // Guarded and never tripped: the bytes the scan hashed.
            (None, Some(guard)) => guard.scanned.sha256.clone().unwrap_or_default(),
            (None, None) => String::new(),
        }
    }

    fn read_file(&mut self, offset: u64, buf: &mut [u8]) -> usize {
        if self.exhausted {
            return 0;
        }
        if self.position != Some(offset) {
            if let Err(e) = self.inner.seek(SeekFrom::Start(offset)) {
                self.read_error = Some(e);
                self.exhausted = true;
                return 0;
            }
            self.position = Some(offset);
        }
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.position = Some(offset + n as u64);
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

    /// Fill `buf` whole (it is never longer than what is left to yield).
    fn fill(&mut self, buf: &mut [u8]) {
        let mut filled = 0;
        while filled < buf.len() {
            match self.read_unguarded(&mut buf[filled..]) {
                0 => break,
                n => filled += n,
            }
        }
    }

    /// Read through the guard: the next block is read whole and compared
    /// with what the scan saw. A block that differs (the file was rewritten
    /// since, and may now hold a secret) is blanked, and so is the rest.
    fn read_guarded(&mut self, mut guard: Guard, buf: &mut [u8]) -> usize {
        if guard.offset == guard.block.len() && !guard.tripped {
            let len = usize::try_from(self.len())
                .unwrap_or(usize::MAX)
                .min(GUARD_BLOCK);
            if len == 0 {
                self.guard = Some(guard);
                return 0;
            }
            let direct = buf.len() >= len;
            let mut block = std::mem::take(&mut guard.block);
            let target = if direct {
                &mut buf[..len]
            } else {
                block.resize(len, 0);
                &mut block[..]
            };
            let zero_filled = self.zero_filled;
            let index = guard.next;
            if self.hasher.is_none()
                && guard.scanned.sha256.is_none()
                && index + 1 == guard.scanned.checkpoints.len()
            {
                // The scan hashed the blocks before this one only.
                self.hasher = guard.scanned.checkpoints.get(index).cloned();
            }
            self.fill(target);
            guard.next += 1;
            if guard.scanned.checksums.get(index).copied() != Some(crc32fast::hash(target)) {
                // What is archived is no longer what the scan hashed: hash it
                // from here on, from the state the scan had at this block
                // (unless hashing resumed here or before: see above).
                if self.hasher.is_none() {
                    self.hasher = guard.scanned.checkpoints.get(index).cloned();
                }
                // Bytes NUL-filled already (the file shrank or failed) are
                // reported as such; the others of this block were not scanned.
                let already = self.zero_filled - zero_filled;
                target.fill(0);
                self.zero_filled += target.len() as u64 - already;
                self.exhausted = true;
                guard.tripped = true;
                if already == 0 {
                    self.read_error.get_or_insert_with(|| {
                        io::Error::other(
                            "it changed after the secret scan and may now hold a secret",
                        )
                    });
                }
            }
            if direct {
                // Nothing of this block waits in the buffer.
                block.clear();
                guard.block = block;
                guard.offset = 0;
                self.guard = Some(guard);
                return len;
            }
            guard.block = block;
            guard.offset = 0;
        }
        let n = if guard.offset < guard.block.len() {
            let n = buf.len().min(guard.block.len() - guard.offset);
            buf[..n].copy_from_slice(&guard.block[guard.offset..guard.offset + n]);
            guard.offset += n;
            n
        } else {
            // Tripped: what is left is NUL, or the cut marker.
            self.read_unguarded(buf)
        };
        self.guard = Some(guard);
        n
    }

    /// The snapshot's bytes, NUL-filled where the file no longer has them.
    fn read_unguarded(&mut self, buf: &mut [u8]) -> usize {
        loop {
            let Some(segment) = self.segments.front_mut() else {
                return 0;
            };
            match segment {
                Segment::Marker(bytes) if bytes.is_empty() => {}
                Segment::File { len: 0, .. } => {}
                Segment::Marker(bytes) => {
                    let n = buf.len().min(bytes.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    bytes.drain(..n);
                    return n;
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
                    return n;
                }
            }
            self.segments.pop_front();
        }
    }
}

impl<R: Read + Seek> Read for SnapshotReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.guard.take() {
            Some(guard) => self.read_guarded(guard, buf),
            None => self.read_unguarded(buf),
        };
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Plan;
    use crate::sources::{Instance, Sources};
    use std::io::Cursor;
    use std::path::Path;

    /// The plan of one instance, "ci", whose logs are in `logs`, spooled as
    /// `collect` spools it.
    fn plan_of(logs: &Path) -> (Sources, Plan) {
        plan_with_sizes(logs, crate::layout::Sizes::Measured)
    }

    /// `plan_of`, measuring the files or not.
    fn plan_with_sizes(logs: &Path, sizes: crate::layout::Sizes) -> (Sources, Plan) {
        let sources = Sources {
            instances: vec![Instance {
                name: "ci".into(),
                log_dir: Some(logs.to_path_buf()),
                lima_home: None,
            }],
            ..Sources::default()
        };
        let mut plan = crate::layout::plan_with(&sources, false, sizes);
        plan.files.spool().unwrap();
        (sources, plan)
    }

    /// Yields that many bytes, then fails as a broken disk would.
    struct FailsAfter(usize);

    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.min(buf.len()) {
                0 => Err(io::Error::other("disk gone")),
                n => {
                    buf[..n].fill(b' ');
                    self.0 -= n;
                    Ok(n)
                }
            }
        }
    }

    #[test]
    fn a_manifest_that_cannot_be_read_back_is_not_told_as_an_output_error() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.tar.zst");
        let file = File::create(&out).unwrap();
        let mut writer = crate::archive::TarWriter::zstd(file, 3, &out).unwrap();
        let e = add_manifest(&mut writer, &mut FailsAfter(100), 1000).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "cannot read the manifest back: a temporary file in {}: disk gone",
                std::env::temp_dir().display()
            )
        );
        assert!(e.hint.unwrap().contains("TMPDIR"));
        // Read whole, it goes in.
        add_manifest(&mut writer, &mut FailsAfter(1000), 1000).unwrap();
    }

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
        let cut = CutPoints {
            head: 4,
            tail: 4,
            head_ends_line: false,
        };
        let reader = SnapshotReader::head_and_tail(Cursor::new(&data[..]), 20, cut);
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
    fn a_cut_keeps_whole_lines_unless_a_line_is_too_long() {
        let cut = |content: &[u8], cap: u64| {
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(content).unwrap();
            let c = cut_at_line_ends(&file, content.len() as u64, cap);
            (c.head, c.tail, c.head_ends_line)
        };
        // Lines of 4 bytes; a cap of 10 would keep 5 and 5.
        let lines = b"aaa\nbbb\nccc\nddd\neee\nfff\n";
        assert_eq!(cut(lines, 10), (4, 4, true));
        // Halves that fall on line ends already are kept as they are.
        assert_eq!(cut(lines, 8), (4, 4, true));
        // One line longer than the search: cut where the cap falls.
        let long = vec![b'x'; 3 * LINE_END_SEARCH as usize];
        assert_eq!(
            cut(&long, 2 * LINE_END_SEARCH),
            (LINE_END_SEARCH, LINE_END_SEARCH, false)
        );
    }

    /// Read `data` through a guard of what the scan saw (`scanned`); also
    /// checks that the SHA-256 the second pass ends with is that of its output.
    fn guarded(data: &[u8], seen: &[u8], read_size: usize) -> (Vec<u8>, u64, bool) {
        guarded_reads(data, seen, &[read_size])
    }

    /// `guarded`, reading in turn with each of `read_sizes`. The scan
    /// hashes all it sees, or stops hashing (as the scanner does for a file
    /// the writer waits for) from its start or from its second block: the
    /// second pass yields the same, and ends with the SHA-256 of it, alike.
    fn guarded_reads(data: &[u8], seen: &[u8], read_sizes: &[usize]) -> (Vec<u8>, u64, bool) {
        let runs: Vec<_> = [None, Some(0), Some(GUARD_BLOCK / 2)]
            .into_iter()
            .map(|stop_at| guarded_run(data, seen, read_sizes, stop_at))
            .collect();
        assert!(
            runs.iter().all(|run| *run == runs[0]),
            "{stop:?}",
            stop = runs.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>()
        );
        runs[0].clone()
    }

    /// One run of `guarded_reads`, the scan stopping to hash after
    /// `stop_at` bytes, if given.
    fn guarded_run(
        data: &[u8],
        seen: &[u8],
        read_sizes: &[usize],
        stop_at: Option<usize>,
    ) -> (Vec<u8>, u64, bool) {
        let mut checksums = BlockChecksums::default();
        // The scan reads in pieces that do not line up with the blocks.
        let mut at = 0;
        for piece in seen.chunks(GUARD_BLOCK / 3 + 7) {
            if stop_at.is_some_and(|stop_at| at >= stop_at) {
                checksums.stop_hashing();
            }
            checksums.update(piece);
            at += piece.len();
        }
        let scanned = checksums.finish();
        if stop_at == Some(0) && !seen.is_empty() {
            assert!(scanned.sha256.is_none(), "the scan hashed nothing");
        }
        let mut reader = SnapshotReader::whole(Cursor::new(data), seen.len() as u64);
        reader.guard_with(scanned);
        let mut out = Vec::new();
        for read_size in read_sizes.iter().cycle() {
            let mut buf = vec![0u8; *read_size];
            match reader.read(&mut buf).unwrap() {
                0 => break,
                n => out.extend_from_slice(&buf[..n]),
            }
        }
        // The checksum the manifest gets is that of what was yielded.
        assert_eq!(reader.sha256(), hex::encode(Sha256::digest(&out)));
        (out, reader.zero_filled, reader.read_error.is_some())
    }

    #[test]
    fn the_guard_yields_what_the_scan_saw() {
        let data: Vec<u8> = (0..GUARD_BLOCK * 2 + 1000)
            .map(|i| (i % 251) as u8)
            .collect();
        for read_size in [100, 8192, GUARD_BLOCK, 1 << 20] {
            assert_eq!(guarded(&data, &data, read_size), (data.clone(), 0, false));
        }
    }

    #[test]
    fn the_guard_blanks_from_the_block_that_changed() {
        let scanned: Vec<u8> = (0..GUARD_BLOCK * 3).map(|i| (i % 251) as u8).collect();
        let mut data = scanned.clone();
        data[GUARD_BLOCK + 10] ^= 1;
        for read_size in [100, 8192, GUARD_BLOCK, 1 << 20] {
            let (out, zeros, failed) = guarded(&data, &scanned, read_size);
            assert_eq!(out.len(), scanned.len());
            assert_eq!(out[..GUARD_BLOCK], scanned[..GUARD_BLOCK]);
            assert!(out[GUARD_BLOCK..].iter().all(|&b| b == 0));
            assert_eq!(zeros, 2 * GUARD_BLOCK as u64);
            assert!(failed);
        }
    }

    #[test]
    fn the_guard_checks_every_block_whatever_the_read_sizes() {
        // Half blocks through the guard's own buffer, then a whole block
        // straight into the caller's: each kind of read after the other.
        let scanned: Vec<u8> = (0..GUARD_BLOCK * 6).map(|i| (i % 251) as u8).collect();
        let sizes = [GUARD_BLOCK / 2, GUARD_BLOCK / 2, GUARD_BLOCK * 3 / 2];
        assert_eq!(
            guarded_reads(&scanned, &scanned, &sizes),
            (scanned.clone(), 0, false)
        );
        for changed in 1..6 {
            let mut data = scanned.clone();
            data[changed * GUARD_BLOCK + 10] ^= 1;
            let (out, zeros, failed) = guarded_reads(&data, &scanned, &sizes);
            assert_eq!(
                out[..changed * GUARD_BLOCK],
                scanned[..changed * GUARD_BLOCK]
            );
            assert!(out[changed * GUARD_BLOCK..].iter().all(|&b| b == 0));
            assert_eq!(zeros, ((6 - changed) * GUARD_BLOCK) as u64);
            assert!(failed, "block {changed}");
        }
    }

    #[test]
    fn the_guard_blanks_the_unscanned_rest_of_a_block_that_shrank() {
        let scanned: Vec<u8> = (0..GUARD_BLOCK + 500).map(|i| (i % 251) as u8).collect();
        let data = &scanned[..GUARD_BLOCK + 100];
        let (out, zeros, failed) = guarded(data, &scanned, 8192);
        assert_eq!(out[..GUARD_BLOCK], scanned[..GUARD_BLOCK]);
        assert!(out[GUARD_BLOCK..].iter().all(|&b| b == 0));
        assert_eq!(zeros, 500);
        assert!(!failed, "a shrunken file is reported as such");
    }

    #[test]
    fn hashes_what_it_yields() {
        let mut reader = SnapshotReader::whole(Cursor::new(&b"abcdef"[..]), 3);
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(
            reader.hasher.unwrap().finalize_hex(),
            hex::encode(Sha256::digest(b"abc"))
        );
    }

    /// The scanner hands large files over in the order it got them, each
    /// with the SHA-256 of its bytes: those it scanned in step with another,
    /// and the first, which the writer waited for, not hashed by the scan
    /// (the second pass hashes it).
    #[test]
    fn the_scanner_hashes_files_in_step_and_hands_them_over_in_order() {
        use crate::redact::builtin_rules;

        let dir = tempfile::tempdir().unwrap();
        // Of unlike lengths, so that a partner ends before the lead.
        let sizes = [
            GUARD_BLOCK * 2 + 5,
            GUARD_BLOCK * 3 + 77,
            GUARD_BLOCK + GUARD_BLOCK / 2,
            GUARD_BLOCK * 2 + GUARD_BLOCK / 5,
            GUARD_BLOCK * 2,
        ];
        let contents: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                format!("line {i} of a quiet log\n")
                    .bytes()
                    .cycle()
                    .take(size)
                    .collect()
            })
            .collect();
        for (i, content) in contents.iter().enumerate() {
            std::fs::write(dir.path().join(format!("{i}.log")), content).unwrap();
        }
        let plan = plan_with_sizes(dir.path(), crate::layout::Sizes::Deferred).1;
        let redactor = Redactor::new(builtin_rules(), Vec::new());
        let options = PackOptions {
            redactor: Some(&redactor),
            ..PackOptions::default()
        };
        let (to_scan, scan_queue) = budget_queue::queue(TO_SCAN);
        for planned in plan.files.iter() {
            let file = File::open(&planned.source).unwrap();
            let size = file.metadata().unwrap().len();
            let opened = Opened {
                size,
                mtime: None,
                cut: None,
            };
            to_scan
                .send(
                    ToScan {
                        planned,
                        file,
                        opened,
                    },
                    TO_SCAN_EACH,
                )
                .map_err(drop)
                .unwrap();
        }
        drop(to_scan);
        let in_step_before = IN_STEP.load(std::sync::atomic::Ordering::Relaxed);
        let (scans, scanned) = budget_queue::queue(SCANNED);
        std::thread::scope(|scope| {
            scope.spawn(move || scanner(options, scan_queue, scans, SCANNED));
            // Every file is held until the end, as a writer still writing
            // the first would: the scanner scans the others in step.
            let mut held = Vec::new();
            while let Some(mut delivered) = scanned.recv() {
                let ScannedFile { source, prepared } = delivered.take();
                let i = held.len();
                assert_eq!(source, dir.path().join(format!("{i}.log")), "in order");
                let Prepared::Stream {
                    file,
                    opened,
                    how: Streaming::Clean(scan),
                } = prepared
                else {
                    panic!("{i}.log was not found clean");
                };
                let want = hex::encode(Sha256::digest(&contents[i]));
                // The writer waited for the first: the scan left its hash
                // to the second pass.
                assert_eq!(scan.sha256.is_none(), i == 0, "{i}.log");
                if let Some(sha256) = &scan.sha256 {
                    assert_eq!(*sha256, want, "{i}.log");
                }
                let mut second = snapshot(&file, opened);
                second.guard_with(scan);
                let mut out = Vec::new();
                second.read_to_end(&mut out).unwrap();
                assert!(out == contents[i], "{i}.log");
                assert_eq!(second.sha256(), want, "{i}.log");
                held.push(delivered);
            }
            assert_eq!(held.len(), sizes.len());
        });
        assert!(
            IN_STEP.load(std::sync::atomic::Ordering::Relaxed) > in_step_before,
            "no two files were scanned in step"
        );
    }

    /// The scanner prepares the files large when opened, the reader the
    /// others: a file whose size crossed the line since planning is
    /// archived as it is when opened, in plan order, whichever thread
    /// prepared it.
    #[test]
    fn files_whose_size_changed_since_planning_are_archived_as_opened_in_order() {
        use crate::archive::DirWriter;
        use crate::manifest::ArchiveInfo;
        use crate::redact::builtin_rules;

        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let big = IN_MEMORY as usize + 4321;
        let content = |name: &str, len: usize| -> Vec<u8> {
            format!("{name}: a line of the log\n")
                .bytes()
                .cycle()
                .take(len)
                .collect()
        };
        // (name, size when planned, size when packed)
        let files = [
            ("a.log", big, 10),
            ("b.log", 10, big),
            ("c.log", big, big + 1),
            ("d.log", 10, 11),
            ("e.log", big, 0),
            ("f.log", 0, big),
        ];
        for (name, planned, _) in files {
            std::fs::write(logs.join(name), content(name, planned)).unwrap();
        }
        let (sources, plan) = plan_of(&logs);
        for (name, _, packed) in files {
            std::fs::write(logs.join(name), content(name, packed)).unwrap();
        }
        let out = dir.path().join("out");
        let info = ArchiveInfo {
            format: "dir".into(),
            level: None,
        };
        let mut manifest = Manifest::new(&sources.instances, info);
        let redactor = Redactor::new(builtin_rules(), Vec::new());
        let options = PackOptions {
            redactor: Some(&redactor),
            ..PackOptions::default()
        };
        let writer = Box::new(DirWriter::new(out.clone(), &out));
        pack(&plan.files, options, &mut manifest, writer, &mut |_, _| {}).unwrap();

        let records: Vec<FileRecord> = manifest.files.iter().unwrap().map(|r| r.unwrap()).collect();
        let paths: Vec<&str> = records.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "ci/a.log", "ci/b.log", "ci/c.log", "ci/d.log", "ci/e.log", "ci/f.log"
            ]
        );
        for ((name, _, packed), record) in files.iter().zip(&records) {
            let archived = std::fs::read(out.join(&record.path)).unwrap();
            assert!(
                archived == content(name, *packed),
                "{name}: not the file as opened"
            );
            assert_eq!(record.size, *packed as u64, "{name}");
            assert_eq!(
                record.sha256,
                hex::encode(Sha256::digest(&archived)),
                "{name}"
            );
        }
    }

    /// A file that may hold a secret is redacted in two passes, the first
    /// ahead of the writer (it counts the entry's size). Should the file be
    /// rewritten in between, the entry keeps the counted size (NUL-padded,
    /// or ending early), the change and the redactions are recorded, and no
    /// secret gets through.
    #[test]
    fn a_file_rewritten_between_the_redaction_passes_keeps_the_counted_size() {
        use crate::archive::DirWriter;
        use crate::manifest::ArchiveInfo;
        use crate::redact::builtin_rules;

        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        // Long tokens: redacted, a line comes to a fraction of its size.
        let token = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0".repeat(10));
        let secret = format!("level=info msg=\"call\" Authorization: Bearer {token}\n");
        let plain = format!("level=info msg=\"{}\"\n", ".".repeat(secret.len() - 18));
        assert_eq!(plain.len(), secret.len());
        let lines = 4 * IN_MEMORY as usize / secret.len();
        let secrets = |n: usize| secret.repeat(n);
        let plains = |n: usize| plain.repeat(n);
        // (name, when the first pass counts, when the writer reads)
        let files = [
            // Same size, more secrets: redacted, less than counted.
            (
                "gained.log",
                plains(lines - 1) + &secrets(1),
                secrets(lines),
            ),
            // Same size and time, fewer secrets: redacted, several times
            // what was counted; only the redaction shows the change.
            (
                "lost.log",
                secrets(lines),
                secrets(lines / 10) + &plains(lines - lines / 10),
            ),
            // Fewer lines: NUL beyond its end, as far as its size when opened.
            ("shrank.log", secrets(lines), secrets(10)),
        ];
        for (name, before, _) in &files {
            std::fs::write(logs.join(name), before).unwrap();
        }
        let (sources, plan) = plan_of(&logs);
        let redactor = Redactor::new(builtin_rules(), Vec::new());
        let options = PackOptions {
            redactor: Some(&redactor),
            ..PackOptions::default()
        };
        let info = ArchiveInfo {
            format: "dir".into(),
            level: None,
        };
        let mut manifest = Manifest::new(&sources.instances, info);
        let out = dir.path().join("out");
        let mut writer = DirWriter::new(out.clone(), &out);
        let redact = |text: &[u8]| redactor.redact_bytes(text).0;
        for ((name, before, then), planned) in files.iter().zip(plan.files.iter()) {
            let prepared = prepare(&planned, options, &mut Opener::default());
            assert!(
                matches!(
                    prepared,
                    Prepared::Stream {
                        how: Streaming::Redact { .. },
                        ..
                    }
                ),
                "{name}: not redacted in two passes"
            );
            // Rewritten in place (the open file sees it), its time kept.
            let path = logs.join(name);
            let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
            std::fs::write(&path, then).unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(mtime).unwrap();
            write_prepared(&planned, prepared, options, &mut manifest, &mut writer).unwrap();

            let mut seen = then.clone().into_bytes();
            seen.resize(before.len(), 0);
            let mut expected = redact(&seen);
            let counted = redact(before.as_bytes()).len();
            expected.resize(counted, 0);
            let archived = std::fs::read(out.join(&planned.path)).unwrap();
            assert_eq!(archived.len(), counted, "{name}: not the counted size");
            assert!(
                archived == expected,
                "{name}: not the file as read, redacted"
            );
            assert!(
                memchr::memmem::find(&archived, token.as_bytes()).is_none(),
                "{name}: the token got through"
            );
        }
        let records: Vec<FileRecord> = manifest.files.iter().unwrap().map(|r| r.unwrap()).collect();
        for record in &records {
            let archived = std::fs::read(out.join(&record.path)).unwrap();
            let nul = archived.iter().rev().take_while(|&&b| b == 0).count() as u64;
            assert_eq!(record.zero_filled, nul, "{}: NUL-filling", record.path);
            assert!(
                record.changed_while_read,
                "{}: change not recorded",
                record.path
            );
            let problem = manifest
                .problems
                .iter()
                .find(|p| p.path.ends_with(&record.path[3..]));
            assert!(problem.is_some(), "{}: no problem reported", record.path);
            let markers = memchr::memmem::find_iter(&archived, b"[REDACTED:").count() as u64;
            let recorded = record.redactions.values().sum::<u64>();
            assert!(
                markers > 0 && recorded >= markers,
                "{}: {recorded} redactions recorded, {markers} archived",
                record.path
            );
        }
    }

    /// A file that starts with a private key is left out when it is cut to
    /// a cap too, whether it is then read whole or streamed: the key is
    /// looked for at its start, not where the search for the cut stopped.
    #[test]
    fn a_capped_file_that_starts_with_a_private_key_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}",
            "b3BlbnNzaC1rZXktdjEAAAAA\n".repeat(200_000)
        );
        std::fs::write(dir.path().join("id.log"), text).unwrap();
        let (_, plan) = plan_of(dir.path());
        let planned = plan.files.iter().next().unwrap();
        for cap in [IN_MEMORY / 2, 3 * IN_MEMORY] {
            let options = PackOptions {
                max_file_size: Some(cap),
                exclude_private_keys: true,
                ..PackOptions::default()
            };
            match prepare(&planned, options, &mut Opener::default()) {
                Prepared::Skipped { skipped, .. } => {
                    assert_eq!(skipped.reason, SkipReason::Secret, "{cap}")
                }
                _ => panic!("cut to {cap} bytes, the key was archived"),
            }
        }
    }

    /// Under a cap of at most `IN_MEMORY` there is no scanner: a file cut to
    /// the cap (and a line saying so, which takes it over) is read whole.
    #[test]
    fn files_cut_to_a_cap_of_at_most_in_memory_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.log"), "a line\n".repeat(500_000)).unwrap();
        let (_, plan) = plan_of(dir.path());
        let planned = plan.files.iter().next().unwrap();
        for cap in [IN_MEMORY, IN_MEMORY / 2] {
            let options = PackOptions {
                max_file_size: Some(cap),
                ..PackOptions::default()
            };
            assert_eq!(scanner_floor(options), None);
            match prepare(&planned, options, &mut Opener::default()) {
                Prepared::InMemory { bytes, read, .. } => {
                    assert!(bytes.len() as u64 > cap && read.cut.is_some(), "{cap}");
                }
                _ => panic!("cut to {cap} bytes, not read whole"),
            }
        }
    }

    /// `total` logs named 00000.log…, of one line, or of just over
    /// `IN_MEMORY` bytes for those in `large`; planned without measuring.
    fn numbered_logs(dir: &Path, total: usize, large: &[usize]) -> Plan {
        for i in 0..total {
            let text = match large.contains(&i) {
                true => "a line\n".repeat(IN_MEMORY as usize / 7 + 1),
                false => "a line\n".to_string(),
            };
            std::fs::write(dir.join(format!("{i:05}.log")), text).unwrap();
        }
        plan_with_sizes(dir, crate::layout::Sizes::Deferred).1
    }

    /// Wait until `ready` (at most 30 s), then a little more for the reader
    /// to go as far as it can.
    fn wait_for(what: &str, ready: impl Fn() -> bool) {
        let start = std::time::Instant::now();
        while !ready() {
            assert!(start.elapsed().as_secs() < 30, "never {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Take every batch as the writer does, each large file from the
    /// scanner's queue: the files' names in order, each with whether it came
    /// from the scanner; `look` is shown what the reader prepared.
    fn take_all(
        prepared: &budget_queue::Receiver<Vec<(PlannedFile, Handed)>>,
        scan_queue: &budget_queue::Receiver<ToScan>,
        mut look: impl FnMut(&str, &Prepared),
    ) -> Vec<(String, bool)> {
        let mut handed = Vec::new();
        while let Some(mut batch) = prepared.recv() {
            for (planned, handed_file) in batch.take() {
                let name = planned.path.rsplit('/').next().unwrap().to_string();
                match &handed_file {
                    Handed::ToScanner => {
                        let scanned = scan_queue.recv().unwrap().take();
                        assert_eq!(scanned.planned.source, planned.source);
                    }
                    Handed::Ready(prepared) => look(&name, prepared),
                }
                handed.push((name, matches!(handed_file, Handed::ToScanner)));
            }
        }
        handed
    }

    /// The queues a writer and a scanner would take from.
    type Queues = (
        budget_queue::Receiver<Vec<(PlannedFile, Handed)>>,
        budget_queue::Receiver<ToScan>,
    );

    /// The reader over `files` with default options, in `scope`, handing
    /// large files to a scanner's queue unless `no_scanner`: what it
    /// prepares, what it hands to the scanner. Dropped should an assertion
    /// fail, the queues stop the reader.
    fn start_reader<'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        files: &'scope PlannedFiles,
        no_scanner: bool,
    ) -> (std::thread::ScopedJoinHandle<'scope, ()>, Queues) {
        let (to_scan, scan_queue) = budget_queue::queue(TO_SCAN);
        let to_scan = (!no_scanner).then_some(to_scan);
        let (batches, prepared) = budget_queue::queue(HANDOVER);
        let reader = scope.spawn(move || {
            prepare_all(files, PackOptions::default(), OPEN_AHEAD, to_scan, batches);
        });
        (reader, (prepared, scan_queue))
    }

    fn in_order(total: usize, large: &[usize]) -> Vec<(String, bool)> {
        (0..total)
            .map(|i| (format!("{i:05}.log"), large.contains(&i)))
            .collect()
    }

    /// The reader hands a large file to the scanner as soon as it opens it,
    /// before the writer has taken the files before it, but opens only so
    /// far ahead: what is open does not grow with the number of files.
    #[test]
    fn the_reader_finds_large_files_ahead_of_the_writer_a_bounded_way() {
        let dir = tempfile::tempdir().unwrap();
        // The reader sends two batches of 64 files while the writer takes
        // none, and reads the files of a third: it opens the near large
        // file only ahead of reading it.
        let (total, near, far) = (600, 205, 500);
        let plan = numbered_logs(dir.path(), total, &[near, far]);
        std::thread::scope(|scope| {
            let (reader, (prepared, scan_queue)) = start_reader(scope, &plan.files, false);
            // Nothing is written yet: the reader waits for the writer.
            wait_for("came the near large file", || scan_queue.queued() > 0);
            assert_eq!(
                scan_queue.queued(),
                1,
                "opened {far} files ahead of the writer"
            );
            assert!(!reader.is_finished());
            // Written, every file comes once, in order, the large ones
            // from the scanner.
            let handed = take_all(&prepared, &scan_queue, |_, _| {});
            assert_eq!(handed, in_order(total, &[near, far]));
        });
    }

    /// With more large files in a row than the scanner takes ahead, the
    /// next one waits its turn, and all reach the scanner once, in order.
    #[test]
    fn a_large_file_the_scanner_has_no_room_for_waits_its_turn() {
        let dir = tempfile::tempdir().unwrap();
        let total = OPEN_AHEAD * 2 + 10;
        let large: Vec<usize> = (0..total).collect();
        let plan = numbered_logs(dir.path(), total, &large);
        std::thread::scope(|scope| {
            let (_, (prepared, scan_queue)) = start_reader(scope, &plan.files, false);
            wait_for("filled the scanner's queue", || {
                scan_queue.queued() == TO_SCAN.items
            });
            assert_eq!(scan_queue.queued(), TO_SCAN.items);
            let handed = take_all(&prepared, &scan_queue, |_, _| {});
            assert_eq!(handed, in_order(total, &large));
        });
    }

    /// A live log opened ahead, then left while the reader waited for the
    /// writer, is archived as it is when read: not cut to its size at the
    /// open, nor said to have changed.
    #[test]
    fn a_log_that_grew_while_the_reader_waited_is_read_as_it_is_now() {
        let dir = tempfile::tempdir().unwrap();
        // Opened (the reader is blocked at file 191, open up to 222), not read.
        let (total, grown) = (300, 210);
        let plan = numbered_logs(dir.path(), total, &[]);
        std::thread::scope(|scope| {
            let (_, (prepared, scan_queue)) = start_reader(scope, &plan.files, true);
            wait_for("sent two batches", || prepared.queued() == 2);
            let path = dir.path().join(format!("{grown:05}.log"));
            let mut log = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            log.write_all(b"another line\n").unwrap();
            std::thread::sleep(STILL_AS_OPENED * 5);
            let mut seen = None;
            let handed = take_all(&prepared, &scan_queue, |name, prepared| {
                if name == format!("{grown:05}.log") {
                    match prepared {
                        Prepared::InMemory { bytes, changed, .. } => {
                            seen = Some((String::from_utf8(bytes.clone()).unwrap(), *changed));
                        }
                        _ => panic!("{name}: not read whole"),
                    }
                }
            });
            assert_eq!(handed, in_order(total, &[]));
            assert_eq!(seen, Some(("a line\nanother line\n".to_string(), false)));
        });
    }

    /// Small files are read two at a time and hashed in step, each to its
    /// own checksum: whatever their lengths (the two streams end apart),
    /// and beside a large file or a key left out, which the reader prepares
    /// alone.
    #[test]
    fn small_files_read_in_pairs_keep_their_own_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let lengths = [
            0, 1, 55, 56, 63, 64, 65, 119, 128, 4096, 9000, 3, 70_000, 2, 700, 1,
        ];
        let (large, key) = (5, 9);
        for (i, &len) in lengths.iter().enumerate() {
            let text: Vec<u8> = match i {
                _ if i == large => "a line\n".repeat(IN_MEMORY as usize / 7 + 1).into_bytes(),
                _ if i == key => b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n".to_vec(),
                // Every file unlike the others, so that swapped checksums show.
                _ => format!("{i} ").bytes().cycle().take(len).collect(),
            };
            std::fs::write(dir.path().join(format!("{i:05}.log")), text).unwrap();
        }
        let plan = plan_with_sizes(dir.path(), crate::layout::Sizes::Deferred).1;
        let options = PackOptions {
            exclude_private_keys: true,
            ..PackOptions::default()
        };
        let paired_before = PAIRED.load(std::sync::atomic::Ordering::Relaxed);
        let (mut hashed, mut left_out) = (Vec::new(), Vec::new());
        std::thread::scope(|scope| {
            let (to_scan, scan_queue) = budget_queue::queue(TO_SCAN);
            let (batches, prepared) = budget_queue::queue(HANDOVER);
            let files = &plan.files;
            scope.spawn(move || prepare_all(files, options, OPEN_AHEAD, Some(to_scan), batches));
            let handed = take_all(&prepared, &scan_queue, |name, prepared| match prepared {
                Prepared::InMemory { bytes, read, .. } => {
                    assert_eq!(read.sha256, hex::encode(Sha256::digest(bytes)), "{name}");
                    hashed.push(name.to_string());
                }
                Prepared::Skipped { .. } => left_out.push(name.to_string()),
                Prepared::Stream { .. } => panic!("{name}: streamed by the reader"),
            });
            assert_eq!(handed, in_order(lengths.len(), &[large]));
        });
        assert_eq!(hashed.len(), lengths.len() - 2);
        assert_eq!(left_out, [format!("{key:05}.log")]);
        assert!(
            PAIRED.load(std::sync::atomic::Ordering::Relaxed) > paired_before,
            "no two small files were hashed in step"
        );
    }
}
