//! `COMMAND` and its subcommands (`COUNT`, `INFO`, `DOCS`, `LIST`,
//! `GETKEYS`, `GETKEYSANDFLAGS`, `HELP`), answered from
//! [`super::table::TABLE`] in Redis 7's reply shapes, so clients that
//! discover commands or key positions (redis-cli's hints, cluster-aware
//! clients) see what this server really runs; and the ACL categories of
//! the commands (`ACL CAT`, `COMMAND LIST FILTERBY ACLCAT`).

use super::commands::{lower, syntax, Call, Ctx};
use super::key_flags::{self, KeyFlags};
use super::resp::Reply;
use super::table::{
    lookup, Group, KeySearch, Spec, Sub, ADMIN, BLOCKING, DATA, FAST, NO_MANDATORY_KEYS, READONLY,
    REDIS_FLAG_NAMES, TABLE, WRITE,
};
use reddb_service::keyspace::glob_match;

/// Redis 7.0's ACL categories, in `ACL CAT`'s order.
pub(crate) const ACL_CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Redis 7.0's `COMMAND HELP`, line for line.
const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

/// `COMMAND [COUNT|INFO|DOCS|LIST|GETKEYS|GETKEYSANDFLAGS|HELP …]` (the
/// subcommand and its arity were checked against the table).
pub fn command(c: &Call<'_>, _: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let Some(sub) = c.args.get(1).map(|a| lower(a)) else {
        return Ok(Reply::Array(TABLE.iter().map(info_entry).collect()));
    };
    let names = c.args.get(2..).unwrap_or(&[]);
    match sub.as_str() {
        "count" => Ok(Reply::Int(i64::try_from(TABLE.len()).unwrap_or(i64::MAX))),
        "info" if names.is_empty() => Ok(Reply::Array(TABLE.iter().map(info_entry).collect())),
        "info" => Ok(Reply::Array(
            names
                .iter()
                .map(|n| lookup(&lower(n)).map_or(Reply::NilArray, info_entry))
                .collect(),
        )),
        "docs" => Ok(docs(names)),
        "list" => list(names),
        "getkeys" => getkeys(names, false),
        "getkeysandflags" => getkeys(names, true),
        _ => Ok(Reply::Array(
            HELP.iter().map(|line| Reply::simple(*line)).collect(),
        )),
    }
}

/// One command in `COMMAND INFO`'s shape: name, arity, flags, first key,
/// last key, key step, ACL categories, tips, key specs, subcommands.
fn info_entry(spec: &Spec) -> Reply {
    let flags = REDIS_FLAG_NAMES
        .iter()
        .filter(|(flag, _)| spec.has(*flag))
        .map(|(_, name)| Reply::simple(*name))
        .collect();
    let categories = acl_categories(spec)
        .into_iter()
        .map(Reply::simple)
        .collect();
    Reply::Array(vec![
        Reply::bulk(spec.name),
        Reply::Int(i64::from(spec.arity)),
        Reply::Set(flags),
        Reply::Int(i64::from(spec.keys.first)),
        Reply::Int(i64::from(spec.keys.last)),
        Reply::Int(i64::from(spec.keys.step)),
        Reply::Set(categories),
        Reply::Set(Vec::new()),
        Reply::Set(key_specs(spec)),
        Reply::Set(Vec::new()),
    ])
}

/// The ACL categories Redis gives a command: `@write`/`@read` from its
/// flags; its group's (`@keyspace` for a keyspace command of no data
/// type); `@admin` and `@dangerous` for an admin command; `@fast` or
/// `@slow`; `@blocking`; and the ones the table adds. A container
/// (`CLIENT`, `CONFIG`…) is only `@slow`: its subcommands have their own
/// (see [`sub_acl_categories`]).
pub(crate) fn acl_categories(spec: &Spec) -> Vec<&'static str> {
    let mut out = Vec::new();
    if spec.has(WRITE) {
        out.push("@write");
    }
    // EVAL_RO is `readonly` but not `@read` in Redis (only `@scripting`).
    if spec.has(READONLY) && spec.group != Group::Scripting {
        out.push("@read");
    }
    if spec.subcommands.is_empty() {
        match spec.group.acl_category() {
            Some(category) if spec.has(DATA) || spec.group != Group::Generic => {
                out.push(category);
            }
            None if spec.has(DATA) => out.push("@keyspace"),
            _ => {}
        }
    }
    if spec.has(ADMIN) {
        out.extend(["@admin", "@dangerous"]);
    }
    out.push(if spec.has(FAST) { "@fast" } else { "@slow" });
    if spec.has(BLOCKING) {
        out.push("@blocking");
    }
    for category in spec.more_categories {
        if !out.contains(category) {
            out.push(category);
        }
    }
    out
}

/// Redis 7's key specifications of a command (none without keys), with
/// how the command uses each one's keys.
fn key_specs(spec: &Spec) -> Vec<Reply> {
    spec.key_specs()
        .into_iter()
        .map(|ks| match ks.search {
            KeySearch::Range {
                begin,
                lastkey,
                step,
            } => key_spec(
                ks.flags,
                begin,
                "range",
                &[
                    ("lastkey", i64::from(lastkey)),
                    ("keystep", i64::from(step)),
                    ("limit", 0),
                ],
            ),
            KeySearch::Keynum { begin } => key_spec(
                ks.flags,
                begin,
                "keynum",
                &[("keynumidx", 0), ("firstkey", 1), ("keystep", 1)],
            ),
        })
        .collect()
}

/// Key-spec flags as Redis prints them: status strings.
fn flag_names(flags: KeyFlags) -> Vec<Reply> {
    key_flags::names(flags).map(Reply::simple).collect()
}

/// One key specification: access flags, an index `begin_search` at
/// `begin`, and a `find_keys` of type `find` with these integer fields.
fn key_spec(flags: KeyFlags, begin: u8, find: &str, fields: &[(&str, i64)]) -> Reply {
    let text = |s: &str| Reply::bulk(s);
    Reply::Map(vec![
        (text("flags"), Reply::Set(flag_names(flags))),
        (
            text("begin_search"),
            Reply::Map(vec![
                (text("type"), text("index")),
                (
                    text("spec"),
                    Reply::Map(vec![(text("index"), Reply::Int(i64::from(begin)))]),
                ),
            ]),
        ),
        (
            text("find_keys"),
            Reply::Map(vec![
                (text("type"), text(find)),
                (
                    text("spec"),
                    Reply::Map(
                        fields
                            .iter()
                            .map(|(name, n)| (text(name), Reply::Int(*n)))
                            .collect(),
                    ),
                ),
            ]),
        ),
    ])
}

/// `COMMAND DOCS [name …]`: summary, since and group of each named command
/// (every command when none is named); unknown names are left out.
fn docs(names: &[Vec<u8>]) -> Reply {
    let doc = |spec: &Spec| {
        (
            Reply::bulk(spec.name),
            Reply::Map(vec![
                (Reply::bulk("summary"), Reply::bulk(spec.summary)),
                (Reply::bulk("since"), Reply::bulk(spec.since)),
                (Reply::bulk("group"), Reply::bulk(spec.group.name())),
            ]),
        )
    };
    if names.is_empty() {
        return Reply::Map(TABLE.iter().map(doc).collect());
    }
    Reply::Map(
        names
            .iter()
            .filter_map(|n| lookup(&lower(n)))
            .map(doc)
            .collect(),
    )
}

/// The ACL categories Redis gives a subcommand: its container's
/// category, `@read` for a keyed one, `@admin` and `@dangerous` for an
/// admin one, and `@slow` for every one.
fn sub_acl_categories(sub: &Sub) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = sub.category.into_iter().collect();
    if sub.keyed {
        out.push("@read");
    }
    if sub.redis_admin {
        out.push("@admin");
    }
    out.push("@slow");
    if sub.redis_admin {
        out.push("@dangerous");
    }
    out
}

/// The commands of this server in ACL category `category` (lower-case,
/// without `@`), subcommands as `name|sub`, in table order: what `ACL
/// CAT category` and `COMMAND LIST FILTERBY ACLCAT category` answer.
pub(crate) fn commands_in_category(category: &str) -> Vec<String> {
    let wanted = format!("@{category}");
    let mut out = Vec::new();
    for spec in TABLE {
        if acl_categories(spec).contains(&wanted.as_str()) {
            out.push(spec.name.to_string());
        }
        for sub in spec.subcommands {
            if sub_acl_categories(sub).contains(&wanted.as_str()) {
                out.push(format!("{}|{}", spec.name, sub.name));
            }
        }
    }
    out
}

/// `COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]`.
fn list(args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let keep: Box<dyn Fn(&Spec) -> bool> = match args {
        [] => Box::new(|_| true),
        [filterby, kind, value] if lower(filterby) == "filterby" => match lower(kind).as_str() {
            // No modules here.
            "module" => Box::new(|_| false),
            "aclcat" => {
                return Ok(Reply::Array(
                    commands_in_category(&lower(value))
                        .into_iter()
                        .map(Reply::bulk)
                        .collect(),
                ))
            }
            "pattern" => {
                let pattern = lower(value);
                Box::new(move |spec| glob_match(pattern.as_bytes(), spec.name.as_bytes()))
            }
            _ => return Err(syntax()),
        },
        _ => return Err(syntax()),
    };
    Ok(Reply::Array(
        TABLE
            .iter()
            .filter(|spec| keep(spec))
            .map(|spec| Reply::bulk(spec.name))
            .collect(),
    ))
}

/// `COMMAND GETKEYS command arg …` (and `GETKEYSANDFLAGS`, each key with
/// how the command uses it): the keys the table's key specs pick from the
/// arguments, with Redis's error lines.
fn getkeys(command_line: &[Vec<u8>], with_flags: bool) -> Result<Reply, Reply> {
    let name = command_line.first().map(|n| lower(n)).unwrap_or_default();
    let Some(spec) = lookup(&name) else {
        return Err(Reply::err("ERR Invalid command specified"));
    };
    let wrong_count = || Reply::err("ERR Invalid number of arguments specified for command");
    let no_keys = || Reply::err("ERR The command has no key arguments");
    let shown = |keys: Vec<(&[u8], KeyFlags)>| {
        Reply::Array(
            keys.into_iter()
                .map(|(key, flags)| {
                    if with_flags {
                        Reply::Array(vec![Reply::bulk(key), Reply::Array(flag_names(flags))])
                    } else {
                        Reply::bulk(key)
                    }
                })
                .collect(),
        )
    };
    // Redis's order: the command, whether it has keys at all, then its
    // arity.
    if !spec.subcommands.is_empty() {
        let name = command_line.get(1).map(|n| lower(n)).unwrap_or_default();
        let Some(sub) = spec.subcommand(&name) else {
            return Err(Reply::err("ERR Invalid command specified"));
        };
        if !sub.keyed {
            return Err(no_keys());
        }
        if !sub.arity_ok(command_line.len()) {
            return Err(wrong_count());
        }
        let key = command_line.get(2).map_or(&[][..], Vec::as_slice);
        return Ok(shown(vec![(key, key_flags::RO_KEY_ONLY)]));
    }
    if spec.key_specs().is_empty() {
        return Err(no_keys());
    }
    if !spec.arity_ok(command_line.len()) {
        return Err(wrong_count());
    }
    let keys = spec.keys_and_flags(command_line);
    if spec.has(NO_MANDATORY_KEYS) {
        // EVAL with a wrong or zero key count: no keys, not an error.
        return Ok(shown(keys.unwrap_or_default()));
    }
    let Some(keys) = keys else {
        return Err(Reply::err("ERR Invalid arguments specified for command"));
    };
    if keys.is_empty() {
        return Err(Reply::err("ERR Invalid arguments specified for command"));
    }
    Ok(shown(keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn getkeys_follows_the_key_positions() {
        let keys = |v: &[&str]| getkeys(&args(v), false);
        let mset = keys(&["MSET", "a", "1", "b", "2"]);
        assert!(
            matches!(mset, Ok(Reply::Array(ref k)) if k.len() == 2),
            "{mset:?}"
        );
        assert!(matches!(keys(&["del", "a", "b", "c"]), Ok(Reply::Array(ref k)) if k.len() == 3));
        let no_keys = keys(&["ping", "x"]);
        assert!(matches!(no_keys, Err(Reply::Error(ref e)) if e.contains("no key arguments")));
        let arity = keys(&["get", "a", "b"]);
        assert!(matches!(arity, Err(Reply::Error(ref e)) if e.contains("number of arguments")));
        let unknown = keys(&["nosuch", "a"]);
        assert!(matches!(unknown, Err(Reply::Error(ref e)) if e.contains("Invalid command")));
    }

    #[test]
    fn every_entry_has_redis_seven_shape() {
        for spec in TABLE {
            let Reply::Array(fields) = info_entry(spec) else {
                panic!("{}: not an array", spec.name);
            };
            assert_eq!(fields.len(), 10, "{}", spec.name);
        }
    }
}
