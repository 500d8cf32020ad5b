//! `logkeep ls` and `logkeep cat`: look inside an output without unpacking it.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;

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

/// Each file's first and last own time, gathered while the manifest is read.
#[derive(Default)]
struct Spans(HashMap<String, (Timestamp, Timestamp)>);

impl Visitor for Spans {
    fn line(&mut self, file: &LogFile, line: &Line<'_>) -> Result<()> {
        if let (true, Some(t)) = (line.dated, line.time) {
            self.0
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
    let read = damage::scan(&options.input, &mut spans);
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
        spans.0.remove(&unreadable.path);
        eprintln!(
            "warning: cannot read {} in {}: {}; its times are not shown",
            display_str(&unreadable.path),
            display_path(&options.input),
            display_str(&unreadable.reason)
        );
    }
    if let Some(error) = &read.stopped {
        eprintln!(
            "warning: {}; the times of the files after it are not shown",
            display_str(&error.message)
        );
    }
    let manifest = read.scanned.manifest.ok_or_else(|| {
        Error::new(format!(
            "{} holds no readable {MANIFEST_NAME}",
            display_path(&options.input)
        ))
        .with_hint(
            "it is not a logkeep output (or GitHub's zip holds several archives: give them one by one); \
             `logkeep grep`, `timeline` and `summary` still read its files",
        )
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
                    let span = f["path"].as_str().and_then(|p| spans.0.get(p));
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
        for (key, wanted) in [
            ("instance", &options.instance),
            ("vm", &options.vm),
            ("kind", &options.kind),
        ] {
            let Some(wanted) = wanted else { continue };
            let there: BTreeSet<&str> = all.iter().filter_map(|f| f[key].as_str()).collect();
            if !there.contains(wanted.as_str()) {
                let there: Vec<&str> = there.into_iter().collect();
                eprintln!(
                    "note: no file has {key} {}; the manifest has: {}",
                    display_str(wanted),
                    display_str(&there.join(", "))
                );
            }
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

pub fn cat(options: CatOptions) -> Result<ExitStatus> {
    let mut found = false;
    // The manifest lists the file: one not found is missing, not misnamed.
    let mut listed = false;
    let stdout = std::io::stdout();
    for_each_file(&options.input, &mut |path, _, data| {
        // `./x` as tar lists it, or `x`: the same file.
        let wanted = options.path.trim_start_matches("./");
        if path.trim_start_matches("./") == MANIFEST_NAME && wanted != MANIFEST_NAME {
            listed = manifest_lists(data, wanted);
            return Ok(());
        }
        if path.trim_start_matches("./") == wanted && !found {
            found = true;
            let mut out = stdout.lock();
            // A closed pipe (`| head`) ends the copy quietly.
            match std::io::copy(data, &mut out).and_then(|_| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Error::new(format!("cannot write {path}: {e}")));
                }
                _ => {}
            }
        }
        Ok(())
    })?;
    if found {
        Ok(ExitStatus::Success)
    } else if listed {
        Err(Error::new(format!(
            "{} has no file {}: it is listed in the manifest but missing from the output",
            display_path(&options.input),
            display_str(&options.path)
        ))
        .with_hint(format!(
            "`logkeep verify {}` checks every file of the output against its manifest",
            display_path(&options.input)
        )))
    } else {
        Err(Error::new(format!(
            "{} holds no file {}",
            display_path(&options.input),
            display_str(&options.path)
        ))
        .with_hint(format!(
            "`logkeep ls {}` lists the paths",
            display_path(&options.input)
        )))
    }
}

/// Whether the manifest being read lists a file at `path`. A manifest that
/// cannot be read lists nothing.
fn manifest_lists(data: &mut dyn std::io::Read, path: &str) -> bool {
    let mut bytes = Vec::new();
    if data.read_to_end(&mut bytes).is_err() {
        return false;
    }
    serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|manifest| {
        manifest["files"]
            .as_array()
            .is_some_and(|files| files.iter().any(|f| f["path"].as_str() == Some(path)))
    })
}
