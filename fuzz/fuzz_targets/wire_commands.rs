//! Keyspace commands end to end without a socket: the input is read as RESP
//! commands (at most 64); each runs through the command table and its
//! handler (`wire::standalone::run_data_command`) in a keyspace transaction
//! of its own, or, between `MULTI` and `EXEC`, all in one. Properties:
//!
//! 1. nothing panics, whatever the arguments (every command's argument
//!    parsing is reached: names are matched case-insensitively, so the
//!    fuzzer finds the table's names from the seeds);
//! 2. after each transaction, its changes go through the log codec (encode a
//!    commit frame, decode it, apply the decoded mutations to the state), and
//!    every key of every database then holds exactly the entry — value,
//!    expiry and payload size — the transaction showed before its commit. So
//!    the element-level edit records, `SWAPDB`, flushes and whole-value
//!    writes reproduce what the commands did.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reddb::server::wire::resp::{CommandParser, Limits};
use reddb::server::wire::standalone::run_data_command;
use reddb::service::keyspace::Txn;
use reddb::store::record::{self, FrameKind, DATABASES};
use reddb::store::{Entry, State};

const MAX_COMMANDS: usize = 64;

type Views = Vec<Vec<(Vec<u8>, Entry)>>;

fn views(txn: &Txn<'_>) -> Views {
    (0..DATABASES).map(|db| txn.visible_entries(db)).collect()
}

fn commands(mut data: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while out.len() < MAX_COMMANDS {
        match CommandParser::new().parse(data, &Limits::AUTHENTICATED) {
            Ok(Some((args, used))) if used > 0 && used <= data.len() => {
                data = &data[used..];
                if !args.is_empty() {
                    out.push(args);
                }
            }
            _ => break,
        }
    }
    out
}

fn is(args: &[Vec<u8>], name: &str) -> bool {
    args.first().is_some_and(|a| a.eq_ignore_ascii_case(name.as_bytes()))
}

/// Runs one transaction and checks property 2.
fn transaction(state: &mut State, group: &[Vec<Vec<u8>>], now: u64) {
    let (expected, changes) = {
        let mut txn = Txn::new(state, now);
        for args in group {
            let _ = run_data_command(&mut txn, state, args);
        }
        (views(&txn), txn.into_changes())
    };
    let mut frame = Vec::new();
    record::encode_frame(&mut frame, FrameKind::Commit, 1, changes.mutations());
    let Ok(Some((decoded, used))) = record::decode_frame(&frame) else {
        panic!("a commit frame of {} mutations does not decode", changes.len());
    };
    assert_eq!(used, frame.len());
    assert_eq!(decoded.mutations.as_slice(), changes.mutations());
    for m in decoded.mutations {
        state.apply(m);
    }
    let after = views(&Txn::new(state, now));
    for (db, (want, got)) in expected.iter().zip(&after).enumerate() {
        assert_eq!(want, got, "database {db} after replaying {group:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let now = reddb::database::now_ms();
    let mut state = State::default();
    let mut multi: Option<Vec<Vec<Vec<u8>>>> = None;
    for args in commands(data) {
        if is(&args, "multi") {
            multi.get_or_insert_with(Vec::new);
        } else if is(&args, "exec") {
            if let Some(group) = multi.take() {
                transaction(&mut state, &group, now);
            }
        } else if let Some(group) = multi.as_mut() {
            group.push(args);
        } else {
            transaction(&mut state, &[args], now);
        }
    }
    if let Some(group) = multi {
        transaction(&mut state, &group, now);
    }
});
