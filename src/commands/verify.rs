//! `logkeep verify`: every file of an output against its manifest. A file
//! that cannot be read (damaged data, a permission) is a finding like a
//! changed one, and the others are still checked where the format allows it.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::damage::{self, Unreadable};
use super::{Report, print_json};
use crate::error::{Error, Result, io_reason};
use crate::exit_codes::ExitStatus;
use crate::manifest::MANIFEST_NAME;
use crate::reader::for_each_file;
use crate::sanitize::{display_path, display_str};

pub struct VerifyOptions {
    pub inputs: Vec<PathBuf>,
    pub report: Report,
}

#[derive(Debug, Default, Serialize)]
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
    /// Files (or folders) that could not be read, and why: damaged data, a
    /// permission.
    unreadable: Vec<Unreadable>,
    /// In the manifest, not reached: reading stopped before them, or their
    /// folder could not be listed. Neither found nor known to be missing.
    not_checked: Vec<String>,
    /// Why reading stopped before the end of the output, when it did.
    stopped: Option<String>,
    /// Why the input could not be read at all (not an output, no manifest,
    /// damaged before it): then nothing was checked.
    error: Option<String>,
    /// Files the manifest says were not read whole at collection: their
    /// `zero_filled` bytes are NUL. They match the manifest; worth a word,
    /// not a failed verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nul_filled: Vec<NulFilled>,
}

#[derive(Debug, Serialize)]
struct NulFilled {
    path: String,
    zero_filled: u64,
}

impl Verdict {
    /// The verdict on an input that could not be read: nothing checked.
    fn unread(input: &Path, error: &Error) -> Verdict {
        Verdict {
            input: display_path(input),
            error: Some(error.message.clone()),
            ..Verdict::default()
        }
    }

    fn clean(&self) -> bool {
        self.changed.is_empty()
            && self.missing.is_empty()
            && self.unlisted.is_empty()
            && self.unreadable.is_empty()
            && self.not_checked.is_empty()
            && self.stopped.is_none()
    }
}

pub fn run(options: VerifyOptions) -> Result<ExitStatus> {
    let mut verdicts = Vec::new();
    let mut unreadable = 0;
    for input in &options.inputs {
        // One input that cannot be read does not hide the others' verdicts;
        // in the JSON it has a verdict of its own, so every input is there.
        match verify(input) {
            Ok(verdict) => verdicts.push(verdict),
            Err(error) if options.inputs.len() > 1 || options.report.json => {
                unreadable += 1;
                error.print();
                verdicts.push(Verdict::unread(input, &error));
            }
            Err(error) => return Err(error),
        }
    }
    if options.report.json {
        print_json(&verdicts);
    } else {
        // An input that could not be read was named on stderr.
        for v in verdicts.iter().filter(|v| v.error.is_none()) {
            println!(
                "{}: {} of {} files match the manifest{}",
                v.input,
                v.ok,
                v.files,
                if v.clean() { "" } else { ":" }
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
            for damaged in &v.unreadable {
                println!(
                    "  unreadable: {}: {}",
                    display_str(&damaged.path),
                    display_str(&damaged.reason)
                );
            }
            if let Some(stopped) = &v.stopped {
                // Nothing after it: the stream's end, or a zip's directory
                // after every entry.
                let nothing_after = crate::reader::is_damaged_end_message(stopped)
                    || crate::reader::only_directory_damaged_message(stopped);
                if v.not_checked.is_empty() && nothing_after {
                    println!("  {}", display_str(stopped));
                } else {
                    println!(
                        "  {}; what came after it could not be checked",
                        display_str(stopped)
                    );
                }
            }
            for path in &v.not_checked {
                println!("  not checked: {}", display_str(path));
            }
            for nul in &v.nul_filled {
                println!(
                    "  note: {} holds {} NUL bytes where its log could not be read at collection \
                     (it shrank or changed while read; see its manifest record)",
                    display_str(&nul.path),
                    nul.zero_filled
                );
            }
        }
    }
    let clean = verdicts.iter().all(Verdict::clean);
    Ok(if unreadable > 0 {
        ExitStatus::Error
    } else if clean {
        ExitStatus::Success
    } else {
        ExitStatus::Problems
    })
}

/// What reading an output found, before it is compared with its manifest.
#[derive(Default)]
struct Found {
    /// Each file read whole: its size and SHA-256.
    files: Sums,
    /// The manifest's bytes, or why they could not be read.
    manifest: Option<std::result::Result<Vec<u8>, String>>,
    /// Files (and folders) that could not be read.
    damaged: Vec<Unreadable>,
    /// Folders that could not be listed, with a trailing `/`: what the
    /// manifest has below them was not checked.
    closed_folders: Vec<String>,
    /// Why reading stopped before the end.
    stopped: Option<Error>,
    /// It stopped at a damaged file of a compressed stream.
    halted: bool,
    /// In a folder output, what is neither a file nor a folder (a link, a
    /// FIFO…): never logkeep's, so never checked, but worth naming.
    others: Vec<(String, &'static str)>,
}

/// The size and SHA-256 of each file read, by path. The paths share one
/// buffer and the records one list: a small allocation kept for each file,
/// made while a zip's entries each allocate and free a decompressor (aligned,
/// which the allocator cannot fit back between them), had the heap grow
/// with every file (500 MB for a zip of 20,000 files; now 44 MB).
#[derive(Default)]
struct Sums {
    paths: String,
    /// In the order read, until `sort`.
    records: Vec<Sum>,
}

#[derive(Clone, Copy)]
struct Sum {
    path: (usize, usize),
    size: u64,
    /// In lowercase hex, as the manifest writes it.
    sha256: [u8; 64],
}

impl Sums {
    fn insert(&mut self, path: &str, size: u64, sha256: &str) {
        let start = self.paths.len();
        self.paths.push_str(path);
        let mut hex = [0u8; 64];
        hex.copy_from_slice(&sha256.as_bytes()[..64]);
        self.records.push(Sum {
            path: (start, self.paths.len()),
            size,
            sha256: hex,
        });
    }

    fn path(&self, sum: &Sum) -> &str {
        &self.paths[sum.path.0..sum.path.1]
    }

    /// In path order; of two records for one path (a tar may hold a path
    /// twice), the later one, as unpacking would leave it.
    fn sort(&mut self) {
        let mut records = std::mem::take(&mut self.records);
        records.sort_by(|a, b| self.path(a).cmp(self.path(b)));
        records.dedup_by(|later, kept| {
            let same = self.path(later) == self.path(kept);
            if same {
                *kept = *later;
            }
            same
        });
        self.records = records;
    }

    /// Once sorted.
    fn get(&self, path: &str) -> Option<(u64, &str)> {
        let i = self
            .records
            .binary_search_by(|sum| self.path(sum).cmp(path))
            .ok()?;
        let sum = &self.records[i];
        Some((
            sum.size,
            std::str::from_utf8(&sum.sha256).unwrap_or_default(),
        ))
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn paths(&self) -> impl Iterator<Item = &str> {
        self.records.iter().map(|sum| self.path(sum))
    }
}

fn verify(input: &Path) -> Result<Verdict> {
    let found = if input.is_dir() {
        read_folder(&crate::reader::output_root(input))
    } else {
        read_archive(input)
    };
    let Found {
        files: mut found,
        manifest,
        damaged,
        closed_folders,
        stopped,
        halted,
        others,
    } = found;
    found.sort();
    let manifest = match (manifest, stopped) {
        (Some(Ok(bytes)), stopped) => (bytes, stopped),
        (Some(Err(reason)), _) => {
            return Err(damage::unreadable_archive(
                input,
                Error::new(format!(
                    "cannot read the manifest of {}: {reason}",
                    display_path(input)
                )),
            ));
        }
        (None, Some(error)) => {
            // Reading stopped before the manifest (written last) was reached.
            let error = if halted {
                Error::new(format!(
                    "cannot verify {}: {}, before its {MANIFEST_NAME}",
                    display_path(input),
                    error.message
                ))
            } else {
                error
            };
            return Err(damage::unreadable_archive(input, error));
        }
        (None, None) => {
            // GitHub's download of several artifacts: a zip of archives.
            let archives = !found.is_empty() && found.paths().all(crate::reader::is_archive_name);
            let hint = if archives {
                crate::reader::unzip_hint(input)
            } else {
                "only logkeep outputs can be verified".to_string()
            };
            return Err(
                Error::new(format!("{} holds no {MANIFEST_NAME}", display_path(input)))
                    .with_hint(hint),
            );
        }
    };
    let (manifest, stopped) = manifest;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).map_err(|e| {
        damage::unreadable_archive(
            input,
            Error::new(format!(
                "the manifest of {} is not valid JSON: {e}",
                display_path(input)
            )),
        )
    })?;
    let listed = manifest["files"]
        .as_array()
        .map_or(&[][..], |files| files.as_slice());
    let damaged_paths: BTreeSet<&str> = damaged.iter().map(|d| d.path.as_str()).collect();
    let mut verdict = Verdict {
        input: display_path(input),
        files: listed.len(),
        stopped: stopped.map(|e| e.message),
        ..Verdict::default()
    };
    let mut seen = BTreeSet::new();
    for record in listed {
        let path = record["path"].as_str().unwrap_or_default().to_string();
        seen.insert(path.clone());
        if let Some(zero_filled) = record["zero_filled"].as_u64().filter(|&n| n > 0) {
            verdict.nul_filled.push(NulFilled {
                path: path.clone(),
                zero_filled,
            });
        }
        match found.get(&path) {
            // Named with its reason below.
            None if damaged_paths.contains(path.as_str()) => {}
            None if verdict.stopped.is_some()
                || closed_folders
                    .iter()
                    .any(|folder| path.starts_with(folder.as_str())) =>
            {
                verdict.not_checked.push(path)
            }
            None => verdict.missing.push(path),
            Some((size, sha))
                if Some(size) == record["size"].as_u64()
                    && Some(sha) == record["sha256"].as_str() =>
            {
                verdict.ok += 1
            }
            Some(_) => verdict.changed.push(path),
        }
    }
    verdict.unlisted = found
        .paths()
        .filter(|p| !seen.contains(*p))
        .map(str::to_string)
        .collect();
    // A listed file replaced by a link is missing; an unlisted link is extra.
    verdict.unlisted.extend(
        others
            .into_iter()
            .filter(|(path, _)| !seen.contains(path))
            .map(|(path, kind)| format!("{path} ({kind})")),
    );
    verdict.unlisted.sort();
    verdict.unreadable = damaged;
    Ok(verdict)
}

/// Every file of a tar.gz, tar.zst or zip (also inside GitHub's zip). A
/// damaged zip entry costs that entry; in a compressed stream nothing past
/// damaged data can be read, so reading stops there.
fn read_archive(input: &Path) -> Found {
    let stream = damage::is_stream(input);
    let mut found = Found::default();
    // The file read last, in one buffer (see `Sums`).
    let mut last = String::new();
    let result = for_each_file(input, &mut |path, _size, data| {
        last.clear();
        last.push_str(path);
        let read = if path == MANIFEST_NAME {
            let mut text = Vec::new();
            data.read_to_end(&mut text).map(|_| {
                found.manifest = Some(Ok(text));
            })
        } else {
            crate::checksum::sha256_hex(data).map(|(len, sha256)| {
                found.files.insert(path, len, &sha256);
            })
        };
        if let Err(e) = read {
            if path == MANIFEST_NAME {
                found.manifest = Some(Err(io_reason(&e)));
            } else {
                found.damaged.push(Unreadable {
                    path: path.to_string(),
                    reason: io_reason(&e),
                });
            }
            if stream {
                found.halted = true;
                return Err(Error::new(format!(
                    "reading stopped at {} ({})",
                    display_str(path),
                    io_reason(&e)
                )));
            }
        }
        Ok(())
    });
    if let Err(error) = result {
        // A damaged tar header names the entry before it; a zip's error,
        // which does not, is placed here.
        let last = (!last.is_empty()).then_some(last);
        found.stopped = Some(match (found.halted, last) {
            (false, Some(last)) if !stream => Error {
                message: format!("{} (after {})", error.message, display_str(&last)),
                ..error
            },
            _ => error,
        });
    }
    found
}

/// Every file of a folder output, each opened on its own: one that cannot
/// be read does not keep the others from being checked.
fn read_folder(root: &Path) -> Found {
    let mut found = Found::default();
    let relative = |path: &Path| {
        path.strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1);
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                // A folder that cannot be listed (the walk has nothing else
                // to fail on): named with a `/`, and what the manifest has
                // below it is not checked.
                let path = format!("{}/", error.path().map(relative).unwrap_or_default());
                let reason = error
                    .io_error()
                    .map(io_reason)
                    .unwrap_or_else(|| error.to_string());
                found.closed_folders.push(path.clone());
                found.damaged.push(Unreadable { path, reason });
                continue;
            }
        };
        let kind = entry.file_type();
        if kind.is_dir() {
            continue;
        }
        let path = relative(entry.path());
        if !kind.is_file() {
            let name = if kind.is_symlink() {
                "a symbolic link"
            } else {
                "not a regular file"
            };
            found.others.push((path, name));
            continue;
        }
        let read = std::fs::File::open(entry.path()).and_then(|mut file| {
            if path == MANIFEST_NAME {
                let mut text = Vec::new();
                file.read_to_end(&mut text).map(|_| Some(text))
            } else {
                let (len, sha256) = crate::checksum::sha256_hex(&mut file)?;
                found.files.insert(&path, len, &sha256);
                Ok(None)
            }
        });
        match read {
            Ok(Some(manifest)) => found.manifest = Some(Ok(manifest)),
            Ok(None) => {}
            Err(e) if path == MANIFEST_NAME => found.manifest = Some(Err(io_reason(&e))),
            Err(e) => found.damaged.push(Unreadable {
                path,
                reason: io_reason(&e),
            }),
        }
    }
    found
}
