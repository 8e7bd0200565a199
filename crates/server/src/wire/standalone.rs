//! Keyspace commands run without a connection, for the `wire_commands`
//! fuzz target and property tests: the table lookup, the arity check and
//! the handler, exactly as a session runs a keyspace (`DATA`) command, on a
//! caller's [`Txn`]. No authentication and no admin check: the caller is a
//! test, not a peer.

use super::commands::{lower, wrong_args, Call, DataCx};
use super::resp::Reply;
use super::table::{self, Handler, Runner};
use super::Shared;
use reddb_service::keyspace::Txn;
use reddb_storage::store::State;
use std::net::{Ipv4Addr, SocketAddr};

/// Runs `args` (the name first) on `txn`, whose committed state is
/// `state`. `None` when `args` is not a keyspace command of the table.
pub fn run_data_command<'t>(
    txn: &mut Txn<'t>,
    state: &'t State,
    args: &[Vec<u8>],
) -> Option<Reply> {
    let spec = table::lookup(&lower(args.first()?))?;
    let Handler::Run(Runner::Data(handler)) = spec.handler else {
        return None;
    };
    if !spec.arity_ok(args.len()) {
        return Some(wrong_args(spec.name));
    }
    let mut shared = Shared::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), false, 1);
    let mut cx = DataCx {
        txn,
        shared: &mut shared,
        state: Some(state),
    };
    let call = Call {
        name: spec.name,
        args,
    };
    Some(handler(&call, &mut cx).unwrap_or_else(|refused| refused))
}
