//! Libraries that run Lua scripts, unchanged, against the real server
//! (`tests/wire_script_clients.py`): redis-py's `Lock` and the `limits`
//! library with its redis storage.
//!
//! When redis-py or `limits` is not installed the test says so and passes
//! — unless `REDDB_REQUIRE_CLIENTS` is set (CI sets it after installing
//! both), in which case a missing library fails the test.

mod harness;

use harness::cli::need;
use harness::daemon::Daemon;
use std::time::Duration;

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
    let out = s.run_client_program(
        "python3",
        &[
            script,
            "--port",
            &s.wire_port.to_string(),
            "--password",
            s.api_key(),
        ],
        Duration::from_secs(180),
        "redis-py Lock ok",
    );
    assert!(out.contains("limits ok"), "{out}");
}
