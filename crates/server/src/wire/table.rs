//! The one table of wire commands: for each, its name, Redis arity, flags,
//! key positions, documentation (group, first version, summary) and the
//! handler that runs it.
//!
//! A command's name is compared in exactly one place, [`lookup`]; everything
//! else (authentication, `MULTI` queueing, the sealed-vault check, `SLOWLOG`,
//! and the `COMMAND` introspection replies in [`super::introspect`]) reads
//! the entry. Adding a command is one entry here plus one handler.

use super::bit_and_float_handlers as bits;
use super::commands::{self as cmd, Call, Ctx, DataCx};
use super::introspect;
use super::list_handlers as lists;
use super::monitor;
use super::object_command as object;
use super::resp::Reply;
use super::set_handlers as sets;
use super::sorted_set_handlers as zsets;
use super::string_and_hash_handlers as sh;
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

    /// The keys of `args` (the command name included), as Redis's
    /// `COMMAND GETKEYS` finds them.
    pub fn keys<'a>(&self, args: &'a [Vec<u8>]) -> Vec<&'a [u8]> {
        if !self.has_keys() || self.step == 0 {
            return Vec::new();
        }
        let step = usize::from(self.step);
        let first = usize::from(self.first);
        let last = if self.last >= 0 {
            usize::from(self.last.unsigned_abs())
        } else {
            args.len()
                .saturating_sub(usize::from(self.last.unsigned_abs()))
        };
        args.iter()
            .enumerate()
            .skip(first)
            .step_by(step)
            .take_while(|(i, _)| *i <= last)
            .map(|(_, a)| a.as_slice())
            .collect()
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
    Server,
    Set,
    SortedSet,
    String,
    Transactions,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Bitmap => "bitmap",
            Group::Connection => "connection",
            Group::Generic => "generic",
            Group::Hash => "hash",
            Group::List => "list",
            Group::Server => "server",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::String => "string",
            Group::Transactions => "transactions",
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
            Group::Server => None,
            Group::Set => Some("@set"),
            Group::SortedSet => Some("@sortedset"),
            Group::String => Some("@string"),
            Group::Transactions => Some("@transaction"),
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
}

/// One subcommand of a container command: its lower-case name, its Redis
/// arity (counting the command and the subcommand), whether its key is
/// the argument after it, and whether Redis marks it `admin` (then
/// `MONITOR` does not show it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sub {
    pub name: &'static str,
    pub arity: i8,
    pub keyed: bool,
    pub redis_admin: bool,
}

const fn sub(name: &'static str, arity: i8) -> Sub {
    Sub {
        name,
        arity,
        keyed: false,
        redis_admin: false,
    }
}

const fn keyed_sub(name: &'static str, arity: i8) -> Sub {
    Sub {
        keyed: true,
        ..sub(name, arity)
    }
}

const fn admin_sub(name: &'static str, arity: i8) -> Sub {
    Sub {
        redis_admin: true,
        ..sub(name, arity)
    }
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
    sub("help", 2),
];

/// `CLIENT`'s subcommands in Redis 7.0 (reddb answers some of them: the
/// handler says which).
static CLIENT_SUBCOMMANDS: &[Sub] = &[
    sub("caching", 3),
    sub("getname", 2),
    sub("getredir", 2),
    sub("help", 2),
    sub("id", 2),
    sub("info", 2),
    admin_sub("kill", -3),
    admin_sub("list", -2),
    admin_sub("no-evict", 3),
    admin_sub("pause", -3),
    sub("reply", 3),
    sub("setname", 3),
    sub("tracking", -3),
    sub("trackinginfo", 2),
    admin_sub("unblock", -3),
    admin_sub("unpause", 2),
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
        }
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

    /// The keys of `args` (the command name included), as Redis's
    /// `COMMAND GETKEYS` finds them; `None` when a key count is not a
    /// number from 1 to the arguments that follow it.
    pub(crate) fn key_args<'a>(&self, args: &'a [Vec<u8>]) -> Option<Vec<&'a [u8]>> {
        let mut keys = self.keys.keys(args);
        if self.numkeys_at == 0 {
            return Some(keys);
        }
        let at = usize::from(self.numkeys_at);
        let n = std::str::from_utf8(args.get(at)?)
            .ok()?
            .parse::<usize>()
            .ok()?;
        let counted = args.get(at + 1..)?.get(..n).filter(|_| n > 0)?;
        keys.extend(counted.iter().map(Vec::as_slice));
        Some(keys)
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
    server("command", -1, 0, introspect::command).doc(
        G::Server,
        "2.8.13",
        "Describe the commands of this server",
    ),
    server("time", 1, FAST, cmd::time).doc(G::Server, "2.6.0", "Return the server's time"),
    server("info", -1, 0, cmd::info).doc(
        G::Server,
        "1.0.0",
        "Information and statistics about the server",
    ),
    server("config", -2, UNMONITORED, cmd::config).doc(
        G::Server,
        "2.0.0",
        "Read the server's configuration",
    ),
    server("slowlog", -2, UNMONITORED, cmd::slowlog).doc(
        G::Server,
        "2.2.12",
        "Read or reset the slow command log",
    ),
    server("wait", 3, 0, cmd::wait).doc(
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
    server("lastsave", 1, FAST, cmd::lastsave).doc(
        G::Server,
        "1.0.0",
        "Unix time of the last successful save",
    ),
    data("dbsize", 1, READ_DATA | FAST, cmd::dbsize).doc(
        G::Server,
        "1.0.0",
        "Return the number of keys",
    ),
    data("keys", 2, READ_DATA, cmd::keys).doc(
        G::Generic,
        "1.0.0",
        "Find all keys matching a pattern",
    ),
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
        .doc(G::Generic, "1.0.0", "Move a key to another database"),
    data("get", 2, READ_DATA | FAST, cmd::get)
        .keys(ONE_KEY)
        .doc(G::String, "1.0.0", "Get the value of a key"),
    data("set", -3, WRITE_DATA, cmd::set).keys(ONE_KEY).doc(
        G::String,
        "1.0.0",
        "Set the string value of a key",
    ),
    data("setex", 4, WRITE_DATA, cmd::setex).keys(ONE_KEY).doc(
        G::String,
        "2.0.0",
        "Set a value that expires in seconds",
    ),
    data("psetex", 4, WRITE_DATA, cmd::psetex)
        .keys(ONE_KEY)
        .doc(
            G::String,
            "2.6.0",
            "Set a value that expires in milliseconds",
        ),
    data("setnx", 3, WRITE_DATA | FAST, cmd::setnx)
        .keys(ONE_KEY)
        .doc(
            G::String,
            "1.0.0",
            "Set a value only if the key does not exist",
        ),
    data("getdel", 2, WRITE_DATA | FAST, cmd::getdel)
        .keys(ONE_KEY)
        .doc(G::String, "6.2.0", "Get a value and delete its key"),
    data("getex", -2, WRITE_DATA | FAST, cmd::getex)
        .keys(ONE_KEY)
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
        .doc(G::String, "1.0.1", "Set several keys at once"),
    data("msetnx", -3, WRITE_DATA, sh::msetnx)
        .keys(KEY_VALUE_PAIRS)
        .doc(G::String, "1.0.1", "Set several keys only if none exists"),
    data("del", -2, WRITE_DATA, cmd::del)
        .keys(ALL_KEYS)
        .doc(G::Generic, "1.0.0", "Delete keys"),
    data("unlink", -2, WRITE_DATA | FAST, cmd::del)
        .keys(ALL_KEYS)
        .doc(G::Generic, "4.0.0", "Delete keys (the same as DEL here)"),
    data("exists", -2, READ_DATA | FAST, cmd::exists)
        .keys(ALL_KEYS)
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
        .doc(G::Generic, "1.0.0", "Get the type of a key's value"),
    data("incr", 2, WRITE_DATA | FAST, cmd::incr)
        .keys(ONE_KEY)
        .doc(G::String, "1.0.0", "Add one to an integer value"),
    data("incrby", 3, WRITE_DATA | FAST, cmd::incrby)
        .keys(ONE_KEY)
        .doc(G::String, "1.0.0", "Add an amount to an integer value"),
    data("decr", 2, WRITE_DATA | FAST, cmd::decr)
        .keys(ONE_KEY)
        .doc(G::String, "1.0.0", "Subtract one from an integer value"),
    data("decrby", 3, WRITE_DATA | FAST, cmd::decrby)
        .keys(ONE_KEY)
        .doc(
            G::String,
            "1.0.0",
            "Subtract an amount from an integer value",
        ),
    data("incrbyfloat", 3, WRITE_DATA | FAST, bits::incrbyfloat)
        .keys(ONE_KEY)
        .doc(G::String, "2.6.0", "Add a float amount to a value"),
    data("setbit", 4, WRITE_DATA, bits::setbit)
        .keys(ONE_KEY)
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
        .doc(G::String, "1.0.0", "Set a value and return the old one"),
    data("append", 3, WRITE_DATA | FAST, cmd::append)
        .keys(ONE_KEY)
        .doc(G::String, "2.0.0", "Append to a string value"),
    data("strlen", 2, READ_DATA | FAST, cmd::strlen)
        .keys(ONE_KEY)
        .doc(G::String, "2.2.0", "Get the length of a string value"),
    data("getrange", 4, READ_DATA, cmd::getrange)
        .keys(ONE_KEY)
        .doc(G::String, "2.4.0", "Get a substring of a string value"),
    data("setrange", 4, WRITE_DATA, sh::setrange)
        .keys(ONE_KEY)
        .doc(G::String, "2.2.0", "Overwrite part of a string value"),
    data("rename", 3, WRITE_DATA, cmd::rename)
        .keys(TWO_KEYS)
        .doc(G::Generic, "1.0.0", "Rename a key (its TTL goes with it)"),
    data("renamenx", 3, WRITE_DATA | FAST, cmd::renamenx)
        .keys(TWO_KEYS)
        .doc(
            G::Generic,
            "1.0.0",
            "Rename a key only if the new name is free",
        ),
    data("copy", -3, WRITE_DATA, sh::copy).keys(TWO_KEYS).doc(
        G::Generic,
        "6.2.0",
        "Copy a key's value and TTL to another key",
    ),
    data("touch", -2, READ_DATA | FAST, cmd::exists)
        .keys(ALL_KEYS)
        .doc(G::Generic, "3.2.1", "Count how many of the keys exist"),
    data("sadd", -3, WRITE_DATA | FAST, cmd::sadd)
        .keys(ONE_KEY)
        .doc(G::Set, "1.0.0", "Add members to a set"),
    data("srem", -3, WRITE_DATA | FAST, cmd::srem)
        .keys(ONE_KEY)
        .doc(G::Set, "1.0.0", "Remove members from a set"),
    data("smembers", 2, READ_DATA, cmd::smembers)
        .keys(ONE_KEY)
        .doc(G::Set, "1.0.0", "Get every member of a set"),
    data("sismember", 3, READ_DATA | FAST, cmd::sismember)
        .keys(ONE_KEY)
        .doc(G::Set, "1.0.0", "Whether a value is a member of a set"),
    data("scard", 2, READ_DATA | FAST, cmd::scard)
        .keys(ONE_KEY)
        .doc(G::Set, "1.0.0", "Count the members of a set"),
    data("smismember", -3, READ_DATA | FAST, sets::smismember)
        .keys(ONE_KEY)
        .doc(G::Set, "6.2.0", "Whether each value is a member of a set"),
    data("spop", -2, WRITE_DATA | FAST, sets::spop)
        .keys(ONE_KEY)
        .doc(G::Set, "1.0.0", "Remove and return random members of a set"),
    data("srandmember", -2, READ_DATA, sets::srandmember)
        .keys(ONE_KEY)
        .doc(G::Set, "1.0.0", "Get random members of a set"),
    data("smove", 4, WRITE_DATA | FAST, sets::smove)
        .keys(TWO_KEYS)
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
        .doc(G::Set, "1.0.0", "Store the intersection of sets"),
    data("sunionstore", -3, WRITE_DATA, sets::sunionstore)
        .keys(ALL_KEYS)
        .doc(G::Set, "1.0.0", "Store the union of sets"),
    data("sdiffstore", -3, WRITE_DATA, sets::sdiffstore)
        .keys(ALL_KEYS)
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
        .doc(G::SortedSet, "1.2.0", "Add to a member's score"),
    data("zrem", -3, WRITE_DATA | FAST, zsets::zrem)
        .keys(ONE_KEY)
        .doc(G::SortedSet, "1.2.0", "Remove members from a sorted set"),
    data("zscore", 3, READ_DATA | FAST, zsets::zscore)
        .keys(ONE_KEY)
        .doc(G::SortedSet, "1.2.0", "Get a member's score"),
    data("zmscore", -3, READ_DATA | FAST, zsets::zmscore)
        .keys(ONE_KEY)
        .doc(G::SortedSet, "6.2.0", "Get the scores of several members"),
    data("zcard", 2, READ_DATA | FAST, zsets::zcard)
        .keys(ONE_KEY)
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
        .doc(
            G::SortedSet,
            "6.2.0",
            "Store a range of a sorted set in another key",
        ),
    data("zremrangebyrank", 4, WRITE_DATA, zsets::zremrangebyrank)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "2.0.0",
            "Remove the members within a range of positions",
        ),
    data("zremrangebyscore", 4, WRITE_DATA, zsets::zremrangebyscore)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "1.2.0",
            "Remove the members within a score interval",
        ),
    data("zremrangebylex", 4, WRITE_DATA, zsets::zremrangebylex)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "2.8.9",
            "Remove the members within a lexicographic interval",
        ),
    data("zpopmin", -2, WRITE_DATA | FAST, zsets::zpopmin)
        .keys(ONE_KEY)
        .doc(
            G::SortedSet,
            "5.0.0",
            "Remove and return the members with the lowest scores",
        ),
    data("zpopmax", -2, WRITE_DATA | FAST, zsets::zpopmax)
        .keys(ONE_KEY)
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
        .doc(G::SortedSet, "2.0.0", "Store the union of sorted sets"),
    data("zinterstore", -4, WRITE_DATA, zsets::zinterstore)
        .keys(ONE_KEY)
        .numkeys(2)
        .doc(
            G::SortedSet,
            "2.0.0",
            "Store the intersection of sorted sets",
        ),
    data("zdiffstore", -4, WRITE_DATA, zsets::zdiffstore)
        .keys(ONE_KEY)
        .numkeys(2)
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
        .doc(G::Hash, "2.0.0", "Add an amount to an integer hash field"),
    data("hsetnx", 4, WRITE_DATA | FAST, sh::hsetnx)
        .keys(ONE_KEY)
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
        .doc(G::Hash, "2.6.0", "Add a float amount to a hash field"),
    data("hdel", -3, WRITE_DATA | FAST, cmd::hdel)
        .keys(ONE_KEY)
        .doc(G::Hash, "2.0.0", "Delete hash fields"),
    data("hexists", 3, READ_DATA | FAST, cmd::hexists)
        .keys(ONE_KEY)
        .doc(G::Hash, "2.0.0", "Whether a hash field exists"),
    data("hlen", 2, READ_DATA | FAST, cmd::hlen)
        .keys(ONE_KEY)
        .doc(G::Hash, "2.0.0", "Count the fields of a hash"),
    data("lpush", -3, WRITE_DATA | FAST, lists::lpush)
        .keys(ONE_KEY)
        .doc(G::List, "1.0.0", "Prepend items to a list"),
    data("rpush", -3, WRITE_DATA | FAST, lists::rpush)
        .keys(ONE_KEY)
        .doc(G::List, "1.0.0", "Append items to a list"),
    data("lpushx", -3, WRITE_DATA | FAST, lists::lpushx)
        .keys(ONE_KEY)
        .doc(
            G::List,
            "2.2.0",
            "Prepend items to a list only if it exists",
        ),
    data("rpushx", -3, WRITE_DATA | FAST, lists::rpushx)
        .keys(ONE_KEY)
        .doc(G::List, "2.2.0", "Append items to a list only if it exists"),
    data("lpop", -2, WRITE_DATA | FAST, lists::lpop)
        .keys(ONE_KEY)
        .doc(
            G::List,
            "1.0.0",
            "Remove and return the first items of a list",
        ),
    data("rpop", -2, WRITE_DATA | FAST, lists::rpop)
        .keys(ONE_KEY)
        .doc(
            G::List,
            "1.0.0",
            "Remove and return the last items of a list",
        ),
    data("llen", 2, READ_DATA | FAST, lists::llen)
        .keys(ONE_KEY)
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
        .doc(G::List, "2.2.0", "Insert an item before or after another"),
    data("lrem", 4, WRITE_DATA, lists::lrem).keys(ONE_KEY).doc(
        G::List,
        "1.0.0",
        "Remove items equal to a value from a list",
    ),
    data("ltrim", 4, WRITE_DATA, lists::ltrim)
        .keys(ONE_KEY)
        .doc(G::List, "1.0.0", "Keep only a range of a list"),
    data("lpos", -3, READ_DATA, lists::lpos).keys(ONE_KEY).doc(
        G::List,
        "6.0.6",
        "Find the positions of an item in a list",
    ),
    data("lmove", 5, WRITE_DATA, lists::lmove)
        .keys(TWO_KEYS)
        .doc(G::List, "6.2.0", "Move an item from one list to another"),
    data("rpoplpush", 3, WRITE_DATA, lists::rpoplpush)
        .keys(TWO_KEYS)
        .doc(
            G::List,
            "1.2.0",
            "Move the last item of a list to the head of another",
        ),
    data("lmpop", -4, WRITE_DATA, lists::lmpop).numkeys(1).doc(
        G::List,
        "7.0.0",
        "Pop items from the first non-empty list",
    ),
    data("blpop", -3, WRITE_DATA | BLOCKING, lists::blpop)
        .keys(KEYS_THEN_TIMEOUT)
        .doc(
            G::List,
            "2.0.0",
            "Pop the first item of the first non-empty list, or wait for one",
        ),
    data("brpop", -3, WRITE_DATA | BLOCKING, lists::brpop)
        .keys(KEYS_THEN_TIMEOUT)
        .doc(
            G::List,
            "2.0.0",
            "Pop the last item of the first non-empty list, or wait for one",
        ),
    data("blmove", 6, WRITE_DATA | BLOCKING, lists::blmove)
        .keys(TWO_KEYS)
        .doc(
            G::List,
            "6.2.0",
            "Move an item from one list to another, or wait for one",
        ),
    data("brpoplpush", 4, WRITE_DATA | BLOCKING, lists::brpoplpush)
        .keys(TWO_KEYS)
        .doc(
            G::List,
            "2.2.0",
            "Move the last item of a list to the head of another, or wait for one",
        ),
    data("blmpop", -5, WRITE_DATA | BLOCKING, lists::blmpop)
        .numkeys(2)
        .doc(
            G::List,
            "7.0.0",
            "Pop items from the first non-empty list, or wait for some",
        ),
];

/// The command named `name` (already lower-case): the one place a command
/// name is matched.
pub fn lookup(name: &str) -> Option<&'static Spec> {
    static BY_NAME: OnceLock<HashMap<&'static str, &'static Spec>> = OnceLock::new();
    BY_NAME
        .get_or_init(|| TABLE.iter().map(|s| (s.name, s)).collect())
        .get(name)
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
            // Keys are only in keyspace commands (and WATCH).
            assert!(
                !(spec.keys.has_keys() || spec.numkeys_at > 0) || is_data || is_session,
                "{name}: keys without data"
            );
        }
    }

    #[test]
    fn key_specs_pick_redis_key_positions() {
        let args = |v: &[&str]| v.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>();
        let mset = args(&["mset", "a", "1", "b", "2"]);
        assert_eq!(KEY_VALUE_PAIRS.keys(&mset), vec![&b"a"[..], b"b"]);
        let del = args(&["del", "a", "b", "c"]);
        assert_eq!(ALL_KEYS.keys(&del), vec![&b"a"[..], b"b", b"c"]);
        let set = args(&["set", "k", "v", "EX", "1"]);
        assert_eq!(ONE_KEY.keys(&set), vec![&b"k"[..]]);
        assert!(NO_KEYS.keys(&set).is_empty());
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
