//! `logkeep extract`: unpack an output that came from the internet, treating
//! it as hostile. Anything logkeep never writes (absolute or `..` paths,
//! Windows drive or UNC names, links, devices, duplicate names) makes the
//! whole archive refused; sizes and the compression ratio are capped
//! (archive bombs). Files are written under a temporary folder beside the
//! target and renamed into place at the end: nothing is written outside it,
//! and a refused archive leaves nothing behind. A damaged one is not refused:
//! what can be read of it is unpacked, as `tar` and `unzip` do.

use std::cell::Cell;
use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use super::damage::{self, DAMAGED_MAX, is_damaged_end};
use crate::error::{Error, Result, io_reason};
use crate::exit_codes::ExitStatus;
use crate::interrupt;
use crate::manifest::MANIFEST_NAME;
use crate::reader::{Entry, EntryKind, for_each_entry, may_be_altered, only_directory_damaged};
use crate::sanitize::{display_path, display_str};
use crate::triage::{NearestPath, warn_glob_matched_nothing};

pub struct ExtractOptions {
    pub input: PathBuf,
    pub to: PathBuf,
    pub only: Option<globset::GlobMatcher>,
    pub max_total: u64,
    pub max_entry: u64,
    pub max_ratio: u64,
}

/// The ratio cap applies once this much has been unpacked: small archives of
/// empty or repetitive logs compress very well without being bombs.
const RATIO_FREE_BYTES: u64 = 16 << 20;

pub fn run(options: ExtractOptions) -> Result<ExitStatus> {
    if fs::symlink_metadata(&options.to).is_ok() {
        return Err(
            Error::new(format!("{} already exists", display_path(&options.to))).with_hint(
                "extract into a new folder; nothing is ever written into an existing one",
            ),
        );
    }
    let parent = match options.to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Registered as it is made: an interruption removes it, whatever is in
    // it. (Declared first, dropped last: still registered while it is removed.)
    let (on_interrupt, temp) = interrupt::exclusive(|| {
        let temp = tempfile::Builder::new()
            .prefix(".logkeep-extract-")
            .tempdir_in(&parent)?;
        let on_interrupt = interrupt::remember(temp.path());
        Ok((on_interrupt, temp))
    })
    .map_err(|e: std::io::Error| Error::io("create a folder in", &parent, &e))?;
    let archive_size = fs::metadata(&options.input)
        .map(|m| m.len())
        .unwrap_or(0)
        .max(1);
    let input = display_path(&options.input);
    // "LEAD: entry NAME WHY", and what to do.
    let entry_error = |lead: &str, name: &str, why: &str, hint: &str| {
        Error::new(format!("{lead}: entry {:?} {why}", display_str(name))).with_hint(hint)
    };
    let refusing = format!("refusing {input}");
    let refuse = |name: &str, why: &str| {
        entry_error(
            &refusing,
            name,
            why,
            "logkeep writes only plain relative files; this archive was not made by logkeep, or was altered",
        )
    };
    let too_big = |name: &str, why: String| {
        entry_error(
            &refusing,
            name,
            &why,
            "an archive bomb, or very large logs: if you trust it, raise the cap named above",
        )
    };
    // Names a Linux or macOS collect can write but Windows cannot: refused
    // only when the entry is to be written, so that `--only` can leave it out.
    let on_windows = format!("cannot extract {input} on Windows");
    let refuse_on_windows = |name: &str, why: &str| {
        entry_error(
            &on_windows,
            name,
            why,
            "leave it out with --only, read it with `logkeep cat`, or extract on Linux or macOS",
        )
    };
    let mut seen = BTreeSet::new();
    let mut seen_folded = BTreeSet::new();
    let mut total = 0u64;
    let mut written = 0usize;
    // Files `--only` matched (the manifest comes along unasked).
    let mut asked_for = 0usize;
    // The paths, for the example of a `--only` that matched nothing.
    let mut paths_seen =
        NearestPath::new(options.only.as_ref().map(|g| g.glob().glob()), "**", true);
    // What the archive's own reading fails with says it looks damaged, as
    // in every other command; this side's failures (refusals, the disk
    // written to) are told as they are.
    let mut failed_here = false;
    // An entry's bytes could not be read: the archive's damage.
    let read_failed = Cell::new(false);
    let mut damaged: Vec<DamagedEntry> = Vec::new();
    let mut manifest_written = false;
    let mut each = |entry: &Entry<'_>, data: &mut dyn Read| -> Result<()> {
        let (name, kind) = (entry.name, entry.kind);
        match kind {
            EntryKind::File => {}
            EntryKind::Dir => return check_name(name).map_err(|why| refuse(name, why)).map(drop),
            EntryKind::Symlink => return Err(refuse(name, "is a symbolic link")),
            EntryKind::Hardlink => return Err(refuse(name, "is a hard link")),
            EntryKind::Device => return Err(refuse(name, "is a device or FIFO")),
            EntryKind::Other => return Err(refuse(name, "is not a regular file")),
        }
        let relative = check_name(name).map_err(|why| refuse(name, why))?;
        if !seen.insert(relative.clone()) {
            return Err(refuse(name, "appears twice"));
        }
        if relative != Path::new(MANIFEST_NAME) {
            paths_seen.see(name);
        }
        // The manifest always comes along: it is the index of what was
        // extracted, and `verify`, `summary` and `timeline` need it.
        let asked = options
            .only
            .as_ref()
            .is_none_or(|glob| glob.is_match(&relative));
        if !asked && relative != Path::new(MANIFEST_NAME) {
            return Ok(());
        }
        asked_for += usize::from(asked);
        if cfg!(windows) {
            if let Some(why) = windows_name_problem(name) {
                return Err(refuse_on_windows(name, why));
            }
            // Windows does not tell `A.log` from `a.log`: the second would
            // fail to be created, or be written into the first.
            // The checked path, not the entry's name: `./A.log` is `A.log`.
            if !seen_folded.insert(relative.to_string_lossy().to_lowercase()) {
                return Err(refuse_on_windows(
                    name,
                    "differs from another entry only in case, which Windows does not tell apart",
                ));
            }
        }
        let target = temp.path().join(&relative);
        // An entry named as what was kept of a damaged one (an archive not
        // made by logkeep): the entry is what the archive holds.
        if let Some(clash) = damaged
            .iter_mut()
            .find(|d| d.kept.as_ref().is_some_and(|kept| *kept == relative))
        {
            let _ = fs::remove_file(&target);
            clash.kept = None;
        }
        // Not while an interruption removes the folder: that would bring it back.
        let mut out = interrupt::exclusive(|| {
            if let Some(dir) = target.parent() {
                fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, &e))?;
            }
            // create_new: never through anything already there. Mode 0644: no setuid.
            File::create_new(&target).map_err(|e| Error::io("create", &target, &e))
        })?;
        let mut entry_bytes = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match data.read(&mut buf) {
                Ok(n) => n,
                // The archive is damaged here: what was read of the entry is
                // kept under a name that says so, and the caller decides
                // whether reading goes on.
                Err(e) => {
                    drop(out);
                    read_failed.set(true);
                    let kept = keep_damaged(temp.path(), &target, entry_bytes);
                    damaged.push(DamagedEntry {
                        name: name.to_string(),
                        reason: io_reason(&e),
                        read: entry_bytes,
                        kept,
                    });
                    return Err(Error::io(&format!("read {name} in"), &options.input, &e));
                }
            };
            if n == 0 {
                break;
            }
            entry_bytes += n as u64;
            total += n as u64;
            if entry_bytes > options.max_entry {
                return Err(too_big(
                    name,
                    format!(
                        "unpacks to more than --max-entry {} bytes",
                        options.max_entry
                    ),
                ));
            }
            if total > options.max_total {
                return Err(too_big(
                    name,
                    format!(
                        "takes the total past --max-total {} bytes",
                        options.max_total
                    ),
                ));
            }
            if total > RATIO_FREE_BYTES && total / archive_size > options.max_ratio {
                return Err(too_big(
                    name,
                    format!(
                        "takes the compression ratio past --max-ratio {}",
                        options.max_ratio
                    ),
                ));
            }
            out.write_all(&buf[..n])
                .map_err(|e| Error::io("write", &target, &e))?;
        }
        written += 1;
        manifest_written |= relative == Path::new(MANIFEST_NAME);
        Ok(())
    };
    // A zip's entries and a folder's files can be read past a damaged one:
    // reading starts again, passing over (by their place in the input) the
    // entries already done and the damaged ones. A compressed stream cannot
    // be read past damage: what comes after it is lost.
    let stream = damage::is_stream(&options.input);
    let (mut done, mut skip) = (HashSet::new(), HashSet::new());
    // The last entry read to its end, by its name.
    let mut last_done: Option<String> = None;
    let mut stopped = loop {
        let mut index = 0u64;
        let mut current = None;
        let pass = for_each_entry(&options.input, &mut |entry, data| {
            let at = index;
            index += 1;
            if done.contains(&at) || skip.contains(&at) {
                return Ok(());
            }
            current = Some(at);
            each(entry, data).inspect_err(|_| failed_here = !read_failed.take())?;
            done.insert(at);
            current = None;
            last_done = Some(entry.name.to_string());
            Ok(())
        });
        match pass {
            Ok(()) => break None,
            // Refused, too big, or this side's disk: nothing is kept.
            Err(e) if failed_here => return Err(e),
            Err(e) => match current {
                Some(at) if !stream && skip.len() + 1 < DAMAGED_MAX => {
                    skip.insert(at);
                }
                _ => {
                    break Some(Stopped {
                        error: e,
                        at_entry: current.is_some(),
                    });
                }
            },
        }
    };
    // A zip read from its front (its directory lost) checks an entry's
    // checksum after its bytes: an entry found altered is written already.
    if let Some(Stopped { error, at_entry }) = &mut stopped
        && !*at_entry
        && let Some(name) = &last_done
        && crate::zip_recovery::is_altered_entry(error, name)
        && let Ok(relative) = check_name(name)
        && let Ok(meta) = fs::symlink_metadata(temp.path().join(&relative))
        && meta.is_file()
    {
        written -= 1;
        let kept = keep_damaged(temp.path(), &temp.path().join(&relative), meta.len());
        damaged.push(DamagedEntry {
            name: name.clone(),
            reason: damage::reason(&options.input, name, error),
            read: meta.len(),
            kept,
        });
        *at_entry = true;
    }
    let damaged_any = stopped.is_some() || !damaged.is_empty();
    if damaged_any && written == 0 && damaged.iter().all(|d| d.kept.is_none()) {
        // Nothing could be read: no folder of nothing.
        let error = match (&stopped, damaged.first()) {
            (Some(stopped), _) => stopped.error.clone(),
            (None, Some(entry)) => Error::new(format!(
                "cannot read {} in {}: {}",
                display_str(&entry.name),
                input,
                display_str(&entry.reason)
            )),
            (None, None) => unreachable!("damaged_any"),
        };
        let error = match &options.only {
            Some(glob) if asked_for == 0 => Error::new(format!(
                "{}; no file that --only {:?} matches comes before the damage",
                error.message,
                display_str(glob.glob().glob())
            )),
            _ => error,
        };
        return Err(damage::unreadable_archive(&options.input, error));
    }
    interrupt::exclusive(|| {
        let kept = temp.keep();
        let renamed = fs::rename(&kept, &options.to).map_err(|e| {
            let _ = fs::remove_dir_all(&kept);
            Error::io("put the extracted files at", &options.to, &e)
        });
        drop(on_interrupt);
        renamed
    })?;
    let kept_damaged = damaged.iter().filter(|d| d.kept.is_some()).count();
    println!(
        "extracted {}{} ({}) into {}",
        plural(written as u64, "file"),
        match kept_damaged {
            0 => String::new(),
            n => format!(
                " and what could be read of {}",
                plural(n as u64, "damaged file")
            ),
        },
        plural(total, "byte"),
        display_path(&options.to)
    );
    if damaged_any {
        report_damage(&options, &damaged, stopped.as_ref(), manifest_written);
    }
    // A glob that matches nothing is most likely a typo: say so, and exit 3
    // so that a script does not go on with a folder of nothing it asked for.
    // (Not when reading stopped: the names after the damage are unknown.)
    if let Some(glob) = &options.only
        && asked_for == 0
        && stopped.is_none()
    {
        let left = if written == 0 {
            "nothing"
        } else {
            "only its manifest.json"
        };
        // `*` stops at `/` in `--only`: a folder's files are `DIR/**`.
        let (sample, example) = match paths_seen.nearest() {
            Some((path, near)) => {
                let folder = path.split('/').next().unwrap_or(&path);
                let glob = near.unwrap_or_else(|| format!("{folder}/**"));
                let example = format!("'{glob}' (`*` stops at `/`, `**` crosses it)");
                (Some(path), Some(example))
            }
            None => (None, None),
        };
        warn_glob_matched_nothing(
            "--only",
            glob.glob().glob(),
            sample.as_deref(),
            example,
            &format!(
                "; {} holds {left}: remove it before extracting again",
                display_path(&options.to)
            ),
        );
        return Ok(ExitStatus::Problems);
    }
    Ok(match damaged_any {
        true => ExitStatus::Problems,
        false => ExitStatus::Success,
    })
}

/// Where and why reading stopped before the archive's end.
struct Stopped {
    error: Error,
    /// At an entry whose bytes could not all be read (the last of the
    /// damaged ones), not between entries.
    at_entry: bool,
}

/// An entry whose bytes could not all be read.
struct DamagedEntry {
    name: String,
    reason: String,
    /// How many of its bytes were read.
    read: u64,
    /// Where what was read of it is, relative to the target (and to the
    /// temporary folder before it): none when nothing was, or it could not
    /// be kept.
    kept: Option<PathBuf>,
}

/// The suffix of a file kept from a damaged entry: the name says it is not
/// whole, and nothing logkeep writes ends so.
const DAMAGED_SUFFIX: &str = ".damaged";

/// Keep the `bytes` read of a damaged entry written at `target` as
/// `TARGET.damaged`, and say where it is relative to `root`; a file of
/// nothing is removed.
fn keep_damaged(root: &Path, target: &Path, bytes: u64) -> Option<PathBuf> {
    let mut name = target.file_name()?.to_os_string();
    name.push(DAMAGED_SUFFIX);
    let kept = target.with_file_name(name);
    let moved =
        bytes > 0 && fs::symlink_metadata(&kept).is_err() && fs::rename(target, &kept).is_ok();
    if !moved {
        let _ = fs::remove_file(target);
        return None;
    }
    kept.strip_prefix(root).ok().map(Path::to_path_buf)
}

/// Say on stderr what of a damaged archive is not in the extracted folder,
/// and what to do.
fn report_damage(
    options: &ExtractOptions,
    damaged: &[DamagedEntry],
    stopped: Option<&Stopped>,
    manifest_written: bool,
) {
    let input = display_path(&options.input);
    let mut stderr = std::io::stderr().lock();
    for entry in damaged {
        let what = match &entry.kept {
            Some(path) => format!(
                "the {} read of it are in {}",
                plural(entry.read, "byte"),
                display_path(&options.to.join(path))
            ),
            None if entry.read == 0 => "nothing of it could be read".to_string(),
            // Its `.damaged` name is another entry's.
            None => format!(
                "the {} read of it are not kept: the archive has a {}{DAMAGED_SUFFIX} already",
                plural(entry.read, "byte"),
                display_str(&entry.name)
            ),
        };
        let _ = writeln!(
            stderr,
            "warning: cannot read {} in {input}: {}; {what}",
            display_str(&entry.name),
            display_str(&entry.reason)
        );
    }
    let Some(Stopped { error, at_entry }) = stopped else {
        let _ = writeln!(
            stderr,
            "  hint: the other files are whole; download the archive again to get the damaged ones"
        );
        return;
    };
    let lead = match (at_entry, damaged.last()) {
        (true, Some(entry)) => format!("reading stopped at {}", display_str(&entry.name)),
        _ => error.message.clone(),
    };
    let consequence = if only_directory_damaged(error) {
        "no file is missing".to_string()
    } else if is_damaged_end(error) {
        format!(
            "every file was read, but what was extracted may be altered (`logkeep verify {}` \
             checks each file against the manifest)",
            display_path(&options.to)
        )
    } else {
        format!(
            "the files after it{} are not extracted{}",
            if manifest_written {
                ""
            } else {
                ", and the manifest,"
            },
            // A zip's entries before it passed their own checksums.
            if may_be_altered(error) && damage::is_compressed_tar(&options.input) {
                "; what was read before it may be altered"
            } else {
                ""
            }
        )
    };
    let error = damage::unreadable_archive(&options.input, Error::new(lead));
    let _ = writeln!(stderr, "warning: {}; {consequence}", error.message);
    if let Some(hint) = &error.hint {
        let _ = writeln!(stderr, "  hint: {hint}");
    }
}

/// `1 file`, `2 files`.
fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// A name logkeep could have written: relative, `/`-separated, no `..`, no
/// drive letter or UNC prefix, no backslash.
fn check_name(name: &str) -> std::result::Result<PathBuf, &'static str> {
    if name.is_empty() {
        return Err("has no name");
    }
    if name.contains('\\') {
        return Err("has a backslash (a Windows path)");
    }
    if name.starts_with('/') {
        return Err("is an absolute path");
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Err("starts with a drive letter");
    }
    let mut relative = PathBuf::new();
    for component in Path::new(name.trim_end_matches('/')).components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("goes up with `..`"),
            _ => return Err("is not a plain relative path"),
        }
    }
    if relative.as_os_str().is_empty() {
        return Err("has no name");
    }
    Ok(relative)
}

/// Why Windows cannot create `name` (a relative `/`-separated path) as the
/// file it names, if it cannot (see [`crate::names::windows_problem`]).
/// logkeep escapes all of these when it collects; archives from elsewhere
/// may hold them.
fn windows_name_problem(name: &str) -> Option<&'static str> {
    name.trim_end_matches('/')
        .split('/')
        .find_map(crate::names::windows_problem)
}

/// Used by `--only`: a glob over layout paths.
pub fn only_glob(pattern: &str) -> Result<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| Error::new(format!("--only {pattern:?} is not a valid glob: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_windows_cannot_create_are_told_apart_from_those_it_can() {
        for ok in [
            "manifest.json",
            "bats-lima-controller/lima-test-stopped/serial.1.log",
            "inst/test-vm-deleted.2/ha.stderr.log",
            "inst/name with space.log",
            "inst/console.log",
            "inst/com10.log",
            "inst/naïve.log",
            "inst/",
        ] {
            assert_eq!(windows_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "inst/a.log:hidden",
            "inst:x/a.log",
            "inst/q?.log",
            "inst/a|b.log",
            "inst/b.log.",
            "inst/c.log ",
            "inst./a.log",
            "inst/CON",
            "inst/nul.log",
            "inst/com1.log",
            "LPT9/a.log",
            "inst/aux .log",
        ] {
            assert!(windows_name_problem(bad).is_some(), "{bad}");
        }
    }
}
