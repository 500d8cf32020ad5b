//! Ctrl-C, SIGTERM and SIGHUP in the middle of a run: remove the temporary
//! files the run registered (never the user's files), kill the commands it
//! is running (rdd, `--instances-from`), say so, and exit with 128 + the
//! signal number (130 for SIGINT, 143 for SIGTERM). On Windows, Ctrl-C,
//! Ctrl-Break or a closed console window do the same, with exit code 130.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// What an interruption removes: one path, or every entry of a folder whose
/// name starts with a prefix (registered before the temporary file exists,
/// so there is no moment when it exists unregistered).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Temporary {
    Path(PathBuf),
    Prefix(PathBuf, String),
}

/// Temporary outputs and partial copies to remove if the run is interrupted.
static TEMPORARY: Mutex<Vec<Temporary>> = Mutex::new(Vec::new());

/// Process groups of the commands running now (rdd, `--instances-from`):
/// they run in groups of their own, which a Ctrl-C at the terminal does not
/// reach, so an interruption kills them.
#[cfg(unix)]
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Whether this run has ever had a temporary to remove: a command that only
/// reads has no output to speak of when interrupted.
static WRITES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Held while a temporary is created or put in place (see [`exclusive`]), and
/// by the signal thread from before it removes anything until the exit.
static CREATING: Mutex<()> = Mutex::new(());

/// Start listening for termination signals. Call once, early.
pub fn install() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        use signal_hook::iterator::Signals;
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                kill_groups();
                let name = match signal {
                    SIGINT => "interrupted (SIGINT)",
                    SIGTERM => "terminated (SIGTERM)",
                    _ => "hung up (SIGHUP)",
                };
                clean_up_and_exit(name, 128 + signal);
            }
        });
    }
    // Ctrl-C, Ctrl-Break and the console window closing. The commands logkeep
    // runs share its console, so Windows sends them the event too.
    #[cfg(windows)]
    {
        let _ = ctrlc::set_handler(|| clean_up_and_exit("interrupted", 130));
    }
}

fn clean_up_and_exit(name: &str, code: i32) -> ! {
    // Kept until the exit: once the temporaries are removed, the run can
    // create no more of them (nor a folder under one that is gone, which
    // would bring it back).
    let _no_more = hold_creation();
    let removed = remove_all();
    match WRITES.load(std::sync::atomic::Ordering::SeqCst) {
        true => eprintln!(
            "logkeep: {name}; removed {removed} temporary file(s); the output was not written"
        ),
        false => eprintln!("logkeep: {name}"),
    }
    std::process::exit(code);
}

/// Run `create`, which makes or renames a temporary file or folder (or one
/// inside a temporary folder), so that an interruption never comes in the
/// middle: its removal waits for `create` to end, and once the removal has
/// begun `create` never starts. Without it, a folder made after the removal
/// (`create_dir_all` under a temporary folder) would be left behind.
pub fn exclusive<T>(create: impl FnOnce() -> T) -> T {
    let _creating = CREATING.lock().unwrap_or_else(PoisonError::into_inner);
    create()
}

/// The creation lock for the signal thread, if it comes free within two
/// seconds: a creation hung on a dead file system must not make the run
/// impossible to stop.
fn hold_creation() -> Option<std::sync::MutexGuard<'static, ()>> {
    use std::sync::TryLockError;
    use std::time::{Duration, Instant};
    let started = Instant::now();
    loop {
        match CREATING.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::Poisoned(e)) => return Some(e.into_inner()),
            Err(TryLockError::WouldBlock) if started.elapsed() < Duration::from_secs(2) => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => return None,
        }
    }
}

/// While this guard lives, an interruption removes what it names.
pub struct Remembered(Temporary);

/// Remove `path` if the run is interrupted while the guard lives. Call it
/// before creating `path`.
pub fn remember(path: &Path) -> Remembered {
    register(Temporary::Path(path.to_path_buf()))
}

/// Remove every entry of `dir` whose name starts with `prefix` if the run is
/// interrupted while the guard lives: for temporary names chosen at creation.
pub fn remember_prefix(dir: &Path, prefix: &str) -> Remembered {
    register(Temporary::Prefix(dir.to_path_buf(), prefix.to_string()))
}

fn register(temporary: Temporary) -> Remembered {
    WRITES.store(true, std::sync::atomic::Ordering::SeqCst);
    if let Ok(mut list) = TEMPORARY.lock() {
        list.push(temporary.clone());
    }
    Remembered(temporary)
}

impl Drop for Remembered {
    /// The temporary is finished (renamed into place, or removed): leave it alone.
    fn drop(&mut self) {
        if let Ok(mut list) = TEMPORARY.lock() {
            list.retain(|t| t != &self.0);
        }
    }
}

/// While this guard lives, an interruption kills the process group it names.
#[cfg(unix)]
pub struct RememberedGroup(u32);

/// Kill the process group `group` (a command started with
/// `process_group(0)`: the group's id is its process id) if the run is
/// interrupted while the guard lives.
#[cfg(unix)]
pub fn remember_group(group: u32) -> RememberedGroup {
    if let Ok(mut list) = GROUPS.lock() {
        list.push(group);
    }
    RememberedGroup(group)
}

#[cfg(unix)]
impl Drop for RememberedGroup {
    fn drop(&mut self) {
        if let Ok(mut list) = GROUPS.lock()
            && let Some(i) = list.iter().position(|g| *g == self.0)
        {
            list.swap_remove(i);
        }
    }
}

#[cfg(unix)]
fn kill_groups() {
    if let Ok(list) = GROUPS.lock() {
        for group in list.iter() {
            kill_group(*group);
        }
    }
}

/// Send SIGKILL to every process of a process group. A group's id is not
/// given to a new process while any process of the group lives; a group with
/// none left is an error (ESRCH) that changes nothing.
#[cfg(unix)]
pub fn kill_group(group: u32) {
    // 0 would be logkeep's own group.
    let group = match libc::pid_t::try_from(group) {
        Ok(group) if group > 0 => group,
        _ => return,
    };
    // SAFETY: killpg only sends a signal to the processes of a group.
    unsafe {
        libc::killpg(group, libc::SIGKILL);
    }
}

fn remove_all() -> usize {
    let Ok(list) = TEMPORARY.lock() else {
        return 0;
    };
    let mut paths = Vec::new();
    for temporary in list.iter() {
        match temporary {
            Temporary::Path(path) => paths.push(path.clone()),
            Temporary::Prefix(dir, prefix) => {
                let Ok(entries) = fs::read_dir(dir) else {
                    continue;
                };
                paths.extend(
                    entries
                        .filter_map(|e| e.ok())
                        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix.as_str()))
                        .map(|e| e.path()),
                );
            }
        }
    }
    paths
        .iter()
        .filter(|path| {
            let removed = match fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
                Ok(_) => fs::remove_file(path),
                Err(e) => Err(e),
            };
            removed.is_ok()
        })
        .count()
}
