//! What SIGHUP asks of the layer that owns the credential files: the
//! [`CredentialReload`] the binary hands to [`super::run`], and the
//! [`ReloadOutcome`] the event loop applies (a new admin token) and logs.
//! Reading files, the admin-token strength rule and what counts as a
//! change belong to that layer (`config::reload` in the `red` binary).

/// What a reload decided.
pub struct ReloadOutcome {
    /// `Some(new)` when the admin token changed.
    pub admin_token: Option<zeroize::Zeroizing<String>>,
    /// One line per credential that changed (names, never values or paths).
    pub changed: Vec<String>,
    /// One line per credential that could not be reloaded (the old value
    /// stays in force).
    pub errors: Vec<String>,
}

/// Re-reads the credentials on SIGHUP.
pub trait CredentialReload {
    fn reload(&mut self) -> ReloadOutcome;
}
