//! Ctrl-C, SIGTERM and SIGHUP in the middle of a run: remove the temporary
//! files the run registered (never the user's files), say so, and exit with
//! 128 + the signal number (130 for SIGINT, 143 for SIGTERM).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
                let removed = remove_all();
                let name = match signal {
                    SIGINT => "interrupted (SIGINT)",
                    SIGTERM => "terminated (SIGTERM)",
                    _ => "hung up (SIGHUP)",
                };
                eprintln!(
                    "logkeep: {name}; removed {removed} temporary file(s); the output was not written"
                );
                std::process::exit(128 + signal);
            }
        });
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
