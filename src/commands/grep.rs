//! `logkeep grep`: search the logs inside outputs without unpacking them,
//! one line at a time, so memory stays the same whatever their size.

use std::io::{self, BufRead, BufWriter, Seek, Write};
use std::path::PathBuf;

use regex::{Regex, RegexBuilder};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::exit_codes::ExitStatus;
use crate::logline::Level;
use crate::triage::{self, Line, LogFile, Visitor, Window};

pub struct GrepOptions {
    pub pattern: String,
    pub inputs: Vec<PathBuf>,
    pub ignore_case: bool,
    pub fixed_strings: bool,
    /// Only files whose layout path matches this glob.
    pub path: Option<globset::GlobMatcher>,
    pub window: Window,
    pub json: bool,
}

/// One match, as `--json` prints it (a JSON object per line).
#[derive(Debug, Serialize)]
struct Match<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
    path: &'a str,
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<Level>,
    text: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cut: bool,
}

struct Grep<'o, W: Write> {
    regex: Regex,
    options: &'o GrepOptions,
    out: W,
    matches: u64,
    logs_start: Option<crate::timestamp::Timestamp>,
}

impl<W: Write> Visitor for Grep<'_, W> {
    fn wants(&mut self, file: &LogFile) -> bool {
        self.options
            .path
            .as_ref()
            .is_none_or(|glob| glob.is_match(&file.path))
    }

    fn needs_records(&self) -> bool {
        let window = &self.options.window;
        self.options.json || window.level.is_some() || window.has_time_bounds()
    }

    fn line(&mut self, file: &LogFile, line: &Line<'_>) -> Result<()> {
        if line.dated && self.logs_start.is_none() {
            self.logs_start = line.time;
        }
        let window = &self.options.window;
        if !window.admits_level(line.level)
            || !window.admits_time(line.time, self.logs_start)
            || !self.regex.is_match(line.text)
        {
            return Ok(());
        }
        self.matches += 1;
        let written = if self.options.json {
            let record = Match {
                input: None,
                path: &file.path,
                line: line.number,
                time: line.time.map(|t| t.to_string()),
                level: line.level,
                text: line.text,
                cut: line.cut,
            };
            serde_json::to_writer(&mut self.out, &record)
                .map_err(io::Error::other)
                .and_then(|()| writeln!(self.out))
        } else {
            writeln!(
                self.out,
                "{}:{}: {}{}",
                crate::sanitize::display_str(&file.path),
                line.number,
                line.text,
                if line.cut { " [line cut]" } else { "" }
            )
        };
        written.map_err(write_error)
    }
}

/// The message of the error a closed stdout (`| head`) gives: not a failure.
const PIPE_CLOSED: &str = "stdout was closed";

fn write_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return Error::new(PIPE_CLOSED);
    }
    Error::new(format!("cannot write the matches: {e}"))
}

pub fn run(options: GrepOptions) -> Result<ExitStatus> {
    let regex = RegexBuilder::new(&if options.fixed_strings {
        regex::escape(&options.pattern)
    } else {
        options.pattern.clone()
    })
    .case_insensitive(options.ignore_case)
    // Bounded: a pattern cannot make the search take the memory.
    .size_limit(64 << 20)
    .build()
    .map_err(|e| {
        Error::new(format!("{:?} is not a valid pattern: {e}", options.pattern)).with_hint(
            "the syntax is Rust's regex crate (like grep -E); -F searches for the text as it is",
        )
    })?;
    let stdout = io::stdout();
    let mut matches = 0;
    let several = options.inputs.len() > 1;
    let result = (|| -> Result<()> {
        for input in &options.inputs {
            if several {
                // The run's label is in the manifest, which a tar holds at its
                // end: the matches wait in a temporary file, not in memory.
                let spool = tempfile::tempfile()
                    .map_err(|e| Error::io("create a temporary file for", input, &e))?;
                let mut grep = Grep {
                    regex: regex.clone(),
                    options: &options,
                    out: BufWriter::new(spool),
                    matches: 0,
                    logs_start: None,
                };
                let scanned = triage::scan(input, &mut grep)?;
                matches += grep.matches;
                let label = triage::run_label(input, scanned.manifest.as_ref());
                let mut spool = grep
                    .out
                    .into_inner()
                    .map_err(|e| write_error(e.into_error()))?;
                spool.rewind().map_err(write_error)?;
                let mut out = stdout.lock();
                for line in io::BufReader::new(spool).lines() {
                    let line = line.map_err(write_error)?;
                    if options.json {
                        let label = serde_json::to_string(&label).unwrap_or_default();
                        writeln!(out, "{{\"input\":{label},{}", &line[1..])
                    } else {
                        writeln!(out, "[{label}] {line}")
                    }
                    .map_err(write_error)?;
                }
            } else {
                let mut grep = Grep {
                    regex: regex.clone(),
                    options: &options,
                    out: BufWriter::new(stdout.lock()),
                    matches: 0,
                    logs_start: None,
                };
                triage::scan(input, &mut grep)?;
                matches += grep.matches;
                grep.out.flush().map_err(write_error)?;
            }
        }
        Ok(())
    })();
    match result {
        // `| head` closed the pipe: what was wanted has been printed.
        Err(e) if e.message == PIPE_CLOSED => return Ok(ExitStatus::Success),
        other => other?,
    }
    Ok(if matches > 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Problems
    })
}
