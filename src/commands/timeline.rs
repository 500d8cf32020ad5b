//! `logkeep timeline`: the lines of every log of one or more outputs merged
//! into one chronological stream, each labelled with its run, instance, VM
//! and file; BATS markers show where each test began.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::exit_codes::ExitStatus;
use crate::logline::{Level, Marker};
use crate::sanitize::display_str;
use crate::timestamp::Timestamp;
use crate::triage::{self, Line, LogFile, Place, Visitor, Window};

pub struct TimelineOptions {
    pub inputs: Vec<PathBuf>,
    pub path: Option<globset::GlobMatcher>,
    pub window: Window,
    pub json: bool,
}

/// A line kept for the timeline.
struct Entry {
    /// `None` until the file's first dated line places it.
    time: Option<Timestamp>,
    dated: bool,
    file: u32,
    line: u64,
    level: Option<Level>,
    test: Option<Box<str>>,
    text: Box<str>,
    cut: bool,
}

/// A file whose lines are in the timeline.
struct FileInfo {
    input: usize,
    path: String,
}

struct Collector<'o> {
    options: &'o TimelineOptions,
    input: usize,
    files: Vec<FileInfo>,
    entries: Vec<Entry>,
    /// Where this file's entries start in `entries`, and its first dated time.
    file_start: usize,
    first_time: Option<Timestamp>,
    undated_files: Vec<(usize, String)>,
}

impl Visitor for Collector<'_> {
    fn wants(&mut self, file: &LogFile) -> bool {
        let wanted = self
            .options
            .path
            .as_ref()
            .is_none_or(|glob| glob.is_match(&file.path));
        if wanted {
            self.files.push(FileInfo {
                input: self.input,
                path: file.path.clone(),
            });
            self.file_start = self.entries.len();
            self.first_time = None;
        }
        wanted
    }

    fn line(&mut self, _file: &LogFile, line: &Line<'_>) -> Result<()> {
        if line.dated && self.first_time.is_none() {
            self.first_time = line.time;
        }
        let test = match &line.info.marker {
            Some(Marker::Test(name)) => Some(name.as_str().into()),
            _ => None,
        };
        // Test markers stay whatever the level: they give errors their context.
        if test.is_none() && !self.options.window.admits_level(line.level) {
            return Ok(());
        }
        self.entries.push(Entry {
            time: line.time,
            dated: line.dated,
            file: (self.files.len() - 1) as u32,
            line: line.number,
            level: line.level,
            test,
            text: line.text.into(),
            cut: line.cut,
        });
        Ok(())
    }

    fn end_file(&mut self, file: &LogFile, binary: bool) -> Result<()> {
        let Some(first) = self.first_time.filter(|_| !binary) else {
            // No line with a time: it cannot be placed among the others.
            self.entries.truncate(self.file_start);
            self.undated_files.push((self.input, file.path.clone()));
            return Ok(());
        };
        // Lines before the first dated one go just before it.
        for entry in &mut self.entries[self.file_start..] {
            if entry.time.is_some() {
                break;
            }
            entry.time = Some(first);
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
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
    let mut collector = Collector {
        options: &options,
        input: 0,
        files: Vec::new(),
        entries: Vec::new(),
        file_start: 0,
        first_time: None,
        undated_files: Vec::new(),
    };
    let mut labels = Vec::new();
    let mut places = HashMap::new();
    for (index, input) in options.inputs.iter().enumerate() {
        collector.input = index;
        let files_before = collector.files.len();
        let scanned = triage::scan(input, &mut collector)?;
        let records = triage::records_by_path(scanned.manifest.as_ref());
        for (file, info) in collector.files.iter().enumerate().skip(files_before) {
            places.insert(file, Place::of(&info.path, &records));
        }
        labels.push((
            triage::run_label(input, scanned.manifest.as_ref()),
            input.as_path(),
        ));
    }
    let labels = triage::unique_labels(&labels);
    let Collector {
        files,
        mut entries,
        undated_files,
        ..
    } = collector;

    let logs_start = entries
        .iter()
        .filter(|e| e.dated)
        .filter_map(|e| e.time)
        .min();
    let window = &options.window;
    entries.retain(|e| window.admits_time(e.time, logs_start));
    // Each file's lines in their order; at equal times, runs in the order
    // given and files by path (whatever order the archive stored them in).
    entries.sort_by(|a, b| {
        let (fa, fb) = (&files[a.file as usize], &files[b.file as usize]);
        (a.time, fa.input, &fa.path, a.line).cmp(&(b.time, fb.input, &fb.path, b.line))
    });
    // One test marker per run and time: every rdd log of a run repeats it.
    let mut seen_tests = BTreeSet::new();
    entries.retain(|e| match &e.test {
        Some(name) => seen_tests.insert((files[e.file as usize].input, e.time, name.clone())),
        None => true,
    });

    if window.level.is_some() {
        drop_empty_tests(&mut entries, &files, options.inputs.len());
    }

    let several = options.inputs.len() > 1;
    let mut out = BufWriter::new(io::stdout().lock());
    let written = if options.json {
        write_json(&mut out, &entries, &files, &places, &labels, several)
    } else {
        write_text(&mut out, &entries, &files, &places, &labels, several)
    }
    .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitStatus::Success),
        Err(e) => return Err(Error::new(format!("cannot write the timeline: {e}"))),
        Ok(()) => {}
    }
    if !undated_files.is_empty() {
        eprintln!(
            "note: {} file(s) have no line with a time and are not in the timeline:",
            undated_files.len()
        );
        for (input, path) in &undated_files {
            let label = if several {
                format!("[{}] ", labels[*input])
            } else {
                String::new()
            };
            eprintln!("  {label}{}", display_str(path));
        }
    }
    Ok(ExitStatus::Success)
}

/// With `--level`, a test in which no line passed says nothing: only the
/// tests with lines are kept.
fn drop_empty_tests(entries: &mut Vec<Entry>, files: &[FileInfo], inputs: usize) {
    let mut content_after = vec![false; inputs];
    let mut keep = vec![true; entries.len()];
    for (index, e) in entries.iter().enumerate().rev() {
        let input = files[e.file as usize].input;
        if e.test.is_some() {
            keep[index] = content_after[input];
            content_after[input] = false;
        } else {
            content_after[input] = true;
        }
    }
    let mut keep = keep.into_iter();
    entries.retain(|_| keep.next().unwrap_or(true));
}

fn write_json(
    out: &mut impl Write,
    entries: &[Entry],
    files: &[FileInfo],
    places: &HashMap<usize, Place>,
    labels: &[String],
    several: bool,
) -> io::Result<()> {
    for e in entries {
        let file = &files[e.file as usize];
        let place = &places[&(e.file as usize)];
        let record = JsonEntry {
            input: several.then(|| labels[file.input].as_str()),
            time: e.time.map(|t| t.to_string()).unwrap_or_default(),
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
        serde_json::to_writer(&mut *out, &record).map_err(io::Error::other)?;
        writeln!(out)?;
    }
    Ok(())
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

fn write_text(
    out: &mut impl Write,
    entries: &[Entry],
    files: &[FileInfo],
    places: &HashMap<usize, Place>,
    labels: &[String],
    several: bool,
) -> io::Result<()> {
    // `[run] instance vm file`, padded to one width so the texts line up.
    let origin = |file: usize| {
        let place = &places[&file];
        let mut origin = String::new();
        if several {
            origin.push_str(&format!("[{}] ", labels[files[file].input]));
        }
        origin.push_str(place.instance.as_deref().unwrap_or("-"));
        origin.push(' ');
        origin.push_str(place.vm.as_deref().unwrap_or("-"));
        origin.push(' ');
        origin.push_str(&place.file);
        display_str(&origin)
    };
    let origins: HashMap<usize, String> = entries
        .iter()
        .map(|e| e.file as usize)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|f| (f, origin(f)))
        .collect();
    let width = origins
        .values()
        .map(|o| o.chars().count())
        .max()
        .unwrap_or(0);
    let mut day = None;
    for e in entries {
        let Some(time) = e.time else { continue };
        if day != Some(time.start_of_day()) {
            day = Some(time.start_of_day());
            writeln!(out, "──── {} (UTC) ────", time.date())?;
        }
        let origin = &origins[&(e.file as usize)];
        let clock = if e.dated {
            time.time_of_day()
        } else {
            " ".repeat(12)
        };
        if let Some(test) = &e.test {
            let run = if several {
                format!(" [{}]", labels[files[e.file as usize].input])
            } else {
                String::new()
            };
            writeln!(out, "{clock} ════ test: {test}{run} ════")?;
            continue;
        }
        writeln!(
            out,
            "{clock} {} {origin:<width$}  {}{}",
            level_tag(e.level),
            e.text,
            if e.cut { " [line cut]" } else { "" }
        )?;
    }
    Ok(())
}
