//! `red doctor`: a health probe for scripts and container/systemd
//! healthchecks. It asks `GET /health` and exits 0 only when the server
//! answers `{"status":"ok"}` (and, with `--require-unsealed`, is unsealed).
//! It sends no credentials and prints one line.

use super::args::Flags;
use crate::error::{exit_code, Error, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

pub const HELP: &str = "red doctor --bind ADDR [--timeout SECONDS] [--require-unsealed]

Probes the server's HTTP API at ADDR (e.g. 127.0.0.1:5000) with GET /health.
Exit 0: healthy (the reply is printed as one line). Exit 24: unreachable,
timed out, an unexpected reply, or sealed with --require-unsealed.";

/// Largest reply read from /health.
const MAX_REPLY: u64 = 64 * 1024;

pub fn run(args: &[String]) -> Result<i32> {
    let flags = Flags::parse(args, &["bind", "timeout"], &["require-unsealed"])?;
    let bind = flags.required("bind")?;
    let timeout = match flags.value("timeout") {
        None => Duration::from_secs(3),
        Some(v) => match v.parse::<u64>() {
            Ok(s) if (1..=300).contains(&s) => Duration::from_secs(s),
            _ => {
                return Err(Error::Usage(format!(
                    "--timeout '{v}': use 1 to 300 seconds"
                )))
            }
        },
    };
    let addr: SocketAddr = bind
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--bind '{bind}' is not an address like 127.0.0.1:5000"
            ))
        })?;
    match probe(addr, timeout) {
        Ok(health) => {
            let sealed = health
                .get("sealed")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(true);
            let bootstrapped = health
                .get("bootstrapped")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            if health.get("status").and_then(serde_json::Value::as_str) != Some("ok") {
                println!("unhealthy: {addr} answered {health}");
                return Ok(exit_code::UNHEALTHY);
            }
            if sealed && flags.on("require-unsealed") {
                println!("unhealthy: {addr} is sealed (bootstrapped: {bootstrapped})");
                return Ok(exit_code::UNHEALTHY);
            }
            println!("healthy: {addr} sealed={sealed} bootstrapped={bootstrapped}");
            Ok(exit_code::OK)
        }
        Err(reason) => {
            println!("unhealthy: {addr}: {reason}");
            Ok(exit_code::UNHEALTHY)
        }
    }
}

fn probe(addr: SocketAddr, timeout: Duration) -> std::result::Result<serde_json::Value, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("cannot connect: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: red-doctor\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("cannot send: {e}"))?;
    let mut reply = Vec::new();
    s.take(MAX_REPLY)
        .read_to_end(&mut reply)
        .map_err(|e| format!("no reply: {e}"))?;
    let text = String::from_utf8_lossy(&reply);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("not an HTTP reply")?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("HTTP status {status}"));
    }
    serde_json::from_str(body).map_err(|_| "the reply is not JSON".to_string())
}
