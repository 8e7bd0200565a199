//! The daemon: binds the listeners, builds the service, runs the event
//! loop, and on SIGTERM drops every key before exiting. Owns the protocols
//! (HTTP/JSON in [`http`], RESP in [`wire`]), the worker threads, metrics,
//! systemd notification and the process hardening ([`harden`]).
//!
//! Depends on `reddb-service` and `reddb-storage`; knows nothing of the
//! command line or the environment (the `red` binary resolves those into
//! [`Settings`] and a [`reload::CredentialReload`]).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
// No function over 80 lines of code (the threshold is in clippy.toml); one
// that must be says why next to a function-level `#[allow]`.
#![warn(clippy::too_many_lines)]

mod event_loop;
pub mod harden;
pub mod http;
pub mod limits;
pub mod listeners;
pub mod metrics;
mod notify;
pub mod reload;
mod sync_thread;
pub mod wire;
mod workers;

use reddb_service::{DbState, Service, ServiceConfig};
use reddb_storage::error::{Error, Result};
use reddb_storage::{log_notice, log_warn};
use std::path::PathBuf;
use zeroize::Zeroizing;

/// How strictly fsync follows each commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every reply waits for the fsync of its commit (default).
    Always,
    /// Replies go out at once; commits are synced at least once a second.
    EverySec,
}

/// What the daemon is told by the `red server` command line and
/// environment (resolved and checked there).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The database file (named in the start-up line; its directory takes
    /// logical backups).
    pub path: PathBuf,
    pub fsync: FsyncPolicy,
    /// Argon2 worker threads; `None`: half the cores (1 to 4).
    pub workers: Option<usize>,
    /// Refuse to start unless all memory can be locked.
    pub require_mlock: bool,
    pub require_auth: bool,
    pub min_password_len: usize,
    pub metrics_loopback: bool,
    pub allow_remote_bootstrap: bool,
    pub max_connections: usize,
    pub max_buffer_memory: usize,
    /// Keyspace notifications at start (`notify-keyspace-events` flags).
    pub notify_keyspace_events: u32,
    /// Lua scripting on (`--no-scripting` turns it off).
    pub scripting: bool,
    /// `--busy-script-time`.
    pub busy_script_time: std::time::Duration,
}

/// Runs the daemon until it is told to stop; returns the exit code.
/// `listeners` were bound (or received from systemd) before the database
/// file was opened, so a listener that cannot be had refuses the start
/// before the file is touched. `admin_token` and `reload` come from
/// start-up's read of the credentials (SIGHUP re-reads them through
/// `reload`), made before the file was opened too.
pub fn run(
    config: Settings,
    listeners: listeners::Listeners,
    db: DbState,
    admin_token: Option<Zeroizing<String>>,
    reload: Box<dyn reload::CredentialReload>,
) -> Result<i32> {
    let admin = admin_token;
    // Logical backups go next to the database file (the one directory the
    // service may write, e.g. StateDirectory=reddb under systemd).
    let data_dir = std::path::absolute(&config.path)
        .ok()
        .and_then(|p| p.parent().map(std::path::Path::to_path_buf));
    #[cfg(feature = "test-hooks")]
    let hook_dir = data_dir.clone();
    let service = build_service(&config, db, admin, data_dir);
    let http = listeners.http;
    let bound = http
        .local_addr()
        .map_err(|e| Error::io("cannot read the HTTP address", e))?;
    let wire_bound = listeners.wire.as_ref().and_then(|l| l.local_addr().ok());
    // Half the cores for Argon2 (at least one): a password-check flood must
    // leave the event loop a core of its own.
    let workers = config.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).clamp(1, 4))
    });
    #[cfg(feature = "test-hooks")]
    test_hooks::early_thread();
    // Every layer that acts on one thread only runs now, while this is
    // still the process's only thread: the worker threads started by the
    // event loop inherit an empty capability set and no_new_privs.
    let prepared = crate::harden::before_threads(config.require_mlock)?;
    let mut ev = event_loop::EventLoop::new(
        http,
        listeners.wire,
        service,
        reload,
        event_loop::LoopLimits {
            fsync: config.fsync,
            metrics_loopback: config.metrics_loopback,
            max_connections: config.max_connections,
            max_buffer_memory: config.max_buffer_memory,
            notify_keyspace_events: config.notify_keyspace_events,
            scripting: config.scripting,
            busy_script_time: config.busy_script_time,
            ..event_loop::LoopLimits::default()
        },
        workers,
    )?;
    log_listening(&config, ev.service(), bound, wire_bound);
    // The workers have made their start-up syscalls: check every thread,
    // then the seccomp filter (all threads at once).
    let hardened = crate::harden::after_threads(prepared)?;
    log_hardened(&hardened);
    #[cfg(feature = "test-hooks")]
    test_hooks::forbidden_syscall(hook_dir.as_deref());
    ev.ready();
    let result = ev.run();
    let service = ev.into_service();
    drop(service);
    result?;
    log_notice!("stopped");
    Ok(0)
}

/// The service over the opened file, with the admin token and the backup
/// directory; the admin credential is dropped (wiped) once handed over.
fn build_service(
    config: &Settings,
    db: DbState,
    admin: Option<Zeroizing<String>>,
    data_dir: Option<std::path::PathBuf>,
) -> Service {
    let mut service = Service::new(
        db,
        ServiceConfig {
            require_auth: config.require_auth,
            min_password_len: config.min_password_len,
            allow_remote_bootstrap: config.allow_remote_bootstrap,
            ..ServiceConfig::default()
        },
    );
    // Test hook: a small audit cap, so tests can fill it.
    #[cfg(feature = "test-hooks")]
    if let Some(max) = std::env::var("REDDB_TEST_AUDIT_MAX")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        service.set_audit_max(max);
    }
    // Test hook: a short life for unseal shares, so tests can see it end.
    #[cfg(feature = "test-hooks")]
    if let Some(ms) = std::env::var("REDDB_TEST_UNSEAL_TTL_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        service.set_unseal_shares_ttl(std::time::Duration::from_millis(ms));
    }
    service.set_admin_token(admin.as_ref().map(|c| c.as_str()));
    drop(admin);
    service.set_backup_dir(data_dir);
    service
}

/// The start-up lines: where the daemon listens, the state of the vault,
/// the fsync policy, a missing admin token.
fn log_listening(
    config: &Settings,
    service: &Service,
    bound: std::net::SocketAddr,
    wire_bound: Option<std::net::SocketAddr>,
) {
    let state = if !service.is_bootstrapped() {
        "not bootstrapped: POST /auth/bootstrap to initialise"
    } else if service.is_sealed() {
        "sealed: no certificate given"
    } else {
        "vault unsealed"
    };
    log_notice!(
        "listening on http://{bound} ({state}); database {}",
        config.path.display()
    );
    if let Some(w) = wire_bound {
        log_notice!(
            "wire protocol (RESP2/RESP3) on redis://{w}; fsync {}",
            match config.fsync {
                FsyncPolicy::Always => "always (every reply after its commit is on disk)",
                FsyncPolicy::EverySec =>
                    "everysec (replies before the flush; up to ~1 s of writes lost in a crash)",
            }
        );
    }
    if !service.has_admin_token() {
        log_warn!("RED_ADMIN_TOKEN is not set: /admin endpoints accept admin users only");
    }
}

/// The line that says what hardening holds.
fn log_hardened(hardened: &crate::harden::Hardened) {
    log_notice!(
        "hardened: memory {}, dumps off, capabilities dropped and no_new_privs on all {} threads, seccomp {}",
        match hardened.memory {
            crate::harden::MemoryLock::All => "fully locked (mlockall)".to_string(),
            crate::harden::MemoryLock::KeyPagesOnly { .. } => "key pages locked".to_string(),
        },
        hardened.threads,
        if hardened.seccomp {
            format!(
                "on ({} syscalls allowed)",
                crate::harden::seccomp::ALLOWED_SYSCALLS
            )
        } else {
            "OFF".to_string()
        }
    );
}

/// Test-only hooks (the `test-hooks` cargo feature, which release builds
/// and packages never enable): attacks on the hardening forced from inside.
#[cfg(feature = "test-hooks")]
mod test_hooks {
    /// `REDDB_TEST_EARLY_THREAD=1`: a thread started before the
    /// capabilities are dropped, as a careless change could; the per-thread
    /// check must refuse to start.
    pub(crate) fn early_thread() {
        if std::env::var_os("REDDB_TEST_EARLY_THREAD").is_none() {
            return;
        }
        reddb_storage::log_warn!("test hook: starting a thread before hardening");
        let (started, running) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("red-early".into())
            .spawn(move || {
                // Named by now (std names a thread before running it).
                let _ = started.send(());
                loop {
                    std::thread::park();
                }
            });
        if spawned.is_ok() {
            let _ = running.recv();
        }
    }

    /// `REDDB_TEST_FORBIDDEN_SYSCALL=FORM`, right after the seccomp filter
    /// is installed: makes one syscall the filter must kill with SIGSYS. A
    /// call that returns is reported and ends the process with exit code
    /// 70, so a test sees at once that the filter let it through.
    ///
    /// - `1` or `ptrace`: `ptrace(PTRACE_TRACEME)`;
    /// - `openat_trunc`: `O_RDONLY|O_TRUNC` on `forbidden-target` in the
    ///   data directory (an existing file: would truncate it);
    /// - `openat_creat`: `O_RDONLY|O_CREAT` of `forbidden-created` there;
    /// - `openat_wronly_trunc`: `O_WRONLY|O_TRUNC` on `forbidden-target`;
    /// - `openat_append`: `O_WRONLY|O_APPEND` on `forbidden-target`;
    /// - `openat_create_trunc`: `O_WRONLY|O_CREAT|O_EXCL|O_TRUNC` of
    ///   `forbidden-created` (the create-only form plus a truncate flag);
    /// - `socket_inet6`, `socket_packet`: an `AF_INET6` stream or an
    ///   `AF_PACKET` raw socket;
    /// - `socket_unix_stream`: an `AF_UNIX` *stream* socket (sd_notify
    ///   needs datagrams only).
    ///
    /// Any other value ends the process with exit code 2 (a typo must not
    /// pass for a kill).
    pub(crate) fn forbidden_syscall(data_dir: Option<&std::path::Path>) {
        let Some(form) = std::env::var_os("REDDB_TEST_FORBIDDEN_SYSCALL") else {
            return;
        };
        let form = form.to_string_lossy().into_owned();
        let dir = data_dir.unwrap_or(std::path::Path::new("."));
        let path = |name: &str| {
            std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(
                dir.join(name).as_os_str(),
            ))
            .unwrap_or_default()
        };
        let target = path("forbidden-target");
        let created = path("forbidden-created");
        let openat = |p: &std::ffi::CStr, flags: libc::c_int| {
            // SAFETY: `p` is a NUL-terminated path that outlives the call;
            // the mode argument is read only with O_CREAT.
            unsafe { libc::openat(libc::AT_FDCWD, p.as_ptr(), flags | libc::O_CLOEXEC, 0o600) }
        };
        let socket = |domain: libc::c_int, ty: libc::c_int| {
            // SAFETY: socket takes integers only.
            unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) }
        };
        reddb_storage::log_warn!("test hook: calling a forbidden syscall ({form})");
        let rc: libc::c_long = match form.as_str() {
            // SAFETY: PTRACE_TRACEME takes no pointers.
            "1" | "ptrace" => unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) },
            "openat_trunc" => openat(&target, libc::O_RDONLY | libc::O_TRUNC).into(),
            "openat_creat" => openat(&created, libc::O_RDONLY | libc::O_CREAT).into(),
            "openat_wronly_trunc" => openat(&target, libc::O_WRONLY | libc::O_TRUNC).into(),
            "openat_append" => openat(&target, libc::O_WRONLY | libc::O_APPEND).into(),
            "openat_create_trunc" => openat(
                &created,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC,
            )
            .into(),
            "socket_inet6" => socket(libc::AF_INET6, libc::SOCK_STREAM).into(),
            "socket_packet" => socket(libc::AF_PACKET, libc::SOCK_RAW).into(),
            "socket_unix_stream" => socket(libc::AF_UNIX, libc::SOCK_STREAM).into(),
            _ => {
                reddb_storage::log_error!("test hook: unknown REDDB_TEST_FORBIDDEN_SYSCALL form");
                std::process::exit(2);
            }
        };
        reddb_storage::log_error!(
            "test hook: the filter let {form} through (returned {rc}, {})",
            std::io::Error::last_os_error()
        );
        std::process::exit(70);
    }
}
