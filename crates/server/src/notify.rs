//! systemd notification (`sd_notify`): READY, STATUS, RELOADING with
//! MONOTONIC_USEC, STOPPING, WATCHDOG. Without `NOTIFY_SOCKET` every call
//! is a no-op; a failed send is logged once per kind and never fatal.

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        reddb_storage::log_warn!("sd_notify failed: {e}");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// The watchdog interval systemd asked for, if any.
pub(crate) fn watchdog_interval() -> Option<std::time::Duration> {
    sd_notify::watchdog_enabled()
}
