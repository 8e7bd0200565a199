//! `red server` configuration: flags + environment + presets → [`ServerConfig`].
//!
//! Presets (`REDDB_BOOTSTRAP_PRESET`, or legacy `REDDB_PRESET` when that is
//! unset):
//!
//! | preset | effect |
//! |---|---|
//! | `simple` (default) | nothing forced |
//! | `production`, `cloud` | `--vault --auth --require-auth --require-mlock`; `REDDB_NO_AUTH=true` or `--no-auth` keeps auth/require-auth off |
//! | `regulated` | production, plus mlock and the audit log can't be turned off, minimum password length 12 |
//!
//! `--dev` is never implied by a preset and is refused together with any
//! preset but `simple`.

use crate::config::credentials::Environment;
use crate::error::{Error, Result};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Simple,
    Production,
    Regulated,
    Cloud,
}

impl Preset {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "simple" => Ok(Preset::Simple),
            "production" => Ok(Preset::Production),
            "regulated" => Ok(Preset::Regulated),
            "cloud" => Ok(Preset::Cloud),
            other => Err(Error::Usage(format!(
                "unknown preset '{other}': use simple, production, regulated or cloud"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Simple => "simple",
            Preset::Production => "production",
            Preset::Regulated => "regulated",
            Preset::Cloud => "cloud",
        }
    }

    /// The environment's preset: `REDDB_BOOTSTRAP_PRESET`, else `REDDB_PRESET`.
    pub fn from_env(env: &Environment) -> Result<Self> {
        match env
            .setting("REDDB_BOOTSTRAP_PRESET")
            .or_else(|| env.setting("REDDB_PRESET"))
        {
            Some(p) => Preset::parse(p),
            None => Ok(Preset::Simple),
        }
    }
}

/// How strictly fsync follows each commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every reply waits for the fsync of its commit (default).
    Always,
    /// Replies go out at once; commits are synced at least once a second.
    EverySec,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub path: PathBuf,
    pub preset: Preset,
    pub vault: bool,
    pub auth: bool,
    pub require_auth: bool,
    pub dev: bool,
    pub require_mlock: bool,
    pub audit_required: bool,
    pub min_password_len: usize,
    pub http_bind: SocketAddr,
    pub wire_bind: SocketAddr,
    pub fsync: FsyncPolicy,
    /// Argon2 worker threads (`--workers`); default: half the cores.
    pub workers: Option<usize>,
    /// Where auto-bootstrap writes the certificate (`REDDB_CERTIFICATE_OUT`).
    pub certificate_out: Option<PathBuf>,
}

pub const SWITCHES: [&str; 7] = [
    "vault",
    "auth",
    "require-auth",
    "no-auth",
    "dev",
    "require-mlock",
    "metrics-loopback",
];
pub const VALUES: [&str; 5] = ["path", "http-bind", "wire-bind", "fsync", "workers"];

fn parse_addr(flag: &str, value: &str) -> Result<SocketAddr> {
    value.parse().map_err(|_| {
        Error::Usage(format!(
            "--{flag} '{value}' is not an address like 127.0.0.1:5000"
        ))
    })
}

impl ServerConfig {
    pub fn resolve(flags: &crate::cli::args::Flags, env: &Environment) -> Result<Self> {
        let preset = Preset::from_env(env)?;
        let no_auth = flags.on("no-auth")
            || env
                .setting("REDDB_NO_AUTH")
                .is_some_and(|v| matches!(v, "true" | "1" | "yes"));
        let strict = matches!(
            preset,
            Preset::Production | Preset::Cloud | Preset::Regulated
        );
        let dev = flags.on("dev");
        if dev && preset != Preset::Simple {
            return Err(Error::Usage(format!(
                "--dev is for development only and cannot be used with the '{}' preset",
                preset.as_str()
            )));
        }
        let path = flags
            .value("path")
            .or_else(|| env.setting("REDDB_PATH"))
            .map(PathBuf::from)
            .or_else(|| dev.then(|| PathBuf::from("./data.rdb")))
            .ok_or_else(|| Error::Usage("--path FILE is required".into()))?;
        let http_bind = match flags
            .value("http-bind")
            .or_else(|| env.setting("RED_HTTP_BIND_ADDR"))
        {
            Some(v) => parse_addr("http-bind", v)?,
            None => SocketAddr::from(([127, 0, 0, 1], 5000)),
        };
        let wire_bind = match flags
            .value("wire-bind")
            .or_else(|| env.setting("RED_WIRE_BIND_ADDR"))
        {
            Some(v) => parse_addr("wire-bind", v)?,
            None => SocketAddr::from(([127, 0, 0, 1], 5050)),
        };
        let fsync = match flags.value("fsync") {
            None | Some("always") => FsyncPolicy::Always,
            Some("everysec") => FsyncPolicy::EverySec,
            Some(other) => {
                return Err(Error::Usage(format!(
                    "--fsync '{other}': use always or everysec"
                )))
            }
        };
        Ok(Self {
            path,
            preset,
            vault: flags.on("vault") || strict,
            auth: flags.on("auth") || !no_auth,
            require_auth: (flags.on("require-auth") || strict) && !no_auth,
            dev,
            require_mlock: flags.on("require-mlock") || strict,
            audit_required: preset == Preset::Regulated,
            min_password_len: if preset == Preset::Regulated { 12 } else { 8 },
            http_bind,
            wire_bind,
            fsync,
            certificate_out: env.setting("REDDB_CERTIFICATE_OUT").map(PathBuf::from),
            workers: match flags.value("workers") {
                None => None,
                Some(v) => match v.parse::<usize>() {
                    Ok(n) if (1..=64).contains(&n) => Some(n),
                    _ => {
                        return Err(Error::Usage(format!(
                            "--workers '{v}': use a number from 1 to 64"
                        )))
                    }
                },
            },
        })
    }
}
