//! What one log line says about itself: when it was written, at which level,
//! and whether it starts a record or continues the one before (a panic's
//! goroutine dump, a wrapped message). Every format of DOMAIN.md:
//! logrus text, Lima JSON lines and events, klog, BATS markers and titles,
//! guest journal, `LIMA …|`, kernel uptime stamps and syslog lines.

use std::fmt;
use std::io::{self, BufRead};

use memchr::memmem;
use serde::Serialize;

use crate::timestamp::{self, NANOS_PER_SEC, Timestamp, Yearless};

/// How severe a line is; ordered, so `--level warn` means warn and above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    /// The level a log names, in any of the spellings logrus, klog, zap and
    /// friends use.
    pub fn from_name(name: &str) -> Option<Level> {
        Some(match name.to_ascii_lowercase().as_str() {
            "trace" => Level::Trace,
            "debug" | "dbg" => Level::Debug,
            "info" | "notice" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" | "err" => Level::Error,
            "fatal" | "panic" | "crit" | "critical" | "dpanic" | "emerg" | "alert" => Level::Fatal,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// For clap: `--level error`.
pub fn parse_level(text: &str) -> Result<Level, String> {
    Level::from_name(text).ok_or_else(|| {
        format!("`{text}` is not a level; use trace, debug, info, warn, error or fatal")
    })
}

/// When a line says it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    At(Timestamp),
    /// klog and journal lines: placed with the file's modification time.
    Yearless(Yearless),
    None,
}

/// A line that marks a point in the run rather than reporting an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// `=== BATS: <time> <test name> ===`: a test starts.
    Test(String),
    /// `=== T ===` or `{"title":"T"}`, written by `RDD_LOG_TITLE`.
    Title(String),
}

/// The default is a line that says nothing of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    pub stamp: Stamp,
    pub level: Option<Level>,
    pub marker: Option<Marker>,
    /// False for the lines that continue a record (a panic's stack, the
    /// rest of a wrapped message): they belong with the line before.
    pub starts_record: bool,
}

impl Default for LineInfo {
    fn default() -> Self {
        LineInfo::continuation()
    }
}

impl LineInfo {
    fn start(stamp: Stamp, level: Option<Level>) -> LineInfo {
        LineInfo {
            stamp,
            level,
            marker: None,
            starts_record: true,
        }
    }

    fn continuation() -> LineInfo {
        LineInfo {
            stamp: Stamp::None,
            level: None,
            marker: None,
            starts_record: false,
        }
    }
}

/// Read what a cleaned line (see [`clean`]) says about itself.
pub fn parse(line: &str) -> LineInfo {
    let bytes = line.as_bytes();
    match bytes.first() {
        None => LineInfo::start(Stamp::None, None),
        Some(b'=') => parse_marker(line).unwrap_or_else(|| parse_crash(line)),
        Some(b'{') => parse_json(line),
        Some(b't') if line.starts_with("time=\"") => parse_logrus(line),
        Some(b'L') if line.starts_with("LIMA ") => match timestamp::parse_prefix(&line[5..]) {
            Some((t, _)) => LineInfo::start(Stamp::At(t), None),
            None => parse_crash(line),
        },
        Some(b'[') => parse_bracketed(line),
        Some(b'0'..=b'9') => match timestamp::parse_prefix(line) {
            Some((t, used)) => {
                let rest = &line[used..];
                let level = level_after(rest).or_else(|| kernel_level_of(rest));
                LineInfo::start(Stamp::At(t), level)
            }
            None => parse_crash(line),
        },
        Some(b'A'..=b'Z') => parse_klog_or_syslog(line),
        _ => parse_crash(line),
    }
}

/// klog `E0611 05:03:05.599284 …` (its letter is the level) or a syslog /
/// journal line `Jun 11 04:58:16 …`; both without a year.
fn parse_klog_or_syslog(line: &str) -> LineInfo {
    if let Some((letter, yearless)) = timestamp::parse_klog(line) {
        let level = match letter {
            b'I' => Level::Info,
            b'W' => Level::Warn,
            b'E' => Level::Error,
            _ => Level::Fatal,
        };
        return LineInfo::start(Stamp::Yearless(yearless), Some(level));
    }
    match timestamp::parse_syslog(line) {
        // (`Jun 11 04:58:16`: the time is 15 bytes.)
        Some(yearless) => LineInfo::start(
            Stamp::Yearless(yearless),
            line.get(15..).and_then(kernel_level_of),
        ),
        None => parse_crash(line),
    }
}

/// The level of a kernel's message in what follows a journal or syslog
/// line's time (` host kernel: Kernel panic - not syncing: …`), see
/// [`kernel_level`]. (Word by word: a search of every line for `kernel:`
/// cost timeline a fifth of its time.)
fn kernel_level_of(after_time: &str) -> Option<Level> {
    let rest = after_time.trim_start_matches(' ');
    let (_host, rest) = rest.split_once(' ')?;
    let message = rest.strip_prefix("kernel: ")?;
    // rsyslog keeps the kernel's own stamp: `kernel: [   31.100000] …`.
    let message = match message.strip_prefix('[').and_then(|m| m.split_once("] ")) {
        Some((stamp, rest))
            if stamp
                .trim()
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.') =>
        {
            rest
        }
        _ => message,
    };
    kernel_level(message)
}

/// The kernel gives its messages no level word, but these are how a guest
/// fails: a panic stops it; an oops, a BUG, the OOM killer, a file system
/// or I/O error, a segfault are errors; a task hung for minutes, a warning.
fn kernel_level(message: &str) -> Option<Level> {
    let message = message.trim_start();
    if message.starts_with("Kernel panic") {
        return Some(Level::Fatal);
    }
    const ERRORS: [&str; 4] = [
        "BUG: ",
        "Oops",
        "Out of memory: ",
        "general protection fault",
    ];
    if ERRORS.iter().any(|e| message.starts_with(e)) {
        return Some(Level::Error);
    }
    // Within the message: searchers made once (kernel lines are most of a
    // serial console's log, and a searcher made per line cost timeline a
    // tenth of its time). `error` is looked at closer when found.
    static WITHIN: std::sync::LazyLock<[memmem::Finder<'static>; 5]> =
        std::sync::LazyLock::new(|| {
            [
                "error",
                "watchdog: BUG: ",
                ": segfault at ",
                "memory: Killed process",
                "oom-killer",
            ]
            .map(memmem::Finder::new)
        });
    let bytes = message.as_bytes();
    let found = WITHIN.iter().enumerate().any(|(i, finder)| {
        finder.find(bytes).is_some()
            && (i != 0 || message.contains("-fs error") || message.contains(" I/O error"))
    });
    if found {
        return Some(Level::Error);
    }
    (message.starts_with("INFO: task ") && message.contains(" blocked for more than "))
        .then_some(Level::Warn)
}

/// `=== BATS: 2026-06-11T04:49:57+0000 create VM ===` and `=== rdd ===`.
fn parse_marker(line: &str) -> Option<LineInfo> {
    // (Blanks after the marker, as an echo with a trailing space leaves,
    // are not part of it.)
    let inner = line.trim_end().strip_prefix("=== ")?.strip_suffix(" ===")?;
    if let Some(rest) = inner.strip_prefix("BATS: ") {
        let (t, used) = timestamp::parse_prefix(rest)?;
        let name = rest[used..].trim().to_string();
        return Some(LineInfo {
            marker: Some(Marker::Test(name)),
            ..LineInfo::start(Stamp::At(t), None)
        });
    }
    // `=== support-bundle: 2026-06-11T05:03:05+0000 timeout after 300s ===`:
    // a titled section with the time it was written.
    if let Some((_, rest)) = inner.split_once(": ")
        && let Some((t, _)) = timestamp::parse_prefix(rest)
    {
        return Some(LineInfo {
            marker: Some(Marker::Title(inner.trim().to_string())),
            ..LineInfo::start(Stamp::At(t), None)
        });
    }
    Some(LineInfo {
        marker: Some(Marker::Title(inner.trim().to_string())),
        ..LineInfo::start(Stamp::None, None)
    })
}

/// The raw string value of `"key":"…"` in a JSON line (escapes left as
/// they are), without parsing the whole line: `quoted_key` is the key with
/// its quotes, colon and opening quote, e.g. `"msg":"`. Blanks around the
/// colon are allowed (`"msg": "…"`, as Python's `json.dumps` writes).
pub fn json_string<'a>(line: &'a str, quoted_key: &str) -> Option<&'a str> {
    let key = quoted_key.strip_suffix(":\"").unwrap_or(quoted_key);
    let at = json_value_at(line, key)?;
    let rest = line.as_bytes()[at..].strip_prefix(b"\"")?;
    let at = at + 1;
    // The closing quote is the first one not escaped by a backslash.
    let mut end = 0;
    loop {
        end += memchr::memchr(b'"', &rest[end..])?;
        let backslashes = rest[..end]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return Some(&line[at..at + end]);
        }
        end += 1;
    }
}

/// Where the value of `key` (with its quotes: `"ts"`) starts in a JSON
/// line: the first place the key is followed by a colon (a key's name may
/// also be another key's value, `"msg":"time"`).
fn json_value_at(line: &str, key: &str) -> Option<usize> {
    let blank = |b: &u8| matches!(b, b' ' | b'\t');
    let bytes = line.as_bytes();
    let mut from = 0;
    loop {
        let after = from + memmem::find(&bytes[from..], key.as_bytes())? + key.len();
        from = after;
        let blanks = bytes[after..].iter().take_while(|b| blank(b)).count();
        if bytes.get(after + blanks) != Some(&b':') {
            continue;
        }
        let value = after + blanks + 1;
        return Some(value + bytes[value..].iter().take_while(|b| blank(b)).count());
    }
}

/// A time given as a number since the Unix epoch, as zap's production
/// encoder writes `"ts":1781172095.25`: seconds (10 digits before the
/// point), or milliseconds, microseconds, nanoseconds (13, 16, 19).
fn json_epoch(line: &str, key: &str) -> Option<Timestamp> {
    let at = json_value_at(line, key)?;
    let rest = &line[at..];
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (whole, fraction) = rest[..len].split_once('.').unwrap_or((&rest[..len], ""));
    let scale: i64 = match whole.len() {
        10 => NANOS_PER_SEC,
        13 => 1_000_000,
        16 => 1_000,
        19 => 1,
        _ => return None,
    };
    let whole: i64 = whole.parse().ok()?;
    // The fraction, in nanoseconds: its first nine digits at most.
    let digits = fraction.len().min(9);
    let fraction: i64 = match digits {
        0 => 0,
        n => fraction[..n].parse::<i64>().ok()? * 10_i64.pow(9 - n as u32),
    };
    Some(Timestamp(
        whole.checked_mul(scale)? + fraction * scale / NANOS_PER_SEC,
    ))
}

/// Lima's JSON lines `{"level":…,"msg":…,"time":…}`, its events
/// `{"time":…,"status":{…}}`, and `{"title":"T"}`.
fn parse_json(line: &str) -> LineInfo {
    if let Some(title) = line
        .strip_prefix("{\"title\":\"")
        .and_then(|rest| rest.strip_suffix("\"}"))
    {
        return LineInfo {
            marker: Some(Marker::Title(title.to_string())),
            ..LineInfo::start(Stamp::None, None)
        };
    }
    // Lima and logrus write `time`; zap and others `ts` or `timestamp`.
    let stamp = json_string(line, r#""time":""#)
        .or_else(|| json_string(line, r#""ts":""#))
        .or_else(|| json_string(line, r#""timestamp":""#))
        .and_then(timestamp::parse_prefix)
        .map(|(t, _)| t)
        .or_else(|| json_epoch(line, r#""ts""#))
        .or_else(|| json_epoch(line, r#""time""#))
        .map_or(Stamp::None, Stamp::At);
    let level = json_string(line, r#""level":""#).and_then(Level::from_name);
    LineInfo::start(stamp, level)
}

/// logrus text: `time="…" level=info msg="…" k=v`.
fn parse_logrus(line: &str) -> LineInfo {
    let stamp = timestamp::parse_prefix(&line[6..]).map_or(Stamp::None, |(t, _)| Stamp::At(t));
    let level = memmem::find(line.as_bytes(), b" level=").and_then(|at| {
        let rest = &line[at + 7..];
        let end = rest.find(' ').unwrap_or(rest.len());
        Level::from_name(rest[..end].trim_matches('"'))
    });
    LineInfo::start(stamp, level)
}

/// A level word right after a line's time: `2026-… ERROR …`, `… [warn] …`,
/// `… level=error …`.
fn level_after(rest: &str) -> Option<Level> {
    let rest = rest.trim_start();
    if let Some(at) = memmem::find(rest.as_bytes(), b"level=") {
        let value = &rest[at + 6..];
        let end = value.find(' ').unwrap_or(value.len());
        return Level::from_name(value[..end].trim_matches('"'));
    }
    let word = rest.split([' ', ':']).next()?;
    let word = word.trim_matches(|c| c == '[' || c == ']');
    // Only shouted or bracketed level words: `error` alone is often a message.
    (word.len() >= 4 && word.chars().all(|c| c.is_ascii_uppercase()))
        .then(|| Level::from_name(word))
        .flatten()
}

/// Kernel `[    2.481223] …` (seconds since boot: no time of day) and
/// systemd's `[  OK  ]` / `[FAILED]` status lines.
fn parse_bracketed(line: &str) -> LineInfo {
    let Some(end) = line.find(']') else {
        return parse_crash(line);
    };
    let inside = line[1..end].trim();
    // `[2026-06-11 05:00:05] …`
    if let Some((t, used)) = timestamp::parse_prefix(inside)
        && used == inside.len()
    {
        return LineInfo::start(Stamp::At(t), level_after(&line[end + 1..]));
    }
    if !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return LineInfo::start(Stamp::None, kernel_level(&line[end + 1..]));
    }
    match inside {
        "FAILED" => LineInfo::start(Stamp::None, Some(Level::Error)),
        _ => LineInfo::start(Stamp::None, None),
    }
}

/// A Go crash starts a record at fatal level, with no time; the goroutine
/// dump that follows belongs to it (see [`Record`]). Other lines without a
/// time are records of their own, without a level, unless indented: an
/// indented line continues the one above.
fn parse_crash(line: &str) -> LineInfo {
    const STARTS: [&str; 4] = ["panic: ", "fatal error: ", "SIGQUIT: ", "SIGABRT: "];
    if STARTS.iter().any(|s| line.starts_with(s)) {
        LineInfo::start(Stamp::None, Some(Level::Fatal))
    } else if line.starts_with([' ', '\t']) {
        LineInfo::continuation()
    } else {
        LineInfo::start(Stamp::None, None)
    }
}

/// The record being read, for the lines that have no time or level of their
/// own: a continuation (an indented line) and a crash's goroutine dump take
/// the level of the line that started them, and every undated line takes
/// the time of the last dated line before it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Record {
    pub time: Option<Timestamp>,
    pub level: Option<Level>,
    /// In a Go crash dump, until the next dated or levelled line.
    crash: bool,
}

impl Record {
    /// Take in the next line, with its own time (yearless ones resolved).
    /// True when the line starts a new record.
    pub fn advance(&mut self, info: &LineInfo, own: Option<Timestamp>) -> bool {
        let plain = own.is_none() && info.level.is_none() && info.marker.is_none();
        let starts = info.starts_record && !(plain && self.crash);
        if starts {
            self.level = info.level;
            self.crash = own.is_none() && info.level == Some(Level::Fatal);
        }
        if own.is_some() {
            self.time = own;
        }
        starts
    }
}

/// Make a raw line printable and parseable: drop the line end and a CR,
/// remove ANSI escape sequences (serial consoles colour their output), decode
/// as UTF-8 (invalid bytes become U+FFFD), drop NUL bytes (fill, not text)
/// and show other control characters escaped, so a hostile log cannot drive
/// the terminal; so are the controls that reorder text (U+202A-U+202E,
/// U+2066-U+2069), which make a line show other than it reads.
pub fn clean(raw: &[u8], out: &mut String) {
    out.clear();
    let mut raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    // Most lines are printable ASCII: take them as they are. One pass
    // without an early exit, which the compiler vectorises.
    let odd = raw.iter().fold(false, |odd, &b| {
        odd | ((b < 0x20) & (b != b'\t')) | (b >= 0x7f)
    });
    if !odd && let Ok(text) = std::str::from_utf8(raw) {
        out.push_str(text);
        return;
    }
    let text = String::from_utf8_lossy(raw);
    let bytes = text.as_bytes();
    // Copy the runs between the bytes that may start a control character
    // (C0, DEL, 0xC2 which leads C1 controls, 0xE2 which leads the
    // reordering ones) in one go.
    let special = |b: u8| (b < 0x20 && b != b'\t') || b == 0x7f || b == 0xc2 || b == 0xe2;
    let mut at = 0;
    while at < bytes.len() {
        let run = bytes[at..]
            .iter()
            .position(|&b| special(b))
            .map_or(bytes.len(), |n| at + n);
        out.push_str(&text[at..run]);
        at = run;
        let Some(c) = text[at..].chars().next() else {
            break;
        };
        at += c.len_utf8();
        match c {
            '\x1b' => {
                // CSI: ESC [ parameters… final byte in @..~. Other escapes: one char.
                if bytes.get(at) == Some(&b'[') {
                    // The final byte is ASCII: no byte of a multi-byte
                    // character is in that range.
                    at = bytes[at + 1..]
                        .iter()
                        .position(|b| (b'@'..=b'~').contains(b))
                        .map_or(bytes.len(), |n| at + 1 + n + 1);
                } else if let Some(next) = text[at..].chars().next() {
                    at += next.len_utf8();
                }
            }
            // Fill, not text (see `LineReader::next_line`).
            '\0' => {}
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
}

/// Reads lines of at most `max` bytes: a longer line is cut, and the rest of
/// it skipped, so one huge line cannot take the memory. NUL bytes are left
/// out (see `next_line`); line numbers still count every line end.
pub struct LineReader<R> {
    inner: R,
    max: usize,
}

/// What [`LineReader::next_line`] read.
pub struct RawLine {
    /// The line was longer than the limit: the rest of it was skipped.
    pub cut: bool,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader { inner, max }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The bytes ahead, without consuming them (at least the first read's).
    pub fn peek(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    /// Read the next line into `buf` (cleared first). `None` at the end.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<RawLine>> {
        buf.clear();
        let mut cut = false;
        let mut any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(any.then_some(RawLine { cut }));
            }
            let (chunk, done) = match memchr::memchr(b'\n', available) {
                Some(at) => (&available[..=at], true),
                None => (available, false),
            };
            let used = chunk.len();
            // NUL bytes are fill, not text: a copytruncate rotation leaves a
            // run of them (often megabytes) where the file used to begin, and
            // a file that shrank while collected ends with them. Left out,
            // and not counted against the limit, so the line after a run
            // keeps its time and level.
            let mut rest = chunk;
            while !rest.is_empty() {
                let (text, after) = match memchr::memchr(0, rest) {
                    Some(at) => {
                        let run = rest[at..].iter().take_while(|&&b| b == 0).count();
                        (&rest[..at], &rest[at + run..])
                    }
                    None => (rest, &[][..]),
                };
                let room = self.max.saturating_sub(buf.len());
                if text.len() > room {
                    cut = true;
                }
                buf.extend_from_slice(&text[..text.len().min(room)]);
                any |= !text.is_empty();
                rest = after;
            }
            self.inner.consume(used);
            if done {
                return Ok(Some(RawLine { cut }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(line: &str) -> LineInfo {
        let mut clean_line = String::new();
        clean(line.as_bytes(), &mut clean_line);
        parse(&clean_line)
    }

    fn at(text: &str) -> Stamp {
        Stamp::At(timestamp::parse_prefix(text).unwrap().0)
    }

    #[test]
    fn reads_every_format() {
        let logrus =
            info(r#"time="2026-06-11T05:03:06Z" level=error msg="failed to start VM" vm=x"#);
        assert_eq!(
            (logrus.stamp, logrus.level),
            (at("2026-06-11T05:03:06Z"), Some(Level::Error))
        );

        let json = info(
            r#"{"level":"warning","msg":"guest agent connection closed: EOF","time":"2026-06-11T04:52:03Z"}"#,
        );
        assert_eq!(
            (json.stamp, json.level),
            (at("2026-06-11T04:52:03Z"), Some(Level::Warn))
        );

        let event =
            info(r#"{"time":"2026-06-11T04:49:41.538989202Z","status":{"sshLocalPort":45013}}"#);
        assert_eq!(
            (event.stamp, event.level),
            (at("2026-06-11T04:49:41.538989202Z"), None)
        );

        let klog = info(r#"E0611 05:03:05.599284    5123 lima.go:288] "Timed out waiting for VM""#);
        assert!(matches!(klog.stamp, Stamp::Yearless(_)));
        assert_eq!(klog.level, Some(Level::Error));

        let spaced = info("=== BATS: 2026-06-11T04:49:57+0000 create VM test-vm-deleted ===  \t");
        assert_eq!(
            spaced.marker,
            Some(Marker::Test("create VM test-vm-deleted".into()))
        );
        let bats = info("=== BATS: 2026-06-11T04:49:57+0000 create VM test-vm-deleted ===");
        assert_eq!(bats.stamp, at("2026-06-11T04:49:57Z"));
        assert_eq!(
            bats.marker,
            Some(Marker::Test("create VM test-vm-deleted".into()))
        );

        assert_eq!(
            info("=== rdd ===").marker,
            Some(Marker::Title("rdd".into()))
        );
        let section = info("=== support-bundle: 2026-06-11T05:03:05+0000 timeout after 300s ===");
        assert_eq!(section.stamp, at("2026-06-11T05:03:05Z"));
        assert_eq!(
            info(r#"{"title":"ha"}"#).marker,
            Some(Marker::Title("ha".into()))
        );

        let guest = info("2026-06-11T04:50:11+0000 lima-x systemd[1]: Started ssh.service.");
        assert_eq!(guest.stamp, at("2026-06-11T04:50:11Z"));
        let lima = info("LIMA 2026-06-11T04:50:12+00:00| Executing /mnt/lima-cidata/boot/00.sh");
        assert_eq!(lima.stamp, at("2026-06-11T04:50:12Z"));

        let journal =
            info("Jun 11 04:58:16 systemd[1]: ssh.service: Failed with result 'exit-code'.\r");
        assert!(matches!(journal.stamp, Stamp::Yearless(_)));

        let kernel = info("[    2.481223] systemd[1]: Detected virtualization kvm.\r");
        assert_eq!((kernel.stamp, kernel.starts_record), (Stamp::None, true));

        let failed =
            info("[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mssh.service\x1b[0m.\r");
        assert_eq!(failed.level, Some(Level::Error));

        let panic = info("panic: runtime error: invalid memory address or nil pointer dereference");
        assert_eq!(
            (panic.level, panic.starts_record),
            (Some(Level::Fatal), true)
        );
        assert!(!info("\tmain.go:42 +0x1d").starts_record);

        let shouted = info("2026-06-11T04:50:11Z ERROR something broke");
        assert_eq!(shouted.level, Some(Level::Error));
        let go_log = info("2026/06/11 05:00:04 listening on :8080");
        assert_eq!(go_log.stamp, at("2026-06-11T05:00:04Z"));
        let bracketed = info("[2026-06-11 05:00:05] WARN disk almost full");
        assert_eq!(
            (bracketed.stamp, bracketed.level),
            (at("2026-06-11T05:00:05Z"), Some(Level::Warn))
        );
        let zap = info(r#"{"level":"error","ts":"2026-06-11T05:00:06Z","msg":"x"}"#);
        assert_eq!(zap.stamp, at("2026-06-11T05:00:06Z"));
    }

    /// The level each line of `lines` gets from its record.
    fn levels(lines: &[&str]) -> Vec<Option<Level>> {
        let mut record = Record::default();
        lines
            .iter()
            .map(|line| {
                let parsed = info(line);
                let own = match parsed.stamp {
                    Stamp::At(t) => Some(t),
                    _ => None,
                };
                record.advance(&parsed, own);
                record.level
            })
            .collect()
    }

    #[test]
    fn a_crash_dump_keeps_its_level_and_a_plain_line_does_not() {
        let crash = levels(&[
            r#"{"level":"info","msg":"x","time":"2026-06-11T05:00:00Z"}"#,
            "panic: runtime error: invalid memory address",
            "",
            "goroutine 57 [running]:",
            "github.com/lima-vm/lima/v2/pkg/hostagent.(*HostAgent).closeSSH(0xc0001e6000)",
            "\t/home/runner/work/lima/lima/pkg/hostagent/hostagent.go:612 +0x64",
            r#"{"level":"info","msg":"y","time":"2026-06-11T05:00:01Z"}"#,
        ]);
        let fatal = Some(Level::Fatal);
        assert_eq!(
            crash,
            [
                Some(Level::Info),
                fatal,
                fatal,
                fatal,
                fatal,
                fatal,
                Some(Level::Info)
            ]
        );
        let serial = levels(&[
            "[FAILED] Failed to start ssh.service - OpenBSD Secure Shell server.",
            "",
            "See 'systemctl status ssh.service' for details.",
            "  an indented continuation",
            "Ubuntu 24.04.2 LTS lima-test-stopped ttyS0",
        ]);
        assert_eq!(serial, [Some(Level::Error), None, None, None, None]);
    }

    #[test]
    fn a_guest_kernel_failing_is_an_error() {
        let kernel = levels(&[
            "[    2.481223] EXT4-fs (vda1): mounted filesystem",
            "[   31.100000] EXT4-fs error (device vda1): ext4_lookup:1855: inode #2: comm ls",
            "[   31.200000] BUG: kernel NULL pointer dereference, address: 0000000000000000",
            "[   31.300000] Oops: 0002 [#1] PREEMPT SMP NOPTI",
            "[   31.400000] Out of memory: Killed process 4242 (k3s-server)",
            "[   31.500000] blk_update_request: I/O error, dev vda, sector 2048",
            "[   31.600000] INFO: task kworker/0:1:42 blocked for more than 120 seconds.",
            "[   31.700000] Kernel panic - not syncing: Attempted to kill init!",
        ]);
        let error = Some(Level::Error);
        assert_eq!(
            kernel,
            [
                None,
                error,
                error,
                error,
                error,
                error,
                Some(Level::Warn),
                Some(Level::Fatal)
            ]
        );
        let journal = levels(&[
            "Jun 11 10:09:59 vm-x kernel: Kernel panic - not syncing: VFS",
            "2026-06-11T04:50:11+0000 lima-vm kernel: Out of memory: Killed process 1 (x)",
            "Jun 11 10:09:58 vm-x kernel: virtio_net virtio0 eth0: renamed from veth",
            "Jun 11 10:09:58 vm-x bash[42]: Kernel panic in a message is not the kernel's",
        ]);
        assert_eq!(journal, [Some(Level::Fatal), error, None, None]);
        let more = levels(&[
            "Jun 11 10:09:57 vm-x kernel: [   31.100000] Kernel panic - not syncing: VFS",
            "Jun 11 10:09:57 vm-x kernel: [   31.000000] Oops: general protection fault",
            "[   31.400000] cloud-init[567]: util.py[WARNING]: no error found, BUG: none",
            "[   31.500000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s!",
        ]);
        assert_eq!(more, [Some(Level::Fatal), error, None, error]);
    }

    #[test]
    fn finds_a_json_string_past_escaped_quotes() {
        let line = r#"{"msg":"say \"hi\" \\","time":"x"}"#;
        assert_eq!(json_string(line, r#""msg":""#), Some(r#"say \"hi\" \\"#));
        assert_eq!(json_string(line, r#""time":""#), Some("x"));
        assert_eq!(json_string(line, r#""level":""#), None);
        // Blanks around the colon, and a key's name as another's value.
        let spaced = r#"{"msg": "time", "time" : "2026-06-11T04:50:02Z"}"#;
        assert_eq!(
            json_string(spaced, r#""time":""#),
            Some("2026-06-11T04:50:02Z")
        );
    }

    #[test]
    fn json_lines_with_blanks_and_epoch_times_have_their_time_and_level() {
        let python = parse(r#"{"time": "2026-06-11T04:50:02Z", "level": "error", "msg": "x"}"#);
        assert_eq!(python.level, Some(Level::Error));
        assert_eq!(
            python.stamp,
            Stamp::At(timestamp::parse_prefix("2026-06-11T04:50:02Z").unwrap().0)
        );
        let at = timestamp::parse_prefix("2026-06-11T04:50:02.25Z")
            .unwrap()
            .0;
        for line in [
            r#"{"level":"error","ts":1781153402.25,"msg":"x"}"#,
            r#"{"level":"error","ts":1781153402250,"msg":"x"}"#,
            r#"{"level":"error","time":1781153402250000000}"#,
        ] {
            assert_eq!(parse(line).stamp, Stamp::At(at), "{line}");
        }
        // Not a time: too few digits (a duration, a count).
        assert_eq!(parse(r#"{"ts":12.5,"level":"info"}"#).stamp, Stamp::None);
    }

    #[test]
    fn cleans_escapes_and_line_ends() {
        let mut out = String::new();
        clean(b"[\x1b[0;32m  OK  \x1b[0m] Started x\r\n", &mut out);
        assert_eq!(out, "[  OK  ] Started x");
        clean(b"bell\x07 and \xff\n", &mut out);
        assert_eq!(out, "bell\\x07 and \u{fffd}");
        clean("user \u{202e}gnp.exe\u{202c} … ─ ok".as_bytes(), &mut out);
        assert_eq!(out, "user \\u{202e}gnp.exe\\u{202c} … ─ ok");
        clean(b"\0\0time=x\0 level=error\n", &mut out);
        assert_eq!(out, "time=x level=error");
    }

    /// `clean` as it was first written, one character at a time: the
    /// faster one must say the same of any bytes.
    fn clean_char_by_char(raw: &[u8]) -> String {
        let mut out = String::new();
        let mut raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' => {
                    if chars.peek() == Some(&'[') {
                        chars.next();
                        for c in chars.by_ref() {
                            if ('@'..='~').contains(&c) {
                                break;
                            }
                        }
                    } else {
                        chars.next();
                    }
                }
                '\t' => out.push('\t'),
                '\0' => {}
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn cleans_any_bytes_as_one_character_at_a_time_does() {
        // Pieces that meet every branch, joined in pseudo-random order.
        let pieces: [&[u8]; 16] = [
            b"plain text ",
            b"\x1b[0;32m",
            b"\x1b[",
            b"\x1b",
            b"\x1b\xc3\xa9",
            b"\x1b[1\xc3\xa9m",
            "é ü \u{85} \u{9f} \u{a0} 日本".as_bytes(),
            b"\xc2",
            b"\xff\xfe",
            b"\0\0",
            b"\t",
            b"\x07\x7f",
            b"\r",
            b"\n",
            b"[",
            b"m@~",
        ];
        let mut seed = 0x2545_f491_u32;
        let mut out = String::new();
        for _ in 0..20_000 {
            let mut raw = Vec::new();
            for _ in 0..(seed % 7) {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                raw.extend_from_slice(pieces[(seed >> 16) as usize % pieces.len()]);
            }
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            clean(&raw, &mut out);
            assert_eq!(out, clean_char_by_char(&raw), "{raw:?}");
        }
    }

    #[test]
    fn leaves_out_nul_fill_without_counting_it() {
        // A copytruncate hole longer than the limit, then the next line; a
        // NUL tail after the last line end is no line at all.
        let data = [
            &[0u8; 100][..],
            b"after the hole\n",
            b"x\0\0y\n",
            &[0u8; 30],
        ]
        .concat();
        let mut reader = LineReader::new(io::BufReader::with_capacity(8, &data[..]), 20);
        let mut buf = Vec::new();
        assert!(!reader.next_line(&mut buf).unwrap().unwrap().cut);
        assert_eq!(buf, b"after the hole\n");
        assert!(!reader.next_line(&mut buf).unwrap().unwrap().cut);
        assert_eq!(buf, b"xy\n");
        assert!(reader.next_line(&mut buf).unwrap().is_none());
        // Only NULs: no line.
        let mut reader = LineReader::new(io::BufReader::new(&[0u8; 50][..]), 20);
        assert!(reader.next_line(&mut buf).unwrap().is_none());
    }

    #[test]
    fn cuts_long_lines_without_reading_them_whole() {
        let data = format!("short\n{}\nafter", "x".repeat(100));
        let mut reader = LineReader::new(io::BufReader::with_capacity(8, data.as_bytes()), 10);
        let mut buf = Vec::new();
        assert!(!reader.next_line(&mut buf).unwrap().unwrap().cut);
        assert_eq!(buf, b"short\n");
        assert!(reader.next_line(&mut buf).unwrap().unwrap().cut);
        assert_eq!(buf, b"xxxxxxxxxx");
        assert!(!reader.next_line(&mut buf).unwrap().unwrap().cut);
        assert_eq!(buf, b"after");
        assert!(reader.next_line(&mut buf).unwrap().is_none());
    }
}
