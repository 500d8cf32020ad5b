//! The commands: each takes plain options, does its work through the library
//! modules, and prints results on stdout and everything else on stderr.

mod browse;
mod collect;
mod damage;
mod extract;
mod grep;
mod preserve;
mod rotate;
mod summary;
mod timeline;
mod verify;

pub use browse::{CatOptions, LsOptions};
pub use collect::CollectOptions;
pub use extract::{ExtractOptions, only_glob};
pub use grep::{GrepOptions, pattern_regex};
pub use preserve::PreserveOptions;
pub use rotate::RotateOptions;
pub use summary::SummaryOptions;
pub use timeline::TimelineOptions;
pub use verify::VerifyOptions;

use crate::error::Result;
use crate::exit_codes::ExitStatus;
use crate::problem::Problem;

pub enum Command {
    Rotate(RotateOptions),
    Preserve(PreserveOptions),
    Collect(CollectOptions),
    Verify(VerifyOptions),
    Ls(LsOptions),
    Extract(ExtractOptions),
    Cat(CatOptions),
    Grep(GrepOptions),
    Timeline(TimelineOptions),
    Summary(SummaryOptions),
    /// Text generated from the command line's definition (completions, man page).
    Print(Vec<u8>),
}

/// How a command reports: text or JSON, and whether problems fail it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    pub json: bool,
    pub strict: bool,
    pub quiet: bool,
    pub verbose: bool,
}

/// How many problems the summary on stderr lists before it only counts.
const PROBLEMS_SHOWN: usize = 10;

impl Report {
    /// Print a one-screen summary of the problems on stderr, and choose the
    /// exit status. `changed` counts files that changed while read or were cut:
    /// not problems, but `--strict` fails on them too.
    pub fn finish(&self, problems: &[Problem], changed: usize) -> ExitStatus {
        if !self.quiet {
            for problem in problems.iter().take(PROBLEMS_SHOWN) {
                eprintln!(
                    "warning: {}: {}",
                    problem.path,
                    crate::sanitize::display_str(&problem.message)
                );
            }
            if problems.len() > PROBLEMS_SHOWN {
                eprintln!(
                    "warning: … and {} more problems (all are listed in the JSON output and the manifest)",
                    problems.len() - PROBLEMS_SHOWN
                );
            }
        }
        if self.strict && (!problems.is_empty() || changed > 0) {
            ExitStatus::Problems
        } else {
            ExitStatus::Success
        }
    }
}

pub fn run(command: Command) -> Result<ExitStatus> {
    match command {
        Command::Rotate(options) => rotate::run(options),
        Command::Preserve(options) => preserve::run(options),
        Command::Collect(options) => collect::run(options),
        Command::Verify(options) => verify::run(options),
        Command::Ls(options) => browse::ls(options),
        Command::Extract(options) => extract::run(options),
        Command::Cat(options) => browse::cat(options),
        Command::Grep(options) => grep::run(options),
        Command::Timeline(options) => timeline::run(options),
        Command::Summary(options) => summary::run(options),
        Command::Print(text) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(&text);
            Ok(ExitStatus::Success)
        }
    }
}

/// Print a JSON document on stdout, one line, streamed (it can be large).
fn print_json(value: &impl serde::Serialize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // A closed stdout (`| head`) is not worth a panic.
    let _ = serde_json::to_writer(&mut out, value)
        .map(|()| writeln!(out))
        .map(|_| out.flush());
}
