//! A power cut at every write of a rekey (issue 14 item 2,
//! `docs/FORMAT.md` §9.6): exactly one of the two certificates opens the
//! file afterwards — never neither, never both — and what it opens is
//! complete.
//!
//! The database is built once (bootstrap, first boot, users, an API key,
//! secrets with two versions, config, keyspace entries) on a [`SimDisk`]
//! and its durable image kept. Each case starts from that image, opens it
//! for writing with the old certificate (as `red rekey` does), derives a
//! new certificate, arms the disk to fail at mutating operation `i` of the
//! rekey (`write_at`/`sync`; the failing write may still land, whole or
//! torn), runs [`Service::rekey_offline`] — vault page, header copies,
//! vault page, audit event — and cuts the power: every write no sync
//! covered is dropped, applied or torn (sector prefix, random subset,
//! garbage), decided by a seeded generator, several seeds per `i`. Then:
//!
//! * the old and the new certificate are each tried on the image: exactly
//!   one opens, the other is refused as a wrong certificate (exit 10);
//! * which one is fixed by where the cut fell: before the first header copy
//!   is written the old one, once it is synced the new one, in between
//!   either (both are seen across the seeds);
//! * every user, key, secret (both versions, opened under
//!   `red.secret.aes_key`), config and keyspace entry is there, unchanged;
//!   the audit log holds at most the one new `admin.rekey` event, and only
//!   if the new certificate is the one in force;
//! * a writable open with the winner leaves both vault pages identical, and
//!   then no vault page opens under the loser at all.
//!
//! Further tests: a second rekey cut short after a first one was; the old
//! vault is gone from the file after a complete rekey; the pages a rekey
//! writes do not depend on the size of the store.
//!
//! `REDDB_EXTENDED=1` runs more seeds per write.

mod harness;

use harness::extended;
use harness::fixtures::fix_meta_digest;
use harness::rng::Rng;
use harness::sim_disk::SimDisk;
use harness::store_model::PAGE_SIZE;
use reddb::crypto::keys::Certificate;
use reddb::crypto::password::PasswordCost;
use reddb::database::{Database, RekeyFailure};
use reddb::pager::{Pager, VAULT_LIVE_PAGE, VAULT_MIRROR_PAGE};
use reddb::service::accounts::{self, Role};
use reddb::service::secrets::ConfigValue;
use reddb::service::{DbState, Principal, Service, ServiceConfig, Via};
use reddb::store::record::{Mutation, Namespace, Value, ValueRef};
use reddb::vault::Vault;
use reddb::Error;
use serde_json::json;
use std::collections::BTreeMap;

const COST: PasswordCost = PasswordCost {
    m_kib: 256,
    t: 1,
    p: 1,
};
const BASE_SEED: u64 = 0x5EED_0000_BEEF_0014;
/// The operations of one offline rekey, in order (`docs/FORMAT.md` §9.6):
/// vault page write + sync, two meta copies (write + sync each), the other
/// vault page write + sync, the audit group write + sync.
const REKEY_OPS: u64 = 10;
/// Operations cut before the first header copy is written: the old
/// certificate must open.
const LAST_OLD: u64 = 1;
/// From this operation on, the first header copy is synced: the new
/// certificate must open.
const FIRST_NEW: u64 = 4;
const PRINCIPAL: &str = "cli@uid-0";

fn admin() -> Principal {
    Principal {
        name: "admin-token".into(),
        role: Role::Admin,
        via: Via::AdminToken,
    }
}

/// Everything the store holds except audit events, as comparable text.
type Contents = BTreeMap<(String, Vec<u8>), String>;

fn contents(db: &Database) -> (Contents, usize) {
    let mut out = BTreeMap::new();
    let mut audit = 0;
    for ns in Namespace::ALL {
        for (k, e) in db.store().state().iter(ns, 0) {
            if ns == Namespace::Audit {
                audit += 1;
            } else {
                out.insert((format!("{ns:?}"), k.to_vec()), format!("{e:?}"));
            }
        }
    }
    (out, audit)
}

/// The rekey audit events a database holds.
fn rekey_events(db: &Database) -> usize {
    db.store()
        .state()
        .iter(Namespace::Audit, 0)
        .filter(|(_, e)| match e.value {
            ValueRef::Bytes(b) => {
                let j: serde_json::Value = serde_json::from_slice(b).expect("audit json");
                j["action"] == "admin.rekey" && j["principal"] == PRINCIPAL
            }
            _ => false,
        })
        .count()
}

/// The secret values, read through the service (so `red.secret.aes_key`
/// must open them).
fn secret_values(db: Database) -> Vec<String> {
    let svc = Service::new(DbState::Open(Box::new(db)), ServiceConfig::default());
    let mut out = Vec::new();
    for (key, version) in [
        ("red.secret.a", Some(1)),
        ("red.secret.a", None),
        ("red.secret.b", None),
    ] {
        let j = svc
            .get_secret(&admin(), key, version)
            .unwrap_or_else(|e| panic!("read {key}: {e}"));
        out.push(j.value.as_str().to_string());
    }
    out
}

struct Base {
    image: Vec<u8>,
    cert: String,
    contents: Contents,
    audit: usize,
}

/// A bootstrapped database with one of everything and `keyspace` keyspace
/// entries, synced; the image and the certificate.
fn build(keyspace: usize) -> Base {
    let disk = SimDisk::new();
    let pager = Pager::create(disk.io(), PAGE_SIZE).expect("create");
    let (mut db, out) =
        reddb::service::bootstrap::bootstrap(pager, "admin", b"admin-password-123", COST)
            .expect("bootstrap");
    db.complete_first_boot().expect("first boot");
    let cert = out.certificate_hex.to_string();
    let mut svc = Service::new(DbState::Open(Box::new(db)), ServiceConfig::default());
    let p = admin();
    svc.put_secret(&p, "red.secret.a", "value-a-1", false)
        .expect("secret");
    svc.put_secret(&p, "red.secret.a", "value-a-2", true)
        .expect("rotate");
    svc.put_secret(&p, "red.secret.b", "value-b-1", false)
        .expect("secret");
    let flags = serde_json::to_vec(&json!({"beta": true})).expect("config value");
    svc.put_config(&p, "red.config.flags", ConfigValue(flags))
        .expect("config");
    let db = svc.database_mut().expect("open");
    let user = accounts::new_user("alice", Role::User, b"alice-password-1", COST, 1).expect("user");
    let key = accounts::new_api_key("alice", "test", 1).expect("key");
    db.store_mut()
        .apply(vec![
            accounts::put_user(&user).expect("put user"),
            accounts::put_api_key(&key.record).expect("put key"),
        ])
        .expect("apply");
    for first in (0..keyspace).step_by(1000) {
        let batch = (first..(first + 1000).min(keyspace))
            .map(|i| Mutation::Put {
                ns: Namespace::Keyspace,
                key: format!("key:{i:08}").into_bytes(),
                value: Value::Bytes(vec![b'v'; 100]),
                expires_at_ms: 0,
            })
            .collect();
        db.store_mut().apply(batch).expect("apply");
    }
    db.store_mut().flush().expect("flush");
    let (contents, audit) = contents(db);
    drop(svc);
    Base {
        image: disk.durable_image(),
        cert,
        contents,
        audit,
    }
}

fn cert(hex: &str) -> Certificate {
    Certificate::parse_hex(hex).expect("certificate")
}

fn unseal(disk: &SimDisk, hex: &str, writable: bool) -> reddb::Result<Database> {
    Database::unseal(Pager::open(disk.io())?, &cert(hex), writable)
}

/// Whether any vault page of the image opens under `hex`.
fn vault_opens(disk: &SimDisk, hex: &str) -> bool {
    let mut pager = Pager::open(disk.io()).expect("pager");
    Vault::unseal(&mut pager, &cert(hex)).is_ok()
}

fn vault_pages_identical(disk: &SimDisk) -> bool {
    let img = disk.image();
    let ps = PAGE_SIZE as usize;
    let page = |n: u64| &img[n as usize * ps..(n as usize + 1) * ps];
    page(VAULT_LIVE_PAGE) == page(VAULT_MIRROR_PAGE)
}

/// What a case ended with.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Winner {
    Old,
    New,
}

/// Tries both certificates on the crashed disk: exactly one opens, with
/// the base contents; returns which.
fn judge(disk: &SimDisk, base: &Base, old: &str, new: &str, context: &str) -> Winner {
    let o = unseal(disk, old, false);
    let n = unseal(disk, new, false);
    let (winner, db, loser) = match (o, n) {
        (Ok(db), Err(e)) => (Winner::Old, db, e),
        (Err(e), Ok(db)) => (Winner::New, db, e),
        (Ok(_), Ok(_)) => panic!("{context}: BOTH certificates open the file"),
        (Err(a), Err(b)) => panic!(
            "{context}: NEITHER certificate opens the file: old {a} ({}), new {b} ({})",
            a.code(),
            b.code()
        ),
    };
    assert!(
        matches!(loser, Error::WrongCertificate),
        "{context}: the other certificate is refused as wrong (exit 10), not with {loser} ({})",
        loser.code()
    );
    let (got, audit) = contents(&db);
    assert!(got == base.contents, "{context}: contents changed");
    let events = rekey_events(&db);
    assert!(
        audit == base.audit + events && events <= 1,
        "{context}: audit holds {audit} events, {} before, {events} rekey events",
        base.audit
    );
    if events == 1 {
        assert_eq!(
            winner,
            Winner::New,
            "{context}: a rekey event with the old certificate in force"
        );
    }
    assert_eq!(
        secret_values(db),
        ["value-a-1", "value-a-2", "value-b-1"],
        "{context}: secret values"
    );
    winner
}

/// Starts a case: the base image opened for writing with the old
/// certificate, and a prepared rekey.
fn start(base: &Base) -> (SimDisk, Service, reddb::database::PreparedRekey, String) {
    let disk = SimDisk::from_image(base.image.clone());
    let db = unseal(&disk, &base.cert, true).expect("writable open");
    let svc = Service::new(DbState::Open(Box::new(db)), ServiceConfig::default());
    let prepared = Database::prepare_rekey().expect("prepare");
    let new = prepared.certificate_hex().to_string();
    (disk, svc, prepared, new)
}

#[test]
fn a_power_cut_at_every_write_of_a_rekey_leaves_exactly_one_certificate_working() {
    let base = build(50);
    // The write count of a whole rekey: what the cuts range over.
    let (disk, mut svc, prepared, _) = start(&base);
    let (w0, s0, _) = disk.counters();
    svc.rekey_offline(prepared, PRINCIPAL).expect("rekey");
    let (w1, s1, _) = disk.counters();
    assert_eq!(
        (w1 - w0) + (s1 - s0),
        REKEY_OPS,
        "a rekey is {REKEY_OPS} operations ({} writes, {} syncs)",
        w1 - w0,
        s1 - s0
    );
    assert_eq!((w1 - w0, s1 - s0), (5, 5));
    drop(svc);

    let seeds = if extended() { 40 } else { 6 };
    let mut seen = BTreeMap::new();
    let mut torn = 0;
    for i in 0..=REKEY_OPS {
        for s in 0..seeds {
            let seed = BASE_SEED ^ (i << 32) ^ s;
            let context = format!("cut at operation {i}, seed {seed:#x}");
            let (disk, mut svc, prepared, new) = start(&base);
            disk.fail_after(i);
            let r = svc.rekey_offline(prepared, PRINCIPAL);
            if i == REKEY_OPS {
                assert!(
                    !disk.tripped() && r.is_ok(),
                    "{context}: a whole rekey succeeds"
                );
            } else {
                assert!(disk.tripped(), "{context}: the cut fired");
                match (&r, i) {
                    (Err(RekeyFailure::NotCommitted(_)), 0..=1) => {}
                    (Err(RekeyFailure::Undetermined(_)), 2..=5) => {}
                    (Ok(rep), 6..=7) => assert!(!rep.old_vault_erased, "{context}"),
                    (Ok(rep), 8..=9) => assert!(rep.old_vault_erased, "{context}"),
                    (other, _) => panic!(
                        "{context}: rekey answered {:?}",
                        other.as_ref().map(|_| ()).map_err(|e| match e {
                            RekeyFailure::NotCommitted(e) => format!("not committed: {e}"),
                            RekeyFailure::Undetermined(e) => format!("undetermined: {e}"),
                        })
                    ),
                }
            }
            drop(svc);
            let report = disk.crash(&mut Rng::new(seed));
            torn += report.torn;
            let winner = judge(&disk, &base, &base.cert, &new, &context);
            if i <= LAST_OLD {
                assert_eq!(winner, Winner::Old, "{context}");
            }
            if i >= FIRST_NEW {
                assert_eq!(winner, Winner::New, "{context}");
            }
            *seen.entry((i, format!("{winner:?}"))).or_insert(0) += 1;
            // A writable open with the winner leaves both vault pages alike,
            // and then the loser opens no vault page at all.
            let (win, lose) = match winner {
                Winner::Old => (&base.cert, &new),
                Winner::New => (&new, &base.cert),
            };
            drop(unseal(&disk, win, true).expect("writable open of the winner"));
            assert!(vault_pages_identical(&disk), "{context}: repaired");
            assert!(
                !vault_opens(&disk, lose),
                "{context}: the loser's vault is gone"
            );
            judge(
                &disk,
                &base,
                &base.cert,
                &new,
                &format!("{context}, after the repair"),
            );
        }
    }
    // Both outcomes occur in the window between the two barriers.
    for i in LAST_OLD + 1..FIRST_NEW {
        for w in ["Old", "New"] {
            assert!(
                seen.contains_key(&(i, w.to_string())),
                "a cut at operation {i} never left the {w} certificate in force: {seen:?}"
            );
        }
    }
    assert!(torn > 0, "some writes were torn");
    eprintln!("outcomes (operation, certificate in force) → cases: {seen:?}; torn writes: {torn}");
}

#[test]
fn a_rekey_cut_short_after_another_was_cut_short() {
    let base = build(20);
    let cases = if extended() { 60 } else { 10 };
    let mut rng = Rng::new(BASE_SEED ^ 0xC0FF_EE00);
    for n in 0..cases {
        let i = rng.below(REKEY_OPS);
        let j = rng.below(REKEY_OPS + 1);
        let context = format!("case {n}: first cut at {i}, second at {j}");
        let (disk, mut svc, prepared, first_new) = start(&base);
        disk.fail_after(i);
        let _ = svc.rekey_offline(prepared, PRINCIPAL);
        drop(svc);
        disk.crash(&mut rng);
        let first = match judge(&disk, &base, &base.cert, &first_new, &context) {
            Winner::Old => base.cert.clone(),
            Winner::New => first_new.clone(),
        };
        let loser = if first == base.cert {
            &first_new
        } else {
            &base.cert
        };
        // Second rekey from the certificate in force, read-only first (no
        // repair): then writable, as `red rekey` opens.
        let db = unseal(&disk, &first, true).expect("writable open");
        let mut svc = Service::new(DbState::Open(Box::new(db)), ServiceConfig::default());
        let prepared = Database::prepare_rekey().expect("prepare");
        let second_new = prepared.certificate_hex().to_string();
        disk.fail_after(j);
        let _ = svc.rekey_offline(prepared, PRINCIPAL);
        drop(svc);
        disk.crash(&mut rng);
        let w = judge(
            &disk,
            &base,
            &first,
            &second_new,
            &format!("{context}, second rekey"),
        );
        if j <= LAST_OLD {
            assert_eq!(w, Winner::Old, "{context}");
        }
        if j >= FIRST_NEW {
            assert_eq!(w, Winner::New, "{context}");
        }
        assert!(
            matches!(unseal(&disk, loser, false), Err(Error::WrongCertificate)),
            "{context}: the certificate that lost the first rekey stays refused"
        );
        assert!(!vault_opens(&disk, loser), "{context}: its vault is gone");
    }
}

#[test]
fn the_old_vault_is_gone_after_a_rekey() {
    let base = build(10);
    let (disk, mut svc, prepared, new) = start(&base);
    assert!(vault_opens(&disk, &base.cert));
    svc.rekey_offline(prepared, PRINCIPAL).expect("rekey");
    drop(svc);
    assert!(vault_pages_identical(&disk));
    assert!(vault_opens(&disk, &new));
    assert!(
        !vault_opens(&disk, &base.cert),
        "no vault page opens under the old certificate: a forged header cannot bring it back"
    );
    // Set the header's certificate id back to the old one, digests fixed
    // (what someone who can write the file does): the old certificate now
    // passes the id check and meets a vault it cannot open.
    let forged = forge_certificate_id(&disk.image(), &cert(&base.cert).fingerprint());
    let forged = SimDisk::from_image(forged);
    match unseal(&forged, &base.cert, false) {
        Err(Error::Tampered(_)) => {}
        Err(e) => panic!("forged header: {e} ({})", e.code()),
        Ok(_) => panic!("the old certificate opened the file behind a forged header"),
    }
    // Before the last vault write (a cut between the header and it), the
    // old vault is still on its page — what a stolen copy of the file would
    // hold anyway — until the next writable open replaces it.
    let (disk, mut svc, prepared, new) = start(&base);
    disk.fail_after(6);
    let r = svc.rekey_offline(prepared, PRINCIPAL);
    assert!(matches!(r, Ok(rep) if !rep.old_vault_erased));
    drop(svc);
    disk.crash(&mut Rng::new(7));
    assert!(matches!(
        unseal(&disk, &base.cert, false),
        Err(Error::WrongCertificate)
    ));
    drop(unseal(&disk, &new, true).expect("writable open"));
    assert!(
        !vault_opens(&disk, &base.cert),
        "replaced at the next writable open"
    );
}

/// `image` with the certificate id of both meta copies replaced by `id`
/// and their unkeyed digests recomputed.
fn forge_certificate_id(image: &[u8], id: &[u8; 16]) -> Vec<u8> {
    let ps = PAGE_SIZE as usize;
    let mut out = image.to_vec();
    for copy in 0..2usize {
        out[copy * ps + 40..copy * ps + 56].copy_from_slice(id);
        fix_meta_digest(&mut out, copy);
    }
    out
}

/// Pages whose bytes differ between two images (a page beyond the shorter
/// image counts as changed).
fn changed_pages(before: &[u8], after: &[u8]) -> Vec<u64> {
    let ps = PAGE_SIZE as usize;
    let pages = before.len().max(after.len()).div_ceil(ps);
    (0..pages)
        .filter(|&p| before.get(p * ps..(p + 1) * ps) != after.get(p * ps..(p + 1) * ps))
        .map(|p| p as u64)
        .collect()
}

#[test]
fn a_rekey_writes_the_same_pages_whatever_the_store_size() {
    let mut rows = Vec::new();
    for size in [100usize, 20_000] {
        let base = build(size);
        // The database layer alone: no data page at all.
        let disk = SimDisk::from_image(base.image.clone());
        let mut db = unseal(&disk, &base.cert, true).expect("writable open");
        let before = disk.durable_image();
        let (w0, s0, _) = disk.counters();
        let started = std::time::Instant::now();
        let prepared = Database::prepare_rekey().expect("prepare");
        let derive = started.elapsed();
        let started = std::time::Instant::now();
        db.commit_rekey(prepared).expect("rekey");
        let commit = started.elapsed();
        let (w1, s1, _) = disk.counters();
        let changed = changed_pages(&before, &disk.durable_image());
        assert_eq!(
            changed,
            vec![0, 1, 2, 3],
            "{size} entries: only meta and vault pages"
        );
        assert_eq!(
            (w1 - w0, s1 - s0),
            (4, 4),
            "{size} entries: 4 page writes, 4 syncs"
        );
        drop(db);
        // The offline command: plus the audit event's one log page.
        let disk = SimDisk::from_image(base.image.clone());
        let db = unseal(&disk, &base.cert, true).expect("writable open");
        let mut svc = Service::new(DbState::Open(Box::new(db)), ServiceConfig::default());
        let before = disk.durable_image();
        let prepared = Database::prepare_rekey().expect("prepare");
        svc.rekey_offline(prepared, PRINCIPAL).expect("rekey");
        let changed = changed_pages(&before, &disk.durable_image());
        assert_eq!(changed.len(), 5, "{size} entries: {changed:?}");
        assert_eq!(&changed[..4], &[0, 1, 2, 3]);
        assert!(changed[4] >= 4, "the audit event's page");
        let file_pages = base.image.len() / PAGE_SIZE as usize;
        rows.push((size, file_pages, derive, commit));
    }
    for (size, pages, derive, commit) in rows {
        eprintln!(
            "keyspace entries {size:>6}: file {pages:>5} pages; pages written by the rekey 4 (+1 audit); \
             key derivation {derive:?}, writes {commit:?} (simulated disk)"
        );
    }
}
