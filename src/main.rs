use std::process::ExitCode;

fn main() -> ExitCode {
    logkeep::run(std::env::args_os())
}
