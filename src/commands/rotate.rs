use std::path::PathBuf;

use super::{Report, print_json};
use crate::error::Result;
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

pub fn run(options: RotateOptions) -> Result<ExitStatus> {
    let mut rotations = Vec::new();
    for name in &options.names {
        rotations.push(rotate(&options.dir, name, options.keep)?);
    }
    if options.report.json {
        print_json(
            &serde_json::json!({ "dir": display_path(&options.dir), "rotations": rotations }),
        );
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
    Ok(options.report.finish(&problems, 0))
}
