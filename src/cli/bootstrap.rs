//! `red bootstrap`: one-time initialisation of a database file.
//!
//! Prints exactly the lines `README.md` and `docs/OPERATIONS.md` show
//! (`vault initialized:`, `admin user created:`, `api key:`,
//! `certificate:`) on stdout, so that
//! `grep '^certificate:' | awk '{print $2}'` extracts the certificate. The
//! password comes from `--password`, `--password-file` or standard input
//! (echo off on a terminal); `--password` is visible to other local users in
//! the process list while the command runs, so prefer the other two.

use super::args::Flags;
use crate::crypto::password::PasswordCost;
use crate::database::open_pager;
use crate::error::{Error, Result};
use crate::service::accounts;
use crate::service::bootstrap::PreparedFirstAdmin;
use std::io::{BufRead, Write};
use std::path::Path;
use zeroize::Zeroizing;

pub const HELP: &str = "red bootstrap --path FILE --vault --username USER \\
    (--password PASS | --password-file FILE | password on stdin) \\
    (--print-certificate | --certificate-out FILE)

Initialises FILE (created if missing, mode 0600): generates the vault's master
secret, creates the admin user and its first API key, and shows the certificate
exactly once. A file that is already bootstrapped is refused and left unchanged.";

pub fn run(args: &[String]) -> Result<i32> {
    let flags = Flags::parse(
        args,
        &[
            "path",
            "username",
            "password",
            "password-file",
            "certificate-out",
        ],
        &["vault", "print-certificate"],
    )?;
    let path = Path::new(flags.required("path")?);
    let username = flags.required("username")?;
    let print = flags.on("print-certificate");
    let cert_out = flags.value("certificate-out");
    if !print && cert_out.is_none() {
        return Err(Error::Usage(
            "give --print-certificate or --certificate-out FILE: the certificate is shown only once".into(),
        ));
    }
    let password = read_password(&flags)?;
    accounts::validate_new_username(username)?;
    accounts::validate_password(password.as_bytes(), accounts::MIN_PASSWORD_LEN)?;
    if let Some(out) = cert_out {
        if Path::new(out).exists() {
            return Err(Error::Usage(format!(
                "--certificate-out {out} already exists; refusing to overwrite it"
            )));
        }
    }
    if print && !stdout_is_open() {
        return Err(Error::Usage(
            "standard output is closed: the certificate would be lost".into(),
        ));
    }
    let pager = open_pager(path, true)?;
    if pager.header().bootstrapped {
        return Err(Error::AlreadyBootstrapped);
    }
    let prepared = PreparedFirstAdmin::prepare(
        username,
        password.as_bytes(),
        PasswordCost::DEFAULT,
        accounts::MIN_PASSWORD_LEN,
    )?;
    // Deliver the certificate first; commit only once it is out. A failed
    // delivery leaves the file fresh, so bootstrap can simply be rerun.
    let cert_hex = prepared.certificate_hex();
    if let Some(target) = cert_out {
        write_certificate_file(Path::new(target), &cert_hex)?;
    }
    let mut text = Zeroizing::new(String::new());
    text.push_str(&format!("vault initialized: {}\n", path.display()));
    text.push_str(&format!("admin user created: {}\n", prepared.username()));
    text.push_str(&format!("api key: {}\n", prepared.api_key()));
    if print {
        text.push_str(&format!("certificate: {}\n", cert_hex.as_str()));
        text.push_str("  ^^^^ store this offline + in your secret manager ^^^^\n");
    } else if let Some(target) = cert_out {
        text.push_str(&format!("certificate written to: {target}\n"));
    }
    let delivered = {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|_| stdout.flush())
            .map_err(|e| Error::io("cannot write to standard output; nothing was committed", e))
    };
    let committed = delivered.and_then(|_| prepared.finish(pager).map(|_| ()));
    if let Err(e) = committed {
        if let Some(target) = cert_out {
            let _ = std::fs::remove_file(target);
        }
        eprintln!("red: bootstrap was not committed: any certificate shown above is void");
        return Err(e);
    }
    Ok(0)
}

/// Whether file descriptor 1 is open (Rust's stdout silently discards
/// writes to a closed descriptor).
pub(crate) fn stdout_is_open() -> bool {
    // SAFETY: F_GETFD on fd 1 reads descriptor flags only.
    unsafe { libc::fcntl(1, libc::F_GETFD) != -1 }
}

/// Writes the certificate to a new file with mode 0400, refusing to
/// overwrite an existing one.
pub fn write_certificate_file(path: &Path, hex: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)
        .map_err(|e| {
            Error::io(
                format!("cannot create certificate file {}", path.display()),
                e,
            )
        })?;
    f.write_all(format!("{hex}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| {
            Error::io(
                format!("cannot write certificate file {}", path.display()),
                e,
            )
        })
}

fn read_password(flags: &Flags) -> Result<Zeroizing<String>> {
    match (flags.value("password"), flags.value("password-file")) {
        (Some(_), Some(_)) => Err(Error::Usage(
            "give --password or --password-file, not both".into(),
        )),
        (Some(p), None) => Ok(Zeroizing::new(p.to_string())),
        (None, Some(f)) => {
            crate::config::credentials::read_secret_file(Path::new(f), "--password-file")
        }
        (None, None) => read_password_stdin(),
    }
}

fn read_password_stdin() -> Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    let tty = terminal::EchoOff::engage();
    if tty.is_some() {
        eprint!("password for the admin user: ");
    }
    let mut line = Zeroizing::new(String::new());
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("cannot read the password from standard input", e))?;
    if tty.is_some() {
        eprintln!();
    }
    drop(tty);
    // Trailing whitespace is trimmed exactly as for --password-file and
    // every `_FILE` credential.
    let trimmed = line.trim_end();
    if trimmed.is_empty() {
        return Err(Error::Usage(
            "no password: give --password, --password-file, or the password on standard input"
                .into(),
        ));
    }
    Ok(Zeroizing::new(trimmed.to_string()))
}

mod terminal {
    //! Turning terminal echo off while a password is typed.

    pub struct EchoOff {
        saved: libc::termios,
    }

    impl EchoOff {
        /// Disables echo on stdin when it is a terminal; restores on drop.
        pub fn engage() -> Option<Self> {
            // SAFETY: isatty/tcgetattr/tcsetattr on fd 0 with a properly
            // sized, initialised termios; no other memory is touched.
            unsafe {
                if libc::isatty(0) != 1 {
                    return None;
                }
                let mut t: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(0, &mut t) != 0 {
                    return None;
                }
                let saved = t;
                t.c_lflag &= !libc::ECHO;
                if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                    return None;
                }
                Some(Self { saved })
            }
        }
    }

    impl Drop for EchoOff {
        fn drop(&mut self) {
            // SAFETY: restores the attributes read in `engage` on fd 0.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &self.saved);
            }
        }
    }
}
