use std::path::PathBuf;

use super::{Report, print_json};
use crate::error::{Error, Result};
use crate::exit_codes::ExitStatus;
use crate::rotate::rotate;
use crate::sanitize::display_path;

pub struct RotateOptions {
    pub dir: PathBuf,
    pub names: Vec<String>,
    /// Backups to keep; `None` keeps all.
    pub keep: Option<u64>,
    pub report: Report,
}

/// Rotate each name on its own: one that cannot be rotated must not leave
/// the names after it to be overwritten at the next boot. It is an error
/// (exit 1) once the others are done.
pub fn run(options: RotateOptions) -> Result<ExitStatus> {
    let mut rotations = Vec::new();
    let mut failed = Vec::new();
    for name in &options.names {
        match rotate(&options.dir, name, options.keep) {
            Ok(rotation) => rotations.push(rotation),
            Err(error) => failed.push(Failed {
                name: name.clone(),
                error,
            }),
        }
    }
    if options.report.json {
        let errors: Vec<_> = failed
            .iter()
            .map(|f| serde_json::json!({ "name": f.name, "error": f.error.message, "hint": f.error.hint }))
            .collect();
        print_json(&serde_json::json!({
            "dir": display_path(&options.dir),
            "rotations": rotations,
            "errors": errors,
        }));
    } else {
        for rotation in &rotations {
            match &rotation.rotated_to {
                Some(to) => println!("{}.log -> {}", rotation.name, display_path(to)),
                None => println!("{}.log: nothing to rotate", rotation.name),
            }
            for removed in &rotation.removed {
                println!("  removed {}", display_path(removed));
            }
        }
    }
    let problems: Vec<_> = rotations.into_iter().flat_map(|r| r.problems).collect();
    let status = options.report.finish(&problems, 0);
    let Some(last) = failed.pop() else {
        return Ok(status);
    };
    // The last failure is returned, to be printed as the run's error; the
    // ones before it are printed here, in order.
    for earlier in &failed {
        earlier.error.print();
    }
    Err(last.error)
}

/// A name that could not be rotated.
struct Failed {
    name: String,
    error: Error,
}
