//! Listening sockets: received from systemd socket activation
//! (`LISTEN_FDS`, named by `FileDescriptorName=`: `http`, `wire`) or bound
//! here. Socket activation lets the unit run with `PrivateNetwork=yes`:
//! the process then has no network of its own, only the sockets systemd
//! handed it.

use reddb_storage::error::{Error, Result};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::io::FromRawFd;

pub struct Listeners {
    pub http: TcpListener,
    /// The Redis-compatible wire protocol; `None` when socket activation
    /// passed no `wire` socket.
    pub wire: Option<TcpListener>,
}

fn is_listening_stream(fd: i32) -> bool {
    let mut val: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes one c_int into `val`, whose size we pass.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut val as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc == 0 && val == 1
}

/// Takes the sockets systemd passed, or binds `http_bind` and `wire_bind`.
pub fn open(http_bind: SocketAddr, wire_bind: SocketAddr) -> Result<Listeners> {
    let passed: Vec<(i32, String)> = sd_notify::listen_fds_with_names()
        .map_err(|e| Error::Usage(format!("invalid socket activation variables: {e}")))?
        .collect();
    if !passed.is_empty() {
        let mut http = None;
        let mut wire = None;
        for (fd, name) in passed {
            if !is_listening_stream(fd) {
                return Err(Error::Usage(format!(
                    "socket-activated fd {fd} ('{name}') is not a listening stream socket"
                )));
            }
            // SAFETY: systemd passed this descriptor to this process for it to
            // own (LISTEN_PID matched); nothing else in the process uses it.
            let listener = unsafe { TcpListener::from_raw_fd(fd) };
            match name.as_str() {
                "http" | "unknown" | "" if http.is_none() => http = Some(listener),
                "wire" if wire.is_none() => wire = Some(listener),
                other => reddb_storage::log_warn!("ignoring socket-activated fd named '{other}'"),
            }
        }
        let http =
            http.ok_or_else(|| Error::Usage("socket activation passed no 'http' socket".into()))?;
        if wire.is_none() {
            reddb_storage::log_notice!(
                "socket activation passed no 'wire' socket: the Redis-compatible protocol is off"
            );
        }
        return Ok(Listeners { http, wire });
    }
    let http = TcpListener::bind(http_bind)
        .map_err(|e| Error::io(format!("cannot listen on {http_bind} (HTTP)"), e))?;
    let wire = TcpListener::bind(wire_bind)
        .map_err(|e| Error::io(format!("cannot listen on {wire_bind} (wire protocol)"), e))?;
    Ok(Listeners {
        http,
        wire: Some(wire),
    })
}
