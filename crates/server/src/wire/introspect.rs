//! `COMMAND` and its subcommands (`COUNT`, `INFO`, `DOCS`, `LIST`,
//! `GETKEYS`), answered from [`super::table::TABLE`] in Redis 7's reply
//! shapes, so clients that discover commands or key positions (redis-cli's
//! hints, cluster-aware clients) see what this server really runs.

use super::commands::{lower, syntax, unknown_subcommand, wrong_args, Call, Ctx};
use super::resp::Reply;
use super::table::{lookup, Spec, ADMIN, BLOCKING, FAST, READONLY, REDIS_FLAG_NAMES, TABLE, WRITE};
use reddb_service::keyspace::glob_match;

/// `COMMAND [COUNT|INFO|DOCS|LIST|GETKEYS …]`.
pub fn command(c: &Call<'_>, _: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let Some(sub) = c.args.get(1).map(|a| lower(a)) else {
        return Ok(Reply::Array(TABLE.iter().map(info_entry).collect()));
    };
    let names = c.args.get(2..).unwrap_or(&[]);
    match sub.as_str() {
        "count" if names.is_empty() => {
            Ok(Reply::Int(i64::try_from(TABLE.len()).unwrap_or(i64::MAX)))
        }
        "count" => Err(wrong_args("command|count")),
        "info" if names.is_empty() => Ok(Reply::Array(TABLE.iter().map(info_entry).collect())),
        "info" => Ok(Reply::Array(
            names
                .iter()
                .map(|n| lookup(&lower(n)).map_or(Reply::NilArray, info_entry))
                .collect(),
        )),
        "docs" => Ok(docs(names)),
        "list" => list(names),
        "getkeys" if names.len() >= 2 => getkeys(names),
        "getkeys" => Err(wrong_args("command|getkeys")),
        _ => Err(unknown_subcommand(c.arg(1), "command")),
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

/// The ACL categories Redis would give a command with these flags and this
/// group.
fn acl_categories(spec: &Spec) -> Vec<&'static str> {
    let mut out = Vec::new();
    if spec.has(WRITE) {
        out.push("@write");
    }
    if spec.has(READONLY) {
        out.push("@read");
    }
    out.extend(spec.group.acl_category());
    if spec.has(ADMIN) {
        out.extend(["@admin", "@dangerous"]);
    }
    out.push(if spec.has(FAST) { "@fast" } else { "@slow" });
    if spec.has(BLOCKING) {
        out.push("@blocking");
    }
    out
}

/// The one Redis 7 key specification of a keyed command (none for a
/// command without keys): its keys start at `first` and run to `last`
/// (relative to `first`, or counted from the end when negative) in steps;
/// or, for a command whose keys are counted by an argument, a `keynum`
/// spec starting at that argument.
fn key_specs(spec: &Spec) -> Vec<Reply> {
    let keys = spec.keys;
    if spec.numkeys_at > 0 {
        let keynum = [("keynumidx", 0), ("firstkey", 1), ("keystep", 1)];
        let counted = key_spec(spec, spec.numkeys_at, "keynum", &keynum);
        if !keys.has_keys() {
            return vec![counted];
        }
        // `ZUNIONSTORE destination numkeys key …`: the destination, then
        // the keys counted.
        let destination = [("lastkey", 0), ("keystep", 1), ("limit", 0)];
        return vec![key_spec(spec, keys.first, "range", &destination), counted];
    }
    if !keys.has_keys() {
        return Vec::new();
    }
    let last = if keys.last >= 0 {
        i64::from(keys.last) - i64::from(keys.first)
    } else {
        i64::from(keys.last)
    };
    let range = [
        ("lastkey", last),
        ("keystep", i64::from(keys.step)),
        ("limit", 0),
    ];
    vec![key_spec(spec, keys.first, "range", &range)]
}

/// One key specification: access flags, an index `begin_search` at
/// `begin`, and a `find_keys` of type `find` with these integer fields.
fn key_spec(spec: &Spec, begin: u8, find: &str, fields: &[(&str, i64)]) -> Reply {
    let access = if spec.has(WRITE) {
        ["RW", "update"]
    } else {
        ["RO", "access"]
    };
    let text = |s: &str| Reply::bulk(s);
    Reply::Map(vec![
        (
            text("flags"),
            Reply::Set(access.into_iter().map(Reply::simple).collect()),
        ),
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

/// `COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]`.
fn list(args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let keep: Box<dyn Fn(&Spec) -> bool> = match args {
        [] => Box::new(|_| true),
        [filterby, kind, value] if lower(filterby) == "filterby" => match lower(kind).as_str() {
            // No modules here.
            "module" => Box::new(|_| false),
            "aclcat" => {
                let category = format!("@{}", lower(value));
                Box::new(move |spec| acl_categories(spec).contains(&category.as_str()))
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

/// `COMMAND GETKEYS command arg …`: the keys the table's key positions pick
/// from the arguments, with Redis's error lines.
fn getkeys(command_line: &[Vec<u8>]) -> Result<Reply, Reply> {
    let name = command_line.first().map(|n| lower(n)).unwrap_or_default();
    let Some(spec) = lookup(&name) else {
        return Err(Reply::err("ERR Invalid command specified"));
    };
    let wrong_count = || Reply::err("ERR Invalid number of arguments specified for command");
    if !spec.arity_ok(command_line.len()) {
        return Err(wrong_count());
    }
    if !spec.subcommands.is_empty() {
        let name = command_line.get(1).map(|n| lower(n)).unwrap_or_default();
        let Some(sub) = spec.subcommand(&name) else {
            return Err(Reply::err("ERR Invalid command specified"));
        };
        if !sub.arity_ok(command_line.len()) {
            return Err(wrong_count());
        }
        return match command_line.get(2).filter(|_| sub.keyed) {
            Some(key) => Ok(Reply::Array(vec![Reply::bulk(key.as_slice())])),
            None => Err(Reply::err("ERR The command has no key arguments")),
        };
    }
    let Some(keys) = spec.key_args(command_line) else {
        return Err(Reply::err("ERR Invalid arguments specified for command"));
    };
    if keys.is_empty() {
        return Err(Reply::err("ERR The command has no key arguments"));
    }
    Ok(Reply::Array(keys.into_iter().map(Reply::bulk).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn getkeys_follows_the_key_positions() {
        let keys = |v: &[&str]| getkeys(&args(v));
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
