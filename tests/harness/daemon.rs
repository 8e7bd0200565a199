//! The real `red server`, started with exactly the arguments and
//! environment a test gives it, on free loopback ports (HTTP and wire), as
//! root or as `nobody`; stopped, signalled, killed and started again on the
//! same file. A [`Daemon`] is also the way to its HTTP API ([`Daemon::call`]
//! and friends) and its wire port ([`Daemon::client`]).
//!
//! A server counts as started once its own stderr names both of its own
//! addresses and `/health` answers 200: a port picked free a moment ago may
//! have been taken by another test's server, which would answer `/health`
//! just the same. A lost race for a port (`cannot listen`) is retried on new
//! ports.
//!
//! Everything is bounded in time ([`START_TIMEOUT`], [`STOP_TIMEOUT`], the
//! sockets' [`IO_TIMEOUT`]), and a [`Daemon`] kills its child in `Drop`, so
//! a failing test can never leave a server running or hang the suite.

use super::http::{Conn, Resp};
use super::secrets::is_lower_hex;
use super::wire::Client;
use super::{free_port, IO_TIMEOUT, NOBODY, RED};
use serde_json::Value as Json;
use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to serve after spawning.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a server may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// How many times a start is retried after losing a port to another test.
const PORT_ATTEMPTS: usize = 5;

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "change-me-now";

static STARTS: AtomicUsize = AtomicUsize::new(0);

/// What to start a server with, besides `--path` and the two bind flags.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub args: Vec<String>,
    /// The child's whole environment (nothing is inherited).
    pub env: Vec<(String, String)>,
    /// Run as uid/gid [`NOBODY`] (std's `Command::uid`, which also clears
    /// the supplementary groups).
    pub nobody: bool,
    /// Raise `RLIMIT_MEMLOCK` to unlimited for the server (needs root, or
    /// `CAP_SYS_RESOURCE`, when this process's limit is finite).
    pub unlimited_memlock: bool,
}

impl Options {
    pub fn new() -> Self {
        Self::default()
    }

    /// `--dev`: bootstrap a fresh file and print the admin's API key and
    /// password, or unseal from `FILE.cert`.
    pub fn dev() -> Self {
        Self::new().arg("--dev")
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<str>) -> Self {
        self.env.push((k.to_string(), v.as_ref().to_string()));
        self
    }

    pub fn certificate(self, cert: &str) -> Self {
        self.env("REDDB_CERTIFICATE", cert)
    }

    /// `RED_ADMIN_TOKEN`: the static admin token.
    pub fn admin_token(self, token: &str) -> Self {
        self.env("RED_ADMIN_TOKEN", token)
    }

    pub fn run_as_nobody(mut self) -> Self {
        self.nobody = true;
        self
    }

    pub fn unlimited_memlock(mut self) -> Self {
        self.unlimited_memlock = true;
        self
    }
}

/// A server that exited before it served.
#[derive(Debug)]
pub struct Exited {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// What `red server --dev` printed at its first start.
#[derive(Debug, Clone)]
pub struct DevLogin {
    pub api_key: String,
    pub admin_password: String,
}

/// A `red server` on one database file; killed (SIGKILL) and reaped on
/// drop if still up.
pub struct Daemon {
    child: Option<Child>,
    pub http_port: u16,
    pub wire_port: u16,
    pub db: PathBuf,
    /// What every (re)start uses; a test may change it between starts.
    pub opts: Options,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    /// The logs of the start before this one (kept for a failure message;
    /// older ones are removed, so long runs do not fill the disk).
    previous_logs: Vec<PathBuf>,
    exit_code: Option<i32>,
    dev: Option<DevLogin>,
}

/// The exit code of `status`; a signal's number, negated, when it was killed.
pub fn code_of(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0))
}

fn read_lossy(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

impl Daemon {
    /// Starts a server on `db` and waits until it serves; panics (with the
    /// server's stderr) if it exits or does not come up in time.
    pub fn start(db: &Path, opts: &Options) -> Daemon {
        Self::try_start(db, opts).unwrap_or_else(|e| {
            panic!(
                "red server exited with code {} before serving; stderr:\n{}",
                e.code, e.stderr
            )
        })
    }

    /// Like [`Daemon::start`], but an early exit is returned, not a panic.
    pub fn try_start(db: &Path, opts: &Options) -> Result<Daemon, Exited> {
        let mut d = Self::spawn(db, opts);
        d.ready_or_retry()?;
        Ok(d)
    }

    /// `red server --dev` on a fresh `dir/data.rdb` with `extra` arguments;
    /// the admin's API key and password are read from what it printed.
    pub fn start_dev(dir: &Path, extra: &[&str]) -> Daemon {
        let d = Self::start(&dir.join("data.rdb"), &Options::dev().args(extra));
        assert!(
            d.dev.is_some(),
            "no api key in the --dev output: {}",
            d.stdout()
        );
        d
    }

    /// Spawns a server on `db` without waiting for it to serve (see
    /// [`Daemon::wait_ready`]).
    pub fn spawn(db: &Path, opts: &Options) -> Daemon {
        let mut d = Daemon {
            child: None,
            http_port: 0,
            wire_port: 0,
            db: db.to_path_buf(),
            opts: opts.clone(),
            stdout_path: PathBuf::new(),
            stderr_path: PathBuf::new(),
            previous_logs: Vec::new(),
            exit_code: None,
            dev: None,
        };
        d.launch();
        d
    }

    /// Spawns the child on new ports with `self.opts`.
    fn launch(&mut self) {
        assert!(
            self.child.is_none() || self.exit_code.is_some(),
            "a server is already running on {}",
            self.db.display()
        );
        for old in std::mem::take(&mut self.previous_logs) {
            let _ = std::fs::remove_file(old);
        }
        if self.child.is_some() {
            self.previous_logs = vec![self.stdout_path.clone(), self.stderr_path.clone()];
        }
        let n = STARTS.fetch_add(1, Ordering::SeqCst);
        let dir = self
            .db
            .parent()
            .expect("the database has a parent directory");
        let tag = format!("{}-{n}", std::process::id());
        self.stdout_path = dir.join(format!("server-{tag}.stdout"));
        self.stderr_path = dir.join(format!("server-{tag}.stderr"));
        self.http_port = free_port();
        self.wire_port = free_port();
        let mut cmd = Command::new(RED);
        cmd.arg("server")
            .arg("--path")
            .arg(&self.db)
            .arg("--http-bind")
            .arg(format!("127.0.0.1:{}", self.http_port))
            // Never the default 127.0.0.1:5050, which parallel tests would
            // share.
            .arg("--wire-bind")
            .arg(format!("127.0.0.1:{}", self.wire_port))
            .args(&self.opts.args)
            .env_clear()
            .envs(self.opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(File::create(&self.stdout_path).expect("create the stdout file"))
            .stderr(File::create(&self.stderr_path).expect("create the stderr file"));
        if self.opts.nobody {
            cmd.uid(NOBODY).gid(NOBODY);
        }
        if self.opts.unlimited_memlock {
            // SAFETY: the closure runs in the child between fork and exec
            // and calls only setrlimit, which is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    let unlimited = libc::rlimit {
                        rlim_cur: libc::RLIM_INFINITY,
                        rlim_max: libc::RLIM_INFINITY,
                    };
                    if libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        self.child = Some(cmd.spawn().expect("spawn red server"));
        self.exit_code = None;
    }

    /// Waits until the server serves; a lost race for a port is retried on
    /// new ports, any other early exit returned.
    fn ready_or_retry(&mut self) -> Result<(), Exited> {
        let mut attempts = 1;
        loop {
            match self.wait_ready() {
                Err(e) if attempts < PORT_ATTEMPTS && e.stderr.contains("cannot listen") => {
                    attempts += 1;
                    self.launch();
                }
                other => return other,
            }
        }
    }

    /// Waits until this start serves (see the module docs); an exit before
    /// that is returned, a server that neither serves nor exits within
    /// [`START_TIMEOUT`] is killed and the test fails.
    pub fn wait_ready(&mut self) -> Result<(), Exited> {
        let deadline = Instant::now() + START_TIMEOUT;
        let http = format!("listening on http://127.0.0.1:{} ", self.http_port);
        let wire = format!("redis://127.0.0.1:{};", self.wire_port);
        loop {
            if let Some(code) = self.try_exit_code() {
                return Err(Exited {
                    code,
                    stdout: self.stdout(),
                    stderr: self.stderr(),
                });
            }
            let log = self.stderr();
            if log.contains(&http) && log.contains(&wire) && self.health_is_ok() {
                if self.dev.is_none() {
                    self.dev = self.dev_login();
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!(
                    "red server did not serve within {START_TIMEOUT:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn health_is_ok(&self) -> bool {
        Conn::try_open(self.http_port, Duration::from_millis(500))
            .and_then(|mut c| c.try_request("GET", "/health", &[], None))
            .is_ok_and(|r| r.status == 200)
    }

    fn dev_login(&self) -> Option<DevLogin> {
        let out = self.stdout();
        let line = |prefix: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .map(|v| v.trim().to_string())
        };
        let api_key = line("api key: ")?;
        assert!(api_key.starts_with("rdb_k_"), "api key shape: {out}");
        Some(DevLogin {
            api_key,
            admin_password: line("admin password: ").unwrap_or_default(),
        })
    }

    /// SIGTERM, a clean exit, then a new start on the same file (new ports).
    pub fn restart(&mut self) {
        let code = self.stop();
        assert_eq!(code, 0, "clean stop; stderr:\n{}", self.stderr());
        self.start_again();
    }

    /// Starts again on the same file after the server exited (a stop, a
    /// kill, a refusal); panics when it does not serve.
    pub fn start_again(&mut self) {
        if let Err(e) = self.try_start_again() {
            panic!(
                "red server exited with code {} before serving; stderr:\n{}",
                e.code, e.stderr
            );
        }
    }

    /// Like [`Daemon::start_again`], an early exit returned.
    pub fn try_start_again(&mut self) -> Result<(), Exited> {
        self.spawn_again();
        self.ready_or_retry()
    }

    /// Spawns again on the same file without waiting for it to serve.
    pub fn spawn_again(&mut self) {
        assert!(
            self.try_exit_code().is_some(),
            "the server is still running"
        );
        self.launch();
    }

    pub fn pid(&self) -> i32 {
        let child = self.child.as_ref().expect("the server was started");
        i32::try_from(child.id()).expect("pid fits in i32")
    }

    /// Sends `sig` to the server.
    pub fn signal(&self, sig: i32) {
        assert!(
            self.exit_code.is_none(),
            "signal {sig} sent to a server that already exited"
        );
        // SAFETY: kill(2) on the pid of a child we have not reaped yet (so
        // the pid cannot have been reused).
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// The exit code if the server has exited (negative: killed by signal).
    pub fn try_exit_code(&mut self) -> Option<i32> {
        if self.exit_code.is_none() {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.exit_code = Some(code_of(status));
                }
            }
        }
        self.exit_code
    }

    pub fn is_running(&mut self) -> bool {
        self.try_exit_code().is_none()
    }

    /// Waits up to `timeout` for the server to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.try_exit_code() {
                return Some(c);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit code; panics (after SIGKILL) if the server is
    /// still up after [`STOP_TIMEOUT`].
    pub fn stop(&mut self) -> i32 {
        if let Some(c) = self.try_exit_code() {
            return c;
        }
        self.signal(libc::SIGTERM);
        match self.wait_exit(STOP_TIMEOUT) {
            Some(c) => c,
            None => {
                self.kill();
                panic!(
                    "red server still running {STOP_TIMEOUT:?} after SIGTERM; stderr:\n{}",
                    self.stderr()
                );
            }
        }
    }

    /// `kill -9` and reap. `Err` when the server had already exited by
    /// itself, or exited some other way before the SIGKILL landed.
    pub fn kill9(&mut self) -> Result<(), String> {
        if let Some(code) = self.try_exit_code() {
            return Err(format!(
                "the server had already exited ({code}) before the kill; stderr:\n{}",
                self.stderr()
            ));
        }
        self.signal(libc::SIGKILL);
        let child = self.child.as_mut().expect("started");
        let status = child.wait().expect("reap the server");
        self.exit_code = Some(code_of(status));
        match status.signal() {
            Some(libc::SIGKILL) => Ok(()),
            _ => Err(format!(
                "the server exited with {status:?} before the SIGKILL landed; stderr:\n{}",
                self.stderr()
            )),
        }
    }

    fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if self.exit_code.is_none() {
                let _ = child.kill();
                if let Ok(status) = child.wait() {
                    self.exit_code = Some(code_of(status));
                }
            }
        }
    }

    /// Everything this start wrote to stderr so far.
    pub fn stderr(&self) -> String {
        read_lossy(&self.stderr_path)
    }

    /// Everything this start wrote to stdout so far.
    pub fn stdout(&self) -> String {
        read_lossy(&self.stdout_path)
    }

    /// The admin API key a `--dev` start printed.
    pub fn api_key(&self) -> &str {
        &self.dev_login_or_panic().api_key
    }

    /// The admin password a `--dev` start printed.
    pub fn admin_password(&self) -> &str {
        &self.dev_login_or_panic().admin_password
    }

    fn dev_login_or_panic(&self) -> &DevLogin {
        self.dev
            .as_ref()
            .expect("not a --dev server: no API key was printed")
    }

    // -- HTTP ---------------------------------------------------------------

    pub fn conn(&self) -> Conn {
        Conn::open(self.http_port)
    }

    /// One request on its own connection.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Json>,
    ) -> Resp {
        self.conn().call(method, path, bearer, body)
    }

    pub fn get(&self, path: &str, bearer: Option<&str>) -> Resp {
        self.call("GET", path, bearer, None)
    }

    pub fn post(&self, path: &str, bearer: Option<&str>, body: &Json) -> Resp {
        self.call("POST", path, bearer, Some(body))
    }

    pub fn delete(&self, path: &str, bearer: Option<&str>) -> Resp {
        self.call("DELETE", path, bearer, None)
    }

    /// Asserts `/health` answers 200 on a new connection.
    pub fn assert_healthy(&self, context: &str) {
        let r = Conn::try_open(self.http_port, IO_TIMEOUT)
            .and_then(|mut c| c.try_request("GET", "/health", &[], None))
            .unwrap_or_else(|e| {
                panic!(
                    "after {context}: /health failed: {e}; stderr:\n{}",
                    self.stderr()
                )
            });
        assert_eq!(r.status, 200, "after {context}: /health: {}", r.text());
        assert_eq!(r.json()["status"], "ok", "after {context}");
    }

    /// `POST PATH {"value": VALUE}`: write a secret or a config value,
    /// rotate a secret.
    pub fn post_value(&self, path: &str, bearer: &str, value: &str) -> Resp {
        self.post(path, Some(bearer), &serde_json::json!({ "value": value }))
    }

    /// `POST /auth/users` of a user with `role`.
    pub fn create_user(&self, bearer: &str, name: &str, password: &str, role: &str) -> Resp {
        self.post(
            "/auth/users",
            Some(bearer),
            &serde_json::json!({"username": name, "password": password, "role": role}),
        )
    }

    /// `POST /auth/users/USER/password` with `body` (the new password, and
    /// the current one when a user changes its own).
    pub fn set_password(&self, bearer: &str, user: &str, body: &Json) -> Resp {
        self.post(&format!("/auth/users/{user}/password"), Some(bearer), body)
    }

    /// `POST /auth/api-keys` with `body` (`label`, `owner`), asserted to
    /// succeed.
    pub fn mint_api_key(&self, bearer: &str, body: &Json, context: &str) -> MintedKey {
        let json = self.post("/auth/api-keys", Some(bearer), body).ok(context);
        MintedKey {
            token: json["api_key"].as_str().expect("api_key").to_string(),
            id: json["key"]["id"].as_str().expect("key id").to_string(),
            json,
        }
    }

    /// `POST /policies/POLICY/attach` to `member` (`{"user": ...}` or
    /// `{"group": ...}`).
    pub fn attach_policy(&self, bearer: &str, policy: &str, member: &Json) -> Resp {
        self.post(&format!("/policies/{policy}/attach"), Some(bearer), member)
    }

    /// `POST /policies/POLICY/detach` from `member`.
    pub fn detach_policy(&self, bearer: &str, policy: &str, member: &Json) -> Resp {
        self.post(&format!("/policies/{policy}/detach"), Some(bearer), member)
    }

    /// `PUT` with a raw body (policy documents go over the wire byte for
    /// byte).
    pub fn put_raw(&self, path: &str, bearer: &str, body: &str) -> Resp {
        let auth = format!("Bearer {bearer}");
        self.conn()
            .try_request(
                "PUT",
                path,
                &[("Authorization", auth.as_str())],
                Some(body.as_bytes()),
            )
            .expect("PUT")
    }

    /// `POST /auth/bootstrap` with the default admin.
    pub fn bootstrap(&self) -> Boot {
        let r = self.post(
            "/auth/bootstrap",
            None,
            &serde_json::json!({"username": ADMIN_USER, "password": ADMIN_PASSWORD}),
        );
        assert_eq!(r.status, 200, "bootstrap: {}", r.text());
        Boot::from_json(&r.json())
    }

    /// `POST /auth/login`.
    pub fn login(&self, user: &str, password: &str) -> Resp {
        self.post(
            "/auth/login",
            None,
            &serde_json::json!({"username": user, "password": password}),
        )
    }

    // -- wire ---------------------------------------------------------------

    /// An unauthenticated wire connection.
    pub fn client(&self) -> Client {
        Client::connect(self.wire_port)
    }

    /// A wire connection on which `AUTH ARGS...` succeeded.
    pub fn client_authed(&self, auth: &[&str]) -> Client {
        Client::authed(self.wire_port, auth)
    }

    /// A wire connection authenticated with the `--dev` admin API key.
    pub fn authed(&self) -> Client {
        self.client_authed(&[self.api_key()])
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An API key as `POST /auth/api-keys` returned it.
#[derive(Debug, Clone)]
pub struct MintedKey {
    /// The `rdb_k_...` token (shown this once).
    pub token: String,
    pub id: String,
    /// The whole answer.
    pub json: Json,
}

/// What `POST /auth/bootstrap` returned.
#[derive(Debug, Clone)]
pub struct Boot {
    pub api_key: String,
    pub certificate: String,
}

impl Boot {
    pub fn from_json(j: &Json) -> Boot {
        assert_eq!(j["ok"], true, "{j}");
        assert_eq!(j["user"]["username"], ADMIN_USER, "{j}");
        assert_eq!(j["user"]["role"], "admin", "{j}");
        let api_key = j["api_key"].as_str().expect("api_key").to_string();
        let certificate = j["certificate"].as_str().expect("certificate").to_string();
        assert!(
            api_key.starts_with("rdb_k_") && is_lower_hex(&api_key[6..], 32),
            "api key shape"
        );
        assert!(is_lower_hex(&certificate, 64), "certificate shape");
        Boot {
            api_key,
            certificate,
        }
    }
}

/// A database at `db` bootstrapped over HTTP by a server that then stopped
/// cleanly: what the bootstrap returned.
pub fn bootstrapped_file(db: &Path) -> Boot {
    let mut d = Daemon::start(db, &Options::new());
    let boot = d.bootstrap();
    assert_eq!(d.stop(), 0, "a clean stop after the bootstrap");
    boot
}

/// A fresh database in `dir`, served and bootstrapped over HTTP (the server
/// is unsealed in place; no restart).
pub fn fresh_bootstrapped(dir: &Path, opts: &Options) -> (Daemon, Boot) {
    let d = Daemon::start(&dir.join("data.rdb"), opts);
    let boot = d.bootstrap();
    (d, boot)
}

impl Daemon {
    /// Runs a real client program (`cmd args…`: redis-py, ioredis, rq…)
    /// against this server and returns its standard output, after printing
    /// it. Fails, with the client's output and the server's log, unless the
    /// program exits 0 within `timeout` and prints `expect`.
    pub fn run_client_program(
        &self,
        cmd: &str,
        args: &[&str],
        timeout: std::time::Duration,
        expect: &str,
    ) -> String {
        let started = std::time::Instant::now();
        let out = super::cli::program(cmd, args).timeout(timeout).run();
        eprintln!("{}", out.stdout);
        assert!(
            out.success() && out.stdout.contains(expect),
            "{cmd} {args:?} failed after {:?} (or did not print {expect:?}):\n{}\n{}\nserver stderr:\n{}",
            started.elapsed(),
            out.stdout,
            out.stderr,
            self.stderr()
        );
        out.stdout
    }
}
