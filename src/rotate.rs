//! Rotate a log so that no boot's log is overwritten: `NAME.log` becomes
//! `NAME.<max+1>.log`, and only the newest backups are kept (the rule of rdd's
//! `logfile.Rotate`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::names::backup_number;
use crate::problem::Problem;
use crate::safe_fs::rename_noreplace;
use crate::sanitize::{display_path, serde_path};

/// How many backups rdd keeps unless told to keep all.
pub const DEFAULT_KEEP: u64 = 5;

/// How many times a rename may find its target taken by a concurrent rotator.
const MAX_RENAME_ATTEMPTS: u64 = 1000;

#[derive(Debug, Serialize)]
pub struct Rotation {
    pub name: String,
    /// Where `NAME.log` went; `None` when there was nothing to rotate.
    #[serde(serialize_with = "serde_path::option")]
    pub rotated_to: Option<PathBuf>,
    /// Backups removed because they fell out of the kept window.
    #[serde(serialize_with = "serde_path::list")]
    pub removed: Vec<PathBuf>,
    pub problems: Vec<Problem>,
}

/// Rotate `dir/name.log`. `keep` is the number of backups to keep, `None` keeps
/// all. A missing `dir` or `name.log` is not an error: there is nothing to do.
pub fn rotate(dir: &Path, name: &str, keep: Option<u64>) -> Result<Rotation> {
    let rotation = Rotation {
        name: name.to_string(),
        rotated_to: None,
        removed: Vec::new(),
        problems: Vec::new(),
    };
    let Some(highest) = highest_backup(dir, name)? else {
        return Ok(rotation);
    };
    rotate_after(dir, name, highest, keep, rotation)
}

/// Rotate with `highest` as listed; by the time of the rename it may be stale,
/// when another rotator ran meanwhile.
fn rotate_after(
    dir: &Path,
    name: &str,
    highest: u64,
    keep: Option<u64>,
    mut rotation: Rotation,
) -> Result<Rotation> {
    let active = dir.join(format!("{name}.log"));
    // A folder, FIFO, socket or device named like a log is not one: renaming
    // it would break whatever uses it. (A link is renamed as the link.)
    if let Ok(meta) = fs::symlink_metadata(&active)
        && !meta.is_file()
        && !meta.file_type().is_symlink()
    {
        rotation.problems.push(Problem::new(
            &active,
            "not a regular file (a folder, FIFO, socket or device); not rotated",
        ));
        return Ok(rotation);
    }
    // Rename first; "not found" means nothing to rotate. Checking first would race.
    let too_many = || {
        Error::new(format!(
            "cannot rotate {}: backup numbers are exhausted (its highest backup is {name}.{highest}.log)",
            display_path(&active)
        ))
        .with_hint("remove or renumber the old backups, that one first")
    };
    let mut number = highest.checked_add(1).ok_or_else(too_many)?;
    let new_number = loop {
        let target = dir.join(format!("{name}.{number}.log"));
        match rename_noreplace(&active, &target) {
            Ok(()) => {
                rotation.rotated_to = Some(target);
                break number;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(rotation),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Another rotator took this number meanwhile: never replace it.
                if number - highest >= MAX_RENAME_ATTEMPTS {
                    return Err(Error::new(format!(
                        "cannot rotate {}: {MAX_RENAME_ATTEMPTS} backup numbers after {highest} are all taken",
                        display_path(&active)
                    )));
                }
                number = number.checked_add(1).ok_or_else(too_many)?;
            }
            Err(e) => {
                let error = Error::io("rotate", &active, &e);
                // The generic hint speaks of an output; rotation renames in place.
                return Err(match e.kind() {
                    io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::StorageFull => error
                        .with_hint("rotation renames the logs in their own folder: run it where that folder's file system is writable and has room"),
                    _ => error,
                });
            }
        }
    };
    if let Some(keep) = keep {
        prune(dir, name, new_number, keep, &mut rotation);
    }
    Ok(rotation)
}

/// The highest N among `name.N.log` (0 when there is none); `None` when `dir`
/// does not exist.
fn highest_backup(dir: &Path, name: &str) -> Result<Option<u64>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read folder", dir, &e)),
    };
    let mut highest = 0;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read folder", dir, &e))?;
        if let Some(n) = entry
            .file_name()
            .to_str()
            .and_then(|f| backup_number(f, name))
        {
            highest = highest.max(n);
        }
    }
    Ok(Some(highest))
}

/// Remove backups numbered `n <= newest - keep`, exactly as rdd does: the
/// window is by number, so a gap in the numbers keeps fewer files.
fn prune(dir: &Path, name: &str, newest: u64, keep: u64, rotation: &mut Rotation) {
    let Some(limit) = newest.checked_sub(keep) else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut doomed: Vec<(u64, PathBuf)> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let n = entry
                .file_name()
                .to_str()
                .and_then(|f| backup_number(f, name))?;
            (n <= limit).then(|| (n, entry.path()))
        })
        .collect();
    doomed.sort();
    for (_, path) in doomed {
        match fs::remove_file(&path) {
            Ok(()) => rotation.removed.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => rotation
                .problems
                .push(Problem::io(&path, "remove old backup", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_rotation(name: &str) -> Rotation {
        Rotation {
            name: name.to_string(),
            rotated_to: None,
            removed: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Another rotator created backups 1 and 2 after this one listed the
    /// folder (it saw none): the rename must take 3, not replace 1.
    #[test]
    fn a_stale_listing_never_replaces_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("serial.1.log"), "boot 1").unwrap();
        fs::write(d.join("serial.2.log"), "boot 2").unwrap();
        fs::write(d.join("serial.log"), "boot 3").unwrap();
        let rotation = rotate_after(d, "serial", 0, None, new_rotation("serial")).unwrap();
        assert_eq!(rotation.rotated_to, Some(d.join("serial.3.log")));
        assert_eq!(
            fs::read_to_string(d.join("serial.1.log")).unwrap(),
            "boot 1"
        );
        assert_eq!(
            fs::read_to_string(d.join("serial.2.log")).unwrap(),
            "boot 2"
        );
        assert_eq!(
            fs::read_to_string(d.join("serial.3.log")).unwrap(),
            "boot 3"
        );
    }

    /// Another rotator took `serial.log` first: nothing left to do, no error.
    #[test]
    fn a_log_rotated_away_meanwhile_is_nothing_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let rotation =
            rotate_after(dir.path(), "serial", 4, Some(5), new_rotation("serial")).unwrap();
        assert_eq!(rotation.rotated_to, None);
    }
}
