//! A seeded differential test of the wire protocol: reproducible random
//! command sequences over every keyspace command `red` lists (a small key
//! pool so types collide, integer and non-integer values, TTLs, wrong
//! arities, bad integers, unknown options) go to a `--dev` red and to a
//! real `redis-server` (both RESP2, flushed first), and every reply must be
//! the same — except the reviewed differences in [`INTENDED_DIFFERENCES`].
//!
//! `REDDB_EXTENDED=1` runs more seeds. A failure names its seed; `REDDB_SEED=<seed>` replays that one sequence.
//! When `redis-server` is not installed the test says so and passes —
//! unless `REDDB_REQUIRE_CLIENTS` is set.

mod harness;

use harness::redis_reference::SideBySide;
use harness::rng::{case_seed, seed_override, Rng};
use harness::wire::{text, Client, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const BASE_SEED: u64 = 0x00D1_FFE2_E7C1_A1ED;
const SEEDS: u64 = 3;
/// Seeds under `REDDB_EXTENDED=1`.
const EXTENDED_SEEDS: u64 = 60;
const COMMANDS_PER_SEED: usize = 400;
/// The whole run stops (passing what it compared) after this long.
const TIME_CAP: Duration = Duration::from_secs(150);
/// How many commands before a mismatch its report shows.
const HISTORY_SHOWN: usize = 15;

/// Where red answers differently from Redis on purpose, and how the test
/// treats each: reviewed, not discovered.
const INTENDED_DIFFERENCES: &[(&str, &str)] = &[
    (
        "flushdb, flushall",
        "admin-only in reddb: not generated (each seed starts with FLUSHALL on both)",
    ),
    (
        "scan",
        "cursor values and page sizes differ: a whole iteration's keys are compared as a set",
    ),
    (
        "keys, smembers, hgetall, sinter, sunion, sdiff",
        "no order is promised: compared sorted",
    ),
    (
        "sscan",
        "cursor values and page sizes differ: a whole iteration's members are compared as a set",
    ),
    (
        "spop, srandmember",
        "which members is random: compared by reply shape, size, membership in the set before \
         the command and distinctness (not for SRANDMEMBER's negative count, which may repeat); \
         after SPOP, redis-server's set is brought to red's (SADD of its popped members, SREM of \
         red's) so the sequence goes on from equal states",
    ),
    (
        "srandmember with a huge negative count",
        "red refuses an answer over 64 MiB (redis-server tries, and may exhaust its memory): \
         not generated",
    ),
    (
        "randomkey",
        "which key is random: only nil or not-nil and that the key exists are compared",
    ),
    (
        "ttl, pttl, expiretime, pexpiretime",
        "the two servers read the clock a few ms apart: equal within one second",
    ),
    (
        "dbsize",
        "Redis counts a key whose expiry has passed until something touches it; red counts live \
         keys: the test touches the key pool (EXISTS) on both servers before each DBSIZE",
    ),
    (
        "swapdb",
        "admin-only in reddb (like FLUSHDB): generated, the test connection is an admin",
    ),
    (
        "hkeys, hvals",
        "no order is promised: compared sorted (HVALS's values as a multiset)",
    ),
    (
        "hscan",
        "cursor values and page sizes differ: a whole iteration's field/value pairs are compared as a set",
    ),
    (
        "hrandfield",
        "which fields are random: only nil, the reply's length, or (one field) not-nil are compared",
    ),
    (
        "setrange, append past the size limit",
        "reddb's limit is 16 MiB per value, Redis's 512 MB proto-max-bulk-len; each names its own limit, so the two error lines are compared as one",
    ),
    (
        "hrandfield with a large negative count",
        "refused when the reply would pass one commit's size (48 MiB) instead of building it; not generated",
    ),
    (
        "blpop, brpop, blmove, brpoplpush, blmpop",
        "never generated with a timeout that waits for ever (0, or under a millisecond below \
         zero): one connection per server, nobody to wake it; their timeouts are 0.0001 to 0.02 s \
         (or refused) and an empty key answers the nil array on both after it",
    ),
    (
        "zscan",
        "cursor values and page sizes differ on sets Redis keeps in its large encoding (over \
         128 members, or a member over 64 bytes): a whole iteration's member/score pairs are \
         compared as a set",
    ),
    (
        "zrandmember",
        "which members is random: compared like SRANDMEMBER (with WITHSCORES, each member/score \
         pair must be in the set before the command); a repeating answer over 64 MiB is refused \
         (not generated)",
    ),
    (
        "a stored score of -0",
        "reads back as 0, as from Redis's small-set encoding (listpack); Redis's large encoding \
         (over 128 members) keeps -0: not generated on large sets",
    ),
    (
        "zrangebylex and the other lexicographic ranges over members of different scores",
        "answered as Redis's small-set encoding walks them (Redis documents the result as \
         unspecified; its large encoding may differ): compared exactly on the small sets generated",
    ),
    (
        "setbit past 16 MiB",
        "a bit whose byte is past reddb's 16 MiB per-value limit (but below Redis's 512 MB) is \
         refused with the value-size error; not generated (Redis would grow the string)",
    ),
    (
        "object encoding, refcount, idletime",
        "Redis's encoding depends on a value's history (APPEND leaves raw, INCRBYFLOAT embstr, a \
         set or hash never shrinks back) and reddb tracks no access time (IDLETIME is 0): the \
         stream compares errors, nil and the reply's type; tests/wire_control.rs compares the \
         encodings of freshly written values exactly",
    ),
];

/// The argument templates of the keyspace commands: the fixed part, then
/// option phrases of which zero to two are added. Tokens: `K` key, `K+`
/// keys, `KV+` key/value pairs, `V` value, `F`/`F+` hash fields, `FV+`
/// field/value pairs, `M`/`M+` set members, `I` integer, `FL` float, `S`
/// seconds, `MS` milliseconds, `AT`/`PAT` Unix seconds/ms, `P` glob
/// pattern, `N` count, `T` type name, `BIG` offset; anything else is
/// literal. A command without a template gets one from its arity.
const TEMPLATES: &[(&str, &str, &[&str])] = &[
    ("get", "K", &[]),
    ("eval", "LUA NK K V", &[]),
    ("eval_ro", "LUA NK K V", &[]),
    ("evalsha", "SHA NK K V", &[]),
    ("evalsha_ro", "SHA NK K V", &[]),
    (
        "set",
        "K V",
        &[
            "NX", "XX", "GET", "KEEPTTL", "EX S", "PX MS", "EXAT AT", "PXAT PAT", "BOGUS",
        ],
    ),
    ("setex", "K S V", &[]),
    ("psetex", "K MS V", &[]),
    ("setnx", "K V", &[]),
    ("getdel", "K", &[]),
    (
        "getex",
        "K",
        &["PERSIST", "EX S", "PX MS", "EXAT AT", "PXAT PAT", "BOGUS"],
    ),
    ("getset", "K V", &[]),
    ("mget", "K+", &[]),
    ("mset", "KV+", &[]),
    ("msetnx", "KV+", &[]),
    ("del", "K+", &[]),
    ("unlink", "K+", &[]),
    ("exists", "K+", &[]),
    ("touch", "K+", &[]),
    ("expire", "K S", &["NX", "XX", "GT", "LT", "BOGUS"]),
    ("pexpire", "K MS", &["NX", "XX", "GT", "LT"]),
    ("expireat", "K AT", &["NX", "XX", "GT", "LT"]),
    ("pexpireat", "K PAT", &["NX", "XX", "GT", "LT"]),
    ("ttl", "K", &[]),
    ("pttl", "K", &[]),
    ("expiretime", "K", &[]),
    ("pexpiretime", "K", &[]),
    ("persist", "K", &[]),
    ("type", "K", &[]),
    ("incr", "K", &[]),
    ("decr", "K", &[]),
    ("incrby", "K I", &[]),
    ("decrby", "K I", &[]),
    ("incrbyfloat", "K FL", &[]),
    ("hincrbyfloat", "K F FL", &[]),
    ("setbit", "K OFF BITV", &[]),
    ("getbit", "K OFF", &[]),
    (
        "bitcount",
        "K",
        &["I I", "I I BIT", "I I BYTE", "I I BOGUS"],
    ),
    ("bitpos", "K BITV", &["I", "I I", "I I BIT", "I I BYTE"]),
    ("object", "OBJSUB K", &[]),
    ("append", "K V", &[]),
    ("strlen", "K", &[]),
    ("getrange", "K I I", &[]),
    ("setrange", "K BIG V", &[]),
    ("rename", "K K", &[]),
    ("renamenx", "K K", &[]),
    ("copy", "K K", &["REPLACE", "DB D", "BOGUS"]),
    ("move", "K D", &[]),
    ("swapdb", "D D", &[]),
    ("select", "D", &[]),
    ("randomkey", "", &[]),
    ("sadd", "K M+", &[]),
    ("srem", "K M+", &[]),
    ("smembers", "K", &[]),
    ("sismember", "K M", &[]),
    ("scard", "K", &[]),
    ("smismember", "K M+", &[]),
    ("spop", "K", &["N"]),
    ("srandmember", "K", &["N"]),
    ("smove", "K K M", &[]),
    ("sinter", "K+", &[]),
    ("sunion", "K+", &[]),
    ("sdiff", "K+", &[]),
    ("sinterstore", "K K+", &[]),
    ("sunionstore", "K K+", &[]),
    ("sdiffstore", "K K+", &[]),
    ("sintercard", "2 K K", &["LIMIT N", "LIMIT N", "K", "1"]),
    (
        "sscan",
        "K 0",
        &["MATCH P", "MATCH m*", "COUNT N", "TYPE T"],
    ),
    ("hset", "K FV+", &[]),
    ("hmset", "K FV+", &[]),
    ("hget", "K F", &[]),
    ("hmget", "K F+", &[]),
    ("hgetall", "K", &[]),
    ("hdel", "K F+", &[]),
    ("hexists", "K F", &[]),
    ("hlen", "K", &[]),
    ("hincrby", "K F I", &[]),
    ("hsetnx", "K F V", &[]),
    ("hkeys", "K", &[]),
    ("hvals", "K", &[]),
    ("hstrlen", "K F", &[]),
    ("hrandfield", "K", &["N", "N WITHVALUES", "WITHVALUES"]),
    ("hscan", "K 0", &["MATCH P", "MATCH f[0-1]", "COUNT N"]),
    ("lpush", "K M+", &[]),
    ("rpush", "K M+", &[]),
    ("lpushx", "K M+", &[]),
    ("rpushx", "K M+", &[]),
    ("lpop", "K", &["N"]),
    ("rpop", "K", &["N"]),
    ("llen", "K", &[]),
    ("lrange", "K LI LI", &[]),
    ("lindex", "K LI", &[]),
    ("lset", "K LI M", &[]),
    ("linsert", "K WHERE M M", &[]),
    ("lrem", "K LI M", &[]),
    ("ltrim", "K LI LI", &[]),
    (
        "lpos",
        "K M",
        &["RANK LI", "COUNT N", "MAXLEN N", "RANK -1", "BOGUS"],
    ),
    ("lmove", "K K SIDE SIDE", &[]),
    ("rpoplpush", "K K", &[]),
    ("lmpop", "2 K K SIDE", &["COUNT N", "COUNT N", "K"]),
    ("blpop", "K+ TO", &[]),
    ("brpop", "K+ TO", &[]),
    ("blmove", "K K SIDE SIDE TO", &[]),
    ("brpoplpush", "K K TO", &[]),
    ("blmpop", "TO 2 K K SIDE", &["COUNT N", "COUNT N"]),
    ("zadd", "K ZF SM+", &[]),
    ("zincrby", "K SC M", &[]),
    ("zrem", "K M+", &[]),
    ("zscore", "K M", &[]),
    ("zmscore", "K M+", &[]),
    ("zcard", "K", &[]),
    ("zcount", "K SB SB", &[]),
    ("zlexcount", "K LB LB", &[]),
    (
        "zrange",
        "K ZB ZB",
        &["BYSCORE", "BYLEX", "REV", "LIMIT RK RK", "WITHSCORES"],
    ),
    ("zrangebyscore", "K SB SB", &["WITHSCORES", "LIMIT RK RK"]),
    ("zrevrange", "K RK RK", &["WITHSCORES"]),
    (
        "zrevrangebyscore",
        "K SB SB",
        &["WITHSCORES", "LIMIT RK RK"],
    ),
    ("zrangebylex", "K LB LB", &["LIMIT RK RK"]),
    ("zrevrangebylex", "K LB LB", &["LIMIT RK RK"]),
    ("zrank", "K M", &[]),
    ("zrevrank", "K M", &[]),
    ("zremrangebyscore", "K SB SB", &[]),
    ("zremrangebyrank", "K RK RK", &[]),
    ("zremrangebylex", "K LB LB", &[]),
    ("zpopmin", "K", &["N"]),
    ("zpopmax", "K", &["N"]),
    ("zrandmember", "K", &["N", "N WITHSCORES"]),
    ("zscan", "K 0", &["MATCH P", "MATCH m*", "COUNT N"]),
    (
        "zunionstore",
        "K 2 K K",
        &["WEIGHTS SC SC", "AGGREGATE AG", "WITHSCORES"],
    ),
    ("zinterstore", "K 2 K K", &["WEIGHTS SC SC", "AGGREGATE AG"]),
    ("zdiffstore", "K 2 K K", &["WEIGHTS SC SC", "K"]),
    (
        "zunion",
        "2 K K",
        &["WEIGHTS SC SC", "AGGREGATE AG", "WITHSCORES"],
    ),
    (
        "zinter",
        "2 K K",
        &["WEIGHTS SC SC", "AGGREGATE AG", "WITHSCORES"],
    ),
    ("zdiff", "2 K K", &["WITHSCORES", "AGGREGATE AG", "K"]),
    ("zintercard", "2 K K", &["LIMIT N", "K", "1"]),
    (
        "zrangestore",
        "K K ZB ZB",
        &["BYSCORE", "BYLEX", "REV", "LIMIT RK RK"],
    ),
    ("dbsize", "", &[]),
    // COMMAND GETKEYS[ANDFLAGS] of a command line generated from these
    // templates; CONFIG GET of parameters red knows, CONFIG SET of the
    // slow log's settings.
    ("command", "GETKEYS_OF", &[]),
    ("config", "CONFIG_ARGS", &[]),
    ("keys", "P", &[]),
    ("scan", "0", &["MATCH P", "COUNT N", "TYPE T"]),
    // Nobody subscribes in the stream: PUBLISH counts 0 receivers and
    // PUBSUB sees no channel, on both servers.
    ("publish", "K V", &[]),
    ("pubsub", "PUBSUB_ARGS", &[]),
];

/// Commands that may wait: the stream never appends an argument that
/// could be a timeout to them (see [`INTENDED_DIFFERENCES`]).
const BLOCKING: &[&str] = &["blpop", "brpop", "blmove", "brpoplpush", "blmpop"];

/// Keyspace commands the stream does not send (see [`INTENDED_DIFFERENCES`]).
const NOT_GENERATED: &[&str] = &["flushdb", "flushall"];
/// Commands without `write`/`readonly` the stream sends all the same.
const ALSO_GENERATED: &[&str] = &[
    "select", "command", "config", "publish", "pubsub", "eval", "evalsha",
];
/// The commands whose generated lines `COMMAND GETKEYS` and
/// `GETKEYSANDFLAGS` are asked about: every kind of key spec and flag.
const GETKEYS_SAMPLES: &[&str] = &[
    "set",
    "get",
    "mset",
    "msetnx",
    "del",
    "exists",
    "lmove",
    "rename",
    "renamenx",
    "copy",
    "smove",
    "sinterstore",
    "sunionstore",
    "zunionstore",
    "zinterstore",
    "zrangestore",
    "blmpop",
    "lmpop",
    "sintercard",
    "zintercard",
    "blpop",
    "incr",
    "append",
    "getdel",
    "expire",
    "object",
    "hset",
    "lpush",
    "zadd",
    "setnx",
    "type",
    "getex",
    "zpopmin",
];
/// `CONFIG GET` patterns that match only parameters red lists.
const CONFIG_PATTERNS: &[&str] = &[
    "*max-*-entries*",
    "maxmemory",
    "MAXMEMORY",
    "*listpack*",
    "*ziplist*",
    "list-*",
    "slowlog*",
    "databases",
    "timeout",
    "nosuch",
    "[m]axmemory",
    "set-max-intset-entries",
    "notify-keyspace-events",
];
/// `CONFIG SET` of the slow log: its two settings, good and bad values.
const CONFIG_SETS: &[&str] = &[
    "slowlog-max-len 128",
    "slowlog-max-len 64",
    "SLOWLOG-MAX-LEN x",
    "slowlog-max-len -1",
    "slowlog-max-len 007",
    "slowlog-log-slower-than 10000",
    "slowlog-log-slower-than -1",
    "slowlog-log-slower-than -2",
    "slowlog-log-slower-than 1.5",
    "slowlog-max-len 128 slowlog-max-len 128",
    "slowlog-max-len 100 slowlog-log-slower-than x",
    // Keyspace notifications on for the rest of the stream (no one
    // listens: the events are made and dropped), a bad class, off.
    "notify-keyspace-events KEA",
    "notify-keyspace-events Elg$",
    "notify-keyspace-events KQ",
    "notify-keyspace-events \"\"",
];
/// Database numbers: mostly 0 to 2 so keys meet again, and the refusals.
const DATABASES: &[&str] = &["0", "0", "1", "1", "2", "15", "16", "-1", "x"];

/// Small scripts for `EVAL`/`EVAL_RO`: each one key, one argument.
const SCRIPTS: &[&str] = &[
    "return redis.call('GET', KEYS[1])",
    "return redis.call('SET', KEYS[1], ARGV[1])",
    "return redis.call('INCRBY', KEYS[1], ARGV[1])",
    "return redis.pcall('LPUSH', KEYS[1], ARGV[1])",
    "return {redis.call('TYPE', KEYS[1]), redis.call('EXISTS', KEYS[1])}",
    "return redis.call('ZADD', KEYS[1], ARGV[1], 'm')",
    "local v = redis.call('GET', KEYS[1]) if v then return tonumber(v) end return false",
    "return redis.call('HSET', KEYS[1], 'f', ARGV[1])",
    "redis.call('DEL', KEYS[1]) return redis.call('SADD', KEYS[1], ARGV[1])",
    "return redis.call('EXPIRE', KEYS[1], ARGV[1])",
];
/// The SHA1s of [`SCRIPTS`] (cached on both servers once an `EVAL` ran
/// each), and one never loaded.
const SCRIPT_SHAS: &[&str] = &[
    "d3c21d0c2b9ca22f82737626a27bcaf5d288f99f",
    "d8f2fad9f8e86a53d2a6ebd960b33c4972cacc37",
    "8cd00688c05c46bde4a2e60658ef20a2e5c0b248",
    "cb94e6e9f4421434c13a3108a706b7e199d742cb",
    "45ae1c47d6ee8a31457d9d07e913dd872c69192a",
    "bda35f22fcf4aabd6769a2b29c7f2a29e6911891",
    "c94edfa8c287e6797b9b5abbb24463b7bc1795b9",
    "d230481ca317b0698c48b907c9225b13e55e54c3",
    "8b4302858e32d29450778200a5ae6b04fbbed69f",
    "fb0c3b9202d03cc22653ee84a321516522ab6c4b",
    "0000000000000000000000000000000000000000",
];
const NUMKEYS: &[&str] = &["1", "1", "1", "0", "2", "-1", "x"];

const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "{k}4"];
const FIELDS: &[&str] = &["f0", "f1", "f2"];
const MEMBERS: &[&str] = &["m0", "m1", "m2", "7"];
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "42",
    "10",
    "007",
    "+5",
    " 3",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "-0.25",
    "3e2",
    "1e400",
    "nan",
    "inf",
    "abc",
    "",
    "hello world",
    "10.50",
    "0x10",
];
const INTEGERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "5",
    "-3",
    "100",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "1.5",
    "12a",
    "",
    " 1",
];
const FLOATS: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.1",
    "1.5",
    "-2.25",
    "3e2",
    "1e-3",
    "10.0",
    "abc",
    "",
    "inf",
    "-inf",
    "nan",
    "1e308",
    "5e-324",
    "1.7976931348623157e308",
    " 1",
];
/// List indexes and counts (`LRANGE`, `LINDEX`, `LREM`, `LPOS RANK`…).
const LIST_INDEXES: &[&str] = &[
    "0",
    "0",
    "1",
    "-1",
    "-1",
    "2",
    "-2",
    "5",
    "-100",
    "100",
    "x",
    "99999999999999999999",
];
/// `LEFT|RIGHT` and a wrong word.
const SIDES: &[&str] = &["LEFT", "RIGHT", "left", "Right", "up"];
/// `BEFORE|AFTER` and a wrong word.
const WHERE: &[&str] = &["BEFORE", "AFTER", "after", "middle"];
/// Timeouts that never wait for ever, and refused ones.
const TIMEOUTS: &[&str] = &[
    "0.01", "0.01", "0.02", "0.0001", "x", "-1", "inf", "nan", " 1", "",
];
/// Bit offsets: none whose byte is past 16 MiB but below Redis's 512 MB
/// (see [`INTENDED_DIFFERENCES`]).
const BIT_OFFSETS: &[&str] = &["0", "1", "7", "8", "13", "100", "-1", "x", "4294967296"];
const BIT_VALUES: &[&str] = &["0", "1", "2", "-1", "x"];
const OBJECT_SUBCOMMANDS: &[&str] = &["ENCODING", "REFCOUNT", "IDLETIME", "FREQ", "BOGUS"];
const PATTERNS: &[&str] = &["*", "k*", "k[0-1]", "?1", "{k}*", "nomatch*", "k\\1"];
const TYPES: &[&str] = &["string", "set", "hash", "list", "zset", "bogus"];
/// Sorted-set scores: integers, decimals, exponents, infinities, hex,
/// `-0`, and texts Redis refuses (mostly valid ones, so sets grow).
const SCORES: &[&str] = &[
    "0", "1", "-1", "2", "1.5", "-2.25", "0.1", "3e2", "1e-3", "10.0", "7", "1.1", "0.3", "inf",
    "-inf", "+inf", "1e308", "-0", "0x10", "5e-324", "abc", "", "nan", " 1", "1e400",
];
/// Ends of a score interval (`ZRANGEBYSCORE`, `ZCOUNT`, …).
const SCORE_BOUNDS: &[&str] = &[
    "-inf", "+inf", "0", "1", "(1", "(0", "1.5", "(1.5", "-1", "(-inf", "2", "(2", "inf", "x",
    "(x", "", "nan", " 1", "1 ", "1e400", "(",
];
/// Ends of a lexicographic interval (`ZRANGEBYLEX`, …).
const LEX_BOUNDS: &[&str] = &[
    "-", "+", "[m0", "(m1", "[m2", "(7", "[m", "(m", "[", "(", "[a", "[z", "m1", "", "+x",
];
/// Positions, `LIMIT` offsets and counts.
const RANKS: &[&str] = &["0", "1", "-1", "2", "-2", "3", "100", "-100", "x"];
/// `ZRANGE`'s two ends: positions, scores or lexicographic bounds.
const RANGE_ENDS: &[&str] = &[
    "0", "1", "-1", "2", "-2", "(1", "1.5", "-inf", "+inf", "[m1", "(m0", "-", "+", "x",
];
const AGGREGATES: &[&str] = &["SUM", "MIN", "MAX", "max", "bogus"];
const ZADD_OPTIONS: &[&str] = &["NX", "XX", "GT", "LT", "CH", "CH", "INCR"];

/// The seeded source of commands.
struct Generator {
    rng: Rng,
    now_unix: u64,
}

impl Generator {
    fn pick(&mut self, from: &[&str]) -> String {
        let i = self.rng.below(from.len() as u64) as usize;
        from.get(i).copied().unwrap_or_default().to_string()
    }

    fn seconds(&mut self) -> String {
        match self.rng.below(10) {
            0 => "0".into(),
            1 => "-5".into(),
            2 => self.pick(&["abc", "1.5", "99999999999999999999", "9223372036854775807"]),
            _ => self.rng.between(100, 100_000).to_string(),
        }
    }

    fn unix_seconds(&mut self) -> String {
        match self.rng.below(8) {
            0 => "1".into(),
            1 => "abc".into(),
            _ => (self.now_unix + self.rng.between(100, 100_000)).to_string(),
        }
    }

    /// The arguments one template token stands for.
    fn expand(&mut self, token: &str, out: &mut Vec<String>) {
        if let Some((pools, repeated)) = pools_of(token) {
            let times = if repeated { self.rng.range(1, 4) } else { 1 };
            for _ in 0..times {
                for pool in pools {
                    out.push(self.pick(pool));
                }
            }
            return;
        }
        match token {
            "S" => out.push(self.seconds()),
            "MS" => {
                let s = self.seconds();
                out.push(
                    s.parse::<u32>()
                        .map_or(s, |n| (u64::from(n) * 1000).to_string()),
                );
            }
            "AT" => out.push(self.unix_seconds()),
            "PAT" => out.push(format!("{}000", self.unix_seconds())),
            "N" => out.push(self.pick(&["1", "3", "100", "0", "-1", "x"])),
            "ZF" => {
                for _ in 0..self.rng.below(3) {
                    out.push(self.pick(ZADD_OPTIONS));
                }
            }
            "BIG" => {
                out.push(self.pick(&["0", "1", "3", "10", "-1", "x", "536870912", "99999999999"]))
            }
            "GETKEYS_OF" => {
                out.push(self.pick(&["GETKEYSANDFLAGS", "GETKEYS", "getkeysandflags"]));
                let name = self.pick(GETKEYS_SAMPLES);
                out.extend(self.command(&name, ""));
            }
            "CONFIG_ARGS" => {
                if self.rng.below(3) == 0 {
                    out.push("SET".into());
                    let pairs = self.pick(CONFIG_SETS);
                    // `""` is an empty value.
                    out.extend(pairs.split_whitespace().map(|t| {
                        if t == "\"\"" {
                            String::new()
                        } else {
                            t.to_string()
                        }
                    }));
                } else {
                    out.push("GET".into());
                    for _ in 0..self.rng.range(1, 3) {
                        out.push(self.pick(CONFIG_PATTERNS));
                    }
                }
            }
            "PUBSUB_ARGS" => {
                let args = self.pick(&[
                    "CHANNELS",
                    "CHANNELS k*",
                    "NUMSUB k0 k1",
                    "NUMSUB",
                    "NUMPAT",
                    "NUMPAT x",
                    "SHARDCHANNELS",
                    "SHARDNUMSUB k0",
                    "HELP",
                    "BOGUS",
                ]);
                out.extend(args.split_whitespace().map(str::to_string));
            }
            literal => out.push(literal.to_string()),
        }
    }

    /// One command for `name`: its template (or `fallback`, from the
    /// arity), zero to two options, and sometimes a broken argument list.
    fn command(&mut self, name: &str, fallback: &str) -> Vec<String> {
        let (fixed, options) = TEMPLATES
            .iter()
            .find(|(n, _, _)| *n == name)
            .map_or((fallback, &[][..]), |(_, f, o)| (*f, *o));
        let mut args = vec![name.to_uppercase()];
        for token in fixed.split_whitespace() {
            self.expand(token, &mut args);
        }
        if !options.is_empty() {
            for _ in 0..self.rng.below(3) {
                let phrase = self.pick(options);
                for token in phrase.split_whitespace() {
                    self.expand(token, &mut args);
                }
            }
        }
        match self.rng.below(20) {
            0 if args.len() > 1 => {
                args.pop();
            }
            1 if BLOCKING.contains(&name) => args.push(self.pick(&["extra", "NX"])),
            1 => args.push(self.pick(&["extra", "1", "NX"])),
            _ => {}
        }
        args
    }
}

/// The pools a template token draws from, one value from each in turn,
/// and whether the group repeats (one to three times).
fn pools_of(token: &str) -> Option<(&'static [&'static [&'static str]], bool)> {
    Some(match token {
        "K" => (&[KEYS], false),
        "K+" => (&[KEYS], true),
        "KV+" => (&[KEYS, VALUES], true),
        "V" => (&[VALUES], false),
        "F" => (&[FIELDS], false),
        "F+" => (&[FIELDS], true),
        "FV+" => (&[FIELDS, VALUES], true),
        "M" => (&[MEMBERS], false),
        "M+" => (&[MEMBERS], true),
        "I" => (&[INTEGERS], false),
        "FL" => (&[FLOATS], false),
        "OFF" => (&[BIT_OFFSETS], false),
        "BITV" => (&[BIT_VALUES], false),
        "OBJSUB" => (&[OBJECT_SUBCOMMANDS], false),
        "P" => (&[PATTERNS], false),
        "T" => (&[TYPES], false),
        "D" => (&[DATABASES], false),
        "LI" => (&[LIST_INDEXES], false),
        "SIDE" => (&[SIDES], false),
        "WHERE" => (&[WHERE], false),
        "TO" => (&[TIMEOUTS], false),
        "SC" => (&[SCORES], false),
        "SM+" => (&[SCORES, MEMBERS], true),
        "SB" => (&[SCORE_BOUNDS], false),
        "LB" => (&[LEX_BOUNDS], false),
        "RK" => (&[RANKS], false),
        "ZB" => (&[RANGE_ENDS], false),
        "AG" => (&[AGGREGATES], false),
        "LUA" => (&[SCRIPTS], false),
        "SHA" => (&[SCRIPT_SHAS], false),
        "NK" => (&[NUMKEYS], false),
        _ => return None,
    })
}

/// A template for a command without one: its key, then values, as many
/// as its arity asks (two more for a variadic one).
fn template_from_arity(arity: i64, has_key: bool) -> String {
    let count = if arity >= 0 { arity - 1 } else { -arity + 1 };
    (0..count)
        .map(|i| if i == 0 && has_key { "K" } else { "V" })
        .collect::<Vec<_>>()
        .join(" ")
}

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a.clone(),
        _ => Vec::new(),
    }
}

fn integer(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Integer(i)) => *i,
        _ => 0,
    }
}

/// The keyspace commands red lists (flag `write` or `readonly`), with a
/// template each: name and fixed part.
fn keyspace_commands(red: &mut Client) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in items(&red.cmd(&["COMMAND", "LIST"])).iter().map(text) {
        let info = items(&red.cmd(&["COMMAND", "INFO", &name]));
        let fields = info.first().map(items).unwrap_or_default();
        let flags: Vec<String> = fields
            .get(2)
            .map(items)
            .unwrap_or_default()
            .iter()
            .map(text)
            .collect();
        // OBJECT is a container without flags (as in Redis) whose
        // subcommands read the keyspace.
        let is_keyspace = flags.iter().any(|f| f == "write" || f == "readonly")
            || ALSO_GENERATED.contains(&name.as_str())
            || name == "object";
        if is_keyspace && !NOT_GENERATED.contains(&name.as_str()) {
            let fallback = template_from_arity(integer(fields.get(1)), integer(fields.get(3)) > 0);
            out.push((name, fallback));
        }
    }
    out.sort();
    out
}

/// A reply as the test compares it (see [`INTENDED_DIFFERENCES`]).
#[derive(Debug, PartialEq)]
enum Compared {
    Exact(Value),
    Unordered(BTreeSet<Vec<u8>>),
    Pairs(BTreeSet<(Vec<u8>, Vec<u8>)>),
    /// A multiset, sorted.
    Sorted(Vec<Vec<u8>>),
    /// A time in ms or s, equal within `slack`.
    Clock(i64, i64),
    SomeKey,
    /// A random pick of this many elements.
    Length(usize),
    /// A "value too large" error, whatever limit it names.
    TooLarge,
    /// Random members: whether an array came back, how many, whether all
    /// were in the set before, whether none repeats (or repeats allowed).
    Sample {
        array: bool,
        len: usize,
        within: bool,
        distinct: bool,
    },
}

impl Compared {
    fn shown(&self) -> String {
        match self {
            Compared::Exact(v) => shown(v),
            other => format!("{other:?}"),
        }
    }

    fn same(&self, other: &Compared) -> bool {
        match (self, other) {
            (Compared::Clock(a, slack), Compared::Clock(b, _)) => (a - b).abs() <= *slack,
            _ => self == other,
        }
    }
}

/// A reply as readable text for a failure report.
fn shown(v: &Value) -> String {
    match v {
        Value::Array(a) | Value::Set(a) => {
            format!("[{}]", a.iter().map(shown).collect::<Vec<_>>().join(", "))
        }
        Value::Error(e) => format!("-{}", String::from_utf8_lossy(e)),
        other => match other.as_bytes() {
            Some(b) => format!("{:?}", String::from_utf8_lossy(b)),
            None => format!("{other:?}"),
        },
    }
}

fn bytes_of(v: &[Value]) -> BTreeSet<Vec<u8>> {
    bytes_of_each(v).into_iter().collect()
}

fn bytes_of_each(v: &[Value]) -> Vec<Vec<u8>> {
    v.iter()
        .filter_map(|x| x.as_bytes().map(<[u8]>::to_vec))
        .collect()
}

/// A flat field, value, … list as a set of pairs.
fn pairs_of(v: &[Value]) -> BTreeSet<(Vec<u8>, Vec<u8>)> {
    v.chunks(2)
        .filter_map(|p| {
            Some((
                p.first()?.as_bytes()?.to_vec(),
                p.get(1)?.as_bytes()?.to_vec(),
            ))
        })
        .collect()
}

/// Sends `args` to `c` and normalises the reply for `name`; SCAN is run
/// to the end of its iteration.
fn ask(c: &mut Client, name: &str, args: &[String]) -> Compared {
    if name == "dbsize" {
        // Redis counts a key whose expiry has passed until something
        // touches it (`SET k v PXAT 1000` leaves one); touch the key pool
        // first, on both servers, so both count live keys.
        let mut touch = vec!["EXISTS".to_string()];
        touch.extend(KEYS.iter().map(|k| (*k).to_string()));
        c.cmd(&touch);
    }
    let reply = c.cmd(args);
    if let Value::Error(e) = &reply {
        let e = String::from_utf8_lossy(e);
        if e.starts_with("ERR value too large") || e.starts_with("ERR string exceeds maximum") {
            return Compared::TooLarge;
        }
    }
    if matches!(reply, Value::Error(_) | Value::Null) {
        return Compared::Exact(reply);
    }
    match name {
        // (SPOP of a whole set, in a regression sequence.)
        "spop" if matches!(reply, Value::Array(_) | Value::Set(_)) => {
            Compared::Unordered(bytes_of(&items(&reply)))
        }
        "keys" | "smembers" | "hkeys" | "sinter" | "sunion" | "sdiff" => {
            Compared::Unordered(bytes_of(&items(&reply)))
        }
        "hvals" => {
            let mut all: Vec<Vec<u8>> = bytes_of_each(&items(&reply));
            all.sort();
            Compared::Sorted(all)
        }
        // CONFIG GET lists its parameters in no set order.
        "hgetall" | "config" => Compared::Pairs(pairs_of(&items(&reply))),
        "scan" => Compared::Unordered(bytes_of(&scan_to_end(c, args, 1, &reply))),
        "hscan" => Compared::Pairs(pairs_of(&scan_to_end(c, args, 2, &reply))),
        "sscan" => Compared::Unordered(bytes_of(&scan_to_end(c, args, 2, &reply))),
        "zscan" => Compared::Pairs(pairs_of(&scan_to_end(c, args, 2, &reply))),
        "hrandfield" => match &reply {
            Value::Array(a) => Compared::Length(a.len()),
            _ => Compared::SomeKey,
        },
        "randomkey" => Compared::SomeKey,
        "object" => match reply {
            Value::Integer(_) | Value::Bulk(_) => Compared::SomeKey,
            other => Compared::Exact(other),
        },
        "ttl" | "expiretime" => clock(reply, 1),
        "pttl" | "pexpiretime" => clock(reply, 1000),
        _ => Compared::Exact(reply),
    }
}

/// Commands whose replies are random (see [`INTENDED_DIFFERENCES`]).
const RANDOM: &[&str] = &["spop", "srandmember", "zrandmember"];

/// SPOP or SRANDMEMBER on both servers, compared by properties; after
/// SPOP, redis-server's set is made red's again.
fn ask_random(pair: &mut SideBySide, name: &str, args: &[String]) -> (Compared, Compared) {
    if name == "zrandmember" {
        return ask_zrandmember(pair, args);
    }
    let key = args.get(1).cloned().unwrap_or_default();
    let before = bytes_of(&items(&pair.red.cmd(&["SMEMBERS", key.as_str()])));
    let ours = pair.red.cmd(args);
    let theirs = pair.redis.cmd(args);
    let repeats = name == "srandmember"
        && args
            .get(2)
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|n| n < 0);
    if name == "spop" {
        let (red_popped, redis_popped) = (members_of(&ours), members_of(&theirs));
        if red_popped.iter().collect::<BTreeSet<_>>() != redis_popped.iter().collect() {
            for (command, members) in [("SADD", &redis_popped), ("SREM", &red_popped)] {
                let mut line = vec![command.to_string(), key.clone()];
                line.extend(
                    members
                        .iter()
                        .map(|m| String::from_utf8_lossy(m).into_owned()),
                );
                pair.redis.cmd(&line);
            }
        }
    }
    (
        sampled(&ours, &before, repeats),
        sampled(&theirs, &before, repeats),
    )
}

/// ZRANDMEMBER on both servers, compared by properties: each answer's
/// members (with their scores under WITHSCORES) must be in the set as it
/// was, distinct for a positive count.
fn ask_zrandmember(pair: &mut SideBySide, args: &[String]) -> (Compared, Compared) {
    let key = args.get(1).cloned().unwrap_or_default();
    let everything = ["ZRANGE", key.as_str(), "0", "-1", "WITHSCORES"];
    let before_pairs = match pair.red.cmd(&everything) {
        Value::Array(a) => pairs_of(&a),
        _ => BTreeSet::new(),
    };
    let withscores = args.iter().any(|a| a.eq_ignore_ascii_case("withscores"));
    let repeats = args
        .get(2)
        .and_then(|n| n.parse::<i64>().ok())
        .is_some_and(|n| n < 0);
    let ours = pair.red.cmd(args);
    let theirs = pair.redis.cmd(args);
    let judge = |reply: &Value| {
        if !withscores || !matches!(reply, Value::Array(_)) {
            let before = before_pairs.iter().map(|(m, _)| m.clone()).collect();
            return sampled(reply, &before, repeats);
        }
        let drawn = pairs_of(&items(reply));
        let count = items(reply).len() / 2;
        Compared::Sample {
            array: true,
            len: count,
            within: drawn.is_subset(&before_pairs),
            distinct: repeats || drawn.len() == count,
        }
    };
    (judge(&ours), judge(&theirs))
}

/// The members in a reply: one bulk, or an array of them.
fn members_of(reply: &Value) -> Vec<Vec<u8>> {
    match reply {
        Value::Array(a) | Value::Set(a) => a
            .iter()
            .filter_map(|v| v.as_bytes().map(<[u8]>::to_vec))
            .collect(),
        Value::Error(_) | Value::Null => Vec::new(),
        other => other.as_bytes().map(<[u8]>::to_vec).into_iter().collect(),
    }
}

fn sampled(reply: &Value, before: &BTreeSet<Vec<u8>>, repeats: bool) -> Compared {
    if matches!(reply, Value::Error(_) | Value::Null) {
        return Compared::Exact(reply.clone());
    }
    let members = members_of(reply);
    let unique: BTreeSet<&Vec<u8>> = members.iter().collect();
    Compared::Sample {
        array: matches!(reply, Value::Array(_) | Value::Set(_)),
        len: members.len(),
        within: members.iter().all(|m| before.contains(m)),
        distinct: repeats || unique.len() == members.len(),
    }
}

fn clock(reply: Value, slack: i64) -> Compared {
    match reply {
        Value::Integer(i) if i >= 0 => Compared::Clock(i, slack),
        other => Compared::Exact(other),
    }
}

/// Every element of a SCAN-like iteration whose first page is `first`;
/// the cursor is argument `slot`.
fn scan_to_end(c: &mut Client, args: &[String], slot: usize, first: &Value) -> Vec<Value> {
    let mut keys = Vec::new();
    let mut page = first.clone();
    for _ in 0..1000 {
        let parts = items(&page);
        keys.extend(parts.get(1).map(items).unwrap_or_default());
        let cursor = parts.first().map(text).unwrap_or_default();
        if cursor == "0" || cursor.is_empty() {
            break;
        }
        let mut next = args.to_vec();
        if let Some(at) = next.get_mut(slot) {
            *at = cursor;
        }
        page = c.cmd(&next);
    }
    keys
}

/// Runs one seed's sequence; the first mismatch, with the commands that
/// led to it.
fn run_seed(
    pair: &mut SideBySide,
    commands: &[(String, String)],
    seed: u64,
    deadline: Instant,
) -> Result<usize, String> {
    for c in [&mut pair.red, &mut pair.redis] {
        c.cmd(&["SELECT", "0"]);
        c.cmd(&["FLUSHALL"]);
        // EVALSHA finds what the seed's own EVALs cached, nothing older.
        c.cmd(&["SCRIPT", "FLUSH"]);
    }
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut generator = Generator {
        rng: Rng::new(seed),
        now_unix,
    };
    let mut history: Vec<String> = Vec::new();
    for n in 0..COMMANDS_PER_SEED {
        if Instant::now() >= deadline {
            return Ok(n);
        }
        let pick = generator.rng.below(commands.len() as u64) as usize;
        let Some((name, fallback)) = commands.get(pick) else {
            continue;
        };
        let args = generator.command(name, fallback);
        history.push(args.join(" "));
        let (ours, theirs) = if RANDOM.contains(&name.as_str()) {
            ask_random(pair, name, &args)
        } else {
            (
                ask(&mut pair.red, name, &args),
                ask(&mut pair.redis, name, &args),
            )
        };
        if !ours.same(&theirs) {
            let from = history.len().saturating_sub(HISTORY_SHOWN);
            return Err(format!(
                "seed {seed:#x} (replay: REDDB_SEED={seed:#x}), command {n}: {:?}\n  red:   {}\n  redis: {}\n  last commands:\n    {}",
                args,
                ours.shown(),
                theirs.shown(),
                history.get(from..).unwrap_or_default().join("\n    ")
            ));
        }
    }
    Ok(COMMANDS_PER_SEED)
}

#[test]
fn random_command_sequences_answer_as_redis_server_does() {
    let Some(mut pair) = SideBySide::start() else {
        return;
    };
    let commands = keyspace_commands(&mut pair.red);
    assert!(commands.len() > 30, "{commands:?}");
    eprintln!("intended differences: {INTENDED_DIFFERENCES:#?}");
    let seeds: Vec<u64> = match seed_override() {
        Some(seed) => vec![seed],
        None if harness::extended() => (0..EXTENDED_SEEDS)
            .map(|n| case_seed(BASE_SEED, n))
            .collect(),
        None => (0..SEEDS).map(|n| case_seed(BASE_SEED, n)).collect(),
    };
    let deadline = Instant::now() + TIME_CAP;
    let mut failures = Vec::new();
    for &seed in &seeds {
        match run_seed(&mut pair, &commands, seed, deadline) {
            Ok(n) => eprintln!("seed {seed:#x}: {n} commands answered alike"),
            Err(report) => failures.push(report),
        }
    }
    harness::assert_no_failures(&failures, seeds.len(), "seeded sequences");
}

/// The keyspace events a `PSUBSCRIBE __key*` connection received until
/// the message on channel `end` (which the caller publishes), without
/// `expired` (Redis's active expiry runs on its own clock).
fn events_until_end(sub: &mut Client) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut got = Vec::new();
    loop {
        let Some(Value::Array(items)) = sub.read().expect("read") else {
            panic!("the subscriber was closed");
        };
        let texts: Vec<Vec<u8>> = items
            .iter()
            .map(|i| i.as_bytes().unwrap_or_default().to_vec())
            .collect();
        let [_, _, channel, payload] = texts.as_slice() else {
            panic!("not a pmessage: {items:?}");
        };
        if channel == b"end" {
            return got;
        }
        if channel.ends_with(b":expired") || payload == b"expired" {
            continue;
        }
        got.push((channel.clone(), payload.clone()));
    }
}

/// One seed's sequence with keyspace notifications on (`KEAn`): after
/// every command, the events each server published are compared.
fn run_seed_with_events(
    pair: &mut SideBySide,
    commands: &[(String, String)],
    seed: u64,
    deadline: Instant,
) -> Result<usize, String> {
    let mut subs = [pair.red_conn(), pair.redis_conn()];
    for c in [&mut pair.red, &mut pair.redis] {
        c.cmd(&["SELECT", "0"]);
        c.cmd(&["FLUSHALL"]);
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEAn"]);
    }
    for s in &mut subs {
        s.cmd(&["PSUBSCRIBE", "*"]);
    }
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut generator = Generator {
        rng: Rng::new(seed),
        now_unix,
    };
    let mut history: Vec<String> = Vec::new();
    for n in 0..COMMANDS_PER_SEED {
        if Instant::now() >= deadline {
            return Ok(n);
        }
        let pick = generator.rng.below(commands.len() as u64) as usize;
        let Some((name, fallback)) = commands.get(pick) else {
            continue;
        };
        let args = generator.command(name, fallback);
        // SPOP's pick is random (and the other stream re-syncs the sets
        // with writes of its own); a CONFIG SET could turn the events off.
        if RANDOM.contains(&name.as_str()) || name == "config" {
            continue;
        }
        history.push(args.join(" "));
        let (ours, theirs) = (
            ask(&mut pair.red, name, &args),
            ask(&mut pair.redis, name, &args),
        );
        pair.red.cmd(&["PUBLISH", "end", "end"]);
        pair.redis.cmd(&["PUBLISH", "end", "end"]);
        let [red_sub, redis_sub] = &mut subs;
        let (our_events, their_events) = (events_until_end(red_sub), events_until_end(redis_sub));
        if !ours.same(&theirs) || our_events != their_events {
            let from = history.len().saturating_sub(HISTORY_SHOWN);
            let shown = |e: &[(Vec<u8>, Vec<u8>)]| -> String {
                e.iter()
                    .map(|(c, p)| {
                        format!(
                            "{}={}",
                            String::from_utf8_lossy(c),
                            String::from_utf8_lossy(p)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            return Err(format!(
                "seed {seed:#x} (replay: REDDB_SEED={seed:#x}), command {n}: {:?}\n  red:   {} events {}\n  redis: {} events {}\n  last commands:\n    {}",
                args,
                ours.shown(),
                shown(&our_events),
                theirs.shown(),
                shown(&their_events),
                history.get(from..).unwrap_or_default().join("\n    ")
            ));
        }
    }
    Ok(COMMANDS_PER_SEED)
}

#[test]
fn random_command_sequences_notify_as_redis_server_does() {
    let Some(mut pair) = SideBySide::start() else {
        return;
    };
    let commands = keyspace_commands(&mut pair.red);
    let seeds: Vec<u64> = match seed_override() {
        Some(seed) => vec![seed],
        None if harness::extended() => (0..EXTENDED_SEEDS)
            .map(|n| case_seed(BASE_SEED ^ 0xE7E7, n))
            .collect(),
        None => (0..SEEDS)
            .map(|n| case_seed(BASE_SEED ^ 0xE7E7, n))
            .collect(),
    };
    let deadline = Instant::now() + TIME_CAP;
    let mut failures = Vec::new();
    for &seed in &seeds {
        match run_seed_with_events(&mut pair, &commands, seed, deadline) {
            Ok(n) => eprintln!("seed {seed:#x}: {n} commands notified alike"),
            Err(report) => failures.push(report),
        }
    }
    harness::assert_no_failures(&failures, seeds.len(), "seeded sequences with events");
}

/// Sequences where red once answered differently from redis-server: each
/// runs on both, flushed first, and every reply must match.
const REGRESSIONS: &[&[&[&str]]] = &[
    // SET and GETEX options may repeat (the last expiry wins); the
    // expiry's number is checked after every option is read.
    &[
        &["SET", "k", "v", "EX", "100", "EX", "200"],
        &["SET", "k", "v", "EX", "abc", "EX", "200"],
        &["SET", "k", "v", "NX", "NX", "GET", "GET"],
        &["SET", "k", "v", "EX", "100", "PX", "100"],
        &["SET", "k", "v", "KEEPTTL", "KEEPTTL"],
        &["TTL", "k"],
    ],
    // GETEX answers a missing key (nil) or another type (WRONGTYPE) before
    // it checks the expiry's number.
    &[
        &["GETEX", "missing", "PX", "0", "PX", "100000"],
        &["GETEX", "missing", "PXAT", "abc"],
        &["SADD", "s", "m"],
        &["GETEX", "s", "EX", "0"],
        &["SET", "k", "v"],
        &["GETEX", "k", "EX", "0"],
        &["GETEX", "k", "PERSIST", "PERSIST"],
        &["GETEX", "k", "PERSIST", "EX", "10"],
    ],
    // RENAME keeps the TTL, replaces the target whatever its type, and
    // answers `ERR no such key` for a missing source.
    &[
        &["SET", "a", "1", "EX", "1000"],
        &["SADD", "b", "m"],
        &["RENAME", "a", "b"],
        &["TTL", "b"],
        &["TYPE", "b"],
        &["RENAME", "a", "c"],
        &["RENAME", "b", "b"],
        &["RENAMENX", "b", "b"],
        &["GETRANGE", "b", "-100", "-50"],
        &["GETRANGE", "b", "5", "1"],
    ],
    // EXPIRE reads its options before its number, and names an unknown
    // option as the client wrote it.
    &[
        &["SET", "k", "v"],
        &["EXPIRE", "k", "-5", "GT", "BOGUS"],
        &["EXPIRE", "k", "abc", "Bogus"],
        &["EXPIRE", "k", "abc", "NX"],
    ],
    // SETRANGE checks the offset's sign before the key's type, and answers
    // an empty value with the current length before any size check.
    &[
        &["SADD", "s", "m"],
        &["SETRANGE", "s", "-1", "x"],
        &["SETRANGE", "s", "0", ""],
        &["SETRANGE", "k", "536870912", ""],
        &["SETRANGE", "k", "536870912", "v"],
        &["SETRANGE", "k", "3", "ab"],
        &["GET", "k"],
        &["SETRANGE", "k", "0", "xyzzy1"],
        &["MSETNX", "k", "1", "n"],
        &["MSETNX", "k", "1", "n", "2"],
        &["MSETNX", "n", "1", "o", "2"],
        &["EXPIRETIME", "k"],
        &["PEXPIRETIME", "none"],
    ],
    // HINCRBY reads its increment before the key; HSCAN answers a missing
    // key before reading its options; HRANDFIELD checks its count's range.
    &[
        &["HINCRBY", "h", "a", "x"],
        &["HSET", "h", "a", "1", "b", "x"],
        &["HINCRBY", "h", "b", "1"],
        &["HINCRBY", "h", "c", "9223372036854775807"],
        &["HINCRBY", "h", "c", "1"],
        &["HSETNX", "h", "a", "2"],
        &["HSETNX", "h", "d", "2"],
        &["HSTRLEN", "h", "c"],
        &["HSCAN", "none", "0", "bogus"],
        &["HSCAN", "h", "x"],
        &["HSCAN", "h", "0", "TYPE", "string"],
        &["HSCAN", "h", "0", "COUNT", "0"],
        &["HRANDFIELD", "h", "-9223372036854775808"],
        &["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"],
        &["HRANDFIELD", "h", "1", "x"],
        &["HRANDFIELD", "s", "1"],
        &["HRANDFIELD", "none", "-5"],
        &["COPY", "h", "h"],
        &["COPY", "h", "h2", "DB", "x"],
        &["COPY", "h", "h2", "DB"],
        &["COPY", "h", "h2", "DB", "0"],
        &["COPY", "a", "h2", "REPLACE"],
        &["COPY", "h", "h2"],
        &["HGETALL", "h2"],
    ],
    // The set family: type checks of every key in order, SMOVE's order of
    // checks, an empty …STORE deleting its destination, SINTERCARD's and
    // SSCAN's errors (SSCAN reads its options only for an existing set).
    &[
        &["SADD", "a", "1", "2", "3"],
        &["SADD", "b", "2", "3", "4"],
        &["SET", "str", "x", "EX", "100"],
        &["SINTER", "missing", "str"],
        &["SUNION", "a", "str"],
        &["SDIFF", "missing", "str"],
        &["SDIFFSTORE", "str", "a", "b"],
        &["TTL", "str"],
        &["SMEMBERS", "str"],
        &["SINTERSTORE", "str", "a", "missing"],
        &["EXISTS", "str"],
        &["SMOVE", "missing", "str", "1"],
        &["SET", "str", "x"],
        &["SMOVE", "a", "str", "1"],
        &["SMOVE", "a", "a", "1"],
        &["SMOVE", "a", "b", "2"],
        &["SMEMBERS", "b"],
        &["SMISMEMBER", "a", "1", "2", "9"],
        &["SINTERCARD", "2", "a", "b", "LIMIT", "1", "LIMIT", "0"],
        &["SINTERCARD", "0", "a"],
        &["SINTERCARD", "99999999999999999999", "a"],
        &["SINTERCARD", "3", "a", "b"],
        &["SINTERCARD", "1", "a", "LIMIT", "-1"],
        &["SINTERCARD", "1", "a", "LIMIT"],
        &["SINTERCARD", "2", "missing", "str"],
        &["SSCAN", "missing", "0", "COUNT", "0"],
        &["SSCAN", "str", "0", "BOGUS"],
        &["SSCAN", "a", "x"],
        &["SSCAN", "a", "0", "COUNT", "0"],
        &["SSCAN", "a", "0", "TYPE", "set"],
        &["SSCAN", "a", "0", "MATCH", "1*", "COUNT", "100"],
        &["SPOP", "a", "-1"],
        &["SPOP", "missing", "x"],
        &["SPOP", "str", "0"],
        &["SPOP", "a", "1", "2"],
        &["SPOP", "missing"],
        &["SPOP", "missing", "3"],
        &["SRANDMEMBER", "a", "-9223372036854775808"],
        &["SRANDMEMBER", "a", "x"],
        &["SRANDMEMBER", "missing", "-3"],
        &["SRANDMEMBER", "str", "0"],
        &["SPOP", "b", "100"],
        &["EXISTS", "b"],
    ],
    // The list family: the order of checks (counts and indexes before or
    // after the key, as Redis reads them), nil versus nil array versus
    // empty array, LPOS's options, LMPOP's arguments, the blocking forms'
    // timeouts and their non-blocking answers.
    &[
        &["RPUSH", "l", "a", "b", "c", "a", "b", "c"],
        &["SET", "s", "x"],
        &["LPOP", "l", "-1"],
        &["LPOP", "l", "x"],
        &["LPOP", "l", "0"],
        &["LPOP", "missing", "0"],
        &["LPOP", "missing", "x"],
        &["LPOP", "s", "x"],
        &["LPOP", "s", "0"],
        &["LPOP", "missing"],
        &["LPOP", "l", "1", "2"],
        &["RPOP", "l", "2"],
        &["LPOP", "l", "10"],
        &["RPUSH", "l", "a", "b", "c", "a", "b", "c"],
        &["LINDEX", "missing", "x"],
        &["LINDEX", "s", "x"],
        &["LINDEX", "l", "x"],
        &["LINDEX", "l", "-6"],
        &["LINDEX", "l", "-7"],
        &["LSET", "missing", "x", "v"],
        &["LSET", "s", "x", "v"],
        &["LSET", "l", "x", "v"],
        &["LSET", "l", "100", "v"],
        &["LSET", "l", "-7", "v"],
        &["LSET", "l", "-6", "v"],
        &["LRANGE", "missing", "x", "1"],
        &["LRANGE", "s", "0", "x"],
        &["LRANGE", "s", "0", "1"],
        &["LRANGE", "l", "-100", "100"],
        &["LRANGE", "l", "3", "1"],
        &["LTRIM", "missing", "x", "1"],
        &["LTRIM", "s", "0", "1"],
        &["LTRIM", "missing", "0", "1"],
        &["LREM", "missing", "x", "a"],
        &["LREM", "s", "0", "a"],
        &["LREM", "l", "-1", "c"],
        &["LRANGE", "l", "0", "-1"],
        &["LINSERT", "missing", "middle", "a", "b"],
        &["LINSERT", "s", "before", "a", "b"],
        &["LINSERT", "missing", "before", "a", "b"],
        &["LINSERT", "l", "before", "zz", "b"],
        &["LINSERT", "l", "AFTER", "c", "d"],
        &["LPUSHX", "missing", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "l", "x", "y"],
        &["LPOS", "missing", "a"],
        &["LPOS", "missing", "a", "COUNT", "0"],
        &["LPOS", "l", "a"],
        &["LPOS", "l", "a", "RANK", "0"],
        &["LPOS", "l", "a", "RANK", "-9223372036854775808"],
        &[
            "LPOS",
            "l",
            "a",
            "RANK",
            "-9223372036854775808",
            "COUNT",
            "1",
        ],
        &[
            "LPOS",
            "l",
            "a",
            "RANK",
            "9223372036854775807",
            "COUNT",
            "1",
        ],
        &["LPOS", "l", "a", "RANK", "x"],
        &["LPOS", "l", "a", "COUNT", "-1"],
        &["LPOS", "l", "a", "COUNT", "x"],
        &["LPOS", "l", "a", "MAXLEN", "-1"],
        &["LPOS", "l", "a", "BOGUS"],
        &["LPOS", "l", "a", "RANK"],
        &["LPOS", "l", "a", "RANK", "-1", "COUNT", "0"],
        &["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "3"],
        &["LPOS", "l", "zz", "COUNT", "2"],
        &["LPOS", "s", "a", "RANK", "0"],
        &["LPOS", "s", "a", "COUNT", "1"],
        &["LMPOP", "1", "missing", "LEFT"],
        &["LMPOP", "0", "l", "LEFT"],
        &["LMPOP", "x", "l", "LEFT"],
        &["LMPOP", "2", "l", "LEFT"],
        &["LMPOP", "1", "l", "MIDDLE"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "0"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "2", "COUNT", "2"],
        &["LMPOP", "2", "missing", "l", "RIGHT", "COUNT", "2"],
        &["LMPOP", "2", "s", "l", "RIGHT", "COUNT", "2"],
        &["LMPOP", "9223372036854775807", "l", "LEFT"],
        &["LMOVE", "missing", "s", "left", "right"],
        &["LMOVE", "l", "l", "up", "right"],
        &["LMOVE", "l", "s", "left", "right"],
        &["LMOVE", "l", "l", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "l", "l"],
        &["RPOPLPUSH", "l", "m"],
        &["LRANGE", "l", "0", "-1"],
        &["LRANGE", "m", "0", "-1"],
        &["BLPOP", "missing", "x"],
        &["BLPOP", "missing", "-1"],
        &["BLPOP", "missing", "inf"],
        &["BLPOP", "missing", "1e400"],
        &["BLPOP", "missing", "nan"],
        &["BLPOP", "missing", "1e-5000"],
        &["BLPOP", "missing", "92233720368547758"],
        &["BLPOP", "missing", "0.01"],
        &["BLPOP", "missing", "0.0001"],
        &["BLPOP", "s", "0.01"],
        &["BRPOP", "missing", "l", "0"],
        &["BLMOVE", "missing", "l", "left", "up", "0.01"],
        &["BLMOVE", "missing", "l", "left", "right", "x"],
        &["BLMOVE", "missing", "l", "left", "right", "0.01"],
        &["BLMOVE", "l", "s", "left", "right", "0"],
        &["BRPOPLPUSH", "m", "l", "0"],
        &["BRPOPLPUSH", "missing", "l", "0.01"],
        &["BLMPOP", "x", "0", "missing", "LEFT"],
        &["BLMPOP", "x", "1", "missing", "UP"],
        &["BLMPOP", "x", "1", "missing", "LEFT"],
        &["BLMPOP", "0.01", "1", "missing", "LEFT", "COUNT", "0"],
        &["BLMPOP", "0.01", "1", "s", "LEFT"],
        &["BLMPOP", "0", "2", "missing", "l", "LEFT", "COUNT", "3"],
        &["BLMPOP", "0.01", "1", "missing", "LEFT"],
        &["MULTI"],
        &["BLPOP", "missing", "0"],
        &["BLMOVE", "missing", "x", "left", "left", "0"],
        &["BRPOPLPUSH", "missing", "x", "0"],
        &["BLMPOP", "0", "1", "missing", "left"],
        &["BLPOP", "missing", "x"],
        &["EXEC"],
        &["CLIENT", "UNBLOCK", "x", "bogus"],
        &["CLIENT", "UNBLOCK", "99999999999999999999"],
        &["CLIENT", "UNBLOCK", "99999", "Error"],
        &["CLIENT", "UNBLOCK", "-1"],
        &["CLIENT", "UNBLOCK", "1", "timeout", "x"],
        &["CLIENT", "UNBLOCK"],
    ],
    // ZADD's options: errors in Redis's order (pairs, NX+XX, GT/LT/NX,
    // INCR's one pair, then the scores, then the key's type), CH, INCR's
    // nil, ZINCRBY read as ZADD INCR, NaN from opposite infinities, scores
    // printed as %.17g (hex and subnormal input, -0 answered but stored
    // as 0).
    &[
        &["SET", "str", "x"],
        &["ZADD", "z", "NX", "XX", "x", "a", "1"],
        &["ZADD", "z", "NX", "XX", "1", "a"],
        &["ZADD", "z", "GT", "NX", "1", "a"],
        &["ZADD", "z", "INCR", "1", "a", "2", "b"],
        &["ZADD", "str", "x", "a"],
        &["ZADD", "str", "1", "a"],
        &[
            "ZADD", "z", "1.1", "a", "0x1p-3", "b", "1e-320", "c", "-0", "d",
        ],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZADD", "z", "CH", "GT", "0", "a", "5", "b", "1", "new"],
        &["ZADD", "z", "XX", "INCR", "1", "none"],
        &["ZINCRBY", "z", "INCR", "a"],
        &["ZINCRBY", "z", "-0", "fresh"],
        &["ZSCORE", "z", "fresh"],
        &["ZINCRBY", "z", "inf", "a"],
        &["ZINCRBY", "z", "-inf", "a"],
        &["ZADD", "missing", "XX", "1", "a"],
        &["EXISTS", "missing"],
        &["ZMSCORE", "z", "a", "nope"],
    ],
    // Ranges: LIMIT needs BYSCORE/BYLEX unless its count is -1, a negative
    // offset answers nothing, REV swaps the ends, interval ends as strtod
    // reads them, lexicographic runs over members of different scores.
    &[
        &[
            "ZADD", "z", "0", "b", "1", "a", "0", "d", "2", "c", "0", "a0", "1", "zz",
        ],
        &["ZRANGE", "z", "x", "1", "LIMIT", "5", "-1"],
        &["ZRANGE", "z", "0", "-1", "LIMIT", "-5", "-1"],
        &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"],
        &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"],
        &[
            "ZRANGE",
            "z",
            "(2",
            "-inf",
            "BYSCORE",
            "REV",
            "LIMIT",
            "1",
            "2",
            "WITHSCORES",
        ],
        &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2"],
        &["ZRANGEBYSCORE", "z", " 1", "(2"],
        &["ZRANGEBYSCORE", "z", "1 ", "2"],
        &["ZRANGEBYSCORE", "z", "(", "1e400"],
        &["ZRANGEBYLEX", "z", "[b", "+"],
        &["ZREVRANGEBYLEX", "z", "[d", "[a", "LIMIT", "1", "2"],
        &["ZRANGEBYLEX", "z", "[a", "[d", "LIMIT", "1", "3"],
        &["ZLEXCOUNT", "z", "[a", "[c"],
        &["ZRANGEBYLEX", "z", "+a", "[c"],
        &["ZREMRANGEBYLEX", "z", "[a", "[b"],
        &["ZRANGE", "z", "-9223372036854775808", "9223372036854775807"],
        &["ZREVRANGE", "z", "0", "0", "LIMIT", "0", "1"],
        &["ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES"],
        &[
            "ZRANGESTORE",
            "d",
            "z",
            "(0",
            "+inf",
            "BYSCORE",
            "LIMIT",
            "0",
            "2",
        ],
        &["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        &["ZRANGESTORE", "d", "missing", "0", "-1"],
        &["EXISTS", "d"],
        &["ZSCAN", "missing", "0", "BOGUS"],
        &["ZSCAN", "z", "0", "COUNT", "0"],
        &["ZSCAN", "z", "0", "MATCH", "a*"],
    ],
    // The algebra: numkeys errors, every key type-checked (sets allowed)
    // before the options, WEIGHTS with NaN products, AGGREGATE, an empty
    // …STORE deleting its destination, ZINTERCARD's LIMIT; ZPOP's and
    // ZRANDMEMBER's argument errors.
    &[
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "w", "inf", "a", "-inf", "b", "0", "c"],
        &["SADD", "s", "a", "d"],
        &["SET", "str", "x"],
        &["ZUNION", "0", "z"],
        &["ZUNION", "3", "z", "w"],
        &["ZUNION", "2", "z", "str", "WEIGHTS", "x"],
        &["ZUNION", "2", "z", "w", "WEIGHTS", "1"],
        &["ZUNION", "2", "z", "w", "WEIGHTS", "1", "nan"],
        &["ZUNION", "2", "w", "w", "WEIGHTS", "1", "-1", "WITHSCORES"],
        &["ZINTER", "2", "z", "w", "WEIGHTS", "1", "0", "WITHSCORES"],
        &[
            "ZINTER",
            "2",
            "w",
            "z",
            "WEIGHTS",
            "0",
            "1",
            "AGGREGATE",
            "MAX",
            "WITHSCORES",
        ],
        &["ZUNION", "2", "z", "s", "AGGREGATE", "min", "WITHSCORES"],
        &["ZDIFF", "2", "z", "s", "WEIGHTS", "1", "2"],
        &["ZDIFF", "2", "z", "s", "WITHSCORES"],
        &["ZUNIONSTORE", "str", "1", "w", "WEIGHTS", "-1"],
        &["ZRANGE", "str", "0", "-1", "WITHSCORES"],
        &["ZINTERSTORE", "str", "2", "z", "missing"],
        &["EXISTS", "str"],
        &["ZINTERCARD", "2", "z", "s", "LIMIT", "x"],
        &["ZINTERCARD", "2", "z", "w", "LIMIT", "2"],
        &["ZINTERCARD", "1", "z", "WITHSCORES"],
        &["ZPOPMIN", "z", "-1"],
        &["ZPOPMIN", "s", "0"],
        &["ZPOPMAX", "z", "1", "2"],
        &["ZPOPMAX", "z"],
        &["ZPOPMIN", "z", "5"],
        &["EXISTS", "z"],
        &["ZRANDMEMBER", "w", "-9223372036854775808"],
        &["ZRANDMEMBER", "w", "4611686018427387904", "WITHSCORES"],
        &["ZRANDMEMBER", "w", "1", "x"],
        &["ZRANDMEMBER", "missing", "x"],
        &["ZRANDMEMBER", "s", "0"],
        &["ZRANDMEMBER", "w", "0"],
    ],
];

#[test]
fn differences_found_before_stay_fixed() {
    let Some(mut pair) = SideBySide::start() else {
        return;
    };
    let mut failures = Vec::new();
    for sequence in REGRESSIONS {
        for c in [&mut pair.red, &mut pair.redis] {
            c.cmd(&["SELECT", "0"]);
            c.cmd(&["FLUSHALL"]);
        }
        for command in *sequence {
            let args: Vec<String> = command.iter().map(|a| (*a).to_string()).collect();
            let name = args.first().map(|n| n.to_lowercase()).unwrap_or_default();
            let ours = ask(&mut pair.red, &name, &args);
            let theirs = ask(&mut pair.redis, &name, &args);
            if !ours.same(&theirs) {
                failures.push(format!("{args:?}: red {ours:?}, redis {theirs:?}"));
            }
        }
    }
    harness::assert_no_failures(&failures, REGRESSIONS.len(), "regression sequences");
}

/// The `# Section` headers of an `INFO` reply.
fn info_headers(c: &mut Client, args: &[&str]) -> Vec<String> {
    let mut command = vec!["INFO"];
    command.extend_from_slice(args);
    text(&c.cmd(&command))
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .map(str::to_string)
        .collect()
}

#[test]
fn info_prints_every_section_redis_server_prints() {
    let Some(mut pair) = SideBySide::start() else {
        return;
    };
    for args in [
        &[][..],
        &["default"],
        &["everything"],
        &["cpu", "cluster"],
        &["CLUSTER"],
    ] {
        let ours = info_headers(&mut pair.red, args);
        let theirs: Vec<String> = info_headers(&mut pair.redis, args)
            .into_iter()
            .filter(|h| h != "Latencystats")
            .collect();
        assert_eq!(ours, theirs, "INFO {args:?}");
    }
    let info = text(&pair.red.cmd(&["INFO", "replication", "cluster"]));
    for line in ["role:master", "connected_slaves:0", "cluster_enabled:0"] {
        assert!(info.lines().any(|l| l == line), "{line} in {info}");
    }
    assert_eq!(pair.red.cmd(&["WAIT", "0", "0"]), Value::Integer(0));
    assert_eq!(
        pair.red.cmd(&["WAIT", "1", "0"]),
        Value::Integer(0),
        "no replica to wait for"
    );
    for bad in [["WAIT", "x", "0"], ["WAIT", "0", "x"], ["WAIT", "0", "-1"]] {
        assert_eq!(pair.red.cmd(&bad), pair.redis.cmd(&bad), "{bad:?}");
    }
}
