//! `logkeep verify`: every file of an output against its manifest.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{Report, print_json};
use crate::error::{Error, Result};
use crate::exit_codes::ExitStatus;
use crate::manifest::MANIFEST_NAME;
use crate::reader::for_each_file;
use crate::sanitize::{display_path, display_str};

pub struct VerifyOptions {
    pub inputs: Vec<PathBuf>,
    pub report: Report,
}

#[derive(Debug, Serialize)]
struct Verdict {
    input: String,
    files: usize,
    ok: usize,
    /// Files whose size or SHA-256 differ from the manifest.
    changed: Vec<String>,
    /// In the manifest, not in the output.
    missing: Vec<String>,
    /// In the output, not in the manifest.
    unlisted: Vec<String>,
}

pub fn run(options: VerifyOptions) -> Result<ExitStatus> {
    let mut verdicts = Vec::new();
    let mut unreadable = 0;
    for input in &options.inputs {
        // One input that cannot be read does not hide the others' verdicts.
        match verify(input) {
            Ok(verdict) => verdicts.push(verdict),
            Err(error) if options.inputs.len() > 1 => {
                unreadable += 1;
                error.print();
            }
            Err(error) => return Err(error),
        }
    }
    if options.report.json {
        print_json(&verdicts);
    } else {
        for v in &verdicts {
            let clean = v.changed.is_empty() && v.missing.is_empty() && v.unlisted.is_empty();
            println!(
                "{}: {} of {} files match the manifest{}",
                v.input,
                v.ok,
                v.files,
                if clean { "" } else { ":" }
            );
            for (label, list) in [
                ("changed", &v.changed),
                ("missing", &v.missing),
                ("not in the manifest", &v.unlisted),
            ] {
                for path in list {
                    println!("  {label}: {}", display_str(path));
                }
            }
        }
    }
    let clean = verdicts
        .iter()
        .all(|v| v.changed.is_empty() && v.missing.is_empty() && v.unlisted.is_empty());
    Ok(if unreadable > 0 {
        ExitStatus::Error
    } else if clean {
        ExitStatus::Success
    } else {
        ExitStatus::Problems
    })
}

fn verify(input: &std::path::Path) -> Result<Verdict> {
    let mut found: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut manifest = None;
    for_each_file(input, &mut |path, _size, data| {
        if path == MANIFEST_NAME {
            let mut text = Vec::new();
            data.read_to_end(&mut text)
                .map_err(|e| Error::io("read manifest of", input, &e))?;
            manifest = Some(text);
            return Ok(());
        }
        let (len, sha256) = crate::checksum::sha256_hex(data)
            .map_err(|e| Error::io(&format!("read {path} in"), input, &e))?;
        found.insert(path.to_string(), (len, sha256));
        Ok(())
    })?;
    let manifest = manifest.ok_or_else(|| {
        Error::new(format!("{} holds no {MANIFEST_NAME}", display_path(input)))
            .with_hint("only logkeep outputs can be verified")
    })?;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).map_err(|e| {
        Error::new(format!(
            "the manifest of {} is not valid JSON: {e}",
            display_path(input)
        ))
    })?;
    let listed = manifest["files"].as_array().cloned().unwrap_or_default();
    let mut verdict = Verdict {
        input: display_path(input),
        files: listed.len(),
        ok: 0,
        changed: Vec::new(),
        missing: Vec::new(),
        unlisted: Vec::new(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for record in &listed {
        let path = record["path"].as_str().unwrap_or_default().to_string();
        seen.insert(path.clone());
        match found.get(&path) {
            None => verdict.missing.push(path),
            Some((size, sha))
                if Some(*size) == record["size"].as_u64()
                    && Some(sha.as_str()) == record["sha256"].as_str() =>
            {
                verdict.ok += 1
            }
            Some(_) => verdict.changed.push(path),
        }
    }
    verdict.unlisted = found.into_keys().filter(|p| !seen.contains(p)).collect();
    Ok(verdict)
}
