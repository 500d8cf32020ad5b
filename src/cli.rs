//! The command line, described once with clap and turned into plain option
//! values once. Nothing below this module knows clap exists.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::archive::Format;
use crate::commands::{CollectOptions, Command, PreserveOptions, RotateOptions};
use crate::error::{Error, Result};
use crate::rotate::DEFAULT_KEEP;
use crate::sources::{DEFAULT_INCLUDE_FOLDER, Include, Instance, Sources};

const AFTER_HELP: &str = "\
Exit codes:
  0    done (files that were skipped or could not be read are listed, not fatal)
  1    error: nothing was written (the message names the path and what to do)
  2    the command line or the config file is wrong
  3    done, but problems were met: collect, rotate and preserve only with
       --strict; always verify (differences), grep (no line matched), extract
       (--only matched no file), and grep, timeline, summary, cat, extract on
       an input damaged or cut short (what could be read shown or unpacked)
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM): temporary files removed

Typical CI use, after the tests and before teardown:
  logkeep collect --config logkeep.toml --preserve -o rdd-logs.tar.zst

Then, at your desk, on the artifact of a failed run:
  logkeep summary rdd-logs-ubuntu-lima.zip
  logkeep timeline rdd-logs-ubuntu-lima.zip --around 05:03:05 --window 1m

Secrets: key files and kubeconfigs are never collected, and secrets in logs are
redacted ([REDACTED:rule]); see `logkeep collect --help`. No colour is used.";

#[derive(Debug, Parser)]
#[command(
    name = "logkeep",
    version,
    about = "Keep the logs of a CI test environment before it is torn down",
    long_about = "Keep the logs of a CI test environment before it is torn down.\n\n\
        logkeep rotates logs so no boot's log is overwritten, preserves the logs of \
        Lima VMs before their folders are deleted, and collects the logs of rdd \
        service instances into one archive (tar.gz, tar.zst, zip or a folder) with a \
        manifest.json that records every file, its SHA-256, and what was skipped and why.\n\n\
        Then, on the downloaded artifact (any format, or GitHub's zip around it, never \
        unpacked): `summary` says what failed and where first, `timeline` merges every log \
        in time order, `grep` searches them, and `verify`, `ls`, `cat` and `extract` check, \
        list, read and safely unpack it.",
    after_help = AFTER_HELP,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: CommandArgs,
}

#[derive(Debug, Subcommand)]
enum CommandArgs {
    Rotate(RotateArgs),
    Preserve(PreserveArgs),
    Collect(Box<CollectArgs>),
    Verify(VerifyArgs),
    Ls(LsArgs),
    Extract(ExtractArgs),
    Cat(CatArgs),
    Grep(GrepArgs),
    Timeline(TimelineArgs),
    Summary(SummaryArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  logkeep completions bash > ~/.local/share/bash-completion/completions/logkeep"
    )]
    Completions {
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff), generated from this command line's definition: logkeep(1), or logkeep-COMMAND(1).
    #[command(
        after_help = "Examples:\n  logkeep man > ~/.local/share/man/man1/logkeep.1\n  for c in rotate preserve collect verify ls extract cat grep timeline summary; do\n    logkeep man $c > ~/.local/share/man/man1/logkeep-$c.1\n  done"
    )]
    Man {
        /// The command whose page to print (collect, grep, …); without it, logkeep's own page.
        command: Option<String>,
    },
}

/// Rotate logs: NAME.log becomes NAME.<highest+1>.log, the oldest backups beyond --keep are removed.
///
/// Backups are numbered upwards, 1 is the oldest. A missing DIR or NAME.log is
/// not an error. An existing backup is never replaced, even by a concurrent
/// rotation. Files that do not match NAME.<N>.log are never touched, and no new
/// NAME.log is created: the program that writes it does that.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  logkeep rotate ~/.rdfoo/lima/vm serial serialp serialv\n  RDD_KEEP_LOGS=1 logkeep rotate \"$LOG_DIR\" rdd.stderr rdd.stdout"
)]
struct RotateArgs {
    /// Folder holding the logs.
    dir: PathBuf,
    /// Log names without `.log` (serial, ha.stderr, rdd.stdout…).
    #[arg(required = true)]
    names: Vec<String>,
    /// Number of backups to keep (the window is by number, as rdd does it) [default: 5].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    keep: Option<u64>,
    /// Keep every backup. Also on when RDD_KEEP_LOGS is set to any non-empty value, as in rdd.
    #[arg(long)]
    keep_all: bool,
    #[command(flatten)]
    report: ReportArgs,
}

/// Move the logs of Lima VMs out of their instance folders before those are deleted.
///
/// For each VM folder in the Lima home (every folder not starting with `_`, or
/// those named by --vm), the regular *.log files directly in it are moved into
/// LOG_DIR/<vm>, or <vm>.2 … <vm>.1000 when that exists (created with mode 0700).
/// A VM without logs gets no folder. When a rename fails (another file system,
/// a file locked on Windows), the file is copied, flushed, verified by length
/// and SHA-256, and only then removed; if it cannot be removed, or it changed
/// during the copy, both are kept and this is reported.
#[derive(Debug, Args)]
#[command(
    after_help = "A missing Lima home is nothing to preserve (a warning says so). A VM whose pid file\n(ha.pid, qemu.pid…) names a live process is left alone unless --even-if-running.\n\nExample, before `rdd svc delete` or a VM deletion:\n  logkeep preserve --lima-home ~/.rdbats-lima/lima \\\n      --log-dir ~/.local/state/rancher-desktop-bats-lima"
)]
struct PreserveArgs {
    /// The Lima home holding the VM folders (rdd svc paths lima_home).
    #[arg(long, value_name = "DIR")]
    lima_home: PathBuf,
    /// Where preserved folders go (rdd svc paths log_dir).
    #[arg(long, value_name = "DIR")]
    log_dir: PathBuf,
    /// Preserve only this VM (repeat for several).
    #[arg(long = "vm", value_name = "NAME")]
    vms: Vec<String>,
    /// Also preserve VMs whose pid file (ha.pid, qemu.pid…) names a live process; by default they are reported and left alone.
    #[arg(long)]
    even_if_running: bool,
    #[command(flatten)]
    report: ReportArgs,
}

/// Collect the logs of rdd instances into one archive with a manifest.
///
/// Layout: <instance>/ holds the service logs of the log dir, <instance>/<vm>[.N]/
/// the preserved logs of deleted VMs, <instance>/lima-<vm>/ the logs of VMs still
/// in the Lima home, and <into>/ the files of include globs. Only regular *.log
/// files directly in those folders are taken; Lima's _config (the SSH key) never.
/// Symbolic links are not followed, sockets and FIFOs never opened: each is listed
/// in the manifest as skipped, with the reason. A file that grows while it is read
/// is archived up to the size it had when opened.
///
/// Secrets: files whose first line is a private key header, id_*, *.key,
/// kubeconfigs, vncpassword and config.yaml/json are never collected (not even
/// through --include) unless --unsafe-include-secret-files; tokens, passwords,
/// keys and other secrets inside collected logs are replaced by
/// [REDACTED:rule] unless --no-redact.
///
/// The output is written under a temporary name beside it and renamed at the end:
/// it appears complete or not at all.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  logkeep collect --instance bats-lima --log-dir ~/.local/state/rancher-desktop-bats-lima \\\n      --lima-home ~/.rdbats-lima/lima -o rdd-logs.tar.gz\n  logkeep collect --config logkeep.toml --preserve -o rdd-logs.zip\n  logkeep collect --config logkeep.toml --dry-run -o x.tar.gz"
)]
struct CollectArgs {
    /// A logkeep.toml listing instances ([[instance]] name, log_dir, lima_home) and includes ([[include]] glob, into).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// An rdd instance (its folder in the archive): one, with --log-dir/--lima-home; or several, with --rdd.
    #[arg(long, value_name = "NAME")]
    instance: Vec<String>,
    /// Ask this rdd binary for each instance's folders (rdd svc paths), instead of --log-dir/--lima-home. One that cannot be run (not found, not executable) is an error: exit 1, nothing written. Each query gets LOGKEEP_RDD_TIMEOUT seconds (30 by default); up to 8 instances are asked at once.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["log_dir", "lima_home"])]
    rdd: Option<PathBuf>,
    /// With --rdd: a command that prints instance names, one a line (e.g. 'make -C bats bats-instances').
    #[arg(long, value_name = "COMMAND")]
    instances_from: Option<String>,
    /// The instance's log dir (rdd svc paths log_dir).
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// The instance's Lima home (rdd svc paths lima_home).
    #[arg(long, value_name = "DIR")]
    lima_home: Option<PathBuf>,
    /// Also collect files matching this glob, into extra/ (repeat for several). `*` stops at `/`, `**` crosses it: a folder's files are 'DIR/**'.
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// The archive folder for the --include files (default: extra): plain names separated by '/', such as _diag or ci/_diag.
    #[arg(long, value_name = "DIR", requires = "include")]
    include_into: Option<String>,
    /// The archive (or folder) to write.
    #[arg(long, short = 'o', value_name = "PATH")]
    output: PathBuf,
    /// Output format; by default taken from the output's extension (.tar.gz, .tgz, .tar.zst, .tzst, .zip).
    #[arg(long, value_name = "FORMAT", value_parser = ["tar.gz", "tar.zst", "zip", "dir"])]
    format: Option<String>,
    /// Compression level: gzip and zip 1-9 (default 6), zstd 1-19 (default 3).
    ///
    /// Higher levels are smaller but much slower: on 20,000 small logs zstd 9
    /// gave an archive 11% smaller than 3 in about 14 times the time, and from
    /// 9 on zstd takes more memory (about 110 MiB at 9 and 220 MiB at 15,
    /// against 32 MiB at 3). A zip at level 1 is a third larger than a tar.gz
    /// (all but the last MiB of each log goes through zlib's quickest method):
    /// on 1 GiB of logs 225 MB in 2.2 s, against 177 MB in 2.7 s at level 2
    /// and 168 MB in 2.2 s for a tar.gz at level 1.
    #[arg(long, value_name = "N")]
    level: Option<i32>,
    /// Preserve the logs of every instance's VMs first (what a teardown step wants).
    #[arg(long)]
    preserve: bool,
    /// With --preserve, also move the logs of VMs that are still running.
    #[arg(long, requires = "preserve")]
    even_if_running: bool,
    /// Do not redact secrets in the collected logs (redaction is on by default).
    #[arg(long)]
    no_redact: bool,
    /// Also redact what this regex matches (its group `s`, or the whole match), as [REDACTED:NAME]. Repeat for several.
    #[arg(long, value_name = "NAME=REGEX")]
    redact: Vec<String>,
    /// Mask the value of this environment variable wherever it appears (repeat for several).
    #[arg(long, value_name = "VAR")]
    mask_env: Vec<String>,
    /// DANGEROUS: also collect private keys, kubeconfigs, Lima's _config and other secret files that globs name.
    #[arg(long)]
    unsafe_include_secret_files: bool,
    /// Cap each file at this size (e.g. 50M, 1G): keep its head and tail (whole lines) with a marker line between.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_file_size: Option<u64>,
    /// Print the plan (source -> archive path, and what is skipped) without writing.
    #[arg(long)]
    dry_run: bool,
    /// Replace an existing output: a file only if it is empty or an archive, a folder only if it is an earlier logkeep output holding nothing its manifest does not list, a --manifest-out copy only if it is empty or a logkeep manifest.
    #[arg(long)]
    force: bool,
    /// Write GitHub Actions step outputs, a job summary and warning annotations (on by itself when GITHUB_ACTIONS=true).
    #[arg(long)]
    github: bool,
    /// Also write a copy of the manifest to this file.
    #[arg(long, value_name = "FILE")]
    manifest_out: Option<PathBuf>,
    #[command(flatten)]
    report: ReportArgs,
    /// Also print on stderr each file as it is archived and each skip with its reason.
    #[arg(long, short, conflicts_with = "quiet")]
    verbose: bool,
}

/// Check every file of a logkeep output against its manifest (size, SHA-256).
///
/// Reads tar.gz, tar.zst, zip and folder outputs, also inside the zip that
/// GitHub's artifact download produces, without unpacking them. Exit 0 when
/// every file matches and nothing is missing or extra, 3 when not, 1 when an
/// input cannot be read at all (with --json it still has a verdict, whose
/// `error` says why).
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  logkeep verify rdd-logs-ubuntu-lima.zip rdd-logs-macos-lima.tar.zst"
)]
struct VerifyArgs {
    /// Outputs to check (archives, folders, or GitHub artifact zips).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// List the files of a logkeep output, from its manifest, without unpacking it.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  logkeep ls rdd-logs.tar.zst --instance bats-lima-controller --kind serial"
)]
struct LsArgs {
    /// An archive, a folder, or a GitHub artifact zip.
    input: PathBuf,
    /// Only this instance's files.
    #[arg(long)]
    instance: Option<String>,
    /// Only this VM's files.
    #[arg(long)]
    vm: Option<String>,
    /// Only files of this kind.
    #[arg(long, value_parser = ["service", "hostagent", "serial", "guest", "vm", "preserved", "extra"])]
    kind: Option<String>,
    /// Print the manifest's records of the files, with their time spans, as JSON.
    #[arg(long)]
    json: bool,
}

/// Unpack a logkeep output safely into a new folder.
///
/// The archive is treated as hostile: an absolute or `..` path, a Windows
/// drive or UNC name, a link, a device or a name seen twice refuses the whole
/// archive (exit 1), and nothing is written outside the target. Sizes and the
/// compression ratio are capped against archive bombs; setuid bits never
/// survive (files are written 0644).
///
/// A damaged or cut-short archive gives what can be read of it (exit 3): the
/// files read whole, and what was read of a damaged one as `NAME.damaged`;
/// stderr names what is missing. A zip's entries after a damaged one are
/// still read; a tar.gz or tar.zst cannot be read past the damage.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  logkeep extract rdd-logs.zip --to rdd-logs --only 'bats-lima-controller/**'"
)]
struct ExtractArgs {
    /// An archive, a folder, or a GitHub artifact zip.
    input: PathBuf,
    /// The folder to create (it must not exist).
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// Only the files whose layout path matches this glob (`*` stops at `/`, `**` crosses it); one that matches no file is warned about and exits 3.
    #[arg(long, value_name = "GLOB")]
    only: Option<String>,
    /// Refuse when everything unpacked exceeds this size.
    #[arg(long, value_name = "SIZE", default_value = "16G", value_parser = parse_size)]
    max_total: u64,
    /// Refuse when one file unpacked exceeds this size.
    #[arg(long, value_name = "SIZE", default_value = "8G", value_parser = parse_size)]
    max_entry: u64,
    /// Refuse when unpacked bytes exceed the archive's size this many times (past the first 16 MiB).
    #[arg(long, value_name = "N", default_value_t = 200)]
    max_ratio: u64,
}

/// Print one file of a logkeep output on stdout, without unpacking the rest.
///
/// The rest of the archive is read as well, to check the printed file against
/// the manifest (size and SHA-256), the archive's own checksum, and that no
/// other entry has the same name. Exit 0 when the file was printed whole and
/// found right, or could not be checked only because the archive is cut short
/// or damaged after it (stderr says so); 3 when it differs from the manifest,
/// its name is stored twice, or it could not be checked in an archive whose
/// checksum fails; 1 when the output holds no such file, or the file was cut
/// short or not reached before the damage.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  logkeep cat rdd-logs.zip bats-lima-controller/lima-test-stopped/ha.stderr.log | less"
)]
struct CatArgs {
    /// An archive, a folder, or a GitHub artifact zip.
    input: PathBuf,
    /// The file's path in the layout (as `logkeep ls` shows it).
    path: String,
}

/// Which lines to keep, by level and time (shared by grep and timeline).
#[derive(Debug, Args)]
struct WindowArgs {
    /// Only lines of records at this level or above (trace, debug, info, warn, error, fatal).
    #[arg(long, value_name = "LEVEL", value_parser = crate::logline::parse_level)]
    level: Option<crate::logline::Level>,
    /// Only lines written at or after this time: 2026-06-11T04:50:00Z, '2026-06-11 04:50', a day (2026-06-11), or a time of day (04:50, UTC) on the day the logs start (the next day if it is more than an hour before their start).
    #[arg(long, value_name = "TIME", value_parser = crate::timestamp::parse_time_arg)]
    since: Option<crate::timestamp::TimeArg>,
    /// Only lines written at or before this time (same forms as --since; a day means up to its end).
    #[arg(long, value_name = "TIME", value_parser = crate::timestamp::parse_time_arg)]
    until: Option<crate::timestamp::TimeArg>,
    /// Only lines around this time (with --window; same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = crate::timestamp::parse_time_arg, conflicts_with_all = ["since", "until"])]
    around: Option<crate::timestamp::TimeArg>,
    /// How far before and after --around to look (30s, 2m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::timestamp::parse_duration, requires = "around")]
    window: std::time::Duration,
    /// Only files whose layout path matches this glob (as `logkeep ls` shows them; `*` matches `/` too).
    #[arg(long, value_name = "GLOB")]
    path: Option<String>,
}

impl WindowArgs {
    fn window(&self) -> crate::triage::Window {
        let (since, until) = match self.around {
            Some(at) => {
                let (since, until) = crate::triage::Window::around(at, self.window);
                (Some(since), Some(until))
            }
            None => (self.since, self.until),
        };
        crate::triage::Window {
            level: self.level,
            since,
            until,
        }
    }

    fn path_glob(&self) -> Result<Option<globset::GlobMatcher>> {
        self.path
            .as_deref()
            .map(|pattern| {
                globset::Glob::new(pattern)
                    .map(|g| g.compile_matcher())
                    .map_err(|e| Error::new(format!("--path {pattern:?} is not a valid glob: {e}")))
            })
            .transpose()
    }
}

/// Search the logs inside outputs without unpacking them.
///
/// Prints `PATH:LINE: text` for each matching line (the path inside the
/// output; context lines of -A/-B/-C as `PATH-LINE- text`); with several inputs each line starts with `[RUN]`, the run
/// named by its manifest (GitHub job and runner OS, or host). Lines are read
/// one at a time, so memory stays small whatever the size of the logs. A
/// line without a time of its own (a panic's stack, a kernel line) has the
/// time and level of the dated line before it, for --level/--since/--until;
/// with --since/--until, the lines before a file's first dated line take
/// that line's time, as in the timeline. ANSI colours and CRs are removed
/// before matching.
///
/// Exit 0 when a line matched, 3 when none did, 1 on error.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    logkeep grep 'timed out' rdd-logs.zip\n  \
    logkeep grep --level error . rdd-logs-*.zip\n  \
    logkeep grep -i ssh --path '*/serial*' --since 04:58 --until 05:04 rdd-logs.tar.zst")]
struct GrepArgs {
    /// A regular expression (Rust regex syntax, like grep -E).
    pattern: String,
    /// Archives, folders, or GitHub artifact zips.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Match upper and lower case alike.
    #[arg(long, short)]
    ignore_case: bool,
    /// Take the pattern as plain text, not a regular expression.
    #[arg(long, short = 'F')]
    fixed_strings: bool,
    /// Select only matches that are whole words.
    #[arg(long, short = 'w')]
    word_regexp: bool,
    /// Accepted as grep takes them, and always so here: -n (line numbers),
    /// -H (paths), -E (the pattern is an extended regular expression).
    #[arg(short = 'n', long = "line-number", hide_short_help = true)]
    _line_number: bool,
    #[arg(short = 'H', long = "with-filename", hide = true)]
    _with_filename: bool,
    #[arg(short = 'E', long = "extended-regexp", hide = true)]
    _extended_regexp: bool,
    /// Select the lines that do not match.
    #[arg(long, short = 'v')]
    invert_match: bool,
    /// Print each file's number of selected lines (files with none are not listed).
    #[arg(long, short = 'c', conflicts_with = "files_with_matches")]
    count: bool,
    /// Print only the paths of the files with a selected line.
    #[arg(long, short = 'l')]
    files_with_matches: bool,
    /// Print N lines of context after each selected line.
    #[arg(long, short = 'A', value_name = "N")]
    after_context: Option<usize>,
    /// Print N lines of context before each selected line.
    #[arg(long, short = 'B', value_name = "N")]
    before_context: Option<usize>,
    /// Print N lines of context before and after each selected line.
    #[arg(long, short = 'C', value_name = "N")]
    context: Option<usize>,
    #[command(flatten)]
    window: WindowArgs,
    /// Print one JSON object per selected line (path, line, time, level, text); not with -c, -l or the context of -A/-B/-C (a script reads the lines around a match with `logkeep cat`).
    #[arg(long, conflicts_with_all = ["count", "files_with_matches", "after_context", "before_context", "context"])]
    json: bool,
}

/// Merge the lines of every log into one chronological stream.
///
/// Understands every time format of the rdd logs: logrus text, Lima JSON
/// lines and events (and other JSON lines: `time`, `ts` or `timestamp` as
/// text or as epoch seconds, milliseconds…), klog and journal lines (which
/// have no year: the file's modification time places them), `LIMA …|` lines,
/// BATS markers, and RFC 3339 with `Z` or an offset. Lines without a time (a panic's stack,
/// kernel uptime stamps) stay after the dated line before them; a file's own
/// lines keep their order at equal times. rdd's BATS markers (`=== BATS:
/// 2026-06-11T04:49:57+0000 NAME ===`) have whole seconds: one after a line
/// of the same second in its log is placed at that line's time. They are shown as
/// `════ test: NAME ════`: with --level, only the tests in which a line at
/// that level was written; with --since/--around, the test running when the
/// window opens comes first. A line with no time of its own shows the
/// inherited time in parentheses. Times are UTC.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    logkeep timeline rdd-logs.zip --level warn\n  \
    logkeep timeline rdd-logs.tar.zst --around 05:03:05 --window 1m\n  \
    logkeep timeline rdd-logs-linux.zip rdd-logs-macos.zip --level error")]
struct TimelineArgs {
    /// Archives, folders, or GitHub artifact zips (several: one per job).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    window: WindowArgs,
    /// Print one JSON object per line (time, instance, vm, file, line, level, text).
    #[arg(long)]
    json: bool,
}

/// The one-screen answer: what ran, what went wrong, where first.
///
/// For each input: the run (GitHub job, runner, commit), the instances, VMs
/// and files, the problems met at collection, the BATS tests, and for each
/// log the first and last error-level lines with their times and the test
/// that was running. With several inputs (one per matrix job), also the
/// errors some jobs have and others do not.
///
/// Tests: a test starts at rdd's marker (`=== BATS: 2026-06-11T04:49:57+0000
/// NAME ===`) in any log. Which tests failed, and where bats says they did,
/// comes from bats' own output when it was collected: its TAP lines (`bats
/// --tap | tee bats.log`; `not ok 3 NAME`), a JUnit report
/// (`--report-formatter junit`), and the folders the BATS hook saved. An
/// error after a marker of a test that passed is said to be so: it may be a
/// hook's, or a test's running beside it (`bats --jobs`).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    logkeep summary rdd-logs.zip\n  \
    logkeep summary rdd-logs-*.zip --json")]
struct SummaryArgs {
    /// Archives, folders, or GitHub artifact zips (several: one per job).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Exit with 3 when any file had a problem.
    #[arg(long)]
    strict: bool,
    /// Print nothing on stderr but errors (no progress, no warnings).
    #[arg(long, short)]
    quiet: bool,
}

/// Parse the command line. `Err` carries clap's own message and exit code.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Result<Command>, clap::Error> {
    let cli = Cli::try_parse_from(args)?;
    Ok(into_command(cli))
}

fn into_command(cli: Cli) -> Result<Command> {
    Ok(match cli.command {
        CommandArgs::Rotate(args) => {
            let by_env = std::env::var_os("RDD_KEEP_LOGS").is_some_and(|v| !v.is_empty());
            let keep_all = args.keep_all || by_env;
            if let Some(keep) = args.keep
                && keep_all
                && !args.report.quiet
            {
                let why = match args.keep_all {
                    true => "--keep-all is given",
                    false => "RDD_KEEP_LOGS is set",
                };
                eprintln!("warning: {why}: every backup is kept, and --keep {keep} is not applied");
            }
            let names = args
                .names
                .into_iter()
                .map(|name| {
                    name.strip_suffix(".log")
                        .map(str::to_string)
                        .unwrap_or(name)
                })
                .collect::<Vec<_>>();
            for name in &names {
                crate::names::check_component("log", name).map_err(Error::new)?;
            }
            Command::Rotate(RotateOptions {
                dir: absolute(args.dir),
                names,
                keep: (!keep_all).then_some(args.keep.unwrap_or(DEFAULT_KEEP)),
                report: args.report.into(),
            })
        }
        CommandArgs::Preserve(args) => Command::Preserve(PreserveOptions {
            vms: args
                .vms
                .into_iter()
                .map(|vm| {
                    crate::names::check_component("VM", &vm)
                        .map(|()| vm)
                        .map_err(Error::new)
                })
                .collect::<Result<_>>()?,
            lima_home: absolute(args.lima_home),
            log_dir: absolute(args.log_dir),
            even_if_running: args.even_if_running,
            report: args.report.into(),
        }),
        CommandArgs::Collect(args) => Command::Collect(collect_options(*args)?),
        CommandArgs::Verify(args) => Command::Verify(crate::commands::VerifyOptions {
            inputs: crate::reader::archives_in_folders(args.inputs),
            report: crate::commands::Report {
                json: args.json,
                ..Default::default()
            },
        }),
        CommandArgs::Ls(args) => Command::Ls(crate::commands::LsOptions {
            input: args.input,
            instance: args.instance,
            vm: args.vm,
            kind: args.kind,
            report: crate::commands::Report {
                json: args.json,
                ..Default::default()
            },
        }),
        CommandArgs::Extract(args) => Command::Extract(crate::commands::ExtractOptions {
            only: args
                .only
                .as_deref()
                .map(crate::commands::only_glob)
                .transpose()?,
            input: args.input,
            to: args.to,
            max_total: args.max_total,
            max_entry: args.max_entry,
            max_ratio: args.max_ratio,
        }),
        CommandArgs::Cat(args) => Command::Cat(crate::commands::CatOptions {
            input: args.input,
            path: args.path,
        }),
        CommandArgs::Grep(args) => Command::Grep(crate::commands::GrepOptions {
            path: args.window.path_glob()?,
            window: args.window.window(),
            regex: crate::commands::pattern_regex(
                &args.pattern,
                args.fixed_strings,
                args.ignore_case,
                args.word_regexp,
            )?,
            inputs: crate::reader::archives_in_folders(args.inputs),
            invert: args.invert_match,
            count: args.count,
            files_with_matches: args.files_with_matches,
            before: args.before_context.or(args.context).unwrap_or(0),
            after: args.after_context.or(args.context).unwrap_or(0),
            json: args.json,
        }),
        CommandArgs::Timeline(args) => Command::Timeline(crate::commands::TimelineOptions {
            path: args.window.path_glob()?,
            window: args.window.window(),
            inputs: crate::reader::archives_in_folders(args.inputs),
            json: args.json,
        }),
        CommandArgs::Summary(args) => Command::Summary(crate::commands::SummaryOptions {
            inputs: crate::reader::archives_in_folders(args.inputs),
            json: args.json,
        }),
        CommandArgs::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "logkeep", &mut out);
            Command::Print(out)
        }
        CommandArgs::Man { command } => {
            let top = Cli::command();
            let page = match command {
                None => top,
                Some(name) => {
                    let Some(sub) = top.find_subcommand(&name) else {
                        let names: Vec<&str> = top
                            .get_subcommands()
                            .map(|c| c.get_name())
                            .filter(|n| !["help", "completions", "man"].contains(n))
                            .collect();
                        return Err(Error::new(format!(
                            "no command {name:?}; man pages exist for: {}",
                            names.join(", ")
                        )));
                    };
                    // Named as logkeep(1)'s SEE ALSO names it.
                    sub.clone()
                        .name(format!("logkeep-{name}"))
                        .version(env!("CARGO_PKG_VERSION"))
                }
            };
            let mut out = Vec::new();
            clap_mangen::Man::new(page)
                .render(&mut out)
                .map_err(|e| Error::new(format!("cannot render the man page: {e}")))?;
            Command::Print(out)
        }
    })
}

fn collect_options(args: CollectArgs) -> Result<CollectOptions> {
    let mut sources = match &args.config {
        Some(path) => Sources::from_config_file(path)?,
        None => Sources::default(),
    };
    if let Some(rdd) = args.rdd {
        let query = sources.rdd.get_or_insert_with(Default::default);
        // A bare name (`rdd`, `rdd.exe`) is looked up on PATH.
        query.path = if rdd.components().count() > 1 {
            absolute(rdd)
        } else {
            rdd
        };
        query.names.extend(args.instance);
        query.instances_from = args.instances_from.or(query.instances_from.take());
    } else if let Some(query) = sources.rdd.as_mut() {
        query.names.extend(args.instance);
        query.instances_from = args.instances_from.or(query.instances_from.take());
    } else if args.instances_from.is_some() {
        return Err(Error::new(
            "--instances-from needs --rdd to find each instance's folders",
        ));
    } else if !args.instance.is_empty() {
        let [name] = <[String; 1]>::try_from(args.instance).map_err(|_| {
            Error::new("several --instance need --rdd to find their folders").with_hint(
                "give one --instance with --log-dir/--lima-home, or add --rdd PATH_TO_RDD",
            )
        })?;
        sources.instances.push(Instance {
            name,
            log_dir: args.log_dir.map(absolute),
            lima_home: args.lima_home.map(absolute),
        });
    } else if args.log_dir.is_some() || args.lima_home.is_some() {
        return Err(Error::new("--log-dir and --lima-home need --instance NAME"));
    }
    sources
        .includes
        .extend(args.include.into_iter().map(|pattern| {
            Include {
                pattern: absolute(PathBuf::from(pattern))
                    .to_string_lossy()
                    .into_owned(),
                into: args
                    .include_into
                    .clone()
                    .unwrap_or_else(|| DEFAULT_INCLUDE_FOLDER.to_string()),
            }
        }));
    for rule in &args.redact {
        let Some((name, regex)) = rule.split_once('=') else {
            return Err(
                Error::new(format!("--redact {rule:?} needs the form NAME=REGEX"))
                    .with_hint("for example --redact 'acme-token=acme_[A-Za-z0-9]{20,}'"),
            );
        };
        sources
            .redact_rules
            .push((name.to_string(), regex.to_string()));
    }
    sources.mask_env.extend(args.mask_env);
    if sources.instances.is_empty() && sources.includes.is_empty() && sources.rdd.is_none() {
        return Err(
            Error::new("nothing to collect: no instance and no include given").with_hint(
                "give --config FILE, or --instance NAME with --log-dir DIR and/or --lima-home DIR",
            ),
        );
    }
    sources.validate()?;
    if args.output.as_os_str() == "-" {
        return Err(
            Error::new("writing the archive to standard output is not supported")
                .with_hint("name a file such as rdd-logs.tar.gz"),
        );
    }

    let format = match args.format {
        Some(name) => name.parse::<Format>().map_err(Error::new)?,
        None => Format::from_output_name(&args.output).ok_or_else(|| {
            Error::new(format!(
                "cannot tell the format from the output name {}",
                crate::sanitize::display_path(&args.output)
            ))
            .with_hint(
                "end it in .tar.gz, .tar.zst or .zip, or give --format tar.gz|tar.zst|zip|dir",
            )
        })?,
    };
    if let Some(level) = args.level {
        match format.level_range() {
            Some((_, range)) if !range.contains(&level) => {
                return Err(Error::new(format!(
                    "--level {level} is out of range for {format}: use {} to {}",
                    range.start(),
                    range.end()
                )));
            }
            None => return Err(Error::new("--level has no meaning for --format dir")),
            _ => {}
        }
    }
    Ok(CollectOptions {
        sources,
        output: args.output,
        format,
        level: args.level,
        preserve: args.preserve,
        even_if_running: args.even_if_running,
        max_file_size: args.max_file_size,
        redact: !args.no_redact,
        allow_secret_files: args.unsafe_include_secret_files,
        github: crate::github::enabled(args.github),
        dry_run: args.dry_run,
        force: args.force,
        manifest_out: args.manifest_out,
        report: crate::commands::Report {
            verbose: args.verbose,
            ..args.report.into()
        },
    })
}

/// Paths are made absolute once, so that the manifest and reports say where
/// files really are, whatever the working folder was.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// `4096`, `64K`, `50M`, `2G` (powers of 1024; a trailing `B` or `iB` is fine).
fn parse_size(text: &str) -> Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let number = upper.trim_end_matches("IB").trim_end_matches('B');
    let (digits, shift) = match number.chars().last() {
        Some('K') => (&number[..number.len() - 1], 10),
        Some('M') => (&number[..number.len() - 1], 20),
        Some('G') => (&number[..number.len() - 1], 30),
        Some('T') => (&number[..number.len() - 1], 40),
        _ => (number, 0),
    };
    let value: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size: write e.g. 4096, 64K, 50M or 2G"))?;
    let bytes = value
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes < 1024 {
        return Err(format!(
            "{text:?} is too small to keep a head and a tail: use at least 1K"
        ));
    }
    Ok(bytes)
}

impl From<ReportArgs> for crate::commands::Report {
    fn from(args: ReportArgs) -> Self {
        crate::commands::Report {
            json: args.json,
            strict: args.strict,
            quiet: args.quiet,
            verbose: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("50MiB"), Ok(50 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("12").is_err());
        assert!(parse_size("ten").is_err());
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
