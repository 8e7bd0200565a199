//! The daemon: binds the listeners, builds the service, runs the event
//! loop, and on SIGTERM drops every key before exiting.

pub mod event_loop;
pub mod http;
pub mod listeners;
pub mod metrics;
pub mod notify;
pub mod reload;
pub mod wire;
pub mod workers;

use crate::cli::server::Opened;
use crate::config::credentials::Credential;
use crate::config::server::ServerConfig;
use crate::error::{Error, Result};
use crate::service::{DbState, Service, ServiceConfig};
use crate::{log_notice, log_warn};

/// Runs the daemon until it is told to stop; returns the exit code.
/// `reloadable` is what start-up read of the credentials SIGHUP re-reads
/// (and the admin token itself), captured before the file was opened.
pub fn run(
    config: ServerConfig,
    opened: Opened,
    reloadable: (reload::Reloadable, Option<Credential>),
) -> Result<i32> {
    let (reload, admin) = reloadable;
    let db = match opened {
        Opened::Unsealed(db) => DbState::Open(db),
        Opened::Sealed(pager) if pager.header().bootstrapped => DbState::Sealed(pager),
        Opened::Sealed(pager) => DbState::Fresh(pager),
    };
    let mut service = Service::new(
        db,
        ServiceConfig {
            require_auth: config.require_auth,
            min_password_len: config.min_password_len,
            ..ServiceConfig::default()
        },
    );
    service.set_admin_token(admin.as_ref().map(|c| c.value.as_str()));
    drop(admin);
    // Logical backups go next to the database file (the one directory the
    // service may write, e.g. StateDirectory=reddb under systemd).
    let data_dir = std::path::absolute(&config.path)
        .ok()
        .and_then(|p| p.parent().map(std::path::Path::to_path_buf));
    service.set_backup_dir(data_dir);
    let listeners = listeners::open(config.http_bind, config.wire_bind)?;
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
            ..event_loop::LoopLimits::default()
        },
        workers,
    )?;
    let state = if !ev.service().is_bootstrapped() {
        "not bootstrapped: POST /auth/bootstrap to initialise"
    } else if ev.service().is_sealed() {
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
                crate::config::server::FsyncPolicy::Always =>
                    "always (every reply after its commit is on disk)",
                crate::config::server::FsyncPolicy::EverySec =>
                    "everysec (replies before the flush; up to ~1 s of writes lost in a crash)",
            }
        );
    }
    if !ev.service().has_admin_token() {
        log_warn!("RED_ADMIN_TOKEN is not set: /admin endpoints accept admin users only");
    }
    let hardened = crate::harden::apply(config.require_mlock)?;
    log_notice!(
        "hardened: memory {}, dumps off, capabilities dropped, no_new_privs, seccomp {}",
        match hardened.memory {
            crate::harden::MemoryLock::All => "fully locked (mlockall)".to_string(),
            crate::harden::MemoryLock::KeyPagesOnly { .. } => "key pages locked".to_string(),
        },
        if hardened.seccomp {
            format!(
                "on ({} syscalls allowed)",
                crate::harden::seccomp::ALLOWED_SYSCALLS
            )
        } else {
            "OFF".to_string()
        }
    );
    #[cfg(feature = "test-hooks")]
    if std::env::var_os("REDDB_TEST_FORBIDDEN_SYSCALL").is_some() {
        crate::log_warn!("test hook: calling a forbidden syscall (ptrace)");
        // SAFETY: PTRACE_TRACEME takes no pointers; the filter kills us first.
        unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) };
    }
    ev.ready();
    let result = ev.run();
    let service = ev.into_service();
    drop(service);
    result?;
    log_notice!("stopped");
    Ok(0)
}
