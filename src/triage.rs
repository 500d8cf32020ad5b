//! Reading the logs inside an output, line by line, for `grep`, `timeline`,
//! `summary` and the time spans of `ls`: every file is streamed once (never
//! unpacked), each line gets the time and level of the record it belongs to,
//! and the manifest read on the way labels the input by its run.

use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::logline::{self, Level, LineInfo, LineReader, Record, Stamp};
use crate::manifest::MANIFEST_NAME;
use crate::reader::for_each_file_entry;
use crate::sanitize::display_path;
use crate::timestamp::{NANOS_PER_DAY, NANOS_PER_SEC, TimeArg, Timestamp};

/// Longest line kept whole; the rest of a longer line is skipped (and the
/// line marked), so memory stays bounded whatever the logs hold.
pub const MAX_LINE: usize = 64 * 1024;

/// A file of the input, as the scan meets it.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// Its path in the layout.
    pub path: String,
    pub mtime: Option<Timestamp>,
}

/// One line, with what its record says.
#[derive(Debug)]
pub struct Line<'a> {
    /// 1-based line number in its file.
    pub number: u64,
    /// The line, cleaned: no line end, no ANSI escapes, controls escaped.
    pub text: &'a str,
    pub info: &'a LineInfo,
    /// The line starts a record (it is not part of a stack or dump above).
    pub starts_record: bool,
    /// When the record this line belongs to was written: the line's own
    /// time, or that of the last dated line before it. `None` before the
    /// first dated line of the file.
    pub time: Option<Timestamp>,
    /// The time is the line's own.
    pub dated: bool,
    /// The level of the record the line belongs to.
    pub level: Option<Level>,
    /// The line was longer than [`MAX_LINE`] and cut.
    pub cut: bool,
}

/// What a command does with the lines of an input.
pub trait Visitor {
    /// Whether to read this file's lines.
    fn wants(&mut self, _file: &LogFile) -> bool {
        true
    }
    /// Whether lines need their time and level (false skips parsing them:
    /// a plain search is then only the match).
    fn needs_records(&self) -> bool {
        true
    }
    fn line(&mut self, file: &LogFile, line: &Line<'_>) -> Result<()>;
    /// After the file's last line. `binary` when it was skipped as binary.
    fn end_file(&mut self, _file: &LogFile, _binary: bool) -> Result<()> {
        Ok(())
    }
    /// Instead of `end_file`, when the file at `path` could be read only up
    /// to damage (see `commands::damage::scan`): its lines seen so far are
    /// all there will be.
    fn cut_short(&mut self, _path: &str) -> Result<()> {
        Ok(())
    }
}

/// What a scan learnt about its input besides the lines.
#[derive(Debug, Default)]
pub struct Scanned {
    pub manifest: Option<Value>,
    /// Files in the input besides the manifest, and how many were binary.
    pub files: u64,
    pub binary: u64,
}

impl Scanned {
    /// Say on stderr what a reader of the results must know about this
    /// input: that it holds nothing to read, or that it is not a logkeep
    /// output (so the run's facts are unknown, not "none").
    pub fn warn_if_odd(&self, input: &Path) {
        use std::io::Write;
        let mut stderr = std::io::stderr();
        let _ = if self.files == 0 {
            writeln!(
                stderr,
                "warning: {} holds no files to read",
                display_path(input)
            )
        } else if self.binary == self.files {
            self.warn_if_only_binary(input);
            Ok(())
        } else if self.manifest.is_none() {
            writeln!(
                stderr,
                "note: {} has no readable {MANIFEST_NAME}: its files are read as they are; the run's facts, sizes and collection problems are unknown",
                display_path(input)
            )
        } else {
            Ok(())
        };
    }

    /// Say that every file read is binary (archives, most likely), and what
    /// to do: also of an input read only up to damage.
    pub fn warn_if_only_binary(&self, input: &Path) {
        use std::io::Write;
        if self.files > 0 && self.binary == self.files {
            let _ = writeln!(
                std::io::stderr(),
                "warning: {} holds no text files ({} binary)\n  hint: {}",
                display_path(input),
                self.binary,
                crate::reader::unzip_hint(input)
            );
        }
    }
}

/// Stream every log file of the output at `input` (any format, also inside
/// GitHub's artifact zip) through `visitor`. `manifest.json` is not a log:
/// it is parsed and returned instead.
pub fn scan(input: &Path, visitor: &mut dyn Visitor) -> Result<Scanned> {
    let mut scanned = Scanned::default();
    scan_into(input, visitor, &mut scanned)?;
    Ok(scanned)
}

/// [`scan`], learning into `scanned`: what was learnt before an error (the
/// manifest, when the damage is past it) is kept.
pub fn scan_into(input: &Path, visitor: &mut dyn Visitor, scanned: &mut Scanned) -> Result<()> {
    let mut raw = Vec::with_capacity(4096);
    let mut text = String::with_capacity(4096);
    let mut head = Vec::new();
    // The run's date, for yearless lines in a file with no modification time.
    let mut last_full: Option<Timestamp> = None;
    let parse_lines = visitor.needs_records();
    for_each_file_entry(input, &mut |entry, data| {
        if entry.name == MANIFEST_NAME {
            scanned.manifest = read_manifest(input, data)?;
            return Ok(());
        }
        let file = LogFile {
            path: entry.name.to_string(),
            mtime: entry.mtime,
        };
        scanned.files += 1;
        if !visitor.wants(&file) {
            return Ok(());
        }
        // A buffer of up to 256 KiB, no larger than the file needs: the
        // reader zero-fills a new buffer before its first read, which for
        // thousands of small logs was most of the time spent.
        let capacity = usize::try_from(entry.size.saturating_add(1))
            .unwrap_or(usize::MAX)
            .clamp(8 * 1024, 256 * 1024);
        // Its first 64 KiB tell a binary file (see `looks_binary`); one read
        // may give less.
        head.clear();
        (&mut *data)
            .take(64 * 1024)
            .read_to_end(&mut head)
            .map_err(|e| read_error(input, &file.path, &e))?;
        let binary = looks_binary(&head);
        let data = io::Cursor::new(&head[..]).chain(data);
        let mut lines = LineReader::new(BufReader::with_capacity(capacity, data), MAX_LINE);
        let mut record = Record::default();
        let mut number = 0u64;
        // The time of the file's last dated line.
        let mut last_own: Option<Timestamp> = None;
        while !binary
            && let Some(read) = lines
                .next_line(&mut raw)
                .map_err(|e| read_error(input, &file.path, &e))?
        {
            number += 1;
            // A byte order mark (editors and tools on Windows write one)
            // would hide the first line's time and level.
            let own_text = match number {
                1 => raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw),
                _ => &raw,
            };
            logline::clean(own_text, &mut text);
            let info = if parse_lines {
                logline::parse(&text)
            } else {
                LineInfo::default()
            };
            let reference = file.mtime.or(last_full);
            let own = match info.stamp {
                Stamp::At(t) => {
                    last_full = Some(t);
                    Some(t)
                }
                Stamp::Yearless(y) => reference.and_then(|r| y.resolve(r)),
                Stamp::None => None,
            };
            // rdd's test markers have whole seconds: one written after a
            // line of the same second is at that line's time, not before
            // it (which would put the line in the test that followed).
            let own = match (own, &info.marker) {
                (Some(t), Some(logline::Marker::Test(_))) if t.0 % NANOS_PER_SEC == 0 => last_own
                    .filter(|last| *last > t && last.0 < t.0 + NANOS_PER_SEC)
                    .or(own),
                _ => own,
            };
            last_own = own.or(last_own);
            let starts_record = record.advance(&info, own);
            let line = Line {
                number,
                starts_record,
                text: &text,
                info: &info,
                time: record.time,
                dated: own.is_some(),
                level: record.level,
                cut: read.cut,
            };
            visitor.line(&file, &line)?;
        }
        // Drain what a binary file has left, so a tar stream stays in step.
        if binary {
            std::io::copy(&mut lines.into_inner(), &mut std::io::sink())
                .map_err(|e| read_error(input, &file.path, &e))?;
        }
        scanned.binary += u64::from(binary);
        visitor.end_file(&file, binary)
    })
}

/// Is this the start of a binary file rather than a log? Its first 8 KiB
/// must look binary, and so must the end of what `head` holds (its second
/// half when it is no longer), or hold a NUL: a serial console's log may
/// start with a firmware's bytes, its lines after them.
fn looks_binary(head: &[u8]) -> bool {
    let start = &head[..head.len().min(8192)];
    let end = match head.len() {
        len if len > 8192 => &head[len - 4096..],
        len => &head[len / 2..],
    };
    // (A log's lines hold no NUL; an executable's string table is text
    // between NULs.)
    looks_binary_alone(start) && (memchr::memchr(0, end).is_some() || looks_binary_alone(end))
}

/// Only bytes with a NUL can be binary; but NULs alone do not make them so:
/// a copytruncate rotation leaves a run of them where the log used to begin
/// (the reader leaves them out). Binary data (an executable, a compressed
/// or image file) has other control bytes and invalid UTF-8 among the rest;
/// text has next to none.
fn looks_binary_alone(head: &[u8]) -> bool {
    if memchr::memchr(0, head).is_none() {
        return false;
    }
    let rest: Vec<u8> = head.iter().copied().filter(|&b| b != 0).collect();
    let control = rest
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)) || b == 0x7f)
        .count();
    let invalid: usize = rest.utf8_chunks().map(|c| c.invalid().len()).sum();
    (control + invalid) * 10 > rest.len()
}

fn read_error(input: &Path, path: &str, err: &std::io::Error) -> Error {
    Error::new(format!(
        "cannot read {path} in {}: {}",
        display_path(input),
        crate::error::io_reason(err)
    ))
}

fn read_manifest(input: &Path, data: &mut dyn Read) -> Result<Option<Value>> {
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes)
        .map_err(|e| Error::io("read the manifest of", input, &e))?;
    // A damaged manifest costs the labels, not the logs.
    Ok(serde_json::from_slice(&bytes).ok())
}

/// Which lines a command keeps: `--level`, `--since`, `--until`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub level: Option<Level>,
    pub since: Option<TimeArg>,
    pub until: Option<TimeArg>,
}

impl Window {
    /// `--around T --window W`: from W before T to W after it.
    pub fn around(at: TimeArg, width: std::time::Duration) -> (TimeArg, TimeArg) {
        let nanos = i64::try_from(width.as_nanos()).unwrap_or(i64::MAX / 2);
        (at.shifted(-nanos), at.shifted(nanos))
    }

    pub fn has_time_bounds(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    /// Whether a line of this level passes `--level`.
    pub fn admits_level(&self, level: Option<Level>) -> bool {
        self.level
            .is_none_or(|wanted| level.is_some_and(|l| l >= wanted))
    }

    /// Whether a line of this time passes `--since` and `--until`; times of
    /// day are placed on the day the logs start (`logs_start`). A line whose
    /// time is unknown passes only when no bound is set.
    pub fn admits_time(&self, time: Option<Timestamp>, logs_start: Option<Timestamp>) -> bool {
        if !self.has_time_bounds() {
            return true;
        }
        let Some(time) = time else {
            return false;
        };
        let (since, until) = self.bounds(logs_start);
        since.is_none_or(|since| time >= since) && until.is_none_or(|until| time <= until)
    }

    /// Where a time of day in `--since` or `--until` was placed (`the
    /// window starts at …`), as it may not be the day the user had in mind;
    /// `None` when neither is a time of day.
    pub fn placed(&self, logs_start: Option<Timestamp>) -> Option<String> {
        let of_day = |arg: Option<TimeArg>| matches!(arg, Some(TimeArg::TimeOfDay(_)));
        if !of_day(self.since) && !of_day(self.until) {
            return None;
        }
        match self.bounds(logs_start) {
            (Some(since), Some(until)) => Some(format!("the window is {since} to {until}")),
            (Some(since), None) => Some(format!("the window starts at {since}")),
            (None, Some(until)) => Some(format!("the window ends at {until}")),
            (None, None) => None,
        }
    }

    /// `--since` and `--until` as points in time. Two times of day make one
    /// window: `--until` is placed on a day (see [`TimeArg::resolve`]) and
    /// `--since` on the same day, or the day before when it is later in the
    /// day by more than half a day (`23:00` to `01:00`). Placed apart,
    /// `08:30` to `10:30` around logs of 10:00 would have become the next
    /// day's 08:30 to this day's 10:30.
    pub fn bounds(&self, logs_start: Option<Timestamp>) -> (Option<Timestamp>, Option<Timestamp>) {
        if let (Some(TimeArg::TimeOfDay(since)), Some(until @ TimeArg::TimeOfDay(_))) =
            (self.since, self.until)
        {
            let Some(until) = until.resolve(logs_start) else {
                return (None, None);
            };
            let mut since = Timestamp(until.start_of_day().0 + since);
            // Across midnight when that makes a window of less than half a
            // day; `00:00:06` to `00:00:05` is a mistake, and said to be.
            if since > until && since.0 - until.0 > NANOS_PER_DAY / 2 {
                since = Timestamp(since.0 - NANOS_PER_DAY);
            }
            return (Some(since), Some(until));
        }
        (
            self.since.and_then(|s| s.resolve(logs_start)),
            self.until.and_then(|u| u.resolve_end(logs_start)),
        )
    }
}

/// Say that `--path` matched no file, and what the paths look like (from
/// `seen`, the input's paths): a filter that silently matches nothing
/// reads as "no problem there".
pub fn warn_no_file_matched(glob: &globset::GlobMatcher, seen: NearestPath) {
    let (sample, example) = match seen.nearest() {
        Some((path, Some(near))) => (Some(path), Some(format!("'{near}'"))),
        // `*` crosses `/` in `--path`: any folder, then the file's name.
        Some((path, None)) => {
            let name = path.rsplit('/').next().unwrap_or(&path);
            let stem = name.strip_suffix(".log").unwrap_or(name);
            let example = format!("'*/{stem}*'");
            (Some(path), Some(example))
        }
        None => (None, None),
    };
    warn_glob_matched_nothing("--path", glob.glob().glob(), sample.as_deref(), example, "");
}

/// The path to show when a glob option matched no file: one that the
/// pattern finds under any folder, as a folder, or as part of a name, with
/// the glob that does (`rdd.stderr.log` → `*/rdd.stderr.log`, `s` →
/// `s/*`, `s/web` → `s/web*`), else the first path seen.
#[derive(Default)]
pub struct NearestPath {
    /// Globs the user may have meant, the likeliest first.
    tries: Vec<(String, globset::GlobMatcher)>,
    /// The likeliest that matched (its place in `tries`), and the path.
    best: Option<(usize, String)>,
    first: Option<String>,
}

impl NearestPath {
    /// `any_folder` is how the option writes "under any folder": `*` in
    /// `--path`, whose `*` crosses `/`; `**` in `--only`, whose `*` stops
    /// at `/` (`literal_separator`).
    pub fn new(pattern: Option<&str>, any_folder: &str, literal_separator: bool) -> NearestPath {
        let tries = pattern
            .filter(|p| !p.is_empty())
            .map(|p| {
                let p = p.trim_matches('/');
                [
                    format!("{any_folder}/{p}"),
                    // A folder: what is below it.
                    format!("{p}/{any_folder}"),
                    format!("{p}*"),
                    format!("{any_folder}/{p}*"),
                    format!("{any_folder}/*{p}*"),
                ]
            })
            .into_iter()
            .flatten()
            .filter_map(|glob| {
                let matcher = globset::GlobBuilder::new(&glob)
                    .literal_separator(literal_separator)
                    .build()
                    .ok()?
                    .compile_matcher();
                Some((glob, matcher))
            })
            .collect();
        NearestPath {
            tries,
            ..NearestPath::default()
        }
    }

    pub fn see(&mut self, path: &str) {
        if self.first.is_none() {
            self.first = Some(path.to_string());
        }
        let untried = self.best.as_ref().map_or(self.tries.len(), |(i, _)| *i);
        if let Some(i) = self.tries[..untried]
            .iter()
            .position(|(_, m)| m.is_match(path))
        {
            self.best = Some((i, path.to_string()));
        }
    }

    /// What one input saw, then another.
    pub fn and(self, later: NearestPath) -> NearestPath {
        let best = match (self.best, later.best) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        NearestPath {
            tries: match self.tries.is_empty() {
                true => later.tries,
                false => self.tries,
            },
            best,
            first: self.first.or(later.first),
        }
    }

    /// The path to show, and the glob that finds it if the pattern nearly did.
    pub fn nearest(self) -> Option<(String, Option<String>)> {
        match self.best {
            Some((i, path)) => Some((path, self.tries.into_iter().nth(i).map(|(glob, _)| glob))),
            None => self.first.map(|path| (path, None)),
        }
    }
}

/// The warning of [`warn_no_file_matched`] for any option that takes a glob
/// of layout paths: `sample` is a path of the input, `example` a glob of
/// that option's syntax that matches it, `more` says what came of it.
pub fn warn_glob_matched_nothing(
    option: &str,
    pattern: &str,
    sample: Option<&str>,
    example: Option<String>,
    more: &str,
) {
    use std::io::Write;
    let paths = match (sample, example) {
        (Some(sample), Some(example)) => format!(
            "; paths are as `logkeep ls` shows them, such as {}: try {example}",
            crate::sanitize::display_str(sample)
        ),
        _ => ": the input holds no file".to_string(),
    };
    let _ = writeln!(
        std::io::stderr(),
        "warning: no file matched {option} {pattern:?}{paths}{more}"
    );
}

/// Where a file sits in the layout: its instance, its VM and its name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub instance: Option<String>,
    pub vm: Option<String>,
    pub file: String,
}

impl Place {
    /// From the manifest's record of the file when there is one, else from
    /// the layout's path (`INSTANCE/lima-VM/…`, `INSTANCE/VM[.N]/…`); with no
    /// manifest at all, only the path.
    pub fn of(path: &str, records: &HashMap<String, &Value>) -> Place {
        let file = path.rsplit('/').next().unwrap_or(path).to_string();
        // Without a manifest the layout is not known to be logkeep's: the
        // path says it all.
        if records.is_empty() {
            return Place {
                instance: None,
                vm: None,
                file: path.to_string(),
            };
        }
        if let Some(record) = records.get(path) {
            let text = |key: &str| record[key].as_str().map(str::to_string);
            return Place {
                instance: text("instance"),
                vm: text("vm"),
                file,
            };
        }
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            [instance, folder, _] if !instance.starts_with('_') => {
                let vm = folder.strip_prefix("lima-").unwrap_or_else(|| {
                    // A preserved folder's `.N` counts deletions, not VMs.
                    folder
                        .rsplit_once('.')
                        .filter(|(_, n)| n.parse::<u32>().is_ok())
                        .map_or(folder, |(name, _)| name)
                });
                Place {
                    instance: Some(instance.to_string()),
                    vm: Some(vm.to_string()),
                    file,
                }
            }
            [instance, _] if !instance.starts_with('_') => Place {
                instance: Some(instance.to_string()),
                vm: None,
                file,
            },
            _ => Place {
                instance: None,
                vm: None,
                file: path.to_string(),
            },
        }
    }
}

/// The manifest's file records by path.
pub fn records_by_path(manifest: Option<&Value>) -> HashMap<String, &Value> {
    manifest
        .and_then(|m| m["files"].as_array())
        .map(|files| {
            files
                .iter()
                .filter_map(|f| Some((f["path"].as_str()?.to_string(), f)))
                .collect()
        })
        .unwrap_or_default()
}

/// A short name for an input, from the run facts in its manifest: the
/// GitHub job and runner OS, else the host; the file name when there is no
/// manifest.
pub fn run_label(input: &Path, manifest: Option<&Value>) -> String {
    let file_name = input
        .file_name()
        .map(|n| display_path(Path::new(n)))
        .unwrap_or_else(|| display_path(input));
    let Some(manifest) = manifest else {
        return file_name;
    };
    let github = &manifest["github"];
    let fact = |key: &str| github[key].as_str().filter(|v| !v.is_empty());
    match (fact("github_job"), fact("runner_os")) {
        (Some(job), Some(os)) => format!("{job}/{os}"),
        (Some(job), None) => job.to_string(),
        _ => manifest["host"]["hostname"]
            .as_str()
            .map(crate::sanitize::display_str)
            .unwrap_or(file_name),
    }
}

/// Labels for several inputs, made unique where two runs would read the
/// same: by the file name, or the path as given when the file names are
/// alike too, or the file name and the input's place on the command line
/// (`#2`) when one input is given twice. grep, timeline and summary all
/// label by this.
pub fn unique_labels(labels: &[(String, &Path)]) -> Vec<String> {
    let file_name = |path: &Path| {
        path.file_name()
            .map(|n| display_path(Path::new(n)))
            .unwrap_or_else(|| display_path(path))
    };
    labels
        .iter()
        .enumerate()
        .map(|(index, (label, path))| {
            let alike: Vec<&Path> = labels
                .iter()
                .filter(|(other, _)| other == label)
                .map(|(_, p)| *p)
                .collect();
            if alike.len() == 1 {
                return label.clone();
            }
            // The first that tells this input from the others alike; one
            // that only repeats the label (no manifest) tells nothing.
            let unique = |tell: &dyn Fn(&Path) -> String| {
                let mine = tell(path);
                (mine != *label && alike.iter().filter(|p| tell(p) == mine).count() == 1)
                    .then_some(mine)
            };
            let tag = unique(&file_name)
                .or_else(|| unique(&display_path))
                .unwrap_or_else(|| format!("{} #{}", file_name(path), index + 1));
            format!("{label} ({tag})")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_times_of_day_make_one_window() {
        let at = |t: &str| crate::timestamp::parse_prefix(t).unwrap().0;
        let hours = |h: i64| TimeArg::TimeOfDay(h * 3600 * NANOS_PER_SEC);
        let window = |since: i64, until: i64| Window {
            since: Some(hours(since)),
            until: Some(hours(until)),
            ..Window::default()
        };
        let start = Some(at("2026-06-11T10:00:00Z"));
        assert_eq!(
            window(8, 11).bounds(start),
            (
                Some(at("2026-06-11T08:00:00Z")),
                Some(at("2026-06-11T11:00:00Z"))
            )
        );
        let late = Some(at("2026-06-11T23:30:00Z"));
        assert_eq!(
            window(23, 1).bounds(late),
            (
                Some(at("2026-06-11T23:00:00Z")),
                Some(at("2026-06-12T01:00:00Z"))
            )
        );
        // Inverted by a little: left so, and said to be.
        let (since, until) = window(11, 10).bounds(start);
        assert!(since > until);
    }

    #[test]
    fn nul_fill_is_not_binary_but_binary_data_is() {
        let log = b"time=\"2026-06-11T05:00:00Z\" level=info msg=x\n".repeat(20);
        assert!(!looks_binary(&log));
        let hole = [vec![0u8; 4096], log.clone()].concat();
        assert!(!looks_binary(&hole), "a copytruncate hole");
        assert!(!looks_binary(&[0u8; 8192]), "nothing but the hole so far");
        let utf16: Vec<u8> = "time=x level=error\r\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(!looks_binary(&utf16));
        // Bytes as a compressor or an executable leaves them.
        let mut state = 12345u32;
        let noise: Vec<u8> = (0..8192)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (state >> 16) as u8
            })
            .collect();
        assert!(looks_binary(&noise));
        let elf = [
            &b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\x01\0\0\0"[..],
            &[1, 2, 3, 0, 4, 5, 6, 0][..],
        ]
        .concat()
        .repeat(50);
        assert!(looks_binary(&elf));
        // A serial console's log after a firmware's bytes.
        let console = [
            &noise[..2000],
            &b"[    2.481223] EXT4-fs error\r\n".repeat(200),
        ]
        .concat();
        assert!(!looks_binary(&console));
        assert!(!looks_binary(&console[..7800]));
        // An executable whose first 64 KiB end in its string table.
        let strings = b"memcpy\0__libc_start_main\0error opening %s\0".repeat(300);
        let executable = [&elf[..], &noise[..], &strings[..]].concat();
        assert!(looks_binary(&executable));
    }

    #[test]
    fn places_files_from_their_layout_path() {
        let manifest = serde_json::json!({"files": [{"path": "x"}]});
        let none = records_by_path(Some(&manifest));
        let place = |p: &str| Place::of(p, &none);
        assert_eq!(
            place("bats-lima-controller/lima-test-stopped/ha.stderr.1.log"),
            Place {
                instance: Some("bats-lima-controller".into()),
                vm: Some("test-stopped".into()),
                file: "ha.stderr.1.log".into()
            }
        );
        assert_eq!(
            place("bats-lima-controller/test-vm-deleted.2/serial.log").vm,
            Some("test-vm-deleted".into())
        );
        assert_eq!(place("bats-lima-controller/rdd.stderr.log").vm, None);
        assert_eq!(place("_diag/typeperf.tsv").instance, None);
    }

    #[test]
    fn labels_that_read_alike_are_told_apart() {
        let labels = |inputs: &[(&str, &str)]| {
            unique_labels(
                &inputs
                    .iter()
                    .map(|(label, path)| (label.to_string(), Path::new(*path)))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            labels(&[("bats/Linux", "a.zip"), ("bats/macOS", "a.zip")]),
            ["bats/Linux", "bats/macOS"]
        );
        assert_eq!(
            labels(&[("bats/Linux", "x/a.zip"), ("bats/Linux", "y/b.zip")]),
            ["bats/Linux (a.zip)", "bats/Linux (b.zip)"]
        );
        assert_eq!(
            labels(&[("bats/Linux", "x/a.zip"), ("bats/Linux", "y/a.zip")]),
            ["bats/Linux (x/a.zip)", "bats/Linux (y/a.zip)"]
        );
        // Without a manifest the label is the file name: the path tells.
        assert_eq!(
            labels(&[("a.zip", "x/a.zip"), ("a.zip", "y/a.zip")]),
            ["a.zip (x/a.zip)", "a.zip (y/a.zip)"]
        );
        // One input twice: its place on the command line.
        assert_eq!(
            labels(&[
                ("bats/Linux", "a.tar.zst"),
                ("bats/macOS", "b.zip"),
                ("bats/Linux", "a.tar.zst")
            ]),
            [
                "bats/Linux (a.tar.zst #1)",
                "bats/macOS",
                "bats/Linux (a.tar.zst #3)"
            ]
        );
        assert_eq!(
            labels(&[("a.zip", "a.zip"), ("a.zip", "a.zip")]),
            ["a.zip (a.zip #1)", "a.zip (a.zip #2)"]
        );
    }
}
