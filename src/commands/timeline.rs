//! `logkeep timeline`: the lines of every log of one or more outputs merged
//! into one chronological stream, each labelled with its run, instance, VM
//! and file; BATS markers show where each test began. Lines go through a
//! temporary file in runs and come back merged (see `merge`), so memory
//! stays small whatever the size of the logs.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::damage::{self, Kept};
use crate::error::{Error, Result};
use crate::exit_codes::ExitStatus;
use crate::logline::{Level, Marker};
use crate::merge::{Record, RunSpool};
use crate::names::natural_cmp;
use crate::sanitize::display_str;
use crate::timestamp::Timestamp;
use crate::triage::{self, Line, LogFile, Place, Visitor, Window};

pub struct TimelineOptions {
    pub inputs: Vec<PathBuf>,
    pub path: Option<globset::GlobMatcher>,
    pub window: Window,
    pub json: bool,
}

/// A line kept for the timeline, as it goes through the spool.
struct Entry {
    /// `None` for the lines before the file's first dated line: they are
    /// placed at that line's time.
    time: Option<Timestamp>,
    dated: bool,
    /// The line starts a record (a continuation shows no time of its own).
    starts_record: bool,
    file: u32,
    line: u64,
    level: Option<Level>,
    test: Option<String>,
    text: String,
    cut: bool,
}

impl Record for Entry {
    fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&self.time.map_or(i64::MIN, |t| t.0).to_le_bytes())?;
        let level = self
            .level
            .and_then(|l| Level::ALL.iter().position(|x| *x == l))
            .map_or(0, |i| i as u8 + 1);
        let flags =
            u8::from(self.dated) | u8::from(self.cut) << 1 | u8::from(self.starts_record) << 2;
        out.write_all(&[flags, level])?;
        out.write_all(&self.file.to_le_bytes())?;
        out.write_all(&self.line.to_le_bytes())?;
        let test_len = self.test.as_ref().map_or(u32::MAX, |t| t.len() as u32);
        out.write_all(&test_len.to_le_bytes())?;
        out.write_all(&(self.text.len() as u32).to_le_bytes())?;
        if let Some(test) = &self.test {
            out.write_all(test.as_bytes())?;
        }
        out.write_all(self.text.as_bytes())
    }

    fn read_from(input: &mut dyn BufRead) -> io::Result<Option<Self>> {
        let mut head = [0u8; 30];
        match input.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let number = |range: std::ops::Range<usize>| {
            let mut bytes = [0u8; 8];
            bytes[..range.len()].copy_from_slice(&head[range]);
            u64::from_le_bytes(bytes)
        };
        let time = number(0..8) as i64;
        let text_of = |input: &mut dyn BufRead, len: usize| -> io::Result<String> {
            let mut bytes = vec![0u8; len];
            input.read_exact(&mut bytes)?;
            String::from_utf8(bytes).map_err(io::Error::other)
        };
        let test_len = number(22..26) as u32;
        let text_len = number(26..30) as usize;
        let test = match test_len {
            u32::MAX => None,
            len => Some(text_of(input, len as usize)?),
        };
        Ok(Some(Entry {
            time: (time != i64::MIN).then_some(Timestamp(time)),
            dated: head[8] & 1 != 0,
            cut: head[8] & 2 != 0,
            starts_record: head[8] & 4 != 0,
            level: (head[9] as usize)
                .checked_sub(1)
                .and_then(|i| Level::ALL.get(i).copied()),
            file: number(10..14) as u32,
            line: number(14..22),
            test,
            text: text_of(input, text_len)?,
        }))
    }
}

/// A file whose lines are in the timeline.
struct FileInfo {
    input: usize,
    path: String,
    /// Its first dated line's time: where the lines before it go. `None`:
    /// the file has no time at all and is left out.
    first_time: Option<Timestamp>,
    /// Matched by --path: only these files' lines are shown; the others
    /// give only their test markers.
    shown: bool,
}

struct Collector<'o> {
    options: &'o TimelineOptions,
    input: usize,
    files: Vec<FileInfo>,
    spool: RunSpool,
    /// The time of the last line spooled from the current file: a line
    /// before it breaks the run.
    last_time: Option<Timestamp>,
    file_started: bool,
    /// The first dated line of all the logs: times of day are on its day.
    logs_start: Option<Timestamp>,
    /// The latest time of any line: where the logs end.
    logs_end: Option<Timestamp>,
}

impl Visitor for Collector<'_> {
    fn wants(&mut self, file: &LogFile) -> bool {
        let shown = self
            .options
            .path
            .as_ref()
            .is_none_or(|glob| glob.is_match(&file.path));
        self.files.push(FileInfo {
            input: self.input,
            path: file.path.clone(),
            first_time: None,
            shown,
        });
        self.last_time = None;
        self.file_started = true;
        true
    }

    fn line(&mut self, _file: &LogFile, line: &Line<'_>) -> Result<()> {
        let info = self.files.last_mut().expect("wants() added the file");
        if line.dated && info.first_time.is_none() {
            info.first_time = line.time;
        }
        if line.dated {
            self.logs_start = self.logs_start.min(line.time).or(line.time);
            self.logs_end = self.logs_end.max(line.time);
        }
        let test = match &line.info.marker {
            Some(Marker::Test(name)) => Some(name.clone()),
            _ => None,
        };
        // Test markers stay whatever the level or path: they give the lines
        // their context.
        if test.is_none() && (!info.shown || !self.options.window.admits_level(line.level)) {
            return Ok(());
        }
        let entry = Entry {
            time: line.time,
            dated: line.dated,
            starts_record: line.starts_record,
            file: (self.files.len() - 1) as u32,
            line: line.number,
            level: line.level,
            test,
            text: line.text.to_string(),
            cut: line.cut,
        };
        let out_of_order =
            matches!((entry.time, self.last_time), (Some(t), Some(last)) if t < last);
        let new_run = std::mem::take(&mut self.file_started) || out_of_order;
        if entry.time.is_some() {
            self.last_time = entry.time;
        }
        self.spool
            .push(&entry, new_run)
            .map_err(|e| Error::temp_file("write the timeline", &e))
    }

    fn end_file(&mut self, _file: &LogFile, binary: bool) -> Result<()> {
        if binary && let Some(info) = self.files.last_mut() {
            info.first_time = None;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    /// The run (from its manifest), when several inputs were merged.
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<&'a str>,
    time: String,
    /// False when the time is that of the record or dated line before it.
    dated: bool,
    path: &'a str,
    instance: Option<&'a str>,
    vm: Option<&'a str>,
    file: &'a str,
    line: u64,
    level: Option<Level>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test: Option<&'a str>,
    text: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cut: bool,
}

pub fn run(options: TimelineOptions) -> Result<ExitStatus> {
    let spool = RunSpool::new().map_err(|e| Error::temp_file("start the timeline", &e))?;
    let mut collector = Collector {
        options: &options,
        input: 0,
        files: Vec::new(),
        spool,
        last_time: None,
        file_started: false,
        logs_start: None,
        logs_end: None,
    };
    let mut labels = Vec::new();
    let mut places = Vec::new();
    // Some input was damaged or could not be read at all: the timeline is
    // not whole.
    let mut damaged = false;
    let mut unreadable = 0;
    // Every input is read before the merge: what was read of a damaged one,
    // up to the damage, is merged with the rest.
    for (index, input) in options.inputs.iter().enumerate() {
        collector.input = index;
        let files_before = collector.files.len();
        let read = damage::scan(input, &mut collector)?;
        read.warn_if_odd(input);
        match damage::report(input, &read, "the timeline", Kept::LinesBefore) {
            Ok(()) => damaged |= read.damaged(),
            // One input that cannot be read does not hide the others.
            Err(error) if options.inputs.len() > 1 => {
                error.print();
                unreadable += 1;
                damaged = true;
            }
            Err(error) => return Err(error),
        }
        let records = triage::records_by_path(read.scanned.manifest.as_ref());
        for info in &collector.files[files_before..] {
            places.push(Place::of(&info.path, &records));
        }
        labels.push((
            triage::run_label(input, read.scanned.manifest.as_ref()),
            input.as_path(),
        ));
    }
    if unreadable == options.inputs.len() {
        return Err(Error::new(format!(
            "none of the {unreadable} inputs could be read"
        )));
    }
    let labels = triage::unique_labels(&labels);
    let Collector {
        files,
        mut spool,
        logs_start,
        logs_end,
        ..
    } = collector;

    // At equal times: runs in the order given, files by path (whatever
    // order the archive stored them in; numbers by value, so backups from
    // the oldest), a file's lines in their order.
    let mut by_path: Vec<usize> = (0..files.len()).collect();
    by_path.sort_by(|&a, &b| {
        (files[a].input.cmp(&files[b].input))
            .then_with(|| natural_cmp(&files[a].path, &files[b].path))
    });
    let mut rank = vec![0u32; files.len()];
    for (position, &file) in by_path.iter().enumerate() {
        rank[file] = position as u32;
    }
    // When a line happened: its own or inherited time, or for the lines
    // before a file's first dated line, that line's time.
    let time_of = |e: &Entry| e.time.or(files[e.file as usize].first_time);
    let key = |e: &Entry| (time_of(e), rank[e.file as usize], e.line);
    let window = &options.window;
    let several = options.inputs.len() > 1;
    // Where a merged line goes, if anywhere: files without a time are left
    // out, and so are lines outside --since/--until.
    let placed = |e: &Entry| time_of(e).filter(|t| window.admits_time(Some(*t), logs_start));

    // Which test markers to show: each once per run (every rdd log of a run
    // repeats it) and, with --level, only those followed by a line of their
    // run, which takes a first pass.
    let mut shown_tests = Vec::new();
    let mut seen = HashSet::new();
    let mut pending: HashMap<usize, usize> = HashMap::new();
    let first_pass = window.level.is_some();
    if first_pass {
        spool
            .merge(&key, &mut |e: Entry| {
                let Some(time) = placed(&e) else {
                    return Ok(());
                };
                let input = files[e.file as usize].input;
                match e.test {
                    Some(name) => {
                        let first = seen.insert((input, time, name));
                        shown_tests.push(first && window.level.is_none());
                        if first && window.level.is_some() {
                            pending.insert(input, shown_tests.len() - 1);
                        }
                    }
                    None => {
                        if let Some(index) = pending.remove(&input) {
                            shown_tests[index] = true;
                        }
                    }
                }
                Ok(())
            })
            .map_err(|e| Error::temp_file("read the timeline back", &e))?;
    }

    let view = View {
        files: &files,
        places: &places,
        labels: &labels,
        several,
    };
    // A --path that matches no file shows nothing (the tests' markers alone
    // would read as a timeline) and exits 3, as grep does.
    if let Some(glob) = &options.path
        && !files.iter().any(|f| f.shown)
    {
        let mut seen = triage::NearestPath::new(Some(glob.glob().glob()), "*", false);
        for file in &files {
            seen.see(&file.path);
        }
        triage::warn_no_file_matched(glob, seen);
        return Ok(ExitStatus::Problems);
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let mut printer = Printer::new(&view, options.json);
    let mut tests = shown_tests.into_iter();
    // With --since, the test each run was in when the window opens.
    let (since, until) = window.bounds(logs_start);
    let mut context: Vec<Option<Entry>> = (0..options.inputs.len()).map(|_| None).collect();
    let mut context_done = since.is_none();
    let mut printed = 0u64;
    let written = spool
        .merge(&key, &mut |mut e: Entry| {
            let Some(time) = placed(&e) else {
                let time = time_of(&e);
                let before_window = time.zip(since).is_some_and(|(t, since)| t < since);
                if e.test.is_some() && before_window && !context_done {
                    let input = files[e.file as usize].input;
                    e.time = time;
                    context[input] = Some(e);
                }
                return Ok(());
            };
            if !context_done {
                context_done = true;
                let mut earlier: Vec<Entry> = context.iter_mut().filter_map(Option::take).collect();
                earlier.sort_by_key(|e| e.time);
                for marker in &earlier {
                    printer.print(&mut out, marker)?;
                }
            }
            let shown = match &e.test {
                None => true,
                Some(_) if first_pass => tests.next().unwrap_or(false),
                Some(name) => seen.insert((files[e.file as usize].input, time, name.clone())),
            };
            if !shown {
                return Ok(());
            }
            e.time = Some(time);
            printed += 1;
            printer.print(&mut out, &e)
        })
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitStatus::Success),
        Err(e) => return Err(Error::new(format!("cannot write the timeline: {e}"))),
        Ok(()) => {}
    }
    // stderr may be a closed pipe too: what could not be said is not an error.
    let mut stderr = io::stderr().lock();
    // An empty answer to a window is worth a word: it looks like a typo.
    if printed == 0 && window.has_time_bounds() {
        let why = match (since, until) {
            (Some(since), Some(until)) if since > until => "--since is after --until".to_string(),
            _ => match logs_start.zip(logs_end) {
                Some((first, last)) => format!("the logs run from {first} to {last}"),
                None => "no line has a time".to_string(),
            },
        };
        let placed = window
            .placed(logs_start)
            .map_or(String::new(), |placed| format!("; {placed}"));
        let _ = writeln!(stderr, "note: no line falls in the window ({why}{placed})");
    }
    let undated: Vec<&FileInfo> = files
        .iter()
        .filter(|f| f.shown && f.first_time.is_none())
        .collect();
    if !undated.is_empty() {
        let _ = writeln!(
            stderr,
            "note: {} file(s) have no line with a time and are not in the timeline:",
            undated.len()
        );
        // A few name the kind; hundreds would bury the rest of stderr.
        const NAMED: usize = 10;
        for file in undated.iter().take(NAMED) {
            let label = if several {
                format!("[{}] ", labels[file.input])
            } else {
                String::new()
            };
            let _ = writeln!(stderr, "  {label}{}", display_str(&file.path));
        }
        if undated.len() > NAMED {
            let _ = writeln!(
                stderr,
                "  and {} more (`logkeep ls` lists every file, with its first and last time)",
                undated.len() - NAMED
            );
        }
    }
    Ok(if damaged {
        ExitStatus::Problems
    } else {
        ExitStatus::Success
    })
}

/// What the printer needs to label a line.
struct View<'a> {
    files: &'a [FileInfo],
    places: &'a [Place],
    labels: &'a [String],
    several: bool,
}

/// Prints entries as they come out of the merge: text with aligned columns
/// and a line for each new day, or JSON lines.
struct Printer<'a> {
    view: &'a View<'a>,
    json: bool,
    /// `[run] instance vm file` for each file.
    origins: Vec<String>,
    width: usize,
    day: Option<Timestamp>,
}

impl<'a> Printer<'a> {
    fn new(view: &'a View<'a>, json: bool) -> Printer<'a> {
        let origins: Vec<String> = (0..view.files.len())
            .map(|file| {
                // The path in the layout names the instance, the VM (and which
                // of its preserved folders) and the file, and is what `cat` takes.
                let mut origin = String::new();
                if view.several {
                    origin.push_str(&format!("[{}] ", view.labels[view.files[file].input]));
                }
                origin.push_str(&view.files[file].path);
                display_str(&origin)
            })
            .collect();
        // Only the files shown with a time are printed: only they set the width.
        let width = origins
            .iter()
            .zip(view.files)
            .filter(|(_, f)| f.shown && f.first_time.is_some())
            .map(|(o, _)| o.chars().count())
            .max()
            .unwrap_or(0);
        Printer {
            view,
            json,
            origins,
            width,
            day: None,
        }
    }

    fn print(&mut self, out: &mut impl Write, e: &Entry) -> io::Result<()> {
        let Some(time) = e.time else { return Ok(()) };
        let file = &self.view.files[e.file as usize];
        if self.json {
            let place = &self.view.places[e.file as usize];
            let record = JsonEntry {
                run: self
                    .view
                    .several
                    .then(|| self.view.labels[file.input].as_str()),
                time: time.to_string(),
                dated: e.dated,
                path: &file.path,
                instance: place.instance.as_deref(),
                vm: place.vm.as_deref(),
                file: &place.file,
                line: e.line,
                level: e.level,
                test: e.test.as_deref(),
                text: &e.text,
                cut: e.cut,
            };
            serde_json::to_writer(&mut *out, &record).map_err(io::Error::from)?;
            return writeln!(out);
        }
        if self.day != Some(time.start_of_day()) {
            self.day = Some(time.start_of_day());
            writeln!(out, "──── {} (UTC) ────", time.date())?;
        }
        // A record without a time of its own shows the one it inherits in
        // parentheses; the rest of a record (a stack) shows none.
        let clock = if e.dated {
            time.time_of_day()
        } else if e.starts_record {
            format!("({})", &time.time_of_day()[..10])
        } else {
            " ".repeat(12)
        };
        if let Some(test) = &e.test {
            let run = if self.view.several {
                format!(" [{}]", self.view.labels[file.input])
            } else {
                String::new()
            };
            return writeln!(out, "{clock} ════ test: {test}{run} ════");
        }
        let origin = &self.origins[e.file as usize];
        writeln!(
            out,
            "{clock} {} {origin:<width$}  {}{}",
            level_tag(e.level),
            e.text,
            if e.cut { " [line cut]" } else { "" },
            width = self.width
        )
    }
}

/// Four letters for a level, blank when the line has none.
fn level_tag(level: Option<Level>) -> &'static str {
    match level {
        None => "    ",
        Some(Level::Trace) => "TRCE",
        Some(Level::Debug) => "DEBG",
        Some(Level::Info) => "INFO",
        Some(Level::Warn) => "WARN",
        Some(Level::Error) => "ERRO",
        Some(Level::Fatal) => "FATL",
    }
}
