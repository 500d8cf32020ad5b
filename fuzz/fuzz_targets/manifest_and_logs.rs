//! Any bytes as the manifest of a folder output, and as one of its logs:
//! `summary`, `timeline` and `ls` read both and must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logkeep::commands::{self, Command, LsOptions, Report, SummaryOptions, TimelineOptions};
use logkeep::triage::Window;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temp dir");
    let half = data.len() / 2;
    std::fs::write(dir.path().join("manifest.json"), &data[..half]).expect("write");
    std::fs::create_dir(dir.path().join("bats-x")).expect("mkdir");
    std::fs::write(dir.path().join("bats-x/rdd.stderr.log"), &data[half..]).expect("write");
    let input = dir.path().to_path_buf();
    // Run with stdout closed (-close_fd_mask=1): only panics matter.
    let _ = commands::run(Command::Summary(SummaryOptions {
        inputs: vec![input.clone(), input.clone()],
        json: data.first() == Some(&b'j'),
    }));
    let _ = commands::run(Command::Timeline(TimelineOptions {
        inputs: vec![input.clone()],
        path: None,
        window: Window::default(),
        json: false,
    }));
    let _ = commands::run(Command::Ls(LsOptions {
        input,
        instance: None,
        vm: None,
        kind: None,
        report: Report::default(),
    }));
});
