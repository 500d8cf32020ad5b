//! `logkeep ls` and `logkeep cat`: look inside an output without unpacking it.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Report, print_json};
use crate::error::{Error, Result};
use crate::exit_codes::ExitStatus;
use crate::manifest::MANIFEST_NAME;
use crate::reader::for_each_file;
use crate::sanitize::{display_path, display_str};

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

/// The manifest of an output (read from wherever it stands in the stream).
fn read_manifest(input: &Path) -> Result<serde_json::Value> {
    let mut text = None;
    for_each_file(input, &mut |path, _, data| {
        if path == MANIFEST_NAME {
            let mut bytes = Vec::new();
            data.read_to_end(&mut bytes)
                .map_err(|e| Error::io("read manifest of", input, &e))?;
            text = Some(bytes);
        }
        Ok(())
    })?;
    let text = text
        .ok_or_else(|| Error::new(format!("{} holds no {MANIFEST_NAME}", display_path(input))))?;
    serde_json::from_slice(&text).map_err(|e| {
        Error::new(format!(
            "the manifest of {} is not valid JSON: {e}",
            display_path(input)
        ))
    })
}

pub fn ls(options: LsOptions) -> Result<ExitStatus> {
    let manifest = read_manifest(&options.input)?;
    let matches = |record: &serde_json::Value, key: &str, wanted: &Option<String>| {
        wanted
            .as_ref()
            .is_none_or(|w| record[key].as_str() == Some(w.as_str()))
    };
    let files: Vec<&serde_json::Value> = manifest["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .filter(|f| {
                    matches(f, "instance", &options.instance)
                        && matches(f, "vm", &options.vm)
                        && matches(f, "kind", &options.kind)
                })
                .collect()
        })
        .unwrap_or_default();
    if options.report.json {
        print_json(&files);
        return Ok(ExitStatus::Success);
    }
    let text = |v: &serde_json::Value| {
        v.as_str()
            .map(display_str)
            .unwrap_or_else(|| "-".to_string())
    };
    println!(
        "{:<10} {:<24} {:<20} {:>4} {:>12}  PATH",
        "KIND", "INSTANCE", "VM", "ROT", "SIZE"
    );
    for f in &files {
        println!(
            "{:<10} {:<24} {:<20} {:>4} {:>12}  {}",
            text(&f["kind"]),
            text(&f["instance"]),
            text(&f["vm"]),
            f["rotation"]
                .as_u64()
                .map_or("-".to_string(), |n| n.to_string()),
            f["size"].as_u64().unwrap_or(0),
            text(&f["path"]),
        );
    }
    Ok(ExitStatus::Success)
}

pub fn cat(options: CatOptions) -> Result<ExitStatus> {
    let mut found = false;
    let stdout = std::io::stdout();
    for_each_file(&options.input, &mut |path, _, data| {
        if path == options.path && !found {
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
