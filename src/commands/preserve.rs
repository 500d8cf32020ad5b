use std::path::PathBuf;

use super::{Report, print_json};
use crate::error::Result;
use crate::exit_codes::ExitStatus;
use crate::preserve::{MoveMethod, preserve};
use crate::problem::Problem;
use crate::sanitize::display_path;

pub struct PreserveOptions {
    pub lima_home: PathBuf,
    pub log_dir: PathBuf,
    pub vms: Vec<String>,
    pub even_if_running: bool,
    pub report: Report,
}

pub fn run(options: PreserveOptions) -> Result<ExitStatus> {
    let mut result = preserve(
        &options.lima_home,
        &options.log_dir,
        &options.vms,
        options.even_if_running,
    )?;
    // Nothing to preserve, but it is also what a mistyped path looks like.
    // (`collect --preserve` warns about it while planning.)
    let no_home = std::fs::symlink_metadata(&options.lima_home).is_err();
    if no_home {
        result.problems.push(Problem::new(
            &options.lima_home,
            "Lima home not found; nothing to preserve (is the path right? did the instance run?)",
        ));
    }
    if !options.report.json {
        for kept in &result.already_preserved {
            println!(
                "{}: unchanged since it was preserved as {}; not copied again (source kept)",
                display_path(&kept.from),
                display_path(&kept.copy)
            );
        }
    }
    if options.report.json {
        print_json(&result);
    } else if result.moved.is_empty() && result.already_preserved.is_empty() {
        // Logs left in place (a running VM, a failed move) are warned about
        // below: then "nothing to preserve" would be wrong.
        let what = match result.problems.len() > usize::from(no_home) {
            true => "no logs moved from",
            false => "no logs to preserve in",
        };
        println!("{what} {}", display_path(&options.lima_home));
    } else {
        for moved in &result.moved {
            let how = match moved.method {
                MoveMethod::Rename => "",
                MoveMethod::Copy => " (copied, verified, source removed)",
                MoveMethod::CopyKeptSource => " (copied and verified; source kept)",
            };
            println!(
                "{} -> {}{how}",
                display_path(&moved.from),
                display_path(&moved.to)
            );
        }
    }
    Ok(options.report.finish(&result.problems, 0))
}
