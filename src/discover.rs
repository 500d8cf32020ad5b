//! Ask the Rancher Desktop daemon where an instance keeps its logs:
//! `rdd svc paths -o json` (older rdd: one `rdd svc paths KEY` per folder),
//! with `RDD_INSTANCE` set and an inherited `RDD_LOG_DIR` removed (it would
//! override the answer). Windows answers (`rdd.exe`, `C:\…` paths, `\r\n`)
//! are converted with `wslpath -ua` or `cygpath -u` where those exist.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::problem::Problem;
use crate::sources::Instance;

/// The variable that sets how long rdd and `--instances-from` may take.
const TIMEOUT_VARIABLE: &str = "LOGKEEP_RDD_TIMEOUT";

/// How long rdd and `--instances-from` may take without a setting.
const DEFAULT_TIMEOUT: u64 = 30;

/// An rdd that does not answer within this time is treated as failed
/// (`LOGKEEP_RDD_TIMEOUT` seconds, 30 by default). A value that is not a
/// whole number of seconds gets the default, and a warning for the caller
/// to print (see [`timeout_warning`]).
fn timeout_setting() -> &'static (Duration, Option<String>) {
    static TIMEOUT: OnceLock<(Duration, Option<String>)> = OnceLock::new();
    TIMEOUT.get_or_init(|| {
        let value = std::env::var_os(TIMEOUT_VARIABLE).unwrap_or_default();
        let text = value.to_string_lossy();
        match text.trim() {
            "" => (Duration::from_secs(DEFAULT_TIMEOUT), None),
            trimmed => match trimmed.parse() {
                Ok(seconds) => (Duration::from_secs(seconds), None),
                Err(_) => (
                    Duration::from_secs(DEFAULT_TIMEOUT),
                    Some(format!(
                        "{TIMEOUT_VARIABLE}={text:?} is not a whole number of seconds; \
                         using {DEFAULT_TIMEOUT} s (set it to e.g. {TIMEOUT_VARIABLE}=60)"
                    )),
                ),
            },
        }
    })
}

fn query_timeout() -> Duration {
    timeout_setting().0
}

/// What is wrong with `LOGKEEP_RDD_TIMEOUT`, if anything: to say once,
/// before rdd is asked, unless the run is quiet.
pub fn timeout_warning() -> Option<&'static str> {
    timeout_setting().1.as_deref()
}

/// The instances named, with the folders rdd gives for each. An instance
/// whose query fails is reported and left out; the others go on. An rdd
/// that cannot be started at all (not found, not executable) is an error:
/// no instance would get an answer, and an archive of nothing written with
/// exit 0 would pass for a collection.
pub fn discover(rdd: &Path, names: &[String]) -> Result<(Vec<Instance>, Vec<Problem>)> {
    let mut instances = Vec::new();
    let mut problems = Vec::new();
    // The instances are asked at the same time (8 at once, each worker
    // taking the next name as it is free), so that an rdd that hangs costs
    // one timeout, not one per instance.
    const AT_ONCE: usize = 8;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut answers: Vec<(usize, _)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..AT_ONCE.min(names.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut answered = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(name) = names.get(i) else {
                            return answered;
                        };
                        answered.push((i, query(rdd, name)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a query does not panic"))
            .collect()
    });
    answers.sort_by_key(|(i, _)| *i);
    let answers = answers.into_iter().map(|(_, answer)| answer);
    for (name, answer) in names.iter().zip(answers) {
        match answer {
            Ok((log_dir, lima_home)) => instances.push(Instance {
                name: name.clone(),
                log_dir,
                lima_home,
            }),
            Err(Failure::NotStarted { error, .. }) => return Err(cannot_start(rdd, &error)),
            Err(Failure::Failed(message)) => problems.push(Problem::new(
                rdd,
                format!("instance {name}: {message}; not collected"),
            )),
        }
    }
    Ok((instances, problems))
}

/// Why rdd could not be started, named as the user gave it, with what to do.
fn cannot_start(rdd: &Path, error: &std::io::Error) -> Error {
    use std::io::ErrorKind;
    let shown = crate::sanitize::display_path(rdd);
    let looked_up_on_path = rdd.components().count() == 1 && !rdd.is_absolute();
    let where_named = "--rdd PATH (or path in the config's [rdd] section)";
    match error.kind() {
        ErrorKind::NotFound if looked_up_on_path => {
            Error::new(format!("cannot run rdd: `{shown}` was not found on PATH")).with_hint(
                format!(
                    "add the folder holding {shown} to PATH, or name the rdd program with {where_named}"
                ),
            )
        }
        ErrorKind::NotFound if std::fs::symlink_metadata(rdd).is_err() => {
            Error::new(format!("cannot run rdd: {shown} does not exist"))
                .with_hint(format!("name the rdd program with {where_named}"))
        }
        _ => Error::new(format!(
            "cannot run rdd {shown}: {}",
            crate::error::io_reason(error)
        ))
        .with_hint(format!(
            "it must be an executable program (chmod +x, and the interpreter of a script's #! line must exist); name the rdd program with {where_named}"
        )),
    }
}

/// Why a command gave no answer.
#[derive(Debug)]
enum Failure {
    /// It could not be started at all (not found, not executable).
    NotStarted {
        message: String,
        error: std::io::Error,
    },
    /// It ran and failed, or ran out of time: the message says which.
    Failed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotStarted { message, .. } | Failure::Failed(message) => f.write_str(message),
        }
    }
}

fn query(rdd: &Path, instance: &str) -> Result<(Option<PathBuf>, Option<PathBuf>), Failure> {
    let json = run(rdd, instance, &["svc", "paths", "-o", "json"]);
    // An rdd that will not start, or that hangs, is not asked the per-key
    // questions: it would fail, or hang, twice more.
    let give_up = match &json {
        Err(Failure::NotStarted { .. }) => true,
        Err(Failure::Failed(e)) => e.contains(TIMED_OUT),
        Ok(_) => false,
    };
    if give_up {
        return Err(json.expect_err("only an error gives up"));
    }
    if let Ok(text) = &json
        && let Ok(serde_json::Value::Object(map)) =
            serde_json::from_str::<serde_json::Value>(text.trim())
    {
        let get = |key: &str| {
            map.get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(|s| answered_path(key, s))
                .transpose()
        };
        return Ok((get("log_dir")?, get("lima_home")?));
    }
    // An rdd without JSON output: ask for each folder.
    let log_dir = run(rdd, instance, &["svc", "paths", "log_dir"]);
    let lima_home = run(rdd, instance, &["svc", "paths", "lima_home"]);
    match (log_dir, lima_home) {
        (Err(e), Err(_)) => Err(json.err().unwrap_or(e)),
        (log_dir, lima_home) => {
            let path = |key: &str, r: std::result::Result<String, Failure>| {
                r.ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .map(|s| answered_path(key, &s))
                    .transpose()
            };
            Ok((path("log_dir", log_dir)?, path("lima_home", lima_home)?))
        }
    }
}

/// rdd's answer for one folder, as a local path. Anything but one line
/// naming an absolute path (a banner or a warning on stdout, a relative
/// name) is not taken: it would be looked for, and preserved into, below
/// the current folder.
fn answered_path(key: &str, value: &str) -> Result<PathBuf, Failure> {
    let path = to_local_path(value);
    let text = path.to_string_lossy();
    if !text.contains(['\n', '\r']) && (path.is_absolute() || needs_conversion(&text)) {
        return Ok(path);
    }
    let shown: String = value.trim().chars().take(120).collect();
    Err(Failure::Failed(format!(
        "rdd's {key} is not one absolute path: \"{}\"",
        crate::sanitize::display_str(&shown)
    )))
}

/// How a query that ran out of time ends its message.
const TIMED_OUT: &str = "did not answer in time";

/// Run rdd for one instance; its stdout, or what went wrong.
fn run(rdd: &Path, instance: &str, args: &[&str]) -> std::result::Result<String, Failure> {
    let mut command = Command::new(rdd);
    command
        .args(args)
        .env("RDD_INSTANCE", instance)
        .env_remove("RDD_LOG_DIR");
    run_with_timeout(command, &format!("rdd {}", args.join(" ")))
}

/// How long the output of a command that has exited may stay open: a process
/// it left in the background can hold its stdout or stderr open for ever.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// How long to wait, after killing a command's processes, for its pipes to
/// close, so that the last of what they wrote is read.
const KILL_GRACE: Duration = Duration::from_millis(200);

/// How often a running command is checked on.
const POLL: Duration = Duration::from_millis(20);

/// Run a command with no input; its stdout (CRLF made LF), or what went
/// wrong. A command that does not finish in time is killed.
fn run_with_timeout(command: Command, what: &str) -> std::result::Result<String, Failure> {
    run_within(command, what, query_timeout())
}

/// Run a command with no input for at most `timeout` (plus a fraction of a
/// second to collect its output); its stdout (CRLF made LF), or what went
/// wrong. On Unix it runs in a process group of its own, so that whatever it
/// started goes with it: the whole group is killed when it runs out of time,
/// and when it has exited but something it left behind still holds its
/// output open. Its output is taken as it comes, never waited for past the
/// deadline.
fn run_within(
    mut command: Command,
    what: &str,
    timeout: Duration,
) -> std::result::Result<String, Failure> {
    let deadline = Instant::now() + timeout;
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| Failure::NotStarted {
            message: format!("cannot run `{what}`: {}", crate::error::io_reason(&error)),
            error,
        })?;
    // A Ctrl-C at the terminal reaches logkeep's group, not this one.
    #[cfg(unix)]
    let _group = crate::interrupt::remember_group(child.id());
    let (sender, pieces) = mpsc::channel();
    read_in_background(
        child.stdout.take().expect("piped"),
        sender.clone(),
        Piece::Out,
    );
    read_in_background(child.stderr.take().expect("piped"), sender, Piece::Err);
    let mut output = Output::default();
    let mut exited: Option<(ExitStatus, Instant)> = None;
    loop {
        output.receive(&pieces, POLL);
        if exited.is_none() {
            match child.try_wait() {
                Ok(Some(status)) => exited = Some((status, Instant::now())),
                Ok(None) => {}
                Err(e) => {
                    kill(&mut child);
                    return Err(Failure::Failed(format!(
                        "cannot wait for `{what}`: {}",
                        crate::error::io_reason(&e)
                    )));
                }
            }
        }
        let now = Instant::now();
        match exited {
            Some((status, _)) if output.open == 0 => return output.result(what, status),
            // It has exited, but a process it left behind holds its output
            // open: what it wrote before exiting is all there is.
            Some((status, at)) if now >= (at + EXIT_GRACE).min(deadline) => {
                #[cfg(unix)]
                kill_group(&child);
                output.drain(&pieces, now + KILL_GRACE);
                return output.result(what, status);
            }
            None if now >= deadline => {
                kill(&mut child);
                return Err(Failure::Failed(format!(
                    "`{what}` ran {} s and {TIMED_OUT}; it was stopped (raise {TIMEOUT_VARIABLE}, in seconds, if it is only slow)",
                    timeout.as_secs()
                )));
            }
            _ => {}
        }
    }
}

/// What a pipe reader hands over: a piece of stdout or stderr, or the end of
/// its pipe.
enum Piece {
    Out(Vec<u8>),
    Err(Vec<u8>),
    Closed,
}

/// Read a pipe to its end on a thread of its own, handing each piece over as
/// it comes. Nobody waits for the thread: a pipe that a process left behind
/// holds open may never end, and the thread then lives as long as logkeep.
fn read_in_background(
    mut pipe: impl Read + Send + 'static,
    sender: mpsc::Sender<Piece>,
    piece: fn(Vec<u8>) -> Piece,
) {
    std::thread::spawn(move || {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    if sender.send(piece(buffer[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = sender.send(Piece::Closed);
    });
}

/// A command's output so far.
struct Output {
    out: Vec<u8>,
    err: Vec<u8>,
    /// Pipes not yet at their end (stdout and stderr).
    open: usize,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            out: Vec::new(),
            err: Vec::new(),
            open: 2,
        }
    }
}

impl Output {
    /// Take one piece, waiting at most `wait` for it (or just wait, when
    /// both pipes are at their end).
    fn receive(&mut self, pieces: &Receiver<Piece>, wait: Duration) {
        if self.open == 0 {
            std::thread::sleep(wait);
            return;
        }
        match pieces.recv_timeout(wait) {
            Ok(piece) => self.take(piece),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => self.open = 0,
        }
    }

    /// Take the pieces that come until both pipes end or `until`, then those
    /// already handed over.
    fn drain(&mut self, pieces: &Receiver<Piece>, until: Instant) {
        while self.open > 0 {
            let now = Instant::now();
            if now >= until {
                break;
            }
            self.receive(pieces, until - now);
        }
        while let Ok(piece) = pieces.try_recv() {
            self.take(piece);
        }
    }

    fn take(&mut self, piece: Piece) {
        match piece {
            Piece::Out(bytes) => self.out.extend_from_slice(&bytes),
            Piece::Err(bytes) => self.err.extend_from_slice(&bytes),
            Piece::Closed => self.open = self.open.saturating_sub(1),
        }
    }

    /// The stdout of a command that succeeded (CRLF made LF; empty if it is
    /// not UTF-8), or its first line of complaint.
    fn result(self, what: &str, status: ExitStatus) -> std::result::Result<String, Failure> {
        let out = String::from_utf8(self.out).unwrap_or_default();
        if status.success() {
            return Ok(out.replace("\r\n", "\n"));
        }
        let err = String::from_utf8_lossy(&self.err);
        let detail = err
            .lines()
            .chain(out.lines())
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        Err(Failure::Failed(format!(
            "`{what}` failed ({status}): {detail}"
        )))
    }
}

/// Kill a command that is still running (on Unix with every process of its
/// group) and reap it.
fn kill(child: &mut Child) {
    #[cfg(unix)]
    kill_group(child);
    let _ = child.kill();
    let _ = child.wait();
}

/// Kill every process of the group the command leads (it was started with
/// `process_group(0)`, so the group's id is its process id).
#[cfg(unix)]
fn kill_group(child: &Child) {
    crate::interrupt::kill_group(child.id());
}

/// A Windows path (`C:\Users\…`) as this shell sees it, through `wslpath -ua`
/// or `cygpath -u` when one of them is there; other paths as they are.
/// A Windows build takes it as it is: it opens Windows paths itself, and the
/// `/c/Users/…` of a Git Bash `cygpath` on its PATH would name nothing.
fn to_local_path(value: &str) -> PathBuf {
    let value = value.trim_end_matches(['\r', '\n']).trim();
    if needs_conversion(value) {
        for (tool, args) in [("wslpath", ["-ua"]), ("cygpath", ["-u"])] {
            let mut command = Command::new(tool);
            command.args(args).arg(value);
            // Under rdd's deadline too: a wedged WSL must not hang the run.
            if let Ok(converted) = run_with_timeout(command, tool) {
                let converted = converted.trim();
                if !converted.is_empty() {
                    return PathBuf::from(converted);
                }
            }
        }
    }
    PathBuf::from(value)
}

/// Whether `value` is a Windows path that this build cannot open as it is.
fn needs_conversion(value: &str) -> bool {
    !cfg!(windows) && value.len() > 2 && value.as_bytes()[1] == b':' && value.contains('\\')
}

/// Instance names from a command's output, one a line (`make -C bats bats-instances`).
/// GNU make prints `make: Entering directory '…'` and `make[1]: Leaving
/// directory '…'` on stdout with `-C` (or in a recursive make): such lines are
/// make's, not names, and are left out.
pub fn instances_from(command: &str) -> Result<Vec<String>> {
    let mut shell = Command::new("sh");
    shell.arg("-c").arg(command);
    let out = run_with_timeout(shell, command).map_err(|e| {
        Error::new(format!("--instances-from: {e}"))
            .with_hint("run the command by hand; it must print one instance name a line")
    })?;
    let mut names: Vec<String> = Vec::new();
    for line in out.lines() {
        let name = line.trim().to_string();
        if !name.is_empty() && !is_make_message(&name) && !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// A line make writes about itself: `make: …`, `make[2]: …`, `gmake: …`
/// (an instance name never holds a `:`).
fn is_make_message(line: &str) -> bool {
    let Some(rest) = line
        .strip_prefix("gmake")
        .or_else(|| line.strip_prefix("make"))
    else {
        return false;
    };
    let rest = match rest.strip_prefix('[') {
        Some(level) => match level.split_once(']') {
            Some((digits, after))
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                after
            }
            _ => return false,
        },
        None => rest,
    };
    rest.starts_with(": ")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script);
        command
    }

    #[test]
    fn a_program_that_finishes_keeps_all_its_output() {
        // More than a pipe holds, in pieces, with a CRLF at the end.
        let out = run_within(
            sh("head -c 1000000 /dev/zero | tr '\\0' a; printf 'b\\r\\n'"),
            "big",
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(out.len(), 1_000_002);
        assert!(out.starts_with("aaa") && out.ends_with("ab\n"));
    }

    #[test]
    fn a_failing_program_says_why() {
        let e = run_within(
            sh("echo out; echo '  oops' >&2; exit 3"),
            "fails",
            Duration::from_secs(60),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("`fails` failed (") && e.ends_with("): oops"),
            "{e}"
        );
    }

    #[test]
    fn output_held_open_by_a_process_left_behind_is_what_was_written_before_exit() {
        let out = run_within(
            sh("echo first; (sleep 30; echo late) & echo second"),
            "bg",
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(out, "first\nsecond\n");
    }

    #[test]
    fn a_program_out_of_time_is_named_with_what_to_do() {
        let e = run_within(sh("echo early; sleep 30"), "slow", Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("`slow` ran 1 s and did not answer in time")
                && e.contains("LOGKEEP_RDD_TIMEOUT"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod path_tests {
    use super::*;

    /// rdd.exe prints Windows paths with CRLF. A Windows build opens them as
    /// they are, even when a `cygpath` (Git Bash) is on its PATH: the
    /// `/c/Users/…` it would give names nothing for a Windows program.
    #[cfg(windows)]
    #[test]
    fn a_windows_build_keeps_windows_paths_as_they_are() {
        let path = r"C:\Users\runneradmin\AppData\Local\rancher-desktop-bats-logs";
        assert!(!needs_conversion(path));
        assert_eq!(to_local_path(&format!("{path}\r\n")), PathBuf::from(path));
    }

    #[cfg(not(windows))]
    #[test]
    fn elsewhere_only_windows_paths_are_converted() {
        assert!(needs_conversion(
            r"C:\Users\runneradmin\AppData\Local\rancher-desktop-bats-logs"
        ));
        assert!(!needs_conversion(
            "/home/runner/.local/state/rancher-desktop-bats"
        ));
        assert!(!needs_conversion("C:/Users/runneradmin"));
    }
}
