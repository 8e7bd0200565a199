//! SIGHUP: re-read every `_FILE` companion and credential file in place,
//! and the admin-token strength rule that start-up and SIGHUP share.
//!
//! The admin token takes effect at once. An unreadable or empty file keeps
//! the old value and logs an error; a reload never crashes the daemon and
//! never leaves it without a token it had. A changed certificate file is
//! logged and ignored until restart (the vault key was derived at start).
//! Logs name what changed, never values or paths.
//!
//! An admin token must be at least [`MIN_ADMIN_TOKEN_LEN`] characters,
//! counted in **bytes** of its UTF-8 text after the trailing-whitespace trim
//! that `_FILE` and credential contents get (an inline value is taken as
//! given). For the ASCII tokens every generator produces, bytes are
//! characters. A shorter token refuses the start (exit 27,
//! [`Error::WeakAdminToken`]) and, on SIGHUP, keeps the previous token and
//! logs an error. An *empty* token (an empty inline value, or a file that is
//! empty or whitespace-only at start) is not a weak token but no token: the
//! daemon starts without one and `/admin/*` accepts admin users only (a
//! warning says so); on SIGHUP an empty file keeps the previous token.

use crate::config::credentials::{
    read_secret_file, Credential, CredentialSpec, Environment, Origin, ADMIN_TOKEN, CERTIFICATE,
    PASSWORD, USERNAME,
};
use crate::error::Error;
use crate::server::reload::{CredentialReload, ReloadOutcome};
use sha2::{Digest, Sha256};

/// The shortest admin token accepted, in bytes (see the module docs).
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// Refuses a non-empty admin token shorter than [`MIN_ADMIN_TOKEN_LEN`];
/// `name` is how the error names its source (never the value or a path).
pub fn check_admin_token(value: &str, name: &str) -> crate::error::Result<()> {
    if value.is_empty() || value.len() >= MIN_ADMIN_TOKEN_LEN {
        Ok(())
    } else {
        Err(Error::WeakAdminToken {
            name: name.to_string(),
            min: MIN_ADMIN_TOKEN_LEN,
        })
    }
}

/// What a reload needs to remember from start-up.
pub struct Reloadable {
    admin_origin: Option<Origin>,
    /// Digests of the file-backed credentials as last read.
    digests: Vec<(CredentialSpec, Origin, [u8; 32])>,
}

fn digest(v: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(v.as_bytes())[..]);
    out
}

impl Reloadable {
    /// Reads the credentials once at start. Returns the admin token too,
    /// after refusing a weak one ([`check_admin_token`]).
    pub fn capture(env: &Environment) -> crate::error::Result<(Self, Option<Credential>)> {
        let admin = env.credential(&ADMIN_TOKEN)?;
        if let Some(c) = &admin {
            check_admin_token(&c.value, &c.origin.describe(&ADMIN_TOKEN))?;
        }
        let mut digests = Vec::new();
        for spec in [CERTIFICATE, USERNAME, PASSWORD] {
            if let Some(c) = env.credential(&spec)? {
                if c.origin.path().is_some() {
                    digests.push((spec, c.origin.clone(), digest(&c.value)));
                }
            }
        }
        // The token itself, not a second read of its file: the digest must
        // be of the value that was checked and is in use.
        if let Some(c) = admin.as_ref().filter(|c| c.origin.path().is_some()) {
            digests.push((ADMIN_TOKEN, c.origin.clone(), digest(&c.value)));
        }
        Ok((
            Self {
                admin_origin: admin.as_ref().map(|c| c.origin.clone()),
                digests,
            },
            admin,
        ))
    }
}

impl CredentialReload for Reloadable {
    fn reload(&mut self) -> ReloadOutcome {
        let mut out = ReloadOutcome {
            admin_token: None,
            changed: Vec::new(),
            errors: Vec::new(),
        };
        for (spec, origin, old) in &mut self.digests {
            let Some(path) = origin.path() else { continue };
            let name = origin.describe(spec);
            match read_secret_file(path, &name) {
                Ok(v) if v.is_empty() => out
                    .errors
                    .push(format!("{name} is empty; keeping the previous value")),
                Ok(v) if *spec == ADMIN_TOKEN && check_admin_token(&v, &name).is_err() => {
                    out.errors.push(format!(
                        "{name} is shorter than {MIN_ADMIN_TOKEN_LEN} characters; keeping the previous token"
                    ))
                }
                Ok(v) => {
                    let d = digest(&v);
                    if d == *old {
                        continue;
                    }
                    if *spec == CERTIFICATE {
                        out.changed.push(format!("{name} changed on disk; the certificate is not reloadable and is ignored until restart"));
                        *old = d;
                        continue;
                    }
                    *old = d;
                    if *spec == ADMIN_TOKEN && self.admin_origin.is_some() {
                        out.admin_token = Some(v);
                    }
                    out.changed.push(format!("{name} changed"));
                }
                Err(e) => out.errors.push(format!("{e}; keeping the previous value")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn a_short_admin_token_is_refused_by_name_only() {
        let short = "s".repeat(MIN_ADMIN_TOKEN_LEN - 1);
        let err = match Reloadable::capture(&env(&[("RED_ADMIN_TOKEN", &short)])) {
            Ok(_) => panic!("a 31-byte token was accepted"),
            Err(e) => e,
        };
        assert_eq!(err.exit_code(), crate::error::exit_code::WEAK_ADMIN_TOKEN);
        assert_eq!(err.code(), "weak_admin_token");
        let text = err.to_string();
        assert!(
            text.contains("RED_ADMIN_TOKEN is shorter than 32"),
            "{text}"
        );
        assert!(!text.contains(&short), "{text}");
        assert!(!text.contains('\n'));

        let ok = "o".repeat(MIN_ADMIN_TOKEN_LEN);
        let (_, admin) = Reloadable::capture(&env(&[("RED_ADMIN_TOKEN", &ok)])).expect("32");
        assert_eq!(admin.map(|c| c.value.len()), Some(MIN_ADMIN_TOKEN_LEN));
        // Empty is "no token", not a weak one.
        let (_, admin) = Reloadable::capture(&env(&[("RED_ADMIN_TOKEN", "")])).expect("empty");
        assert_eq!(admin.map(|c| c.value.len()), Some(0));
    }

    #[test]
    fn the_file_form_counts_after_the_trim_and_reload_keeps_the_old_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("tok");
        let path = f.to_str().expect("utf-8");
        std::fs::write(&f, format!("{}   \n\n", "a".repeat(31))).expect("write");
        let e = env(&[("RED_ADMIN_TOKEN_FILE", path)]);
        let err = Reloadable::capture(&e).err().expect("refused");
        assert!(err.to_string().contains("RED_ADMIN_TOKEN_FILE is shorter"));
        assert!(!err.to_string().contains(path));

        std::fs::write(&f, "b".repeat(32)).expect("write");
        let (mut r, _) = Reloadable::capture(&e).expect("32 bytes");
        std::fs::write(&f, format!("{} \n", "c".repeat(31))).expect("write");
        let out = r.reload();
        assert!(
            out.admin_token.is_none(),
            "a short token replaced the old one"
        );
        assert!(out.changed.is_empty());
        assert_eq!(out.errors.len(), 1);
        assert!(out.errors.iter().all(|m| m.contains("RED_ADMIN_TOKEN_FILE")
            && m.contains("keeping the previous token")
            && !m.contains("ccc")));
        // Again: still refused (the short file is not remembered as seen).
        assert_eq!(r.reload().errors.len(), 1);
        std::fs::write(&f, "d".repeat(40)).expect("write");
        let out = r.reload();
        assert_eq!(out.admin_token.map(|t| t.len()), Some(40));
    }
}
