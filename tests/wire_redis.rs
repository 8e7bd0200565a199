//! The Redis-compatible wire protocol of the real `red server`, over raw
//! loopback sockets: authentication first for every command, Redis's
//! semantics and error strings, RESP3 types after `HELLO 3`, TTLs that
//! expire on time and across a restart, atomic `MULTI`/`EXEC`, and no
//! acknowledged `SET` lost to `kill -9` under load.

mod harness;

use harness::daemon::{Daemon, Options};
use harness::wire::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

#[test]
fn every_command_needs_auth_first() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.client();
    let commands: &[&[&str]] = &[
        &["PING"],
        &["PING", "x"],
        &["ECHO", "x"],
        &["SELECT", "0"],
        &["RESET"],
        &["CLIENT", "SETNAME", "n"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETINFO", "LIB-NAME", "x"],
        &["CLIENT", "ID"],
        &["CLIENT", "LIST"],
        &["COMMAND"],
        &["COMMAND", "COUNT"],
        &["COMMAND", "DOCS"],
        &["COMMAND", "INFO", "get"],
        &["GET", "k"],
        &["SET", "k", "v"],
        &["SET", "k", "v", "EX", "10"],
        &["SETEX", "k", "10", "v"],
        &["PSETEX", "k", "10", "v"],
        &["SETNX", "k", "v"],
        &["GETDEL", "k"],
        &["GETEX", "k"],
        &["MGET", "k"],
        &["MSET", "k", "v"],
        &["DEL", "k"],
        &["UNLINK", "k"],
        &["EXISTS", "k"],
        &["EXPIRE", "k", "10"],
        &["PEXPIRE", "k", "10"],
        &["EXPIREAT", "k", "10"],
        &["PEXPIREAT", "k", "10"],
        &["TTL", "k"],
        &["PTTL", "k"],
        &["PERSIST", "k"],
        &["TYPE", "k"],
        &["KEYS", "*"],
        &["SCAN", "0"],
        &["DBSIZE"],
        &["INCR", "k"],
        &["INCRBY", "k", "2"],
        &["DECR", "k"],
        &["DECRBY", "k", "2"],
        &["SADD", "s", "m"],
        &["SREM", "s", "m"],
        &["SMEMBERS", "s"],
        &["SISMEMBER", "s", "m"],
        &["SCARD", "s"],
        &["HSET", "h", "f", "v"],
        &["HGET", "h", "f"],
        &["HMGET", "h", "f"],
        &["HGETALL", "h"],
        &["HDEL", "h", "f"],
        &["HEXISTS", "h", "f"],
        &["HLEN", "h"],
        &["MULTI"],
        &["EXEC"],
        &["DISCARD"],
        &["INFO"],
        &["INFO", "keyspace"],
        &["CONFIG", "GET", "maxmemory"],
        &["BGSAVE"],
        &["SAVE"],
        &["LASTSAVE"],
        &["SLOWLOG", "GET"],
        &["SLOWLOG", "LEN"],
        &["SLOWLOG", "RESET"],
        &["FLUSHDB"],
        &["NOSUCHCOMMAND", "x"],
    ];
    for cmd in commands {
        assert_eq!(c.cmd(cmd), err(NOAUTH), "{cmd:?} before AUTH");
    }
    // Inline commands too.
    assert_eq!(c.raw(b"PING\r\n"), err(NOAUTH));
    assert_eq!(c.raw(b"GET k\n"), err(NOAUTH));
    // HELLO without AUTH answers NOAUTH; a wrong password WRONGPASS.
    let hello = c.cmd(&["HELLO", "3"]);
    assert!(err_text(&hello).starts_with("NOAUTH HELLO must be called"));
    assert_eq!(c.cmd(&["AUTH", "rdb_k_0000"]), err(WRONGPASS));
    assert_eq!(c.cmd(&["AUTH", "not-a-token"]), err(WRONGPASS));
    assert_eq!(c.cmd(&["AUTH", "admin", "wrong-password"]), err(WRONGPASS));
    assert_eq!(c.cmd(&["AUTH", "nobody", "wrong-password"]), err(WRONGPASS));
    assert_eq!(c.cmd(&["PING"]), err(NOAUTH), "still not authenticated");
    assert_eq!(c.cmd(&["AUTH", s.api_key()]), ok());
    assert_eq!(c.cmd(&["PING"]), simple("PONG"));
    // Nothing written before AUTH reached the keyspace.
    assert_eq!(c.cmd(&["DBSIZE"]), int(0));
    // QUIT works before AUTH and closes.
    let mut q = s.client();
    assert_eq!(q.cmd(&["QUIT"]), ok());
    assert!(q.is_closed());
}

#[test]
fn auth_forms_and_hello() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    // AUTH <api key>
    let mut c = s.client();
    assert_eq!(c.cmd(&["AUTH", s.api_key()]), ok());
    // AUTH default <api key> (what clients send for a password-only URL)
    let mut c = s.client();
    assert_eq!(c.cmd(&["AUTH", "default", s.api_key()]), ok());
    assert_eq!(c.cmd(&["PING"]), simple("PONG"));
    // AUTH <user> <password>: Argon2 on the worker pool.
    let mut c = s.client();
    assert_eq!(c.cmd(&["AUTH", "admin", s.admin_password()]), ok());
    assert_eq!(c.cmd(&["SET", "k", "v"]), ok());
    // Too many arguments.
    assert_eq!(c.cmd(&["AUTH", "a", "b", "c"]), err("ERR syntax error"));
    // HELLO 3 AUTH user pass switches to RESP3 and answers a map.
    let mut c = s.client();
    let hello = c.cmd(&[
        "HELLO",
        "3",
        "AUTH",
        "admin",
        s.admin_password(),
        "SETNAME",
        "me",
    ]);
    let Value::Map(pairs) = hello else {
        panic!("HELLO 3 answers a map: {hello:?}")
    };
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key.as_bytes() == Some(k.as_bytes()))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("proto"), Some(int(3)));
    assert_eq!(get("version").map(|v| text(&v)), Some("7.0.0".into()));
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), bulk("me"));
    assert_eq!(c.cmd(&["GET", "missing"]), Value::Null);
    // HELLO 3 AUTH default <api key>
    let mut c = s.client();
    assert!(matches!(
        c.cmd(&["HELLO", "3", "AUTH", "default", s.api_key()]),
        Value::Map(_)
    ));
    // HELLO 2 after auth, flat array.
    assert!(matches!(c.cmd(&["HELLO", "2"]), Value::Array(_)));
    assert_eq!(c.cmd(&["GET", "missing"]), Value::Null);
    assert_eq!(
        c.cmd(&["HELLO", "4"]),
        err("NOPROTO unsupported protocol version")
    );
    assert_eq!(
        c.cmd(&["HELLO", "x"]),
        err("ERR Protocol version is not an integer or out of range")
    );
    // Wrong password in HELLO.
    let mut c = s.client();
    assert_eq!(
        c.cmd(&["HELLO", "3", "AUTH", "admin", "nope-nope"]),
        err(WRONGPASS)
    );
    assert_eq!(c.cmd(&["PING"]), err(NOAUTH));
    // RESET drops the authentication.
    let mut c = s.authed();
    assert_eq!(c.cmd(&["RESET"]), simple("RESET"));
    assert_eq!(c.cmd(&["PING"]), err(NOAUTH));
    // A non-admin vault user: authenticates, reads and writes, but FLUSHDB
    // is refused.
    s.post(
        "/auth/users",
        Some(s.api_key()),
        &serde_json::json!({"username": "bob", "password": "bob-password-1", "role": "user"}),
    )
    .ok("create bob");
    let mut b = s.client();
    assert_eq!(b.cmd(&["AUTH", "bob", "bob-password-1"]), ok());
    assert_eq!(b.cmd(&["GET", "k"]), bulk("v"));
    assert!(err_text(&b.cmd(&["FLUSHDB"])).starts_with("NOPERM"));
    assert_eq!(b.cmd(&["GET", "k"]), bulk("v"));
}

#[test]
fn revoked_api_key_logs_out_its_connections_at_once() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let body = s
        .post(
            "/auth/api-keys",
            Some(s.api_key()),
            &serde_json::json!({"label": "temp"}),
        )
        .ok("mint a key");
    let key = body["api_key"].as_str().unwrap().to_string();
    let id = body["key"]["id"].as_str().unwrap().to_string();
    let mut c = s.client();
    assert_eq!(c.cmd(&["AUTH", &key]), ok());
    assert_eq!(c.cmd(&["PING"]), simple("PONG"));
    assert_eq!(c.cmd(&["MULTI"]), ok());
    assert_eq!(c.cmd(&["SET", "k", "queued"]), simple("QUEUED"));
    s.delete(&format!("/auth/api-keys/{id}"), Some(s.api_key()))
        .ok("revoke the key");
    // No grace period: the very next command is refused, and a transaction
    // queued under the dead key is dropped, not run.
    assert_eq!(c.cmd(&["EXEC"]), err("NOAUTH Authentication required."));
    assert_eq!(c.cmd(&["PING"]), err("NOAUTH Authentication required."));
    assert_eq!(c.cmd(&["AUTH", &key]), err(WRONGPASS));
    let mut admin = s.authed();
    assert_eq!(
        admin.cmd(&["GET", "k"]),
        Value::Null,
        "the queued SET never ran"
    );
    // The connection itself stays usable with a live credential.
    assert_eq!(c.cmd(&["AUTH", s.api_key()]), ok());
    assert_eq!(c.cmd(&["PING"]), simple("PONG"));
}

#[test]
fn strings_and_errors_like_redis() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    assert_eq!(c.cmd(&["PING", "hi"]), bulk("hi"));
    assert_eq!(c.cmd(&["ECHO", "hello"]), bulk("hello"));
    assert_eq!(c.cmd(&["SELECT", "0"]), ok());
    assert_eq!(
        c.cmd(&["SELECT", "16"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        c.cmd(&["SELECT", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.cmd(&["GET", "k"]), Value::Null);
    assert_eq!(c.cmd(&["SET", "k", "v1"]), ok());
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v1"));
    assert_eq!(c.cmd(&["SET", "k", "v2", "NX"]), Value::Null);
    assert_eq!(c.cmd(&["SET", "k2", "v", "XX"]), Value::Null);
    assert_eq!(c.cmd(&["SET", "k", "v3", "XX", "GET"]), bulk("v1"));
    assert_eq!(c.cmd(&["SET", "k", "v4", "GET"]), bulk("v3"));
    assert_eq!(
        c.cmd(&["SET", "k", "v", "NX", "XX"]),
        err("ERR syntax error")
    );
    assert_eq!(
        c.cmd(&["SET", "k", "v", "EX", "1", "PX", "1"]),
        err("ERR syntax error")
    );
    assert_eq!(c.cmd(&["SET", "k", "v", "EX"]), err("ERR syntax error"));
    assert_eq!(c.cmd(&["SET", "k", "v", "BOGUS"]), err("ERR syntax error"));
    assert_eq!(
        c.cmd(&["SET", "k", "v", "EX", "0"]),
        err("ERR invalid expire time in 'set' command")
    );
    assert_eq!(
        c.cmd(&["SET", "k", "v", "EX", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.cmd(&["GET"]),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.cmd(&["GET", "a", "b"]),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.cmd(&["FOO", "a", "b"]),
        err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
    );
    assert_eq!(c.cmd(&["SETNX", "k", "x"]), int(0));
    assert_eq!(c.cmd(&["SETNX", "n1", "x"]), int(1));
    assert_eq!(c.cmd(&["GETDEL", "n1"]), bulk("x"));
    assert_eq!(c.cmd(&["GETDEL", "n1"]), Value::Null);
    assert_eq!(c.cmd(&["MSET", "a", "1", "b", "2"]), ok());
    assert_eq!(
        c.cmd(&["MSET", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(
        c.cmd(&["MGET", "a", "nope", "b"]),
        arr(vec![bulk("1"), Value::Null, bulk("2")])
    );
    assert_eq!(c.cmd(&["EXISTS", "a", "b", "a", "nope"]), int(3));
    assert_eq!(c.cmd(&["DEL", "a", "nope"]), int(1));
    assert_eq!(c.cmd(&["UNLINK", "b"]), int(1));
    assert_eq!(c.cmd(&["INCR", "n"]), int(1));
    assert_eq!(c.cmd(&["INCRBY", "n", "10"]), int(11));
    assert_eq!(c.cmd(&["DECR", "n"]), int(10));
    assert_eq!(c.cmd(&["DECRBY", "n", "20"]), int(-10));
    assert_eq!(
        c.cmd(&["INCR", "k"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.cmd(&["INCRBY", "n", "1.5"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.cmd(&["SET", "big", "9223372036854775807"]), ok());
    assert_eq!(
        c.cmd(&["INCR", "big"]),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(c.cmd(&["TYPE", "k"]), simple("string"));
    assert_eq!(c.cmd(&["TYPE", "nope"]), simple("none"));
    assert_eq!(c.cmd(&["SADD", "s", "x"]), int(1));
    let wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.cmd(&["GET", "s"]), wrongtype);
    assert_eq!(c.cmd(&["INCR", "s"]), wrongtype);
    assert_eq!(c.cmd(&["HSET", "s", "f", "v"]), wrongtype);
    assert_eq!(c.cmd(&["SADD", "k", "x"]), wrongtype);
    // MGET answers nil for a key of another type; SET replaces any type.
    assert_eq!(c.cmd(&["MGET", "s"]), arr(vec![Value::Null]));
    assert_eq!(c.cmd(&["SET", "s", "now-a-string"]), ok());
    assert_eq!(c.cmd(&["TYPE", "s"]), simple("string"));
    // Vault keys are refused, for reads and writes alike.
    let vault = err("ERR red.secret.* keys live in the vault: use the HTTP secrets API");
    assert_eq!(c.cmd(&["SET", "red.secret.x", "v"]), vault);
    assert_eq!(c.cmd(&["GET", "red.secret.x"]), vault);
    assert_eq!(c.cmd(&["MSET", "ok", "1", "red.secret.y", "2"]), vault);
    assert_eq!(c.cmd(&["GET", "ok"]), Value::Null, "MSET is all or nothing");
    assert_eq!(c.cmd(&["DEL", "red.secret.x"]), vault);
    // Binary keys and values, and an empty value.
    let bin_key: &[u8] = b"bin\x00\r\n\xffkey";
    let bin_val: &[u8] = b"\x00\x01\r\n\xfe";
    assert_eq!(c.cmd(&[&b"SET"[..], bin_key, bin_val]), ok());
    assert_eq!(
        c.cmd(&[&b"GET"[..], bin_key]),
        Value::Bulk(bin_val.to_vec())
    );
    assert_eq!(c.cmd(&["SET", "empty", ""]), ok());
    assert_eq!(c.cmd(&["GET", "empty"]), bulk(""));
    // GETEX
    assert_eq!(c.cmd(&["GETEX", "k", "EX", "100"]), bulk("v4"));
    let ttl = as_int(&c.cmd(&["TTL", "k"]));
    assert!((90..=100).contains(&ttl), "{ttl}");
    assert_eq!(c.cmd(&["GETEX", "k", "PERSIST"]), bulk("v4"));
    assert_eq!(c.cmd(&["TTL", "k"]), int(-1));
    assert_eq!(
        c.cmd(&["GETEX", "k", "EX", "1", "PX", "2"]),
        err("ERR syntax error")
    );
    // Pipelining: many commands in one write, replies in order.
    let mut batch = Vec::new();
    for i in 0..200 {
        batch.extend_from_slice(&encode_command(&["SET", &format!("p{i}"), &i.to_string()]));
    }
    for i in 0..200 {
        batch.extend_from_slice(&encode_command(&["GET", &format!("p{i}")]));
    }
    c.send(&batch).unwrap();
    for _ in 0..200 {
        assert_eq!(c.read().unwrap(), Some(ok()));
    }
    for i in 0..200 {
        assert_eq!(c.read().unwrap(), Some(bulk(&i.to_string())));
    }
    // A 1 MiB value.
    let big = "x".repeat(1024 * 1024);
    assert_eq!(c.cmd(&["SET", "large", &big]), ok());
    assert_eq!(c.cmd(&["GET", "large"]), bulk(&big));
}

#[test]
fn sets_hashes_and_resp3_types() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    assert_eq!(c.cmd(&["SADD", "s", "a", "b", "a"]), int(2));
    assert_eq!(c.cmd(&["SADD", "s", "c"]), int(1));
    assert_eq!(c.cmd(&["SCARD", "s"]), int(3));
    assert_eq!(c.cmd(&["SISMEMBER", "s", "a"]), int(1));
    assert_eq!(c.cmd(&["SISMEMBER", "s", "z"]), int(0));
    assert_eq!(c.cmd(&["SMEMBERS", "s"]), bulks(&["a", "b", "c"]));
    assert_eq!(c.cmd(&["SREM", "s", "a", "z"]), int(1));
    assert_eq!(c.cmd(&["SREM", "s", "b", "c"]), int(2));
    assert_eq!(c.cmd(&["EXISTS", "s"]), int(0), "an emptied set is gone");
    assert_eq!(c.cmd(&["SMEMBERS", "s"]), arr(vec![]));
    assert_eq!(c.cmd(&["HSET", "h", "f1", "v1", "f2", "v2"]), int(2));
    assert_eq!(c.cmd(&["HSET", "h", "f1", "v1b", "f3", "v3"]), int(1));
    assert_eq!(
        c.cmd(&["HSET", "h", "f1"]),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(c.cmd(&["HMSET", "h", "f4", "v4"]), ok());
    assert_eq!(c.cmd(&["HGET", "h", "f1"]), bulk("v1b"));
    assert_eq!(c.cmd(&["HGET", "h", "nope"]), Value::Null);
    assert_eq!(
        c.cmd(&["HMGET", "h", "f2", "nope", "f3"]),
        arr(vec![bulk("v2"), Value::Null, bulk("v3")])
    );
    assert_eq!(c.cmd(&["HLEN", "h"]), int(4));
    assert_eq!(c.cmd(&["HEXISTS", "h", "f2"]), int(1));
    assert_eq!(c.cmd(&["HDEL", "h", "f2", "nope"]), int(1));
    assert_eq!(
        c.cmd(&["HGETALL", "h"]),
        bulks(&["f1", "v1b", "f3", "v3", "f4", "v4"])
    );
    assert_eq!(c.cmd(&["TYPE", "h"]), simple("hash"));
    assert_eq!(c.cmd(&["SADD", "s", "x"]), int(1));
    // RESP3: maps, sets, nulls.
    assert!(matches!(c.cmd(&["HELLO", "3"]), Value::Map(_)));
    assert_eq!(
        c.cmd(&["HGETALL", "h"]),
        Value::Map(vec![
            (bulk("f1"), bulk("v1b")),
            (bulk("f3"), bulk("v3")),
            (bulk("f4"), bulk("v4")),
        ])
    );
    assert_eq!(c.cmd(&["SMEMBERS", "s"]), Value::Set(vec![bulk("x")]));
    assert_eq!(c.cmd(&["GET", "nope"]), Value::Null);
    assert_eq!(c.cmd(&["HGET", "h", "nope"]), Value::Null);
    assert!(matches!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        Value::Map(_)
    ));
    assert_eq!(c.cmd(&["HGETALL", "nope"]), Value::Map(vec![]));
}

#[test]
fn ttl_values_expiry_and_restart() {
    let dir = harness::tmp();
    let mut s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    // Short TTLs (checked for disappearance only, so a slow machine
    // cannot make them flaky) and long ones (checked for their values).
    assert_eq!(c.cmd(&["SET", "ex", "v", "EX", "2"]), ok());
    assert_eq!(c.cmd(&["SET", "px", "v", "PX", "1500"]), ok());
    assert_eq!(c.cmd(&["SETEX", "setex", "2", "v"]), ok());
    assert_eq!(c.cmd(&["PSETEX", "psetex", "1500", "v"]), ok());
    assert_eq!(c.cmd(&["SET", "ex100", "v", "EX", "100"]), ok());
    assert_eq!(c.cmd(&["SET", "px100", "v", "PX", "100000"]), ok());
    assert_eq!(c.cmd(&["SETEX", "setex100", "100", "v"]), ok());
    assert_eq!(c.cmd(&["PSETEX", "psetex100", "100000", "v"]), ok());
    assert_eq!(c.cmd(&["SET", "long", "v", "EX", "3600"]), ok());
    assert_eq!(c.cmd(&["SET", "persist", "v"]), ok());
    assert_eq!(c.cmd(&["TTL", "persist"]), int(-1));
    assert_eq!(c.cmd(&["TTL", "missing"]), int(-2));
    assert_eq!(c.cmd(&["PTTL", "missing"]), int(-2));
    for key in ["ex100", "setex100"] {
        let ttl = as_int(&c.cmd(&["TTL", key]));
        assert!((90..=100).contains(&ttl), "TTL {key} = {ttl}");
    }
    for key in ["px100", "psetex100"] {
        let pttl = as_int(&c.cmd(&["PTTL", key]));
        assert!((90_000..=100_000).contains(&pttl), "PTTL {key} = {pttl}");
    }
    assert_eq!(c.cmd(&["EXPIRE", "persist", "100"]), int(1));
    let ttl = as_int(&c.cmd(&["TTL", "persist"]));
    assert!((90..=100).contains(&ttl), "{ttl}");
    assert_eq!(c.cmd(&["EXPIRE", "persist", "200", "NX"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "persist", "50", "GT"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "persist", "200", "GT"]), int(1));
    assert_eq!(c.cmd(&["PERSIST", "persist"]), int(1));
    assert_eq!(c.cmd(&["PERSIST", "persist"]), int(0));
    assert_eq!(c.cmd(&["TTL", "persist"]), int(-1));
    assert_eq!(c.cmd(&["PEXPIRE", "persist", "100000"]), int(1));
    let pttl = as_int(&c.cmd(&["PTTL", "persist"]));
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let at = now.as_secs() + 1000;
    assert_eq!(c.cmd(&["EXPIREAT", "persist", &at.to_string()]), int(1));
    let ttl = as_int(&c.cmd(&["TTL", "persist"]));
    assert!((990..=1000).contains(&ttl), "{ttl}");
    let pat = now.as_millis() + 500_000;
    assert_eq!(c.cmd(&["PEXPIREAT", "persist", &pat.to_string()]), int(1));
    let pttl = as_int(&c.cmd(&["PTTL", "persist"]));
    assert!((490_000..=500_000).contains(&pttl), "{pttl}");
    assert_eq!(c.cmd(&["EXPIRE", "missing", "10"]), int(0));
    // A TTL in the past deletes.
    assert_eq!(c.cmd(&["SET", "gone", "v"]), ok());
    assert_eq!(c.cmd(&["EXPIRE", "gone", "-1"]), int(1));
    assert_eq!(c.cmd(&["EXISTS", "gone"]), int(0));
    // INCR keeps the TTL; SET clears it; KEEPTTL keeps it.
    assert_eq!(c.cmd(&["SET", "cnt", "1", "EX", "100"]), ok());
    assert_eq!(c.cmd(&["INCR", "cnt"]), int(2));
    assert!(as_int(&c.cmd(&["TTL", "cnt"])) > 0);
    assert_eq!(c.cmd(&["SET", "cnt", "5", "KEEPTTL"]), ok());
    assert!(as_int(&c.cmd(&["TTL", "cnt"])) > 0);
    assert_eq!(c.cmd(&["SET", "cnt", "6"]), ok());
    assert_eq!(c.cmd(&["TTL", "cnt"]), int(-1));
    // On time: gone after expiry (never returned, whatever the sweep did).
    std::thread::sleep(Duration::from_millis(1700));
    assert_eq!(c.cmd(&["GET", "px"]), Value::Null);
    assert_eq!(c.cmd(&["GET", "psetex"]), Value::Null);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.cmd(&["GET", "ex"]), Value::Null);
    assert_eq!(c.cmd(&["EXISTS", "setex"]), int(0));
    assert_eq!(c.cmd(&["TTL", "ex"]), int(-2));
    let keys = c.cmd(&["KEYS", "*"]);
    let Value::Array(keys) = keys else { panic!() };
    let names: BTreeSet<String> = keys.iter().map(text).collect();
    assert!(!names.contains("ex") && !names.contains("px"), "{names:?}");
    // Across a restart: short TTLs expire while the server is down; long
    // ones keep their absolute deadline.
    assert_eq!(c.cmd(&["SET", "short", "v", "EX", "2"]), ok());
    drop(c);
    s.restart();
    let mut c = s.authed();
    let ttl = as_int(&c.cmd(&["TTL", "long"]));
    assert!((3500..=3600).contains(&ttl), "TTL after restart = {ttl}");
    std::thread::sleep(Duration::from_millis(2100));
    s.restart();
    let mut c2 = s.authed();
    assert_eq!(c2.cmd(&["GET", "short"]), Value::Null);
    assert_eq!(c2.cmd(&["GET", "long"]), bulk("v"));
    assert_eq!(c2.cmd(&["GET", "ex"]), Value::Null);
    drop(c);
}

#[test]
fn multi_exec_is_atomic_and_durable() {
    let dir = harness::tmp();
    let mut s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    let mut other = s.authed();
    assert_eq!(c.cmd(&["MULTI"]), ok());
    assert_eq!(c.cmd(&["SET", "a", "1"]), simple("QUEUED"));
    assert_eq!(c.cmd(&["INCR", "a"]), simple("QUEUED"));
    assert_eq!(c.cmd(&["SADD", "s", "x", "y"]), simple("QUEUED"));
    assert_eq!(c.cmd(&["HSET", "h", "f", "v"]), simple("QUEUED"));
    assert_eq!(c.cmd(&["GET", "a"]), simple("QUEUED"));
    // Nothing is visible before EXEC.
    assert_eq!(other.cmd(&["GET", "a"]), Value::Null);
    assert_eq!(c.cmd(&["MULTI"]), err("ERR MULTI calls can not be nested"));
    assert_eq!(
        c.cmd(&["EXEC"]),
        arr(vec![ok(), int(2), int(2), int(1), bulk("2")])
    );
    assert_eq!(other.cmd(&["GET", "a"]), bulk("2"));
    // A queueing error aborts the whole transaction.
    assert_eq!(c.cmd(&["MULTI"]), ok());
    assert_eq!(c.cmd(&["SET", "b", "1"]), simple("QUEUED"));
    assert!(err_text(&c.cmd(&["NOSUCH"])).starts_with("ERR unknown command"));
    assert!(err_text(&c.cmd(&["GET"])).starts_with("ERR wrong number"));
    assert_eq!(
        c.cmd(&["EXEC"]),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(c.cmd(&["GET", "b"]), Value::Null);
    // A runtime error affects only its own command (Redis semantics).
    assert_eq!(c.cmd(&["MULTI"]), ok());
    assert_eq!(c.cmd(&["SET", "c", "x"]), simple("QUEUED"));
    assert_eq!(c.cmd(&["INCR", "c"]), simple("QUEUED"));
    assert_eq!(c.cmd(&["SET", "d", "y"]), simple("QUEUED"));
    let r = c.cmd(&["EXEC"]);
    let Value::Array(items) = r else {
        panic!("{r:?}")
    };
    assert_eq!(items.len(), 3);
    assert_eq!(items[0], ok());
    assert!(matches!(items[1], Value::Error(_)));
    assert_eq!(items[2], ok());
    // DISCARD, EXEC/DISCARD without MULTI.
    assert_eq!(c.cmd(&["MULTI"]), ok());
    assert_eq!(c.cmd(&["SET", "e", "1"]), simple("QUEUED"));
    assert_eq!(c.cmd(&["DISCARD"]), ok());
    assert_eq!(c.cmd(&["GET", "e"]), Value::Null);
    assert_eq!(c.cmd(&["EXEC"]), err("ERR EXEC without MULTI"));
    assert_eq!(c.cmd(&["DISCARD"]), err("ERR DISCARD without MULTI"));
    // A pipelined transaction (what redis-py sends) and a restart.
    let mut batch = Vec::new();
    for args in [
        vec!["MULTI"],
        vec!["SET", "t1", "a"],
        vec!["SET", "t2", "b"],
        vec!["DEL", "a"],
        vec!["EXEC"],
    ] {
        batch.extend_from_slice(&encode_command(&args));
    }
    c.send(&batch).unwrap();
    assert_eq!(c.read().unwrap(), Some(ok()));
    for _ in 0..3 {
        assert_eq!(c.read().unwrap(), Some(simple("QUEUED")));
    }
    assert_eq!(c.read().unwrap(), Some(arr(vec![ok(), ok(), int(1)])));
    drop(c);
    drop(other);
    s.restart();
    let mut c = s.authed();
    assert_eq!(
        c.cmd(&["MGET", "t1", "t2", "a", "c", "d"]),
        arr(vec![
            bulk("a"),
            bulk("b"),
            Value::Null,
            bulk("x"),
            bulk("y")
        ])
    );
    assert_eq!(c.cmd(&["SMEMBERS", "s"]), bulks(&["x", "y"]));
}

#[test]
fn scan_keys_dbsize_and_flushdb() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch.extend_from_slice(&encode_command(&["SET", &format!("oauth:token:{i}"), "v"]));
    }
    c.send(&batch).unwrap();
    for _ in 0..1000 {
        assert_eq!(c.read().unwrap(), Some(ok()));
    }
    assert_eq!(c.cmd(&["SADD", "oauth:user_tokens:bob", "t1"]), int(1));
    assert_eq!(c.cmd(&["HSET", "oauth:client:c1", "name", "x"]), int(1));
    assert_eq!(c.cmd(&["DBSIZE"]), int(1002));
    // A full SCAN returns every key exactly once.
    let scan_all = |c: &mut Client, extra: &[&str]| -> Vec<String> {
        let mut cursor = "0".to_string();
        let mut out = Vec::new();
        let mut calls = 0;
        loop {
            let mut args = vec!["SCAN", cursor.as_str()];
            args.extend_from_slice(extra);
            let r = c.cmd(&args);
            let Value::Array(parts) = r else {
                panic!("{r:?}")
            };
            cursor = text(&parts[0]);
            let Value::Array(keys) = &parts[1] else {
                panic!()
            };
            out.extend(keys.iter().map(text));
            calls += 1;
            assert!(calls < 10_000, "SCAN does not terminate");
            if cursor == "0" {
                return out;
            }
        }
    };
    let all = scan_all(&mut c, &["COUNT", "7"]);
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 1002, "no duplicates");
    assert_eq!(unique.len(), 1002);
    // Keys deleted and added during an iteration: every key present
    // throughout is still returned, none twice.
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    let mut round = 0;
    loop {
        let r = c.cmd(&["SCAN", &cursor, "COUNT", "50"]);
        let Value::Array(parts) = r else { panic!() };
        cursor = text(&parts[0]);
        let Value::Array(keys) = &parts[1] else {
            panic!()
        };
        seen.extend(keys.iter().map(text));
        round += 1;
        c.cmd(&["SET", &format!("new:{round}"), "v"]);
        c.cmd(&["DEL", &format!("oauth:token:{}", 900 + round)]);
        if cursor == "0" {
            break;
        }
        assert!(round < 10_000, "SCAN does not terminate");
    }
    let seen_set: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), seen_set.len(), "no key twice");
    for i in 0..900 {
        assert!(
            seen_set.contains(&format!("oauth:token:{i}")),
            "missing {i}"
        );
    }
    let m = scan_all(&mut c, &["MATCH", "oauth:token:1?", "COUNT", "100"]);
    assert_eq!(m.len(), 10);
    let t = scan_all(&mut c, &["TYPE", "set"]);
    assert_eq!(t, vec!["oauth:user_tokens:bob".to_string()]);
    assert_eq!(c.cmd(&["SCAN", "x"]), err("ERR invalid cursor"));
    assert_eq!(c.cmd(&["SCAN", "0", "COUNT", "0"]), err("ERR syntax error"));
    assert_eq!(c.cmd(&["SCAN", "0", "BOGUS", "1"]), err("ERR syntax error"));
    let k = c.cmd(&["KEYS", "oauth:client:*"]);
    assert_eq!(k, bulks(&["oauth:client:c1"]));
    let Value::Array(k) = c.cmd(&["KEYS", "oauth:token:99?"]) else {
        panic!()
    };
    assert_eq!(k.len(), 10);
    // FLUSHDB (admin).
    assert_eq!(c.cmd(&["FLUSHDB"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd(&["KEYS", "*"]), arr(vec![]));
    assert_eq!(c.cmd(&["SCAN", "0"]), arr(vec![bulk("0"), arr(vec![])]));
}

#[test]
fn info_config_slowlog_client_command_save() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "1", "EX", "100"]);
    let info = text(&c.cmd(&["INFO"]));
    for needle in [
        "# Server",
        "redis_version:7.0.0",
        "# Clients",
        "connected_clients:",
        "# Memory",
        "used_memory:",
        "# Persistence",
        "# Stats",
        "total_commands_processed:",
        "# Keyspace",
        "db0:keys=2,expires=1,avg_ttl=",
    ] {
        assert!(info.contains(needle), "INFO lacks {needle}: {info}");
    }
    let ks = text(&c.cmd(&["INFO", "keyspace"]));
    assert!(ks.starts_with("# Keyspace\r\ndb0:keys=2"), "{ks}");
    assert!(!ks.contains("# Server"));
    let mem = text(&c.cmd(&["INFO", "memory"]));
    assert!(mem.contains("used_memory_rss:"), "{mem}");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        bulks(&["maxmemory", "0"])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "appendonly"]),
        bulks(&["appendonly", "yes"])
    );
    assert_eq!(c.cmd(&["CONFIG", "GET", "save"]), bulks(&["save", ""]));
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "databases"]),
        bulks(&["databases", "16"])
    );
    let Value::Array(all) = c.cmd(&["CONFIG", "GET", "*"]) else {
        panic!()
    };
    assert!(all.len() >= 20);
    assert!(err_text(&c.cmd(&["CONFIG", "SET", "maxmemory", "1"])).starts_with("ERR"));
    assert_eq!(c.cmd(&["SLOWLOG", "RESET"]), ok());
    assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), int(0));
    assert_eq!(c.cmd(&["SLOWLOG", "GET"]), arr(vec![]));
    assert_eq!(c.cmd(&["SLOWLOG", "GET", "5"]), arr(vec![]));
    assert!(err_text(&c.cmd(&["SLOWLOG", "NOPE"])).starts_with("ERR unknown subcommand"));
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), Value::Null);
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", "worker-1"]), ok());
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), bulk("worker-1"));
    assert!(err_text(&c.cmd(&["CLIENT", "SETNAME", "a b"])).starts_with("ERR Client names"));
    assert_eq!(c.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]), ok());
    assert_eq!(c.cmd(&["CLIENT", "SETINFO", "LIB-VER", "8.0"]), ok());
    let id = as_int(&c.cmd(&["CLIENT", "ID"]));
    assert!(id > 0);
    let list = text(&c.cmd(&["CLIENT", "LIST"]));
    assert!(list.contains(&format!("id={id} ")), "{list}");
    assert!(list.contains("name=worker-1"), "{list}");
    assert!(list.contains("lib-name=redis-py"), "{list}");
    assert!(err_text(&c.cmd(&["CLIENT", "NOPE"])).starts_with("ERR unknown subcommand 'NOPE'"));
    assert!(as_int(&c.cmd(&["COMMAND", "COUNT"])) > 50);
    assert!(matches!(c.cmd(&["COMMAND", "DOCS"]), Value::Array(_)));
    assert!(matches!(c.cmd(&["COMMAND"]), Value::Array(_)));
    let before = as_int(&c.cmd(&["LASTSAVE"]));
    assert!(before > 1_600_000_000);
    assert_eq!(c.cmd(&["SAVE"]), ok());
    assert_eq!(c.cmd(&["BGSAVE"]), simple("Background saving started"));
    assert!(as_int(&c.cmd(&["LASTSAVE"])) >= before);
    assert_eq!(c.cmd(&["GET", "a"]), bulk("1"), "data survives SAVE");
    assert_eq!(c.cmd(&["DBSIZE"]), int(2));
}

#[test]
fn kill9_under_write_load_keeps_every_acknowledged_set() {
    let dir = harness::tmp();
    let mut s = Daemon::start_dev(dir.path(), &[]);
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for t in 0..6 {
        let mut c = s.authed();
        let acked = Arc::clone(&acked);
        let stop = Arc::clone(&stop);
        threads.push(std::thread::spawn(move || {
            let mut i = 0u64;
            let started = Instant::now();
            // Until the kill (or two minutes, or 2 million SETs at most).
            while !stop.load(Ordering::SeqCst)
                && i < 2_000_000
                && started.elapsed() < Duration::from_secs(120)
            {
                let key = format!("load:{t}:{i}");
                let val = format!("value-{t}-{i}");
                // Half the writers pipeline 8 SETs at a time.
                if t % 2 == 0 {
                    match c.try_cmd(&["SET", &key, &val]) {
                        Ok(v) if v == ok() => acked.lock().unwrap().push((key, val)),
                        _ => return,
                    }
                    i += 1;
                } else {
                    let mut batch = Vec::new();
                    let mut pairs = Vec::new();
                    for j in 0..8 {
                        let k = format!("load:{t}:{}", i + j);
                        let v = format!("value-{t}-{}", i + j);
                        batch.extend_from_slice(&encode_command(&["SET", &k, &v]));
                        pairs.push((k, v));
                    }
                    i += 8;
                    if c.send(&batch).is_err() {
                        return;
                    }
                    for p in pairs {
                        match c.read() {
                            Ok(Some(v)) if v == ok() => acked.lock().unwrap().push(p),
                            _ => return,
                        }
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    while acked.lock().unwrap().len() < 2000 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    s.kill9().expect("the server was running under load");
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "the load made progress: {}",
        acked.len()
    );
    eprintln!("{} acknowledged SETs before kill -9", acked.len());
    s.start_again();
    let mut c = s.authed();
    for chunk in acked.chunks(500) {
        let mut args = vec!["MGET".to_string()];
        args.extend(chunk.iter().map(|(k, _)| k.clone()));
        let r = c.cmd(&args);
        let Value::Array(vals) = r else {
            panic!("{r:?}")
        };
        for ((k, v), got) in chunk.iter().zip(vals) {
            assert_eq!(got, bulk(v), "acknowledged {k} lost after kill -9");
        }
    }
}

#[test]
fn everysec_mode_serves_and_persists_on_clean_stop() {
    let dir = harness::tmp();
    let mut s = Daemon::start_dev(dir.path(), &["--fsync", "everysec"]);
    let mut c = s.authed();
    for i in 0..100 {
        assert_eq!(c.cmd(&["SET", &format!("k{i}"), "v"]), ok());
    }
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "appendfsync"]),
        bulks(&["appendfsync", "everysec"])
    );
    // Flushed within about a second even without a stop.
    std::thread::sleep(Duration::from_millis(1600));
    s.kill9().expect("the server was running");
    s.start_again();
    let mut c = s.authed();
    assert_eq!(c.cmd(&["DBSIZE"]), int(100));
    assert_eq!(c.cmd(&["SET", "last", "v"]), ok());
    drop(c);
    s.restart();
    let mut c = s.authed();
    assert_eq!(c.cmd(&["GET", "last"]), bulk("v"));
}

#[test]
fn sealed_server_refuses_data_but_answers_the_admin_token() {
    let dir = harness::tmp();
    let mut s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    assert_eq!(c.cmd(&["SET", "k", "v"]), ok());
    drop(c);
    assert_eq!(s.stop(), 0);
    // Without --dev and without a certificate the file stays sealed.
    let cert = dir.path().join("data.rdb.cert");
    std::fs::rename(&cert, dir.path().join("moved.cert")).unwrap();
    s.opts = Options::new().env("RED_ADMIN_TOKEN", "admin-token-for-the-wire-protocol-test");
    s.start_again();
    let mut c = s.client();
    let r = c.cmd(&["AUTH", s.api_key()]);
    assert!(err_text(&r).contains("sealed"), "{r:?}");
    assert_eq!(c.cmd(&["PING"]), err(NOAUTH));
    assert_eq!(
        c.cmd(&["AUTH", "admin-token-for-the-wire-protocol-test"]),
        ok()
    );
    assert_eq!(c.cmd(&["PING"]), simple("PONG"));
    let r = c.cmd(&["GET", "k"]);
    assert!(err_text(&r).contains("sealed"), "{r:?}");
    let info = text(&c.cmd(&["INFO", "server"]));
    assert!(info.contains("vault_sealed:1"), "{info}");
    assert_eq!(s.stop(), 0);
    // Unsealed again, the data is there.
    std::fs::rename(dir.path().join("moved.cert"), &cert).unwrap();
    s.opts = Options::dev();
    s.start_again();
    let mut c = s.authed();
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v"));
}
