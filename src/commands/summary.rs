//! `logkeep summary`: the one-screen answer. For each output: the run, what
//! was collected, the problems met at collection, the BATS tests, and the
//! first and last error-level lines of each log with the test that was
//! running; with several outputs, the errors some jobs have and others not.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::damage::{self, Unreadable};
use crate::bats_results::{BatsReader, BatsResults, FailedTest, TapCounts};
use crate::error::{Error, Result};
use crate::exit_codes::ExitStatus;
use crate::logline::{Level, Marker};
use crate::sanitize::{display_path, display_str};
use crate::timestamp::Timestamp;
use crate::triage::{self, Line, LogFile, Place, Visitor};

pub struct SummaryOptions {
    pub inputs: Vec<PathBuf>,
    pub json: bool,
}

/// Longest text of a line shown; the rest is cut with `…` (in the text
/// output: `--json` carries the whole line).
const TEXT_SHOWN: usize = 200;
/// How many cross-job differences are listed.
const DIFFERENCES_SHOWN: usize = 20;

#[derive(Debug, Clone, Serialize)]
struct LineRef {
    time: Option<String>,
    line: u64,
    level: Option<Level>,
    /// The whole line; the text output cuts it.
    text: String,
    /// The BATS test that had started last when the line was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    test: Option<String>,
    #[serde(skip)]
    at: Option<Timestamp>,
    /// Where it is: the file (in reading order) and the line.
    #[serde(skip)]
    place: (usize, u64),
}

#[derive(Debug, Serialize)]
struct LogErrors {
    path: String,
    instance: Option<String>,
    vm: Option<String>,
    errors: u64,
    warnings: u64,
    first: LineRef,
    last: LineRef,
}

#[derive(Debug, Serialize)]
struct Test {
    time: String,
    name: String,
}

#[derive(Debug, Serialize)]
struct Vm {
    instance: Option<String>,
    vm: String,
    files: usize,
}

#[derive(Debug, Serialize)]
struct InputSummary {
    input: String,
    label: String,
    /// The run facts of the manifest (GitHub job, runner, commit, host, …).
    run: BTreeMap<String, String>,
    has_manifest: bool,
    instances: Vec<String>,
    vms: Vec<Vm>,
    files: usize,
    bytes: u64,
    skipped: usize,
    problems: Vec<Value>,
    redactions: u64,
    first_time: Option<String>,
    last_time: Option<String>,
    tests: Vec<Test>,
    /// The counts of bats' TAP results in the logs, if any.
    bats_results: Option<TapCounts>,
    /// The tests that failed, as TAP, a JUnit report or the BATS hook's
    /// saved folders say.
    failed_tests: Vec<FailedTest>,
    /// Tests that TAP says passed: an error "during" one of them may be a
    /// hook's, or a test's running beside it.
    #[serde(skip)]
    passed_tests: BTreeSet<String>,
    errors: u64,
    /// Error lines counted once when several logs hold the same line at
    /// the same time (copies of a log).
    distinct_errors: u64,
    warnings: u64,
    first_error: Option<FirstError>,
    logs_with_errors: Vec<LogErrors>,
    /// Files that could not be read (damaged data, a permission): left out.
    unreadable: Vec<Unreadable>,
    /// Why reading stopped before the end of the input, when it did: the
    /// files after that point (and, in a tar.gz or tar.zst, the manifest)
    /// are left out.
    stopped: Option<String>,
    /// Every file was read, but the stream's end does not check: what was
    /// read may be altered.
    #[serde(skip)]
    damaged_end: bool,
}

impl InputSummary {
    /// Not read whole: a file could not be read, or reading stopped.
    fn incomplete(&self) -> bool {
        !self.unreadable.is_empty() || self.stopped.is_some()
    }
}

/// The earliest error-level line of an input.
#[derive(Debug, Serialize)]
struct FirstError {
    path: String,
    #[serde(flatten)]
    line: LineRef,
}

/// An error that appears in some jobs and not in others.
#[derive(Debug, Serialize)]
struct Difference {
    /// The error's message with numbers, ids and times taken out.
    signature: String,
    only_in: Vec<String>,
    /// Of the jobs not in `only_in`, those not read whole: the error may be
    /// in what could not be read of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unsure_for: Vec<String>,
    count: u64,
    /// When the example was written: the earliest such line of these jobs.
    time: Option<String>,
    /// `PATH:LINE: text`, the text whole.
    example: String,
    /// The example as the text output shows it, its text cut.
    #[serde(skip)]
    example_shown: String,
    /// Differences are listed in time order (then by input, file and line).
    #[serde(skip)]
    order: (TimeOrder, usize, String, u64),
}

#[derive(Serialize)]
struct Report<'a> {
    inputs: &'a [InputSummary],
    #[serde(skip_serializing_if = "Option::is_none")]
    differences: Option<&'a [Difference]>,
    /// Inputs that could not be read at all (with others that could).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    unreadable: &'a [Unread],
}

/// An input that could not be read, and why.
#[derive(Serialize)]
struct Unread {
    input: String,
    error: String,
}

#[derive(Default)]
struct FileStats {
    errors: u64,
    warnings: u64,
    first: Option<LineRef>,
    last: Option<LineRef>,
}

/// Error signatures of one input, with their count and one example: the
/// earliest such line.
type Signatures = HashMap<String, (u64, Example)>;

/// Orders times, lines without one last.
type TimeOrder = (bool, Option<Timestamp>);

fn time_order(at: Option<Timestamp>) -> TimeOrder {
    (at.is_none(), at)
}

/// An error line, and where it is.
#[derive(Debug, Clone)]
struct Example {
    path: String,
    line: u64,
    text: String,
    at: Option<Timestamp>,
}

impl Example {
    /// What orders examples: by time (lines without one last), then by
    /// file and line.
    fn order(&self) -> (TimeOrder, &str, u64) {
        (time_order(self.at), &self.path, self.line)
    }

    /// Keep the earlier of the two.
    fn keep_earlier(&mut self, other: Example) {
        if other.order() < self.order() {
            *self = other;
        }
    }

    /// `path:line: text`, with the text whole or cut for one screen.
    fn show(&self, text: impl Fn(&str) -> String) -> String {
        format!("{}:{}: {}", self.path, self.line, text(&self.text))
    }
}

/// What the lines of one file gave, kept apart until the file is read to
/// its end: a file that cannot be read is left out whole.
#[derive(Default)]
struct Gathered {
    first_time: Option<Timestamp>,
    last_time: Option<Timestamp>,
    /// The markers: when, where (file in reading order, line), which test.
    tests: BTreeSet<(Timestamp, (usize, u64), String)>,
    signatures: Signatures,
    bats: BatsResults,
    /// Each error line by its time and text: copies of a log (the BATS
    /// hook saves one per failed test) hold the same lines.
    error_lines: std::collections::HashSet<u64>,
}

impl Gathered {
    fn time(&mut self, t: Timestamp) {
        self.first_time = Some(self.first_time.map_or(t, |f| f.min(t)));
        self.last_time = Some(self.last_time.map_or(t, |l| l.max(t)));
    }

    fn add(&mut self, other: Gathered) {
        for t in other.first_time.into_iter().chain(other.last_time) {
            self.time(t);
        }
        self.tests.extend(other.tests);
        self.bats.add(other.bats);
        self.error_lines.extend(other.error_lines);
        for (signature, (count, example)) in other.signatures {
            match self.signatures.entry(signature) {
                Entry::Occupied(mut known) => {
                    let known = known.get_mut();
                    known.0 += count;
                    known.1.keep_earlier(example);
                }
                Entry::Vacant(new) => {
                    new.insert((count, example));
                }
            }
        }
    }
}

#[derive(Default)]
struct Gatherer {
    /// Of the files read whole.
    all: Gathered,
    files: Vec<(String, FileStats)>,
    seen_files: usize,
    /// Of the file being read.
    file: Gathered,
    stats: FileStats,
    bats_reader: BatsReader,
}

fn cut(text: &str) -> String {
    if text.chars().count() <= TEXT_SHOWN {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(TEXT_SHOWN).collect();
    cut.push('…');
    cut
}

/// What an error says, without what changes from run to run: numbers, ids,
/// times. Two jobs with the same failure give the same signature.
fn signature(text: &str) -> String {
    let message = crate::logline::json_string(text, r#""msg":""#)
        .or_else(|| logrus_msg(text))
        .or_else(|| text.split_once("] ").map(|(_, rest)| rest))
        .unwrap_or(text);
    let mut out = String::new();
    let mut in_number = false;
    for c in message.chars() {
        if c.is_ascii_hexdigit() && (c.is_ascii_digit() || in_number) {
            if !in_number {
                out.push('#');
                in_number = true;
            }
        } else {
            in_number = false;
            out.push(c);
        }
        if out.len() > 120 {
            break;
        }
    }
    out
}

fn logrus_msg(text: &str) -> Option<&str> {
    let start = text.find(" msg=")? + 5;
    let rest = &text[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find("\" ").unwrap_or(quoted.len());
        Some(&quoted[..end])
    } else {
        Some(rest.split(' ').next().unwrap_or(rest))
    }
}

impl Visitor for Gatherer {
    fn wants(&mut self, file: &LogFile) -> bool {
        self.seen_files += 1;
        self.file = Gathered::default();
        self.stats = FileStats::default();
        self.bats_reader = BatsReader::new(&file.path);
        true
    }

    fn end_file(&mut self, file: &LogFile, _binary: bool) -> Result<()> {
        self.all.add(std::mem::take(&mut self.file));
        self.files
            .push((file.path.clone(), std::mem::take(&mut self.stats)));
        Ok(())
    }

    fn line(&mut self, file: &LogFile, line: &Line<'_>) -> Result<()> {
        self.bats_reader
            .line(&mut self.file.bats, &file.path, line.number, line.text);
        if line.dated
            && let Some(t) = line.time
        {
            if self.file.first_time.is_none() {
                self.place_lines_before_the_first_dated(t);
            }
            self.file.time(t);
            if let Some(Marker::Test(name)) = &line.info.marker {
                self.file
                    .tests
                    .insert((t, (self.seen_files, line.number), name.clone()));
            }
        }
        // A record counts once, by its first line (not each line of a stack).
        let Some(level) = line
            .level
            .filter(|l| *l >= Level::Warn && line.starts_record)
        else {
            return Ok(());
        };
        let stats = &mut self.stats;
        if level == Level::Warn {
            stats.warnings += 1;
            return Ok(());
        }
        stats.errors += 1;
        self.file.error_lines.insert({
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (line.time, line.text).hash(&mut hasher);
            hasher.finish()
        });
        let found = LineRef {
            time: line.time.map(|t| t.to_string()),
            line: line.number,
            level: line.level,
            text: line.text.to_string(),
            test: None,
            at: line.time,
            place: (self.seen_files, line.number),
        };
        // First and last by time (a file's lines are not always in order);
        // the lines before its first dated one get that time when it comes.
        let earlier = |known: &Option<LineRef>| {
            known
                .as_ref()
                .is_none_or(|k| found.at.is_some_and(|t| k.at.is_none_or(|known| t < known)))
        };
        let later = |known: &Option<LineRef>| {
            known
                .as_ref()
                .is_none_or(|k| k.at.is_none() || found.at.is_some_and(|t| Some(t) >= k.at))
        };
        if earlier(&stats.first) {
            stats.first = Some(found.clone());
        }
        let example = || Example {
            path: file.path.clone(),
            line: line.number,
            text: line.text.to_string(),
            at: line.time,
        };
        match self.file.signatures.entry(signature(line.text)) {
            Entry::Occupied(mut known) => {
                let known = known.get_mut();
                known.0 += 1;
                // Later in the file, so the example only if earlier in time.
                if time_order(line.time) < time_order(known.1.at) {
                    known.1 = example();
                }
            }
            Entry::Vacant(new) => {
                new.insert((1, example()));
            }
        }
        if later(&stats.last) {
            stats.last = Some(found);
        }
        Ok(())
    }
}

impl Gatherer {
    /// The error lines before a file's first dated line happened just before
    /// it, as the timeline places them: a serial log's `[FAILED]` lines
    /// come before its first journal line.
    fn place_lines_before_the_first_dated(&mut self, time: Timestamp) {
        for found in [&mut self.stats.first, &mut self.stats.last]
            .into_iter()
            .flatten()
            .filter(|found| found.at.is_none())
        {
            found.at = Some(time);
            found.time = Some(time.to_string());
        }
        for (_, example) in self.file.signatures.values_mut() {
            example.at = example.at.or(Some(time));
        }
    }
}

/// Each start of a test, in time order. A marker rdd wrote in two logs is
/// one start; one log's markers of a test in the same second (bats tried it
/// again at once) are as many.
fn starts(tests: &BTreeSet<(Timestamp, (usize, u64), String)>) -> Vec<Test> {
    // Per time and name: the markers met in each file, and the starts
    // listed (as many as the file with the most of them holds).
    let mut in_file: HashMap<(Timestamp, &str, usize), usize> = HashMap::new();
    let mut listed: HashMap<(Timestamp, &str), usize> = HashMap::new();
    let mut starts = Vec::new();
    for (time, (file, _), name) in tests {
        let met = in_file.entry((*time, name, *file)).or_default();
        *met += 1;
        let shown = listed.entry((*time, name)).or_default();
        if *met > *shown {
            *shown += 1;
            starts.push(Test {
                time: time.to_string(),
                name: name.clone(),
            });
        }
    }
    starts
}

/// The test that had started last when the line at `place` was written at
/// `time`. rdd's markers have whole seconds: one written after the line in
/// the same second reads as earlier. In the line's own file, the order of
/// the lines tells; a marker of another file at the line's very time is one
/// placed after a line of that time (see `triage::scan`), so after it.
fn test_at(
    tests: &BTreeSet<(Timestamp, (usize, u64), String)>,
    time: Option<Timestamp>,
    place: (usize, u64),
) -> Option<String> {
    let time = time?;
    tests
        .iter()
        .take_while(|(t, ..)| *t <= time)
        .filter(|(t, (file, line), _)| match *file == place.0 {
            true => *line < place.1,
            false => *t < time,
        })
        .last()
        .map(|(.., name)| name.clone())
}

fn summarise(input: &std::path::Path) -> Result<(InputSummary, Signatures)> {
    let mut gatherer = Gatherer::default();
    let read = damage::scan(input, &mut gatherer)?;
    damage::report(input, &read, "the summary", damage::Kept::Nothing)?;
    read.warn_if_odd(input);
    let scanned = read.scanned;
    let damaged_end = read.stopped.as_ref().is_some_and(damage::is_damaged_end);
    let stopped = read.stopped.map(|e| damage::unreadable_archive(input, e));
    let manifest = scanned.manifest.as_ref();
    let records = triage::records_by_path(manifest);
    let label = triage::run_label(input, manifest);

    let mut run = BTreeMap::new();
    if let Some(m) = manifest {
        if let Some(github) = m["github"].as_object() {
            for (k, v) in github {
                if let Some(v) = v.as_str() {
                    run.insert(k.clone(), display_str(v));
                }
            }
        }
        for (key, value) in [
            ("collected", &m["created"]),
            ("host", &m["host"]["hostname"]),
            ("os", &m["host"]["os"]),
            ("arch", &m["host"]["arch"]),
            ("format", &m["archive"]["format"]),
            ("logkeep", &m["tool"]["version"]),
        ] {
            if let Some(v) = value.as_str() {
                run.insert(key.to_string(), display_str(v));
            }
        }
    }
    let instances = manifest
        .and_then(|m| m["instances"].as_array())
        .map(|list| {
            list.iter()
                .filter_map(|i| i["name"].as_str().map(display_str))
                .collect()
        })
        .unwrap_or_default();
    let mut vms: BTreeMap<(Option<String>, String), usize> = BTreeMap::new();
    for (path, _) in &gatherer.files {
        let place = Place::of(path, &records);
        if let Some(vm) = place.vm {
            *vms.entry((place.instance, vm)).or_default() += 1;
        }
    }
    let count = |key: &str| {
        manifest
            .and_then(|m| m["totals"][key].as_u64())
            .unwrap_or_default()
    };
    let redactions = manifest
        .and_then(|m| m["redaction"]["replacements"].as_object())
        .map(|r| r.values().filter_map(Value::as_u64).sum())
        .unwrap_or_default();

    let tests = &gatherer.all.tests;
    let mut bats = std::mem::take(&mut gatherer.all.bats);
    bats.finish();
    let mut logs_with_errors = Vec::new();
    let (mut errors, mut warnings) = (0, 0);
    let mut first_error: Option<FirstError> = None;
    for (path, stats) in &gatherer.files {
        errors += stats.errors;
        warnings += stats.warnings;
        let (Some(first), Some(last)) = (&stats.first, &stats.last) else {
            continue;
        };
        let with_test = |line: &LineRef| LineRef {
            test: test_at(tests, line.at, line.place),
            ..line.clone()
        };
        let first = with_test(first);
        if first.at.is_some()
            && first_error
                .as_ref()
                .is_none_or(|f| f.line.at.is_none() || first.at < f.line.at)
        {
            first_error = Some(FirstError {
                path: path.clone(),
                line: first.clone(),
            });
        }
        let place = Place::of(path, &records);
        logs_with_errors.push(LogErrors {
            path: path.clone(),
            instance: place.instance,
            vm: place.vm,
            errors: stats.errors,
            warnings: stats.warnings,
            first,
            last: with_test(last),
        });
    }
    let summary = InputSummary {
        input: display_path(input),
        label,
        run,
        has_manifest: manifest.is_some(),
        instances,
        vms: vms
            .into_iter()
            .map(|((instance, vm), files)| Vm {
                instance,
                vm,
                files,
            })
            .collect(),
        files: if manifest.is_some() {
            count("files") as usize
        } else {
            gatherer.seen_files
        },
        bytes: count("bytes"),
        skipped: count("skipped") as usize,
        problems: manifest
            .and_then(|m| m["problems"].as_array().cloned())
            .unwrap_or_default(),
        redactions,
        first_time: gatherer.all.first_time.map(|t| t.to_string()),
        last_time: gatherer.all.last_time.map(|t| t.to_string()),
        tests: starts(tests),
        bats_results: bats.tap,
        failed_tests: bats.failed,
        passed_tests: bats.passed,
        errors,
        distinct_errors: gatherer.all.error_lines.len() as u64,
        warnings,
        first_error,
        logs_with_errors,
        unreadable: read.unreadable,
        stopped: stopped.map(|e| e.message),
        damaged_end,
    };
    Ok((summary, gatherer.all.signatures))
}

/// The errors that some inputs have and not all. `incomplete` tells the
/// inputs not read whole.
fn differences(per_input: &[(String, Signatures)], incomplete: &[bool]) -> Vec<Difference> {
    let mut all: BTreeMap<&String, Vec<usize>> = BTreeMap::new();
    for (index, (_, signatures)) in per_input.iter().enumerate() {
        for signature in signatures.keys() {
            all.entry(signature).or_default().push(index);
        }
    }
    let mut out: Vec<Difference> = all
        .into_iter()
        .filter(|(_, inputs)| inputs.len() < per_input.len())
        .map(|(signature, inputs)| {
            // The earliest line of the signature, in any of these inputs.
            let (input, (count, example)) = inputs
                .iter()
                .map(|&i| (i, &per_input[i].1[signature]))
                .min_by(|(a, (_, x)), (b, (_, y))| {
                    let (x, y) = (x.order(), y.order());
                    (x.0, a, x.1, x.2).cmp(&(y.0, b, y.1, y.2))
                })
                .expect("a signature is in at least one input");
            Difference {
                signature: signature.clone(),
                only_in: inputs.iter().map(|&i| per_input[i].0.clone()).collect(),
                unsure_for: (0..per_input.len())
                    .filter(|i| incomplete[*i] && !inputs.contains(i))
                    .map(|i| per_input[i].0.clone())
                    .collect(),
                count: inputs
                    .iter()
                    .map(|&i| per_input[i].1[signature].0)
                    .sum::<u64>()
                    .max(*count),
                time: example.at.map(|t| t.to_string()),
                example: example.show(str::to_string),
                example_shown: example.show(cut),
                order: (
                    time_order(example.at),
                    input,
                    example.path.clone(),
                    example.line,
                ),
            }
        })
        .collect();
    out.sort_by(|a, b| a.order.cmp(&b.order));
    out
}

pub fn run(options: SummaryOptions) -> Result<ExitStatus> {
    let mut summaries = Vec::new();
    let mut signatures = Vec::new();
    let mut read = Vec::new();
    let mut unreadable = Vec::new();
    for input in &options.inputs {
        // One input that cannot be read does not hide the others' summaries.
        match summarise(input) {
            Ok((summary, found)) => {
                summaries.push(summary);
                signatures.push(found);
                read.push(input.as_path());
            }
            Err(error) if options.inputs.len() > 1 => {
                error.print();
                unreadable.push(Unread {
                    input: display_path(input),
                    error: error.message,
                });
            }
            Err(error) => return Err(error),
        }
    }
    if summaries.is_empty() {
        return Err(Error::new(format!(
            "none of the {} inputs could be read",
            options.inputs.len()
        )));
    }
    let labels = triage::unique_labels(
        &summaries
            .iter()
            .zip(&read)
            .map(|(s, p)| (s.label.clone(), *p))
            .collect::<Vec<_>>(),
    );
    for (summary, label) in summaries.iter_mut().zip(&labels) {
        summary.label = label.clone();
    }
    let incomplete: Vec<bool> = summaries.iter().map(InputSummary::incomplete).collect();
    let differences = (summaries.len() > 1).then(|| {
        differences(
            &labels.iter().cloned().zip(signatures).collect::<Vec<_>>(),
            &incomplete,
        )
    });
    let status = if unreadable.is_empty() && !incomplete.contains(&true) {
        ExitStatus::Success
    } else {
        ExitStatus::Problems
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let written = if options.json {
        let report = Report {
            inputs: &summaries,
            differences: differences.as_deref(),
            unreadable: &unreadable,
        };
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(&mut out, &summaries, differences.as_deref(), &unreadable)
    }
    .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Error::new(format!("cannot write the summary: {e}")))
        }
        _ => Ok(status),
    }
}

/// `1 error`, `2 errors`.
/// What to say of an error during a test that passed: it was one of the
/// test's failed tries, if it started more than once (bats tried it
/// again); else, with `why`, whose it may be.
fn passed_note(s: &InputSummary, name: &str, why: bool) -> &'static str {
    let retried = s.tests.iter().filter(|t| t.name == name).count() > 1;
    match (s.passed_tests.contains(name), retried, why) {
        (false, ..) => "",
        (true, true, _) => " (which passed on a later try)",
        (true, false, true) => " (which passed: the error may be a hook's, or a parallel test's)",
        (true, false, false) => " (which passed)",
    }
}

/// Whether a marker names a hook of a file or suite (`setup_suite: factory
/// reset`), not a test.
fn is_hook(name: &str) -> bool {
    crate::bats_results::FILE_HOOKS.iter().any(|hook| {
        name.strip_prefix(hook)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
    })
}

/// How many failed tests are named; `--json` lists every one.
const FAILED_SHOWN: usize = 10;

/// The failed tests, each with where bats says it failed and where the
/// artifact says so.
fn write_failed_tests(out: &mut impl Write, failed: &[FailedTest]) -> io::Result<()> {
    if failed.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "  failed      {}:",
        plural(failed.len() as u64, "BATS test")
    )?;
    for test in failed.iter().take(FAILED_SHOWN) {
        let detail = test
            .detail
            .as_ref()
            .map(|d| format!(" ({})", display_str(d)))
            .unwrap_or_default();
        let at = test
            .failed_at
            .as_ref()
            .map(|at| format!(" {}", display_str(at)))
            .unwrap_or_default();
        writeln!(
            out,
            "    {:?}{detail}{at}; see {}",
            display_str(&test.name),
            display_str(&test.found_in.join(", "))
        )?;
    }
    if failed.len() > FAILED_SHOWN {
        writeln!(
            out,
            "    and {} more (`--json` lists every one)",
            failed.len() - FAILED_SHOWN
        )?;
    }
    Ok(())
}

fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

fn clock(line: &LineRef) -> String {
    line.at
        .map(|t| t.time_of_day())
        .unwrap_or_else(|| "(no time)   ".to_string())
}

fn write_text(
    out: &mut impl Write,
    summaries: &[InputSummary],
    differences: Option<&[Difference]>,
    unreadable: &[Unread],
) -> io::Result<()> {
    for (index, s) in summaries.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", s.label)?;
        writeln!(out, "  input       {}", s.input)?;
        let fact = |key: &str| s.run.get(key).map(String::as_str);
        let mut run = Vec::new();
        if let Some(repo) = fact("github_repository") {
            run.push(repo.to_string());
        }
        if let Some(workflow) = fact("github_workflow") {
            run.push(format!("workflow {workflow}"));
        }
        if let Some(id) = fact("github_run_id") {
            match fact("github_run_attempt") {
                Some(attempt) => run.push(format!("run {id} (attempt {attempt})")),
                None => run.push(format!("run {id}")),
            }
        }
        if let Some(job) = fact("github_job") {
            run.push(format!("job {job}"));
        }
        if let Some(os) = fact("runner_os") {
            run.push(
                format!("{os} {}", fact("runner_arch").unwrap_or(""))
                    .trim()
                    .to_string(),
            );
        }
        if let Some(sha) = fact("github_sha") {
            run.push(format!(
                "commit {}",
                sha.chars().take(12).collect::<String>()
            ));
        }
        if !run.is_empty() {
            writeln!(out, "  run         {}", run.join(" · "))?;
        }
        if s.has_manifest {
            writeln!(
                out,
                "  collected   {} by logkeep {} on {} ({} {}) as {}",
                fact("collected").unwrap_or("?"),
                fact("logkeep").unwrap_or("?"),
                fact("host").unwrap_or("?"),
                fact("os").unwrap_or("?"),
                fact("arch").unwrap_or("?"),
                fact("format").unwrap_or("?"),
            )?;
        } else if s.stopped.is_some() {
            writeln!(
                out,
                "  collected   (manifest.json not read: facts of the run unknown)"
            )?;
        } else {
            writeln!(
                out,
                "  collected   (no manifest.json: facts of the run unknown)"
            )?;
        }
        if !s.instances.is_empty() {
            writeln!(out, "  instances   {}", s.instances.join(", "))?;
        }
        if !s.vms.is_empty() {
            let vms: Vec<String> = s
                .vms
                .iter()
                .map(|vm| match &vm.instance {
                    Some(instance) => format!("{} ({instance}, {} files)", vm.vm, vm.files),
                    None => format!("{} ({} files)", vm.vm, vm.files),
                })
                .collect();
            writeln!(out, "  VMs         {}", display_str(&vms.join(", ")))?;
        }
        if s.has_manifest {
            writeln!(
                out,
                "  files       {} ({}); {} skipped; {} at collection; {} redacted",
                s.files,
                human_size(s.bytes),
                s.skipped,
                plural(s.problems.len() as u64, "problem"),
                plural(s.redactions, "secret"),
            )?;
        } else {
            writeln!(
                out,
                "  files       {} (no manifest: skips, problems and redactions unknown)",
                s.files
            )?;
        }
        for problem in s.problems.iter().take(10) {
            writeln!(
                out,
                "    problem: {}: {}",
                display_str(problem["path"].as_str().unwrap_or("?")),
                display_str(problem["message"].as_str().unwrap_or("?"))
            )?;
        }
        for unreadable in &s.unreadable {
            writeln!(
                out,
                "  unreadable  {}: {} (left out)",
                display_str(&unreadable.path),
                display_str(&unreadable.reason)
            )?;
        }
        match &s.stopped {
            Some(stopped) if s.damaged_end => writeln!(
                out,
                "  damaged     {}; what was read from it may be altered",
                display_str(stopped)
            )?,
            Some(stopped) => writeln!(
                out,
                "  incomplete  {}; what comes after it is left out",
                display_str(stopped)
            )?,
            None => {}
        }
        if let (Some(first), Some(last)) = (&s.first_time, &s.last_time) {
            writeln!(out, "  logs span   {first} → {last}")?;
        }
        if let Some(last) = s.tests.last() {
            // A marker of a hook (`setup_suite: factory reset`) is not a
            // test; a test bats retries (BATS_TEST_RETRIES) starts again.
            let (hooks, tests): (Vec<&Test>, Vec<&Test>) =
                s.tests.iter().partition(|t| is_hook(&t.name));
            let mut starts: BTreeMap<&str, usize> = BTreeMap::new();
            for test in &tests {
                *starts.entry(test.name.as_str()).or_default() += 1;
            }
            let again = match starts.values().filter(|&&n| n > 1).count() {
                0 => String::new(),
                n => format!(", {n} of them more than once"),
            };
            let hooks = match hooks.len() {
                0 => String::new(),
                n => format!(" (and {})", plural(n as u64, "hook")),
            };
            writeln!(
                out,
                "  tests       {} started{again}{hooks}; the last: {:?} at {}",
                plural(starts.len() as u64, "BATS test"),
                display_str(&last.name),
                last.time
            )?;
        }
        if let Some(tap) = &s.bats_results {
            writeln!(
                out,
                "  results     {} failed, {} passed, {} skipped (bats' TAP lines)",
                tap.failed, tap.passed, tap.skipped
            )?;
        }
        write_failed_tests(out, &s.failed_tests)?;
        let distinct = match s.distinct_errors < s.errors {
            true => format!(
                ", {} of them distinct (copies of a log hold the same lines)",
                s.distinct_errors
            ),
            false => String::new(),
        };
        writeln!(
            out,
            "  errors      {} in {}{distinct}; {}",
            plural(s.errors, "error"),
            plural(
                s.logs_with_errors.iter().filter(|l| l.errors > 0).count() as u64,
                "log"
            ),
            plural(s.warnings, "warning")
        )?;
        if let Some(FirstError { path, line: first }) = &s.first_error {
            // In an input not read whole, the start of a later test may be
            // in what was lost: the test is the latest that was read.
            let unsure = match s.incomplete() {
                true => " (the latest started in what could be read)",
                false => "",
            };
            // Markers say when a test started, not when it ended: an error
            // after a test that passed is a hook's, or a test's that runs
            // beside it (`bats --jobs`).
            let during = first
                .test
                .as_ref()
                .map(|t| {
                    format!(
                        ", during test {:?}{unsure}{}",
                        display_str(t),
                        passed_note(s, t, true)
                    )
                })
                .unwrap_or_default();
            writeln!(
                out,
                "  first error {}{during}",
                first.time.as_deref().unwrap_or("?")
            )?;
            writeln!(
                out,
                "              {}:{}: {}",
                display_str(path),
                first.line,
                cut(&first.text)
            )?;
        }
        let with_errors: Vec<&LogErrors> =
            s.logs_with_errors.iter().filter(|l| l.errors > 0).collect();
        if !with_errors.is_empty() {
            writeln!(out, "  first and last error of each log:")?;
        }
        for log in with_errors {
            writeln!(
                out,
                "    {} ({})",
                display_str(&log.path),
                plural(log.errors, "error")
            )?;
            let mut test = None;
            for line in [&log.first, &log.last] {
                if std::ptr::eq(line, &log.last) && log.last.line == log.first.line {
                    break;
                }
                // The test, when it changes: errors belong to a test.
                if line.test.is_some() && line.test != test {
                    test = line.test.clone();
                    let name = test.as_deref().unwrap_or_default();
                    let passed = passed_note(s, name, false);
                    writeln!(out, "      in test {:?}{passed}:", display_str(name))?;
                }
                writeln!(
                    out,
                    "      {} :{:<5} {}",
                    clock(line),
                    line.line,
                    cut(&line.text)
                )?;
            }
        }
    }
    if let Some(differences) = differences {
        writeln!(out)?;
        if differences.is_empty() {
            writeln!(out, "Every job has the same errors.")?;
        } else {
            writeln!(out, "Errors not in every job ({}):", differences.len())?;
            for d in differences.iter().take(DIFFERENCES_SHOWN) {
                writeln!(
                    out,
                    "  only in {}: {}, e.g. {}",
                    d.only_in.join(", "),
                    plural(d.count, "line"),
                    display_str(&d.example_shown)
                )?;
            }
            if differences.len() > DIFFERENCES_SHOWN {
                writeln!(
                    out,
                    "  … and {} more (--json lists them all)",
                    differences.len() - DIFFERENCES_SHOWN
                )?;
            }
        }
        // An error missing from a job read in part may be in what was not read.
        for s in summaries.iter().filter(|s| s.incomplete()) {
            writeln!(
                out,
                "  caveat: {} was not read whole: an error \"only in\" the other jobs may be in its unread part",
                if s.input.ends_with(&s.label) {
                    s.input.clone()
                } else {
                    format!("{} ({})", s.label, s.input)
                }
            )?;
        }
    }
    // Said on stderr too; here so that a saved report shows it.
    if !unreadable.is_empty() {
        writeln!(out)?;
        writeln!(out, "Not read ({}):", unreadable.len())?;
        for u in unreadable {
            writeln!(out, "  {}: {}", u.input, display_str(&u.error))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_ignore_what_changes_between_runs() {
        assert_eq!(
            signature(
                r#"E0611 05:03:06.033773    5123 lima.go:402] "Hostagent exited" vm="test-stopped" pid=6057"#
            ),
            signature(
                r#"E0612 07:13:46.000001    777 lima.go:402] "Hostagent exited" vm="test-stopped" pid=8"#
            ),
        );
        assert_eq!(
            signature(r#"time="2026-06-11T05:03:06Z" level=error msg="failed to start VM" vm=x"#),
            "failed to start VM"
        );
        assert_eq!(
            signature(r#"{"level":"error","msg":"port 22 closed","time":"2026-06-11T05:02:58Z"}"#),
            "port # closed"
        );
    }
}
