//! `red server` configuration: flags + environment + presets → [`ServerConfig`].
//!
//! Presets (`REDDB_BOOTSTRAP_PRESET`, or legacy `REDDB_PRESET` when that is
//! unset):
//!
//! | preset | effect |
//! |---|---|
//! | `simple` (default) | nothing forced |
//! | `production`, `cloud` | `--vault --auth --require-auth --require-mlock`; `REDDB_NO_AUTH=true` or `--no-auth` keeps auth/require-auth off |
//! | `regulated` | production, plus mlock and the audit log can't be turned off, minimum password length 12, Lua scripting off |
//!
//! `--dev` is never implied by a preset and is refused together with any
//! preset but `simple`.

use crate::cli::args::Flags;
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
            // A word is quoted (a typo such as `prod`); anything else is
            // not (a value that is a path, or garbage, is not echoed).
            other
                if !other.is_empty()
                    && other.len() <= 32
                    && other
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Err(Error::Usage(format!(
                    "unknown preset '{other}': use simple, production, regulated or cloud"
                )))
            }
            _ => Err(Error::Usage(
                "unknown preset (not a preset name): use simple, production, regulated or cloud"
                    .into(),
            )),
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

pub use crate::server::limits::{DEFAULT_MAX_BUFFER_MEMORY, DEFAULT_MAX_CONNECTIONS};
pub use crate::server::FsyncPolicy;

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
    /// `--metrics-loopback`: `GET /metrics` needs no credentials from a
    /// loopback peer (otherwise an admin user or the admin token).
    pub metrics_loopback: bool,
    /// `--allow-remote-bootstrap`: `POST /auth/bootstrap` is accepted from
    /// any peer, not only loopback ones.
    pub allow_remote_bootstrap: bool,
    /// `--max-connections N` / `RED_MAX_CONNECTIONS`: open client
    /// connections (HTTP and wire together) before new ones are refused.
    /// Capped at start by the file-descriptor limit.
    pub max_connections: usize,
    /// `--max-buffer-memory BYTES` / `RED_MAX_BUFFER_MEMORY`: bytes buffered
    /// across all connections (input, pending output, parts of incomplete
    /// requests) beyond which the event loop stops reading sockets.
    pub max_buffer_memory: usize,
    /// `--notify-keyspace-events FLAGS`: keyspace notifications at start
    /// (Redis's flag string; `CONFIG SET` changes it at run time).
    pub notify_keyspace_events: u32,
    /// Lua scripting (`EVAL`, `SCRIPT …`); off with `--no-scripting` /
    /// `RED_NO_SCRIPTING`, and always off under the `regulated` preset.
    pub scripting: bool,
    /// `--busy-script-time MS` / `RED_BUSY_SCRIPT_TIME`: how long a script
    /// runs before other clients get `-BUSY` and `SCRIPT KILL` is heard.
    pub busy_script_time_ms: u64,
}

/// Default `--busy-script-time` (Redis's `busy-reply-threshold`).
pub const DEFAULT_BUSY_SCRIPT_TIME_MS: u64 = 5000;
/// Largest accepted `--busy-script-time` (one hour).
pub const MAX_BUSY_SCRIPT_TIME_MS: u64 = 3_600_000;

/// Largest accepted `--max-connections`.
pub const MAX_MAX_CONNECTIONS: usize = 1_000_000;

/// Smallest accepted `--max-buffer-memory` (64 KiB).
pub const MIN_MAX_BUFFER_MEMORY: usize = 64 * 1024;
/// Largest accepted `--max-buffer-memory` (1 TiB).
pub const MAX_MAX_BUFFER_MEMORY: usize = 1 << 40;

pub const SWITCHES: [&str; 9] = [
    "vault",
    "auth",
    "require-auth",
    "no-auth",
    "dev",
    "require-mlock",
    "metrics-loopback",
    "allow-remote-bootstrap",
    "no-scripting",
];
pub const VALUES: [&str; 9] = [
    "path",
    "http-bind",
    "wire-bind",
    "fsync",
    "workers",
    "max-connections",
    "max-buffer-memory",
    "notify-keyspace-events",
    "busy-script-time",
];

fn parse_addr(flag: &str, value: &str) -> Result<SocketAddr> {
    value.parse().map_err(|_| {
        Error::Usage(format!(
            "--{flag} '{value}' is not an address like 127.0.0.1:5000"
        ))
    })
}

impl ServerConfig {
    /// What the daemon itself is told.
    pub fn daemon_settings(&self) -> crate::server::Settings {
        crate::server::Settings {
            path: self.path.clone(),
            fsync: self.fsync,
            workers: self.workers,
            require_mlock: self.require_mlock,
            require_auth: self.require_auth,
            min_password_len: self.min_password_len,
            metrics_loopback: self.metrics_loopback,
            allow_remote_bootstrap: self.allow_remote_bootstrap,
            max_connections: self.max_connections,
            max_buffer_memory: self.max_buffer_memory,
            notify_keyspace_events: self.notify_keyspace_events,
            scripting: self.scripting,
            busy_script_time: std::time::Duration::from_millis(self.busy_script_time_ms),
        }
    }

    /// The configuration from the command line's flags, the environment
    /// and the preset. A flag wins over its environment variable; every
    /// value is checked, and the first bad one is refused with a usage
    /// error.
    pub fn resolve(flags: &Flags, env: &Environment) -> Result<Self> {
        let preset = Preset::from_env(env)?;
        let no_auth = flags.on("no-auth") || no_auth_from_env(env)?;
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
        let http_bind = bind_address(flags, env, ("http-bind", "RED_HTTP_BIND_ADDR"), 5000)?;
        let wire_bind = bind_address(flags, env, ("wire-bind", "RED_WIRE_BIND_ADDR"), 5050)?;
        let fsync = fsync_policy(flags)?;
        let max_connections = max_connections(flags, env)?;
        let max_buffer_memory = max_buffer_memory(flags, env)?;
        let workers = worker_count(flags)?;
        let notify_keyspace_events = notify_keyspace_events(flags)?;
        let scripting = scripting_allowed(flags, env, preset)?;
        let busy_script_time_ms = busy_script_time(flags, env)?;
        Ok(Self {
            notify_keyspace_events,
            scripting,
            busy_script_time_ms,
            path,
            preset,
            max_connections,
            max_buffer_memory,
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
            metrics_loopback: flags.on("metrics-loopback"),
            allow_remote_bootstrap: flags.on("allow-remote-bootstrap"),
            workers,
        })
    }
}

/// `REDDB_NO_AUTH`: true, 1 or yes turns authentication off; unset,
/// empty, false, 0 or no leaves it on.
fn no_auth_from_env(env: &Environment) -> Result<bool> {
    match env.setting("REDDB_NO_AUTH") {
        None | Some("" | "false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(_) => Err(Error::Usage(
            "REDDB_NO_AUTH must be true, 1, yes, false, 0 or no".into(),
        )),
    }
}

/// A listening address from `--{flag}` or the environment variable
/// `var` (the `(flag, var)` pair), else `127.0.0.1:{default_port}`.
fn bind_address(
    flags: &Flags,
    env: &Environment,
    (flag, var): (&str, &str),
    default_port: u16,
) -> Result<SocketAddr> {
    match flags.value(flag).or_else(|| env.setting(var)) {
        Some(v) => parse_addr(flag, v),
        None => Ok(SocketAddr::from(([127, 0, 0, 1], default_port))),
    }
}

/// `--fsync always|everysec` (default always).
fn fsync_policy(flags: &Flags) -> Result<FsyncPolicy> {
    match flags.value("fsync") {
        None | Some("always") => Ok(FsyncPolicy::Always),
        Some("everysec") => Ok(FsyncPolicy::EverySec),
        Some(other) => Err(Error::Usage(format!(
            "--fsync '{other}': use always or everysec"
        ))),
    }
}

/// `--max-connections` or `RED_MAX_CONNECTIONS`, from 1 to
/// [`MAX_MAX_CONNECTIONS`].
fn max_connections(flags: &Flags, env: &Environment) -> Result<usize> {
    let Some(v) = flags
        .value("max-connections")
        .or_else(|| env.setting("RED_MAX_CONNECTIONS"))
    else {
        return Ok(DEFAULT_MAX_CONNECTIONS);
    };
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_MAX_CONNECTIONS).contains(&n) => Ok(n),
        _ => Err(Error::Usage(format!(
            "--max-connections (or RED_MAX_CONNECTIONS) '{v}': use a number from 1 to {MAX_MAX_CONNECTIONS}"
        ))),
    }
}

/// `--max-buffer-memory` or `RED_MAX_BUFFER_MEMORY`, from
/// [`MIN_MAX_BUFFER_MEMORY`] to [`MAX_MAX_BUFFER_MEMORY`] bytes.
fn max_buffer_memory(flags: &Flags, env: &Environment) -> Result<usize> {
    let Some(v) = flags
        .value("max-buffer-memory")
        .or_else(|| env.setting("RED_MAX_BUFFER_MEMORY"))
    else {
        return Ok(DEFAULT_MAX_BUFFER_MEMORY);
    };
    match v.parse::<usize>() {
        Ok(n) if (MIN_MAX_BUFFER_MEMORY..=MAX_MAX_BUFFER_MEMORY).contains(&n) => Ok(n),
        _ => Err(Error::Usage(format!(
            "--max-buffer-memory (or RED_MAX_BUFFER_MEMORY) '{v}': use a number of bytes from {MIN_MAX_BUFFER_MEMORY} to {MAX_MAX_BUFFER_MEMORY} (default {DEFAULT_MAX_BUFFER_MEMORY}, 256 MiB)"
        ))),
    }
}

/// `--notify-keyspace-events FLAGS`: Redis's flag string (`KEA`, `Ex`…);
/// none when not given.
fn notify_keyspace_events(flags: &Flags) -> Result<u32> {
    let Some(v) = flags.value("notify-keyspace-events") else {
        return Ok(0);
    };
    crate::server::wire::keyspace_events::parse_flags(v.as_bytes()).ok_or_else(|| {
        Error::Usage(format!(
            "--notify-keyspace-events '{v}': use Redis's event classes, characters of 'Ag$lshzxeKEtmdn' (e.g. KEA)"
        ))
    })
}

/// Whether Lua scripting is on: off with `--no-scripting` or
/// `RED_NO_SCRIPTING` (true, 1 or yes), and always off under the
/// `regulated` preset (no code from clients runs in a regulated store).
fn scripting_allowed(flags: &Flags, env: &Environment, preset: Preset) -> Result<bool> {
    let off_by_env = match env.setting("RED_NO_SCRIPTING") {
        None | Some("" | "false" | "0" | "no") => false,
        Some("true" | "1" | "yes") => true,
        Some(_) => {
            return Err(Error::Usage(
                "RED_NO_SCRIPTING must be true, 1, yes, false, 0 or no".into(),
            ))
        }
    };
    Ok(!(flags.on("no-scripting") || off_by_env || preset == Preset::Regulated))
}

/// `--busy-script-time MS` or `RED_BUSY_SCRIPT_TIME`, from 1 to
/// [`MAX_BUSY_SCRIPT_TIME_MS`] milliseconds.
fn busy_script_time(flags: &Flags, env: &Environment) -> Result<u64> {
    let Some(v) = flags
        .value("busy-script-time")
        .or_else(|| env.setting("RED_BUSY_SCRIPT_TIME"))
    else {
        return Ok(DEFAULT_BUSY_SCRIPT_TIME_MS);
    };
    match v.parse::<u64>() {
        Ok(n) if (1..=MAX_BUSY_SCRIPT_TIME_MS).contains(&n) => Ok(n),
        _ => Err(Error::Usage(format!(
            "--busy-script-time (or RED_BUSY_SCRIPT_TIME) '{v}': use milliseconds from 1 to {MAX_BUSY_SCRIPT_TIME_MS} (default {DEFAULT_BUSY_SCRIPT_TIME_MS})"
        ))),
    }
}

/// `--workers N` (1 to 64); `None` when not given.
fn worker_count(flags: &Flags) -> Result<Option<usize>> {
    let Some(v) = flags.value("workers") else {
        return Ok(None);
    };
    match v.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(Some(n)),
        _ => Err(Error::Usage(format!(
            "--workers '{v}': use a number from 1 to 64"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::Flags;

    fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<ServerConfig> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let flags = Flags::parse(&args, &VALUES, &SWITCHES)?;
        let env = Environment::from_pairs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ServerConfig::resolve(&flags, &env)
    }

    #[test]
    fn scripting_flags_and_regulated_preset() {
        let c = resolve(&["--path", "x"], &[]).unwrap();
        assert!(c.scripting);
        assert_eq!(c.busy_script_time_ms, DEFAULT_BUSY_SCRIPT_TIME_MS);
        assert!(
            !resolve(&["--path", "x", "--no-scripting"], &[])
                .unwrap()
                .scripting
        );
        assert!(
            !resolve(&["--path", "x"], &[("RED_NO_SCRIPTING", "1")])
                .unwrap()
                .scripting
        );
        let c = resolve(&["--path", "x"], &[("REDDB_PRESET", "regulated")]).unwrap();
        assert!(!c.scripting, "regulated forces scripting off");
        assert!(resolve(&["--path", "x"], &[("RED_NO_SCRIPTING", "maybe")]).is_err());
        let c = resolve(&["--path", "x", "--busy-script-time", "250"], &[]).unwrap();
        assert_eq!(c.busy_script_time_ms, 250);
        let c = resolve(&["--path", "x"], &[("RED_BUSY_SCRIPT_TIME", "40")]).unwrap();
        assert_eq!(c.busy_script_time_ms, 40);
        for bad in ["0", "-1", "x", "3600001"] {
            assert!(
                resolve(&["--path", "x", "--busy-script-time", bad], &[]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn max_connections_from_flag_or_environment() {
        let c = resolve(&["--path", "x"], &[]).unwrap();
        assert_eq!(c.max_connections, DEFAULT_MAX_CONNECTIONS);
        let c = resolve(&["--path", "x", "--max-connections", "8"], &[]).unwrap();
        assert_eq!(c.max_connections, 8);
        let c = resolve(&["--path", "x"], &[("RED_MAX_CONNECTIONS", "20")]).unwrap();
        assert_eq!(c.max_connections, 20);
        let c = resolve(
            &["--path", "x", "--max-connections=9"],
            &[("RED_MAX_CONNECTIONS", "20")],
        )
        .unwrap();
        assert_eq!(c.max_connections, 9, "the flag wins");
        for bad in ["0", "-1", "1000001", "x", " 8"] {
            assert!(resolve(&["--path", "x", "--max-connections", bad], &[]).is_err());
        }
    }

    #[test]
    fn notify_keyspace_events_flag_is_redis_flag_string() {
        let c = resolve(&["--path", "x"], &[]).unwrap();
        assert_eq!(c.notify_keyspace_events, 0);
        let c = resolve(&["--path", "x", "--notify-keyspace-events", "KEA"], &[]).unwrap();
        assert_ne!(c.notify_keyspace_events, 0);
        let same = resolve(&["--path", "x", "--notify-keyspace-events=AKE"], &[]).unwrap();
        assert_eq!(c.notify_keyspace_events, same.notify_keyspace_events);
        let e = resolve(&["--path", "x", "--notify-keyspace-events", "KEQ"], &[]).unwrap_err();
        assert!(
            e.to_string().contains("--notify-keyspace-events 'KEQ'"),
            "{e}"
        );
    }

    #[test]
    fn max_buffer_memory_from_flag_or_environment() {
        let c = resolve(&["--path", "x"], &[]).unwrap();
        assert_eq!(c.max_buffer_memory, 256 * 1024 * 1024);
        let c = resolve(&["--path", "x", "--max-buffer-memory", "1048576"], &[]).unwrap();
        assert_eq!(c.max_buffer_memory, 1_048_576);
        let c = resolve(&["--path", "x"], &[("RED_MAX_BUFFER_MEMORY", "65536")]).unwrap();
        assert_eq!(c.max_buffer_memory, 65_536);
        let c = resolve(
            &["--path", "x", "--max-buffer-memory=2000000"],
            &[("RED_MAX_BUFFER_MEMORY", "65536")],
        )
        .unwrap();
        assert_eq!(c.max_buffer_memory, 2_000_000, "the flag wins");
        for bad in [
            "0",
            "65535",
            "-1",
            "1099511627777",
            "99999999999999999999999",
            "256M",
            "1e6",
            " 65536",
            "",
            "lots",
        ] {
            let e = resolve(&["--path", "x", "--max-buffer-memory", bad], &[]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
            let msg = e.to_string();
            assert!(
                msg.contains("--max-buffer-memory") && msg.contains("number of bytes from 65536"),
                "{bad:?}: {msg}"
            );
            if bad.is_empty() {
                continue; // an empty variable is an unset one
            }
            let e = resolve(&["--path", "x"], &[("RED_MAX_BUFFER_MEMORY", bad)]).unwrap_err();
            assert!(e.to_string().contains("RED_MAX_BUFFER_MEMORY"), "{bad:?}");
        }
    }

    #[test]
    fn each_preset_has_exactly_its_documented_effect() {
        let simple = resolve(&["--path", "x"], &[]).unwrap();
        assert_eq!(simple.preset, Preset::Simple);
        assert!(
            !simple.vault
                && !simple.require_auth
                && !simple.require_mlock
                && !simple.audit_required
        );
        assert_eq!(simple.min_password_len, 8);
        for p in ["production", "cloud"] {
            let c = resolve(&["--path", "x"], &[("REDDB_BOOTSTRAP_PRESET", p)]).unwrap();
            assert!(
                c.vault && c.auth && c.require_auth && c.require_mlock,
                "{p}"
            );
            assert!(!c.audit_required && c.min_password_len == 8, "{p}");
            let c = resolve(
                &["--path", "x"],
                &[("REDDB_BOOTSTRAP_PRESET", p), ("REDDB_NO_AUTH", "true")],
            )
            .unwrap();
            assert!(
                c.vault && c.require_mlock && !c.require_auth,
                "{p} + REDDB_NO_AUTH"
            );
            let c = resolve(
                &["--path", "x", "--no-auth"],
                &[("REDDB_BOOTSTRAP_PRESET", p)],
            )
            .unwrap();
            assert!(!c.require_auth, "{p} + --no-auth");
        }
        let r = resolve(&["--path", "x"], &[("REDDB_BOOTSTRAP_PRESET", "regulated")]).unwrap();
        assert!(r.vault && r.require_auth && r.require_mlock && r.audit_required);
        assert_eq!(r.min_password_len, 12);
        // Legacy name honoured only when the new one is unset.
        let r = resolve(&["--path", "x"], &[("REDDB_PRESET", "regulated")]).unwrap();
        assert_eq!(r.preset, Preset::Regulated);
        let r = resolve(
            &["--path", "x"],
            &[
                ("REDDB_PRESET", "regulated"),
                ("REDDB_BOOTSTRAP_PRESET", "simple"),
            ],
        )
        .unwrap();
        assert_eq!(r.preset, Preset::Simple);
        assert!(resolve(
            &["--path", "x", "--dev"],
            &[("REDDB_BOOTSTRAP_PRESET", "production")]
        )
        .is_err());
        assert!(
            resolve(&["--dev"], &[]).unwrap().dev,
            "--dev alone defaults the path"
        );
        assert!(resolve(&["--path", "x"], &[("REDDB_BOOTSTRAP_PRESET", "nope")]).is_err());
        assert!(!simple.metrics_loopback);
        assert!(
            resolve(&["--path", "x", "--metrics-loopback"], &[])
                .unwrap()
                .metrics_loopback
        );
    }
}
