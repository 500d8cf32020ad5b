//! `logkeep grep`: search the logs inside outputs without unpacking them,
//! one line at a time, so memory stays the same whatever their size.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use regex::{Regex, RegexBuilder};
use serde::Serialize;

use super::damage::{self, Kept};
use crate::error::{Error, Result};
use crate::exit_codes::ExitStatus;
use crate::logline::Level;
use crate::sanitize::display_str;
use crate::timestamp::{TimeArg, Timestamp};
use crate::triage::{self, Line, LogFile, Visitor, Window};

pub struct GrepOptions {
    /// The pattern, compiled with `-i` and `-F` (see [`pattern_regex`]).
    pub regex: Regex,
    pub inputs: Vec<PathBuf>,
    /// Select the lines that do not match.
    pub invert: bool,
    /// Print each file's number of selected lines instead of the lines.
    pub count: bool,
    /// Print only the paths of files with a selected line.
    pub files_with_matches: bool,
    /// Lines of context before and after each selected line.
    pub before: usize,
    pub after: usize,
    /// Only files whose layout path matches this glob.
    pub path: Option<globset::GlobMatcher>,
    pub window: Window,
    pub json: bool,
}

/// One selected line, as `--json` prints it (a JSON object per line).
#[derive(Debug, Serialize)]
struct Match<'a> {
    path: &'a str,
    line: u64,
    /// When the record holding the line was written.
    time: Option<String>,
    /// False when the time is that of the dated line before.
    dated: bool,
    level: Option<Level>,
    text: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cut: bool,
}

/// What grep needs of a line: its own, or one held until its file's first
/// dated line gave it a time.
struct Seen<'t> {
    number: u64,
    text: &'t str,
    level: Option<Level>,
    time: Option<Timestamp>,
    dated: bool,
    cut: bool,
}

/// A line before its file's first dated line, held while a time window is
/// given: it happened just before that line, as `timeline` places it.
struct Held {
    number: u64,
    text: String,
    level: Option<Level>,
    cut: bool,
}

/// At most this much text is held per file; past it, the held lines count
/// as having no time (outside any window), as they did before being held.
const HELD_BYTES: usize = 1 << 20;

/// A line kept for `-B` context.
struct Before {
    number: u64,
    text: String,
    cut: bool,
}

struct Grep<'o, W: Write> {
    regex: Regex,
    options: &'o GrepOptions,
    out: W,
    /// Selected lines in all files, and in the current one.
    matches: u64,
    in_file: u64,
    files_matched: u64,
    files_wanted: u64,
    /// The paths seen, for the example of a `--path` that matched nothing.
    seen: crate::triage::NearestPath,
    /// The first dated line of all the inputs, found by `logs_start` when a
    /// time of day needs a day.
    logs_start: Option<Timestamp>,
    before: VecDeque<Before>,
    /// Lines of `-A` context still to print.
    after_left: usize,
    /// The last line number printed in this file, to put `--` between groups.
    last_printed: Option<u64>,
    /// The lines before this file's first dated line, while a time window
    /// is given; `None` once that line came (or the text held grew too big).
    held: Option<Vec<Held>>,
    held_bytes: usize,
    /// A line of this file had a time.
    file_dated: bool,
    /// Files without a line with a time, which a time window leaves out.
    undated: Vec<String>,
    /// Lines longer than the reader takes (`triage::MAX_LINE`): searched in
    /// their first part only. How many, and where the first is.
    cut_lines: u64,
    first_cut: Option<String>,
}

impl<W: Write> Grep<'_, W> {
    fn print_line(
        &mut self,
        path: &str,
        number: u64,
        text: &str,
        cut: bool,
        selected: bool,
    ) -> io::Result<()> {
        let context = self.options.before > 0 || self.options.after > 0;
        if context && self.last_printed.is_some_and(|last| number > last + 1) {
            writeln!(self.out, "--")?;
        }
        self.last_printed = Some(number);
        // grep's own marks: `:` for a selected line, `-` for context.
        let mark = if selected { ':' } else { '-' };
        writeln!(
            self.out,
            "{}{mark}{number}{mark} {text}{}",
            display_str(path),
            if cut { " [line cut]" } else { "" }
        )
    }
}

impl<W: Write> Visitor for Grep<'_, W> {
    fn wants(&mut self, file: &LogFile) -> bool {
        self.in_file = 0;
        self.before.clear();
        self.after_left = 0;
        self.last_printed = None;
        self.held = self.options.window.has_time_bounds().then(Vec::new);
        self.held_bytes = 0;
        self.file_dated = false;
        let wanted = self
            .options
            .path
            .as_ref()
            .is_none_or(|glob| glob.is_match(&file.path));
        self.files_wanted += u64::from(wanted);
        if !wanted {
            self.seen.see(&file.path);
        }
        wanted
    }

    fn needs_records(&self) -> bool {
        let window = &self.options.window;
        self.options.json || window.level.is_some() || window.has_time_bounds()
    }

    fn line(&mut self, file: &LogFile, line: &Line<'_>) -> Result<()> {
        self.file_dated |= line.time.is_some();
        if line.cut {
            self.cut_lines += 1;
            self.first_cut
                .get_or_insert_with(|| format!("{}:{}", display_str(&file.path), line.number));
        }
        if let Some(held) = &mut self.held {
            if line.time.is_none() && self.held_bytes < HELD_BYTES {
                self.held_bytes += line.text.len();
                held.push(Held {
                    number: line.number,
                    text: line.text.to_string(),
                    level: line.level,
                    cut: line.cut,
                });
                return Ok(());
            }
            // The first dated line (or too much held): the lines held go
            // first, at its time.
            self.release_held(&file.path, line.time)?;
        }
        self.consider(
            &file.path,
            Seen {
                number: line.number,
                text: line.text,
                level: line.level,
                time: line.time,
                dated: line.dated,
                cut: line.cut,
            },
        )
    }

    fn end_file(&mut self, file: &LogFile, _binary: bool) -> Result<()> {
        // A file without any dated line: its lines have no time.
        self.release_held(&file.path, None)?;
        if !self.file_dated && self.options.window.has_time_bounds() {
            self.undated.push(file.path.clone());
        }
        self.file_done(&file.path)
    }

    /// What was read before the damage is what `-c` counts and `-l` names,
    /// as a search without them shows those lines.
    fn cut_short(&mut self, path: &str) -> Result<()> {
        self.release_held(path, None)?;
        self.file_done(path)
    }
}

impl<W: Write> Grep<'_, W> {
    /// A file's count (`-c`) or name (`-l`), once its lines are through.
    fn file_done(&mut self, path: &str) -> Result<()> {
        if self.in_file == 0 {
            return Ok(());
        }
        self.files_matched += 1;
        let path = display_str(path);
        let written = if self.options.files_with_matches {
            writeln!(self.out, "{path}")
        } else if self.options.count {
            writeln!(self.out, "{path}:{}", self.in_file)
        } else {
            Ok(())
        };
        written.map_err(write_error)
    }

    /// Go through the lines held, at `time`, and hold no more in this file.
    fn release_held(&mut self, path: &str, time: Option<Timestamp>) -> Result<()> {
        for held in self.held.take().unwrap_or_default() {
            self.consider(
                path,
                Seen {
                    number: held.number,
                    text: &held.text,
                    level: held.level,
                    time,
                    dated: false,
                    cut: held.cut,
                },
            )?;
        }
        Ok(())
    }

    /// Select or not one line, and print it with its context.
    fn consider(&mut self, path: &str, line: Seen<'_>) -> Result<()> {
        let window = &self.options.window;
        let selected = window.admits_level(line.level)
            && window.admits_time(line.time, self.logs_start)
            && self.regex.is_match(line.text) != self.options.invert;
        let options = self.options;
        let quiet = options.count || options.files_with_matches;
        if !selected {
            if quiet || options.json {
                return Ok(());
            }
            if self.after_left > 0 {
                self.after_left -= 1;
                return self
                    .print_line(path, line.number, line.text, line.cut, false)
                    .map_err(write_error);
            }
            if options.before > 0 {
                if self.before.len() == options.before {
                    self.before.pop_front();
                }
                self.before.push_back(Before {
                    number: line.number,
                    text: line.text.to_string(),
                    cut: line.cut,
                });
            }
            return Ok(());
        }
        self.matches += 1;
        self.in_file += 1;
        if quiet {
            return Ok(());
        }
        let written = if options.json {
            let record = Match {
                path,
                line: line.number,
                time: line.time.map(|t| t.to_string()),
                dated: line.dated,
                level: line.level,
                text: line.text,
                cut: line.cut,
            };
            serde_json::to_writer(&mut self.out, &record)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(self.out))
        } else {
            let before: Vec<Before> = self.before.drain(..).collect();
            before
                .iter()
                .try_for_each(|b| self.print_line(path, b.number, &b.text, b.cut, false))
                .and_then(|()| self.print_line(path, line.number, line.text, line.cut, true))
        };
        self.after_left = options.after;
        written.map_err(write_error)
    }
}

/// The first dated line of all the inputs, which places the times of day
/// given on the command line, as `timeline` does. It takes a pass of its
/// own: the file read first may start a day after another one.
#[derive(Default)]
struct LogsStart(Option<Timestamp>);

impl Visitor for LogsStart {
    fn line(&mut self, _file: &LogFile, line: &Line<'_>) -> Result<()> {
        if line.dated {
            self.0 = self.0.min(line.time).or(line.time);
        }
        Ok(())
    }
}

fn logs_start(options: &GrepOptions) -> Option<Timestamp> {
    let window = &options.window;
    let by_clock = [window.since, window.until]
        .iter()
        .any(|bound| matches!(bound, Some(TimeArg::TimeOfDay(_))));
    if !by_clock {
        return None;
    }
    let mut start = LogsStart::default();
    for input in &options.inputs {
        // What cannot be read is said by the search itself.
        let _ = triage::scan(input, &mut start);
    }
    start.0
}

/// The message of the error a closed stdout (`| head`) gives: not a failure.
const PIPE_CLOSED: &str = "stdout was closed";

fn write_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return Error::new(PIPE_CLOSED);
    }
    Error::new(format!("cannot write the matches: {e}"))
}

/// The search's regex. A wrong pattern is a wrong command line, found
/// before any input is read.
pub fn pattern_regex(
    pattern: &str,
    fixed_strings: bool,
    ignore_case: bool,
    whole_words: bool,
) -> Result<Regex> {
    let text = match fixed_strings {
        true => regex::escape(pattern),
        false => pattern.to_string(),
    };
    // As grep -w: no word character right before or after the match.
    let text = match whole_words {
        true => format!(r"\b{{start-half}}(?:{text})\b{{end-half}}"),
        false => text,
    };
    RegexBuilder::new(&text)
        .case_insensitive(ignore_case)
        // Bounded: a pattern cannot make the search take the memory.
        .size_limit(64 << 20)
        .build()
        .map_err(|e| {
            Error::new(format!("{pattern:?} is not a valid pattern: {e}")).with_hint(
            "the syntax is Rust's regex crate (like grep -E); -F searches for the text as it is",
        )
        })
}

fn grep<'o, W: Write>(
    options: &'o GrepOptions,
    regex: &Regex,
    logs_start: Option<Timestamp>,
    out: W,
) -> Grep<'o, W> {
    Grep {
        regex: regex.clone(),
        options,
        out,
        matches: 0,
        in_file: 0,
        files_matched: 0,
        files_wanted: 0,
        seen: crate::triage::NearestPath::new(
            options.path.as_ref().map(|g| g.glob().glob()),
            "*",
            false,
        ),
        logs_start,
        before: VecDeque::new(),
        after_left: 0,
        last_printed: None,
        held: None,
        held_bytes: 0,
        file_dated: false,
        undated: Vec::new(),
        cut_lines: 0,
        first_cut: None,
    }
}

/// Files without a line with a time: a time window leaves every line of
/// them out, which is worth a word (TAP output, reports and dumps are such
/// files). `undated` holds each file's path and, when there are several
/// inputs, the index of its input's label in `labels`.
fn note_undated(undated: &[(Option<usize>, String)], labels: &[String]) {
    if undated.is_empty() {
        return;
    }
    const NAMED: usize = 5;
    let mut names: Vec<String> = undated
        .iter()
        .take(NAMED)
        .map(|(label, path)| match label.and_then(|i| labels.get(i)) {
            Some(label) => format!("[{label}] {}", display_str(path)),
            None => display_str(path),
        })
        .collect();
    if undated.len() > NAMED {
        names.push(format!("and {} more", undated.len() - NAMED));
    }
    let (files, their) = match undated.len() {
        1 => ("1 file has".to_string(), "its"),
        n => (format!("{n} files have"), "their"),
    };
    eprintln!(
        "note: {files} no line with a time, so the time window leaves all {their} lines out: {} \
         (search without --since, --until and --around to see them)",
        names.join(", ")
    );
}

/// A time of day in `--since` or `--until` was placed on a day (that of
/// the logs' first dated line, or the next when it is earlier in the day):
/// when nothing matched, say which, as it may not be the one meant.
fn note_day_of_window(window: &Window, logs_start: Option<Timestamp>) {
    let Some(placed) = window.placed(logs_start) else {
        return;
    };
    let inverted = match window.bounds(logs_start) {
        (Some(since), Some(until)) if since > until => "--since is after --until: ",
        _ => "",
    };
    let start = logs_start.map_or(String::new(), |t| format!(", the logs start at {t}"));
    eprintln!("note: nothing matched; {inverted}{placed}{start}");
}

pub fn run(options: GrepOptions) -> Result<ExitStatus> {
    let regex = &options.regex;
    let logs_start = logs_start(&options);
    let stdout = io::stdout();
    let mut matches = 0;
    let mut files_wanted = 0u64;
    let mut cut_lines = 0u64;
    let mut first_cut: Option<String> = None;
    let mut seen = crate::triage::NearestPath::default();
    // Files without a time, each with the index of its input's label when
    // there are several inputs.
    let mut undated: Vec<(Option<usize>, String)> = Vec::new();
    let mut run_labels: Vec<String> = Vec::new();
    // Some input was damaged or could not be read at all: the search is
    // not whole.
    let mut damaged = false;
    let result = (|| -> Result<()> {
        if let [input] = options.inputs.as_slice() {
            let mut grep = grep(&options, regex, logs_start, BufWriter::new(stdout.lock()));
            let read = damage::scan(input, &mut grep)?;
            matches += grep.matches;
            files_wanted += grep.files_wanted;
            cut_lines += grep.cut_lines;
            if first_cut.is_none() {
                first_cut = grep.first_cut.take();
            }
            seen = std::mem::take(&mut seen).and(std::mem::take(&mut grep.seen));
            undated.extend(grep.undated.drain(..).map(|path| (None, path)));
            grep.out.flush().map_err(write_error)?;
            read.warn_if_odd(input);
            damage::report(input, &read, "the search", Kept::LinesBefore)?;
            damaged = read.damaged();
            return Ok(());
        }
        // Each run is labelled from its manifest, which a tar holds at its
        // end, and labels must differ: the lines wait in a temporary file,
        // not in memory, until every input is read. One file for all, each
        // input's lines a stretch of it: an open file per input would run
        // out of them with a few hundred inputs.
        let spool = tempfile::tempfile().map_err(|e| Error::temp_file("hold the lines", &e))?;
        let mut spool = BufWriter::new(spool);
        // Each read input's label, and the stretch of the spool its lines
        // take (an input that cannot be read leaves lines between them).
        let mut spooled: Vec<(String, &Path)> = Vec::new();
        let mut stretches: Vec<std::ops::Range<u64>> = Vec::new();
        let mut unreadable = 0;
        for input in &options.inputs {
            let start = spool.stream_position().map_err(write_error)?;
            let mut grep = grep(&options, regex, logs_start, &mut spool);
            let read = damage::scan(input, &mut grep)?;
            matches += grep.matches;
            files_wanted += grep.files_wanted;
            cut_lines += grep.cut_lines;
            if first_cut.is_none() {
                first_cut = grep.first_cut.take();
            }
            seen = std::mem::take(&mut seen).and(std::mem::take(&mut grep.seen));
            read.warn_if_odd(input);
            // One input that cannot be read does not hide the others' lines.
            if let Err(error) = damage::report(input, &read, "the search", Kept::LinesBefore) {
                error.print();
                unreadable += 1;
                damaged = true;
                continue;
            }
            damaged |= read.damaged();
            let label = triage::run_label(input, read.scanned.manifest.as_ref());
            // Labelled once the labels are told apart, below.
            let index = spooled.len();
            undated.extend(grep.undated.drain(..).map(|path| (Some(index), path)));
            let end = spool.stream_position().map_err(write_error)?;
            spooled.push((label, input.as_path()));
            stretches.push(start..end);
        }
        if unreadable == options.inputs.len() {
            return Err(Error::new(format!(
                "none of the {unreadable} inputs could be read"
            )));
        }
        let labels = triage::unique_labels(&spooled);
        run_labels.clone_from(&labels);
        let mut out = BufWriter::new(stdout.lock());
        let spool = spool
            .into_inner()
            .map_err(|e| write_error(e.into_error()))?;
        let mut lines = io::BufReader::new(spool);
        for (stretch, label) in stretches.into_iter().zip(labels) {
            let json_label = serde_json::to_string(&label).unwrap_or_default();
            lines
                .seek(io::SeekFrom::Start(stretch.start))
                .map_err(write_error)?;
            for line in Read::take(&mut lines, stretch.end - stretch.start).lines() {
                let line = line.map_err(write_error)?;
                if options.json {
                    writeln!(out, "{{\"run\":{json_label},{}", &line[1..])
                } else {
                    writeln!(out, "[{label}] {line}")
                }
                .map_err(write_error)?;
            }
        }
        out.flush().map_err(write_error)
    })();
    match result {
        // `| head` closed the pipe: what was wanted has been printed.
        Err(e) if e.message == PIPE_CLOSED => return Ok(ExitStatus::Success),
        other => other?,
    }
    note_undated(&undated, &run_labels);
    if let Some(first) = first_cut {
        let (lines, is, their, them) = match cut_lines {
            1 => ("1 line".to_string(), "is", "its", "it"),
            n => (format!("{n} lines"), "are", "their", "them"),
        };
        eprintln!(
            "note: {lines} {is} longer than {} KiB (the first: {first}): only {their} first {} KiB \
             were searched (`logkeep cat` shows {them} whole)",
            triage::MAX_LINE / 1024,
            triage::MAX_LINE / 1024
        );
    }
    if matches == 0 {
        note_day_of_window(&options.window, logs_start);
    }
    if let Some(glob) = &options.path
        && files_wanted == 0
    {
        crate::triage::warn_no_file_matched(glob, seen);
    }
    Ok(if matches > 0 && !damaged {
        ExitStatus::Success
    } else {
        ExitStatus::Problems
    })
}
