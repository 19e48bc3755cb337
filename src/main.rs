//! `fleet`: the helper binary of rules_fleet. All logic lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(fleet::cmd::main() as u8)
}
