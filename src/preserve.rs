//! Move a VM's logs out of its Lima instance folder before the folder is
//! deleted: into `LOG_DIR/<vm>` (or `<vm>.2` … `<vm>.1000`), by rename, or by a
//! verified copy when rename cannot work (another file system, a locked file).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::interrupt;
use crate::problem::Problem;
use crate::safe_fs::{create_private_dir, open_regular, rename_noreplace};
use crate::sanitize::{display_path, serde_path};

/// rdd gives up looking for a free `<vm>.N` folder after this number.
const MAX_PRESERVED_COPIES: u32 = 1000;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum MoveMethod {
    /// Renamed: the fast, atomic case.
    Rename,
    /// Copied, flushed, verified, then the source removed.
    Copy,
    /// Copied and verified, but the source is still there (it could not be
    /// removed, or it changed during the copy): both are kept.
    CopyKeptSource,
}

#[derive(Debug, Clone, Serialize)]
pub struct Moved {
    pub vm: String,
    #[serde(serialize_with = "serde_path::one")]
    pub from: PathBuf,
    #[serde(serialize_with = "serde_path::one")]
    pub to: PathBuf,
    pub method: MoveMethod,
    /// Why the rename did not work, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rename_error: Option<String>,
}

/// A log kept in the Lima home by an earlier run (it could not be removed)
/// and unchanged since: its copy is there already.
#[derive(Debug, Clone, Serialize)]
pub struct AlreadyPreserved {
    pub vm: String,
    #[serde(serialize_with = "serde_path::one")]
    pub from: PathBuf,
    #[serde(serialize_with = "serde_path::one")]
    pub copy: PathBuf,
}

#[derive(Debug, Default, Serialize)]
pub struct Preservation {
    pub moved: Vec<Moved>,
    /// Not copied again: see [`AlreadyPreserved`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub already_preserved: Vec<AlreadyPreserved>,
    /// The folders created under the log dir, one per VM with logs.
    #[serde(serialize_with = "serde_path::list")]
    pub folders: Vec<PathBuf>,
    pub problems: Vec<Problem>,
}

/// Preserve the logs of the VMs in `lima_home` (all of them, or those named in
/// `only`) into `log_dir`. A missing Lima home is not an error: no VM, no logs.
/// A VM whose pid file names a live process is left alone and reported,
/// unless `even_if_running`: its logs are still being written.
pub fn preserve(
    lima_home: &Path,
    log_dir: &Path,
    only: &[String],
    even_if_running: bool,
) -> Result<Preservation> {
    let mut result = Preservation::default();
    for vm in vm_names(lima_home, only, &mut result.problems)? {
        let vm_dir = lima_home.join(&vm);
        if !even_if_running && let Some((pid_file, pid)) = live_pid(&vm_dir) {
            result.problems.push(Problem::new(
                &vm_dir,
                format!(
                    "VM {vm} is running ({pid_file} names live process {pid}); its logs were left in place: \
                     stop it first, or add --even-if-running"
                ),
            ));
            continue;
        }
        preserve_vm(&vm_dir, log_dir, &vm, &mut result);
    }
    Ok(result)
}

/// The first `*.pid` file in a VM folder (`ha.pid`, `qemu.pid`, …) that names
/// a live process.
fn live_pid(vm_dir: &Path) -> Option<(String, u32)> {
    let mut pid_files: Vec<PathBuf> = fs::read_dir(vm_dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pid"))
        .collect();
    pid_files.sort();
    pid_files.into_iter().find_map(|path| {
        let pid: u32 = fs::read_to_string(&path).ok()?.trim().parse().ok()?;
        let name = path.file_name()?.to_string_lossy().into_owned();
        process_is_alive(pid).then_some((name, pid))
    })
}

#[cfg(unix)]
fn process_is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_is_alive(_pid: u32) -> bool {
    // No cheap check without more dependencies: treat the VM as stopped.
    false
}

/// VM folders: every folder in the Lima home whose name does not start with
/// `_` (`_config`, `_disks` hold no VM).
fn vm_names(lima_home: &Path, only: &[String], problems: &mut Vec<Problem>) -> Result<Vec<String>> {
    if !only.is_empty() {
        let mut names = Vec::new();
        for vm in only {
            let dir = lima_home.join(vm);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => names.push(vm.clone()),
                Ok(_) => problems.push(Problem::new(
                    &dir,
                    "not a VM folder (not a directory); skipped",
                )),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    problems.push(Problem::new(&dir, "no such VM folder; nothing to preserve"))
                }
                Err(e) => problems.push(Problem::io(&dir, "inspect VM folder", &e)),
            }
        }
        return Ok(names);
    }
    let entries = match fs::read_dir(lima_home) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read Lima home", lima_home, &e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read Lima home", lima_home, &e))?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        match entry.file_name().into_string() {
            Ok(name) if is_dir && !name.starts_with('_') => names.push(name),
            Ok(_) => {}
            Err(raw) => problems.push(Problem::new(
                &entry.path(),
                format!(
                    "VM folder name {} is not UTF-8; skipped",
                    display_path(Path::new(&raw))
                ),
            )),
        }
    }
    names.sort();
    Ok(names)
}

/// The regular `*.log` files directly in `dir` (not links, not folders), sorted.
fn log_files(dir: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            problems.push(Problem::io(dir, "read VM folder", &e));
            return Vec::new();
        }
    };
    let mut logs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter(|entry| entry.file_name().as_encoded_bytes().ends_with(b".log"))
        .map(|entry| entry.path())
        .collect();
    logs.sort();
    logs
}

fn preserve_vm(vm_dir: &Path, log_dir: &Path, vm: &str, result: &mut Preservation) {
    let mut logs = log_files(vm_dir, &mut result.problems);
    // A log an earlier run copied but could not remove (held open, a
    // read-only folder) is not copied again as long as it is unchanged:
    // each run of the BATS hook would add a folder of the same copies.
    logs.retain(|src| match preserved_copy(log_dir, vm, src) {
        Some(copy) => {
            result.already_preserved.push(AlreadyPreserved {
                vm: vm.to_string(),
                from: src.clone(),
                copy,
            });
            false
        }
        None => true,
    });
    if logs.is_empty() {
        return;
    }
    let dest = match create_preserve_dir(log_dir, vm) {
        Ok(dest) => dest,
        Err(problem) => {
            result.problems.push(problem);
            return;
        }
    };
    let mut moved_any = false;
    for src in logs {
        let to = dest.join(src.file_name().expect("listed files have names"));
        match move_file(&src, &to) {
            Ok((method, rename_error)) => {
                moved_any = true;
                if method == MoveMethod::CopyKeptSource {
                    result.problems.push(Problem::new(
                        &src,
                        format!(
                            "copied to {} and verified, but the source was kept: {}",
                            display_path(&to),
                            rename_error.as_deref().unwrap_or("it could not be removed")
                        ),
                    ));
                }
                result.moved.push(Moved {
                    vm: vm.to_string(),
                    from: src,
                    to,
                    method,
                    rename_error,
                });
            }
            Err(problem) => result.problems.push(problem),
        }
    }
    if moved_any {
        result.folders.push(dest);
    } else {
        // Nothing arrived: leave no empty folder behind.
        let _ = fs::remove_dir(&dest);
    }
}

/// The copy of `src` in one of the VM's preserved folders (`log_dir/<vm>`,
/// `<vm>.2`, …) when it has the source's size and modification time, which
/// a copy keeps: the source is unchanged since it was copied.
fn preserved_copy(log_dir: &Path, vm: &str, src: &Path) -> Option<PathBuf> {
    let source = fs::symlink_metadata(src).ok()?;
    let name = src.file_name()?;
    (1..=MAX_PRESERVED_COPIES)
        .map(|n| match n {
            1 => log_dir.join(vm),
            n => log_dir.join(format!("{vm}.{n}")),
        })
        .take_while(|dir| dir.is_dir())
        .map(|dir| dir.join(name))
        .find(|copy| {
            fs::symlink_metadata(copy).is_ok_and(|m| {
                m.is_file()
                    && m.len() == source.len()
                    && m.modified().ok() == source.modified().ok()
            })
        })
}

/// Create `log_dir/<vm>`, or the first free `<vm>.2` … `<vm>.1000`.
fn create_preserve_dir(log_dir: &Path, vm: &str) -> Result<PathBuf, Problem> {
    if let Err(e) = fs::create_dir_all(log_dir) {
        return Err(Problem::io(log_dir, "create log folder", &e));
    }
    for n in 1..=MAX_PRESERVED_COPIES {
        let name = if n == 1 {
            vm.to_string()
        } else {
            format!("{vm}.{n}")
        };
        let dir = log_dir.join(name);
        match create_private_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Problem::io(&dir, "create folder for preserved logs", &e)),
        }
    }
    Err(Problem::new(
        &log_dir.join(vm),
        format!(
            "{vm} … {vm}.{MAX_PRESERVED_COPIES} all exist; logs left in place: remove old preserved folders"
        ),
    ))
}

/// Move one file: rename, or copy-verify-remove when rename fails.
/// On error, the source is untouched and no partial copy is left.
fn move_file(src: &Path, to: &Path) -> Result<(MoveMethod, Option<String>), Problem> {
    let rename_error = match fs::rename(src, to) {
        Ok(()) => return Ok((MoveMethod::Rename, None)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && fs::symlink_metadata(src).is_err() => {
            return Err(Problem::new(src, "vanished before it could be moved"));
        }
        Err(e) => crate::error::io_reason(&e),
    };
    let copied = copy_verified(src, to)?;
    // Remove the source only if it is still exactly what was copied.
    let unchanged = fs::symlink_metadata(src)
        .is_ok_and(|m| m.len() == copied.len && m.modified().ok() == copied.modified);
    if !unchanged {
        return Ok((
            MoveMethod::CopyKeptSource,
            Some(format!(
                "rename failed ({rename_error}) and the source changed during the copy"
            )),
        ));
    }
    // A writer that still holds the file would go on writing into a removed
    // file, and those lines would be lost.
    if let Some(pid) = held_open_by(src) {
        return Ok((
            MoveMethod::CopyKeptSource,
            Some(format!(
                "rename failed ({rename_error}) and process {pid} still has the source open"
            )),
        ));
    }
    match fs::remove_file(src) {
        Ok(()) => Ok((MoveMethod::Copy, Some(rename_error))),
        Err(e) => Ok((
            MoveMethod::CopyKeptSource,
            Some(format!(
                "rename failed ({rename_error}); removing the source failed ({})",
                crate::error::io_reason(&e)
            )),
        )),
    }
}

/// A process (other than this one) that has `path` open, where the OS lets
/// us see it (Linux: `/proc/*/fd`).
#[cfg(target_os = "linux")]
fn held_open_by(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let target = fs::metadata(path).ok()?;
    let me = std::process::id();
    for proc_entry in fs::read_dir("/proc").ok()?.filter_map(|e| e.ok()) {
        let Some(pid) = proc_entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.filter_map(|e| e.ok()) {
            if let Ok(meta) = fs::metadata(fd.path())
                && meta.ino() == target.ino()
                && meta.dev() == target.dev()
            {
                return Some(pid);
            }
        }
    }
    None
}

#[cfg(not(target_os = "linux"))]
fn held_open_by(_path: &Path) -> Option<u32> {
    None
}

#[derive(Debug)]
struct Copied {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

/// Copy `src` to `to`, flush it to disk, and read it back to check its
/// length and SHA-256 against what was read from the source. The copy is
/// written under a hidden partial name and renamed to `to` only once verified;
/// on failure or interruption the partial copy is removed.
fn copy_verified(src: &Path, to: &Path) -> Result<Copied, Problem> {
    let mut input = open_regular(src).map_err(|e| Problem::io(src, "open for copying", &e))?;
    let modified = input.metadata().ok().and_then(|m| m.modified().ok());
    let partial = partial_name(to);
    // Registered first: an interruption between create and register would leave it.
    let _on_interrupt = interrupt::remember(&partial);
    // Under the creation lock: an interruption either finds it and removes
    // it, or ends the run before it is made.
    let output = interrupt::exclusive(|| File::create_new(&partial))
        .map_err(|e| Problem::io(&partial, "create copy", &e))?;
    let result = copy_into(&mut input, output, modified, src, &partial).and_then(|copied| {
        rename_noreplace(&partial, to)
            .map_err(|e| Problem::io(to, "put the verified copy in place (source kept)", &e))?;
        Ok(copied)
    });
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    result
}

/// Ends the name of a preserved log being copied (see [`partial_name`]).
pub const PARTIAL_SUFFIX: &str = ".logkeep-partial";

/// `dir/serial.log` → `dir/.serial.log.logkeep-partial`: not a `*.log`, so a
/// copy cut short by a crash is never mistaken for a log. A name too long to
/// take the affixes (file names are at most 255 bytes) is shortened: the
/// folder is this run's own, and its files are copied one at a time.
fn partial_name(to: &Path) -> PathBuf {
    const NAME_MAX: usize = 255;
    let file_name = to.file_name().unwrap_or_default();
    let room = NAME_MAX - 1 - PARTIAL_SUFFIX.len();
    let mut name = std::ffi::OsString::from(".");
    if file_name.len() <= room {
        name.push(file_name);
    } else {
        let lossy = file_name.to_string_lossy();
        let mut end = room;
        while !lossy.is_char_boundary(end) {
            end -= 1;
        }
        name.push(&lossy[..end]);
    }
    name.push(PARTIAL_SUFFIX);
    to.with_file_name(name)
}

fn copy_into(
    input: &mut File,
    mut output: File,
    modified: Option<std::time::SystemTime>,
    src: &Path,
    to: &Path,
) -> Result<Copied, Problem> {
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Problem::io(src, "read for copying (source kept)", &e)),
        };
        hasher.update(&buf[..n]);
        output
            .write_all(&buf[..n])
            .map_err(|e| Problem::io(to, "write copy (source kept)", &e))?;
        len += n as u64;
    }
    output
        .sync_all()
        .map_err(|e| Problem::io(to, "flush copy to disk (source kept)", &e))?;
    drop(output);
    if let Some(time) = modified
        && let Ok(file) = File::options().write(true).open(to)
    {
        let _ = file.set_modified(time);
    }
    #[cfg(test)]
    tests::corrupt_copy_if_asked(to);
    let expected = hex::encode(hasher.finalize());
    let (copy_len, copy_hash) = File::open(to)
        .and_then(|mut f| crate::checksum::sha256_hex(&mut f))
        .map_err(|e| Problem::io(to, "read back copy (source kept)", &e))?;
    if copy_len != len || copy_hash != expected {
        return Err(Problem::new(
            to,
            "the copy does not match the source after writing; copy removed, source kept",
        ));
    }
    Ok(Copied { len, modified })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The seam for a copy that goes bad on its way to disk (a failing disk,
    /// a flaky network share), which cannot be made to happen for real here.
    static CORRUPT_NEXT_COPY: AtomicBool = AtomicBool::new(false);

    pub(super) fn corrupt_copy_if_asked(copy: &Path) {
        if CORRUPT_NEXT_COPY.swap(false, Ordering::SeqCst) {
            let mut file = File::options().write(true).open(copy).unwrap();
            file.write_all(b"X").unwrap();
        }
    }

    #[test]
    fn a_copy_that_cannot_be_verified_keeps_the_source_and_leaves_no_copy() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("serial.log");
        let dest_dir = dir.path().join("dest");
        fs::create_dir(&dest_dir).unwrap();
        fs::write(&src, "boot log\n").unwrap();
        let to = dest_dir.join("serial.log");
        CORRUPT_NEXT_COPY.store(true, Ordering::SeqCst);
        let problem = copy_verified(&src, &to).unwrap_err();
        assert!(
            problem.message.contains("does not match"),
            "{}",
            problem.message
        );
        assert_eq!(fs::read_to_string(&src).unwrap(), "boot log\n");
        assert_eq!(
            fs::read_dir(&dest_dir).unwrap().count(),
            0,
            "no copy, no partial copy"
        );
    }
}
