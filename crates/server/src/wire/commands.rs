//! The command table of the wire protocol and the commands that need no
//! connection-level control flow: argument parsing with Redis's syntax and
//! error strings, then one call on the keyspace [`Txn`] (or on the
//! server's counters), then a [`Reply`].
//!
//! `AUTH`, `HELLO`, `MULTI`, `EXEC`, `DISCARD`, `QUIT` and `RESET` change
//! the connection itself and live in the parent module.

use super::errors::keyspace_error_line;
use super::resp::Reply;
use super::{ClientInfo, Session, Shared};
use reddb_service::keyspace::{
    check_key, Condition, ExpireCond, KsError, SetExpiry, SetOptions, Ttl, TtlChange, Txn,
};
use reddb_service::strict_decimal::parse_i64;
use reddb_service::Service;
use reddb_storage::store::State;

/// Allowed before authentication (`AUTH`, `HELLO`, `QUIT`).
pub const NOAUTH_OK: u32 = 1;
/// Reads or writes the keyspace (fails while the vault is sealed).
pub const DATA: u32 = 2;
/// Runs at once even inside `MULTI` (never queued).
pub const IMMEDIATE: u32 = 4;
/// Refused inside `MULTI`.
pub const NO_MULTI: u32 = 8;
/// Needs an admin principal.
pub const ADMIN: u32 = 16;
/// Its second argument is a key (shown in `SLOWLOG`; values never are).
pub const KEYED: u32 = 32;

/// One command: its name, Redis arity (n: exactly n arguments counting the
/// name; -n: at least n) and flags.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
}

impl Spec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }
}

const fn spec(name: &'static str, arity: i32, flags: u32) -> Spec {
    Spec { name, arity, flags }
}

const D: u32 = DATA | KEYED;

pub const TABLE: &[Spec] = &[
    spec("auth", -2, NOAUTH_OK | NO_MULTI),
    spec("hello", -1, NOAUTH_OK | NO_MULTI),
    spec("quit", -1, NOAUTH_OK | IMMEDIATE),
    spec("reset", 1, IMMEDIATE),
    spec("multi", 1, IMMEDIATE),
    spec("exec", 1, IMMEDIATE),
    spec("discard", 1, IMMEDIATE),
    spec("ping", -1, 0),
    spec("echo", 2, 0),
    spec("select", 2, 0),
    spec("client", -2, 0),
    spec("command", -1, 0),
    spec("time", 1, 0),
    spec("info", -1, 0),
    spec("config", -2, 0),
    spec("slowlog", -2, 0),
    spec("save", 1, NO_MULTI),
    spec("bgsave", -1, NO_MULTI),
    spec("lastsave", 1, 0),
    spec("dbsize", 1, DATA),
    spec("keys", 2, DATA),
    spec("scan", -2, DATA),
    spec("flushdb", -1, DATA | ADMIN),
    spec("flushall", -1, DATA | ADMIN),
    spec("get", 2, D),
    spec("set", -3, D),
    spec("setex", 4, D),
    spec("psetex", 4, D),
    spec("setnx", 3, D),
    spec("getdel", 2, D),
    spec("getex", -2, D),
    spec("mget", -2, D),
    spec("mset", -3, D),
    spec("del", -2, D),
    spec("unlink", -2, D),
    spec("exists", -2, D),
    spec("expire", -3, D),
    spec("pexpire", -3, D),
    spec("expireat", -3, D),
    spec("pexpireat", -3, D),
    spec("ttl", 2, D),
    spec("pttl", 2, D),
    spec("persist", 2, D),
    spec("type", 2, D),
    spec("incr", 2, D),
    spec("incrby", 3, D),
    spec("decr", 2, D),
    spec("decrby", 3, D),
    spec("sadd", -3, D),
    spec("srem", -3, D),
    spec("smembers", 2, D),
    spec("sismember", 3, D),
    spec("scard", 2, D),
    spec("hset", -4, D),
    spec("hmset", -4, D),
    spec("hget", 3, D),
    spec("hmget", -3, D),
    spec("hgetall", 2, D),
    spec("hdel", -3, D),
    spec("hexists", 3, D),
    spec("hlen", 2, D),
];

/// The command named `name` (already lower-case).
pub fn lookup(name: &str) -> Option<&'static Spec> {
    TABLE.iter().find(|s| s.name == name)
}

/// ASCII lower-case of a command or option name.
pub fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

/// Printable text of client bytes for an error line (no CR/LF, no
/// control bytes, at most 128 bytes).
pub fn printable(b: &[u8]) -> String {
    let s: String = b
        .iter()
        .take(128)
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                char::from(c)
            } else {
                ' '
            }
        })
        .collect();
    s
}

pub fn unknown_command(args: &[Vec<u8>]) -> Reply {
    let name = args.first().map(|a| printable(a)).unwrap_or_default();
    let mut rest = String::new();
    for a in args.iter().skip(1) {
        if rest.len() >= 128 {
            break;
        }
        rest.push('\'');
        rest.push_str(&printable(a));
        rest.push_str("' ");
    }
    Reply::err(format!(
        "ERR unknown command '{name}', with args beginning with: {rest}"
    ))
}

pub fn wrong_args(name: &str) -> Reply {
    Reply::err(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

pub fn syntax() -> Reply {
    Reply::err("ERR syntax error")
}

fn not_integer() -> Reply {
    Reply::err("ERR value is not an integer or out of range")
}

fn unknown_subcommand(sub: &[u8], cmd: &str) -> Reply {
    Reply::err(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        printable(sub),
        cmd.to_ascii_uppercase()
    ))
}

fn ks(e: KsError) -> Reply {
    Reply::Error(keyspace_error_line(&e))
}

fn int_arg(b: &[u8]) -> Result<i64, Reply> {
    parse_i64(b).ok_or_else(not_integer)
}

fn opt_bulk(v: Option<Vec<u8>>) -> Reply {
    v.map_or(Reply::Nil, Reply::Bulk)
}

fn bulks(v: Vec<Vec<u8>>) -> Vec<Reply> {
    v.into_iter().map(Reply::Bulk).collect()
}

/// Something the caller must do after the transaction commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    /// `SAVE`/`BGSAVE`: compact the store.
    Save,
}

/// What a command may touch while it runs.
pub struct Ctx<'a, 't> {
    pub txn: Option<&'a mut Txn<'t>>,
    pub state: Option<&'t State>,
    pub svc: &'t Service,
    pub session: &'a mut Session,
    pub shared: &'a mut Shared,
    pub post: &'a mut Vec<Post>,
}

/// Runs one command that passed the table's arity check.
pub fn execute(spec: &Spec, args: &[Vec<u8>], cx: &mut Ctx<'_, '_>) -> Reply {
    if spec.has(ADMIN) && !cx.session.principal.as_ref().is_some_and(|p| p.is_admin()) {
        return Reply::err(format!(
            "NOPERM this user has no permissions to run the '{}' command",
            spec.name
        ));
    }
    if spec.has(DATA) {
        let Some(txn) = cx.txn.as_deref_mut() else {
            return Reply::err(
                "ERR the vault is sealed: start the server with its certificate to use the keyspace",
            );
        };
        return match data(spec.name, args, txn, cx.shared, cx.state) {
            Ok(r) => r,
            Err(r) => r,
        };
    }
    match server(spec.name, args, cx) {
        Ok(r) => r,
        Err(r) => r,
    }
}

fn arg(args: &[Vec<u8>], i: usize) -> &[u8] {
    args.get(i).map(Vec::as_slice).unwrap_or(&[])
}

/// `EX`/`PX`/`EXAT`/`PXAT` → absolute Unix ms; `None` when it overflows
/// or is not positive (Redis: "invalid expire time").
fn expire_at(unit: &str, n: i64, now: u64) -> Option<i64> {
    if n <= 0 {
        return None;
    }
    let now = i64::try_from(now).ok()?;
    match unit {
        "ex" => n.checked_mul(1000)?.checked_add(now),
        "px" => n.checked_add(now),
        "exat" => n.checked_mul(1000),
        "pxat" => Some(n),
        _ => None,
    }
}

fn invalid_expire(cmd: &str) -> Reply {
    Reply::err(format!("ERR invalid expire time in '{cmd}' command"))
}

/// Runs one keyspace command on the open transaction: a flat table from
/// command name to the function that parses its arguments and calls the
/// keyspace.
fn data(
    name: &str,
    args: &[Vec<u8>],
    t: &mut Txn<'_>,
    shared: &mut Shared,
    state: Option<&State>,
) -> Result<Reply, Reply> {
    let key = arg(args, 1);
    let rest = args.get(2..).unwrap_or(&[]);
    let r = match name {
        "get" => opt_bulk(t.get(key).map_err(ks)?),
        "set" => set(args, t)?,
        "setex" | "psetex" => setex(name, args, t)?,
        "setnx" => setnx(args, t)?,
        "getdel" => opt_bulk(t.getdel(key).map_err(ks)?),
        "getex" => getex(args, t)?,
        "mget" => mget(args, t)?,
        "mset" => mset(args, t)?,
        "del" | "unlink" | "exists" => delete_or_count(name, args, t)?,
        "expire" | "pexpire" | "expireat" | "pexpireat" => expire(name, args, t)?,
        "ttl" | "pttl" => ttl(name, key, t)?,
        "persist" => Reply::Int(i64::from(t.persist(key).map_err(ks)?)),
        "type" => Reply::simple(t.type_of(key).map_err(ks)?),
        "keys" => Reply::Array(bulks(t.keys(key))),
        "dbsize" => Reply::Int(i64::try_from(t.dbsize()).unwrap_or(i64::MAX)),
        "scan" => scan(args, t.now(), shared, state)?,
        "flushdb" | "flushall" => flush(args, t)?,
        "incr" | "decr" | "incrby" | "decrby" => incr(name, args, t)?,
        "sadd" => Reply::Int(t.sadd(key, rest.to_vec()).map_err(ks)?),
        "srem" => Reply::Int(t.srem(key, rest).map_err(ks)?),
        "smembers" => Reply::Set(bulks(t.smembers(key).map_err(ks)?)),
        "sismember" => Reply::Int(i64::from(t.sismember(key, arg(args, 2)).map_err(ks)?)),
        "scard" => Reply::Int(i64::try_from(t.scard(key).map_err(ks)?).unwrap_or(i64::MAX)),
        "hset" | "hmset" => hset(name, args, t)?,
        "hget" => opt_bulk(t.hget(key, arg(args, 2)).map_err(ks)?),
        "hmget" => Reply::Array(
            t.hmget(key, rest)
                .map_err(ks)?
                .into_iter()
                .map(opt_bulk)
                .collect(),
        ),
        "hgetall" => Reply::Map(
            t.hgetall(key)
                .map_err(ks)?
                .into_iter()
                .map(|(k, v)| (Reply::Bulk(k), Reply::Bulk(v)))
                .collect(),
        ),
        "hdel" => Reply::Int(t.hdel(key, rest).map_err(ks)?),
        "hexists" => Reply::Int(i64::from(t.hexists(key, arg(args, 2)).map_err(ks)?)),
        "hlen" => Reply::Int(i64::try_from(t.hlen(key).map_err(ks)?).unwrap_or(i64::MAX)),
        _ => unknown_command(args),
    };
    Ok(r)
}

/// `SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT n|KEEPTTL]`.
fn set(args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    let opts = set_options(args, t.now())?;
    let out = t
        .set(arg(args, 1), arg(args, 2).to_vec(), opts)
        .map_err(ks)?;
    Ok(if opts.get {
        opt_bulk(out.old)
    } else if out.written {
        Reply::Ok
    } else {
        Reply::Nil
    })
}

/// The options of `SET` after the value (from the fourth argument on).
fn set_options(args: &[Vec<u8>], now: u64) -> Result<SetOptions, Reply> {
    let mut opts = SetOptions::default();
    let mut has_expiry = false;
    let mut i = 3;
    while i < args.len() {
        let o = lower(arg(args, i));
        match o.as_str() {
            "nx" if opts.cond != Condition::IfExists => opts.cond = Condition::IfMissing,
            "xx" if opts.cond != Condition::IfMissing => opts.cond = Condition::IfExists,
            "get" => opts.get = true,
            "keepttl" if !has_expiry => {
                has_expiry = true;
                opts.expiry = SetExpiry::Keep;
            }
            "ex" | "px" | "exat" | "pxat" if !has_expiry && i + 1 < args.len() => {
                has_expiry = true;
                i += 1;
                let n = int_arg(arg(args, i))?;
                let at = expire_at(&o, n, now).ok_or_else(|| invalid_expire("set"))?;
                opts.expiry = SetExpiry::At(u64::try_from(at).unwrap_or(0));
            }
            _ => return Err(syntax()),
        }
        i += 1;
    }
    Ok(opts)
}

/// `SETEX key seconds value` and `PSETEX key ms value`.
fn setex(name: &str, args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    let n = int_arg(arg(args, 2))?;
    let unit = if name == "setex" { "ex" } else { "px" };
    let at = expire_at(unit, n, t.now()).ok_or_else(|| invalid_expire(name))?;
    let opts = SetOptions {
        expiry: SetExpiry::At(u64::try_from(at).unwrap_or(0)),
        ..SetOptions::default()
    };
    t.set(arg(args, 1), arg(args, 3).to_vec(), opts)
        .map_err(ks)?;
    Ok(Reply::Ok)
}

/// `SETNX key value`: 1 when written, 0 when the key already existed.
fn setnx(args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    let opts = SetOptions {
        cond: Condition::IfMissing,
        ..SetOptions::default()
    };
    let out = t
        .set(arg(args, 1), arg(args, 2).to_vec(), opts)
        .map_err(ks)?;
    Ok(Reply::Int(i64::from(out.written)))
}

/// `GETEX key [PERSIST|EX|PX|EXAT|PXAT n]`.
fn getex(args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    let now = t.now();
    let mut change = None;
    let mut i = 2;
    while i < args.len() {
        let o = lower(arg(args, i));
        match o.as_str() {
            "persist" if change.is_none() => change = Some(TtlChange::Persist),
            "ex" | "px" | "exat" | "pxat" if change.is_none() && i + 1 < args.len() => {
                i += 1;
                let n = int_arg(arg(args, i))?;
                let at = expire_at(&o, n, now).ok_or_else(|| invalid_expire("getex"))?;
                change = Some(TtlChange::At(at));
            }
            _ => return Err(syntax()),
        }
        i += 1;
    }
    Ok(opt_bulk(t.getex(arg(args, 1), change).map_err(ks)?))
}

/// `MGET key...`: nil for a missing key or one of another type.
fn mget(args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    let mut out = Vec::with_capacity(args.len().saturating_sub(1));
    for k in args.iter().skip(1) {
        out.push(opt_bulk(t.get_or_nil(k).map_err(ks)?));
    }
    Ok(Reply::Array(out))
}

/// `MSET key value...`: every key is checked before any is written.
fn mset(args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    if args.len() % 2 != 1 {
        return Err(wrong_args("mset"));
    }
    let pairs = args.get(1..).unwrap_or(&[]);
    for pair in pairs.chunks(2) {
        check_key(arg(pair, 0)).map_err(ks)?;
    }
    for pair in pairs.chunks(2) {
        t.set(arg(pair, 0), arg(pair, 1).to_vec(), SetOptions::default())
            .map_err(ks)?;
    }
    Ok(Reply::Ok)
}

/// `DEL`/`UNLINK` (how many were removed) and `EXISTS` (how many exist);
/// every key is checked before any is touched.
fn delete_or_count(name: &str, args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    for k in args.iter().skip(1) {
        check_key(k).map_err(ks)?;
    }
    let mut n = 0;
    for k in args.iter().skip(1) {
        let hit = if name == "exists" {
            t.exists(k)
        } else {
            t.del(k)
        }
        .map_err(ks)?;
        n += i64::from(hit);
    }
    Ok(Reply::Int(n))
}

/// `EXPIRE`/`PEXPIRE`/`EXPIREAT`/`PEXPIREAT key n [NX|XX|GT|LT...]`.
fn expire(name: &str, args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    let key = arg(args, 1);
    let n = int_arg(arg(args, 2))?;
    let now = i64::try_from(t.now()).unwrap_or(i64::MAX);
    let when = match name {
        "expire" => n.checked_mul(1000).and_then(|ms| ms.checked_add(now)),
        "pexpire" => n.checked_add(now),
        "expireat" => n.checked_mul(1000),
        _ => Some(n),
    }
    .ok_or_else(|| invalid_expire(name))?;
    let flags = ExpireFlags::parse(args.get(3..).unwrap_or(&[]))?;
    // XX combined with GT/LT: both must hold.
    if flags.xx && (flags.gt || flags.lt) && matches!(t.ttl(key).map_err(ks)?, Ttl::Persistent) {
        return Ok(Reply::Int(0));
    }
    Ok(Reply::Int(i64::from(
        t.expire(key, when, flags.condition()).map_err(ks)?,
    )))
}

/// The `NX`/`XX`/`GT`/`LT` options of the `EXPIRE` family.
#[allow(clippy::struct_excessive_bools)] // four independent Redis flags
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireFlags {
    /// Reads the options, refusing an unknown one or an incompatible pair
    /// with Redis's error lines.
    fn parse(options: &[Vec<u8>]) -> Result<Self, Reply> {
        let mut f = ExpireFlags {
            nx: false,
            xx: false,
            gt: false,
            lt: false,
        };
        for o in options {
            match lower(o).as_str() {
                "nx" => f.nx = true,
                "xx" => f.xx = true,
                "gt" => f.gt = true,
                "lt" => f.lt = true,
                other => {
                    return Err(Reply::err(format!(
                        "ERR Unsupported option {}",
                        printable(other.as_bytes())
                    )))
                }
            }
        }
        if f.nx && (f.xx || f.gt || f.lt) {
            return Err(Reply::err(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if f.gt && f.lt {
            return Err(Reply::err(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(f)
    }

    /// The one condition the keyspace checks (XX with GT/LT is checked by
    /// the caller).
    fn condition(&self) -> ExpireCond {
        match (self.nx, self.xx, self.gt, self.lt) {
            (true, _, _, _) => ExpireCond::Nx,
            (_, _, true, _) => ExpireCond::Gt,
            (_, _, _, true) => ExpireCond::Lt,
            (_, true, _, _) => ExpireCond::Xx,
            _ => ExpireCond::Always,
        }
    }
}

/// `TTL` (seconds, rounded) and `PTTL` (ms): -2 missing, -1 no expiry.
fn ttl(name: &str, key: &[u8], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    Ok(Reply::Int(match t.ttl(key).map_err(ks)? {
        Ttl::Missing => -2,
        Ttl::Persistent => -1,
        Ttl::Ms(ms) if name == "pttl" => i64::try_from(ms).unwrap_or(i64::MAX),
        Ttl::Ms(ms) => i64::try_from(ms.saturating_add(500) / 1000).unwrap_or(i64::MAX),
    }))
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`.
fn scan(
    args: &[Vec<u8>],
    now: u64,
    shared: &mut Shared,
    state: Option<&State>,
) -> Result<Reply, Reply> {
    let cursor = std::str::from_utf8(arg(args, 1))
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Reply::err("ERR invalid cursor"))?;
    let (mut pattern, mut count, mut type_filter) = (None, 10usize, None);
    let mut i = 2;
    while i < args.len() {
        let o = lower(arg(args, i));
        let Some(v) = args.get(i + 1) else {
            return Err(syntax());
        };
        match o.as_str() {
            "match" => pattern = Some(v.as_slice()),
            "count" => {
                let n = int_arg(v)?;
                if n < 1 {
                    return Err(syntax());
                }
                count = usize::try_from(n).unwrap_or(usize::MAX);
            }
            "type" => type_filter = Some(v.as_slice()),
            _ => return Err(syntax()),
        }
        i += 2;
    }
    let Some(state) = state else {
        return Err(Reply::err("ERR the vault is sealed"));
    };
    let pattern = pattern.filter(|p| *p != b"*");
    let page = shared
        .keyspace
        .scan(state, now, cursor, count, pattern, type_filter);
    Ok(Reply::Array(vec![
        Reply::bulk(page.cursor.to_string()),
        Reply::Array(bulks(page.keys)),
    ]))
}

/// `FLUSHDB`/`FLUSHALL [ASYNC|SYNC]`.
fn flush(args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    match args.get(1).map(|a| lower(a)) {
        None => {}
        Some(m) if args.len() == 2 && (m == "async" || m == "sync") => {}
        Some(_) => return Err(syntax()),
    }
    t.flush();
    Ok(Reply::Ok)
}

/// `INCR`, `DECR`, `INCRBY key n` and `DECRBY key n`.
fn incr(name: &str, args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    let delta = match name {
        "incr" => 1,
        "decr" => -1,
        "incrby" => int_arg(arg(args, 2))?,
        _ => int_arg(arg(args, 2))?
            .checked_neg()
            .ok_or_else(|| Reply::err("ERR decrement would overflow"))?,
    };
    Ok(Reply::Int(t.incr_by(arg(args, 1), delta).map_err(ks)?))
}

/// `HSET` (how many fields were new) and `HMSET` (OK) `key field value...`.
fn hset(name: &str, args: &[Vec<u8>], t: &mut Txn<'_>) -> Result<Reply, Reply> {
    if args.len() % 2 != 0 {
        return Err(wrong_args(name));
    }
    let pairs = args
        .get(2..)
        .unwrap_or(&[])
        .chunks(2)
        .map(|p| (arg(p, 0).to_vec(), arg(p, 1).to_vec()))
        .collect();
    let n = t.hset(arg(args, 1), pairs).map_err(ks)?;
    Ok(if name == "hset" {
        Reply::Int(n)
    } else {
        Reply::Ok
    })
}

fn server(name: &str, args: &[Vec<u8>], cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let r = match name {
        "ping" => match args.len() {
            1 => Reply::simple("PONG"),
            2 => Reply::bulk(arg(args, 1)),
            _ => return Err(wrong_args("ping")),
        },
        "echo" => Reply::bulk(arg(args, 1)),
        "select" => {
            if int_arg(arg(args, 1))? != 0 {
                return Err(Reply::err("ERR DB index is out of range"));
            }
            Reply::Ok
        }
        "time" => {
            let d = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            Reply::Array(vec![
                Reply::bulk(d.as_secs().to_string()),
                Reply::bulk(d.subsec_micros().to_string()),
            ])
        }
        "client" => client(args, cx)?,
        "command" => command(args)?,
        "info" => Reply::Bulk(super::render_info(args, cx.shared, cx.svc, cx.state).into_bytes()),
        "config" => config(args, cx.shared)?,
        "slowlog" => slowlog(args, cx.shared)?,
        "save" | "bgsave" => {
            if args.len() > 2 || (args.len() == 2 && lower(arg(args, 1)) != "schedule") {
                return Err(syntax());
            }
            cx.post.push(Post::Save);
            if name == "save" {
                Reply::Ok
            } else {
                Reply::simple("Background saving started")
            }
        }
        "lastsave" => Reply::Int(i64::try_from(cx.shared.keyspace.last_save_unix).unwrap_or(0)),
        _ => unknown_command(args),
    };
    Ok(r)
}

/// A name CLIENT SETNAME accepts: printable ASCII without spaces.
fn valid_client_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (0x21..0x7f).contains(&c))
}

fn client(args: &[Vec<u8>], cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let sub = lower(arg(args, 1));
    let id = cx.session.id;
    let r = match sub.as_str() {
        "setname" if args.len() == 3 => {
            let n = arg(args, 2);
            if !valid_client_name(n) {
                return Err(Reply::err(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            if let Some(c) = cx.shared.clients.get_mut(&id) {
                c.name = n.to_vec();
            }
            Reply::Ok
        }
        "getname" if args.len() == 2 => match cx.shared.clients.get(&id).map(|c| c.name.clone()) {
            Some(n) if !n.is_empty() => Reply::Bulk(n),
            _ => Reply::Nil,
        },
        "setinfo" if args.len() == 4 => {
            let v = arg(args, 3);
            if !valid_client_name(v) {
                return Err(Reply::err(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    printable(arg(args, 2)).to_ascii_lowercase()
                )));
            }
            let c = cx.shared.clients.get_mut(&id);
            match (lower(arg(args, 2)).as_str(), c) {
                ("lib-name", Some(c)) => c.lib_name = v.to_vec(),
                ("lib-ver", Some(c)) => c.lib_ver = v.to_vec(),
                ("lib-name" | "lib-ver", None) => {}
                _ => {
                    return Err(Reply::err(format!(
                        "ERR Unrecognized option '{}'",
                        printable(arg(args, 2))
                    )))
                }
            }
            Reply::Ok
        }
        "id" if args.len() == 2 => Reply::Int(i64::try_from(id).unwrap_or(i64::MAX)),
        "list" | "info" => {
            if sub == "info" && args.len() != 2 {
                return Err(wrong_args("client|info"));
            }
            let now = std::time::Instant::now();
            let mut text = String::new();
            for c in cx.shared.clients.values() {
                if sub == "info" && c.id != id {
                    continue;
                }
                text.push_str(&client_line(c, now));
            }
            Reply::Bulk(text.into_bytes())
        }
        "setname" | "getname" | "setinfo" | "id" => {
            return Err(wrong_args(&format!("client|{sub}")))
        }
        "no-evict" | "no-touch" => Reply::Ok,
        _ => return Err(unknown_subcommand(arg(args, 1), "client")),
    };
    Ok(r)
}

fn client_line(c: &ClientInfo, now: std::time::Instant) -> String {
    format!(
        "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 multi={} qbuf=0 qbuf-free=0 obl=0 oll=0 omem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}\n",
        c.id,
        c.addr,
        c.laddr,
        printable(&c.name),
        now.duration_since(c.created).as_secs(),
        now.duration_since(c.last_command).as_secs(),
        if c.multi >= 0 { "x" } else { "N" },
        c.multi,
        c.last_command_name,
        c.user,
        c.resp,
        printable(&c.lib_name),
        printable(&c.lib_ver),
    )
}

fn command(args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let Some(sub) = args.get(1).map(|a| lower(a)) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let r = match sub.as_str() {
        "count" => Reply::Int(i64::try_from(TABLE.len()).unwrap_or(0)),
        "docs" => Reply::Map(Vec::new()),
        "list" => Reply::Array(TABLE.iter().map(|s| Reply::bulk(s.name)).collect()),
        "info" => Reply::Array(
            args.iter()
                .skip(2)
                .map(|n| match lookup(&lower(n)) {
                    Some(s) => Reply::Array(vec![
                        Reply::bulk(s.name),
                        Reply::Int(i64::from(s.arity)),
                        Reply::Set(Vec::new()),
                        Reply::Int(i64::from(s.has(KEYED))),
                        Reply::Int(i64::from(s.has(KEYED))),
                        Reply::Int(i64::from(s.has(KEYED))),
                    ]),
                    None => Reply::NilArray,
                })
                .collect(),
        ),
        _ => return Err(unknown_subcommand(arg(args, 1), "command")),
    };
    Ok(r)
}

fn config(args: &[Vec<u8>], shared: &mut Shared) -> Result<Reply, Reply> {
    let sub = lower(arg(args, 1));
    match sub.as_str() {
        "get" => {
            if args.len() < 3 {
                return Err(wrong_args("config|get"));
            }
            let params = shared.config_params();
            let mut out: Vec<(Reply, Reply)> = Vec::new();
            for (k, v) in &params {
                let hit = args
                    .iter()
                    .skip(2)
                    .any(|p| reddb_service::keyspace::glob_match(lower(p).as_bytes(), k.as_bytes()));
                if hit {
                    out.push((Reply::bulk(*k), Reply::bulk(v.as_bytes())));
                }
            }
            Ok(Reply::Map(out))
        }
        "set" => Err(Reply::err(
            "ERR CONFIG SET is not supported: reddb's configuration comes from its command line and environment",
        )),
        "resetstat" if args.len() == 2 => {
            shared.reset_stats();
            Ok(Reply::Ok)
        }
        "rewrite" => Err(Reply::err(
            "ERR CONFIG REWRITE is not supported: there is no redis.conf",
        )),
        _ => Err(unknown_subcommand(arg(args, 1), "config")),
    }
}

fn slowlog(args: &[Vec<u8>], shared: &mut Shared) -> Result<Reply, Reply> {
    let sub = lower(arg(args, 1));
    match sub.as_str() {
        "get" if args.len() <= 3 => {
            let n = match args.get(2) {
                None => 10,
                Some(a) => {
                    let n = int_arg(a)?;
                    if n < -1 {
                        return Err(Reply::err(
                            "ERR count should be greater than or equal to -1",
                        ));
                    }
                    if n == -1 {
                        usize::MAX
                    } else {
                        usize::try_from(n).unwrap_or(usize::MAX)
                    }
                }
            };
            let entries = shared
                .slowlog
                .iter()
                .rev()
                .take(n)
                .map(|e| {
                    Reply::Array(vec![
                        Reply::Int(i64::try_from(e.id).unwrap_or(0)),
                        Reply::Int(i64::try_from(e.unix).unwrap_or(0)),
                        Reply::Int(i64::try_from(e.micros).unwrap_or(i64::MAX)),
                        Reply::Array(e.args.iter().map(|a| Reply::bulk(a.as_slice())).collect()),
                        Reply::bulk(e.addr.as_bytes()),
                        Reply::bulk(e.name.as_slice()),
                    ])
                })
                .collect();
            Ok(Reply::Array(entries))
        }
        "len" if args.len() == 2 => {
            Ok(Reply::Int(i64::try_from(shared.slowlog.len()).unwrap_or(0)))
        }
        "reset" if args.len() == 2 => {
            shared.slowlog.clear();
            Ok(Reply::Ok)
        }
        "get" | "len" | "reset" => Err(wrong_args(&format!("slowlog|{sub}"))),
        _ => Err(unknown_subcommand(arg(args, 1), "slowlog")),
    }
}
