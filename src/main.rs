//! The `red` binary: turn dumps off, capture and scrub the environment,
//! then dispatch.

// No function over 80 lines of code (the threshold is in clippy.toml).
#![warn(clippy::too_many_lines)]
// As in the library (src/lib.rs): no panic on outside data.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use reddb::config::credentials::{scrub_process_environment, Environment};

fn main() {
    // Before anything holds a secret, for every subcommand (bootstrap,
    // check, backup and restore hold keys and passwords too): no core
    // dump, and not dumpable (no ptrace or /proc/PID/mem by other
    // processes of the same user).
    if let Err(e) = reddb::harden::memory::forbid_dumps() {
        eprintln!("red: {e}");
        std::process::exit(e.exit_code());
    }
    // Read every variable once, then erase the secret ones (values and
    // `_FILE` paths) from the process environment before anything else runs.
    let env = Environment::capture();
    scrub_process_environment(&Environment::secret_names());
    let argv: Vec<String> = match std::env::args_os()
        .map(|a| a.into_string())
        .collect::<Result<Vec<String>, _>>()
    {
        Ok(v) => v,
        Err(_) => {
            eprintln!("red: usage: arguments must be valid UTF-8");
            std::process::exit(reddb::error::exit_code::USAGE);
        }
    };
    let code = match reddb::cli::run(&argv, env) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("red: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
