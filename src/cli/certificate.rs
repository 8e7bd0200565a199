//! `red certificate split` and `red certificate combine`: k-of-n Shamir
//! shares of the certificate ([`crate::crypto::shares`]).
//!
//! `split` reads the certificate from the usual sources (as `red server`
//! does) and prints one `share: <text>` line per share. `combine` reads
//! shares on standard input — read straight from descriptor 0 into a
//! zeroizing buffer of bounded size, so no unwiped copy stays in a std
//! buffer — and prints `certificate: <64 hex>`, after checking it against a
//! database file's certificate id when `--path` is given. Neither ever
//! prints a share or the certificate anywhere else; refusals name the line,
//! never its text.

use super::args::Flags;
use crate::config::credentials::Environment;
use crate::crypto::shares::{self, parse_share, ShareCollector};
use crate::error::{Error, Result};
use crate::pager::{FileIo, Pager};
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

pub const HELP: &str = "red certificate split --shares N --threshold K
red certificate combine [--path FILE]

split: reads the certificate (REDDB_CERTIFICATE, REDDB_CERTIFICATE_FILE or
$CREDENTIALS_DIRECTORY/certificate) and prints N lines 'share: <text>', any K
of which rebuild it (2 <= K <= N <= 255); fewer than K reveal nothing about
it. Each split draws a new random polynomial and set id: shares of two splits
never combine. Give each share to a different holder.

combine: reads shares on standard input, one per line ('share: <text>' or the
bare text; blank lines ignored; at most 64 KiB), checks each (format, checksum,
one set, no conflicting duplicates) and prints 'certificate: <64 hex>'. With
--path, the result must be FILE's certificate (its certificate id is read
without writing or locking FILE); otherwise exit 10 and nothing is printed.

Exit codes: 28 a share was refused (malformed, mistyped, of another set, or
the same index twice with different values), 29 fewer shares than the
threshold, 13 no certificate (split), 10 not FILE's certificate (combine).";

/// The most bytes `combine` reads from standard input.
pub const MAX_COMBINE_INPUT: usize = 64 * 1024;

pub fn run(args: &[String], env: &Environment) -> Result<i32> {
    let action = args.first().map(String::as_str);
    let rest = args.get(1..).unwrap_or(&[]);
    match action {
        Some("split") => run_split(rest, env),
        Some("combine") => run_combine(rest),
        Some(other) => Err(Error::Usage(format!(
            "unknown action 'certificate {other}': give 'split' or 'combine' (see 'red help certificate')"
        ))),
        None => Err(Error::Usage(
            "give 'certificate split' or 'certificate combine' (see 'red help certificate')".into(),
        )),
    }
}

/// A share count or threshold: a whole number from 1 to 255 (the range
/// rule between the two is checked by the caller).
fn count(flags: &Flags, name: &str) -> Result<u8> {
    let value = flags.required(name)?;
    value
        .parse::<u8>()
        .map_err(|_| Error::Usage(format!("--{name} must be a whole number from 2 to 255")))
}

fn run_split(args: &[String], env: &Environment) -> Result<i32> {
    let flags = Flags::parse(args, &["shares", "threshold"], &[])?;
    let shares = count(&flags, "shares")?;
    let threshold = count(&flags, "threshold")?;
    if threshold < shares::MIN_THRESHOLD {
        return Err(Error::Usage(
            "--threshold must be at least 2 (one share alone would be the certificate)".into(),
        ));
    }
    if threshold > shares {
        return Err(Error::Usage(
            "--threshold cannot exceed --shares (the certificate could never be rebuilt)".into(),
        ));
    }
    if !super::bootstrap::stdout_is_open() {
        return Err(Error::Usage(
            "standard output is closed: the shares would be lost".into(),
        ));
    }
    let cert = super::load_certificate(env)?;
    let texts = shares::split(&cert, shares, threshold)?;
    drop(cert);
    let line_len = "share: ".len() + shares::SHARE_TEXT_LEN + 1;
    let mut out = Zeroizing::new(String::with_capacity(texts.len() * line_len));
    for text in &texts {
        out.push_str("share: ");
        out.push_str(text);
        out.push('\n');
    }
    write_stdout(&out)?;
    Ok(0)
}

fn run_combine(args: &[String]) -> Result<i32> {
    let flags = Flags::parse(args, &["path"], &[])?;
    let expected_id = match flags.value("path") {
        Some(path) => Some(certificate_id_of(Path::new(path))?),
        None => None,
    };
    // SAFETY: isatty on descriptor 0 reads no memory of ours.
    if unsafe { libc::isatty(0) } == 1 {
        eprintln!("red: paste the shares, one per line, then press Ctrl-D");
    }
    let input = read_stdin_bounded()?;
    let text = std::str::from_utf8(&input)
        .map_err(|_| Error::ShareRefused("standard input is not UTF-8 text".into()))?;
    let mut collector = ShareCollector::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at_line = |e: shares::ShareError| match Error::from(e) {
            Error::ShareRefused(m) => Error::ShareRefused(format!("line {}: {m}", number + 1)),
            other => other,
        };
        let share = parse_share(line).map_err(at_line)?;
        collector.add(share).map_err(at_line)?;
    }
    let cert = collector.combine()?;
    drop(collector);
    if let Some(id) = expected_id {
        if cert.fingerprint() != id {
            return Err(Error::WrongCertificate);
        }
    }
    let hex = cert.to_hex_for_operator();
    drop(cert);
    let mut out = Zeroizing::new(String::with_capacity("certificate: ".len() + 64 + 1));
    out.push_str("certificate: ");
    out.push_str(&hex);
    out.push('\n');
    write_stdout(&out)?;
    Ok(0)
}

/// Writes `text` to standard output in one call and flushes it.
fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::io("cannot write to standard output", e))
}

/// Reads all of standard input, at most [`MAX_COMBINE_INPUT`] bytes, with
/// `read(2)` on descriptor 0 straight into one zeroizing buffer allocated
/// once (std's `Stdin` would keep a copy in its own buffer, never wiped).
fn read_stdin_bounded() -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; MAX_COMBINE_INPUT + 1]);
    let mut filled = 0usize;
    while let Some(free) = buf.get_mut(filled..).filter(|f| !f.is_empty()) {
        // SAFETY: `free` is a live, writable slice of `free.len()` bytes;
        // read(2) writes at most that many into it.
        let n = unsafe { libc::read(0, free.as_mut_ptr().cast(), free.len()) };
        match usize::try_from(n) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(_) => {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::io("cannot read shares from standard input", e));
            }
        }
    }
    if filled > MAX_COMBINE_INPUT {
        return Err(Error::InvalidInput(format!(
            "standard input is larger than {} KiB: give only the share lines",
            MAX_COMBINE_INPUT / 1024
        )));
    }
    buf.truncate(filled);
    Ok(buf)
}

/// The certificate id in the header of the database file at `path`, read
/// without writing and without taking the lock (a running server may hold
/// it): opened read-only, non-blocking (a FIFO is refused, not waited on),
/// no symlink followed.
fn certificate_id_of(path: &Path) -> Result<[u8; 16]> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| crate::pager::file::open_error(&shown, e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("cannot stat database file {shown}"), e))?;
    if !meta.is_file() {
        return Err(Error::UnsupportedFormat(format!(
            "{shown} is not a regular file"
        )));
    }
    if meta.len() == 0 {
        return Err(Error::UnsupportedFormat(format!(
            "{shown} is empty: not a reddb database file"
        )));
    }
    let pager = Pager::open(Box::new(FileIo::new(file)))?;
    let header = pager.header();
    if !header.bootstrapped {
        return Err(Error::NotBootstrapped);
    }
    Ok(header.cert_id)
}
