//! Command-line dispatch: `red <command> [flags]`. Each command lives in
//! its own module with its `HELP` text; this module only routes and holds
//! the few steps commands share (loading the certificate).

pub mod args;
pub(crate) mod backup;
pub(crate) mod bootstrap;
pub(crate) mod certificate;
pub(crate) mod check;
pub(crate) mod doctor;
pub(crate) mod import;
pub(crate) mod migrate;
pub(crate) mod rekey;
pub(crate) mod server;
pub(crate) mod version;

use crate::config::credentials::{Environment, CERTIFICATE};
use crate::crypto::keys::Certificate;
use crate::error::{Error, Result};

pub const HELP: &str = "red — hardened secret and auth store

usage:
  red server --path FILE [--vault] [--dev] [--http-bind ADDR] [--wire-bind ADDR] ...
  red bootstrap --path FILE --vault --username USER --print-certificate ...
  red check --path FILE
  red certificate split --shares N --threshold K
  red certificate combine [--path FILE]
  red rekey --path FILE [--certificate-out FILE]
  red backup --path FILE [--out BACKUP]
  red restore --path FILE --from BACKUP [--skip-vault]
  red import --path FILE --rdb DUMP [--db N] [--replace] [--skip-unsupported]
  red doctor --bind ADDR
  red migrate --from redis://HOST:PORT[/DB] --to redis://HOST:PORT[/DB] ...
  red version
  red help [COMMAND]

Run 'red help COMMAND' for the flags of one command.";

fn help_for(command: &str) -> Option<&'static str> {
    Some(match command {
        "server" => server::HELP,
        "bootstrap" => bootstrap::HELP,
        "check" => check::HELP,
        "certificate" => certificate::HELP,
        "rekey" => rekey::HELP,
        "backup" => backup::BACKUP_HELP,
        "restore" => backup::RESTORE_HELP,
        "import" => import::HELP,
        "doctor" => doctor::HELP,
        "migrate" => migrate::HELP,
        "version" => version::HELP,
        _ => return None,
    })
}

/// Runs the command line `argv` (program name first); returns the exit code.
pub fn run(argv: &[String], env: Environment) -> Result<i32> {
    let command = argv.get(1).map(String::as_str).unwrap_or("help");
    let rest = argv.get(2..).unwrap_or(&[]);
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", help_for(command).unwrap_or(HELP));
        return Ok(0);
    }
    env.check_pairs()?;
    match command {
        "server" => server::run(rest, env),
        "bootstrap" => bootstrap::run(rest),
        "check" => check::run(rest, &env),
        "certificate" => certificate::run(rest, &env),
        "rekey" => rekey::run(rest, &env),
        "backup" => backup::run_backup(rest, &env),
        "restore" => backup::run_restore(rest, &env),
        "import" => import::run(rest, &env),
        "doctor" => doctor::run(rest),
        "migrate" => migrate::run(rest, &env),
        "version" | "--version" | "-V" => version::run(rest),
        "help" | "--help" | "-h" => {
            let topic = rest.first().map(String::as_str).unwrap_or("");
            println!("{}", help_for(topic).unwrap_or(HELP));
            Ok(0)
        }
        other => Err(Error::Usage(format!(
            "unknown command '{other}' (see 'red help')"
        ))),
    }
}

/// The certificate from the environment; an error when there is none.
pub fn load_certificate(env: &Environment) -> Result<Certificate> {
    let cred = env
        .credential(&CERTIFICATE)?
        .ok_or(Error::MissingCertificate)?;
    Certificate::parse_hex(&cred.value)
}
