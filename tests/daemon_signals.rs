//! Proves the daemon's process contract with the real `red server`: SIGHUP
//! rotates the admin token from `RED_ADMIN_TOKEN_FILE` in place (old token
//! refused, new one accepted), while an empty, whitespace-only or deleted
//! file keeps the current token and logs an error naming the variable but
//! never a token or path, without the process ever dying; a token shorter
//! than 32 characters is refused on SIGHUP the same way (and at start from
//! every source: `tests/bad_input_env.rs`, exit 27); the sd_notify
//! protocol (`READY=1` + `STATUS=` after start, `RELOADING=1` +
//! `MONOTONIC_USEC=` then `READY=1` on SIGHUP, `STOPPING=1` on SIGTERM, in
//! that order, and `WATCHDOG=1` pings only when `WATCHDOG_USEC` is meant for
//! this process); SIGTERM while Argon2 logins run on the worker pool still
//! answers them (200) and exits 0; and `/proc/PID/environ` of the running
//! server holds neither a secret value nor a `_FILE` path.

mod harness;

use harness::daemon::{
    bootstrapped_file, fresh_bootstrapped, Daemon, Options, ADMIN_PASSWORD, ADMIN_USER,
};
use harness::http::{request_bytes, Conn};
use harness::secrets::contains;
use harness::tmp;
use harness::wait_until;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn status_with(d: &Daemon, token: &str) -> u16 {
    d.get("/auth/users", Some(token)).status
}

/// A bootstrapped server in `dir` whose admin token is read from the file
/// `dir/NAME`, which holds `token`; the file's path.
fn with_token_file(dir: &Path, name: &str, token: &str) -> (Daemon, PathBuf) {
    let file = dir.join(name);
    std::fs::write(&file, format!("{token}\n")).expect("write the token file");
    let opts = Options::new().env("RED_ADMIN_TOKEN_FILE", file.to_str().expect("utf-8"));
    let (d, _boot) = fresh_bootstrapped(dir, &opts);
    assert_eq!(
        status_with(&d, token),
        200,
        "the first token works at start"
    );
    (d, file)
}

/// Asserts the server's log holds none of `needles`.
fn assert_log_lacks(d: &Daemon, needles: &[&str]) {
    let log = d.stderr();
    for needle in needles {
        assert!(!log.contains(needle), "stderr shows {needle:?}:\n{log}");
    }
}

/// Writes `content` to `file` (or deletes it), then sends SIGHUP.
fn hup_with(d: &Daemon, file: &Path, content: Option<&str>) {
    match content {
        Some(c) => std::fs::write(file, c).expect("write the token file"),
        None => std::fs::remove_file(file).expect("delete the token file"),
    }
    d.signal(libc::SIGHUP);
}

/// [`hup_with`] `content`, then waits until `token` is accepted.
fn rotate_to(d: &Daemon, file: &Path, content: &str, token: &str) {
    hup_with(d, file, Some(content));
    assert!(
        wait_until(Duration::from_secs(10), || status_with(d, token) == 200),
        "token {token} never took effect; stderr:\n{}",
        d.stderr()
    );
}

/// [`hup_with`] `content` that the server must refuse: it logs more than
/// `n` error lines naming every one of `what` ([`wait_for_errors`]) and
/// keeps running.
fn hup_refused(
    d: &mut Daemon,
    file: &Path,
    content: Option<&str>,
    what: &[&str],
    n: usize,
    context: &str,
) {
    hup_with(d, file, content);
    wait_for_errors(d, what, n, context);
    assert!(d.is_running(), "the server died on {context}");
}

/// Waits until the server has logged more than `n` error lines that name
/// every one of `what`.
fn wait_for_errors(d: &Daemon, what: &[&str], n: usize, context: &str) {
    let count = || {
        d.stderr()
            .lines()
            .filter(|l| l.starts_with("<3>") && what.iter().all(|w| l.contains(w)))
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(10), || count() > n),
        "no error line for {context}; stderr:\n{}",
        d.stderr()
    );
}

#[test]
fn sighup_rotates_the_admin_token_and_survives_bad_files() {
    let dir = tmp();
    let a = "tokA-3f9c1e7b5d2a4c6e8f0a1b3c5d7e";
    let b = "tokB-7e5d3c1b9a8f6e4d2c0b1a9f8e7d";
    let c = "tokC-1a2b3c4d5e6f7a8b9c0d1e2f3a4b";
    let (mut d, token_file) = with_token_file(dir.path(), "admin-token-file-9d2e", a);
    assert_eq!(status_with(&d, b), 401);

    // Rotate to B.
    rotate_to(&d, &token_file, &format!("{b}\n"), b);
    assert_eq!(
        status_with(&d, a),
        401,
        "token A still works after rotation"
    );
    assert!(d.stderr().contains("RED_ADMIN_TOKEN_FILE changed"));

    // Empty, then whitespace-only: keep B, log an error naming the variable.
    for (i, content) in ["", " \n\t\n"].iter().enumerate() {
        let what = &["RED_ADMIN_TOKEN_FILE"];
        hup_refused(
            &mut d,
            &token_file,
            Some(content),
            what,
            i,
            "an empty token file",
        );
        assert_eq!(status_with(&d, b), 200, "B must survive an empty file");
        assert_eq!(status_with(&d, a), 401);
        assert_eq!(status_with(&d, ""), 401);
    }

    // Deleted: keep B, log an error.
    let what = &["RED_ADMIN_TOKEN_FILE"];
    hup_refused(&mut d, &token_file, None, what, 2, "a deleted token file");
    assert_eq!(status_with(&d, b), 200, "B must survive a deleted file");

    // A new file afterwards is picked up again.
    rotate_to(&d, &token_file, c, c);
    assert_eq!(status_with(&d, b), 401);

    assert_log_lacks(&d, &[a, b, c, token_file.to_str().expect("utf-8"), "9d2e"]);
    assert_eq!(d.stop(), 0);
}

/// Issue 13 item 6, on SIGHUP: a new token shorter than 32 characters in
/// the file is refused — the old token keeps working, the short one answers
/// 401, and an error line names the variable and the rule but never the
/// token or the path; a good token afterwards rotates as usual.
#[test]
fn sighup_with_a_short_token_keeps_the_old_one() {
    let dir = tmp();
    let old = "tokOLD-2c4e6a8b0d1f3e5a7c9b1d3f5e7a";
    let short = "tokSHORT-31-characters-exactly!";
    let good = "tokGOOD-8f6e4d2c0b9a7f5e3d1c0b2a4e6f";
    assert_eq!(short.len(), 31);
    let (mut d, token_file) = with_token_file(dir.path(), "admin-token-file-71c4", old);

    // 31 characters, then 31 characters padded with whitespace the trim
    // removes: both refused.
    for (i, content) in [format!("{short}\n"), format!("{short}  \n\t\n")]
        .iter()
        .enumerate()
    {
        let what = &["RED_ADMIN_TOKEN_FILE", "shorter than 32 characters"];
        hup_refused(&mut d, &token_file, Some(content), what, i, "a short token");
        assert_eq!(status_with(&d, old), 200, "the old token must survive");
        assert_eq!(status_with(&d, short), 401, "the short token is refused");
    }

    rotate_to(&d, &token_file, &format!("{good}\n"), good);
    assert_eq!(status_with(&d, old), 401);
    assert_eq!(status_with(&d, short), 401);
    let path = token_file.to_str().expect("utf-8");
    assert_log_lacks(&d, &[old, short, good, path, "71c4"]);
    assert_eq!(d.stop(), 0);
}

/// The other side of the 32-character rule: a token of exactly 32
/// characters starts the server from each source (inline, `_FILE` with
/// trailing whitespace, `$CREDENTIALS_DIRECTORY/admin-token`) and works; an
/// empty inline token still means "no admin token" (a warning, not a
/// refusal).
#[test]
fn an_admin_token_of_32_characters_is_accepted_from_every_source() {
    let dir = tmp();
    let db = dir.path().join("data.rdb");
    let cert = bootstrapped_file(&db).certificate;
    let token = "tok32-0123456789abcdef0123456789";
    assert_eq!(token.len(), 32);
    let token_file = dir.path().join("token-32");
    std::fs::write(&token_file, format!("{token} \n\n")).expect("write token file");
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).expect("mkdir creds");
    std::fs::write(creds.join("certificate"), format!("{cert}\n")).expect("write cert");
    std::fs::write(creds.join("admin-token"), format!("{token}\n")).expect("write token");
    for (what, opts) in [
        (
            "inline",
            Options::new().certificate(&cert).admin_token(token),
        ),
        (
            "_FILE",
            Options::new()
                .certificate(&cert)
                .env("RED_ADMIN_TOKEN_FILE", token_file.to_str().expect("utf-8")),
        ),
        (
            "credential",
            Options::new().env("CREDENTIALS_DIRECTORY", creds.to_str().expect("utf-8")),
        ),
    ] {
        let mut d = Daemon::start(&db, &opts);
        assert_eq!(status_with(&d, token), 200, "{what}: the token works");
        assert_eq!(status_with(&d, &token[..31]), 401, "{what}");
        assert!(!d.stderr().contains(token), "{what}: the log shows it");
        assert_eq!(d.stop(), 0);
    }
    let mut d = Daemon::start(&db, &Options::new().certificate(&cert).admin_token(""));
    assert!(
        d.stderr().contains("RED_ADMIN_TOKEN is not set"),
        "an empty token is 'not set'; stderr:\n{}",
        d.stderr()
    );
    assert_eq!(status_with(&d, ""), 401);
    assert_eq!(d.stop(), 0);
}

/// Datagrams from the server's `NOTIFY_SOCKET`.
struct Notify {
    sock: UnixDatagram,
    seen: Vec<(Instant, String)>,
}

impl Notify {
    fn bind(path: &Path) -> Notify {
        let sock = UnixDatagram::bind(path).expect("bind the notify socket");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Notify {
            sock,
            seen: Vec::new(),
        }
    }

    /// Receives until a message satisfies `want` or `timeout` passes;
    /// returns its index in `seen`.
    fn until(&mut self, timeout: Duration, want: impl Fn(&str) -> bool) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(i) = self.seen.iter().position(|(_, m)| want(m)) {
                return Some(i);
            }
            if Instant::now() >= deadline {
                return None;
            }
            if let Ok(n) = self.sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push((Instant::now(), msg));
            }
        }
    }

    /// Index of the first message after `after` satisfying `want`.
    fn next_after(
        &mut self,
        after: usize,
        timeout: Duration,
        want: impl Fn(&str) -> bool,
    ) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.seen.iter().skip(after + 1).position(|(_, m)| want(m)) {
                return Some(after + 1 + i);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let before = self.seen.len();
            let _ = self.until(left.min(Duration::from_millis(250)), |_| false);
            if self.seen.len() == before && Instant::now() >= deadline {
                return None;
            }
        }
    }

    fn dump(&self) -> String {
        self.seen
            .iter()
            .map(|(_, m)| format!("{m:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn lines(msg: &str) -> Vec<&str> {
    msg.lines().collect()
}

fn has_line(msg: &str, line: &str) -> bool {
    msg.lines().any(|l| l == line)
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0);
    u64::try_from(ts.tv_sec).expect("secs") * 1_000_000
        + u64::try_from(ts.tv_nsec).expect("nsecs") / 1_000
}

#[test]
fn sd_notify_ready_reloading_stopping_in_order() {
    let dir = tmp();
    let sock_path = dir.path().join("notify.sock");
    let mut n = Notify::bind(&sock_path);
    let opts = Options::new().env("NOTIFY_SOCKET", sock_path.to_str().expect("utf-8"));
    let mut d = Daemon::start(&dir.path().join("data.rdb"), &opts);
    let t = Duration::from_secs(10);
    let not_watchdog = |m: &str| !has_line(m, "WATCHDOG=1");

    let ready = n
        .until(t, |m| has_line(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1 after start; got:\n{}", n.dump()));
    let msg = n.seen[ready].1.clone();
    assert!(
        lines(&msg)
            .iter()
            .any(|l| l.starts_with("STATUS=") && l.len() > 7),
        "READY=1 without a STATUS= line: {msg:?}"
    );
    assert!(msg.contains("not bootstrapped"), "{msg:?}");

    // Bootstrapping over HTTP updates the status.
    d.bootstrap();
    let status = n
        .next_after(ready, t, |m| m.contains("STATUS=serving (unsealed)"))
        .unwrap_or_else(|| panic!("no status after bootstrap; got:\n{}", n.dump()));

    let before_reload = monotonic_usec();
    d.signal(libc::SIGHUP);
    let reloading = n
        .next_after(status, t, |m| has_line(m, "RELOADING=1"))
        .unwrap_or_else(|| panic!("no RELOADING=1 after SIGHUP; got:\n{}", n.dump()));
    let msg = n.seen[reloading].1.clone();
    let usec: u64 = lines(&msg)
        .iter()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("RELOADING=1 without MONOTONIC_USEC=: {msg:?}"))
        .parse()
        .expect("MONOTONIC_USEC is a number");
    assert!(
        usec >= before_reload && usec <= monotonic_usec(),
        "MONOTONIC_USEC={usec} is not the time of the reload (sent after {before_reload})"
    );
    let ready2 = n
        .next_after(reloading, t, |m| has_line(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1 after RELOADING=1; got:\n{}", n.dump()));
    assert!(
        n.seen[ready2].1.contains("STATUS=serving (unsealed)"),
        "{:?}",
        n.seen[ready2].1
    );

    let code = d.stop();
    assert_eq!(code, 0, "stderr:\n{}", d.stderr());
    let stopping = n
        .next_after(ready2, t, |m| has_line(m, "STOPPING=1"))
        .unwrap_or_else(|| panic!("no STOPPING=1 after SIGTERM; got:\n{}", n.dump()));

    // The whole sequence, watchdog pings aside, in order and nothing else
    // in between that claims a state.
    let states: Vec<&str> = n
        .seen
        .iter()
        .map(|(_, m)| m.as_str())
        .filter(|m| not_watchdog(m))
        .flat_map(|m| {
            m.lines()
                .filter(|l| matches!(*l, "READY=1" | "RELOADING=1" | "STOPPING=1"))
        })
        .collect();
    assert_eq!(
        states,
        ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"],
        "got:\n{}",
        n.dump()
    );
    assert!(ready < status && status < reloading && reloading < ready2 && ready2 < stopping);
    assert!(
        !n.seen.iter().any(|(_, m)| has_line(m, "WATCHDOG=1")),
        "watchdog pings without WATCHDOG_USEC"
    );
}

#[test]
fn watchdog_pings_only_when_meant_for_this_process() {
    let dir = tmp();
    let sock_path = dir.path().join("notify.sock");
    let mut n = Notify::bind(&sock_path);
    let base = Options::new().env("NOTIFY_SOCKET", sock_path.to_str().expect("utf-8"));
    let db = dir.path().join("data.rdb");

    let mut d = Daemon::start(&db, &base.clone().env("WATCHDOG_USEC", "500000"));
    n.until(Duration::from_secs(10), |m| has_line(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1; got:\n{}", n.dump()));
    let from = n.seen.len();
    let window = Instant::now();
    let _ = n.until(Duration::from_secs(2), |_| false);
    let pings: Vec<Instant> = n.seen[from..]
        .iter()
        .filter(|(at, m)| has_line(m, "WATCHDOG=1") && *at <= window + Duration::from_secs(2))
        .map(|(at, _)| *at)
        .collect();
    assert!(
        pings.len() >= 2,
        "{} WATCHDOG=1 in 2 s with WATCHDOG_USEC=500000; got:\n{}",
        pings.len(),
        n.dump()
    );
    assert_eq!(d.stop(), 0);
    drop(d);

    // WATCHDOG_PID naming another process: no pings.
    n.seen.clear();
    let mut d = Daemon::start(
        &db,
        &base.env("WATCHDOG_USEC", "500000").env("WATCHDOG_PID", "1"),
    );
    n.until(Duration::from_secs(10), |m| has_line(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1; got:\n{}", n.dump()));
    let _ = n.until(Duration::from_millis(1500), |_| false);
    assert!(
        !n.seen.iter().any(|(_, m)| has_line(m, "WATCHDOG=1")),
        "pings for a watchdog meant for pid 1; got:\n{}",
        n.dump()
    );
    assert_eq!(d.stop(), 0);
}

#[test]
fn sigterm_while_logins_run_on_the_pool_still_answers_them() {
    let dir = tmp();
    let (mut d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    d.post(
        "/secrets/red.secret.kept",
        Some(&boot.api_key),
        &serde_json::json!({"value": "still-here"}),
    )
    .ok("put");

    // Four Argon2 logins: more than the pool has threads, so some wait.
    let body = format!(r#"{{"username":"{ADMIN_USER}","password":"{ADMIN_PASSWORD}"}}"#);
    let mut conns: Vec<Conn> = (0..4)
        .map(|_| {
            let mut c = d.conn();
            c.send(&request_bytes(
                "POST",
                "/auth/login",
                &[],
                Some(body.as_bytes()),
            ))
            .expect("send login");
            c
        })
        .collect();
    // One round trip on another connection: the loop has now read the logins
    // (their bytes were ready before this connection existed) and parked them.
    d.assert_healthy("logins submitted");
    // Which logins are still unanswered right now, just before SIGTERM.
    let pending: Vec<bool> = conns
        .iter()
        .map(|c| {
            c.stream.set_nonblocking(true).expect("nonblocking");
            let mut b = [0u8; 1];
            let empty = matches!(c.stream.peek(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
            c.stream.set_nonblocking(false).expect("blocking");
            empty
        })
        .collect();
    d.signal(libc::SIGTERM);
    assert!(
        pending.iter().any(|p| *p),
        "every login was answered before SIGTERM: nothing was in flight"
    );

    let mut tokens = Vec::new();
    for (i, c) in conns.iter_mut().enumerate() {
        let r = c
            .read_response()
            .unwrap_or_else(|e| panic!("login {i}: {e}; stderr:\n{}", d.stderr()))
            .unwrap_or_else(|| panic!("login {i}: closed without a response"));
        assert_eq!(r.status, 200, "login {i}: {}", r.text());
        let token = r.json()["token"].as_str().expect("token").to_string();
        assert!(token.starts_with("rdb_s_"));
        tokens.push(token);
    }
    let code = d
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("still running after SIGTERM; stderr:\n{}", d.stderr()));
    assert_eq!(code, 0, "stderr:\n{}", d.stderr());
    let log = d.stderr();
    assert!(log.contains("stopping"), "{log}");
    assert!(log.contains("stopped"), "{log}");

    // The sessions it answered while stopping were committed first.
    let d = Daemon::start(&d.db, &Options::new().certificate(&boot.certificate));
    for (i, t) in tokens.iter().enumerate() {
        let j = d
            .get("/secrets/red.secret.kept", Some(t))
            .ok(&format!("session {i} after restart"));
        assert_eq!(j["value"], "still-here");
    }
}

fn environ(pid: i32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/environ")).expect("read /proc/PID/environ")
}

#[test]
fn proc_environ_holds_no_secret_and_no_credential_path() {
    let dir = tmp();
    let db = dir.path().join("data.rdb");
    let cert = bootstrapped_file(&db).certificate;
    let token = "envtok-5c8e2a9f71d34b60e2f4a6c8b0d";
    let cert_file = dir.path().join("cert-file-e7a1");
    let token_file = dir.path().join("token-file-b4c2");
    std::fs::write(&cert_file, format!("{cert}\n")).expect("write cert file");
    std::fs::write(&token_file, format!("{token}\n")).expect("write token file");
    let marker = "RED_TEST_MARKER=visible-e3b1";

    // _FILE forms.
    let mut d = Daemon::start(
        &db,
        &Options::new()
            .arg("--vault")
            .env("REDDB_CERTIFICATE_FILE", cert_file.to_str().expect("utf-8"))
            .env("RED_ADMIN_TOKEN_FILE", token_file.to_str().expect("utf-8"))
            .env("RED_TEST_MARKER", "visible-e3b1"),
    );
    assert_eq!(d.get("/health", None).json()["sealed"], false);
    assert_eq!(status_with(&d, token), 200, "the file token works");
    let env = environ(d.pid());
    assert!(
        contains(&env, marker.as_bytes()),
        "the environ we read is not the server's"
    );
    for needle in [
        token,
        cert.as_str(),
        cert_file.to_str().expect("utf-8"),
        token_file.to_str().expect("utf-8"),
        "cert-file-e7a1",
        "token-file-b4c2",
        "REDDB_CERTIFICATE",
        "RED_ADMIN_TOKEN",
    ] {
        assert!(
            !contains(&env, needle.as_bytes()),
            "/proc/PID/environ still holds {needle:?}"
        );
    }
    let log = d.stderr();
    for needle in [token, cert.as_str(), "cert-file-e7a1", "token-file-b4c2"] {
        assert!(!log.contains(needle), "stderr shows {needle:?}");
    }
    assert_eq!(d.stop(), 0);
    drop(d);

    // Inline forms.
    let mut d = Daemon::start(
        &db,
        &Options::new()
            .certificate(&cert)
            .admin_token(token)
            .env("RED_TEST_MARKER", "visible-e3b1"),
    );
    assert_eq!(status_with(&d, token), 200, "the inline token works");
    let env = environ(d.pid());
    assert!(contains(&env, marker.as_bytes()));
    for needle in [token, cert.as_str(), "REDDB_CERTIFICATE", "RED_ADMIN_TOKEN"] {
        assert!(
            !contains(&env, needle.as_bytes()),
            "/proc/PID/environ still holds {needle:?}"
        );
    }
    assert_eq!(d.stop(), 0);
}
