//! The keys that change on the source while `red migrate` copies: a second
//! source connection in RESP3 with `CLIENT TRACKING ON BCAST`, on which the
//! source pushes an `invalidate` message naming every key any client
//! modifies (writes, deletes, expiries, evictions; a null list for a
//! flush) without any change to the source's configuration.
//!
//! The set is bounded ([`MAX_TRACKED_KEYS`], [`MAX_TRACKED_BYTES`]); past
//! the bound it is marked overflowed and the caller does a full pass
//! instead. [`SourceChanges::sync`] makes the set complete up to a point in
//! time: Redis sends broadcast invalidations at the end of the event-loop
//! turn that made the change, possibly after a `PONG` produced in that same
//! turn, so a sync waits for two `PING`s in sequence — the second is read
//! in a later turn, after every invalidation of a change that came before
//! the first.

use super::resp_client::{describe, RespConnection, Value};
use super::server_url::ServerUrl;
use crate::error::Result;
use std::collections::HashSet;
use std::time::Duration;

/// Most distinct changed keys remembered before a full pass is due.
pub const MAX_TRACKED_KEYS: usize = 100_000;
/// Most bytes of changed key names remembered before a full pass is due.
pub const MAX_TRACKED_BYTES: usize = 32 * 1024 * 1024;

/// The tracking connection and the keys it reported.
pub struct SourceChanges {
    conn: RespConnection,
    keys: HashSet<Vec<u8>>,
    bytes: usize,
    overflowed: bool,
}

impl SourceChanges {
    /// Opens the tracking connection. `Ok(Err(reason))` when the source
    /// cannot track (Redis before 6, `HELLO` or `CLIENT` renamed or
    /// denied by ACL): the caller says so and copies without tracking.
    pub fn start(
        url: &ServerUrl,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<std::result::Result<Self, String>> {
        let mut conn = RespConnection::connect(url, "source", timeout)?;
        conn.login(url, password, super::SOURCE_CREDENTIAL_HINT)?;
        match conn.call(&["HELLO", "3"])? {
            Value::Map(_) | Value::Array(_) => {}
            other => return Ok(Err(format!("HELLO 3 answered {}", describe(&other)))),
        }
        match conn.call(&["CLIENT", "TRACKING", "ON", "BCAST"])? {
            Value::Simple(s) if s == b"OK" => {}
            other => {
                return Ok(Err(format!(
                    "CLIENT TRACKING ON BCAST answered {}",
                    describe(&other)
                )))
            }
        }
        Ok(Ok(Self {
            conn,
            keys: HashSet::new(),
            bytes: 0,
            overflowed: false,
        }))
    }

    /// Records what the source has pushed so far, without waiting.
    pub fn poll(&mut self) -> Result<()> {
        for v in self.conn.read_available()? {
            self.record(v)?;
        }
        Ok(())
    }

    /// Waits until every change the source made before this call is
    /// recorded (see the module docs).
    pub fn sync(&mut self) -> Result<()> {
        for _ in 0..2 {
            self.conn.send(&["PING"])?;
            loop {
                match self.conn.read()? {
                    Value::Push(items) => self.record(Value::Push(items))?,
                    Value::Simple(s) if s == b"PONG" => break,
                    other => {
                        return Err(self
                            .conn
                            .fail(format!("tracking PING answered {}", describe(&other))))
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether more changed than the set can hold (or the source was
    /// flushed) since the last [`SourceChanges::take`].
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The keys recorded so far; the set starts again empty (and not
    /// overflowed).
    pub fn take(&mut self) -> Vec<Vec<u8>> {
        self.overflowed = false;
        self.bytes = 0;
        std::mem::take(&mut self.keys).into_iter().collect()
    }

    fn record(&mut self, v: Value) -> Result<()> {
        let Value::Push(items) = v else {
            return Err(self
                .conn
                .fail(format!("the tracking connection sent {}", describe(&v))));
        };
        let mut items = items.into_iter();
        let kind = items.next();
        if kind.as_ref().and_then(Value::as_bytes) != Some(b"invalidate") {
            // Another push kind (none is expected here): not a change.
            return Ok(());
        }
        match items.next() {
            Some(Value::Array(keys)) => {
                for k in keys {
                    if let Value::Bulk(k) = k {
                        self.remember(k);
                    }
                }
            }
            // A flush: every key is gone.
            _ => self.overflowed = true,
        }
        Ok(())
    }

    fn remember(&mut self, key: Vec<u8>) {
        if self.overflowed || self.keys.contains(&key) {
            return;
        }
        if self.keys.len() >= MAX_TRACKED_KEYS
            || self.bytes.saturating_add(key.len()) > MAX_TRACKED_BYTES
        {
            self.overflowed = true;
            self.keys.clear();
            self.bytes = 0;
            return;
        }
        self.bytes += key.len();
        self.keys.insert(key);
    }
}
