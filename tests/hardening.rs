//! The running daemon's hardening, read from outside the way an operator
//! would: `/proc/PID/status` shows `Seccomp: 2`, `NoNewPrivs: 1`, every
//! capability set empty and `VmLck` > 0; `/proc/PID/limits` shows no core
//! dumps; `/proc/PID/environ` holds neither the certificate nor any `_FILE`
//! path; and a forbidden syscall (forced by the test-only hook) kills the
//! process with SIGSYS.

mod harness;

use harness::cli::red;
use harness::daemon::{Daemon, Exited, Options};
use harness::rng::{fresh_seed, OnPanic, Rng};
use harness::{is_root, memlock_unlimited, proc_status_field, status_field, tmp, wait_until};
use std::path::Path;
use std::time::Duration;

/// A `--dev` server on `dir/data.rdb` with `envs` as its whole environment;
/// its early exit, if it does not serve.
fn start(dir: &Path, envs: &[(&str, &str)]) -> Result<Daemon, Exited> {
    let opts = envs.iter().fold(Options::dev(), |o, (k, v)| o.env(k, v));
    Daemon::try_start(&dir.join("data.rdb"), &opts)
}

/// A `--dev` server that serves.
fn started(dir: &Path, envs: &[(&str, &str)]) -> Daemon {
    start(dir, envs).unwrap_or_else(|e| panic!("the server exited ({}): {}", e.code, e.stderr))
}

fn status_of(pid: i32, name: &str) -> String {
    proc_status_field(pid, name).unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
}

/// `/proc/PID/limits` shows a core file size limit of 0, soft and hard.
fn assert_no_core_dumps(pid: i32) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], &["0", "0"], "core dumps disabled: {core}");
}

/// Whether this test process could empty a bounding set (it holds
/// `CAP_SETPCAP`, bit 8, in its effective set); the daemon started by it
/// inherits the same sets.
fn test_process_has_setpcap() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = u64::from_str_radix(status_field(&status, "CapEff").unwrap(), 16).unwrap();
    const CAP_SETPCAP: u32 = 8;
    eff & (1 << CAP_SETPCAP) != 0
}

/// Every thread of the running daemon, read from `/proc/PID/task/*/status`
/// as an operator would: each one, not just the main thread, must be
/// without capabilities, under `no_new_privs` and under the filter.
#[test]
fn every_thread_is_confined() {
    let dir = tmp();
    let server = started(dir.path(), &[]);
    let pid = server.pid();
    let setpcap = test_process_has_setpcap();
    if !setpcap {
        eprintln!(
            "note: this test process lacks CAP_SETPCAP (not root?), so the daemon cannot empty \
             its bounding set; CapBnd is not asserted, every other field is"
        );
    }
    let mut sets = vec!["CapEff", "CapPrm", "CapInh", "CapAmb"];
    if setpcap {
        sets.push("CapBnd");
    }
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let status = std::fs::read_to_string(task.join("status")).unwrap();
        let name = status_field(&status, "Name").unwrap_or("?").to_string();
        for set in &sets {
            assert_eq!(
                status_field(&status, set),
                Some("0000000000000000"),
                "{set} of thread {name} ({})",
                task.display()
            );
        }
        assert_eq!(
            status_field(&status, "NoNewPrivs"),
            Some("1"),
            "thread {name}"
        );
        assert_eq!(status_field(&status, "Seccomp"), Some("2"), "thread {name}");
        threads.push(name);
    }
    // The main thread, at least one worker and the sync thread were
    // inspected.
    assert!(
        threads.iter().any(|n| n.starts_with("red-worker")),
        "no worker thread found: {threads:?}"
    );
    assert!(
        threads.iter().any(|n| n == "red-sync"),
        "no sync thread found: {threads:?}"
    );
    assert!(threads.len() >= 3, "{threads:?}");
    server.assert_healthy("reading every thread's status");
}

/// The niceness (field 19) and scheduling policy (field 41) of one thread
/// from `/proc/PID/task/TID/stat`, counted after the parenthesised name,
/// which may hold spaces.
fn thread_sched(task: &std::path::Path) -> (i32, u32) {
    let stat = std::fs::read_to_string(task.join("stat")).unwrap();
    let after_name = stat.rsplit_once(')').unwrap().1;
    // Field 3 is the first after the name.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    (
        fields[19 - 3].parse().unwrap(),
        fields[41 - 3].parse().unwrap(),
    )
}

/// `SCHED_OTHER` and `SCHED_IDLE` (linux/sched.h).
const SCHED_OTHER: u32 = 0;
const SCHED_IDLE: u32 = 5;

/// The Argon2 workers run in the idle scheduling class (niceness 19 too),
/// the event loop in the normal class at the process's niceness: a worker
/// sharing the loop's core (one core, a pinned service) must not hold the
/// loop for a time slice (docs/BENCHMARKS.md, "Login flood vs. secret
/// reads").
#[test]
fn argon2_workers_yield_to_the_event_loop() {
    let dir = tmp();
    let server = started(dir.path(), &[]);
    let pid = server.pid();
    let (own_nice, _) = thread_sched(std::path::Path::new("/proc/thread-self"));
    let (mut workers, mut others) = (0, 0);
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap();
        let (nice, policy) = thread_sched(&task);
        if name.starts_with("red-worker") {
            assert_eq!((nice, policy), (19, SCHED_IDLE), "thread {name}");
            workers += 1;
        } else {
            assert_eq!(
                (nice, policy),
                (own_nice, SCHED_OTHER),
                "thread {name} keeps the process's priority"
            );
            others += 1;
        }
    }
    assert!(
        workers >= 1 && others >= 1,
        "{workers} workers, {others} others"
    );
    server.assert_healthy("reading every thread's scheduling");
}

/// Defence in depth: a thread started before the capabilities are dropped
/// (forced by a test-only hook) keeps them — or, unprivileged, lacks
/// `no_new_privs` — and the start-up check over every
/// `/proc/self/task/*/status` refuses to serve.
#[test]
fn a_thread_started_before_hardening_is_refused() {
    let dir = tmp();
    let exited = match start(dir.path(), &[("REDDB_TEST_EARLY_THREAD", "1")]) {
        Ok(_) => panic!("the server serves with a thread started before hardening"),
        Err(e) => e,
    };
    assert_eq!(exited.code, 1, "exit code Internal");
    let log = exited.stderr;
    assert!(
        log.contains("refusing to start: thread 'red-early'"),
        "the refusal names the thread: {log}"
    );
    assert!(!log.contains("seccomp on"), "{log}");
}

#[test]
fn running_server_is_confined() {
    let dir = tmp();
    let token_file = dir.path().join("admin-token-file-path-marker");
    std::fs::write(&token_file, "admin-token-value-marker-1234567890\n").unwrap();
    let server = started(
        dir.path(),
        &[("RED_ADMIN_TOKEN_FILE", token_file.to_str().unwrap())],
    );
    let pid = server.pid();
    assert_eq!(status_of(pid, "Seccomp"), "2", "seccomp filter mode");
    assert_eq!(status_of(pid, "NoNewPrivs"), "1");
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(status_of(pid, set), "0000000000000000", "{set}");
    }
    let vmlck: u64 = status_of(pid, "VmLck")
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    assert!(vmlck > 0, "key pages must be locked, VmLck = {vmlck} kB");
    assert_no_core_dumps(pid);
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let hay = String::from_utf8_lossy(&environ);
    assert!(
        !hay.contains("admin-token-value-marker"),
        "token value in environ"
    );
    assert!(
        !hay.contains("admin-token-file-path-marker"),
        "_FILE path in environ"
    );
    assert!(
        !hay.contains("RED_ADMIN_TOKEN_FILE"),
        "_FILE variable in environ"
    );
    let cert = std::fs::read_to_string(dir.path().join("data.rdb.cert")).unwrap();
    assert!(!hay.contains(cert.trim()), "certificate in environ");
    // Still serving after all that inspection.
    server.assert_healthy("the inspection");
}

/// Starts the daemon with the test-only hook that makes the syscall form
/// `form` right after the filter is installed; asserts the process dies by
/// SIGSYS (not exit code 70, the hook's "it returned"). Returns the data
/// directory for further checks.
fn assert_killed_by_sigsys(form: &str) -> tempfile::TempDir {
    let dir = tmp();
    std::fs::write(dir.path().join("forbidden-target"), "keep me\n").unwrap();
    let exited = match start(dir.path(), &[("REDDB_TEST_FORBIDDEN_SYSCALL", form)]) {
        Ok(_) => panic!("the server survived a forbidden syscall ({form})"),
        Err(e) => e,
    };
    let log = exited.stderr;
    assert_eq!(
        exited.code,
        -libc::SIGSYS,
        "{form}: killed by SIGSYS; log: {log}"
    );
    assert!(
        log.contains("seccomp on"),
        "filter was installed before the hook ran: {log}"
    );
    assert!(
        log.contains(&format!("calling a forbidden syscall ({form})")),
        "{log}"
    );
    // Whatever the call would have done did not happen.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("forbidden-target")).unwrap(),
        "keep me\n",
        "{form}"
    );
    assert!(!dir.path().join("forbidden-created").exists(), "{form}");
    dir
}

#[test]
fn forbidden_syscall_kills_with_sigsys() {
    assert_killed_by_sigsys("1");
    assert_killed_by_sigsys("ptrace");
}

/// The read-only `openat` rule checks the whole flags word: read-only
/// access with `O_TRUNC` (which truncates on Linux) or `O_CREAT` kills, as
/// does every writing form, and the create-only rule admits no
/// truncation. What the daemon does open after hardening (credential
/// files on SIGHUP, backups, restores, `/proc/self/statm`) is exercised by
/// `daemon_signals.rs` and `backup_restore.rs`, which run with the filter.
#[test]
fn openat_that_could_write_create_or_truncate_kills() {
    for form in [
        "openat_trunc",
        "openat_creat",
        "openat_wronly_trunc",
        "openat_append",
        "openat_create_trunc",
    ] {
        assert_killed_by_sigsys(form);
    }
}

/// `socket` is allowed for the one form `sd_notify` uses, an `AF_UNIX`
/// datagram socket; other families and an `AF_UNIX` stream kill.
#[test]
fn sockets_other_than_unix_datagrams_kill() {
    for form in ["socket_inet6", "socket_packet", "socket_unix_stream"] {
        assert_killed_by_sigsys(form);
    }
}

#[test]
fn an_unknown_test_hook_form_is_not_taken_for_a_kill() {
    let dir = tmp();
    match start(dir.path(), &[("REDDB_TEST_FORBIDDEN_SYSCALL", "nope")]) {
        Ok(_) => panic!("the server started with an unknown hook form"),
        Err(e) => assert_eq!(e.code, 2, "{}", e.stderr),
    }
}

/// Every subcommand holds keys or passwords (`bootstrap`, `check`,
/// `backup`, `restore`), so dumps are off before `main` does anything
/// else. `red bootstrap` waiting for its password on standard input is
/// inspected from outside: `/proc/PID/limits` shows a core limit of 0 (soft
/// and hard), and `/proc/PID/status` belongs to root although the process
/// runs unprivileged — the kernel's sign of `PR_SET_DUMPABLE=0` (a dumpable
/// process's `/proc` files belong to its own uid).
#[test]
fn cli_subcommands_turn_dumps_off_first() {
    use std::os::unix::fs::MetadataExt;
    let dir = tmp();
    let mut cmd = red(&[
        "bootstrap",
        "--vault",
        "--username",
        "admin",
        "--print-certificate",
    ])
    .arg("--path")
    .arg(dir.path().join("data.rdb"));
    if is_root() {
        // Unprivileged, so that root ownership of /proc/PID/status can
        // only mean "not dumpable".
        cmd = cmd.run_as_nobody();
    }
    // Stdin stays open: the password read blocks until the child is killed.
    let mut child = cmd.spawn();
    let pid = child.pid();
    // Wait until it sleeps (blocked on standard input) for 200 ms in a row.
    let mut asleep = 0;
    let blocked = wait_until(Duration::from_secs(20), || {
        assert!(!child.has_exited(), "red bootstrap exited");
        asleep = if status_of(pid, "State").starts_with('S') {
            asleep + 1
        } else {
            0
        };
        asleep >= 4
    });
    assert!(blocked, "red bootstrap never blocked");
    let uid: u32 = status_of(pid, "Uid")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(
        uid, 0,
        "the subcommand must run unprivileged for this check"
    );
    let owner = std::fs::metadata(format!("/proc/{pid}/status"))
        .unwrap()
        .uid();
    assert_eq!(
        owner, 0,
        "/proc/{pid}/status belongs to uid {owner}: dumpable"
    );
    assert_no_core_dumps(pid);
    drop(child);
}

/// Every readable mapping of process `pid` (`/proc/PID/maps` +
/// `/proc/PID/mem`); needs ptrace access (root, or `CAP_SYS_PTRACE`: the
/// daemon is not dumpable). `None` when that access is refused.
fn process_memory(pid: i32) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (range, perms) = (parts.next()?, parts.next()?);
        if !perms.starts_with('r') || line.ends_with("[vvar]") || line.ends_with("[vsyscall]") {
            continue;
        }
        let (start, end) = range.split_once('-')?;
        let start = u64::from_str_radix(start, 16).ok()?;
        let end = u64::from_str_radix(end, 16).ok()?;
        let mut buf = vec![0u8; usize::try_from(end - start).ok()?];
        if mem.seek(SeekFrom::Start(start)).is_ok() && mem.read_exact(&mut buf).is_ok() {
            out.extend_from_slice(&buf);
        }
    }
    Some(out)
}

/// The secret environment variables read at start are wiped once consumed:
/// after start-up no copy of any value is left anywhere in the daemon's
/// memory, freed heap included. Before the fix, the copy std made of each
/// variable was freed without being wiped. Which freed blocks the allocator
/// reuses depends on their sizes, so several secrets of different lengths
/// are used; the tail of each is searched for, because the allocator
/// overwrites the first bytes of a freed block with its own pointers.
#[test]
fn secret_environment_values_leave_no_copy_in_memory() {
    let dir = tmp();
    // Bootstrap once (--dev writes the certificate next to the file).
    drop(started(dir.path(), &[]));
    let cert = std::fs::read_to_string(dir.path().join("data.rdb.cert")).unwrap();
    let cert = cert.trim().to_string();
    // Values no other process has seen: a seed that differs between runs,
    // printed on failure.
    let seed = fresh_seed();
    let _note = OnPanic(format!("secret values from seed {seed:#x}"));
    let mut rng = Rng::new(seed);
    let (token, s3, password) = (rng.hex(3000), rng.hex(1100), rng.hex(1500));
    let control = format!("memory-marker-control-{}", rng.hex(48));
    let server = started(
        dir.path(),
        &[
            ("REDDB_CERTIFICATE", cert.as_str()),
            ("RED_ADMIN_TOKEN", token.as_str()),
            ("RED_S3_SECRET_KEY", s3.as_str()),
            ("REDDB_PASSWORD", password.as_str()),
            ("REDDB_TEST_CONTROL", control.as_str()),
        ],
    );
    let pid = server.pid();
    let Some(memory) = process_memory(pid) else {
        eprintln!("note: /proc/{pid}/mem is not readable here (no CAP_SYS_PTRACE); skipped");
        return;
    };
    assert!(memory.len() > 1 << 20, "read {} bytes", memory.len());
    let contains = |needle: &[u8]| memory.windows(needle.len()).any(|w| w == needle);
    for (what, value) in [
        ("RED_ADMIN_TOKEN", &token),
        ("RED_S3_SECRET_KEY", &s3),
        ("REDDB_PASSWORD", &password),
        ("REDDB_CERTIFICATE", &cert),
    ] {
        let tail = &value.as_bytes()[value.len() - 32..];
        assert!(
            !contains(tail),
            "a copy of {what} from the environment is still in the daemon's memory"
        );
    }
    // The search finds what is there: a non-secret variable stays in the
    // process environment (a positive control).
    assert!(contains(&control.as_bytes()[control.len() - 32..]));
    server.assert_healthy("reading its memory");
}

#[test]
fn required_mlock_refuses_with_a_clear_message_under_a_finite_limit() {
    // This machine's memlock limit is finite (8 MiB); when it is unlimited,
    // full locking succeeds and there is nothing to refuse.
    if memlock_unlimited() {
        eprintln!("RLIMIT_MEMLOCK is unlimited here; the refusal branch cannot be shown");
        return;
    }
    let dir = tmp();
    let opts = Options::dev().arg("--require-mlock");
    let err = match Daemon::try_start(&dir.path().join("data.rdb"), &opts) {
        Ok(_) => panic!("--require-mlock served under a finite limit"),
        Err(e) => e,
    };
    assert_eq!(err.code, 23, "{}", err.stderr);
    assert!(
        err.stderr.contains("RLIMIT_MEMLOCK") && err.stderr.contains("LimitMEMLOCK=infinity"),
        "{}",
        err.stderr
    );
}
