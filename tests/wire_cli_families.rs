//! `redis-cli`, unchanged, drives every data-type family against a real
//! `redis-server` and against `red`, one process per command, and the two
//! printouts must be equal: `--no-raw` prints each reply with its type
//! (`(integer) 1`, `(nil)`, `(error) …`, numbered array items), so this
//! compares what a person at a terminal sees. red is reached through a URL
//! with a database number (`redis://default:KEY@127.0.0.1:PORT/3`; redis-cli 7.0 sends an empty user name for `redis://:KEY@…`, which redis-server refuses too) and redis-server
//! with `-n 3`, so URL database selection is part of the check.

mod harness;

use harness::cli::{need, program};
use harness::daemon::Daemon;
use harness::redis_reference::Reference;
use std::time::Duration;

/// Each family's commands, run in order on a flushed database 3.
const FAMILIES: &[(&str, &[&[&str]])] = &[
    (
        "strings",
        &[
            &["SET", "s", "10"],
            &["INCRBY", "s", "5"],
            &["INCRBYFLOAT", "s", "0.25"],
            &["APPEND", "s", "x"],
            &["GETRANGE", "s", "0", "2"],
            &["SETRANGE", "s", "1", "ZZ"],
            &["GET", "s"],
            &["STRLEN", "s"],
            &["MSET", "a", "1", "b", "2"],
            &["MGET", "a", "b", "nope"],
            &["MSETNX", "a", "9", "c", "3"],
            &["GETSET", "a", "7"],
            &["GETDEL", "a"],
            &["SETBIT", "bits", "9", "1"],
            &["GETBIT", "bits", "9"],
            &["BITCOUNT", "bits"],
            &["BITPOS", "bits", "1"],
            &["INCR", "s"],
        ],
    ),
    (
        "hashes",
        &[
            &["HSET", "h", "f", "1", "g", "two"],
            &["HINCRBY", "h", "f", "41"],
            &["HINCRBYFLOAT", "h", "f", "0.5"],
            &["HSETNX", "h", "g", "x"],
            &["HGET", "h", "g"],
            &["HMGET", "h", "f", "nope"],
            &["HLEN", "h"],
            &["HSTRLEN", "h", "g"],
            &["HEXISTS", "h", "f"],
            &["HDEL", "h", "g", "nope"],
            &["HGETALL", "h"],
            &["HINCRBY", "h", "nope", "x"],
        ],
    ),
    (
        "sets",
        &[
            &["SADD", "s1", "a", "b", "c"],
            &["SADD", "s2", "b", "c", "d"],
            &["SISMEMBER", "s1", "a"],
            &["SMISMEMBER", "s1", "a", "z"],
            &["SCARD", "s1"],
            &["SINTERCARD", "2", "s1", "s2"],
            &["SINTERSTORE", "s3", "s1", "s2"],
            &["SMOVE", "s1", "s2", "a"],
            &["SREM", "s1", "b", "z"],
            &["SUNIONSTORE", "s4", "s1", "s3"],
            &["SDIFFSTORE", "s5", "s2", "s1"],
            &["SCARD", "s5"],
        ],
    ),
    (
        "lists",
        &[
            &["RPUSH", "l", "a", "b", "c"],
            &["LPUSH", "l", "z"],
            &["LRANGE", "l", "0", "-1"],
            &["LINDEX", "l", "-1"],
            &["LSET", "l", "1", "A"],
            &["LINSERT", "l", "BEFORE", "b", "ab"],
            &["LPOS", "l", "b"],
            &["LREM", "l", "0", "ab"],
            &["LTRIM", "l", "0", "2"],
            &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
            &["RPOPLPUSH", "l", "l2"],
            &["LPOP", "l", "5"],
            &["LLEN", "l2"],
            &["RPOP", "l2"],
            &["LSET", "l2", "9", "x"],
            &["BLPOP", "l2", "0.01"],
            &["BLPOP", "empty", "0.01"],
        ],
    ),
    (
        "sorted sets",
        &[
            &["ZADD", "z", "1", "a", "2", "b", "3.5", "c"],
            &["ZADD", "z", "XX", "CH", "5", "a"],
            &["ZINCRBY", "z", "0.1", "b"],
            &["ZSCORE", "z", "b"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["ZRANGEBYSCORE", "z", "(2", "+inf"],
            &["ZREVRANK", "z", "a"],
            &["ZCOUNT", "z", "-inf", "3"],
            &["ZPOPMIN", "z"],
            &["ZADD", "w", "1", "x", "2", "b"],
            &["ZUNIONSTORE", "u", "2", "z", "w", "WEIGHTS", "1", "10"],
            &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
            &["ZREMRANGEBYRANK", "u", "0", "0"],
            &["ZCARD", "u"],
            &["ZADD", "z", "nan", "q"],
        ],
    ),
    (
        "keys and databases",
        &[
            &["SET", "k", "v"],
            &["EXPIRE", "k", "1000"],
            &["PERSIST", "k"],
            &["TYPE", "k"],
            &["RENAME", "k", "k2"],
            &["COPY", "k2", "k3"],
            &["MOVE", "k3", "5"],
            &["EXISTS", "k2", "k3"],
            &["DBSIZE"],
            &["OBJECT", "ENCODING", "k2"],
            &["SELECT", "16"],
            &["HSET", "k2", "f", "v"],
        ],
    ),
];

#[test]
fn redis_cli_prints_every_family_as_redis_server_does() {
    if !need("redis-cli", "redis-cli", &["--version"])
        || !need("redis-server", "redis-server", &["--version"])
    {
        return;
    }
    let reference = Reference::start();
    let dir = harness::tmp();
    let red = Daemon::start_dev(dir.path(), &[]);
    let redis_port = reference.port.to_string();
    let red_url = format!(
        "redis://default:{}@127.0.0.1:{}/3",
        red.api_key(),
        red.wire_port
    );
    let run = |target: &[&str], command: &[&str]| -> String {
        let out = program(
            "redis-cli",
            &[target, &["--no-raw", "--no-auth-warning"], command].concat(),
        )
        .timeout(Duration::from_secs(30))
        .run();
        format!("{}{}", out.stdout, out.stderr)
    };
    let on_redis: &[&str] = &["-p", &redis_port, "-n", "3"];
    let on_red: &[&str] = &["-u", &red_url];
    let mut failures = Vec::new();
    let mut compared = 0;
    for (family, commands) in FAMILIES {
        run(on_redis, &["FLUSHALL"]);
        run(on_red, &["FLUSHALL"]);
        for command in *commands {
            let theirs = run(on_redis, command);
            let ours = run(on_red, command);
            compared += 1;
            if ours != theirs {
                failures.push(format!(
                    "{family}: {command:?}\n  red:   {ours:?}\n  redis: {theirs:?}"
                ));
            }
        }
    }
    harness::assert_no_failures(&failures, compared, "redis-cli printouts");
    // The URL's database is the one the keys went to.
    let out = run(
        &[
            "-u",
            &format!(
                "redis://default:{}@127.0.0.1:{}/0",
                red.api_key(),
                red.wire_port
            ),
        ],
        &["DBSIZE"],
    );
    assert_eq!(out.trim(), "(integer) 0", "database 0 stays empty");
}
