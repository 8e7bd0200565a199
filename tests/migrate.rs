//! `red migrate` against a real redis-server and a real `red server`:
//! seed 001's key patterns and every type (small, and larger than one
//! batch), binary keys and values, TTLs, two databases — compared key by
//! key over the wire (type, value, TTL ± 1 s); credentials from the
//! environment and from URLs; refusals (a stream, `red.secret.*`), a wrong
//! target key and an unreachable source with nothing written; keys changed
//! during the copy; an interruption and `--resume`.

mod harness;

use harness::cli::{need, red, Output, Running};
use harness::daemon::Daemon;
use harness::redis_reference::Reference;
use harness::wire::{Client, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const SOURCE_PASSWORD: &str = "source-redis-password-7f3a";

const PEER: i32 = 33;
const REFUSED: i32 = 34;
const INTERRUPTED: i32 = 35;
const USAGE: i32 = 2;

/// A password-protected redis-server and a `--dev` red, or `None` (after
/// `need` printed why) when redis-server is missing.
struct Pair {
    source: Reference,
    target: Daemon,
    dir: tempfile::TempDir,
}

impl Pair {
    fn start() -> Option<Pair> {
        if !need("redis-server", "redis-server", &["--version"]) {
            return None;
        }
        let dir = harness::tmp();
        let target = Daemon::start_dev(dir.path(), &[]);
        Some(Pair {
            source: Reference::start_with_password(SOURCE_PASSWORD),
            target,
            dir,
        })
    }

    fn source(&self, db: u32) -> Client {
        let mut c = Client::authed(self.source.port, &[SOURCE_PASSWORD]);
        assert_eq!(c.cmd(&["SELECT", &db.to_string()]), harness::wire::ok());
        c
    }

    fn target(&self, db: u32) -> Client {
        let mut c = self.target.authed();
        assert_eq!(c.cmd(&["SELECT", &db.to_string()]), harness::wire::ok());
        c
    }

    fn source_url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.source.port)
    }

    fn target_url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.target.wire_port)
    }

    fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("migrate.state")
    }

    /// `red migrate` from source db `from` to target db `to` with the
    /// credentials in the environment and `extra` flags.
    fn migrate(&self, from: u32, to: u32, extra: &[&str]) -> harness::cli::Cmd {
        red(&[
            "migrate",
            "--from",
            &self.source_url(from),
            "--to",
            &self.target_url(to),
        ])
        .arg("--state")
        .arg(self.state())
        .args(extra)
        .env("REDDB_MIGRATE_FROM_PASSWORD", SOURCE_PASSWORD)
        .env("REDDB_MIGRATE_TO_KEY", self.target.api_key())
    }

    fn secrets(&self) -> [&str; 2] {
        [SOURCE_PASSWORD, self.target.api_key()]
    }
}

fn assert_no_secret(out: &Output, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !out.stdout.contains(s) && !out.stderr.contains(s),
            "a credential was printed: {}",
            out.describe(secrets)
        );
    }
}

/// Each key's type, canonical value and expiry (ms since the epoch; -1
/// for none).
type Dump = BTreeMap<Vec<u8>, (String, Vec<Vec<u8>>, i64)>;

/// Every key of the client's current database: type, a canonical value,
/// and the expiry as an absolute time (ms since the epoch, -1 for none).
fn dump(c: &mut Client) -> Dump {
    let mut out = BTreeMap::new();
    let mut cursor = "0".to_string();
    for _ in 0..100_000 {
        let reply = c.cmd(&["SCAN", &cursor, "COUNT", "500"]);
        let Value::Array(parts) = reply else {
            panic!("SCAN: {reply:?}")
        };
        cursor = harness::wire::text(&parts[0]);
        let Value::Array(keys) = &parts[1] else {
            panic!("SCAN keys: {parts:?}")
        };
        for k in keys {
            let key = k.as_bytes().expect("a key").to_vec();
            let kind = harness::wire::text(&c.cmd(&[b"TYPE".as_slice(), &key]));
            let pttl = harness::wire::as_int(&c.cmd(&[b"PTTL".as_slice(), &key]));
            // As an absolute time, so dumps taken a while apart compare.
            let expires_at = if pttl >= 0 { now_ms() + pttl } else { pttl };
            let mut value: Vec<Vec<u8>> = match kind.as_str() {
                "string" => vec![c
                    .cmd(&[b"GET".as_slice(), &key])
                    .as_bytes()
                    .unwrap()
                    .to_vec()],
                "list" => items(c.cmd(&[b"LRANGE".as_slice(), &key, b"0", b"-1"])),
                "set" => items(c.cmd(&[b"SMEMBERS".as_slice(), &key])),
                "hash" => pairs(items(c.cmd(&[b"HGETALL".as_slice(), &key]))),
                "zset" => items(c.cmd(&[b"ZRANGE".as_slice(), &key, b"0", b"-1", b"WITHSCORES"])),
                other => vec![other.as_bytes().to_vec()],
            };
            if kind == "set" {
                value.sort();
            }
            out.insert(key, (kind, value, expires_at));
        }
        if cursor == "0" {
            return out;
        }
    }
    panic!("SCAN did not finish");
}

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(since.as_millis()).expect("ms fit in i64")
}

fn items(v: Value) -> Vec<Vec<u8>> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|i| i.as_bytes().expect("a string element").to_vec())
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// Hash field/value pairs, sorted by field, flattened.
fn pairs(flat: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut p: Vec<(Vec<u8>, Vec<u8>)> = flat
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    p.sort();
    p.into_iter().flat_map(|(f, v)| [f, v]).collect()
}

/// Fails unless both dumps hold the same keys with the same types and
/// values, and TTLs within 1 s of each other.
fn assert_same(source: &Dump, target: &Dump) {
    let missing: Vec<String> = source
        .keys()
        .filter(|k| !target.contains_key(*k))
        .map(|k| k.escape_ascii().to_string())
        .take(10)
        .collect();
    let extra: Vec<String> = target
        .keys()
        .filter(|k| !source.contains_key(*k))
        .map(|k| k.escape_ascii().to_string())
        .take(10)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing on the target: {missing:?}; extra: {extra:?}"
    );
    for (k, (kind, value, ttl)) in source {
        let (t_kind, t_value, t_ttl) = &target[k];
        let name = k.escape_ascii().to_string();
        assert_eq!(kind, t_kind, "type of {name}");
        assert!(
            value == t_value,
            "value of {name} differs ({} vs {} elements)",
            value.len(),
            t_value.len()
        );
        if *ttl < 0 || *t_ttl < 0 {
            assert_eq!(ttl, t_ttl, "TTL of {name}");
        } else {
            assert!(
                (ttl - t_ttl).abs() <= 1000,
                "expiry of {name}: {ttl} vs {t_ttl} ms since the epoch"
            );
        }
    }
}

/// Runs `args` on `c`, expecting no error reply.
fn w(c: &mut Client, args: &[&[u8]]) {
    let reply = c.cmd(args);
    assert!(
        !matches!(reply, Value::Error(_)),
        "{:?}: {reply:?}",
        args.first().map(|a| a.escape_ascii().to_string())
    );
}

/// Seed 001's OAuth store: client registrations (JSON), access tokens
/// (30 days), CSRF states (5 minutes), codes and refresh tokens (1 year),
/// user token indexes (sets).
fn fill_seed_001(c: &mut Client) {
    for i in 0..40 {
        let client = format!(
            r#"{{"client_id":"client_{i}","client_secret":"secret_{i}","client_name":"MCP client {i}","redirect_uris":["http://localhost:8080/callback"],"grant_types":["authorization_code","refresh_token"],"registration_access_token":"reg-token{i}","created_at":"2024-01-01T00:00:00Z","expires_at":"2024-04-01T00:00:00Z"}}"#
        );
        w(
            c,
            &[
                b"SET",
                format!("oauth:client:client_{i}").as_bytes(),
                client.as_bytes(),
            ],
        );
    }
    for i in 0..120 {
        let token = format!(
            r#"{{"client_id":"client_{}","user_id":"github|user{}","scope":"mcp:*","issued_at":"2024-01-01T00:00:00Z","expires_at":"2024-01-31T00:00:00Z"}}"#,
            i % 40,
            i % 15
        );
        w(
            c,
            &[
                b"SET",
                format!("oauth:token:jti_{i}").as_bytes(),
                token.as_bytes(),
                b"EX",
                b"2592000",
            ],
        );
        w(
            c,
            &[
                b"SADD",
                format!("oauth:user_tokens:user{}", i % 15).as_bytes(),
                format!("jti_{i}").as_bytes(),
            ],
        );
        w(
            c,
            &[
                b"SET",
                format!("oauth:refresh:rt_{i}").as_bytes(),
                token.as_bytes(),
                b"EX",
                b"31536000",
            ],
        );
    }
    for i in 0..25 {
        w(
            c,
            &[
                b"SET",
                format!("oauth:state:st_{i}").as_bytes(),
                b"{\"redirect\":\"/\"}",
                b"EX",
                b"300",
            ],
        );
        w(
            c,
            &[
                b"SET",
                format!("oauth:code:code_{i}").as_bytes(),
                b"{\"client_id\":\"client_1\"}",
                b"EX",
                b"31536000",
            ],
        );
    }
}

/// Every type, small and larger than `large` elements, binary keys and
/// values, odd scores, expiries on collections.
fn fill_every_type(c: &mut Client, large: usize) {
    let binary: Vec<u8> = (0..=255u8).collect();
    w(c, &[b"SET", b"str:plain", b"hello"]);
    w(c, &[b"SET", b"str:empty", b""]);
    w(c, &[b"SET", b"str:int", b"12345"]);
    w(c, &[b"SET", &binary, &binary]);
    w(c, &[b"SET", b"str:big", &vec![b'x'; 300_000]]);
    w(c, &[b"SET", b"str:ms-ttl", b"v", b"PX", b"86400123"]);
    w(c, &[b"RPUSH", b"list:small", b"a", b"b", b"a", &binary]);
    w(c, &[b"SADD", b"set:small", b"x", b"y", &binary]);
    w(c, &[b"SADD", b"set:ints", b"1", b"2", b"300"]);
    w(c, &[b"HSET", b"hash:small", b"f1", b"v1", &binary, &binary]);
    w(
        c,
        &[
            b"ZADD",
            b"zset:small",
            b"1.5",
            b"a",
            b"-inf",
            b"low",
            b"inf",
            b"high",
            b"0",
            &binary,
        ],
    );
    w(
        c,
        &[b"ZADD", b"zset:ties", b"1", b"b", b"1", b"a", b"1", b"c"],
    );
    let mut list: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), b"list:large".to_vec()];
    let mut set: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"set:large".to_vec()];
    let mut hash: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"hash:large".to_vec()];
    let mut zset: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), b"zset:large".to_vec()];
    for i in 0..large {
        list.push(format!("item-{i}").into_bytes());
        set.push(format!("member-{i}").into_bytes());
        hash.push(format!("field-{i}").into_bytes());
        hash.push(vec![(i % 251) as u8; i % 50]);
        zset.push(format!("{}", (i as f64) * 0.25 - 7.0).into_bytes());
        zset.push(format!("m-{i}").into_bytes());
    }
    for cmd in [list, set, hash, zset] {
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        w(c, &args);
    }
    // Few elements, many bytes (9 MB): read in chunks by size, not count.
    for i in 0..30 {
        w(
            c,
            &[
                b"HSET",
                b"hash:wide",
                format!("f{i}").as_bytes(),
                &vec![b'0' + (i % 10) as u8; 300_000],
            ],
        );
    }
    w(c, &[b"PEXPIRE", b"list:large", b"7200000"]);
    w(c, &[b"EXPIRE", b"hash:small", b"600"]);
    w(c, &[b"EXPIRE", b"zset:large", b"90000"]);
}

fn count_line(out: &Output, name: &str) -> u64 {
    out.line_value(&format!("{name}: "))
        .parse()
        .expect("a count")
}

#[test]
fn copies_seed_001_and_every_type_across_two_databases() {
    let Some(p) = Pair::start() else { return };
    let mut s0 = p.source(0);
    fill_seed_001(&mut s0);
    fill_every_type(&mut s0, 700);
    let mut s1 = p.source(1);
    w(&mut s1, &[b"SET", b"db1:only", b"one"]);
    w(
        &mut s1,
        &[b"HSET", b"oauth:client:client_0", b"other", b"db"],
    );
    // 36 MiB of strings in one batch: read in groups of about 32 MiB.
    for i in 0..12u8 {
        let key = format!("blob:{i}");
        w(&mut s1, &[b"SET", key.as_bytes(), &vec![b'a' + i; 3 << 20]]);
    }

    let out = p.migrate(0, 0, &["--batch", "200"]).run();
    assert_eq!(out.code, 0, "{}", out.describe(&p.secrets()));
    assert_no_secret(&out, &p.secrets());
    assert!(
        !out.stderr.contains("warning"),
        "{}",
        out.describe(&p.secrets())
    );
    let source0 = dump(&mut s0);
    assert_same(&source0, &dump(&mut p.target(0)));
    let strings = source0.values().filter(|v| v.0 == "string").count() as u64;
    assert_eq!(count_line(&out, "string"), strings);
    assert_eq!(count_line(&out, "list"), 2);
    assert_eq!(count_line(&out, "zset"), 3);
    assert_eq!(count_line(&out, "copied"), source0.len() as u64);
    assert!(!p.state().exists(), "the state file is removed on success");

    let out = p.migrate(1, 1, &[]).run();
    assert_eq!(out.code, 0, "{}", out.describe(&p.secrets()));
    assert_same(&dump(&mut s1), &dump(&mut p.target(1)));
    assert_eq!(count_line(&out, "copied"), 14);
    // Database 0 of the target was not touched by the second run.
    assert_same(&source0, &dump(&mut p.target(0)));

    // A target database that already holds keys is refused, unchanged.
    w(&mut s1, &[b"SET", b"db1:only", b"changed"]);
    let out = p.migrate(1, 1, &[]).run();
    assert_eq!(out.code, USAGE, "{}", out.describe(&p.secrets()));
    assert!(
        out.stderr.contains("already holds 14 key(s)") && out.stderr.contains("--replace"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.target(1).cmd(&["GET", "db1:only"]),
        harness::wire::bulk("one")
    );
    assert!(!p.state().exists());
    let out = p.migrate(1, 1, &["--replace"]).run();
    assert_eq!(out.code, 0, "{}", out.describe(&p.secrets()));
    assert_same(&dump(&mut s1), &dump(&mut p.target(1)));
}

#[test]
fn refuses_streams_vault_keys_and_oversized_values_by_count() {
    let Some(p) = Pair::start() else { return };
    let mut s = p.source(0);
    w(&mut s, &[b"XADD", b"events", b"*", b"a", b"1"]);
    w(&mut s, &[b"SET", b"red.secret.db-password", b"hunter2"]);
    w(
        &mut s,
        &[b"SET", b"huge-string", &vec![b's'; 17 * 1024 * 1024]],
    );
    // 80 elements of 1 MiB, fewer than a batch but more bytes than one
    // reply may carry: read in chunks of a few MiB, refused by the target
    // once the list passes 16 MiB; the temporary key goes too.
    for _ in 0..80 {
        w(&mut s, &[b"RPUSH", b"huge-list", &vec![b'l'; 1024 * 1024]]);
    }
    w(&mut s, &[b"SET", b"plain", b"copied"]);
    let out = p.migrate(0, 0, &[]).run();
    assert_eq!(out.code, REFUSED, "{}", out.describe(&p.secrets()));
    assert_eq!(count_line(&out, "refused type stream"), 1);
    assert_eq!(count_line(&out, "refused red.secret.*"), 1);
    assert_eq!(count_line(&out, "refused too large"), 2);
    assert_eq!(count_line(&out, "copied"), 1);
    assert!(
        out.stderr.contains("redis-cli --scan --type TYPE"),
        "{}",
        out.stderr
    );
    // Counted, never named (key names can carry tokens).
    for name in ["events", "db-password", "huge-string", "huge-list"] {
        assert!(
            !out.stdout.contains(name) && !out.stderr.contains(name),
            "{name}: {}",
            out.describe(&p.secrets())
        );
    }
    let mut t = p.target(0);
    assert_eq!(
        dump(&mut t).into_keys().collect::<Vec<_>>(),
        vec![b"plain".to_vec()]
    );
    assert_eq!(t.cmd(&["GET", "plain"]), harness::wire::bulk("copied"));

    // --skip-unsupported counts the stream as skipped; the others are
    // still refused.
    let out = p.migrate(0, 0, &["--replace", "--skip-unsupported"]).run();
    assert_eq!(out.code, REFUSED, "{}", out.describe(&p.secrets()));
    assert_eq!(count_line(&out, "skipped type stream"), 1);
    for k in ["red.secret.db-password", "huge-string", "huge-list"] {
        w(&mut s, &[b"DEL", k.as_bytes()]);
    }
    let out = p.migrate(0, 0, &["--replace", "--skip-unsupported"]).run();
    assert_eq!(out.code, 0, "{}", out.describe(&p.secrets()));
    assert_eq!(
        dump(&mut t).into_keys().collect::<Vec<_>>(),
        vec![b"plain".to_vec()]
    );
}

#[test]
fn bad_credentials_and_addresses_are_clear_errors_that_write_nothing() {
    let Some(p) = Pair::start() else { return };
    let mut s = p.source(0);
    w(&mut s, &[b"SET", b"k", b"v"]);
    let target_empty = |p: &Pair| harness::wire::as_int(&p.target(0).cmd(&["DBSIZE"])) == 0;

    // A wrong target key.
    let out = p
        .migrate(0, 0, &[])
        .env(
            "REDDB_MIGRATE_TO_KEY",
            "rdb_k_00000000000000000000000000000000",
        )
        .run();
    assert_eq!(out.code, PEER, "{}", out.describe(&p.secrets()));
    assert!(
        out.stderr.contains("target 127.0.0.1:") && out.stderr.contains("credential was refused"),
        "{}",
        out.stderr
    );
    assert!(target_empty(&p) && !p.state().exists());

    // A wrong source password.
    let out = p
        .migrate(0, 0, &[])
        .env("REDDB_MIGRATE_FROM_PASSWORD", "not-it")
        .run();
    assert_eq!(out.code, PEER, "{}", out.describe(&p.secrets()));
    assert!(
        out.stderr.contains("source 127.0.0.1:") && out.stderr.contains("credential was refused"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("not-it"));
    assert!(target_empty(&p) && !p.state().exists());

    // No credential for either side: the error says where to put one.
    let out = red(&[
        "migrate",
        "--from",
        &p.source_url(0),
        "--to",
        &p.target_url(0),
    ])
    .arg("--state")
    .arg(p.state())
    .run();
    assert_eq!(out.code, PEER, "{}", out.describe(&p.secrets()));
    assert!(
        out.stderr
            .contains("asks for a credential: set REDDB_MIGRATE_FROM_PASSWORD"),
        "{}",
        out.stderr
    );
    let out = red(&[
        "migrate",
        "--from",
        &p.source_url(0),
        "--to",
        &p.target_url(0),
    ])
    .arg("--state")
    .arg(p.state())
    .env("REDDB_MIGRATE_FROM_PASSWORD", SOURCE_PASSWORD)
    .run();
    assert_eq!(out.code, PEER, "{}", out.describe(&p.secrets()));
    assert!(
        out.stderr
            .contains("asks for a credential: set REDDB_MIGRATE_TO_KEY"),
        "{}",
        out.stderr
    );
    assert!(target_empty(&p) && !p.state().exists());

    // A source that refuses the connection.
    let closed = harness::free_port();
    let out = red(&[
        "migrate",
        "--from",
        &format!("redis://127.0.0.1:{closed}"),
        "--to",
        &p.target_url(0),
    ])
    .arg("--state")
    .arg(p.state())
    .env("REDDB_MIGRATE_TO_KEY", p.target.api_key())
    .run();
    assert_eq!(out.code, PEER, "{}", out.describe(&p.secrets()));
    assert!(
        out.stderr
            .contains(&format!("source 127.0.0.1:{closed}/0: cannot connect")),
        "{}",
        out.stderr
    );
    assert!(target_empty(&p) && !p.state().exists());

    // Bad URLs and flags: usage errors naming the flag.
    for (from, to, what) in [
        (
            "http://127.0.0.1:1".to_string(),
            p.target_url(0),
            "--from: unsupported scheme 'http'",
        ),
        (
            "redis://127.0.0.1".to_string(),
            p.target_url(0),
            "--from: missing port",
        ),
        (
            p.source_url(0),
            "redis://127.0.0.1:1/x".to_string(),
            "--to: bad database",
        ),
        (
            p.source_url(0),
            p.source_url(0),
            "--from and --to name the same database",
        ),
    ] {
        let out = red(&["migrate", "--from", &from, "--to", &to])
            .arg("--state")
            .arg(p.state())
            .run();
        assert_eq!(out.code, USAGE, "{}", out.describe(&[]));
        assert!(out.stderr.contains(what), "{what}: {}", out.stderr);
    }
    let out = p.migrate(0, 0, &["--batch", "0"]).run();
    assert_eq!(out.code, USAGE, "{}", out.describe(&p.secrets()));
    assert!(target_empty(&p) && !p.state().exists());

    // Credentials in the URLs work, with a warning that names the
    // variables to use instead, and are never printed.
    let key = p.target.api_key().to_string();
    let out = red(&[
        "migrate",
        "--from",
        &format!("redis://:{SOURCE_PASSWORD}@127.0.0.1:{}/0", p.source.port),
        "--to",
        &format!("redis://:{key}@127.0.0.1:{}/0", p.target.wire_port),
    ])
    .arg("--state")
    .arg(p.state())
    .run();
    assert_eq!(out.code, 0, "{}", out.describe(&p.secrets()));
    assert_no_secret(&out, &p.secrets());
    assert!(
        out.stderr.contains("the password in --from is visible")
            && out.stderr.contains("REDDB_MIGRATE_FROM_PASSWORD_FILE"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the password in --to is visible")
            && out.stderr.contains("REDDB_MIGRATE_TO_KEY_FILE"),
        "{}",
        out.stderr
    );
    assert_eq!(p.target(0).cmd(&["GET", "k"]), harness::wire::bulk("v"));

    // Both a URL password and the variable: refused.
    let out = red(&[
        "migrate",
        "--from",
        &format!("redis://:x@127.0.0.1:{}/0", p.source.port),
        "--to",
        &p.target_url(0),
    ])
    .arg("--state")
    .arg(p.state())
    .env("REDDB_MIGRATE_FROM_PASSWORD", SOURCE_PASSWORD)
    .run();
    assert_eq!(out.code, USAGE, "{}", out.describe(&p.secrets()));
    assert!(
        out.stderr
            .contains("REDDB_MIGRATE_FROM_PASSWORD is set too"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_acl_user_and_a_source_that_cannot_track() {
    let Some(p) = Pair::start() else { return };
    let mut s = p.source(0);
    w(&mut s, &[b"HSET", b"oauth:client:c1", b"name", b"one"]);
    w(
        &mut s,
        &[b"SET", b"oauth:token:t1", b"{}", b"EX", b"2592000"],
    );
    w(
        &mut s,
        &[
            b"ACL",
            b"SETUSER",
            b"migrator",
            b"on",
            b">migrator-pw",
            b"~*",
            b"+@all",
        ],
    );
    w(
        &mut s,
        &[
            b"ACL",
            b"SETUSER",
            b"untracked",
            b"on",
            b">untracked-pw",
            b"~*",
            b"+@all",
            b"-client",
        ],
    );
    let url = |user: &str| format!("redis://{user}@127.0.0.1:{}/0", p.source.port);

    let out = red(&[
        "migrate",
        "--from",
        &url("migrator"),
        "--to",
        &p.target_url(0),
    ])
    .arg("--state")
    .arg(p.state())
    .env("REDDB_MIGRATE_FROM_PASSWORD", "migrator-pw")
    .env("REDDB_MIGRATE_TO_KEY", p.target.api_key())
    .run();
    assert_eq!(out.code, 0, "{}", out.describe(&p.secrets()));
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    assert_same(&dump(&mut s), &dump(&mut p.target(0)));

    // CLIENT denied: no change tracking; said, and the copy still done.
    let out = red(&[
        "migrate",
        "--from",
        &url("untracked"),
        "--to",
        &p.target_url(1),
    ])
    .arg("--state")
    .arg(p.state())
    .env("REDDB_MIGRATE_FROM_PASSWORD", "untracked-pw")
    .env("REDDB_MIGRATE_TO_KEY", p.target.api_key())
    .run();
    assert_eq!(out.code, 0, "{}", out.describe(&p.secrets()));
    assert!(
        out.stderr.contains("the source cannot report changes")
            && out.stderr.contains("stop writers"),
        "{}",
        out.stderr
    );
    assert_same(&dump(&mut s), &dump(&mut p.target(1)));
}

/// Fills `db` of the source with `n` strings `k{i}` = `v{i}`, pipelined.
fn fill_strings(p: &Pair, db: u32, n: usize) {
    let mut c = p.source(db);
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend(harness::wire::encode_command(&[
            "SET".to_string(),
            format!("k{i}"),
            format!("v{i}"),
        ]));
    }
    c.send(&batch).expect("send");
    for _ in 0..n {
        assert_eq!(c.read().expect("read"), Some(harness::wire::ok()));
    }
}

/// Starts a slow migration (`--batch 5`) and stops it (SIGSTOP) once the
/// target holds at least 200 keys and the scan is not done.
fn start_and_pause(p: &Pair, extra: &[&str]) -> Running {
    let mut args = vec!["--batch", "5"];
    args.extend_from_slice(extra);
    let mut run = p.migrate(0, 0, &args).spawn();
    let copied = harness::wait_until(Duration::from_secs(60), || {
        harness::wire::as_int(&p.target(0).cmd(&["DBSIZE"])) >= 200
    });
    assert!(
        copied && !run.has_exited(),
        "the migration did not get going"
    );
    run.signal(libc::SIGSTOP);
    let state = std::fs::read_to_string(p.state()).expect("the state file");
    assert!(
        state.contains("scan_complete 0"),
        "the scan finished too early: {state}"
    );
    run
}

/// Changes the source while the migration is paused: overwrites, deletes
/// (unless `deletes` is false), type changes, expiries and new keys, among
/// keys already copied.
fn change_source(p: &Pair, target_keys: &[Vec<u8>], deletes: bool) {
    let mut s = p.source(0);
    for (i, k) in target_keys.iter().take(150).enumerate() {
        match i % 5 {
            0 => w(&mut s, &[b"SET", k, b"changed"]),
            1 if deletes => w(&mut s, &[b"DEL", k]),
            1 => w(&mut s, &[b"SETEX", k, b"3600", b"changed"]),
            2 => {
                w(&mut s, &[b"DEL", k]);
                w(&mut s, &[b"RPUSH", k, b"now", b"a", b"list"]);
            }
            3 => w(&mut s, &[b"EXPIRE", k, b"5000"]),
            _ => w(&mut s, &[b"APPEND", k, b"+more"]),
        }
    }
    for i in 0..50 {
        w(&mut s, &[b"SET", format!("new{i}").as_bytes(), b"late"]);
    }
}

fn target_keys(p: &Pair) -> Vec<Vec<u8>> {
    dump(&mut p.target(0)).into_keys().collect()
}

#[test]
fn keys_changed_during_the_copy_are_copied_again() {
    let Some(p) = Pair::start() else { return };
    fill_strings(&p, 0, 3000);
    let run = start_and_pause(&p, &[]);
    change_source(&p, &target_keys(&p), true);
    run.signal(libc::SIGCONT);
    let out = run.wait();
    assert_eq!(out.code, 0, "{}", out.describe(&p.secrets()));
    assert!(
        count_line(&out, "copied again after a change") >= 120,
        "{}",
        out.stdout
    );
    assert!(
        count_line(&out, "gone from the source (deleted on the target)") >= 30,
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("full pass"), "{}", out.stderr);
    assert_same(&dump(&mut p.source(0)), &dump(&mut p.target(0)));
}

#[test]
fn a_flush_during_the_copy_means_a_full_pass_again() {
    let Some(p) = Pair::start() else { return };
    fill_strings(&p, 0, 3000);
    let run = start_and_pause(&p, &[]);
    // A flush of another database: the source reports "every key" (a null
    // invalidation), which no list of names can follow.
    let mut other = p.source(9);
    w(&mut other, &[b"SET", b"x", b"y"]);
    w(&mut other, &[b"FLUSHDB"]);
    change_source(&p, &target_keys(&p), false);
    run.signal(libc::SIGCONT);
    let out = run.wait();
    assert_eq!(out.code, 0, "{}", out.describe(&p.secrets()));
    assert!(out.stderr.contains("a full pass again"), "{}", out.stderr);
    assert!(
        count_line(&out, "copied again after a change") >= 3000,
        "{}",
        out.stdout
    );
    assert_same(&dump(&mut p.source(0)), &dump(&mut p.target(0)));
}

#[test]
fn an_interrupted_migration_resumes_from_its_state_file() {
    let Some(p) = Pair::start() else { return };
    fill_strings(&p, 0, 3000);
    let run = start_and_pause(&p, &[]);
    run.signal(libc::SIGINT);
    run.signal(libc::SIGCONT);
    let out = run.wait();
    assert_eq!(out.code, INTERRUPTED, "{}", out.describe(&p.secrets()));
    assert!(out.stderr.contains("--resume"), "{}", out.stderr);
    let state = std::fs::read_to_string(p.state()).expect("the state file stays");
    for s in p.secrets() {
        assert!(!state.contains(s), "a credential in the state file");
    }
    assert!(
        state.contains(&format!("source 127.0.0.1:{}/0", p.source.port)),
        "{state}"
    );
    let copied = target_keys(&p);
    assert!(copied.len() < 3000, "stopped part-way: {}", copied.len());

    // While nothing runs, keys already copied change. (A key deleted now
    // would stay on the target: nothing records which keys were copied —
    // see "Moving from Redis" in docs/OPERATIONS.md.)
    change_source(&p, &copied, false);

    // --resume without a state file is refused.
    let out = p
        .migrate(0, 0, &["--resume"])
        .arg("--state")
        .arg(p.dir.path().join("none"))
        .run();
    assert_eq!(out.code, 2, "{}", out.describe(&p.secrets()));

    // Without --resume, and with another target, the state file is refused.
    let out = p.migrate(0, 0, &[]).run();
    assert_eq!(out.code, USAGE, "{}", out.describe(&p.secrets()));
    assert!(out.stderr.contains("add --resume"), "{}", out.stderr);
    let out = p.migrate(0, 3, &["--resume"]).run();
    assert_eq!(out.code, USAGE, "{}", out.describe(&p.secrets()));
    assert!(out.stderr.contains("is for"), "{}", out.stderr);

    let out = p.migrate(0, 0, &["--resume", "--batch", "100"]).run();
    assert_eq!(out.code, 0, "{}", out.describe(&p.secrets()));
    assert_same(&dump(&mut p.source(0)), &dump(&mut p.target(0)));
    assert!(!p.state().exists());
}
