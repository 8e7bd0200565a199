//! `red import` against dumps written by Debian's real `redis-server`:
//! seed 001's key patterns (JSON client registrations, tokens with 30-day
//! and 5-minute TTLs, user token-index sets) and every type in its small
//! and large encodings, integers, binary keys and values, an LZF string
//! and several databases; `SAVE`; `red import`; then every key's type,
//! value and TTL (± 1 s) is compared over the wire with the source.
//!
//! Damaged files (truncated, a flipped checksum, bad magic, a bad length)
//! and refused content (a stream, a function library, `red.secret.*`,
//! existing keys) each get their exit code and message, and the database
//! file stays byte for byte what it was. An import killed (SIGKILL) at spread-out moments leaves
//! none of its keys or all of them. The tests that need redis-server are
//! skipped without it unless it is required (see `harness::cli::need`);
//! the hand-made files need none.

mod harness;

use harness::cli::{need, red, Output};
use harness::daemon::Daemon;
use harness::redis_reference::Reference;
use harness::wire::{Client, Value};
use reddb_rdb::write::{Encoding, RdbWriter};
use reddb_rdb::RdbValue;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DAMAGED: i32 = 31;
const REFUSED: i32 = 32;
const LOCKED: i32 = 14;

/// One key as a client sees it: type, value (collections in a canonical
/// order), and PTTL.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    kind: String,
    value: Vec<Vec<u8>>,
    pttl: i64,
}

fn bytes_of(v: &Value) -> Vec<u8> {
    match v {
        Value::Bulk(b) | Value::Simple(b) | Value::Double(b) => b.clone(),
        Value::Integer(i) => i.to_string().into_bytes(),
        other => panic!("not a string reply: {other:?}"),
    }
}

fn list_of(v: Value) -> Vec<Vec<u8>> {
    match v {
        Value::Array(items) | Value::Set(items) => items.iter().map(bytes_of).collect(),
        other => panic!("not an array reply: {other:?}"),
    }
}

fn int_of(v: Value) -> i64 {
    match v {
        Value::Integer(i) => i,
        other => panic!("not an integer reply: {other:?}"),
    }
}

/// Every key of databases 0..16 through `c`, by (db, key).
fn snapshot(c: &mut Client) -> BTreeMap<(u8, Vec<u8>), Seen> {
    let mut out = BTreeMap::new();
    for db in 0..16u8 {
        assert_eq!(
            c.cmd(&["SELECT", &db.to_string()]),
            Value::Simple(b"OK".to_vec())
        );
        for key in list_of(c.cmd(&["KEYS", "*"])) {
            let kind = String::from_utf8(bytes_of(&c.cmd(&[b"TYPE".as_slice(), &key]))).unwrap();
            let value = match kind.as_str() {
                "string" => vec![bytes_of(&c.cmd(&[b"GET".as_slice(), &key]))],
                "list" => list_of(c.cmd(&[b"LRANGE".as_slice(), &key, b"0", b"-1"])),
                "set" => {
                    let mut m = list_of(c.cmd(&[b"SMEMBERS".as_slice(), &key]));
                    m.sort();
                    m
                }
                "zset" => list_of(c.cmd(&[b"ZRANGE".as_slice(), &key, b"0", b"-1", b"WITHSCORES"])),
                "hash" => {
                    let flat = list_of(c.cmd(&[b"HGETALL".as_slice(), &key]));
                    let mut pairs: Vec<Vec<u8>> = flat
                        .chunks(2)
                        .map(|p| [p[0].as_slice(), b"\0=\0", p[1].as_slice()].concat())
                        .collect();
                    pairs.sort();
                    pairs
                }
                other => panic!("unexpected type {other}"),
            };
            let pttl = int_of(c.cmd(&[b"PTTL".as_slice(), &key]));
            out.insert((db, key), Seen { kind, value, pttl });
        }
    }
    assert_eq!(c.cmd(&["SELECT", "0"]), Value::Simple(b"OK".to_vec()));
    out
}

fn ok(c: &mut Client, args: &[&[u8]]) {
    let v = c.cmd(args);
    assert!(
        !matches!(v, Value::Error(_)),
        "{:?}: {v:?}",
        String::from_utf8_lossy(args[0])
    );
}

/// Seed 001's key patterns and every type in small and large encodings.
fn fill(c: &mut Client) {
    let s = |x: &str| x.as_bytes().to_vec();
    for i in 0..20 {
        let json = format!(
            r#"{{"client_id":"client_{i}","client_secret":"secret_{i}","client_name":"MCP client {i}","redirect_uris":["http://localhost:8080/callback"],"grant_types":["authorization_code","refresh_token"],"registration_access_token":"reg-{i}","created_at":"2024-01-01T00:00:00Z"}}"#
        );
        ok(
            c,
            &[
                b"SET",
                format!("oauth:client:client_{i}").as_bytes(),
                json.as_bytes(),
            ],
        );
    }
    for i in 0..30 {
        let json = format!(
            r#"{{"client_id":"client_{}","user_id":"github|user{i}","scope":"mcp:*"}}"#,
            i % 20
        );
        // Access tokens: 30 days.
        ok(
            c,
            &[
                b"SET",
                format!("oauth:token:jti-{i}").as_bytes(),
                json.as_bytes(),
                b"EX",
                b"2592000",
            ],
        );
    }
    for i in 0..10 {
        // CSRF state: 5 minutes; codes and refresh tokens: a year.
        ok(
            c,
            &[
                b"SET",
                format!("oauth:state:st-{i}").as_bytes(),
                b"csrf",
                b"EX",
                b"300",
            ],
        );
        ok(
            c,
            &[
                b"SET",
                format!("oauth:refresh:r-{i}").as_bytes(),
                b"{\"jti\":1}",
                b"EX",
                b"31536000",
            ],
        );
        ok(
            c,
            &[
                b"SET",
                format!("oauth:code:c-{i}").as_bytes(),
                b"code",
                b"PX",
                b"31536000000",
            ],
        );
    }
    for (u, n) in [("alice", 3), ("bob", 7), ("carol", 1)] {
        let mut args: Vec<Vec<u8>> = vec![s("SADD"), format!("oauth:user_tokens:{u}").into_bytes()];
        args.extend((0..n).map(|j| format!("jti-{j}").into_bytes()));
        ok(c, &args.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }
    // Strings: integer-looking, binary, compressible (LZF), empty.
    for (k, v) in [
        ("int:0", "0"),
        ("int:neg", "-1"),
        ("int:big", "12345678901"),
        ("int:pad", "007"),
        ("float", "3.14"),
        ("int:32", "-2147483648"),
        ("empty", ""),
    ] {
        ok(c, &[b"SET", k.as_bytes(), v.as_bytes()]);
    }
    ok(
        c,
        &[b"SET", b"bin:\x00\xff\r\n", b"\x00\x01\x02\xfe\xff value"],
    );
    let long = r#"{"client_id":"client_abc123","scope":"mcp:*"},"#.repeat(80);
    ok(
        c,
        &[b"SET", b"lzf:long", long.as_bytes(), b"PX", b"86400000"],
    );
    // Small encodings (defaults): listpack lists, hashes, zsets; intset.
    ok(
        c,
        &[b"RPUSH", b"list:small", b"a", b"1", b"-7", b"", b"\x00bin"],
    );
    ok(c, &[b"SADD", b"set:ints", b"1", b"2", b"-300", b"70000"]);
    ok(c, &[b"SADD", b"set:small", b"a", b"b", b"\xff"]);
    ok(
        c,
        &[
            b"ZADD",
            b"zset:small",
            b"1",
            b"a",
            b"2.5",
            b"b",
            b"-3",
            b"c",
            b"inf",
            b"d",
            b"-inf",
            b"e",
        ],
    );
    ok(
        c,
        &[b"HSET", b"hash:small", b"f1", b"v1", b"n", b"42", b"e", b""],
    );
    // Large encodings: thresholds down, so collections convert.
    for (name, value) in [
        ("list-max-listpack-size", "4"),
        ("set-max-intset-entries", "4"),
        ("zset-max-listpack-entries", "4"),
        ("hash-max-listpack-entries", "4"),
    ] {
        ok(c, &[b"CONFIG", b"SET", name.as_bytes(), value.as_bytes()]);
    }
    // 7.2+ has set listpacks; 7.0 refuses the name, which is fine.
    let _ = c.cmd(&["CONFIG", "SET", "set-max-listpack-entries", "4"]);
    let mut args = vec![s("RPUSH"), s("list:big")];
    args.extend((0..50).map(|i| i.to_string().into_bytes()));
    ok(c, &args.iter().map(Vec::as_slice).collect::<Vec<_>>());
    ok(
        c,
        &[
            b"RPUSH",
            b"list:plain",
            b"head",
            "x".repeat(9000).as_bytes(),
            b"tail",
        ],
    );
    let mut args = vec![s("SADD"), s("set:ints-big")];
    args.extend((0..10).map(|i| (i * 1000).to_string().into_bytes()));
    ok(c, &args.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let mut args = vec![s("SADD"), s("set:big")];
    args.extend((0..30).map(|i| format!("member-{i}").into_bytes()));
    ok(c, &args.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let mut args = vec![s("ZADD"), s("zset:big")];
    for i in 0..40 {
        args.push(format!("{}.125", i - 20).into_bytes());
        args.push(format!("m{i}").into_bytes());
    }
    ok(c, &args.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let mut args = vec![s("HSET"), s("hash:big")];
    for i in 0..40 {
        args.push(format!("field-{i}").into_bytes());
        args.push(format!("value-{i}").into_bytes());
    }
    ok(c, &args.iter().map(Vec::as_slice).collect::<Vec<_>>());
    ok(
        c,
        &[b"HSET", b"hash:long", b"k", "y".repeat(200).as_bytes()],
    );
    ok(c, &[b"PEXPIRE", b"hash:big", b"600000"]);
    // Other databases.
    ok(c, &[b"SELECT", b"1"]);
    ok(c, &[b"SET", b"oauth:client:client_0", b"{\"in\":\"db1\"}"]);
    ok(c, &[b"RPUSH", b"queue", b"j1", b"j2"]);
    ok(c, &[b"SELECT", b"9"]);
    ok(c, &[b"SET", b"session:abc", b"s", b"EX", b"3600"]);
    ok(c, &[b"SELECT", b"0"]);
}

/// `SAVE` on the source; the dump's path.
fn save(source: &Reference, c: &mut Client) -> PathBuf {
    assert_eq!(c.cmd(&["SAVE"]), Value::Simple(b"OK".to_vec()));
    source.dir().join("dump.rdb")
}

/// A stopped `--dev` red database in `dir` (its certificate beside it).
struct Target {
    daemon: Daemon,
    db: PathBuf,
    cert: PathBuf,
}

impl Target {
    fn new(dir: &Path) -> Target {
        let mut daemon = Daemon::start_dev(dir, &[]);
        daemon.stop();
        let db = dir.join("data.rdb");
        let cert = dir.join("data.rdb.cert");
        Target { daemon, db, cert }
    }

    fn import(&self, rdb: &Path, extra: &[&str]) -> Output {
        red(&["import", "--path"])
            .arg(&self.db)
            .arg("--rdb")
            .arg(rdb)
            .args(extra)
            .env("REDDB_CERTIFICATE_FILE", &self.cert)
            .run()
    }

    /// The file's bytes (to show a refusal changed nothing).
    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.db).expect("read the database file")
    }
}

fn assert_same(want: &BTreeMap<(u8, Vec<u8>), Seen>, got: &BTreeMap<(u8, Vec<u8>), Seen>) {
    let show = |k: &(u8, Vec<u8>)| format!("db {} {:?}", k.0, String::from_utf8_lossy(&k.1));
    for (k, w) in want {
        let g = got
            .get(k)
            .unwrap_or_else(|| panic!("{} is missing after the import", show(k)));
        assert_eq!((&g.kind, &g.value), (&w.kind, &w.value), "{}", show(k));
        if w.pttl < 0 {
            assert_eq!(g.pttl, w.pttl, "{}: TTL", show(k));
        } else {
            assert!(
                (g.pttl - w.pttl).abs() <= 1000,
                "{}: PTTL {} vs {}",
                show(k),
                g.pttl,
                w.pttl
            );
        }
    }
    let extra: Vec<String> = got
        .keys()
        .filter(|k| !want.contains_key(*k))
        .map(show)
        .collect();
    assert!(
        extra.is_empty(),
        "keys that the source does not have: {extra:?}"
    );
}

#[test]
fn an_import_carries_every_key_value_type_and_ttl() {
    if !need("redis-server", "redis-server", &["--version"]) {
        return;
    }
    let source = Reference::start_with(&["--rdbcompression", "yes"]);
    let mut src = Client::connect(source.port);
    fill(&mut src);
    let dump = save(&source, &mut src);
    let want = snapshot(&mut src);
    assert!(want.len() > 100, "the source holds {} keys", want.len());

    let dir = harness::tmp();
    let mut target = Target::new(dir.path());
    let out = target.import(&dump, &[]);
    assert!(out.success(), "{}", out.describe(&[]));
    let total = want.len();
    assert!(
        out.stdout
            .contains(&format!("total: {total} keys imported")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("checksum verified"), "{}", out.stdout);
    assert!(out.stdout.contains(", written by redis "), "{}", out.stdout);
    let strings = want.values().filter(|s| s.kind == "string").count();
    assert!(
        out.stdout.contains(&format!("string: {strings}\n")),
        "{}",
        out.stdout
    );

    target.daemon.start_again();
    let mut c = target.daemon.authed();
    assert_same(&want, &snapshot(&mut c));

    // The import is audited, by count only.
    let events = target
        .daemon
        .get(
            "/admin/audit?since=1h&action=keyspace.import",
            Some(target.daemon.api_key()),
        )
        .ok("audit");
    let events = events["events"].as_array().expect("events").clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0]["resource"],
        format!("keyspace ({total} keys from an RDB file)")
    );
    assert!(events[0]["principal"]
        .as_str()
        .unwrap()
        .starts_with("cli@uid-"));
    drop(c);
    target.daemon.stop();
    let out = target.import(&dump, &[]);
    assert_eq!(
        out.code,
        REFUSED,
        "a second import of the same keys: {}",
        out.describe(&[])
    );
    assert!(
        out.stderr
            .contains(&format!("{total} key(s) already exist")),
        "{}",
        out.stderr
    );
}

#[test]
fn replace_overwrites_existing_keys_and_nothing_else() {
    if !need("redis-server", "redis-server", &["--version"]) {
        return;
    }
    let source = Reference::start();
    let mut src = Client::connect(source.port);
    ok(&mut src, &[b"SET", b"a", b"1"]);
    ok(&mut src, &[b"SADD", b"oauth:user_tokens:alice", b"jti-1"]);
    let first = save(&source, &mut src);
    let first_copy = source.dir().join("first.rdb");
    std::fs::copy(&first, &first_copy).unwrap();

    let dir = harness::tmp();
    let mut target = Target::new(dir.path());
    // A key the target has already, which the source does not touch.
    target.daemon.start_again();
    let mut c = target.daemon.authed();
    ok(&mut c, &[b"SET", b"a", b"held by red"]);
    ok(&mut c, &[b"SET", b"own", b"kept"]);
    drop(c);
    target.daemon.stop();

    let before = target.bytes();
    let out = target.import(&first_copy, &[]);
    assert_eq!(out.code, REFUSED, "{}", out.describe(&[]));
    assert!(
        out.stderr
            .contains("1 key(s) already exist (--replace overwrites them)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("nothing was imported"),
        "{}",
        out.stderr
    );
    assert_eq!(target.bytes(), before, "a refused import changed the file");

    let out = target.import(&first_copy, &["--replace"]);
    assert!(out.success(), "{}", out.describe(&[]));
    target.daemon.start_again();
    let mut c = target.daemon.authed();
    assert_eq!(c.cmd(&["GET", "a"]), Value::Bulk(b"1".to_vec()));
    assert_eq!(c.cmd(&["GET", "own"]), Value::Bulk(b"kept".to_vec()));
    assert_eq!(
        c.cmd(&["SISMEMBER", "oauth:user_tokens:alice", "jti-1"]),
        Value::Integer(1)
    );
}

#[test]
fn damaged_files_are_refused_and_change_nothing() {
    if !need("redis-server", "redis-server", &["--version"]) {
        return;
    }
    let source = Reference::start();
    let mut src = Client::connect(source.port);
    fill(&mut src);
    let good = std::fs::read(save(&source, &mut src)).unwrap();
    let dir = harness::tmp();
    let target = Target::new(dir.path());
    let before = target.bytes();
    let n = good.len();

    let mut cases: Vec<(String, Vec<u8>, &str)> = Vec::new();
    for cut in [0, 4, 9, 10, n / 3, n / 2, n - 9, n - 1] {
        let want = if cut < 9 { "not an RDB file" } else { "" };
        cases.push((format!("truncated at {cut}"), good[..cut].to_vec(), want));
    }
    let mut crc = good.clone();
    crc[n - 3] ^= 0x40;
    cases.push(("a flipped checksum".into(), crc, "checksum mismatch"));
    let mut body = good.clone();
    body[n / 2] ^= 0x01;
    cases.push(("a flipped byte in the body".into(), body, ""));
    let mut magic = good.clone();
    magic[..5].copy_from_slice(b"REDIX");
    cases.push(("bad magic".into(), magic, "not an RDB file"));
    let mut version = good.clone();
    version[5..9].copy_from_slice(b"0099");
    cases.push((
        "an unknown version".into(),
        version,
        "RDB version 99 is not supported",
    ));
    let mut w = RdbWriter::new(10);
    w.raw(&[0])
        .string(b"k")
        .raw(&[0x80, 0x7f, 0xff, 0xff, 0xff])
        .raw(b"value");
    cases.push((
        "a string length past the end".into(),
        w.finish(true),
        "bad length encoding",
    ));
    let mut w = RdbWriter::new(10);
    w.raw(&[2]).string(b"k").raw(&[0x86]);
    cases.push((
        "an unknown length prefix".into(),
        w.finish(true),
        "bad length encoding",
    ));
    let mut w = RdbWriter::new(10);
    w.raw(&[20]).string(b"k").string(b"not a listpack");
    cases.push((
        "a malformed listpack".into(),
        w.finish(true),
        "malformed listpack",
    ));

    for (what, bytes, message) in cases {
        let path = dir.path().join("damaged.rdb");
        std::fs::write(&path, &bytes).unwrap();
        let out = target.import(&path, &[]);
        assert_eq!(out.code, DAMAGED, "{what}: {}", out.describe(&[]));
        assert!(
            out.stderr.contains("damaged RDB file"),
            "{what}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("at byte "),
            "{what}: no offset: {}",
            out.stderr
        );
        assert!(out.stderr.contains(message), "{what}: {}", out.stderr);
        assert!(
            out.stdout.is_empty(),
            "{what}: printed a summary: {}",
            out.stdout
        );
        assert_eq!(target.bytes(), before, "{what}: the database file changed");
    }
    // And the good file, for contrast, imports.
    let path = dir.path().join("good.rdb");
    std::fs::write(&path, &good).unwrap();
    let out = target.import(&path, &[]);
    assert!(out.success(), "{}", out.describe(&[]));
    assert_ne!(target.bytes(), before);
}

#[test]
fn unsupported_and_secret_content_is_refused_by_name() {
    if !need("redis-server", "redis-server", &["--version"]) {
        return;
    }
    let source = Reference::start();
    let mut src = Client::connect(source.port);
    ok(&mut src, &[b"SET", b"plain", b"1"]);
    ok(&mut src, &[b"XADD", b"events", b"*", b"field", b"value"]);
    ok(&mut src, &[b"XGROUP", b"CREATE", b"events", b"g", b"0"]);
    // A Redis Functions library is saved in the dump too (FUNCTION2).
    let library = b"#!lua name=tokens\nredis.register_function('count', function() return 1 end)";
    ok(&mut src, &[b"FUNCTION", b"LOAD", library]);
    let with_stream = source.dir().join("stream.rdb");
    std::fs::copy(save(&source, &mut src), &with_stream).unwrap();
    ok(&mut src, &[b"DEL", b"events"]);
    ok(&mut src, &[b"SET", b"red.secret.api", b"sk-live"]);
    let with_secret = save(&source, &mut src);

    let dir = harness::tmp();
    let mut target = Target::new(dir.path());
    let before = target.bytes();
    let out = target.import(&with_stream, &[]);
    assert_eq!(out.code, REFUSED, "{}", out.describe(&[]));
    assert!(
        out.stderr
            .contains("1 stream(s) (not carried over; --skip-unsupported skips them)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 function library(s)"),
        "{}",
        out.stderr
    );
    assert_eq!(target.bytes(), before);
    let out = target.import(&with_secret, &[]);
    assert_eq!(out.code, REFUSED, "{}", out.describe(&[]));
    assert!(
        out.stderr.contains("1 key(s) in red.secret.*"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("sk-live") && !out.stdout.contains("sk-live"));
    assert_eq!(target.bytes(), before);

    let out = target.import(&with_stream, &["--skip-unsupported"]);
    assert!(out.success(), "{}", out.describe(&[]));
    assert!(
        out.stdout.contains("skipped (stream, not carried over): 1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("skipped (function library, not carried over): 1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("total: 1 keys imported"),
        "{}",
        out.stdout
    );
    target.daemon.start_again();
    let mut c = target.daemon.authed();
    assert_eq!(c.cmd(&["GET", "plain"]), Value::Bulk(b"1".to_vec()));
    assert_eq!(c.cmd(&["EXISTS", "events"]), Value::Integer(0));

    // A running server holds the file: refused before anything is read.
    let out = target.import(&with_stream, &["--skip-unsupported"]);
    assert_eq!(out.code, LOCKED, "{}", out.describe(&[]));
    assert!(out.stderr.contains("locked"), "{}", out.stderr);
}

#[test]
fn expired_keys_are_skipped_and_databases_can_be_redirected() {
    // Hand-made: no redis-server needed.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut w = RdbWriter::new(11);
    w.select_db(0)
        .expire_ms(now_ms - 60_000)
        .item(b"gone", &RdbValue::String(b"x".to_vec()), Encoding::Plain)
        .expire_ms(now_ms + 3_600_000)
        .item(b"kept", &RdbValue::String(b"y".to_vec()), Encoding::Plain)
        .select_db(20)
        .item(
            b"high",
            &RdbValue::List(vec![b"1".to_vec()]),
            Encoding::Quicklist2(4),
        );
    let dir = harness::tmp();
    let rdb = dir.path().join("hand.rdb");
    std::fs::write(&rdb, w.finish(true)).unwrap();
    let mut target = Target::new(dir.path());
    let before = target.bytes();

    let out = target.import(&rdb, &[]);
    assert_eq!(out.code, REFUSED, "{}", out.describe(&[]));
    assert!(
        out.stderr
            .contains("1 key(s) in RDB databases above 15 (--db N"),
        "{}",
        out.stderr
    );
    assert_eq!(target.bytes(), before);

    let out = target.import(&rdb, &["--db", "16"]);
    assert_eq!(out.code, 2, "{}", out.describe(&[]));

    let out = target.import(&rdb, &["--db", "5"]);
    assert!(out.success(), "{}", out.describe(&[]));
    assert!(
        out.stdout.contains("skipped (already expired): 1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("total: 2 keys imported"),
        "{}",
        out.stdout
    );
    target.daemon.start_again();
    let mut c = target.daemon.authed();
    ok(&mut c, &[b"SELECT", b"5"]);
    assert_eq!(c.cmd(&["GET", "kept"]), Value::Bulk(b"y".to_vec()));
    assert_eq!(c.cmd(&["EXISTS", "gone"]), Value::Integer(0));
    assert_eq!(
        c.cmd(&["LRANGE", "high", "0", "-1"]),
        Value::Array(vec![Value::Bulk(b"1".to_vec())])
    );
    let ttl = int_of(c.cmd(&["TTL", "kept"]));
    assert!((3590..=3600).contains(&ttl), "TTL {ttl}");
    ok(&mut c, &[b"SELECT", b"0"]);
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Integer(0));
    drop(c);
    target.daemon.stop();

    // A dump saved with `rdbchecksum no` (a zero CRC) imports, and says so.
    let mut w = RdbWriter::new(10);
    w.item(
        b"unchecked",
        &RdbValue::String(b"z".to_vec()),
        Encoding::Plain,
    );
    let unchecked = dir.path().join("unchecked.rdb");
    std::fs::write(&unchecked, w.finish(false)).unwrap();
    let out = target.import(&unchecked, &[]);
    assert!(out.success(), "{}", out.describe(&[]));
    assert!(
        out.stdout
            .contains("warning: the RDB file carries no checksum"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("checksum absent"), "{}", out.stdout);
}

/// The keyspace count `red check` reports for the target.
fn keyspace_count(target: &Target) -> u64 {
    let out = red(&["check", "--path"])
        .arg(&target.db)
        .env("REDDB_CERTIFICATE_FILE", &target.cert)
        .run();
    assert!(out.success(), "red check: {}", out.describe(&[]));
    let line = out.line_value("users:");
    line.rsplit("keyspace: ")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no keyspace count in {line:?}"))
}

#[test]
fn a_killed_import_leaves_all_of_it_or_none() {
    // Hand-made, big enough that the import takes a while in a debug build.
    const KEYS: u64 = 40_000;
    let mut w = RdbWriter::new(11);
    for i in 0..KEYS {
        let key = format!("oauth:token:jti-{i}");
        let value = format!(
            r#"{{"client_id":"client_{}","user_id":"u{i}","scope":"mcp:*"}}"#,
            i % 97
        );
        w.item(
            key.as_bytes(),
            &RdbValue::String(value.into_bytes()),
            Encoding::Plain,
        );
    }
    let dir = harness::tmp();
    let rdb = dir.path().join("big.rdb");
    std::fs::write(&rdb, w.finish(true)).unwrap();
    let target = Target::new(dir.path());

    // SIGKILL at spread-out moments (reading, applying, writing the
    // snapshot, after): whatever the moment, the file opens with none of
    // the keys or all of them. (kill -9 keeps what reached the page cache;
    // power cuts inside the same steps are tests/store_crash.rs's.)
    let mut seen = BTreeMap::new();
    for delay_ms in [0u64, 40, 120, 250, 400, 600, 900, 1300] {
        let running = red(&["import", "--path"])
            .arg(&target.db)
            .arg("--rdb")
            .arg(&rdb)
            .env("REDDB_CERTIFICATE_FILE", &target.cert)
            .spawn();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        drop(running); // SIGKILL, then reaped
        let n = keyspace_count(&target);
        assert!(
            n == 0 || n == KEYS,
            "after a kill at {delay_ms} ms the file holds {n} of {KEYS} keys"
        );
        *seen.entry(n).or_insert(0) += 1;
        if n == KEYS {
            break;
        }
    }
    eprintln!("keyspace after each kill: {seen:?}");
    if keyspace_count(&target) == 0 {
        let out = target.import(&rdb, &[]);
        assert!(out.success(), "{}", out.describe(&[]));
    }
    assert_eq!(keyspace_count(&target), KEYS);
}
