//! Points in time as logs write them, and as users type them on the command
//! line. Logs write RFC 3339 with `Z`, `+00:00` or `+0000`, and two formats
//! without a year (klog `I0611 04:50:02.017245`, journal `Jun 11 04:50:09`)
//! that only a reference time (the file's modification time, the run's date)
//! can place.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, UTC. Covers 1678 to 2262.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

pub const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;
pub const NANOS_PER_DAY: i64 = SECS_PER_DAY * NANOS_PER_SEC;

impl Timestamp {
    pub fn from_system_time(time: SystemTime) -> Option<Timestamp> {
        let nanos = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_nanos()).ok()?,
            Err(before) => -i64::try_from(before.duration().as_nanos()).ok()?,
        };
        Some(Timestamp(nanos))
    }

    fn from_parts(date: time::Date, secs_of_day: i64, nanos: i64, offset_secs: i64) -> Timestamp {
        // Julian day 2440588 is 1970-01-01.
        let days = i64::from(date.to_julian_day()) - 2_440_588;
        let secs = days * SECS_PER_DAY + secs_of_day - offset_secs;
        Timestamp(secs * NANOS_PER_SEC + nanos)
    }

    pub fn plus(self, duration: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)),
        )
    }

    pub fn minus(self, duration: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_sub(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)),
        )
    }

    fn to_datetime(self) -> Option<time::OffsetDateTime> {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0)).ok()
    }

    /// The UTC calendar date, as `2026-06-11`.
    pub fn date(self) -> String {
        self.to_datetime()
            .map(|t| t.date().to_string())
            .unwrap_or_else(|| "?".into())
    }

    /// The UTC time of day to the millisecond, as `04:50:02.017`.
    pub fn time_of_day(self) -> String {
        match self.to_datetime() {
            Some(t) => format!(
                "{:02}:{:02}:{:02}.{:03}",
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            ),
            None => "?".into(),
        }
    }

    /// The start of this timestamp's UTC day.
    pub fn start_of_day(self) -> Timestamp {
        let day = NANOS_PER_SEC * SECS_PER_DAY;
        Timestamp(self.0.div_euclid(day) * day)
    }
}

/// RFC 3339 in UTC with as many fractional digits as needed (up to 9).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(t) = self.to_datetime() else {
            return write!(f, "{}ns", self.0);
        };
        write!(
            f,
            "{}T{:02}:{:02}:{:02}",
            t.date(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        let nanos = t.nanosecond();
        if nanos != 0 {
            let digits = format!("{nanos:09}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        write!(f, "Z")
    }
}

/// A time of day on a month and day of an unknown year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yearless {
    pub month: u8,
    pub day: u8,
    pub secs_of_day: u32,
    pub nanos: u32,
}

impl Yearless {
    /// Place it in the latest year in which it is not after `reference` (a
    /// day of slack for clocks and time zones): a line cannot be written after
    /// its file was last modified, and a log is rarely a year old.
    pub fn resolve(self, reference: Timestamp) -> Option<Timestamp> {
        let ref_year = reference.to_datetime()?.year();
        let slack = NANOS_PER_SEC * SECS_PER_DAY;
        let in_year = |year: i32| {
            let month = time::Month::try_from(self.month).ok()?;
            let date = time::Date::from_calendar_date(year, month, self.day).ok()?;
            Some(Timestamp::from_parts(
                date,
                i64::from(self.secs_of_day),
                i64::from(self.nanos),
                0,
            ))
        };
        match in_year(ref_year) {
            Some(t) if t.0 <= reference.0 + slack => Some(t),
            // February 29th of a year that has none also lands a year back.
            _ => in_year(ref_year - 1).or_else(|| in_year(ref_year - 4)),
        }
    }
}

fn digits(bytes: &[u8], at: usize, count: usize) -> Option<u32> {
    let field = bytes.get(at..at + count)?;
    field.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// `HH:MM:SS` and an optional `.fraction` at `at`: seconds of the day,
/// nanoseconds, and the index after them.
fn clock(bytes: &[u8], at: usize) -> Option<(u32, u32, usize)> {
    let hour = digits(bytes, at, 2)?;
    let minute = digits(bytes, at + 3, 2)?;
    let second = digits(bytes, at + 6, 2)?;
    if bytes.get(at + 2) != Some(&b':') || bytes.get(at + 5) != Some(&b':') {
        return None;
    }
    // 60 is a leap second: kept as the last second of the minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut end = at + 8;
    let mut nanos = 0;
    if bytes.get(end) == Some(&b'.') || bytes.get(end) == Some(&b',') {
        let start = end + 1;
        let count = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if count == 0 {
            return None;
        }
        let kept = count.min(9);
        nanos = digits(bytes, start, kept)? * 10u32.pow(9 - kept as u32);
        end = start + count;
    }
    Some((hour * 3600 + minute * 60 + second.min(59), nanos, end))
}

/// A full date and time at the start of `text`: `2026-06-11T04:50:02Z`, with
/// `T` or a space, an optional fraction, and `Z`, `±HH:MM`, `±HHMM`, `±HH` or
/// no zone (read as UTC). Returns the time and the bytes it took.
pub fn parse_prefix(text: &str) -> Option<(Timestamp, usize)> {
    let bytes = text.as_bytes();
    let year = digits(bytes, 0, 4)?;
    let month = digits(bytes, 5, 2)?;
    let day = digits(bytes, 8, 2)?;
    // `-`, or `/` as Go's standard log package writes dates.
    if !matches!(bytes.get(4), Some(b'-' | b'/')) || bytes.get(7) != bytes.get(4) {
        return None;
    }
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (secs_of_day, nanos, mut end) = clock(bytes, 11)?;
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
            .ok()?;
    let mut offset = 0i64;
    match bytes.get(end) {
        Some(b'Z' | b'z') => end += 1,
        Some(&sign @ (b'+' | b'-')) => {
            let hours = digits(bytes, end + 1, 2)?;
            end += 3;
            let minutes = if bytes.get(end) == Some(&b':') {
                let m = digits(bytes, end + 1, 2)?;
                end += 3;
                m
            } else if let Some(m) = digits(bytes, end, 2) {
                end += 2;
                m
            } else {
                0
            };
            offset = i64::from(hours * 3600 + minutes * 60);
            if sign == b'-' {
                offset = -offset;
            }
        }
        _ => {}
    }
    Some((
        Timestamp::from_parts(date, i64::from(secs_of_day), i64::from(nanos), offset),
        end,
    ))
}

/// klog's header `I0611 04:50:02.017245`: the level letter, then the time
/// without a year.
pub fn parse_klog(text: &str) -> Option<(u8, Yearless)> {
    let bytes = text.as_bytes();
    let level = *bytes.first()?;
    if !matches!(level, b'I' | b'W' | b'E' | b'F') || bytes.get(5) != Some(&b' ') {
        return None;
    }
    let month = digits(bytes, 1, 2)?;
    let day = digits(bytes, 3, 2)?;
    let (secs_of_day, nanos, _) = clock(bytes, 6)?;
    Some((
        level,
        Yearless {
            month: u8::try_from(month).ok().filter(|m| (1..=12).contains(m))?,
            day: u8::try_from(day).ok().filter(|d| (1..=31).contains(d))?,
            secs_of_day,
            nanos,
        },
    ))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The syslog / journal prefix `Jun 11 04:50:09` (the day may be padded
/// with a space: `Jun  1`).
pub fn parse_syslog(text: &str) -> Option<Yearless> {
    let bytes = text.as_bytes();
    let month = MONTHS.iter().position(|m| text.starts_with(m))? + 1;
    if bytes.get(3) != Some(&b' ') {
        return None;
    }
    let day = match (bytes.get(4), bytes.get(5)) {
        (Some(b' '), Some(d)) if d.is_ascii_digit() => u32::from(d - b'0'),
        _ => digits(bytes, 4, 2)?,
    };
    if bytes.get(6) != Some(&b' ') || !(1..=31).contains(&day) {
        return None;
    }
    let (secs_of_day, nanos, _) = clock(bytes, 7)?;
    Some(Yearless {
        month: month as u8,
        day: day as u8,
        secs_of_day,
        nanos,
    })
}

/// A time typed on the command line: a full date and time, or only a time of
/// day, placed on the day the logs start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    At(Timestamp),
    /// A whole day (from its start; as an end, up to its end).
    Day(Timestamp),
    /// Nanoseconds after midnight UTC.
    TimeOfDay(i64),
}

impl TimeArg {
    /// The same point moved by `nanos` (negative: earlier).
    pub fn shifted(self, nanos: i64) -> TimeArg {
        match self {
            TimeArg::At(t) | TimeArg::Day(t) => TimeArg::At(Timestamp(t.0.saturating_add(nanos))),
            TimeArg::TimeOfDay(n) => TimeArg::TimeOfDay(n.saturating_add(nanos)),
        }
    }

    /// As the end of a span: a day ends at its last nanosecond.
    pub fn resolve_end(self, logs_start: Option<Timestamp>) -> Option<Timestamp> {
        match self {
            TimeArg::Day(t) => Some(Timestamp(t.0 + SECS_PER_DAY * NANOS_PER_SEC - 1)),
            other => other.resolve(logs_start),
        }
    }

    /// The point in time, given the first dated line of the logs: a time of
    /// day is on that line's day, or on the next day when it is more than an
    /// hour before that line (a CI job's logs run past midnight, not back).
    pub fn resolve(self, logs_start: Option<Timestamp>) -> Option<Timestamp> {
        match self {
            TimeArg::At(t) | TimeArg::Day(t) => Some(t),
            TimeArg::TimeOfDay(nanos) => {
                let start = logs_start?;
                let t = Timestamp(start.start_of_day().0 + nanos);
                if t.0 < start.0 - 3600 * NANOS_PER_SEC {
                    Some(Timestamp(t.0 + SECS_PER_DAY * NANOS_PER_SEC))
                } else {
                    Some(t)
                }
            }
        }
    }
}

/// Parse `2026-06-11T04:50:00Z`, `2026-06-11 04:50:00+02:00`, `2026-06-11`,
/// or `04:50[:00[.5]]` (UTC). For clap.
pub fn parse_time_arg(text: &str) -> Result<TimeArg, String> {
    let text = text.trim();
    let hint =
        "use a time like 2026-06-11T04:50:00Z, '2026-06-11 04:50', 2026-06-11 or 04:50:00 (UTC)";
    if let Some((t, used)) = parse_prefix(text) {
        return if used == text.len() {
            Ok(TimeArg::At(t))
        } else {
            Err(format!(
                "unexpected `{}` after the time; {hint}",
                &text[used..]
            ))
        };
    }
    // Minutes without seconds.
    let with_seconds = |t: &str| {
        if t.len() == 5 {
            format!("{t}:00")
        } else {
            t.to_string()
        }
    };
    if text.len() == 16
        && let Some((t, used)) = parse_prefix(&with_seconds_at(text))
        && used == 19
    {
        return Ok(TimeArg::At(t));
    }
    if text.len() == 10
        && let Some((t, _)) = parse_prefix(&format!("{text}T00:00:00Z"))
    {
        return Ok(TimeArg::Day(t));
    }
    // `5:09` is `05:09`.
    let padded = if text.as_bytes().get(1) == Some(&b':') {
        format!("0{text}")
    } else {
        text.to_string()
    };
    let clock_text = with_seconds(&padded);
    if let Some((secs, nanos, used)) = clock(clock_text.as_bytes(), 0)
        && used == clock_text.len()
    {
        return Ok(TimeArg::TimeOfDay(
            i64::from(secs) * NANOS_PER_SEC + i64::from(nanos),
        ));
    }
    Err(format!("`{text}` is not a time; {hint}"))
}

/// `2026-06-11 04:50` → `2026-06-11 04:50:00`.
fn with_seconds_at(text: &str) -> String {
    format!("{text}:00")
}

/// Parse a duration for clap: `30s`, `2m`, `1h30m`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); use e.g. 30s, 2m, 1h30m"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        let (t, used) = parse_prefix(text).expect(text);
        assert_eq!(used, text.len(), "{text}");
        t
    }

    #[test]
    fn reads_every_zone_form_as_the_same_instant() {
        let utc = at("2026-06-11T04:50:02Z");
        assert_eq!(utc.to_string(), "2026-06-11T04:50:02Z");
        assert_eq!(at("2026-06-11T04:50:02+0000"), utc);
        assert_eq!(at("2026-06-11T04:50:02+00:00"), utc);
        assert_eq!(at("2026-06-11T06:50:02+02:00"), utc);
        assert_eq!(at("2026-06-10T23:50:02-0500"), utc);
        assert_eq!(at("2026-06-11 04:50:02"), utc);
        assert_eq!(
            at("2026-06-11T04:50:02.017245123Z").to_string(),
            "2026-06-11T04:50:02.017245123Z"
        );
        assert!(parse_prefix("2026-13-11T04:50:02Z").is_none());
        assert!(parse_prefix("2026-06-11T25:50:02Z").is_none());
        assert!(parse_prefix("time=\"2026").is_none());
    }

    #[test]
    fn places_yearless_times_before_the_reference() {
        let (level, klog) = parse_klog("E0611 05:03:05.599284    5123 lima.go:288] x").unwrap();
        assert_eq!(level, b'E');
        let reference = at("2026-11-26T06:00:00Z");
        assert_eq!(
            klog.resolve(reference).unwrap().to_string(),
            "2026-06-11T05:03:05.599284Z"
        );
        // December's lines in a file last written in January are last year's.
        let december = parse_syslog("Dec 31 23:59:58 systemd[1]: x").unwrap();
        assert_eq!(
            december
                .resolve(at("2027-01-01T00:05:00Z"))
                .unwrap()
                .to_string(),
            "2026-12-31T23:59:58Z"
        );
        let padded = parse_syslog("Jan  1 00:00:01 kernel: x").unwrap();
        assert_eq!(
            padded
                .resolve(at("2027-01-01T00:05:00Z"))
                .unwrap()
                .to_string(),
            "2027-01-01T00:00:01Z"
        );
        assert!(parse_syslog("Junk 11 04:50:09").is_none());
        assert!(parse_klog("I0611x04:50:02.0").is_none());
    }

    #[test]
    fn reads_command_line_times() {
        assert_eq!(
            parse_time_arg("2026-06-11T04:50:00Z").unwrap(),
            TimeArg::At(at("2026-06-11T04:50:00Z"))
        );
        assert_eq!(
            parse_time_arg("2026-06-11 04:50").unwrap(),
            TimeArg::At(at("2026-06-11T04:50:00Z"))
        );
        let day = parse_time_arg("2026-06-11").unwrap();
        assert_eq!(day.resolve(None), Some(at("2026-06-11T00:00:00Z")));
        assert_eq!(
            day.resolve_end(None),
            Some(at("2026-06-11T23:59:59.999999999Z"))
        );
        assert_eq!(
            parse_time_arg("5:03").unwrap(),
            parse_time_arg("05:03:00").unwrap()
        );
        assert_eq!(at("2026/06/11 05:00:04"), at("2026-06-11T05:00:04Z"));
        let start = at("2026-06-11T04:49:56Z");
        assert_eq!(
            parse_time_arg("05:03").unwrap().resolve(Some(start)),
            Some(at("2026-06-11T05:03:00Z"))
        );
        // Earlier in the day than the logs start: the next day.
        assert_eq!(
            parse_time_arg("01:00").unwrap().resolve(Some(start)),
            Some(at("2026-06-12T01:00:00Z"))
        );
        assert!(parse_time_arg("yesterday").is_err());
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
    }
}
