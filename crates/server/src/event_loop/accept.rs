//! Taking new connections from the HTTP and the wire listeners, and
//! refusing them (with one line in their protocol) past
//! `--max-connections` or while the daemon stops.
//!
//! Must never block on a refused peer (the refusal is one best-effort
//! write) nor accept past the limit, which `limits.rs` fitted to the
//! open-file limit.

use super::protocol::Kind;
use super::EventLoop;
use mio::net::TcpStream;
use reddb_storage::log_warn;
use std::io::{ErrorKind, Write};

/// What a refused connection is told.
fn refusal(kind: Kind, stopping: bool) -> &'static [u8] {
    match (kind, stopping) {
        (Kind::Wire, true) => b"-ERR the server is shutting down\r\n",
        (Kind::Wire, false) => b"-ERR max number of clients reached\r\n",
        (Kind::Http, _) => {
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
    }
}

impl EventLoop {
    /// Accepts every connection waiting on the listener of `kind`.
    pub(super) fn accept(&mut self, kind: Kind) {
        loop {
            let listener = match kind {
                Kind::Http => &self.http,
                Kind::Wire => &self.wire_listener,
            };
            let Some(listener) = listener else { return };
            match listener.accept() {
                Ok((stream, peer)) => {
                    if self.conns.live() >= self.limits.max_connections || self.stopping {
                        self.refuse(kind, stream);
                    } else {
                        self.add_connection(stream, peer, kind);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log_warn!("accept failed: {e}");
                    return;
                }
            }
        }
    }

    fn refuse(&mut self, kind: Kind, mut stream: TcpStream) {
        if kind == Kind::Wire {
            self.wire.rejected();
        }
        let _ = stream.write(refusal(kind, self.stopping));
    }
}
