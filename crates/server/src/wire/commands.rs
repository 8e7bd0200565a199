//! The handlers of the wire commands that need no connection-level control
//! flow, one function per entry of [`super::table::TABLE`]: argument
//! parsing with Redis's syntax and error strings, then one call on the
//! keyspace [`Txn`] (or on the server's counters), then a [`Reply`].
//!
//! `AUTH`, `HELLO`, `MULTI`, `EXEC`, `DISCARD`, `QUIT` and `RESET` change
//! the connection itself and live in the parent module; `COMMAND` lives in
//! [`super::introspect`].

use super::errors::keyspace_error_line;
use super::resp::Reply;
use super::table::{Runner, Spec, ADMIN};
use super::{BlockOn, ClientInfo, Session, Shared};
use reddb_service::keyspace::{
    check_key, Condition, ExpireCond, KsError, ScanRequest, SetExpiry, SetOptions, Ttl, TtlChange,
    Txn,
};
use reddb_service::strict_decimal::parse_i64;
use reddb_service::Service;
use reddb_storage::store::record::DATABASES;
use reddb_storage::store::State;

/// ASCII lower-case of a command or option name.
pub fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

/// Printable text of client bytes for an error line (no CR/LF, no
/// control bytes, at most 128 bytes).
pub(crate) fn printable(b: &[u8]) -> String {
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

pub(crate) fn unknown_command(args: &[Vec<u8>]) -> Reply {
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

pub(crate) fn wrong_args(name: &str) -> Reply {
    Reply::err(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

pub fn syntax() -> Reply {
    Reply::err("ERR syntax error")
}

pub(super) fn not_integer() -> Reply {
    Reply::err("ERR value is not an integer or out of range")
}

pub(crate) fn unknown_subcommand(sub: &[u8], cmd: &str) -> Reply {
    Reply::err(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        printable(sub),
        cmd.to_ascii_uppercase()
    ))
}

pub(super) fn ks(e: KsError) -> Reply {
    Reply::Error(keyspace_error_line(&e))
}

pub(super) fn int_arg(b: &[u8]) -> Result<i64, Reply> {
    parse_i64(b).ok_or_else(not_integer)
}

pub(super) fn opt_bulk(v: Option<Vec<u8>>) -> Reply {
    v.map_or(Reply::Nil, Reply::Bulk)
}

pub(super) fn bulks(v: Vec<Vec<u8>>) -> Vec<Reply> {
    v.into_iter().map(Reply::Bulk).collect()
}

/// Something the caller must do after the transaction commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    /// `SAVE`: compact the store in one go.
    Save,
    /// `BGSAVE`: start an incremental checkpoint.
    BackgroundSave,
}

/// One command as a handler sees it: its table name (for error lines) and
/// its arguments, the name first.
pub struct Call<'a> {
    pub name: &'static str,
    pub args: &'a [Vec<u8>],
}

impl Call<'_> {
    /// Argument `i` (0 is the command name); empty when absent.
    pub fn arg(&self, i: usize) -> &[u8] {
        arg(self.args, i)
    }

    /// The first argument: the key of a keyed command.
    pub(super) fn key(&self) -> &[u8] {
        self.arg(1)
    }

    /// The arguments after the key.
    pub(super) fn after_key(&self) -> &[Vec<u8>] {
        self.args.get(2..).unwrap_or(&[])
    }
}

/// What a command may touch while it runs.
pub(crate) struct Ctx<'a, 't> {
    pub txn: Option<&'a mut Txn<'t>>,
    pub state: Option<&'t State>,
    pub svc: &'t Service,
    pub session: &'a mut Session,
    pub shared: &'a mut Shared,
    pub post: &'a mut Vec<Post>,
    /// Where a blocking command may say it waits; `None` inside `MULTI`
    /// (it answers nil at once).
    pub block: Option<&'a mut Option<BlockOn>>,
    /// Running inside `EXEC` (Redis refuses blocking commands there).
    pub in_exec: bool,
}

/// What a keyspace command touches: the open transaction (the vault is
/// unsealed), and for `SCAN` the shared cursor state.
pub(crate) struct DataCx<'a, 't> {
    pub txn: &'a mut Txn<'t>,
    pub shared: &'a mut Shared,
    pub state: Option<&'t State>,
    /// See [`Ctx::block`].
    pub block: Option<&'a mut Option<BlockOn>>,
}

/// Runs one command that passed the table's arity check.
pub(crate) fn execute(
    spec: &Spec,
    runner: Runner,
    args: &[Vec<u8>],
    cx: &mut Ctx<'_, '_>,
) -> Reply {
    if spec.has(ADMIN) && !cx.session.principal.as_ref().is_some_and(|p| p.is_admin()) {
        return Reply::err(format!(
            "NOPERM this user has no permissions to run the '{}' command",
            spec.name
        ));
    }
    let call = Call {
        name: spec.name,
        args,
    };
    let result = match runner {
        Runner::Data(handler) => {
            let Some(txn) = cx.txn.as_deref_mut() else {
                return Reply::err(
                    "ERR the vault is sealed: start the server with its certificate to use the keyspace",
                );
            };
            let mut data = DataCx {
                txn,
                shared: cx.shared,
                state: cx.state,
                block: cx.block.as_deref_mut(),
            };
            handler(&call, &mut data)
        }
        Runner::Server(handler) => handler(&call, cx),
    };
    result.unwrap_or_else(|refused| refused)
}

fn arg(args: &[Vec<u8>], i: usize) -> &[u8] {
    args.get(i).map(Vec::as_slice).unwrap_or(&[])
}

/// How a command's time argument counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeUnit {
    /// Seconds from now (`EX`, `EXPIRE`, `SETEX`).
    Seconds,
    /// Milliseconds from now (`PX`, `PEXPIRE`, `PSETEX`).
    Millis,
    /// Unix time in seconds (`EXAT`, `EXPIREAT`).
    UnixSeconds,
    /// Unix time in milliseconds (`PXAT`, `PEXPIREAT`).
    UnixMillis,
}

impl TimeUnit {
    /// The unit of a `SET`/`GETEX` expiry option.
    fn of_option(option: &str) -> Option<TimeUnit> {
        match option {
            "ex" => Some(TimeUnit::Seconds),
            "px" => Some(TimeUnit::Millis),
            "exat" => Some(TimeUnit::UnixSeconds),
            "pxat" => Some(TimeUnit::UnixMillis),
            _ => None,
        }
    }

    /// `n` of this unit as an absolute Unix time in ms; `None` on overflow.
    fn absolute_ms(self, n: i64, now: u64) -> Option<i64> {
        let now = i64::try_from(now).ok()?;
        match self {
            TimeUnit::Seconds => n.checked_mul(1000)?.checked_add(now),
            TimeUnit::Millis => n.checked_add(now),
            TimeUnit::UnixSeconds => n.checked_mul(1000),
            TimeUnit::UnixMillis => Some(n),
        }
    }
}

/// An expiry of `SET`, `SETEX` or `GETEX` as absolute Unix ms; `None` when
/// it overflows or is not positive (Redis: "invalid expire time").
fn expire_at(unit: TimeUnit, n: i64, now: u64) -> Option<i64> {
    if n <= 0 {
        return None;
    }
    unit.absolute_ms(n, now)
}

fn invalid_expire(cmd: &str) -> Reply {
    Reply::err(format!("ERR invalid expire time in '{cmd}' command"))
}

/// A count as a RESP integer.
pub(super) fn count(n: usize) -> Reply {
    Reply::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

pub fn get(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    // Into the last bulk reply's vector: no allocation per GET.
    let mut value = std::mem::take(&mut d.shared.spare_bulk);
    if d.txn.get_into(c.key(), &mut value).map_err(ks)? {
        Ok(Reply::Bulk(value))
    } else {
        d.shared.spare_bulk = value;
        Ok(Reply::Nil)
    }
}

pub fn getdel(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(opt_bulk(d.txn.getdel(c.key()).map_err(ks)?))
}

pub fn persist(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::Int(i64::from(d.txn.persist(c.key()).map_err(ks)?)))
}

pub fn type_of(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::simple(d.txn.type_of(c.key()).map_err(ks)?))
}

pub fn keys(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::Array(bulks(d.txn.keys(c.arg(1)))))
}

pub fn dbsize(_: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(count(d.txn.dbsize()))
}

pub fn sadd(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::Int(d.txn.sadd(c.key(), c.after_key()).map_err(ks)?))
}

pub fn srem(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::Int(d.txn.srem(c.key(), c.after_key()).map_err(ks)?))
}

pub fn smembers(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::Set(bulks(d.txn.smembers(c.key()).map_err(ks)?)))
}

pub fn sismember(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let hit = d.txn.sismember(c.key(), c.arg(2)).map_err(ks)?;
    Ok(Reply::Int(i64::from(hit)))
}

pub fn scard(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(count(d.txn.scard(c.key()).map_err(ks)?))
}

pub fn hget(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(opt_bulk(d.txn.hget(c.key(), c.arg(2)).map_err(ks)?))
}

pub fn hmget(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let values = d.txn.hmget(c.key(), c.after_key()).map_err(ks)?;
    Ok(Reply::Array(values.into_iter().map(opt_bulk).collect()))
}

pub fn hgetall(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let pairs = d.txn.hgetall(c.key()).map_err(ks)?;
    Ok(Reply::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Reply::Bulk(k), Reply::Bulk(v)))
            .collect(),
    ))
}

pub fn hdel(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::Int(d.txn.hdel(c.key(), c.after_key()).map_err(ks)?))
}

pub fn hexists(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let hit = d.txn.hexists(c.key(), c.arg(2)).map_err(ks)?;
    Ok(Reply::Int(i64::from(hit)))
}

pub fn hlen(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(count(d.txn.hlen(c.key()).map_err(ks)?))
}

/// `SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT n|KEEPTTL]`.
pub fn set(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let opts = set_options(c.args, d.txn.now())?;
    let out = d.txn.set(c.key(), c.arg(2).to_vec(), opts).map_err(ks)?;
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
    let parsed = ExtendedOptions::parse(args.get(3..).unwrap_or(&[]), StringCommand::Set)?;
    let mut opts = SetOptions {
        get: parsed.get,
        cond: parsed.cond,
        ..SetOptions::default()
    };
    if parsed.keep_ttl {
        opts.expiry = SetExpiry::Keep;
    }
    if let Some(at) = parsed.expiry_ms("set", now)? {
        opts.expiry = SetExpiry::At(u64::try_from(at).unwrap_or(0));
    }
    Ok(opts)
}

/// Which command's options [`ExtendedOptions::parse`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StringCommand {
    Set,
    GetEx,
}

/// The options `SET` and `GETEX` share, read as Redis's
/// `parseExtendedStringArgumentsOrReply` reads them: an option may be
/// repeated (the last expiry wins) but not combined with a conflicting
/// one, and the expiry's number is checked only after every option.
#[derive(Debug, Clone, Copy)]
struct ExtendedOptions<'a> {
    cond: Condition,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expiry: Option<(TimeUnit, &'a [u8])>,
}

impl<'a> ExtendedOptions<'a> {
    fn parse(options: &'a [Vec<u8>], command: StringCommand) -> Result<Self, Reply> {
        let is_set = command == StringCommand::Set;
        let mut o = ExtendedOptions {
            cond: Condition::Always,
            get: false,
            keep_ttl: false,
            persist: false,
            expiry: None,
        };
        let mut i = 0;
        while let Some(option) = options.get(i) {
            let name = lower(option);
            let unit = TimeUnit::of_option(&name);
            let expiry_unit = o.expiry.map(|(u, _)| u);
            let no_other_expiry =
                !o.keep_ttl && !o.persist && expiry_unit.is_none_or(|u| Some(u) == unit);
            match (name.as_str(), options.get(i + 1)) {
                ("nx", _) if is_set && o.cond != Condition::IfExists => {
                    o.cond = Condition::IfMissing
                }
                ("xx", _) if is_set && o.cond != Condition::IfMissing => {
                    o.cond = Condition::IfExists
                }
                ("get", _) if is_set => o.get = true,
                ("keepttl", _) if is_set && expiry_unit.is_none() && !o.persist => {
                    o.keep_ttl = true
                }
                ("persist", _) if !is_set && expiry_unit.is_none() && !o.keep_ttl => {
                    o.persist = true
                }
                (_, Some(n)) if no_other_expiry => {
                    o.expiry = unit.map(|u| (u, n.as_slice()));
                    if o.expiry.is_none() {
                        return Err(syntax());
                    }
                    i += 1;
                }
                _ => return Err(syntax()),
            }
            i += 1;
        }
        Ok(o)
    }

    /// The expiry as absolute Unix ms, checked as Redis checks it.
    fn expiry_ms(&self, command: &str, now: u64) -> Result<Option<i64>, Reply> {
        let Some((unit, n)) = self.expiry else {
            return Ok(None);
        };
        let n = int_arg(n)?;
        expire_at(unit, n, now)
            .map(Some)
            .ok_or_else(|| invalid_expire(command))
    }
}

/// `SETEX key seconds value`.
pub fn setex(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    set_expiring(c, d, TimeUnit::Seconds)
}

/// `PSETEX key ms value`.
pub fn psetex(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    set_expiring(c, d, TimeUnit::Millis)
}

fn set_expiring(c: &Call<'_>, d: &mut DataCx<'_, '_>, unit: TimeUnit) -> Result<Reply, Reply> {
    let n = int_arg(c.arg(2))?;
    let at = expire_at(unit, n, d.txn.now()).ok_or_else(|| invalid_expire(c.name))?;
    let opts = SetOptions {
        expiry: SetExpiry::At(u64::try_from(at).unwrap_or(0)),
        ..SetOptions::default()
    };
    d.txn.set(c.key(), c.arg(3).to_vec(), opts).map_err(ks)?;
    Ok(Reply::Ok)
}

/// `SETNX key value`: 1 when written, 0 when the key already existed.
pub(crate) fn setnx(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let opts = SetOptions {
        cond: Condition::IfMissing,
        ..SetOptions::default()
    };
    let out = d.txn.set(c.key(), c.arg(2).to_vec(), opts).map_err(ks)?;
    Ok(Reply::Int(i64::from(out.written)))
}

/// `GETEX key [PERSIST|EX|PX|EXAT|PXAT n]`.
pub fn getex(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let parsed = ExtendedOptions::parse(c.after_key(), StringCommand::GetEx)?;
    // Redis answers a missing key or one of another type before it checks
    // the expiry's number.
    if d.txn.type_of(c.key()).map_err(ks)? != "string" {
        return Ok(opt_bulk(d.txn.getex(c.key(), None).map_err(ks)?));
    }
    let change = match parsed.expiry_ms("getex", d.txn.now())? {
        Some(at) => Some(TtlChange::At(at)),
        None if parsed.persist => Some(TtlChange::Persist),
        None => None,
    };
    Ok(opt_bulk(d.txn.getex(c.key(), change).map_err(ks)?))
}

/// `GETSET key value`: the old value; the key loses its TTL (Redis).
pub fn getset(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let opts = SetOptions {
        get: true,
        ..SetOptions::default()
    };
    let out = d.txn.set(c.key(), c.arg(2).to_vec(), opts).map_err(ks)?;
    Ok(opt_bulk(out.old))
}

/// `APPEND key value`: the new length.
pub fn append(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(count(d.txn.append(c.key(), c.arg(2)).map_err(ks)?))
}

/// `STRLEN key`.
pub fn strlen(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(count(d.txn.strlen(c.key()).map_err(ks)?))
}

/// `GETRANGE key start end`.
pub fn getrange(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let (start, end) = (int_arg(c.arg(2))?, int_arg(c.arg(3))?);
    Ok(Reply::Bulk(
        d.txn.getrange(c.key(), start, end).map_err(ks)?,
    ))
}

/// `RENAME key newkey`: OK; `ERR no such key` when `key` is missing.
pub fn rename(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    d.txn.rename(c.key(), c.arg(2), false).map_err(ks)?;
    Ok(Reply::Ok)
}

/// `RENAMENX key newkey`: 1 when moved, 0 when `newkey` exists.
pub fn renamenx(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let moved = d.txn.rename(c.key(), c.arg(2), true).map_err(ks)?;
    Ok(Reply::Int(i64::from(moved)))
}

/// `MGET key...`: nil for a missing key or one of another type.
pub(crate) fn mget(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let mut out = Vec::with_capacity(c.args.len().saturating_sub(1));
    for k in c.args.iter().skip(1) {
        out.push(opt_bulk(d.txn.get_or_nil(k).map_err(ks)?));
    }
    Ok(Reply::Array(out))
}

/// `MSET key value...`: every key is checked before any is written.
pub fn mset(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    if c.args.len() % 2 != 1 {
        return Err(wrong_args(c.name));
    }
    let pairs = c.args.get(1..).unwrap_or(&[]);
    for pair in pairs.chunks(2) {
        check_key(arg(pair, 0)).map_err(ks)?;
    }
    for pair in pairs.chunks(2) {
        d.txn
            .set(arg(pair, 0), arg(pair, 1).to_vec(), SetOptions::default())
            .map_err(ks)?;
    }
    Ok(Reply::Ok)
}

/// `DEL`/`UNLINK`: how many keys were removed.
pub fn del(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    count_keys(c, d, |t, k| t.del(k))
}

/// `EXISTS`: how many of the keys exist (a key named twice counts twice).
pub fn exists(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    count_keys(c, d, |t, k| t.exists(k))
}

/// Runs `op` on every key argument, after checking them all, and counts
/// how often it answered true.
fn count_keys(
    c: &Call<'_>,
    d: &mut DataCx<'_, '_>,
    mut op: impl FnMut(&mut Txn<'_>, &[u8]) -> Result<bool, KsError>,
) -> Result<Reply, Reply> {
    for k in c.args.iter().skip(1) {
        check_key(k).map_err(ks)?;
    }
    let mut n = 0;
    for k in c.args.iter().skip(1) {
        n += i64::from(op(d.txn, k).map_err(ks)?);
    }
    Ok(Reply::Int(n))
}

/// `EXPIRE key seconds [NX|XX|GT|LT...]`.
pub fn expire(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    set_expiry(c, d, TimeUnit::Seconds)
}

/// `PEXPIRE key ms [NX|XX|GT|LT...]`.
pub(crate) fn pexpire(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    set_expiry(c, d, TimeUnit::Millis)
}

/// `EXPIREAT key unix-seconds [NX|XX|GT|LT...]`.
pub(crate) fn expireat(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    set_expiry(c, d, TimeUnit::UnixSeconds)
}

/// `PEXPIREAT key unix-ms [NX|XX|GT|LT...]`.
pub(crate) fn pexpireat(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    set_expiry(c, d, TimeUnit::UnixMillis)
}

/// The `EXPIRE` family: a zero or negative time deletes the key (Redis).
fn set_expiry(c: &Call<'_>, d: &mut DataCx<'_, '_>, unit: TimeUnit) -> Result<Reply, Reply> {
    let key = c.key();
    let flags = ExpireFlags::parse(c.args.get(3..).unwrap_or(&[]))?;
    let n = int_arg(c.arg(2))?;
    let when = unit
        .absolute_ms(n, d.txn.now())
        .ok_or_else(|| invalid_expire(c.name))?;
    let t = &mut *d.txn;
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
                _ => {
                    return Err(Reply::err(format!(
                        "ERR Unsupported option {}",
                        printable(o)
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

/// `TTL`: seconds, rounded; -2 missing, -1 no expiry.
pub fn ttl(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    time_to_live(c, d, |ms| ms.saturating_add(500) / 1000)
}

/// `PTTL`: milliseconds; -2 missing, -1 no expiry.
pub fn pttl(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    time_to_live(c, d, |ms| ms)
}

fn time_to_live(
    c: &Call<'_>,
    d: &mut DataCx<'_, '_>,
    from_ms: fn(u64) -> u64,
) -> Result<Reply, Reply> {
    Ok(Reply::Int(match d.txn.ttl(c.key()).map_err(ks)? {
        Ttl::Missing => -2,
        Ttl::Persistent => -1,
        Ttl::Ms(ms) => i64::try_from(from_ms(ms)).unwrap_or(i64::MAX),
    }))
}

/// The cursor argument of `SCAN`, `SSCAN` and `HSCAN`, read as Redis
/// reads it (C's `strtoul`): an optional sign and decimal digits, the
/// whole argument, within 64 bits; a `-` negates modulo 2^64 (`-1` is
/// 2^64 - 1) and an empty argument is 0. A cursor reddb did not issue
/// just continues from that position (past the last key: none).
pub(super) fn scan_cursor(b: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::err("ERR invalid cursor");
    if b.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// The options of `SCAN` (`[MATCH pattern] [COUNT n] [TYPE type]`) and
/// `SSCAN` (no `TYPE`); a `*` pattern is no pattern.
pub(super) struct ScanOptions<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub type_filter: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    pub(super) fn parse(options: &'a [Vec<u8>], with_type: bool) -> Result<Self, Reply> {
        let mut o = ScanOptions {
            pattern: None,
            count: 10,
            type_filter: None,
        };
        for pair in options.chunks(2) {
            let [option, v] = pair else {
                return Err(syntax());
            };
            match lower(option).as_str() {
                "match" => o.pattern = Some(v.as_slice()).filter(|p| *p != b"*"),
                "count" => {
                    let n = int_arg(v)?;
                    if n < 1 {
                        return Err(syntax());
                    }
                    o.count = usize::try_from(n).unwrap_or(usize::MAX);
                }
                "type" if with_type => o.type_filter = Some(v.as_slice()),
                _ => return Err(syntax()),
            }
        }
        Ok(o)
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`.
pub fn scan(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let cursor = scan_cursor(c.arg(1))?;
    let o = ScanOptions::parse(c.args.get(2..).unwrap_or(&[]), true)?;
    let Some(state) = d.state else {
        return Err(Reply::err("ERR the vault is sealed"));
    };
    let page = d.shared.keyspace.scan(
        state,
        d.txn.db(),
        d.txn.now(),
        ScanRequest {
            cursor,
            count: o.count,
            pattern: o.pattern,
            type_filter: o.type_filter,
        },
    );
    Ok(Reply::Array(vec![
        Reply::bulk(page.cursor.to_string()),
        Reply::Array(bulks(page.keys)),
    ]))
}

fn flush_mode(c: &Call<'_>) -> Result<(), Reply> {
    match c.args.get(1).map(|a| lower(a)) {
        None => Ok(()),
        Some(m) if c.args.len() == 2 && (m == "async" || m == "sync") => Ok(()),
        Some(_) => Err(syntax()),
    }
}

/// `FLUSHDB [ASYNC|SYNC]`: the selected database.
pub fn flushdb(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    flush_mode(c)?;
    d.txn.flush();
    Ok(Reply::Ok)
}

/// `FLUSHALL [ASYNC|SYNC]`: every database.
pub fn flushall(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    flush_mode(c)?;
    d.txn.flush_all();
    Ok(Reply::Ok)
}

/// A database number argument: `ERR value is not an integer or out of
/// range` when not a number, `ERR DB index is out of range` past 15.
pub(super) fn db_arg(b: &[u8]) -> Result<usize, Reply> {
    usize::try_from(int_arg(b)?)
        .ok()
        .filter(|&db| db < DATABASES)
        .ok_or_else(|| Reply::err("ERR DB index is out of range"))
}

/// `SWAPDB index1 index2`.
pub fn swapdb(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let a = parse_i64(c.arg(1)).ok_or_else(|| Reply::err("ERR invalid first DB index"))?;
    let b = parse_i64(c.arg(2)).ok_or_else(|| Reply::err("ERR invalid second DB index"))?;
    let in_range = |v: i64| usize::try_from(v).ok().filter(|&v| v < DATABASES);
    match (in_range(a), in_range(b)) {
        (Some(a), Some(b)) if d.txn.swap_databases(a, b) => Ok(Reply::Ok),
        _ => Err(Reply::err("ERR DB index is out of range")),
    }
}

/// `MOVE key db`.
pub fn move_key(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let db = db_arg(c.arg(2))?;
    if db == d.txn.db() {
        return Err(Reply::err(
            "ERR source and destination objects are the same",
        ));
    }
    Ok(Reply::Int(i64::from(
        d.txn.move_key(c.key(), db).map_err(ks)?,
    )))
}

/// `INCR key`.
pub(crate) fn incr(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    add(c, d, 1)
}

/// `DECR key`.
pub(crate) fn decr(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    add(c, d, -1)
}

/// `INCRBY key n`.
pub(crate) fn incrby(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let delta = int_arg(c.arg(2))?;
    add(c, d, delta)
}

/// `DECRBY key n`.
pub(crate) fn decrby(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let delta = int_arg(c.arg(2))?
        .checked_neg()
        .ok_or_else(|| Reply::err("ERR decrement would overflow"))?;
    add(c, d, delta)
}

fn add(c: &Call<'_>, d: &mut DataCx<'_, '_>, delta: i64) -> Result<Reply, Reply> {
    Ok(Reply::Int(d.txn.incr_by(c.key(), delta).map_err(ks)?))
}

/// `HSET key field value...`: how many fields were new.
pub fn hset(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    set_fields(c, d).map(Reply::Int)
}

/// `HMSET key field value...`: OK.
pub(crate) fn hmset(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    set_fields(c, d).map(|_| Reply::Ok)
}

fn set_fields(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<i64, Reply> {
    if !c.args.len().is_multiple_of(2) {
        return Err(wrong_args(c.name));
    }
    let pairs = c
        .after_key()
        .chunks(2)
        .map(|p| (arg(p, 0).to_vec(), arg(p, 1).to_vec()))
        .collect();
    d.txn.hset(c.key(), pairs).map_err(ks)
}

/// `PING [message]`.
pub fn ping(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    if !cx.session.resp3 && cx.shared.pubsub.is_subscriber(cx.session.id) {
        // Subscribed (RESP2): Redis answers in the shape of a message.
        return match c.args.len() {
            1 | 2 => Ok(Reply::Array(vec![
                Reply::bulk("pong"),
                Reply::bulk(c.arg(1)),
            ])),
            _ => Err(wrong_args(c.name)),
        };
    }
    match c.args.len() {
        1 => Ok(Reply::simple("PONG")),
        2 => Ok(Reply::bulk(c.arg(1))),
        _ => Err(wrong_args(c.name)),
    }
}

pub fn echo(c: &Call<'_>, _: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::bulk(c.arg(1)))
}

/// `SELECT db`: the database later commands of the connection use.
pub fn select(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let db = db_arg(c.arg(1))?;
    cx.session.select_db(db);
    if let Some(txn) = cx.txn.as_mut() {
        txn.select(db);
    }
    Ok(Reply::Ok)
}

/// `TIME`: Unix seconds and microseconds.
pub fn time(_: &Call<'_>, _: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Reply::Array(vec![
        Reply::bulk(d.as_secs().to_string()),
        Reply::bulk(d.subsec_micros().to_string()),
    ]))
}

pub fn info(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let text = super::info::render_info(c.args, cx.shared, cx.svc, cx.state);
    Ok(Reply::Bulk(text.into_bytes()))
}

/// `WAIT numreplicas timeout`: reddb has no replicas, so none acknowledged
/// anything; answers 0 at once (every write is already durable when it is
/// answered).
pub fn wait(c: &Call<'_>, _: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    int_arg(c.arg(1))?;
    let timeout = parse_i64(c.arg(2))
        .ok_or_else(|| Reply::err("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(Reply::err("ERR timeout is negative"));
    }
    Ok(Reply::Int(0))
}

/// `SAVE`: compacts the store in one go once the transaction commits (it
/// blocks the server, as Redis's `SAVE` does).
pub fn save(_: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    cx.post.push(Post::Save);
    Ok(Reply::Ok)
}

/// `BGSAVE [SCHEDULE]`: starts an incremental checkpoint, which the event
/// loop runs in small steps between turns (docs/FORMAT.md §10).
pub fn bgsave(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let args = c.args;
    if args.len() > 2 || (args.len() == 2 && lower(arg(args, 1)) != "schedule") {
        return Err(syntax());
    }
    if cx.svc.keyspace_saving() {
        return Err(Reply::err("ERR Background save already in progress"));
    }
    cx.post.push(Post::BackgroundSave);
    Ok(Reply::simple("Background saving started"))
}

pub(crate) fn lastsave(_: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::Int(
        i64::try_from(cx.shared.keyspace.last_save_unix).unwrap_or(0),
    ))
}

/// A name CLIENT SETNAME accepts: printable ASCII without spaces.
fn valid_client_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (0x21..0x7f).contains(&c))
}

/// `UNWATCH`: forget every watched key (also queued inside `MULTI`).
pub(crate) fn unwatch(_: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    cx.shared.watches.unwatch(cx.session.id);
    Ok(Reply::Ok)
}

/// `CLIENT SETNAME|GETNAME|SETINFO|ID|LIST|INFO|NO-TOUCH`, and
/// `KILL|PAUSE|UNPAUSE|UNBLOCK|REPLY|NO-EVICT` and `LIST`'s filters (in
/// [`super::client_control`]).
pub fn client(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let args = c.args;
    let sub = lower(arg(args, 1));
    let id = cx.session.id;
    let r = match sub.as_str() {
        "kill" | "pause" | "unpause" | "unblock" | "reply" | "no-evict" => {
            return super::client_control::run(&sub, c, cx)
        }
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
        "list" => {
            let now = std::time::Instant::now();
            let listed = super::client_control::listed(c, cx.shared)?;
            let text: String = listed
                .iter()
                .map(|c| client_line(c, cx.shared, now))
                .collect();
            Reply::Bulk(text.into_bytes())
        }
        "info" => {
            let now = std::time::Instant::now();
            let shared: &Shared = cx.shared;
            let line = shared.clients.get(&id).map(|c| client_line(c, shared, now));
            Reply::Bulk(line.unwrap_or_default().into_bytes())
        }
        "setname" | "getname" | "setinfo" | "id" => {
            return Err(wrong_args(&format!("client|{sub}")))
        }
        "no-touch" => Reply::Ok,
        "tracking" | "trackinginfo" | "getredir" | "caching" => {
            return super::tracking::client_subcommand(&sub, c, cx)
        }
        _ => return Err(unknown_subcommand(arg(args, 1), "client")),
    };
    Ok(r)
}

/// One connection's `CLIENT LIST` line, newline included.
/// (Its subscriptions and tracking come from `shared`.)
fn client_line(c: &ClientInfo, shared: &Shared, now: std::time::Instant) -> String {
    let (sub, psub) = shared.pubsub.counts(c.id);
    let tracking = shared.tracking.is_on(c.id);
    // Redis's letters, in Redis's order.
    let mut flags = String::new();
    for (on, letter) in [
        (sub + psub > 0, 'P'),
        (c.activity.multi.get() >= 0, 'x'),
        (c.blocked, 'b'),
        (tracking, 't'),
    ] {
        if on {
            flags.push(letter);
        }
    }
    if flags.is_empty() {
        flags.push('N');
    }
    format!(
        "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={flags} db={} sub={sub} psub={psub} ssub=0 multi={} qbuf=0 qbuf-free=0 obl=0 oll=0 omem=0 events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}\n",
        c.id,
        c.addr,
        c.laddr,
        printable(&c.name),
        now.duration_since(c.created).as_secs(),
        now.duration_since(c.activity.last_command.get()).as_secs(),
        c.activity.db.get(),
        c.activity.multi.get(),
        c.activity.last_command_name.get(),
        c.user,
        if tracking { 0 } else { -1 },
        c.activity.resp.get(),
        printable(&c.lib_name),
        printable(&c.lib_ver),
    )
}

/// Redis 7.0's `SLOWLOG HELP`, line for line.
const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// `SLOWLOG GET [count]|LEN|RESET|HELP` (the subcommand and its arity
/// were checked against the table).
pub fn slowlog(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let (args, shared) = (c.args, &mut *cx.shared);
    match lower(arg(args, 1)).as_str() {
        "get" if args.len() <= 3 => {
            let n = match args.get(2) {
                None => 10,
                Some(a) => match parse_i64(a) {
                    Some(-1) => usize::MAX,
                    Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                    _ => {
                        return Err(Reply::err(
                            "ERR count should be greater than or equal to -1",
                        ))
                    }
                },
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
        "get" => Err(Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            printable(arg(args, 1))
        ))),
        "len" => Ok(Reply::Int(i64::try_from(shared.slowlog.len()).unwrap_or(0))),
        "reset" => {
            shared.slowlog.clear();
            Ok(Reply::Ok)
        }
        _ => Ok(Reply::Array(
            SLOWLOG_HELP
                .iter()
                .map(|line| Reply::simple(*line))
                .collect(),
        )),
    }
}
