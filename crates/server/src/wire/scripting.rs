//! `EVAL`, `EVALSHA`, `EVAL_RO`, `EVALSHA_RO` and `SCRIPT LOAD|EXISTS|
//! FLUSH|KILL|HELP|DEBUG` over [`reddb_scripting`], and the runner behind a
//! script's `redis.call`.
//!
//! A script runs as one command: in the keyspace transaction its `EVAL`
//! runs in (alone, or inside `EXEC`), staged as one commit once it ends.
//! An error the script raises keeps the writes made before it, as in
//! Redis (no rollback). Each `redis.call` takes the path a client's
//! command takes — the table's lookup and arity, the admin rules (with the
//! caller's principal), the caller's database — and is refused, with
//! Redis's error, when Redis refuses it from a script (`noscript`:
//! `MULTI`, `AUTH`, `SUBSCRIBE`, `BLPOP`, `EVAL`…), when it writes from a
//! read-only script (`EVAL_RO`, or a `flags=no-writes` shebang), or when
//! one of its keys is a vault key (`red.secret.*`, refused on every path).
//! A `SELECT` inside a script changes the script's database only.
//!
//! With scripting off (`--no-scripting`, or the `regulated` preset) every
//! one of these commands answers [`DISABLED`]; `COMMAND` still lists them.

use super::commands::{self, lower, Call, Ctx};
use super::errors::keyspace_error_line;
use super::resp::Reply;
use super::table::{self, Handler, Spec, ADMIN, WRITE};
use super::REDIS_VERSION;
use reddb_scripting::{CallMode, CommandRunner, EngineConfig, ScriptEngine, ScriptReply};
use reddb_service::keyspace::{KsError, SECRET_KEY_PREFIX};
use reddb_service::strict_decimal::parse_i64;
use std::time::Duration;

/// The answer to every scripting command while scripting is off.
pub(crate) const DISABLED: &str =
    "ERR scripting is turned off on this server (red server --no-scripting, or the regulated preset)";

/// What Redis 7.0.15 refuses from a script ("This Redis command is not
/// allowed from script"): its `noscript` commands and subcommands, as far
/// as reddb has them. reddb's connection-level commands (`AUTH`, `HELLO`,
/// `MULTI`, `EXEC`, `WATCH`, `QUIT`, `RESET`…) are refused as well.
const NOSCRIPT: &[&str] = &[
    "acl|cat",
    "acl|deluser",
    "acl|dryrun",
    "acl|genpass",
    "acl|getuser",
    "acl|list",
    "acl|load",
    "acl|log",
    "acl|save",
    "acl|setuser",
    "acl|users",
    "acl|whoami",
    "bgrewriteaof",
    "bgsave",
    "blmove",
    "blpop",
    "brpop",
    "brpoplpush",
    "bzpopmax",
    "bzpopmin",
    "client|caching",
    "client|getname",
    "client|getredir",
    "client|id",
    "client|info",
    "client|kill",
    "client|list",
    "client|no-evict",
    "client|pause",
    "client|reply",
    "client|setname",
    "client|tracking",
    "client|trackinginfo",
    "client|unblock",
    "client|unpause",
    "config|get",
    "config|resetstat",
    "config|rewrite",
    "config|set",
    "debug",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "failover",
    "monitor",
    "psubscribe",
    "punsubscribe",
    "replicaof",
    "role",
    "save",
    "script|debug",
    "script|exists",
    "script|flush",
    "script|kill",
    "script|load",
    "shutdown",
    "slaveof",
    "ssubscribe",
    "subscribe",
    "sunsubscribe",
    "sync",
    "unsubscribe",
    "unwatch",
    "wait",
];

const NOT_ALLOWED: &str = "-ERR This Redis command is not allowed from script\r\n";

/// What the event loop lends a running script: called from the script's
/// clock hook once it has run past the busy time, it answers the other
/// clients (`-BUSY`, `SCRIPT KILL`) and says whether to stop the script.
pub(crate) trait BusyResponder {
    /// Serves the other connections once; `wrote`: the script has written
    /// (`SCRIPT KILL` is then refused `UNKILLABLE`). `true`: stop it.
    fn serve(&mut self, wrote: bool) -> bool;
    /// For the loop to take its own type back.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

/// The scripting state of the server: on or off, the engine (with its
/// script cache), and the loop's busy responder while a script command
/// runs.
pub(crate) struct Scripting {
    pub enabled: bool,
    pub engine: ScriptEngine,
    pub busy: Option<Box<dyn BusyResponder>>,
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting::new(true, reddb_scripting::DEFAULT_BUSY_AFTER)
    }
}

fn engine_config(busy_after: Duration) -> EngineConfig {
    EngineConfig {
        busy_after,
        redis_version: REDIS_VERSION,
        redis_version_num: version_num(REDIS_VERSION),
        ..EngineConfig::default()
    }
}

/// `7.0.0` as Redis's `REDIS_VERSION_NUM` (`0x070000`).
fn version_num(v: &str) -> i64 {
    v.split('.')
        .take(3)
        .map(|p| p.parse::<i64>().unwrap_or(0))
        .fold(0, |acc, p| (acc << 8) | (p & 0xff))
}

impl Scripting {
    pub(crate) fn new(enabled: bool, busy_after: Duration) -> Self {
        Scripting {
            enabled,
            engine: ScriptEngine::new(engine_config(busy_after)),
            busy: None,
        }
    }

    /// The busy time in milliseconds (`CONFIG GET busy-reply-threshold`).
    pub(crate) fn busy_millis(&self) -> u128 {
        self.engine.config().busy_after.as_millis()
    }
}

/// `EVAL script numkeys key… arg…`.
pub(super) fn eval(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    run_script(c, cx, false, false)
}

/// `EVALSHA sha1 numkeys key… arg…`.
pub(super) fn evalsha(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    run_script(c, cx, true, false)
}

/// `EVAL_RO`: as `EVAL`, writes refused.
pub(super) fn eval_ro(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    run_script(c, cx, false, true)
}

/// `EVALSHA_RO`: as `EVALSHA`, writes refused.
pub(super) fn evalsha_ro(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    run_script(c, cx, true, true)
}

/// A script's `KEYS` and `ARGV`.
type KeysAndArgs<'a> = (&'a [Vec<u8>], &'a [Vec<u8>]);

/// KEYS and ARGV from `numkeys key… arg…`, with Redis's errors.
fn split_keys(args: &[Vec<u8>]) -> Result<KeysAndArgs<'_>, Reply> {
    let numkeys =
        parse_i64(args.get(2).map_or(&[][..], Vec::as_slice)).ok_or_else(commands::not_integer)?;
    let rest = args.get(3..).unwrap_or(&[]);
    if numkeys > i64::try_from(rest.len()).unwrap_or(i64::MAX) {
        return Err(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let n =
        usize::try_from(numkeys).map_err(|_| Reply::err("ERR Number of keys can't be negative"))?;
    Ok((rest.get(..n).unwrap_or(&[]), rest.get(n..).unwrap_or(&[])))
}

fn run_script(
    c: &Call<'_>,
    cx: &mut Ctx<'_, '_>,
    by_sha: bool,
    read_only: bool,
) -> Result<Reply, Reply> {
    if !cx.shared.scripting.enabled {
        return Err(Reply::err(DISABLED));
    }
    let (keys, argv) = split_keys(c.args)?;
    let body = c.arg(1);
    let placeholder = ScriptEngine::new(cx.shared.scripting.engine.config().clone());
    let mut engine = std::mem::replace(&mut cx.shared.scripting.engine, placeholder);
    let db = cx.session.db;
    let mut runner = ScriptRunner {
        cx: &mut *cx,
        read_only,
        wrote: false,
    };
    let outcome = if by_sha {
        engine.evalsha(body, keys, argv, &mut runner)
    } else {
        engine.eval(body, keys, argv, &mut runner)
    };
    cx.shared.scripting.engine = engine;
    // A SELECT inside the script changed the script's database only.
    cx.session.select_db(db);
    if let Some(txn) = cx.txn.as_deref_mut() {
        txn.select(db);
    }
    Ok(to_reply(outcome.reply))
}

/// A script's reply as the server's.
pub(crate) fn to_reply(r: ScriptReply) -> Reply {
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    match r {
        ScriptReply::Status(s) => Reply::Simple(text(s)),
        ScriptReply::Error(e) => Reply::Error(text(e)),
        ScriptReply::Int(i) => Reply::Int(i),
        ScriptReply::Bulk(b) | ScriptReply::BigNumber(b) => Reply::Bulk(b),
        ScriptReply::Verbatim { text: t, .. } => Reply::Bulk(t),
        ScriptReply::Null => Reply::Nil,
        ScriptReply::Array(items) => Reply::Array(items.into_iter().map(to_reply).collect()),
        ScriptReply::Set(items) => Reply::Set(items.into_iter().map(to_reply).collect()),
        ScriptReply::Map(pairs) => Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (to_reply(k), to_reply(v)))
                .collect(),
        ),
        ScriptReply::Double(d) => Reply::Double(reddb_scripting::reply::format_g17(d)),
        ScriptReply::Bool(b) => Reply::Bool(b),
    }
}

/// `redis.call` for one script run: the caller's connection, principal,
/// database and transaction.
struct ScriptRunner<'c, 'a, 't> {
    cx: &'c mut Ctx<'a, 't>,
    read_only: bool,
    /// A write command ran (then `SCRIPT KILL` cannot stop the script).
    wrote: bool,
}

impl ScriptRunner<'_, '_, '_> {
    /// The checks a command from a script passes before it runs, in
    /// Redis's order; `Err` is the error reply.
    fn admit(&mut self, args: &[Vec<u8>], no_writes: bool) -> Result<&'static Spec, Vec<u8>> {
        let name = lower(args.first().map_or(&[][..], Vec::as_slice));
        let Some(spec) = table::lookup(&name) else {
            return Err(b"-ERR Unknown Redis command called from script\r\n".to_vec());
        };
        let sub = if spec.subcommands.is_empty() {
            None
        } else {
            let sub_name = lower(args.get(1).map_or(&[][..], Vec::as_slice));
            match spec.subcommand(&sub_name) {
                Some(sub) => Some(sub),
                None if args.len() == 1 => None,
                None => return Err(b"-ERR Unknown Redis command called from script\r\n".to_vec()),
            }
        };
        let arity_ok = spec.arity_ok(args.len()) && sub.is_none_or(|s| s.arity_ok(args.len()));
        if !arity_ok {
            return Err(
                b"-ERR Wrong number of args calling Redis command from script\r\n".to_vec(),
            );
        }
        let full = match sub {
            Some(s) => format!("{}|{}", spec.name, s.name),
            None => spec.name.to_string(),
        };
        let connection_level = matches!(spec.handler, Handler::Session(_));
        if connection_level || NOSCRIPT.contains(&full.as_str()) || NOSCRIPT.contains(&spec.name) {
            return Err(NOT_ALLOWED.as_bytes().to_vec());
        }
        if spec.has(WRITE) && (self.read_only || no_writes) {
            return Err(
                b"-ERR Write commands are not allowed from read-only scripts.\r\n".to_vec(),
            );
        }
        if let Err(refused) = self.cx.shared.admit(self.cx.session, spec, args) {
            return Err(encode(&refused, false));
        }
        let secret = spec
            .key_args(args)
            .unwrap_or_default()
            .iter()
            .any(|k| k.starts_with(SECRET_KEY_PREFIX));
        if secret {
            return Err(encode(
                &Reply::Error(keyspace_error_line(&KsError::SecretKey)),
                false,
            ));
        }
        Ok(spec)
    }
}

fn encode(r: &Reply, resp3: bool) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode(resp3, &mut out);
    out
}

impl CommandRunner for ScriptRunner<'_, '_, '_> {
    fn call(&mut self, args: &[Vec<u8>], mode: CallMode) -> Vec<u8> {
        let spec = match self.admit(args, mode.no_writes) {
            Ok(spec) => spec,
            Err(refused) => return refused,
        };
        let Handler::Run(runner) = spec.handler else {
            return NOT_ALLOWED.as_bytes().to_vec();
        };
        let started = std::time::Instant::now();
        let cx = &mut *self.cx;
        // Keyspace notifications and tracking, as for a client's command.
        let probe = cx
            .shared
            .events_before(cx.txn.as_deref(), cx.state, spec, args);
        let mut inner = Ctx {
            txn: cx.txn.as_deref_mut(),
            state: cx.state,
            svc: cx.svc,
            session: &mut *cx.session,
            shared: &mut *cx.shared,
            post: &mut *cx.post,
            // Nothing blocks in a script: BLMPOP and BZMPOP answer at once.
            block: None,
            in_exec: true,
        };
        let reply = commands::execute(spec, runner, args, &mut inner);
        cx.shared
            .events_after(probe, cx.txn.as_deref(), cx.session.id, spec, args, &reply);
        cx.shared.feed_monitors(cx.session, spec, args);
        cx.shared.stats.calls.count_call(
            super::info::CommandName::of(spec, args),
            started.elapsed(),
            &reply,
        );
        if spec.has(WRITE) && !matches!(reply, Reply::Error(_)) {
            self.wrote = true;
            // Clients blocked on a key the script wrote are served once
            // the script's commit is staged, as after a client's write.
            cx.shared.note_written(&[super::Queued {
                spec,
                runner,
                args: args.to_vec(),
            }]);
        }
        encode(&reply, mode.resp3)
    }

    fn permitted(&mut self, args: &[Vec<u8>]) -> Option<bool> {
        let name = lower(args.first().map_or(&[][..], Vec::as_slice));
        let spec = table::lookup(&name)?;
        let admin = self
            .cx
            .session
            .principal
            .as_ref()
            .is_some_and(reddb_service::Principal::is_admin);
        let sub_admin = args
            .get(1)
            .and_then(|s| spec.subcommand(&lower(s)))
            .is_some_and(|s| s.admin);
        Some(admin || !(spec.has(ADMIN) || sub_admin))
    }

    fn busy(&mut self, _running_for: Duration) -> bool {
        let wrote = self.wrote;
        self.cx
            .shared
            .scripting
            .busy
            .as_mut()
            .is_some_and(|b| b.serve(wrote))
    }
}

/// Redis 7.0's `SCRIPT HELP`, line for line.
const HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

/// `SCRIPT subcommand …` (the subcommand and its arity were checked
/// against the table).
pub(super) fn script(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    if !cx.shared.scripting.enabled {
        return Err(Reply::err(DISABLED));
    }
    let engine = &mut cx.shared.scripting.engine;
    match lower(c.arg(1)).as_str() {
        "load" => engine
            .load(c.arg(2))
            .map(|sha| Reply::Bulk(sha.into_bytes()))
            .map_err(to_reply),
        "exists" => Ok(Reply::Array(
            c.args
                .get(2..)
                .unwrap_or(&[])
                .iter()
                .map(|sha| Reply::Int(i64::from(engine.exists(sha))))
                .collect(),
        )),
        "flush" => {
            let mode = c.args.get(2..).unwrap_or(&[]);
            let ok = match mode {
                [] => true,
                [m] => matches!(lower(m).as_str(), "sync" | "async"),
                _ => false,
            };
            if !ok {
                return Err(Reply::err(
                    "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
                ));
            }
            engine.flush();
            Ok(Reply::Ok)
        }
        // Outside a running script (while one runs, the loop answers
        // SCRIPT KILL itself).
        "kill" => Err(Reply::err("NOTBUSY No scripts in execution right now.")),
        "debug" => Err(Reply::err(
            "ERR SCRIPT DEBUG is not supported: reddb has no Lua debugger",
        )),
        _ => Ok(Reply::Array(
            HELP.iter().map(|line| Reply::simple(*line)).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_number_is_redis_encoding() {
        assert_eq!(version_num("7.0.15"), 458_767);
        assert_eq!(version_num("7.0.0"), 0x07_00_00);
    }

    #[test]
    fn numkeys_errors_follow_redis() {
        let args = |v: &[&str]| v.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>();
        let e = |v: &[&str]| split_keys(&args(v)).err();
        assert_eq!(
            e(&["eval", "s", "-1"]),
            Some(Reply::err("ERR Number of keys can't be negative"))
        );
        assert_eq!(
            e(&["eval", "s", "2", "a"]),
            Some(Reply::err(
                "ERR Number of keys can't be greater than number of args"
            ))
        );
        assert_eq!(e(&["eval", "s", "x"]), Some(commands::not_integer()));
        let a = args(&["eval", "s", "1", "k", "v"]);
        let (k, v) = split_keys(&a).unwrap();
        assert_eq!((k.len(), v.len()), (1, 1));
    }
}
