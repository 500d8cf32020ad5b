//! Ctrl-C, SIGTERM and SIGHUP in the middle of a run: remove the temporary
//! files the run registered (never the user's files), say so, and exit with
//! 128 + the signal number (130 for SIGINT, 143 for SIGTERM).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Temporary outputs and partial copies to remove if the run is interrupted.
static TEMPORARY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

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

/// While this guard lives, an interruption removes its path.
pub struct Remembered(PathBuf);

/// Remove `path` if the run is interrupted while the guard lives.
pub fn remember(path: &Path) -> Remembered {
    if let Ok(mut list) = TEMPORARY.lock() {
        list.push(path.to_path_buf());
    }
    Remembered(path.to_path_buf())
}

impl Drop for Remembered {
    /// The path is finished (renamed into place, or removed): leave it alone.
    fn drop(&mut self) {
        if let Ok(mut list) = TEMPORARY.lock() {
            list.retain(|p| p != &self.0);
        }
    }
}

fn remove_all() -> usize {
    let Ok(list) = TEMPORARY.lock() else {
        return 0;
    };
    list.iter()
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
