//! `POST /sys/unseal`: unsealing a running, sealed server with k-of-n
//! certificate shares ([`reddb_storage::crypto::shares`]), one share per request.
//!
//! A bootstrapped server started without a certificate is sealed. Each
//! request adds one share to a [`ShareCollector`] (guarded memory) and
//! answers the progress; the K-th valid share of one set combines into the
//! certificate, which is checked against the file's certificate id *before*
//! any key derivation, and then the file is unsealed in place exactly as a
//! start with that certificate would (vault, log replay, first boot). A
//! share of another set clears the progress (400); so does `{"reset":
//! true}`, and so does [`UNSEAL_SHARES_TTL`] without completion. Refusals
//! count against the failed-credential throttle of the peer, like logins
//! (the pseudo-user [`UNSEAL_LIMITER_KEY`], which no username can equal).
//!
//! While sealed nothing can be written, so the audit log cannot record the
//! attempts as they happen: refusals are logged (by reason, never the
//! share) and, once unsealed, one `sys.unseal` event records the unseal,
//! its peer and how many refusals came before it.

use super::results::UnsealProgress;
use super::{Kind, Service, ServiceError, ServiceResult};
use reddb_storage::crypto::keys::Certificate;
use reddb_storage::crypto::shares::{parse_share, Progress, ShareCollector, ShareError};
use reddb_storage::database::Database;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Shares given without reaching the threshold are wiped after this long.
pub(crate) const UNSEAL_SHARES_TTL: Duration = Duration::from_secs(600);
/// The limiter's user key for unseal attempts: not a valid username.
pub(crate) const UNSEAL_LIMITER_KEY: &str = "<unseal>";

/// Shares collected so far, and since when.
pub(crate) struct UnsealShares {
    collector: ShareCollector,
    started: Option<Instant>,
    /// Shares refused since the last unseal (for its audit event).
    refused: u64,
    /// How long given shares are kept ([`UNSEAL_SHARES_TTL`]; tests set it
    /// lower).
    ttl: Duration,
}

impl Default for UnsealShares {
    fn default() -> Self {
        Self {
            collector: ShareCollector::new(),
            started: None,
            refused: 0,
            ttl: UNSEAL_SHARES_TTL,
        }
    }
}

fn still_sealed(p: Option<&Progress>) -> UnsealProgress {
    match p {
        Some(p) => UnsealProgress::Sealed {
            have: p.have,
            threshold: Some(p.threshold),
        },
        None => UnsealProgress::Sealed {
            have: 0,
            threshold: None,
        },
    }
}

fn share_refused(e: &ShareError) -> ServiceError {
    ServiceError::bad_request(e.to_string()).with_code("share_refused")
}

impl Service {
    /// `/health`'s view of an unseal in progress: `(have, threshold)`.
    pub(crate) fn unseal_progress(&self) -> Option<(u8, u8)> {
        self.unseal
            .collector
            .progress()
            .map(|p| (p.have, p.threshold))
    }

    /// How long shares given without completion are kept (tests).
    pub fn set_unseal_shares_ttl(&mut self, ttl: Duration) {
        self.unseal.ttl = ttl;
    }

    /// Wipes shares that waited longer than [`UNSEAL_SHARES_TTL`] (the loop
    /// calls this once a second).
    pub fn expire_unseal_shares(&mut self, now: Instant) {
        let ttl = self.unseal.ttl;
        if self
            .unseal
            .started
            .is_some_and(|t| now.saturating_duration_since(t) >= ttl)
        {
            reddb_storage::log_notice!(
                "unseal: the shares given so far were not completed within {} s and are wiped",
                ttl.as_secs()
            );
            self.unseal.collector.clear();
            self.unseal.started = None;
        }
    }

    /// `POST /sys/unseal` with `{"share": "…"}` or `{"reset": true}`.
    pub fn unseal_with_share(
        &mut self,
        share: Option<&str>,
        reset: bool,
        peer: IpAddr,
    ) -> ServiceResult<UnsealProgress> {
        self.check_sealed()?;
        if reset {
            if share.is_some() {
                return Err(ServiceError::bad_request(
                    "give either \"share\" or \"reset\", not both",
                ));
            }
            self.unseal.collector.clear();
            self.unseal.started = None;
            reddb_storage::log_notice!("unseal: progress reset by {peer}");
            return Ok(still_sealed(None));
        }
        let text = share.ok_or_else(|| ServiceError::bad_request("\"share\" is required"))?;
        let now = Instant::now();
        if let Err(retry) = self.limiter.check(UNSEAL_LIMITER_KEY, peer, now) {
            return Err(super::rate_limited("too many refused shares", retry));
        }
        self.limiter.begin(UNSEAL_LIMITER_KEY, peer, now);
        let added = parse_share(text).and_then(|s| self.unseal.collector.add(s));
        let progress = match added {
            Ok(p) => p,
            Err(e) => return Err(self.refuse_share(&e, peer)),
        };
        self.unseal.started.get_or_insert(now);
        if progress.have < progress.threshold {
            self.limiter.success(UNSEAL_LIMITER_KEY, peer);
            reddb_storage::log_notice!(
                "unseal: share {} of {} accepted from {peer}",
                progress.have,
                progress.threshold
            );
            return Ok(still_sealed(Some(&progress)));
        }
        let cert = match self.unseal.collector.combine() {
            Ok(c) => c,
            Err(e) => return Err(self.refuse_share(&e, peer)),
        };
        self.unseal.collector.clear();
        self.unseal.started = None;
        self.unseal_with_certificate(&cert, progress.threshold, peer)
    }

    /// Refuses an unseal request unless the database is sealed.
    fn check_sealed(&self) -> ServiceResult<()> {
        match &self.db {
            super::DbState::Sealed(_) => Ok(()),
            super::DbState::Fresh(_) => Err(ServiceError::not_bootstrapped()),
            super::DbState::Open(_) => Err(ServiceError::new(
                Kind::Conflict,
                "not_sealed",
                "the vault is not sealed",
            )),
            super::DbState::Swapping => Err(ServiceError::internal(
                "the database could not be opened; see the log and restart",
            )),
        }
    }

    /// The certificate combined from `shares` shares: checked against the
    /// file's certificate id (a mismatch counts as a refused share), then
    /// the file is unsealed in place and the unseal audited.
    fn unseal_with_certificate(
        &mut self,
        cert: &Certificate,
        shares: u8,
        peer: IpAddr,
    ) -> ServiceResult<UnsealProgress> {
        let opens = match &self.db {
            super::DbState::Sealed(pager) => Database::certificate_opens(pager, cert),
            _ => false,
        };
        if !opens {
            let e = ServiceError::bad_request(
                "the shares combine into a certificate that does not open this file (shares of another database?); the shares given so far were discarded",
            )
            .with_code("share_refused");
            self.limiter
                .failure(UNSEAL_LIMITER_KEY, peer, Instant::now());
            self.unseal.refused += 1;
            reddb_storage::log_warn!(
                "unseal: refused from {peer}: the combined certificate does not open this file"
            );
            return Err(e);
        }
        self.limiter.success(UNSEAL_LIMITER_KEY, peer);
        let pager = match std::mem::replace(&mut self.db, super::DbState::Swapping) {
            super::DbState::Sealed(p) => p,
            other => {
                self.db = other;
                return Err(ServiceError::internal("the database changed state"));
            }
        };
        match Database::unseal(*pager, cert, true) {
            Ok(db) => {
                self.db = super::DbState::Open(Box::new(db));
                self.rebuild_indexes();
                reddb_storage::log_notice!("unsealed in place with {shares} shares from {peer}");
                let refused = std::mem::take(&mut self.unseal.refused);
                let resource = format!("shares:{shares} refused-before:{refused}");
                self.audit(
                    super::audit::ANONYMOUS,
                    "sys.unseal",
                    &resource,
                    ("ok", None),
                    Some(peer),
                );
                Ok(UnsealProgress::Unsealed)
            }
            Err(e) => {
                // The file is not usable (damaged or tampered): it stays
                // sealed and the operator restarts after looking.
                reddb_storage::log_error!(
                    "unseal: the certificate was right but the file did not open: {e}"
                );
                Err(ServiceError::internal(format!(
                    "the file did not open ({}); see the log and restart",
                    e.code()
                )))
            }
        }
    }

    fn refuse_share(&mut self, e: &ShareError, peer: IpAddr) -> ServiceError {
        self.limiter
            .failure(UNSEAL_LIMITER_KEY, peer, Instant::now());
        self.unseal.refused += 1;
        if self.unseal.collector.progress().is_none() {
            self.unseal.started = None;
        }
        reddb_storage::log_warn!("unseal: share refused from {peer}: {e}");
        match e {
            ShareError::SecureMemory => ServiceError::internal(e.to_string()),
            _ => share_refused(e),
        }
    }
}
