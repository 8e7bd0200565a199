//! SIGHUP: re-read every `_FILE` companion and credential file in place.
//!
//! The admin token takes effect at once. An unreadable or empty file keeps
//! the old value and logs an error; a reload never crashes the daemon and
//! never leaves it without a token it had. A changed certificate file is
//! logged and ignored until restart (the vault key was derived at start).
//! Logs name what changed, never values or paths.

use crate::config::credentials::{
    read_secret_file, Credential, CredentialSpec, Environment, Origin, ADMIN_TOKEN, CERTIFICATE,
    PASSWORD, USERNAME,
};
use sha2::{Digest, Sha256};

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

/// What a reload decided.
pub struct ReloadOutcome {
    /// `Some(new)` when the admin token changed.
    pub admin_token: Option<zeroize::Zeroizing<String>>,
    pub changed: Vec<String>,
    pub errors: Vec<String>,
}

impl Reloadable {
    /// Reads the credentials once at start. Returns the admin token too.
    pub fn capture(env: &Environment) -> crate::error::Result<(Self, Option<Credential>)> {
        let admin = env.credential(&ADMIN_TOKEN)?;
        let mut digests = Vec::new();
        for spec in [CERTIFICATE, USERNAME, PASSWORD, ADMIN_TOKEN] {
            if let Some(c) = env.credential(&spec)? {
                if c.origin.path().is_some() {
                    digests.push((spec, c.origin.clone(), digest(&c.value)));
                }
            }
        }
        Ok((
            Self {
                admin_origin: admin.as_ref().map(|c| c.origin.clone()),
                digests,
            },
            admin,
        ))
    }

    pub fn reload(&mut self) -> ReloadOutcome {
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
