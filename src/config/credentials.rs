//! Secrets from the environment: the inline variable, its `_FILE`
//! companion, or `$CREDENTIALS_DIRECTORY/<name>` (systemd `LoadCredential`),
//! in that order.
//!
//! Setting both the inline and the `_FILE` form is an operator error and is
//! refused. `_FILE` and credential contents are trimmed of trailing
//! whitespace. After reading, [`scrub_process_environment`] removes every
//! secret variable and every `_FILE` path from the environment *and
//! overwrites the original bytes*, because `unsetenv` alone leaves the
//! original block readable in `/proc/PID/environ`. The process's own copy
//! of every value ([`Environment::capture`]) is moved into
//! `Zeroizing<String>` storage, as is every [`Credential`] read from it, so
//! once start-up has consumed them and dropped the [`Environment`], no
//! unwiped copy of a secret value is left in freed heap memory.
//!
//! Errors name the variable, never its value or the path it points to.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// One secret with its three possible sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialSpec {
    /// The inline variable, e.g. `REDDB_CERTIFICATE`.
    pub inline: &'static str,
    /// The systemd credential name, e.g. `certificate`.
    pub credential: &'static str,
}

impl CredentialSpec {
    pub fn file_var(&self) -> String {
        format!("{}_FILE", self.inline)
    }
}

pub const CERTIFICATE: CredentialSpec = CredentialSpec {
    inline: "REDDB_CERTIFICATE",
    credential: "certificate",
};
pub const USERNAME: CredentialSpec = CredentialSpec {
    inline: "REDDB_USERNAME",
    credential: "username",
};
pub const PASSWORD: CredentialSpec = CredentialSpec {
    inline: "REDDB_PASSWORD",
    credential: "password",
};
pub const ADMIN_TOKEN: CredentialSpec = CredentialSpec {
    inline: "RED_ADMIN_TOKEN",
    credential: "admin-token",
};

/// The key of a logical backup (`red backup` / `red restore` only).
pub const BACKUP_KEY: CredentialSpec = CredentialSpec {
    inline: "REDDB_BACKUP_KEY",
    credential: "backup-key",
};

/// `red migrate`: the password of the source Redis (`--from`).
pub const MIGRATE_FROM_PASSWORD: CredentialSpec = CredentialSpec {
    inline: "REDDB_MIGRATE_FROM_PASSWORD",
    credential: "migrate-from-password",
};

/// `red migrate`: the API key (or admin token) for the target reddb (`--to`).
pub const MIGRATE_TO_KEY: CredentialSpec = CredentialSpec {
    inline: "REDDB_MIGRATE_TO_KEY",
    credential: "migrate-to-key",
};

/// The credentials this product uses.
pub const USED: [CredentialSpec; 7] = [
    CERTIFICATE,
    USERNAME,
    PASSWORD,
    ADMIN_TOKEN,
    BACKUP_KEY,
    MIGRATE_FROM_PASSWORD,
    MIGRATE_TO_KEY,
];

/// Credential pairs of backends this product does not have (cloud and
/// customer admin passwords, S3, Turso, D1, an HTTP backend): the
/// inline/`_FILE` rule is enforced, the values are ignored.
pub const IGNORED: [&str; 7] = [
    "REDDB_CLOUD_HEAD_ADMIN_PASSWORD",
    "REDDB_CUSTOMER_ADMIN_PASSWORD",
    "RED_S3_ACCESS_KEY",
    "RED_S3_SECRET_KEY",
    "RED_TURSO_TOKEN",
    "RED_D1_TOKEN",
    "RED_BACKEND_HTTP_AUTH",
];

/// Where a credential came from (kept so SIGHUP can re-read files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Inline,
    File(PathBuf),
    SystemdCredential(PathBuf),
}

impl Origin {
    /// The path to re-read on reload, if any.
    pub fn path(&self) -> Option<&PathBuf> {
        match self {
            Origin::Inline => None,
            Origin::File(p) | Origin::SystemdCredential(p) => Some(p),
        }
    }

    /// How to name this source in a log line (never the path).
    pub fn describe(&self, spec: &CredentialSpec) -> String {
        match self {
            Origin::Inline => spec.inline.to_string(),
            Origin::File(_) => spec.file_var(),
            Origin::SystemdCredential(_) => format!("credential '{}'", spec.credential),
        }
    }
}

/// A secret value and its origin. The value is wiped on drop and has no
/// `Debug`.
pub struct Credential {
    pub value: Zeroizing<String>,
    pub origin: Origin,
}

/// A snapshot of the process environment taken once at start.
#[derive(Default)]
pub struct Environment {
    vars: HashMap<String, Zeroizing<String>>,
}

impl Environment {
    /// Captures the current process environment (non-UTF-8 values are
    /// kept lossily; none of ours can be non-UTF-8 legitimately).
    ///
    /// Every value is moved, not copied, into zeroizing storage: std hands
    /// out one heap copy per value, and that very buffer becomes the
    /// `Zeroizing<String>` (wiped when the `Environment` is dropped, right
    /// after start-up). A value that is not UTF-8 is converted lossily and
    /// its original bytes are wiped at once.
    pub fn capture() -> Self {
        let vars = std::env::vars_os()
            .map(|(k, v): (OsString, OsString)| (k.to_string_lossy().into_owned(), zeroizing(v)))
            .collect();
        Self { vars }
    }

    /// An environment made of the given pairs (tests, fuzzing).
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k, Zeroizing::new(v)))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.as_str())
    }

    /// A non-secret setting; an empty value counts as unset.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Refuses every inline/`_FILE` pair that is set twice, used or not.
    pub fn check_pairs(&self) -> Result<()> {
        let names = USED.iter().map(|s| s.inline).chain(IGNORED.iter().copied());
        for name in names {
            if self.get(name).is_some() && self.get(&format!("{name}_FILE")).is_some() {
                return Err(Error::ConflictingCredential(name.to_string()));
            }
        }
        Ok(())
    }

    /// Reads one credential from its first present source.
    pub fn credential(&self, spec: &CredentialSpec) -> Result<Option<Credential>> {
        let inline = self.get(spec.inline);
        let file = self.get(&spec.file_var());
        match (inline, file) {
            (Some(_), Some(_)) => Err(Error::ConflictingCredential(spec.inline.to_string())),
            (Some(v), None) => Ok(Some(Credential {
                value: Zeroizing::new(v.to_string()),
                origin: Origin::Inline,
            })),
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                let value = read_secret_file(&path, &spec.file_var())?;
                Ok(Some(Credential {
                    value,
                    origin: Origin::File(path),
                }))
            }
            (None, None) => {
                let Some(dir) = self.setting("CREDENTIALS_DIRECTORY") else {
                    return Ok(None);
                };
                let path = PathBuf::from(dir).join(spec.credential);
                if !path.exists() {
                    return Ok(None);
                }
                let value = read_secret_file(&path, &format!("credential '{}'", spec.credential))?;
                Ok(Some(Credential {
                    value,
                    origin: Origin::SystemdCredential(path),
                }))
            }
        }
    }

    /// The names [`scrub_process_environment`] must remove.
    pub fn secret_names() -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for spec in USED {
            names.push(spec.inline.to_string());
            names.push(spec.file_var());
        }
        for name in IGNORED {
            names.push(name.to_string());
            names.push(format!("{name}_FILE"));
        }
        names.push("CREDENTIALS_DIRECTORY".to_string());
        names.push("REDDB_CERTIFICATE_OUT".to_string());
        names
    }
}

/// `value` as a zeroizing `String` without leaving an unwiped copy: a
/// UTF-8 value keeps its buffer; any other is converted and its bytes
/// wiped.
fn zeroizing(value: OsString) -> Zeroizing<String> {
    use std::os::unix::ffi::OsStringExt;
    match String::from_utf8(value.into_vec()) {
        Ok(text) => Zeroizing::new(text),
        Err(e) => {
            let bytes = Zeroizing::new(e.into_bytes());
            Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

/// The largest credential file read (a certificate is 64 bytes, a token a
/// few dozen).
pub const MAX_SECRET_FILE_LEN: u64 = 64 * 1024;

/// Reads a secret file, trimming trailing whitespace. `name` is what the
/// error calls it (the variable, not the path).
/// Only a regular file of at most [`MAX_SECRET_FILE_LEN`] bytes is read (a
/// FIFO is refused without blocking: [`crate::small_file`]).
pub fn read_secret_file(path: &std::path::Path, name: &str) -> Result<Zeroizing<String>> {
    use crate::small_file::{read_regular_file, SmallFileError};
    let bytes = Zeroizing::new(read_regular_file(path, MAX_SECRET_FILE_LEN).map_err(|e| {
        Error::CredentialUnreadable {
            name: name.to_string(),
            reason: match e {
                SmallFileError::Io(e) => e.kind().to_string(),
                SmallFileError::NotRegular => "not a regular file".into(),
                SmallFileError::TooLarge => {
                    format!("larger than {} KiB", MAX_SECRET_FILE_LEN / 1024)
                }
            },
        }
    })?);
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::CredentialUnreadable {
        name: name.to_string(),
        reason: "contents are not UTF-8 text".into(),
    })?;
    Ok(Zeroizing::new(text.trim_end().to_string()))
}

extern "C" {
    static mut environ: *mut *mut libc::c_char;
}

/// Removes `names` from the process environment and overwrites the bytes
/// of their original `NAME=value` strings with zeros, so neither values nor
/// paths stay readable in `/proc/PID/environ`. Call once at start-up,
/// before any thread exists.
pub fn scrub_process_environment(names: &[String]) {
    let mut doomed: Vec<(*mut libc::c_char, usize)> = Vec::new();
    // SAFETY: single-threaded start-up; `environ` is a NULL-terminated
    // array of NUL-terminated strings maintained by libc. We only read it
    // here.
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            let entry = std::ffi::CStr::from_ptr(*p).to_bytes();
            if let Some(eq) = entry.iter().position(|b| *b == b'=') {
                let name = entry.get(..eq).unwrap_or(&[]);
                if names.iter().any(|n| n.as_bytes() == name) {
                    doomed.push((*p, entry.len()));
                }
            }
            p = p.add(1);
        }
    }
    for name in names {
        if let Ok(c) = std::ffi::CString::new(std::ffi::OsStr::new(name).as_bytes()) {
            // SAFETY: valid NUL-terminated name; start-up is single-threaded.
            unsafe { libc::unsetenv(c.as_ptr()) };
        }
    }
    for (ptr, len) in doomed {
        // SAFETY: each pointer addressed a live `NAME=value` string of `len`
        // bytes; unsetenv removed it from `environ` without freeing it (libc
        // never frees environment strings), so it is still writable memory
        // that nothing references any more.
        unsafe { std::ptr::write_bytes(ptr, 0, len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn inline_file_and_credentials_directory() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cert");
        std::fs::write(&f, "abc  \n\n").unwrap();
        let e = env(&[("REDDB_CERTIFICATE_FILE", f.to_str().unwrap())]);
        let c = e.credential(&CERTIFICATE).unwrap().unwrap();
        assert_eq!(c.value.as_str(), "abc");
        assert_eq!(c.origin, Origin::File(f.clone()));

        let e = env(&[("REDDB_CERTIFICATE", "xyz")]);
        assert_eq!(
            e.credential(&CERTIFICATE).unwrap().unwrap().value.as_str(),
            "xyz"
        );

        std::fs::write(dir.path().join("certificate"), "fromcreds\n").unwrap();
        let e = env(&[("CREDENTIALS_DIRECTORY", dir.path().to_str().unwrap())]);
        let c = e.credential(&CERTIFICATE).unwrap().unwrap();
        assert_eq!(c.value.as_str(), "fromcreds");
        assert!(matches!(c.origin, Origin::SystemdCredential(_)));
        assert!(e.credential(&ADMIN_TOKEN).unwrap().is_none());
    }

    /// Structural: the captured values live in zeroizing storage (wiped on
    /// drop, spare capacity included), and capturing a UTF-8 value reuses
    /// the buffer std allocated instead of leaving it behind as a copy.
    #[test]
    fn captured_values_are_moved_into_zeroizing_storage() {
        let e = Environment::capture();
        let _: &HashMap<String, Zeroizing<String>> = &e.vars;
        let value = OsString::from(String::from("a-secret-value"));
        let buffer = value.as_encoded_bytes().as_ptr();
        let kept = zeroizing(value);
        assert_eq!(kept.as_ptr(), buffer, "the value was copied");
        assert_eq!(kept.as_str(), "a-secret-value");
        let bad = std::os::unix::ffi::OsStringExt::from_vec(b"a\xffb".to_vec());
        assert_eq!(zeroizing(bad).as_str(), "a\u{fffd}b");
        let c = env(&[("RED_ADMIN_TOKEN", "tok")])
            .credential(&ADMIN_TOKEN)
            .unwrap()
            .unwrap();
        let _: &Zeroizing<String> = &c.value;
    }

    #[test]
    fn both_forms_refused_and_missing_file_named_by_variable() {
        let e = env(&[("REDDB_CERTIFICATE", "a"), ("REDDB_CERTIFICATE_FILE", "/x")]);
        assert!(matches!(
            e.credential(&CERTIFICATE),
            Err(Error::ConflictingCredential(_))
        ));
        let e = env(&[("RED_S3_SECRET_KEY", "a"), ("RED_S3_SECRET_KEY_FILE", "/x")]);
        assert!(matches!(
            e.check_pairs(),
            Err(Error::ConflictingCredential(_))
        ));
        let e = env(&[("RED_ADMIN_TOKEN_FILE", "/nonexistent/secret-path")]);
        let err = e.credential(&ADMIN_TOKEN).err().unwrap().to_string();
        assert!(err.contains("RED_ADMIN_TOKEN_FILE"));
        assert!(!err.contains("secret-path"));
    }
}
