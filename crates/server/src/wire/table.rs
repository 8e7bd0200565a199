//! The one table of wire commands: for each, its name, Redis arity, flags,
//! key positions, documentation (group, first version, summary) and the
//! handler that runs it.
//!
//! A command's name is compared in exactly one place, [`lookup`]; everything
//! else (authentication, `MULTI` queueing, the sealed-vault check, `SLOWLOG`,
//! and the `COMMAND` introspection replies in [`super::introspect`]) reads
//! the entry. Adding a command is one entry here plus one handler.

use super::access_control as acl;
use super::bit_and_float_handlers as bits;
use super::commands::{self as cmd, Call, Ctx, DataCx};
use super::config_command as config;
use super::introspect;
use super::key_flags::{self as kf, KeyFlags};
use super::list_handlers as lists;
use super::monitor;
use super::object_command as object;
use super::pubsub;
use super::resp::Reply;
use super::scripting;
use super::set_handlers as sets;
use super::sorted_set_handlers as zsets;
use super::string_and_hash_handlers as sh;
use reddb_service::strict_decimal::parse_i64;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Writes the keyspace (Redis `write`).
pub(crate) const WRITE: u32 = 1;
/// Only reads the keyspace (Redis `readonly`).
pub(crate) const READONLY: u32 = 1 << 1;
/// Needs an admin principal (Redis `admin`; reddb asks it of fewer
/// commands than Redis does, see [`TABLE`]).
pub(crate) const ADMIN: u32 = 1 << 2;
/// Constant or near-constant time (Redis `fast`).
pub const FAST: u32 = 1 << 3;
/// Allowed before authentication (Redis `no_auth`).
pub(crate) const NO_AUTH: u32 = 1 << 4;
/// Refused inside `MULTI` (Redis `no_multi`).
pub(crate) const NO_MULTI: u32 = 1 << 5;
/// Uses the keyspace, so fails while the vault is sealed (no Redis flag).
pub(crate) const DATA: u32 = 1 << 6;
/// Runs at once even inside `MULTI`, never queued (no Redis flag).
pub(crate) const IMMEDIATE: u32 = 1 << 7;
/// May block the connection until a key is written (Redis `blocking`).
pub(crate) const BLOCKING: u32 = 1 << 9;
/// Held by `CLIENT PAUSE … WRITE` though it writes no key (`PUBLISH`, as
/// Redis holds it; no Redis flag of its own).
pub(crate) const PAUSED_AS_WRITE: u32 = 1 << 20;
/// Finds no key when its key count is wrong, instead of being an invalid
/// command line for `COMMAND GETKEYS` (Redis `no_mandatory_keys`: `EVAL`).
pub(crate) const NO_MANDATORY_KEYS: u32 = 1 << 10;
/// Not shown to `MONITOR`: Redis's admin commands (no Redis flag of its
/// own; Redis hides every `admin` command, see [`Sub::redis_admin`]).
pub(crate) const UNMONITORED: u32 = 1 << 8;

/// The flags `COMMAND` shows, in Redis's order, with their Redis names.
pub(crate) const REDIS_FLAG_NAMES: &[(u32, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (ADMIN, "admin"),
    (BLOCKING, "blocking"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (NO_MULTI, "no_multi"),
];

const READ_DATA: u32 = DATA | READONLY;
const WRITE_DATA: u32 = DATA | WRITE;

/// Where a command's keys are among its arguments (the command name is
/// argument 0), as Redis's legacy `first, last, step` triple: `last` -1 is
/// the last argument; no keys is 0, 0, 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeySpec {
    pub first: u8,
    pub last: i8,
    pub step: u8,
}

/// No key arguments.
pub(crate) const NO_KEYS: KeySpec = KeySpec {
    first: 0,
    last: 0,
    step: 0,
};
/// One key, the first argument.
pub(crate) const ONE_KEY: KeySpec = KeySpec {
    first: 1,
    last: 1,
    step: 1,
};
/// Every argument is a key.
pub(crate) const ALL_KEYS: KeySpec = KeySpec {
    first: 1,
    last: -1,
    step: 1,
};
/// The first two arguments (`RENAME key newkey`).
pub const TWO_KEYS: KeySpec = KeySpec {
    first: 1,
    last: 2,
    step: 1,
};
/// Key, value, key, value….
pub(crate) const KEY_VALUE_PAIRS: KeySpec = KeySpec {
    first: 1,
    last: -1,
    step: 2,
};
/// Every argument but the last (`BLPOP key … timeout`).
pub(crate) const KEYS_THEN_TIMEOUT: KeySpec = KeySpec {
    first: 1,
    last: -2,
    step: 1,
};

impl KeySpec {
    pub(crate) fn has_keys(&self) -> bool {
        self.first > 0
    }
}

/// The documentation group of a command (`COMMAND DOCS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Bitmap,
    Connection,
    Generic,
    Hash,
    List,
    Pubsub,
    Server,
    Set,
    SortedSet,
    String,
    Transactions,
    Scripting,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Bitmap => "bitmap",
            Group::Connection => "connection",
            Group::Generic => "generic",
            Group::Hash => "hash",
            Group::List => "list",
            Group::Pubsub => "pubsub",
            Group::Server => "server",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::String => "string",
            Group::Transactions => "transactions",
            Group::Scripting => "scripting",
        }
    }

    /// The ACL category Redis gives the commands of this group, if any.
    pub(crate) fn acl_category(self) -> Option<&'static str> {
        match self {
            Group::Bitmap => Some("@bitmap"),
            Group::Connection => Some("@connection"),
            Group::Generic => Some("@keyspace"),
            Group::Hash => Some("@hash"),
            Group::List => Some("@list"),
            Group::Pubsub => Some("@pubsub"),
            Group::Server => None,
            Group::Set => Some("@set"),
            Group::SortedSet => Some("@sortedset"),
            Group::String => Some("@string"),
            Group::Transactions => Some("@transaction"),
            Group::Scripting => Some("@scripting"),
        }
    }
}

/// Runs a keyspace command on the open transaction.
pub(crate) type DataHandler = fn(&Call<'_>, &mut DataCx<'_, '_>) -> Result<Reply, Reply>;
/// Runs a server command (no keyspace transaction needed).
pub(crate) type ServerHandler = fn(&Call<'_>, &mut Ctx<'_, '_>) -> Result<Reply, Reply>;

/// A command that runs inside a keyspace transaction (alone, or queued by
/// `MULTI` and run by `EXEC`).
#[derive(Clone, Copy)]
pub(crate) enum Runner {
    Data(DataHandler),
    Server(ServerHandler),
}

/// A command that changes the connection itself; run by the parent module,
/// never queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionCommand {
    Auth,
    Hello,
    Quit,
    Reset,
    Multi,
    Exec,
    Discard,
    Watch,
}

#[derive(Clone, Copy)]
pub enum Handler {
    Run(Runner),
    Session(SessionCommand),
}

/// One command.
#[derive(Clone, Copy)]
pub(crate) struct Spec {
    /// Lower-case.
    pub name: &'static str,
    /// Redis arity: n, exactly n arguments counting the name; -n, at least n.
    pub arity: i8,
    pub flags: u32,
    pub keys: KeySpec,
    /// Non-zero for a command whose keys are counted by an argument
    /// (Redis's `keynum` key spec, e.g. `SINTERCARD numkeys key …`): the
    /// index of that argument, the keys following it. `keys` then names
    /// only the keys before it, as Redis's legacy triple shows them
    /// ([`NO_KEYS`] for `SINTERCARD`, the destination for `ZUNIONSTORE`).
    pub numkeys_at: u8,
    pub group: Group,
    /// The Redis version that introduced it.
    pub since: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
    /// A container's subcommands (`OBJECT ENCODING`, `CLIENT KILL`…), as
    /// `COMMAND GETKEYS` needs them; empty for a plain command.
    pub subcommands: &'static [Sub],
    /// How the command uses the keys of each of its Redis key specs, in
    /// order (see [`Spec::key_specs`]); empty for the default: `RO
    /// access` for a read-only command, `RW update` for a writing one.
    /// Two entries for a [`KeySpec`] range split the range as Redis does:
    /// its first key, then the rest (`RENAME`, `SINTERSTORE`).
    pub key_flags: &'static [KeyFlags],
    /// The ACL categories Redis gives the command beyond those its flags
    /// and group imply (see `introspect::acl_categories`): `@dangerous`
    /// for `KEYS`, `@connection` for `WAIT`…
    pub more_categories: &'static [&'static str],
}

/// Where one of Redis 7's key specifications finds its keys among the
/// arguments (the command name is argument 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySearch {
    /// From argument `begin` to `lastkey` — counted from `begin`, or from
    /// the end when negative — every `step`.
    Range { begin: u8, lastkey: i8, step: u8 },
    /// Argument `begin` counts the keys that follow it.
    Keynum { begin: u8 },
}

/// One Redis key specification: where its keys are and how the command
/// uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeySpecification {
    pub search: KeySearch,
    pub flags: KeyFlags,
}

impl KeySearch {
    /// The positions of this spec's keys in `args` (the command name
    /// first), as Redis 7.0's `getKeysUsingKeySpecs` finds them; `None`
    /// where it finds the spec invalid: a key count that is not a number
    /// from 1 to the arguments that follow it, a range past the end.
    fn positions(self, args: &[Vec<u8>]) -> Option<Vec<usize>> {
        let argc = args.len();
        let (first, last, step) = match self {
            KeySearch::Range {
                begin,
                lastkey,
                step,
            } => {
                let first = usize::from(begin);
                let last = if lastkey >= 0 {
                    first + usize::from(lastkey.unsigned_abs())
                } else {
                    argc.checked_sub(usize::from(lastkey.unsigned_abs()))?
                };
                (first, last, usize::from(step).max(1))
            }
            KeySearch::Keynum { begin } => {
                let count = parse_i64(args.get(usize::from(begin))?)?;
                let first = usize::from(begin) + 1;
                let last = (first + usize::try_from(count).ok()?).checked_sub(1)?;
                (first, last, 1)
            }
        };
        if last >= argc || last < first {
            return None;
        }
        Some((first..=last).step_by(step).collect())
    }
}

/// One subcommand of a container command: its lower-case name, its Redis
/// arity (counting the command and the subcommand), whether its key is
/// the argument after it (read only: Redis's `RO` key spec, as for
/// `OBJECT`'s), whether Redis marks it `admin` (then `MONITOR` does not
/// show it), whether reddb asks an admin principal to run it, and the ACL
/// category it shares with its container's other subcommands
/// (`@connection` for `CLIENT`'s, `@keyspace` for `OBJECT`'s).
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_excessive_bools)] // independent facts of one entry
pub(crate) struct Sub {
    pub name: &'static str,
    pub arity: i8,
    pub keyed: bool,
    pub redis_admin: bool,
    pub admin: bool,
    pub category: Option<&'static str>,
}

const fn sub(name: &'static str, arity: i8) -> Sub {
    Sub {
        name,
        arity,
        keyed: false,
        redis_admin: false,
        admin: false,
        category: None,
    }
}

const fn keyed_sub(name: &'static str, arity: i8) -> Sub {
    Sub {
        keyed: true,
        category: Some("@keyspace"),
        ..sub(name, arity)
    }
}

const fn admin_sub(name: &'static str, arity: i8) -> Sub {
    Sub {
        redis_admin: true,
        ..sub(name, arity)
    }
}

/// A `CLIENT` or `COMMAND` subcommand (`@connection`).
const fn conn(s: Sub) -> Sub {
    Sub {
        category: Some("@connection"),
        ..s
    }
}

/// A subcommand reddb runs for admin principals only.
const fn admins_only(s: Sub) -> Sub {
    Sub { admin: true, ..s }
}

impl Sub {
    pub(crate) fn arity_ok(&self, argc: usize) -> bool {
        arity_ok(self.arity, argc)
    }
}

fn arity_ok(arity: i8, argc: usize) -> bool {
    let want = usize::from(arity.unsigned_abs());
    if arity >= 0 {
        argc == want
    } else {
        argc >= want
    }
}

/// `OBJECT`'s subcommands in Redis 7.0.
static OBJECT_SUBCOMMANDS: &[Sub] = &[
    keyed_sub("encoding", 3),
    keyed_sub("freq", 3),
    keyed_sub("idletime", 3),
    keyed_sub("refcount", 3),
    Sub {
        category: Some("@keyspace"),
        ..sub("help", 2)
    },
];

/// `CLIENT`'s subcommands in Redis 7.0, and Redis 7.2's `SETINFO` and
/// `NO-TOUCH` that clients send (reddb answers some of them: the handler
/// says which).
static CLIENT_SUBCOMMANDS: &[Sub] = &[
    conn(sub("caching", 3)),
    conn(sub("getname", 2)),
    conn(sub("getredir", 2)),
    conn(sub("help", 2)),
    conn(sub("id", 2)),
    conn(sub("info", 2)),
    conn(admins_only(admin_sub("kill", -3))),
    // Every connection's address, name and user: admins only (Redis marks
    // it `admin` too).
    conn(admins_only(admin_sub("list", -2))),
    conn(admin_sub("no-evict", 3)),
    conn(sub("no-touch", 3)),
    conn(admins_only(admin_sub("pause", -3))),
    conn(sub("reply", 3)),
    conn(sub("setinfo", 4)),
    conn(sub("setname", 3)),
    conn(sub("tracking", -3)),
    conn(sub("trackinginfo", 2)),
    conn(admins_only(admin_sub("unblock", -3))),
    conn(admins_only(admin_sub("unpause", 2))),
];

/// A `SCRIPT` subcommand (`@scripting`).
const fn scripting_sub(s: Sub) -> Sub {
    Sub {
        category: Some("@scripting"),
        ..s
    }
}

/// `SCRIPT`'s subcommands in Redis 7.0.
static SCRIPT_SUBCOMMANDS: &[Sub] = &[
    scripting_sub(sub("debug", 3)),
    scripting_sub(sub("exists", -3)),
    scripting_sub(sub("flush", -2)),
    scripting_sub(sub("help", 2)),
    scripting_sub(sub("kill", 2)),
    scripting_sub(sub("load", 3)),
];

/// `CONFIG`'s subcommands in Redis 7.0; reddb lets only admins `SET`.
static CONFIG_SUBCOMMANDS: &[Sub] = &[
    admin_sub("get", -3),
    sub("help", 2),
    admin_sub("resetstat", 2),
    admin_sub("rewrite", 2),
    admins_only(admin_sub("set", -4)),
];

/// `COMMAND`'s subcommands in Redis 7.0.
static COMMAND_SUBCOMMANDS: &[Sub] = &[
    conn(sub("count", 2)),
    conn(sub("docs", -2)),
    conn(sub("getkeys", -4)),
    conn(sub("getkeysandflags", -4)),
    conn(sub("help", 2)),
    conn(sub("info", -2)),
    conn(sub("list", -2)),
];

/// `PUBSUB`'s subcommands in Redis 7.0.
static PUBSUB_SUBCOMMANDS: &[Sub] = &[
    pubsub_sub("channels", -2),
    sub("help", 2),
    pubsub_sub("numpat", 2),
    pubsub_sub("numsub", -2),
    pubsub_sub("shardchannels", -2),
    pubsub_sub("shardnumsub", -2),
];

/// A `PUBSUB` subcommand (`@pubsub`; `HELP` is not).
const fn pubsub_sub(name: &'static str, arity: i8) -> Sub {
    Sub {
        category: Some("@pubsub"),
        ..sub(name, arity)
    }
}

/// `SLOWLOG`'s subcommands in Redis 7.0.
static SLOWLOG_SUBCOMMANDS: &[Sub] = &[
    admin_sub("get", -2),
    sub("help", 2),
    admin_sub("len", 2),
    admin_sub("reset", 2),
];

/// `ACL`'s subcommands in Redis 7.0: reddb answers `WHOAMI`, `CAT` and
/// `HELP`; users are managed over the HTTP API (see
/// [`super::access_control`]).
static ACL_SUBCOMMANDS: &[Sub] = &[
    sub("cat", -2),
    admin_sub("deluser", -3),
    admin_sub("dryrun", -4),
    sub("genpass", -2),
    admin_sub("getuser", 3),
    sub("help", 2),
    admin_sub("list", 2),
    admin_sub("load", 2),
    admin_sub("log", -2),
    admin_sub("save", 2),
    admin_sub("setuser", -3),
    admin_sub("users", 2),
    sub("whoami", 2),
];

impl Spec {
    const fn new(name: &'static str, arity: i8, flags: u32, handler: Handler) -> Spec {
        Spec {
            name,
            arity,
            flags,
            keys: NO_KEYS,
            numkeys_at: 0,
            group: Group::Server,
            since: "1.0.0",
            summary: "",
            handler,
            subcommands: &[],
            key_flags: &[],
            more_categories: &[],
        }
    }

    /// See [`Spec::more_categories`].
    const fn categories(mut self, categories: &'static [&'static str]) -> Spec {
        self.more_categories = categories;
        self
    }

    const fn subcommands(mut self, subcommands: &'static [Sub]) -> Spec {
        self.subcommands = subcommands;
        self
    }

    /// The subcommand named `name` (already lower-case).
    pub(crate) fn subcommand(&self, name: &str) -> Option<&'static Sub> {
        self.subcommands.iter().find(|s| s.name == name)
    }

    const fn keys(mut self, keys: KeySpec) -> Spec {
        self.keys = keys;
        self
    }

    /// Keys counted by argument `at` (see [`Spec::numkeys_at`]).
    const fn numkeys(mut self, at: u8) -> Spec {
        self.numkeys_at = at;
        self
    }

    /// How the command uses its keys, one entry per key spec (see
    /// [`Spec::key_flags`]).
    const fn key_flags(mut self, flags: &'static [KeyFlags]) -> Spec {
        self.key_flags = flags;
        self
    }

    /// Redis 7's key specifications of this command, in order: the keys
    /// before a key count, then the counted keys; or the range of
    /// [`Spec::keys`], split in two when [`Spec::key_flags`] has two
    /// entries.
    pub(crate) fn key_specs(&self) -> Vec<KeySpecification> {
        let k = self.keys;
        let from = |begin: u8| {
            if k.last >= 0 {
                k.last
                    .saturating_sub(i8::try_from(begin).unwrap_or(i8::MAX))
            } else {
                k.last
            }
        };
        let mut searches = Vec::with_capacity(2);
        if self.numkeys_at > 0 {
            if k.has_keys() {
                searches.push(KeySearch::Range {
                    begin: k.first,
                    lastkey: 0,
                    step: 1,
                });
            }
            searches.push(KeySearch::Keynum {
                begin: self.numkeys_at,
            });
        } else if k.has_keys() && self.key_flags.len() == 2 {
            searches.push(KeySearch::Range {
                begin: k.first,
                lastkey: 0,
                step: 1,
            });
            let rest = k.first.saturating_add(1);
            searches.push(KeySearch::Range {
                begin: rest,
                lastkey: from(rest),
                step: k.step,
            });
        } else if k.has_keys() {
            searches.push(KeySearch::Range {
                begin: k.first,
                lastkey: from(k.first),
                step: k.step,
            });
        }
        let default = if self.has(READONLY) {
            kf::RO_ACCESS
        } else {
            kf::RW_UPDATE
        };
        searches
            .into_iter()
            .enumerate()
            .map(|(i, search)| KeySpecification {
                search,
                flags: self.key_flags.get(i).copied().unwrap_or(default),
            })
            .collect()
    }

    /// The keys of `args` (the command name included) with how the
    /// command uses each, as Redis's `COMMAND GETKEYSANDFLAGS` finds them;
    /// `None` when a key spec does not fit the arguments (a key count that
    /// is not a number from 1 to the arguments that follow it).
    pub(crate) fn keys_and_flags<'a>(
        &self,
        args: &'a [Vec<u8>],
    ) -> Option<Vec<(&'a [u8], KeyFlags)>> {
        let mut out = Vec::new();
        for spec in self.key_specs() {
            let flags = if spec.flags & kf::VARIABLE_FLAGS == 0 {
                spec.flags
            } else {
                kf::variable_key_flags(args)
            };
            for i in spec.search.positions(args)? {
                out.push((args.get(i)?.as_slice(), flags));
            }
        }
        Some(out)
    }

    /// The keys of `args` (the command name included), as Redis's
    /// `COMMAND GETKEYS` finds them; `None` as for
    /// [`Spec::keys_and_flags`].
    pub(crate) fn key_args<'a>(&self, args: &'a [Vec<u8>]) -> Option<Vec<&'a [u8]>> {
        self.keys_and_flags(args)
            .map(|keys| keys.into_iter().map(|(k, _)| k).collect())
    }

    const fn doc(mut self, group: Group, since: &'static str, summary: &'static str) -> Spec {
        self.group = group;
        self.since = since;
        self.summary = summary;
        self
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub(crate) fn arity_ok(&self, argc: usize) -> bool {
        arity_ok(self.arity, argc)
    }
}

const fn data(name: &'static str, arity: i8, flags: u32, run: DataHandler) -> Spec {
    Spec::new(name, arity, flags, Handler::Run(Runner::Data(run)))
}

const fn server(name: &'static str, arity: i8, flags: u32, run: ServerHandler) -> Spec {
    Spec::new(name, arity, flags, Handler::Run(Runner::Server(run)))
}

const fn session(name: &'static str, arity: i8, flags: u32, which: SessionCommand) -> Spec {
    Spec::new(name, arity, flags, Handler::Session(which))
}

use Group as G;
use SessionCommand as S;

/// Every wire command. Flags follow Redis 7 except where reddb's semantics
/// differ: `AUTH`/`HELLO` are refused inside `MULTI` (`no_multi`), `RESET`
/// needs authentication (no `no_auth`), `FLUSHDB`/`FLUSHALL` need an admin,
/// and `SAVE`/`BGSAVE` (a store compaction) do not.
pub(crate) static TABLE: &[Spec] = &[
    session("auth", -2, NO_AUTH | NO_MULTI | FAST, S::Auth).doc(
        G::Connection,
        "1.0.0",
        "Authenticate to the server",
    ),
    session("hello", -1, NO_AUTH | NO_MULTI | FAST, S::Hello).doc(
        G::Connection,
        "6.0.0",
        "Handshake: protocol version, optional AUTH and SETNAME",
    ),
    session("quit", -1, NO_AUTH | IMMEDIATE | FAST, S::Quit).doc(
        G::Connection,
        "1.0.0",
        "Close the connection",
    ),
    session("reset", 1, IMMEDIATE | FAST, S::Reset).doc(
        G::Connection,
        "6.2.0",
        "Reset the connection: leave MULTI, RESP2, log out",
    ),
    session("multi", 1, IMMEDIATE | FAST, S::Multi).doc(
        G::Transactions,
        "1.2.0",
        "Start a transaction block",
    ),
    session("exec", 1, IMMEDIATE, S::Exec).doc(
        G::Transactions,
        "1.2.0",
        "Run the commands queued since MULTI atomically",
    ),
    session("discard", 1, IMMEDIATE | FAST, S::Discard).doc(
        G::Transactions,
        "2.0.0",
        "Drop the commands queued since MULTI",
    ),
    session("watch", -2, IMMEDIATE | FAST, S::Watch)
        .keys(ALL_KEYS)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(
            G::Transactions,
            "2.2.0",
            "Watch keys: the next EXEC fails if one changes first",
        ),
    server("unwatch", 1, FAST, cmd::unwatch).doc(
        G::Transactions,
        "2.2.0",
        "Forget every watched key",
    ),
    server("monitor", 1, ADMIN | UNMONITORED, monitor::monitor).doc(
        G::Server,
        "1.0.0",
        "Stream every command the server runs (admins only)",
    ),
    server("subscribe", -2, 0, pubsub::subscribe).doc(
        G::Pubsub,
        "2.0.0",
        "Listen for messages published to the given channels",
    ),
    server("unsubscribe", -1, 0, pubsub::unsubscribe).doc(
        G::Pubsub,
        "2.0.0",
        "Stop listening for messages posted to the given channels",
    ),
    server("psubscribe", -2, 0, pubsub::psubscribe).doc(
        G::Pubsub,
        "2.0.0",
        "Listen for messages published to channels matching the given patterns",
    ),
    server("punsubscribe", -1, 0, pubsub::punsubscribe).doc(
        G::Pubsub,
        "2.0.0",
        "Stop listening for messages posted to channels matching the given patterns",
    ),
    server("publish", 3, FAST | PAUSED_AS_WRITE, pubsub::publish).doc(
        G::Pubsub,
        "2.0.0",
        "Post a message to a channel",
    ),
    server("pubsub", -2, 0, pubsub::pubsub)
        .subcommands(PUBSUB_SUBCOMMANDS)
        .doc(G::Pubsub, "2.8.0", "A container for Pub/Sub commands"),
    server("ping", -1, FAST, cmd::ping).doc(G::Connection, "1.0.0", "Ping the server"),
    server("echo", 2, FAST, cmd::echo).doc(G::Connection, "1.0.0", "Echo the given string"),
    server("select", 2, FAST, cmd::select).doc(
        G::Connection,
        "1.0.0",
        "Change the selected database (0 to 15)",
    ),
    server("client", -2, 0, cmd::client)
        .subcommands(CLIENT_SUBCOMMANDS)
        .doc(
            G::Connection,
            "2.4.0",
            "Name, identify, list, kill and pause client connections",
        ),
    server("object", -2, 0, object::object)
        .subcommands(OBJECT_SUBCOMMANDS)
        .doc(
            G::Generic,
            "2.2.3",
            "Inspect a key's value: encoding, reference count, idle time",
        ),
    server("command", -1, 0, introspect::command)
        .subcommands(COMMAND_SUBCOMMANDS)
        .categories(&["@connection"])
        .doc(G::Server, "2.8.13", "Describe the commands of this server"),
    server("time", 1, FAST, cmd::time).doc(G::Server, "2.6.0", "Return the server's time"),
    server("eval", -3, NO_MANDATORY_KEYS, scripting::eval)
        .numkeys(2)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::Scripting, "2.6.0", "Run a Lua script"),
    server("evalsha", -3, NO_MANDATORY_KEYS, scripting::evalsha)
        .numkeys(2)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::Scripting, "2.6.0", "Run a cached Lua script by its SHA1"),
    server(
        "eval_ro",
        -3,
        READONLY | NO_MANDATORY_KEYS,
        scripting::eval_ro,
    )
    .numkeys(2)
    .key_flags(&[kf::RO_ACCESS])
    .doc(G::Scripting, "7.0.0", "Run a read-only Lua script"),
    server(
        "evalsha_ro",
        -3,
        READONLY | NO_MANDATORY_KEYS,
        scripting::evalsha_ro,
    )
    .numkeys(2)
    .key_flags(&[kf::RO_ACCESS])
    .doc(
        G::Scripting,
        "7.0.0",
        "Run a cached read-only Lua script by its SHA1",
    ),
    server("script", -2, 0, scripting::script)
        .subcommands(SCRIPT_SUBCOMMANDS)
        .doc(
            G::Scripting,
            "2.6.0",
            "Load, check, flush and kill Lua scripts",
        ),
    server("info", -1, 0, cmd::info)
        .categories(&["@dangerous"])
        .doc(
            G::Server,
            "1.0.0",
            "Information and statistics about the server",
        ),
    server("config", -2, UNMONITORED, config::config)
        .subcommands(CONFIG_SUBCOMMANDS)
        .doc(
            G::Server,
            "2.0.0",
            "Read the server's configuration; admins set the slow log's",
        ),
    server("acl", -2, 0, acl::acl)
        .subcommands(ACL_SUBCOMMANDS)
        .doc(
            G::Server,
            "6.0.0",
            "Who the connection is and the command categories (users: the HTTP API)",
        ),
    server("slowlog", -2, UNMONITORED, cmd::slowlog)
        .subcommands(SLOWLOG_SUBCOMMANDS)
        .doc(G::Server, "2.2.12", "Read or reset the slow command log"),
    server("wait", 3, 0, cmd::wait)
        .categories(&["@connection"])
        .doc(
            G::Generic,
            "3.0.0",
            "Wait for replicas to acknowledge writes (there are none: answers 0)",
        ),
    server("save", 1, NO_MULTI | UNMONITORED, cmd::save).doc(
        G::Server,
        "1.0.0",
        "Compact the store now",
    ),
    server("bgsave", -1, NO_MULTI | UNMONITORED, cmd::bgsave).doc(
        G::Server,
        "1.0.0",
        "Compact the store (reported as a background save)",
    ),
    server("lastsave", 1, FAST, cmd::lastsave)
        .categories(&["@admin", "@dangerous"])
        .doc(G::Server, "1.0.0", "Unix time of the last successful save"),
    data("dbsize", 1, READ_DATA | FAST, cmd::dbsize).doc(
        G::Server,
        "1.0.0",
        "Return the number of keys",
    ),
    data("keys", 2, READ_DATA, cmd::keys)
        .categories(&["@dangerous"])
        .doc(G::Generic, "1.0.0", "Find all keys matching a pattern"),
    data("scan", -2, READ_DATA, cmd::scan).doc(
        G::Generic,
        "2.8.0",
        "Iterate over the keys incrementally",
    ),
    data("randomkey", 1, READ_DATA, sh::randomkey).doc(G::Generic, "1.0.0", "Return a random key"),
    data("flushdb", -1, WRITE_DATA | ADMIN, cmd::flushdb).doc(
        G::Server,
        "1.0.0",
        "Remove every key of the selected database",
    ),
    data("flushall", -1, WRITE_DATA | ADMIN, cmd::flushall).doc(
        G::Server,
        "1.0.0",
        "Remove every key of every database",
    ),
    data("swapdb", 3, WRITE_DATA | ADMIN | FAST, cmd::swapdb).doc(
        G::Server,
        "4.0.0",
        "Swap two databases",
    ),
    data("move", 3, WRITE_DATA | FAST, cmd::move_key)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::Generic, "1.0.0", "Move a key to another database"),
    data("get", 2, READ_DATA | FAST, cmd::get)
        .keys(ONE_KEY)
        .doc(G::String, "1.0.0", "Get the value of a key"),
    data("set", -3, WRITE_DATA, cmd::set)
        .keys(ONE_KEY)
        .key_flags(&[kf::SET_FLAGS])
        .doc(G::String, "1.0.0", "Set the string value of a key"),
    data("setex", 4, WRITE_DATA, cmd::setex)
        .keys(ONE_KEY)
        .key_flags(&[kf::OW_UPDATE])
        .doc(G::String, "2.0.0", "Set a value that expires in seconds"),
    data("psetex", 4, WRITE_DATA, cmd::psetex)
        .keys(ONE_KEY)
        .key_flags(&[kf::OW_UPDATE])
        .doc(
            G::String,
            "2.6.0",
            "Set a value that expires in milliseconds",
        ),
    data("setnx", 3, WRITE_DATA | FAST, cmd::setnx)
        .keys(ONE_KEY)
        .key_flags(&[kf::OW_INSERT])
        .doc(
            G::String,
            "1.0.0",
            "Set a value only if the key does not exist",
        ),
    data("getdel", 2, WRITE_DATA | FAST, cmd::getdel)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_DELETE])
        .doc(G::String, "6.2.0", "Get a value and delete its key"),
    data("getex", -2, WRITE_DATA | FAST, cmd::getex)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(
            G::String,
            "6.2.0",
            "Get a value and optionally change its expiry",
        ),
    data("mget", -2, READ_DATA | FAST, cmd::mget)
        .keys(ALL_KEYS)
        .doc(G::String, "1.0.0", "Get the values of several keys"),
    data("mset", -3, WRITE_DATA, cmd::mset)
        .keys(KEY_VALUE_PAIRS)
        .key_flags(&[kf::OW_UPDATE])
        .doc(G::String, "1.0.1", "Set several keys at once"),
    data("msetnx", -3, WRITE_DATA, sh::msetnx)
        .keys(KEY_VALUE_PAIRS)
        .key_flags(&[kf::OW_INSERT])
        .doc(G::String, "1.0.1", "Set several keys only if none exists"),
    data("del", -2, WRITE_DATA, cmd::del)
        .keys(ALL_KEYS)
        .key_flags(&[kf::RM_DELETE])
        .doc(G::Generic, "1.0.0", "Delete keys"),
    data("unlink", -2, WRITE_DATA | FAST, cmd::del)
        .keys(ALL_KEYS)
        .key_flags(&[kf::RM_DELETE])
        .doc(G::Generic, "4.0.0", "Delete keys (the same as DEL here)"),
    data("exists", -2, READ_DATA | FAST, cmd::exists)
        .keys(ALL_KEYS)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::Generic, "1.0.0", "Count how many of the keys exist"),
    data("expire", -3, WRITE_DATA | FAST, cmd::expire)
        .keys(ONE_KEY)
        .doc(G::Generic, "1.0.0", "Set a key's time to live in seconds"),
    data("pexpire", -3, WRITE_DATA | FAST, cmd::pexpire)
        .keys(ONE_KEY)
        .doc(
            G::Generic,
            "2.6.0",
            "Set a key's time to live in milliseconds",
        ),
    data("expireat", -3, WRITE_DATA | FAST, cmd::expireat)
        .keys(ONE_KEY)
        .doc(
            G::Generic,
            "1.2.0",
            "Set a key's expiry as a Unix time in seconds",
        ),
    data("pexpireat", -3, WRITE_DATA | FAST, cmd::pexpireat)
        .keys(ONE_KEY)
        .doc(
            G::Generic,
            "2.6.0",
            "Set a key's expiry as a Unix time in milliseconds",
        ),
    data("ttl", 2, READ_DATA | FAST, cmd::ttl)
        .keys(ONE_KEY)
        .doc(G::Generic, "1.0.0", "Get a key's time to live in seconds"),
    data("pttl", 2, READ_DATA | FAST, cmd::pttl)
        .keys(ONE_KEY)
        .doc(
            G::Generic,
            "2.6.0",
            "Get a key's time to live in milliseconds",
        ),
    data("expiretime", 2, READ_DATA | FAST, sh::expiretime)
        .keys(ONE_KEY)
        .doc(G::Generic, "7.0.0", "Get a key's expiry as Unix seconds"),
    data("pexpiretime", 2, READ_DATA | FAST, sh::pexpiretime)
        .keys(ONE_KEY)
        .doc(
            G::Generic,
            "7.0.0",
            "Get a key's expiry as Unix milliseconds",
        ),
    data("persist", 2, WRITE_DATA | FAST, cmd::persist)
        .keys(ONE_KEY)
        .doc(G::Generic, "2.2.0", "Remove a key's expiry"),
    data("type", 2, READ_DATA | FAST, cmd::type_of)
        .keys(ONE_KEY)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::Generic, "1.0.0", "Get the type of a key's value"),
    data("incr", 2, WRITE_DATA | FAST, cmd::incr)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::String, "1.0.0", "Add one to an integer value"),
    data("incrby", 3, WRITE_DATA | FAST, cmd::incrby)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::String, "1.0.0", "Add an amount to an integer value"),
    data("decr", 2, WRITE_DATA | FAST, cmd::decr)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::String, "1.0.0", "Subtract one from an integer value"),
    data("decrby", 3, WRITE_DATA | FAST, cmd::decrby)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(
            G::String,
            "1.0.0",
            "Subtract an amount from an integer value",
        ),
    data("incrbyfloat", 3, WRITE_DATA | FAST, bits::incrbyfloat)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::String, "2.6.0", "Add a float amount to a value"),
    data("setbit", 4, WRITE_DATA, bits::setbit)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::Bitmap, "2.2.0", "Set or clear one bit of a string"),
    data("getbit", 3, READ_DATA | FAST, bits::getbit)
        .keys(ONE_KEY)
        .doc(G::Bitmap, "2.2.0", "Get one bit of a string"),
    data("bitcount", -2, READ_DATA, bits::bitcount)
        .keys(ONE_KEY)
        .doc(G::Bitmap, "2.6.0", "Count the set bits of a string"),
    data("bitpos", -3, READ_DATA, bits::bitpos)
        .keys(ONE_KEY)
        .doc(
            G::Bitmap,
            "2.8.7",
            "Find the first set or clear bit of a string",
        ),
    data("getset", 3, WRITE_DATA | FAST, cmd::getset)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::String, "1.0.0", "Set a value and return the old one"),
    data("append", 3, WRITE_DATA | FAST, cmd::append)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_INSERT])
        .doc(G::String, "2.0.0", "Append to a string value"),
    data("strlen", 2, READ_DATA | FAST, cmd::strlen)
        .keys(ONE_KEY)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::String, "2.2.0", "Get the length of a string value"),
    data("getrange", 4, READ_DATA, cmd::getrange)
        .keys(ONE_KEY)
        .doc(G::String, "2.4.0", "Get a substring of a string value"),
    data("setrange", 4, WRITE_DATA, sh::setrange)
        .keys(ONE_KEY)
        .doc(G::String, "2.2.0", "Overwrite part of a string value"),
    data("rename", 3, WRITE_DATA, cmd::rename)
        .keys(TWO_KEYS)
        .key_flags(&[kf::RW_ACCESS_DELETE, kf::OW_UPDATE])
        .doc(G::Generic, "1.0.0", "Rename a key (its TTL goes with it)"),
    data("renamenx", 3, WRITE_DATA | FAST, cmd::renamenx)
        .keys(TWO_KEYS)
        .key_flags(&[kf::RW_ACCESS_DELETE, kf::OW_INSERT])
        .doc(
            G::Generic,
            "1.0.0",
            "Rename a key only if the new name is free",
        ),
    data("copy", -3, WRITE_DATA, sh::copy)
        .keys(TWO_KEYS)
        .key_flags(&[kf::RO_ACCESS, kf::OW_UPDATE])
        .doc(
            G::Generic,
            "6.2.0",
            "Copy a key's value and TTL to another key",
        ),
    data("touch", -2, READ_DATA | FAST, cmd::exists)
        .keys(ALL_KEYS)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::Generic, "3.2.1", "Count how many of the keys exist"),
    data("sadd", -3, WRITE_DATA | FAST, cmd::sadd)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_INSERT])
        .doc(G::Set, "1.0.0", "Add members to a set"),
    data("srem", -3, WRITE_DATA | FAST, cmd::srem)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_DELETE])
        .doc(G::Set, "1.0.0", "Remove members from a set"),
    data("smembers", 2, READ_DATA, cmd::smembers)
        .keys(ONE_KEY)
        .doc(G::Set, "1.0.0", "Get every member of a set"),
    data("sismember", 3, READ_DATA | FAST, cmd::sismember)
        .keys(ONE_KEY)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::Set, "1.0.0", "Whether a value is a member of a set"),
    data("scard", 2, READ_DATA | FAST, cmd::scard)
        .keys(ONE_KEY)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::Set, "1.0.0", "Count the members of a set"),
    data("smismember", -3, READ_DATA | FAST, sets::smismember)
        .keys(ONE_KEY)
        .doc(G::Set, "6.2.0", "Whether each value is a member of a set"),
    data("spop", -2, WRITE_DATA | FAST, sets::spop)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_DELETE])
        .doc(G::Set, "1.0.0", "Remove and return random members of a set"),
    data("srandmember", -2, READ_DATA, sets::srandmember)
        .keys(ONE_KEY)
        .doc(G::Set, "1.0.0", "Get random members of a set"),
    data("smove", 4, WRITE_DATA | FAST, sets::smove)
        .keys(TWO_KEYS)
        .key_flags(&[kf::RW_ACCESS_DELETE, kf::RW_INSERT])
        .doc(G::Set, "1.0.0", "Move a member from one set to another"),
    data("sinter", -2, READ_DATA, sets::sinter)
        .keys(ALL_KEYS)
        .doc(G::Set, "1.0.0", "Intersect sets"),
    data("sunion", -2, READ_DATA, sets::sunion)
        .keys(ALL_KEYS)
        .doc(G::Set, "1.0.0", "Unite sets"),
    data("sdiff", -2, READ_DATA, sets::sdiff)
        .keys(ALL_KEYS)
        .doc(G::Set, "1.0.0", "Subtract sets from the first"),
    data("sinterstore", -3, WRITE_DATA, sets::sinterstore)
        .keys(ALL_KEYS)
        .key_flags(&[kf::RW_UPDATE, kf::RO_ACCESS])
        .doc(G::Set, "1.0.0", "Store the intersection of sets"),
    data("sunionstore", -3, WRITE_DATA, sets::sunionstore)
        .keys(ALL_KEYS)
        .key_flags(&[kf::OW_UPDATE, kf::RO_ACCESS])
        .doc(G::Set, "1.0.0", "Store the union of sets"),
    data("sdiffstore", -3, WRITE_DATA, sets::sdiffstore)
        .keys(ALL_KEYS)
        .key_flags(&[kf::OW_UPDATE, kf::RO_ACCESS])
        .doc(G::Set, "1.0.0", "Store the difference of sets"),
    data("sintercard", -3, READ_DATA, sets::sintercard)
        .numkeys(1)
        .doc(G::Set, "7.0.0", "Count the intersection of sets"),
    data("sscan", -3, READ_DATA, sets::sscan).keys(ONE_KEY).doc(
        G::Set,
        "2.8.0",
        "Iterate over the members of a set",
    ),
    data("zadd", -4, WRITE_DATA | FAST, zsets::zadd)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "1.2.0",
            "Add members to a sorted set, or update their scores",
        ),
    data("zincrby", 4, WRITE_DATA | FAST, zsets::zincrby)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::SortedSet, "1.2.0", "Add to a member's score"),
    data("zrem", -3, WRITE_DATA | FAST, zsets::zrem)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_DELETE])
        .doc(G::SortedSet, "1.2.0", "Remove members from a sorted set"),
    data("zscore", 3, READ_DATA | FAST, zsets::zscore)
        .keys(ONE_KEY)
        .doc(G::SortedSet, "1.2.0", "Get a member's score"),
    data("zmscore", -3, READ_DATA | FAST, zsets::zmscore)
        .keys(ONE_KEY)
        .doc(G::SortedSet, "6.2.0", "Get the scores of several members"),
    data("zcard", 2, READ_DATA | FAST, zsets::zcard)
        .keys(ONE_KEY)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::SortedSet, "1.2.0", "Count the members of a sorted set"),
    data("zcount", 4, READ_DATA | FAST, zsets::zcount)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "2.0.0",
            "Count the members within a score interval",
        ),
    data("zlexcount", 4, READ_DATA | FAST, zsets::zlexcount)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "2.8.9",
            "Count the members within a lexicographic interval",
        ),
    data("zrank", 3, READ_DATA | FAST, zsets::zrank)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "2.0.0",
            "Get a member's position, lowest score first",
        ),
    data("zrevrank", 3, READ_DATA | FAST, zsets::zrevrank)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "2.0.0",
            "Get a member's position, highest score first",
        ),
    data("zrange", -4, READ_DATA, zsets::zrange)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "1.2.0",
            "Get members by position, score or lexicographic interval",
        ),
    data("zrangebyscore", -4, READ_DATA, zsets::zrangebyscore)
        .keys(ONE_KEY)
        .doc(G::SortedSet, "1.0.5", "Get members within a score interval"),
    data("zrevrange", -4, READ_DATA, zsets::zrevrange)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "1.2.0",
            "Get members by position, highest score first",
        ),
    data("zrevrangebyscore", -4, READ_DATA, zsets::zrevrangebyscore)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "2.2.0",
            "Get members within a score interval, highest first",
        ),
    data("zrangebylex", -4, READ_DATA, zsets::zrangebylex)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "2.8.9",
            "Get members within a lexicographic interval",
        ),
    data("zrevrangebylex", -4, READ_DATA, zsets::zrevrangebylex)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "2.8.9",
            "Get members within a lexicographic interval, greatest first",
        ),
    data("zrangestore", -5, WRITE_DATA, zsets::zrangestore)
        .keys(TWO_KEYS)
        .key_flags(&[kf::OW_UPDATE, kf::RO_ACCESS])
        .doc(
            G::SortedSet,
            "6.2.0",
            "Store a range of a sorted set in another key",
        ),
    data("zremrangebyrank", 4, WRITE_DATA, zsets::zremrangebyrank)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_DELETE])
        .doc(
            G::SortedSet,
            "2.0.0",
            "Remove the members within a range of positions",
        ),
    data("zremrangebyscore", 4, WRITE_DATA, zsets::zremrangebyscore)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_DELETE])
        .doc(
            G::SortedSet,
            "1.2.0",
            "Remove the members within a score interval",
        ),
    data("zremrangebylex", 4, WRITE_DATA, zsets::zremrangebylex)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_DELETE])
        .doc(
            G::SortedSet,
            "2.8.9",
            "Remove the members within a lexicographic interval",
        ),
    data("zpopmin", -2, WRITE_DATA | FAST, zsets::zpopmin)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_DELETE])
        .doc(
            G::SortedSet,
            "5.0.0",
            "Remove and return the members with the lowest scores",
        ),
    data("zpopmax", -2, WRITE_DATA | FAST, zsets::zpopmax)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_DELETE])
        .doc(
            G::SortedSet,
            "5.0.0",
            "Remove and return the members with the highest scores",
        ),
    data("zrandmember", -2, READ_DATA, zsets::zrandmember)
        .keys(ONE_KEY)
        .doc(G::SortedSet, "6.2.0", "Get random members of a sorted set"),
    data("zscan", -3, READ_DATA, zsets::zscan)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "2.8.0",
            "Iterate over the members and scores of a sorted set",
        ),
    data("zunion", -3, READ_DATA, zsets::zunion).numkeys(1).doc(
        G::SortedSet,
        "6.2.0",
        "Unite sorted sets",
    ),
    data("zinter", -3, READ_DATA, zsets::zinter).numkeys(1).doc(
        G::SortedSet,
        "6.2.0",
        "Intersect sorted sets",
    ),
    data("zdiff", -3, READ_DATA, zsets::zdiff).numkeys(1).doc(
        G::SortedSet,
        "6.2.0",
        "Subtract sorted sets from the first",
    ),
    data("zintercard", -3, READ_DATA, zsets::zintercard)
        .numkeys(1)
        .doc(
            G::SortedSet,
            "7.0.0",
            "Count the intersection of sorted sets",
        ),
    data("zunionstore", -4, WRITE_DATA, zsets::zunionstore)
        .keys(ONE_KEY)
        .numkeys(2)
        .key_flags(&[kf::OW_UPDATE, kf::RO_ACCESS])
        .doc(G::SortedSet, "2.0.0", "Store the union of sorted sets"),
    data("zinterstore", -4, WRITE_DATA, zsets::zinterstore)
        .keys(ONE_KEY)
        .numkeys(2)
        .key_flags(&[kf::OW_UPDATE, kf::RO_ACCESS])
        .doc(
            G::SortedSet,
            "2.0.0",
            "Store the intersection of sorted sets",
        ),
    data("zdiffstore", -4, WRITE_DATA, zsets::zdiffstore)
        .keys(ONE_KEY)
        .numkeys(2)
        .key_flags(&[kf::OW_UPDATE, kf::RO_ACCESS])
        .doc(G::SortedSet, "6.2.0", "Store the difference of sorted sets"),
    data("hset", -4, WRITE_DATA | FAST, cmd::hset)
        .keys(ONE_KEY)
        .doc(
            G::Hash,
            "2.0.0",
            "Set hash fields; answers how many were new",
        ),
    data("hmset", -4, WRITE_DATA | FAST, cmd::hmset)
        .keys(ONE_KEY)
        .doc(G::Hash, "2.0.0", "Set hash fields; answers OK"),
    data("hget", 3, READ_DATA | FAST, cmd::hget)
        .keys(ONE_KEY)
        .doc(G::Hash, "2.0.0", "Get the value of a hash field"),
    data("hmget", -3, READ_DATA | FAST, cmd::hmget)
        .keys(ONE_KEY)
        .doc(G::Hash, "2.0.0", "Get the values of several hash fields"),
    data("hgetall", 2, READ_DATA, cmd::hgetall)
        .keys(ONE_KEY)
        .doc(G::Hash, "2.0.0", "Get every field and value of a hash"),
    data("hincrby", 4, WRITE_DATA | FAST, sh::hincrby)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::Hash, "2.0.0", "Add an amount to an integer hash field"),
    data("hsetnx", 4, WRITE_DATA | FAST, sh::hsetnx)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_INSERT])
        .doc(
            G::Hash,
            "2.0.0",
            "Set a hash field only if it does not exist",
        ),
    data("hkeys", 2, READ_DATA, sh::hkeys).keys(ONE_KEY).doc(
        G::Hash,
        "2.0.0",
        "Get every field of a hash",
    ),
    data("hvals", 2, READ_DATA, sh::hvals).keys(ONE_KEY).doc(
        G::Hash,
        "2.0.0",
        "Get every value of a hash",
    ),
    data("hstrlen", 3, READ_DATA | FAST, sh::hstrlen)
        .keys(ONE_KEY)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::Hash, "3.2.0", "Get the length of a hash field's value"),
    data("hrandfield", -2, READ_DATA, sh::hrandfield)
        .keys(ONE_KEY)
        .doc(G::Hash, "6.2.0", "Get random fields of a hash"),
    data("hscan", -3, READ_DATA, sh::hscan).keys(ONE_KEY).doc(
        G::Hash,
        "2.8.0",
        "Iterate over a hash's fields incrementally",
    ),
    data("hincrbyfloat", 4, WRITE_DATA | FAST, bits::hincrbyfloat)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_UPDATE])
        .doc(G::Hash, "2.6.0", "Add a float amount to a hash field"),
    data("hdel", -3, WRITE_DATA | FAST, cmd::hdel)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_DELETE])
        .doc(G::Hash, "2.0.0", "Delete hash fields"),
    data("hexists", 3, READ_DATA | FAST, cmd::hexists)
        .keys(ONE_KEY)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::Hash, "2.0.0", "Whether a hash field exists"),
    data("hlen", 2, READ_DATA | FAST, cmd::hlen)
        .keys(ONE_KEY)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::Hash, "2.0.0", "Count the fields of a hash"),
    data("lpush", -3, WRITE_DATA | FAST, lists::lpush)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_INSERT])
        .doc(G::List, "1.0.0", "Prepend items to a list"),
    data("rpush", -3, WRITE_DATA | FAST, lists::rpush)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_INSERT])
        .doc(G::List, "1.0.0", "Append items to a list"),
    data("lpushx", -3, WRITE_DATA | FAST, lists::lpushx)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_INSERT])
        .doc(
            G::List,
            "2.2.0",
            "Prepend items to a list only if it exists",
        ),
    data("rpushx", -3, WRITE_DATA | FAST, lists::rpushx)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_INSERT])
        .doc(G::List, "2.2.0", "Append items to a list only if it exists"),
    data("lpop", -2, WRITE_DATA | FAST, lists::lpop)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_DELETE])
        .doc(
            G::List,
            "1.0.0",
            "Remove and return the first items of a list",
        ),
    data("rpop", -2, WRITE_DATA | FAST, lists::rpop)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_ACCESS_DELETE])
        .doc(
            G::List,
            "1.0.0",
            "Remove and return the last items of a list",
        ),
    data("llen", 2, READ_DATA | FAST, lists::llen)
        .keys(ONE_KEY)
        .key_flags(&[kf::RO_KEY_ONLY])
        .doc(G::List, "1.0.0", "Get the length of a list"),
    data("lrange", 4, READ_DATA, lists::lrange)
        .keys(ONE_KEY)
        .doc(G::List, "1.0.0", "Get a range of items of a list"),
    data("lindex", 3, READ_DATA, lists::lindex)
        .keys(ONE_KEY)
        .doc(G::List, "1.0.0", "Get the item at an index of a list"),
    data("lset", 4, WRITE_DATA, lists::lset).keys(ONE_KEY).doc(
        G::List,
        "1.0.0",
        "Set the item at an index of a list",
    ),
    data("linsert", 5, WRITE_DATA, lists::linsert)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_INSERT])
        .doc(G::List, "2.2.0", "Insert an item before or after another"),
    data("lrem", 4, WRITE_DATA, lists::lrem)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_DELETE])
        .doc(
            G::List,
            "1.0.0",
            "Remove items equal to a value from a list",
        ),
    data("ltrim", 4, WRITE_DATA, lists::ltrim)
        .keys(ONE_KEY)
        .key_flags(&[kf::RW_DELETE])
        .doc(G::List, "1.0.0", "Keep only a range of a list"),
    data("lpos", -3, READ_DATA, lists::lpos).keys(ONE_KEY).doc(
        G::List,
        "6.0.6",
        "Find the positions of an item in a list",
    ),
    data("lmove", 5, WRITE_DATA, lists::lmove)
        .keys(TWO_KEYS)
        .key_flags(&[kf::RW_ACCESS_DELETE, kf::RW_INSERT])
        .doc(G::List, "6.2.0", "Move an item from one list to another"),
    data("rpoplpush", 3, WRITE_DATA, lists::rpoplpush)
        .keys(TWO_KEYS)
        .key_flags(&[kf::RW_ACCESS_DELETE, kf::RW_INSERT])
        .doc(
            G::List,
            "1.2.0",
            "Move the last item of a list to the head of another",
        ),
    data("lmpop", -4, WRITE_DATA, lists::lmpop)
        .numkeys(1)
        .key_flags(&[kf::RW_ACCESS_DELETE])
        .doc(G::List, "7.0.0", "Pop items from the first non-empty list"),
    data("blpop", -3, WRITE_DATA | BLOCKING, lists::blpop)
        .keys(KEYS_THEN_TIMEOUT)
        .key_flags(&[kf::RW_ACCESS_DELETE])
        .doc(
            G::List,
            "2.0.0",
            "Pop the first item of the first non-empty list, or wait for one",
        ),
    data("brpop", -3, WRITE_DATA | BLOCKING, lists::brpop)
        .keys(KEYS_THEN_TIMEOUT)
        .key_flags(&[kf::RW_ACCESS_DELETE])
        .doc(
            G::List,
            "2.0.0",
            "Pop the last item of the first non-empty list, or wait for one",
        ),
    data("blmove", 6, WRITE_DATA | BLOCKING, lists::blmove)
        .keys(TWO_KEYS)
        .key_flags(&[kf::RW_ACCESS_DELETE, kf::RW_INSERT])
        .doc(
            G::List,
            "6.2.0",
            "Move an item from one list to another, or wait for one",
        ),
    data("brpoplpush", 4, WRITE_DATA | BLOCKING, lists::brpoplpush)
        .keys(TWO_KEYS)
        .key_flags(&[kf::RW_ACCESS_DELETE, kf::RW_INSERT])
        .doc(
            G::List,
            "2.2.0",
            "Move the last item of a list to the head of another, or wait for one",
        ),
    data("blmpop", -5, WRITE_DATA | BLOCKING, lists::blmpop)
        .numkeys(2)
        .key_flags(&[kf::RW_ACCESS_DELETE])
        .doc(
            G::List,
            "7.0.0",
            "Pop items from the first non-empty list, or wait for some",
        ),
];

/// FNV-1a over a command name. The table's names are fixed, so no input
/// can make them collide more than they do; a keyed hash would only cost
/// time on every command.
#[derive(Default)]
pub struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Maps keyed by command names ([`NameHasher`]).
pub type NameMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<NameHasher>>;

/// The longest command name in [`TABLE`] (longer input names none).
const MAX_NAME: usize = 32;

/// The command named `name` (already lower-case): the one place a command
/// name is matched.
pub fn lookup(name: &str) -> Option<&'static Spec> {
    lookup_name(name.as_bytes())
}

/// The command named `name` in any letter case (as clients send it),
/// lower-cased on the stack.
pub fn lookup_name(name: &[u8]) -> Option<&'static Spec> {
    static BY_NAME: OnceLock<NameMap<&'static [u8], &'static Spec>> = OnceLock::new();
    let mut lower = [0u8; MAX_NAME];
    let folded = lower.get_mut(..name.len())?;
    folded.copy_from_slice(name);
    folded.make_ascii_lowercase();
    BY_NAME
        .get_or_init(|| TABLE.iter().map(|s| (s.name.as_bytes(), s)).collect())
        .get(&*folded)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = BTreeSet::new();
        for spec in TABLE {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase(), "{}", spec.name);
            assert!(!spec.name.is_empty() && spec.name.is_ascii());
            assert!(
                spec.name.len() <= MAX_NAME,
                "{} is longer than MAX_NAME",
                spec.name
            );
            let upper = spec.name.to_ascii_uppercase();
            assert!(lookup_name(upper.as_bytes()).is_some_and(|s| std::ptr::eq(s, spec)));
            assert!(seen.insert(spec.name), "{} twice", spec.name);
            assert!(lookup(spec.name).is_some_and(|s| std::ptr::eq(s, spec)));
            assert!(!spec.summary.is_empty(), "{} has no summary", spec.name);
        }
    }

    #[test]
    fn handler_kinds_match_flags() {
        for spec in TABLE {
            let name = spec.name;
            let is_data = matches!(spec.handler, Handler::Run(Runner::Data(_)));
            let is_session = matches!(spec.handler, Handler::Session(_));
            // The keyspace handlers, and only they, are checked against a
            // sealed vault.
            assert_eq!(is_data, spec.has(DATA), "{name}: DATA ⇔ data handler");
            // Only a command that changes the connection itself may skip
            // authentication or the MULTI queue.
            if spec.has(NO_AUTH) || spec.has(IMMEDIATE) {
                assert!(
                    is_session,
                    "{name}: NO_AUTH/IMMEDIATE need a session handler"
                );
            }
            // A session handler is never queued: it runs at once or is
            // refused inside MULTI.
            if is_session {
                assert!(spec.has(IMMEDIATE) || spec.has(NO_MULTI), "{name}");
            }
            assert!(!(spec.has(WRITE) && spec.has(READONLY)), "{name}");
            if is_data {
                assert!(
                    spec.has(WRITE) || spec.has(READONLY),
                    "{name}: data says read or write"
                );
            }
            // Keys are only in keyspace commands (and WATCH, and the
            // scripts' KEYS).
            assert!(
                !(spec.keys.has_keys() || spec.numkeys_at > 0)
                    || is_data
                    || is_session
                    || spec.group == Group::Scripting,
                "{name}: keys without data"
            );
        }
    }

    #[test]
    fn key_flags_fit_the_key_specs() {
        for spec in TABLE {
            let specs = spec.key_specs();
            let name = spec.name;
            assert!(
                spec.key_flags.is_empty() || spec.key_flags.len() == specs.len(),
                "{name}: one flag set per key spec"
            );
            for ks in specs {
                let kinds = [kf::RO, kf::RW, kf::OW, kf::RM];
                let how = kinds.iter().filter(|k| ks.flags & **k != 0).count();
                assert_eq!(how, 1, "{name}: one of RO, RW, OW, RM");
                // Only SET's key flags depend on its arguments (see
                // key_flags::variable_key_flags).
                assert_eq!(ks.flags & kf::VARIABLE_FLAGS != 0, name == "set", "{name}");
            }
        }
    }

    #[test]
    fn key_specs_pick_redis_key_positions() {
        let args = |v: &[&str]| v.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>();
        let keys = |v: &[&str]| {
            let v = args(v);
            let name = String::from_utf8_lossy(&v[0]).into_owned();
            let spec = lookup(&name).unwrap();
            spec.keys_and_flags(&v).map(|k| {
                k.iter()
                    .map(|(k, f)| (String::from_utf8_lossy(k).into_owned(), *f))
                    .collect::<Vec<_>>()
            })
        };
        let owned = |v: &[(&str, KeyFlags)]| {
            Some(
                v.iter()
                    .map(|(k, f)| ((*k).to_string(), *f))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            keys(&["mset", "a", "1", "b", "2"]),
            owned(&[("a", kf::OW_UPDATE), ("b", kf::OW_UPDATE)])
        );
        assert_eq!(
            keys(&["del", "a", "b"]),
            owned(&[("a", kf::RM_DELETE), ("b", kf::RM_DELETE)])
        );
        assert_eq!(keys(&["get", "k"]), owned(&[("k", kf::RO_ACCESS)]));
        assert_eq!(keys(&["ping"]), owned(&[]));
        // A split range: the destination, then the sources.
        assert_eq!(
            keys(&["sinterstore", "d", "a", "b"]),
            owned(&[
                ("d", kf::RW_UPDATE),
                ("a", kf::RO_ACCESS),
                ("b", kf::RO_ACCESS)
            ])
        );
        assert_eq!(
            keys(&["lmove", "s", "d", "LEFT", "RIGHT"]),
            owned(&[("s", kf::RW_ACCESS_DELETE), ("d", kf::RW_INSERT)])
        );
        // SET's flags follow its GET option.
        assert_eq!(keys(&["set", "k", "v"]), owned(&[("k", kf::OW_UPDATE)]));
        assert_eq!(
            keys(&["set", "k", "v", "GET"]),
            owned(&[("k", kf::RW_ACCESS_UPDATE)])
        );
        let card = |v: &[&str]| {
            let v = args(v);
            let keys = lookup("sintercard").and_then(|s| s.key_args(&v));
            keys.map(|k| k.iter().map(|k| k.to_vec()).collect::<Vec<_>>())
        };
        assert_eq!(
            card(&["sintercard", "2", "a", "b", "LIMIT", "1"]),
            Some(vec![b"a".to_vec(), b"b".to_vec()])
        );
        for bad in [
            &["sintercard", "0", "a"][..],
            &["sintercard", "3", "a"],
            &["sintercard", "x", "a"],
        ] {
            assert_eq!(card(bad), None, "{bad:?}");
        }
    }
}
