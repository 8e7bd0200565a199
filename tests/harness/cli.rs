//! Running `red <subcommand>`, and the other programs the tests drive
//! (`curl`, `promtool`, `python3`, `redis-cli`, `sh`), to completion or in
//! the background: exactly the environment a test gives `red` (nothing
//! inherited, so a stray `REDDB_CERTIFICATE` or `CREDENTIALS_DIRECTORY` of
//! the developer's shell cannot change a result), standard input from a
//! pipe, optionally as `nobody` or with `LISTEN_PID` naming the process
//! itself (systemd socket activation), and always under a deadline.

use super::secrets::redact;
use super::{NOBODY, RED};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a run may take unless the test says otherwise.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// A command to run: see [`red`] and [`program`].
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    inherit_env: bool,
    stdin: Option<Vec<u8>>,
    nobody: bool,
    listen_pid_is_self: bool,
    timeout: Duration,
}

/// `red ARGS` with an empty environment.
pub fn red<S: AsRef<OsStr>>(args: &[S]) -> Cmd {
    Cmd {
        program: RED.into(),
        args: args.iter().map(|a| a.as_ref().to_owned()).collect(),
        env: Vec::new(),
        inherit_env: false,
        stdin: None,
        nobody: false,
        listen_pid_is_self: false,
        timeout: RUN_TIMEOUT,
    }
}

/// Another program, found on `PATH`, with this process's environment.
pub fn program<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Cmd {
    Cmd {
        program: name.into(),
        inherit_env: true,
        ..red(args)
    }
}

/// `red bootstrap --path DB --vault --username USER`: the password source
/// and where the certificate goes are the caller's to add.
pub fn bootstrap_cmd(db: impl AsRef<std::path::Path>, username: &str) -> Cmd {
    red(&["bootstrap"])
        .arg("--path")
        .arg(db.as_ref())
        .args(&["--vault", "--username", username])
}

/// A database bootstrapped by `red bootstrap`.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    pub certificate: String,
    pub api_key: String,
}

/// `red bootstrap --vault --password PASSWORD --print-certificate` into
/// `db`; its certificate and API key.
pub fn bootstrap(db: &std::path::Path, username: &str, password: &str) -> Bootstrapped {
    let out = bootstrap_cmd(db, username)
        .args(&["--password", password, "--print-certificate"])
        .run();
    assert_eq!(
        out.code,
        0,
        "red bootstrap failed: {}",
        redact(&out.stderr, &[password])
    );
    Bootstrapped {
        certificate: out.line_value("certificate: "),
        api_key: out.line_value("api key: "),
    }
}

/// A database bootstrapped by `red bootstrap` in a temporary directory of
/// its own (removed on drop).
pub struct BootstrappedDir {
    pub dir: tempfile::TempDir,
    pub db: std::path::PathBuf,
    pub certificate: String,
    pub api_key: String,
}

impl BootstrappedDir {
    /// The database path as text (for argument lists).
    pub fn path(&self) -> &str {
        self.db.to_str().expect("UTF-8 temp path")
    }
}

/// [`bootstrap`] of `DIR/data.rdb` in a new temporary directory.
pub fn bootstrap_in_tmp(username: &str, password: &str) -> BootstrappedDir {
    let dir = super::tmp();
    let db = dir.path().join("data.rdb");
    let boot = bootstrap(&db, username, password);
    BootstrappedDir {
        dir,
        db,
        certificate: boot.certificate,
        api_key: boot.api_key,
    }
}

impl Cmd {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Self {
        self.args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Adds one variable to the child's environment.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(mut self, pairs: &[(K, V)]) -> Self {
        for (k, v) in pairs {
            self = self.env(k, v);
        }
        self
    }

    /// Standard input: these bytes through a pipe, then end of file
    /// (otherwise `/dev/null`).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Run as uid/gid [`NOBODY`] (std's `Command::uid`, which also clears
    /// the supplementary groups).
    pub fn run_as_nobody(mut self) -> Self {
        self.nobody = true;
        self
    }

    /// Run through `sh`, which sets `LISTEN_PID` to its own pid and `exec`s
    /// the program, so that `LISTEN_PID` names the program itself, with
    /// descriptor 3 (the first one socket activation hands over) open on
    /// `/dev/null`: a descriptor that is there but is not a socket.
    pub fn listen_pid_is_self(mut self) -> Self {
        self.listen_pid_is_self = true;
        self
    }

    /// Kill the run after `timeout` (see [`Output::timed_out`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn command(&self, stdout: &File, stderr: &File) -> Command {
        let mut cmd = if self.listen_pid_is_self {
            let mut cmd = Command::new("/bin/sh");
            cmd.arg("-c")
                .arg("LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\" 3</dev/null")
                .arg(&self.program);
            cmd
        } else {
            Command::new(&self.program)
        };
        cmd.args(&self.args);
        if !self.inherit_env {
            cmd.env_clear();
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(stdout.try_clone().expect("dup stdout file"))
            .stderr(stderr.try_clone().expect("dup stderr file"));
        if self.nobody {
            cmd.uid(NOBODY).gid(NOBODY);
        }
        cmd
    }

    fn start(&self, keep_stdin_open: bool) -> std::io::Result<Running> {
        let stdout = tempfile::tempfile().expect("stdout file");
        let stderr = tempfile::tempfile().expect("stderr file");
        let mut cmd = self.command(&stdout, &stderr);
        let piped = keep_stdin_open || self.stdin.is_some();
        cmd.stdin(if piped { Stdio::piped() } else { Stdio::null() });
        let mut child = cmd.spawn()?;
        let mut stdin = child.stdin.take();
        if let Some(bytes) = self.stdin.clone() {
            let mut pipe = stdin.take().expect("stdin pipe");
            // The program may exit before reading everything (EPIPE is
            // fine), and a large input must not block this thread.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        Ok(Running {
            child,
            stdin,
            stdout,
            stderr,
            timeout: self.timeout,
        })
    }

    /// Runs to completion (or to the deadline, when it is killed).
    pub fn run(self) -> Output {
        self.try_run()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.program))
    }

    /// Like [`Cmd::run`]; `Err` when the program cannot be started (it is
    /// not installed).
    pub fn try_run(&self) -> std::io::Result<Output> {
        Ok(self.start(false)?.finish())
    }

    /// Starts in the background with standard input held open (a password
    /// prompt blocks until the handle is dropped, which kills the child).
    pub fn spawn(self) -> Running {
        self.start(true)
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.program))
    }
}

/// A child started by [`Cmd::spawn`]; killed and reaped on drop.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: File,
    stderr: File,
    timeout: Duration,
}

impl Running {
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits in i32")
    }

    /// Whether the child has exited.
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the exit (until the deadline, then kills) and returns
    /// what it printed.
    pub fn wait(self) -> Output {
        self.finish()
    }

    /// Sends `sig` to the child (which has not been reaped, so the pid is
    /// still its own).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child we have not reaped yet.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Waits for the exit until the deadline, then kills.
    fn finish(mut self) -> Output {
        let deadline = Instant::now() + self.timeout;
        let mut timed_out = false;
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                let _ = self.child.kill();
                break self.child.wait().expect("reap the child");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        drop(self.stdin.take());
        let read = |f: &mut File| {
            let mut buf = Vec::new();
            f.rewind().expect("rewind an output file");
            f.read_to_end(&mut buf).expect("read an output file");
            String::from_utf8_lossy(&buf).into_owned()
        };
        Output {
            code: super::daemon::code_of(status),
            timed_out,
            stdout: read(&mut self.stdout),
            stderr: read(&mut self.stderr),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// The exit code; a signal's number, negated, when it was killed.
    pub code: i32,
    /// Killed at the deadline (then `code` is `-SIGKILL`).
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// The rest of the first stdout line that starts with `prefix`, trimmed;
    /// panics when there is none.
    pub fn line_value(&self, prefix: &str) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| {
                panic!(
                    "no '{prefix}' line in the output: {}",
                    redact(&self.stdout, &[])
                )
            })
            .trim()
            .to_string()
    }

    /// Exit code, stdout and stderr for a failure message, with `secrets`
    /// and long hex runs redacted.
    pub fn describe(&self, secrets: &[&str]) -> String {
        format!(
            "exit {}{}\nstdout: {}\nstderr: {}",
            self.code,
            if self.timed_out { " (timed out)" } else { "" },
            redact(&self.stdout, secrets),
            redact(&self.stderr, secrets)
        )
    }
}

/// Whether a missing client or reference server fails the test instead of
/// skipping it: `REDDB_REQUIRE_CLIENTS` is set (CI sets it after installing
/// them, see `.ci/run`).
pub fn clients_required() -> bool {
    std::env::var_os("REDDB_REQUIRE_CLIENTS").is_some_and(|v| !v.is_empty())
}

/// Whether `what` is usable (`cmd args…` succeeds): when not, the test
/// says it is skipped, or fails under `REDDB_REQUIRE_CLIENTS`.
pub fn need(what: &str, cmd: &str, args: &[&str]) -> bool {
    let runs = program(cmd, args)
        .timeout(Duration::from_secs(60))
        .try_run()
        .is_ok_and(|out| out.success());
    if runs {
        return true;
    }
    assert!(
        !clients_required(),
        "{what} is not available but REDDB_REQUIRE_CLIENTS is set (install it: see .ci/run)"
    );
    eprintln!(
        "SKIPPED: {what} is not installed (`{cmd} {}` failed); set REDDB_REQUIRE_CLIENTS=1 to make this a failure",
        args.join(" ")
    );
    false
}
