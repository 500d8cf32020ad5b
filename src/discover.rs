//! Ask the Rancher Desktop daemon where an instance keeps its logs:
//! `rdd svc paths -o json` (older rdd: one `rdd svc paths KEY` per folder),
//! with `RDD_INSTANCE` set and an inherited `RDD_LOG_DIR` removed (it would
//! override the answer). Windows answers (`rdd.exe`, `C:\…` paths, `\r\n`)
//! are converted with `wslpath -ua` or `cygpath -u` where those exist.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::problem::Problem;
use crate::sources::Instance;

/// An rdd that does not answer within this time is treated as failed
/// (`LOGKEEP_RDD_TIMEOUT` seconds, 30 by default).
fn query_timeout() -> Duration {
    let seconds = std::env::var("LOGKEEP_RDD_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(seconds)
}

/// The instances named, with the folders rdd gives for each. An instance
/// whose query fails is reported and left out; the others go on.
pub fn discover(rdd: &Path, names: &[String]) -> (Vec<Instance>, Vec<Problem>) {
    let mut instances = Vec::new();
    let mut problems = Vec::new();
    for name in names {
        match query(rdd, name) {
            Ok((log_dir, lima_home)) => instances.push(Instance {
                name: name.clone(),
                log_dir,
                lima_home,
            }),
            Err(message) => problems.push(Problem::new(
                rdd,
                format!("instance {name}: {message}; not collected"),
            )),
        }
    }
    (instances, problems)
}

fn query(rdd: &Path, instance: &str) -> Result<(Option<PathBuf>, Option<PathBuf>), String> {
    let json = run(rdd, instance, &["svc", "paths", "-o", "json"]);
    // An rdd that hangs would hang twice more on the per-key questions.
    if let Err(e) = &json
        && e.ends_with(TIMED_OUT)
    {
        return Err(e.clone());
    }
    if let Ok(text) = &json
        && let Ok(serde_json::Value::Object(map)) =
            serde_json::from_str::<serde_json::Value>(text.trim())
    {
        let get = |key: &str| {
            map.get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(to_local_path)
        };
        return Ok((get("log_dir"), get("lima_home")));
    }
    // An rdd without JSON output: ask for each folder.
    let log_dir = run(rdd, instance, &["svc", "paths", "log_dir"]);
    let lima_home = run(rdd, instance, &["svc", "paths", "lima_home"]);
    match (log_dir, lima_home) {
        (Err(e), Err(_)) => Err(json.err().unwrap_or(e)),
        (log_dir, lima_home) => {
            let path = |r: std::result::Result<String, String>| {
                r.ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .map(|s| to_local_path(&s))
            };
            Ok((path(log_dir), path(lima_home)))
        }
    }
}

/// How a query that ran out of time ends its message.
const TIMED_OUT: &str = "did not answer in time";

/// Run rdd for one instance; its stdout, or what went wrong.
fn run(rdd: &Path, instance: &str, args: &[&str]) -> std::result::Result<String, String> {
    let mut command = Command::new(rdd);
    command
        .args(args)
        .env("RDD_INSTANCE", instance)
        .env_remove("RDD_LOG_DIR");
    run_with_timeout(command, &format!("rdd {}", args.join(" ")))
}

/// Run a command with no input; its stdout (CRLF made LF), or what went
/// wrong. A command that does not finish in time is killed.
fn run_with_timeout(mut command: Command, what: &str) -> std::result::Result<String, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{what}`: {}", crate::error::io_reason(&e)))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > query_timeout() => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{what}` ran {} s and {TIMED_OUT}",
                    query_timeout().as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if status.success() {
        Ok(out.replace("\r\n", "\n"))
    } else {
        let detail = err
            .lines()
            .chain(out.lines())
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        Err(format!("`{what}` failed ({status}): {detail}"))
    }
}

/// A Windows path (`C:\Users\…`) as this shell sees it, through `wslpath -ua`
/// or `cygpath -u` when one of them is there; other paths as they are.
fn to_local_path(value: &str) -> PathBuf {
    let value = value.trim_end_matches(['\r', '\n']).trim();
    let windows = value.len() > 2 && value.as_bytes()[1] == b':' && value.contains('\\');
    if windows {
        for (tool, args) in [("wslpath", ["-ua"]), ("cygpath", ["-u"])] {
            if let Ok(out) = Command::new(tool)
                .args(args)
                .arg(value)
                .stderr(Stdio::null())
                .output()
                && out.status.success()
            {
                let converted = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if !converted.is_empty() {
                    return PathBuf::from(converted);
                }
            }
        }
    }
    PathBuf::from(value)
}

/// Instance names from a command's output, one a line (`make -C bats bats-instances`).
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
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}
