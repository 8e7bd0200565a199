//! `ACL`: what a Redis client may ask of reddb's access control over the
//! wire — who the connection is (`WHOAMI`), the ACL command categories
//! (`CAT`, from the command table) and `HELP`.
//!
//! reddb's users, passwords and roles are managed over its HTTP API
//! (`/auth/users`), never over the wire: every other Redis `ACL`
//! subcommand (`SETUSER`, `DELUSER`, `GETUSER`, `LIST`, `USERS`, `LOG`,
//! `LOAD`, `SAVE`, `DRYRUN`, `GENPASS`) answers an error saying so. It
//! must never change a user nor show anything of one but the connection's
//! own name.

use super::commands::{lower, printable, Call, Ctx};
use super::introspect::{commands_in_category, ACL_CATEGORIES};
use super::resp::Reply;

/// `ACL HELP`: Redis's format, the subcommands reddb answers.
const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
    "Users, passwords and permissions are managed over reddb's HTTP API (/auth/users).",
];

/// `ACL subcommand …` (the subcommand and its arity were checked against
/// the table).
pub(super) fn acl(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let sub = lower(c.arg(1));
    match sub.as_str() {
        "whoami" => {
            let name = cx.session.principal.as_ref().map(|p| p.name.as_str());
            Ok(Reply::bulk(name.unwrap_or("default")))
        }
        "cat" => cat(c),
        "help" => Ok(Reply::Array(
            HELP.iter().map(|line| Reply::simple(*line)).collect(),
        )),
        _ => Err(Reply::err(format!(
            "ERR ACL {} is not supported: reddb manages users over its HTTP API (/auth/users)",
            sub.to_ascii_uppercase()
        ))),
    }
}

/// `ACL CAT [category]`: Redis 7.0's categories, or the commands (and
/// subcommands, as `name|sub`) of this server in one.
fn cat(c: &Call<'_>) -> Result<Reply, Reply> {
    match c.args.get(2..).unwrap_or(&[]) {
        [] => Ok(Reply::Array(
            ACL_CATEGORIES.iter().map(|c| Reply::bulk(*c)).collect(),
        )),
        [category] => {
            let name = lower(category);
            if !ACL_CATEGORIES.contains(&name.as_str()) {
                return Err(Reply::err(format!(
                    "ERR Unknown category '{}'",
                    printable(category)
                )));
            }
            Ok(Reply::Array(
                commands_in_category(&name)
                    .into_iter()
                    .map(Reply::bulk)
                    .collect(),
            ))
        }
        _ => Err(Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            printable(c.arg(1))
        ))),
    }
}
