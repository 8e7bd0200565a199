//! Libraries that run Lua scripts, unchanged, against the real server
//! (`tests/wire_script_clients.py`): redis-py's `Lock` and the `limits`
//! library with its redis storage.
//!
//! When redis-py or `limits` is not installed the test says so and passes
//! — unless `REDDB_REQUIRE_CLIENTS` is set (CI sets it after installing
//! both), in which case a missing library fails the test.

mod harness;

use harness::cli::{need, program};
use harness::daemon::Daemon;
use std::time::{Duration, Instant};

#[test]
fn redis_py_lock_and_limits() {
    if !need("redis-py", "python3", &["-c", "import redis"])
        || !need("limits", "python3", &["-c", "import limits"])
    {
        return;
    }
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire_script_clients.py");
    let started = Instant::now();
    let out = program(
        "python3",
        &[
            script,
            "--port",
            &s.wire_port.to_string(),
            "--password",
            s.api_key(),
        ],
    )
    .timeout(Duration::from_secs(180))
    .run();
    eprintln!("{}", out.stdout);
    assert!(
        out.success(),
        "wire_script_clients.py failed after {:?}:\n{}\n{}\nserver stderr:\n{}",
        started.elapsed(),
        out.stdout,
        out.stderr,
        s.stderr()
    );
    assert!(out.stdout.contains("redis-py Lock ok") && out.stdout.contains("limits ok"));
}
