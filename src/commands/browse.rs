//! `logkeep ls` and `logkeep cat`: look inside an output without unpacking it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{Read, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::damage;
use super::{Report, print_json};
use crate::error::{Error, Result};
use crate::exit_codes::ExitStatus;
use crate::manifest::MANIFEST_NAME;
use crate::reader::for_each_file;
use crate::sanitize::{display_path, display_str};
use crate::timestamp::Timestamp;
use crate::triage::{Line, LogFile, Visitor};

pub struct LsOptions {
    pub input: PathBuf,
    pub instance: Option<String>,
    pub vm: Option<String>,
    pub kind: Option<String>,
    pub report: Report,
}

pub struct CatOptions {
    pub input: PathBuf,
    pub path: String,
}

/// Each file's first and last own time, gathered while the manifest is
/// read, and the files read to their end.
#[derive(Default)]
struct Spans {
    times: HashMap<String, (Timestamp, Timestamp)>,
    read: HashSet<String>,
}

impl Visitor for Spans {
    fn end_file(&mut self, file: &LogFile, _binary: bool) -> Result<()> {
        self.read.insert(file.path.clone());
        Ok(())
    }

    fn line(&mut self, file: &LogFile, line: &Line<'_>) -> Result<()> {
        if let (true, Some(t)) = (line.dated, line.time) {
            self.times
                .entry(file.path.clone())
                .and_modify(|(first, last)| {
                    *first = (*first).min(t);
                    *last = (*last).max(t);
                })
                .or_insert((t, t));
        }
        Ok(())
    }
}

/// `06-11 04:49:01` from an RFC 3339 time: short enough for a table; the
/// JSON has the full times.
fn short_time(full: &str) -> String {
    full.get(5..19)
        .map(|s| s.replace('T', " "))
        .unwrap_or_else(|| full.to_string())
}

pub fn ls(options: LsOptions) -> Result<ExitStatus> {
    let mut spans = Spans::default();
    // The listing is the manifest's: a file that cannot be read costs its
    // times, not the listing.
    let read = damage::scan(&options.input, &mut spans)?;
    if read.scanned.manifest.is_none()
        && let Some(error) = read.stopped
    {
        let error = if read.halted {
            Error::new(format!(
                "cannot list {}: {}, before its {MANIFEST_NAME}",
                display_path(&options.input),
                error.message
            ))
        } else {
            error
        };
        return Err(damage::unreadable_archive(&options.input, error));
    }
    let shown = read.unreadable.len() - usize::from(read.halted);
    for unreadable in &read.unreadable[..shown] {
        spans.times.remove(&unreadable.path);
        eprintln!(
            "warning: cannot read {} in {}: {}; its times are not shown",
            display_str(&unreadable.path),
            display_path(&options.input),
            display_str(&unreadable.reason)
        );
    }
    if let Some(error) = &read.stopped {
        // logkeep writes the manifest last: usually nothing it lists is
        // after the damage (a zip that lost only its directory).
        let listed = read
            .scanned
            .manifest
            .as_ref()
            .and_then(|m| m["files"].as_array());
        let all_read = listed.is_some_and(|files| {
            files
                .iter()
                .all(|f| f["path"].as_str().is_some_and(|p| spans.read.contains(p)))
        });
        let what = match all_read {
            true => "every file it lists was read",
            false => "the times of the files after it are not shown",
        };
        eprintln!("warning: {}; {what}", display_str(&error.message));
    }
    let manifest = read.scanned.manifest.ok_or_else(|| {
        Error::new(format!(
            "{} holds no readable {MANIFEST_NAME}",
            display_path(&options.input)
        ))
        .with_hint(format!(
            "it is not a logkeep output (`logkeep grep`, `timeline` and `summary` still read its files); {}",
            crate::reader::unzip_hint(&options.input)
        ))
    })?;
    let matches = |record: &serde_json::Value, key: &str, wanted: &Option<String>| {
        wanted
            .as_ref()
            .is_none_or(|w| record[key].as_str() == Some(w.as_str()))
    };
    let files: Vec<serde_json::Value> = manifest["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .filter(|f| {
                    matches(f, "instance", &options.instance)
                        && matches(f, "vm", &options.vm)
                        && matches(f, "kind", &options.kind)
                })
                .map(|f| {
                    let mut f = f.clone();
                    let span = f["path"].as_str().and_then(|p| spans.times.get(p));
                    f["first_time"] = span.map(|(first, _)| first.to_string()).into();
                    f["last_time"] = span.map(|(_, last)| last.to_string()).into();
                    f
                })
                .collect()
        })
        .unwrap_or_default();
    // A filter that matches nothing looks like a typo: say what there is.
    if files.is_empty() {
        let all = manifest["files"].as_array().cloned().unwrap_or_default();
        let mut given = Vec::new();
        let mut said = false;
        for (key, wanted) in [
            ("instance", &options.instance),
            ("vm", &options.vm),
            ("kind", &options.kind),
        ] {
            let Some(wanted) = wanted else { continue };
            given.push(format!("{key} {}", display_str(wanted)));
            let there: BTreeSet<&str> = all.iter().filter_map(|f| f[key].as_str()).collect();
            if !there.contains(wanted.as_str()) {
                let there: Vec<&str> = there.into_iter().collect();
                eprintln!(
                    "note: no file has {key} {}; the manifest has: {}",
                    display_str(wanted),
                    display_str(&there.join(", "))
                );
                said = true;
            }
        }
        // Each value is there, but no file has them all.
        if !said && given.len() > 1 {
            eprintln!(
                "note: files have each of {}, but none has them all",
                given.join(", ")
            );
        }
    }
    if options.report.json {
        print_json(&files);
        return Ok(ExitStatus::Success);
    }
    let text = |v: &serde_json::Value| {
        v.as_str()
            .map(display_str)
            .unwrap_or_else(|| "-".to_string())
    };
    // The span set in each record above.
    let time = |v: &serde_json::Value| v.as_str().map_or_else(|| "-".to_string(), short_time);
    let mut out = std::io::stdout().lock();
    let mut write = || -> std::io::Result<()> {
        writeln!(
            out,
            "{:<10} {:<24} {:<20} {:>4} {:>10}  {:<14}  {:<14}  PATH",
            "KIND", "INSTANCE", "VM", "ROT", "SIZE", "FIRST (UTC)", "LAST (UTC)"
        )?;
        for f in &files {
            let (first, last) = (time(&f["first_time"]), time(&f["last_time"]));
            writeln!(
                out,
                "{:<10} {:<24} {:<20} {:>4} {:>10}  {first:<14}  {last:<14}  {}",
                text(&f["kind"]),
                text(&f["instance"]),
                text(&f["vm"]),
                f["rotation"]
                    .as_u64()
                    .map_or("-".to_string(), |n| n.to_string()),
                f["size"].as_u64().unwrap_or(0),
                text(&f["path"]),
            )?;
        }
        Ok(())
    };
    match write() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::new(format!("cannot write the listing: {e}")))
        }
        _ => Ok(ExitStatus::Success),
    }
}

/// The file `cat` printed: its length and SHA-256, and whether all of it
/// was read.
struct Printed {
    len: u64,
    sha256: String,
    whole: bool,
}

/// The error that ends `cat`'s reading when stdout was closed (`| head`).
const PIPE_CLOSED: &str = "stdout was closed";

/// Copy `data` to `out`, hashing it; a read error and a write error are told
/// apart.
fn print_hashed(data: &mut dyn Read, out: &mut dyn Write, printed: &mut Printed) -> Result<()> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::new(crate::error::io_reason(&e))),
        };
        hasher.update(&buf[..n]);
        printed.len += n as u64;
        out.write_all(&buf[..n]).map_err(cat_write_error)?;
    }
    out.flush().map_err(cat_write_error)?;
    printed.sha256 = hex::encode(hasher.finalize());
    printed.whole = true;
    Ok(())
}

fn cat_write_error(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Error::new(PIPE_CLOSED)
    } else {
        Error::new(format!("cannot write to stdout: {e}"))
    }
}

/// `logkeep cat`: print one file. The rest of the archive is read too, to
/// check the file against the manifest (a tar's comes last), the stream's
/// checksum at its end, and that no other entry has the same name. A file
/// printed whole and checked is exit 0 even when the archive is damaged
/// elsewhere (said on stderr); one that differs from the manifest, or that
/// could not be checked in an archive whose checksum fails, is exit 3.
pub fn cat(options: CatOptions) -> Result<ExitStatus> {
    let input = &options.input;
    // `./x` as tar lists it, or `x`: the same file.
    let wanted = options.path.trim_start_matches("./");
    let shown = display_str(wanted);
    let mut printed: Option<Printed> = None;
    let mut manifest: Option<serde_json::Value> = None;
    let mut twice = false;
    let stdout = std::io::stdout();
    let result = for_each_file(input, &mut |path, _, data| {
        // The manifest is read to check the file against, unless it is the
        // file asked for.
        if path.trim_start_matches("./") == MANIFEST_NAME && wanted != MANIFEST_NAME {
            let mut bytes = Vec::new();
            data.read_to_end(&mut bytes)
                .map_err(|e| Error::io("read the manifest of", input, &e))?;
            manifest = serde_json::from_slice(&bytes).ok();
            return Ok(());
        }
        if path.trim_start_matches("./") != wanted {
            return Ok(());
        }
        if printed.is_some() {
            twice = true;
            return Ok(());
        }
        let file = printed.insert(Printed {
            len: 0,
            sha256: String::new(),
            whole: false,
        });
        print_hashed(data, &mut stdout.lock(), file).map_err(|e| {
            if e.message == PIPE_CLOSED || e.message.starts_with("cannot write") {
                e
            } else {
                Error::new(format!(
                    "cannot read {} in {}: {}",
                    display_str(path),
                    display_path(input),
                    e.message
                ))
            }
        })
    });
    let damage = match result {
        Err(e) if e.message == PIPE_CLOSED => return Ok(ExitStatus::Success),
        Err(e) if e.message.starts_with("cannot write") => return Err(e),
        Err(e) => Some(damage::unreadable_archive(input, e)),
        Ok(()) => None,
    };
    // A file's record in the manifest.
    let listed = |path: &str| {
        manifest.as_ref().and_then(|m| {
            m["files"]
                .as_array()?
                .iter()
                .find(|f| f["path"].as_str() == Some(path))
        })
    };
    let record = listed(wanted).cloned();
    let Some(file) = printed else {
        if let Some(error) = damage {
            return Err(Error {
                message: format!("{} (before {shown} was found)", error.message),
                ..error
            });
        }
        if record.is_some() {
            return Err(Error::new(format!(
                "{} has no file {shown}: it is listed in the manifest but missing from the output",
                display_path(input)
            ))
            .with_hint(format!(
                "`logkeep verify {}` checks every file of the output against its manifest",
                display_path(input)
            )));
        }
        // `rdd-logs/x.log` as `unzip -l` lists an output packed by hand
        // under its folder, which is read without that folder.
        let in_folder = wanted
            .split_once('/')
            .map(|(_, rest)| rest)
            .filter(|rest| listed(rest).is_some());
        // `rdd.stderr.log` for `bats-lima/rdd.stderr.log`: the paths start
        // with the instance's (or VM's) folder.
        let suffix = format!("/{wanted}");
        let elsewhere: Vec<&str> = manifest
            .as_ref()
            .and_then(|m| m["files"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| f["path"].as_str())
            .filter(|path| path.ends_with(&suffix))
            .take(4)
            .collect();
        let hint = match (in_folder, elsewhere.as_slice()) {
            (Some(rest), _) => format!(
                "the output is read without the folder it was packed under: `logkeep cat {} {}`",
                display_path(input),
                display_str(rest)
            ),
            (None, [only]) => format!(
                "paths start with their folder: `logkeep cat {} {}`",
                display_path(input),
                display_str(only)
            ),
            (None, []) => format!("`logkeep ls {}` lists the paths", display_path(input)),
            (None, some) => format!(
                "paths start with their folder; files of that name: {}{} (`logkeep ls {}` lists the paths)",
                some.iter()
                    .take(3)
                    .map(|p| display_str(p))
                    .collect::<Vec<_>>()
                    .join(", "),
                if some.len() > 3 { ", …" } else { "" },
                display_path(input)
            ),
        };
        return Err(
            Error::new(format!("{} holds no file {shown}", display_path(input))).with_hint(hint),
        );
    };
    if !file.whole {
        let error = damage.expect("a file not read whole has an error");
        let printed = match file.len {
            0 => format!("nothing of {shown} could be printed"),
            _ => format!("what was printed of {shown} is incomplete"),
        };
        return Err(Error {
            message: format!("{}; {printed}", error.message),
            ..error
        });
    }
    let checked = record.as_ref().map(|r| {
        r["size"].as_u64() == Some(file.len) && r["sha256"].as_str() == Some(file.sha256.as_str())
    });
    let mut stderr = std::io::stderr().lock();
    let mut status = ExitStatus::Success;
    if checked == Some(false) {
        let _ = writeln!(
            stderr,
            "error: {shown} as printed does not match the manifest of {} (size or SHA-256): it was damaged or altered",
            display_path(input)
        );
        status = ExitStatus::Problems;
    }
    if let Some(error) = &damage {
        let said = match checked {
            Some(true) => format!("{shown} was printed whole and matches the manifest"),
            Some(false) => String::new(),
            None if crate::reader::may_be_altered(error) => {
                status = ExitStatus::Problems;
                format!("{shown} could not be checked against a manifest and may be altered")
            }
            None => format!(
                "{shown} was printed whole, but the manifest past the damage could not be read to check it"
            ),
        };
        let _ = writeln!(stderr, "warning: {}", error.message);
        if !said.is_empty() {
            let _ = writeln!(stderr, "  {said}");
        }
        if let Some(hint) = &error.hint {
            let _ = writeln!(stderr, "  hint: {hint}");
        }
    }
    if twice {
        let _ = writeln!(
            stderr,
            "warning: {} holds {shown} twice; the first was printed (logkeep writes each name once: this archive was altered)",
            display_path(input)
        );
        status = ExitStatus::Problems;
    }
    Ok(status)
}
