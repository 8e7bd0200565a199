//! `OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT|HELP`, answered as Redis 7.0
//! answers them with its default configuration.
//!
//! Where reddb differs on purpose: `ENCODING` and `REFCOUNT` are derived
//! from the value's shape alone (see
//! [`reddb_service::keyspace::object_commands`]), so a value whose Redis
//! encoding depends on its history may be reported otherwise; `IDLETIME`
//! is always 0, because reddb does not track when a key was last read;
//! `FREQ` is refused as Redis refuses it without an LFU `maxmemory-policy`
//! (reddb's is `noeviction`). A missing key is nil for every subcommand,
//! as in Redis. It must never show a value, only its shape.

use super::commands::{ks, lower, unknown_subcommand, wrong_args, Call, Ctx};
use super::resp::Reply;

/// Redis 7.0's `OBJECT HELP`, line for line.
const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const NO_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// `OBJECT subcommand [key]`.
pub(super) fn object(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let sub = lower(c.arg(1));
    let Some(spec) = super::table::lookup(c.name).and_then(|s| s.subcommand(&sub)) else {
        return Err(unknown_subcommand(c.arg(1), "object"));
    };
    if !spec.arity_ok(c.args.len()) {
        return Err(wrong_args(&format!("object|{sub}")));
    }
    if sub == "help" {
        return Ok(Reply::Array(
            HELP.iter().map(|l| Reply::simple(*l)).collect(),
        ));
    }
    let Some(txn) = cx.txn.as_deref_mut() else {
        return Err(Reply::err(
            "ERR the vault is sealed: start the server with its certificate to use the keyspace",
        ));
    };
    let key = c.arg(2);
    if !txn.exists(key).map_err(ks)? {
        return Ok(Reply::Nil);
    }
    match sub.as_str() {
        "encoding" => Ok(txn
            .object_encoding(key)
            .map_err(ks)?
            .map_or(Reply::Nil, Reply::bulk)),
        "refcount" => Ok(txn
            .object_refcount(key)
            .map_err(ks)?
            .map_or(Reply::Nil, Reply::Int)),
        "idletime" => Ok(Reply::Int(0)),
        _ => Err(Reply::err(NO_LFU)),
    }
}
