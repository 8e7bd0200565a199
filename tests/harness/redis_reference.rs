//! A real `redis-server` to compare `red` with: [`Reference`] starts one on
//! a free loopback port (no persistence, killed on drop), and
//! [`SideBySide`] pairs it with a `--dev` red, one client on each, for the
//! tests that send both the same commands (`wire_command_table.rs`,
//! `wire_differential.rs`).

use super::cli::{need, program, Running};
use super::daemon::Daemon;
use super::wire::{Client, Value};
use std::time::Duration;

/// A real redis-server on a free loopback port, killed on drop.
pub struct Reference {
    _server: Running,
    _dir: tempfile::TempDir,
    pub port: u16,
}

impl Reference {
    /// Its `--dir`: where `SAVE` writes `dump.rdb`.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn start() -> Reference {
        Self::start_with(&[])
    }

    /// One that asks clients for `password` (`--requirepass`), as red asks
    /// for a credential.
    pub fn start_with_password(password: &str) -> Reference {
        Self::start_with(&["--requirepass", password])
    }

    /// One started with `extra` arguments after the usual ones.
    pub fn start_with(extra: &[&str]) -> Reference {
        let dir = super::tmp();
        let port = super::free_port();
        let port_text = port.to_string();
        let dir_text = dir.path().to_string_lossy().into_owned();
        let mut args = vec![
            "--port",
            port_text.as_str(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir_text.as_str(),
            // Blocked clients time out at the next of its clock ticks: a
            // 10 ms BLPOP answers in about 10 ms instead of 100.
            "--hz",
            "100",
        ];
        args.extend_from_slice(extra);
        let server = program("redis-server", &args)
            .timeout(Duration::from_secs(600))
            .spawn();
        let up = super::wait_until(Duration::from_secs(30), || {
            Client::try_connect(port, Duration::from_secs(2))
                .and_then(|mut c| c.try_cmd(&["PING"]))
                .is_ok_and(|v| match v {
                    Value::Simple(pong) => pong == b"PONG",
                    Value::Error(e) => e.starts_with(b"NOAUTH"),
                    _ => false,
                })
        });
        assert!(up, "redis-server did not answer PING on port {port}");
        Reference {
            _server: server,
            _dir: dir,
            port,
        }
    }
}

/// A real redis-server and a `--dev` red, each with a client (red's
/// authenticated with the dev API key, both RESP2); `None` (after `need`
/// printed why) when redis-server is missing and not required.
pub struct SideBySide {
    pub red: Client,
    pub redis: Client,
    // Kept for their `Drop`: the servers stop and the directory goes.
    _daemon: Daemon,
    _dir: tempfile::TempDir,
    _reference: Reference,
}

impl SideBySide {
    /// Another connection to red, authenticated like `red`.
    pub fn red_conn(&self) -> Client {
        self._daemon.authed()
    }

    /// Another connection to redis-server.
    pub fn redis_conn(&self) -> Client {
        Client::connect(self._reference.port)
    }

    pub fn start() -> Option<Self> {
        if !need("redis-server", "redis-server", &["--version"]) {
            return None;
        }
        let reference = Reference::start();
        let redis = Client::connect(reference.port);
        let dir = super::tmp();
        let daemon = Daemon::start_dev(dir.path(), &[]);
        let red = daemon.authed();
        Some(Self {
            red,
            redis,
            _daemon: daemon,
            _dir: dir,
            _reference: reference,
        })
    }
}
