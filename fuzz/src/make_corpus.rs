//! Writes the seed corpora under `fuzz/corpus/<target>/` from the library's
//! own encoders, so every seed is a real, valid instance of its format:
//!
//! ```text
//! cd fuzz && cargo run --bin make_corpus -- corpus
//! ```
//!
//! Output is deterministic (fixed keys, nonces, salts and ids), so running
//! it again rewrites the same bytes. Keep the total small (< 200 KB): the
//! fuzzer grows its own working corpus in `fuzz/corpus-work/`.
//!
//! A developer tool, not part of the daemon: every `expect` here is on its
//! own fixed inputs or on writing the output directory, where stopping
//! with the message is the wanted behaviour.

use reddb::pager::meta::{self, FileHeader, MetaState};
use reddb::store::log::{self, LogPageHeader, FLAG_GROUP_START};
use reddb::store::record::{self, FrameKind, Mutation, Namespace, Value};
use reddb::vault::codec::{self, VaultPage};
use reddb_fuzz::{test_key, PAGE_SIZE, TEST_FILE_ID, TEST_LOG_PAGE_NO, TEST_SESSION};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

struct Out {
    root: PathBuf,
    bytes: usize,
    files: usize,
}

impl Out {
    fn write(&mut self, target: &str, name: &str, data: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("create corpus dir");
        fs::write(dir.join(format!("seed-{name}")), data).expect("write seed");
        self.bytes += data.len();
        self.files += 1;
    }
}

fn meta_seeds(out: &mut Out) {
    let key = &test_key();
    let fresh = FileHeader {
        page_size: 4096,
        file_id: TEST_FILE_ID,
        bootstrapped: false,
        cert_id: [0; 16],
    };
    for page_no in [0u64, 1] {
        let prefix = meta::encode_prefix(&fresh, 1 + page_no);
        let page = meta::encode(page_no, &prefix, None, fresh.page_size);
        assert!(meta::decode(page_no, &page).is_ok());
        out.write("meta_page", &format!("fresh-{page_no}"), &page);
    }
    let state = MetaState {
        epoch: 3,
        log_head_page: TEST_LOG_PAGE_NO,
        log_head_seq: 17,
        log_anchor: [0x5a; 16],
        base_commit_seq: 41,
    };
    for (page_no, page_size) in [(0u64, 4096u32), (1, 8192)] {
        let header = FileHeader {
            page_size,
            bootstrapped: true,
            cert_id: [0x22; 16],
            ..fresh
        };
        let prefix = meta::encode_prefix(&header, 9 + page_no);
        let nonce = [page_no as u8 + 1; 12];
        let mut body = state.encode().to_vec();
        let tag = key
            .seal(&nonce, &meta::seal_aad(page_no, &prefix), &mut body)
            .expect("seal meta state");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&body);
        sealed.extend_from_slice(&tag);
        assert_eq!(sealed.len(), meta::SEALED_META_LEN);
        let page = meta::encode(page_no, &prefix, Some(&sealed), page_size);
        assert!(meta::decode(page_no, &page).is_ok());
        out.write(
            "meta_page",
            &format!("bootstrapped-{page_no}-{page_size}"),
            &page,
        );
    }
    out.write("meta_page", "meta-state", &state.encode());
    out.write(
        "meta_page",
        "header-only",
        &meta::encode_prefix(&fresh, 1)[..16],
    );
}

fn vault_seeds(out: &mut Out) {
    let key = &test_key();
    // Same layout as the real payload: version | master 32 | data key 32 |
    // aes key present | aes key 32 | created_at_ms.
    let mut payload = vec![1u8];
    payload.extend_from_slice(&[0x31; 32]);
    payload.extend_from_slice(&[0x32; 32]);
    payload.push(1);
    payload.extend_from_slice(&[0x33; 32]);
    payload.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
    let nonce = [0x44; 12];
    let mut ct = payload.clone();
    let tag = key
        .seal(&nonce, codec::AAD, &mut ct)
        .expect("seal vault payload");
    let page = VaultPage {
        salt: [0x55; 16],
        nonce,
        ciphertext: &ct,
        tag,
    };
    let bytes = codec::encode(&page, PAGE_SIZE).expect("vault page fits");
    out.write("vault_page", "sealed-4096", &bytes);
    // The same page cut right after its tag (decode does not need the padding).
    let used = codec::OVERHEAD + ct.len();
    out.write("vault_page", "sealed-trimmed", &bytes[..used]);
    // Not sealed under the test key: decodes, opening fails.
    let junk = VaultPage {
        salt: [1; 16],
        nonce: [2; 12],
        ciphertext: &[3u8; 106],
        tag: [4; 16],
    };
    let bytes = codec::encode(&junk, 512).expect("vault page fits");
    out.write("vault_page", "unsealed-512", &bytes);
    out.write("vault_page", "empty", &[0u8; 64]);
}

fn mutations() -> Vec<Mutation> {
    vec![
        Mutation::Put {
            ns: Namespace::Keyspace,
            key: b"greeting".to_vec(),
            value: Value::Bytes(b"hello".to_vec()),
            expires_at_ms: 0,
        },
        Mutation::Put {
            ns: Namespace::Vault,
            key: b"user:alice".to_vec(),
            value: Value::Hash(BTreeMap::from([
                (b"role".to_vec(), b"admin".to_vec()),
                (b"pw".to_vec(), vec![0xaa; 12]),
            ])),
            expires_at_ms: 1_700_000_000_000,
        },
        Mutation::Put {
            ns: Namespace::Config,
            key: b"red.config.tags".to_vec(),
            value: Value::Set(BTreeSet::from([b"a".to_vec(), b"bc".to_vec(), Vec::new()])),
            expires_at_ms: 0,
        },
        Mutation::Delete {
            ns: Namespace::Secrets,
            key: b"red.secret.db".to_vec(),
        },
        Mutation::Clear {
            ns: Namespace::Audit,
        },
    ]
}

fn record_seeds(out: &mut Out) -> Vec<u8> {
    let muts = mutations();
    let mut commit = Vec::new();
    record::encode_frame(&mut commit, FrameKind::Commit, 7, &muts);
    out.write("log_record", "commit", &commit);
    let mut snapshot = Vec::new();
    record::encode_frame(&mut snapshot, FrameKind::Snapshot, 6, &muts[..3]);
    out.write("log_record", "snapshot", &snapshot);
    let mut empty = Vec::new();
    record::encode_frame(&mut empty, FrameKind::Commit, 1, &[]);
    out.write("log_record", "empty-commit", &empty);
    let mut stream = snapshot.clone();
    stream.extend_from_slice(&commit);
    out.write("log_record", "two-frames", &stream);
    out.write("log_record", "body", &commit[record::FRAME_HEADER_LEN..]);
    let names = ["put-bytes", "put-hash", "put-set", "delete", "clear"];
    for (m, name) in muts.iter().zip(names) {
        let mut one = Vec::new();
        record::encode_frame(&mut one, FrameKind::Commit, 2, std::slice::from_ref(m));
        assert_eq!(
            one.len(),
            record::FRAME_HEADER_LEN + 4 + record::encoded_len(m)
        );
        out.write("log_record", name, &one);
    }
    stream
}

fn log_page_seeds(out: &mut Out, stream: &[u8]) {
    let key = &test_key();
    let cap = log::stream_capacity(PAGE_SIZE);
    let full: Vec<u8> = stream.iter().copied().cycle().take(cap).collect();
    let cases: [(&str, u64, u8, &[u8]); 4] = [
        ("group-start", 0, FLAG_GROUP_START, stream),
        ("continuation", 1, 0, &stream[..stream.len() / 2]),
        ("empty", 2, 0, &[]),
        ("full", 3, FLAG_GROUP_START, &full),
    ];
    let mut prev_tag = [0x5a; 16];
    for (name, seq, flags, data) in cases {
        let header = LogPageHeader {
            seq,
            prev_tag,
            next_page: TEST_LOG_PAGE_NO + seq + 1,
            flags,
        };
        let (page, tag) = log::seal(
            key,
            &TEST_SESSION,
            &TEST_FILE_ID,
            TEST_LOG_PAGE_NO,
            log::nonce(3, seq),
            &header,
            data,
            PAGE_SIZE,
        )
        .expect("seal log page");
        assert!(log::open(key, &TEST_FILE_ID, TEST_LOG_PAGE_NO, &page).is_ok());
        out.write("log_page", name, &page);
        prev_tag = tag;
    }
}

fn certificate_seeds(out: &mut Out) {
    let ok = "0123456789abcdef".repeat(4);
    out.write("certificate", "valid", ok.as_bytes());
    out.write("certificate", "valid-newline", format!("{ok}\n").as_bytes());
    out.write(
        "certificate",
        "valid-upper-padded",
        format!("  {}\r\n", ok.to_uppercase()).as_bytes(),
    );
    out.write("certificate", "short", &ok.as_bytes()[..63]);
    out.write("certificate", "long", format!("{ok}0").as_bytes());
    out.write(
        "certificate",
        "not-hex",
        format!("{}zz", &ok[..62]).as_bytes(),
    );
    out.write("certificate", "blank", b" \t\n");
}

/// A `json_body` input: `[len u16 LE][body][who][method][endpoint][name]`
/// (see the target for the numbering).
fn json_input(body: &[u8], who: u8, method: u8, endpoint: u8, name: u8) -> Vec<u8> {
    let len = u16::try_from(body.len()).expect("seed body under 64 KiB");
    let mut v = len.to_le_bytes().to_vec();
    v.extend_from_slice(body);
    v.extend_from_slice(&[who, method, endpoint, name]);
    v
}

/// A policy document's JSON text with its fields in the order the stored
/// form writes them (`id`, `statements`; `sid`, `effect`, `actions`,
/// `resources`), as the committed seeds have them.
fn policy_text(p: &reddb::service::policy::Policy) -> Vec<u8> {
    let text = |v: serde_json::Result<String>| v.expect("encode JSON");
    let statements: Vec<String> = p
        .statements
        .iter()
        .map(|s| {
            let sid = s.sid.as_ref().map_or(String::new(), |sid| {
                format!("\"sid\":{},", text(serde_json::to_string(sid)))
            });
            format!(
                "{{{sid}\"effect\":\"{}\",\"actions\":{},\"resources\":{}}}",
                s.effect.as_str(),
                text(serde_json::to_string(&s.actions)),
                text(serde_json::to_string(&s.resources)),
            )
        })
        .collect();
    format!(
        "{{\"id\":{},\"statements\":[{}]}}",
        text(serde_json::to_string(&p.id)),
        statements.join(",")
    )
    .into_bytes()
}

fn json_body_seeds(out: &mut Out) {
    use reddb::service::policy::{Effect, Policy, Statement};
    use serde_json::json;
    // who: 0 admin token, 1 admin API key, 2 user API key, 3 garbage, 4 none.
    // method: 0 GET, 1 POST, 2 PUT, 3 DELETE. name: KNOWN_NAMES index.
    let (admin, user_key, nobody) = (0u8, 2u8, 4u8);
    let (get, post, put) = (0u8, 1u8, 2u8);
    let statement = |effect, actions: &[&str], resources: &[&str], sid: Option<&str>| Statement {
        sid: sid.map(str::to_string),
        effect,
        actions: actions.iter().map(|a| a.to_string()).collect(),
        resources: resources.iter().map(|r| r.to_string()).collect(),
    };
    let readers = Policy {
        id: "readers".into(),
        statements: vec![statement(
            Effect::Allow,
            &["vault:read", "vault:read_metadata"],
            &[
                "vault:red.vault/red.secret.*",
                "vault:red.vault/red.secret.db.pass*",
            ],
            Some("read-all"),
        )],
    };
    let deny_ai = Policy {
        id: "deny-ai".into(),
        statements: vec![
            statement(
                Effect::Deny,
                &["vault:*"],
                &["vault:red.vault/red.secret.ai.*"],
                None,
            ),
            statement(
                Effect::Allow,
                &["vault:write"],
                &["vault:red.vault/red.secret.*.token"],
                Some("w"),
            ),
        ],
    };
    let enc = |v: &serde_json::Value| serde_json::to_vec(v).expect("encode JSON");
    // Policy documents: PUT /policies/{id} (endpoint 14).
    out.write(
        "json_body",
        "policy-readers",
        &json_input(&policy_text(&readers), admin, put, 14, 0),
    );
    out.write(
        "json_body",
        "policy-deny-ai",
        &json_input(&policy_text(&deny_ai), admin, put, 14, 8),
    );
    // Account bodies: bootstrap 0, login 1, users 3, user password 5, api keys 6.
    let creds =
        enc(&json!({"username": "bob", "password": "a-long-enough-password", "role": "user"}));
    out.write(
        "json_body",
        "user-create",
        &json_input(&creds, admin, post, 3, 0),
    );
    out.write(
        "json_body",
        "login",
        &json_input(&creds, nobody, post, 1, 0),
    );
    out.write(
        "json_body",
        "bootstrap",
        &json_input(&creds, nobody, post, 0, 0),
    );
    let pw = enc(&json!({"password": "another-long-password"}));
    out.write(
        "json_body",
        "user-password",
        &json_input(&pw, admin, post, 5, 4),
    );
    let key = enc(&json!({"owner": "alice", "label": "ci"}));
    out.write("json_body", "api-key", &json_input(&key, admin, post, 6, 0));
    // Secrets (9 write, 10 rotate) and config (12).
    let value = enc(&json!({"value": "s3cr3t-value-that-must-not-leak"}));
    out.write(
        "json_body",
        "secret-write",
        &json_input(&value, admin, post, 9, 1),
    );
    out.write(
        "json_body",
        "secret-rotate",
        &json_input(&value, admin, post, 10, 1),
    );
    out.write(
        "json_body",
        "secret-read-user",
        &json_input(b"", user_key, get, 9, 1),
    );
    let config =
        enc(&json!({"value": {"mode": "strict", "retries": 3, "on": true, "tags": ["a", null]}}));
    out.write(
        "json_body",
        "config-write",
        &json_input(&config, admin, post, 12, 2),
    );
    // Attachments (15 attach, 16 detach).
    out.write(
        "json_body",
        "attach-user",
        &json_input(&enc(&json!({"user": "alice"})), admin, post, 15, 0),
    );
    out.write(
        "json_body",
        "attach-group",
        &json_input(&enc(&json!({"group": "everyone"})), admin, post, 15, 8),
    );
    out.write(
        "json_body",
        "detach-user",
        &json_input(&enc(&json!({"user": "alice"})), admin, post, 16, 0),
    );
}

fn credentials_seeds(out: &mut Out) {
    let cert = reddb::crypto::keys::Certificate::parse_hex(&"0123456789abcdef".repeat(4))
        .expect("seed certificate");
    let hex = cert.to_hex_for_operator();
    let hex = hex.as_str();
    let seeds: [(&str, String); 10] = [
        ("inline", format!("REDDB_CERTIFICATE={hex}\nREDDB_PATH=/var/lib/reddb/data.rdb\nRED_HTTP_BIND_ADDR=127.0.0.1:5000\nRED_WIRE_BIND_ADDR=[::1]:5050\n")),
        ("file-trailing-newlines", format!("REDDB_CERTIFICATE_FILE=@file\nfile:{hex}  \nfile:\nREDDB_PATH=x.rdb\n")),
        ("conflict", "RED_ADMIN_TOKEN=token-inline-value\nRED_ADMIN_TOKEN_FILE=@file\nfile:token-from-file\n".to_string()),
        ("ignored-conflict", "RED_S3_SECRET_KEY=abcdefghijkl\nRED_S3_SECRET_KEY_FILE=/run/secrets/s3\n".to_string()),
        ("missing-file", "REDDB_PASSWORD_FILE=/run/secrets/nothing-here\nREDDB_USERNAME=admin\n".to_string()),
        ("directory-file", "RED_ADMIN_TOKEN_FILE=@dir\n".to_string()),
        ("systemd", format!("CREDENTIALS_DIRECTORY=@creds\ncred:0:{hex}\ncred:3:token-from-systemd \t\ncred:2:password-from-systemd\n")),
        ("preset-regulated", "REDDB_BOOTSTRAP_PRESET=regulated\narg:--path\narg:/var/lib/reddb/data.rdb\narg:--workers=4\narg:--fsync\narg:everysec\n".to_string()),
        ("preset-cloud-no-auth", "REDDB_PRESET=cloud\nREDDB_NO_AUTH=true\nRED_MAX_CONNECTIONS=1000\narg:--path=x.rdb\narg:--metrics-loopback\n".to_string()),
        ("dev-production", "REDDB_BOOTSTRAP_PRESET=production\narg:--dev\narg:--max-connections\narg:0\n".to_string()),
    ];
    for (name, text) in &seeds {
        out.write("credentials", name, text.as_bytes());
    }
    // A file that is not UTF-8.
    out.write(
        "credentials",
        "file-not-utf8",
        b"REDDB_CERTIFICATE_FILE=@file\nfile:\xff\xfe0123\n",
    );
}

/// A `share` input: the mode byte (bit 0: recompute checksums), then lines.
fn share_input(mode: u8, lines: &[&str]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(lines.join("\n").as_bytes());
    v.push(b'\n');
    v
}

fn share_seeds(out: &mut Out) {
    use reddb::crypto::keys::Certificate;
    use reddb::crypto::shares::split_with_coefficients;
    let cert = Certificate::parse_hex(&"0123456789abcdef".repeat(4)).expect("seed certificate");
    let other = Certificate::parse_hex(&"fedcba9876543210".repeat(4)).expect("seed certificate");
    // Fixed coefficients (a seed corpus must be reproducible): never do
    // this with a real certificate.
    let coefficients: Vec<u8> = (0u8..128).map(|i| i.wrapping_mul(29) ^ 0xa7).collect();
    let split = |cert: &Certificate, n: u8, k: u8, set: u8, rows: &[u8]| {
        split_with_coefficients(cert, n, k, [set; 8], &rows[..(usize::from(k) - 1) * 32])
            .expect("seed split")
            .iter()
            .map(|t| t.as_str().to_string())
            .collect::<Vec<String>>()
    };
    let two_of_three = split(&cert, 3, 2, 0x21, &coefficients);
    let three_of_five = split(&cert, 5, 3, 0x35, &coefficients);
    let other_set = split(&other, 3, 2, 0x99, &coefficients);
    let same_id_other_values = split(&cert, 3, 2, 0x21, &coefficients[32..]);
    let s = |v: &[String], i: usize| v[i].clone();
    let labelled = |t: String| format!("share: {t}");
    out.write("share", "one", &share_input(0, &[&s(&two_of_three, 0)]));
    out.write(
        "share",
        "two-of-three",
        &share_input(
            0,
            &[
                &labelled(s(&two_of_three, 2)),
                "",
                &labelled(s(&two_of_three, 0)),
            ],
        ),
    );
    out.write(
        "share",
        "three-of-five-short",
        &share_input(0, &[&s(&three_of_five, 4), &s(&three_of_five, 1)]),
    );
    let all_five: Vec<String> = (0..5).map(|i| s(&three_of_five, i)).collect();
    let all_five: Vec<&str> = all_five.iter().map(String::as_str).collect();
    out.write("share", "three-of-five-all", &share_input(0, &all_five));
    out.write(
        "share",
        "other-set",
        &share_input(0, &[&s(&two_of_three, 0), &s(&other_set, 1)]),
    );
    out.write(
        "share",
        "same-index-other-value",
        &share_input(0, &[&s(&two_of_three, 1), &s(&same_id_other_values, 1)]),
    );
    out.write(
        "share",
        "repeated-then-whitespace",
        &share_input(
            0,
            &[
                &s(&two_of_three, 1),
                &s(&two_of_three, 1),
                &format!("  share:\t{}  \r", s(&two_of_three, 2)),
            ],
        ),
    );
    out.write(
        "share",
        "uppercase",
        &share_input(0, &[&s(&two_of_three, 0).to_uppercase()]),
    );
    // Mode 1 (checksums recomputed by the target): a changed value, which
    // then combines into another certificate, and a threshold of 1.
    let mut changed = s(&two_of_three, 1).into_bytes();
    changed[40] = if changed[40] == b'0' { b'1' } else { b'0' };
    let changed = String::from_utf8(changed).expect("ASCII");
    out.write(
        "share",
        "repair-changed-value",
        &share_input(1, &[&s(&two_of_three, 0), &changed]),
    );
    let k1 = s(&two_of_three, 0).replacen("-k02-", "-k01-", 1);
    out.write("share", "repair-threshold-one", &share_input(1, &[&k1]));
}

fn resp_seeds(out: &mut Out) {
    use reddb::server::wire::resp::{encode_command, Reply};
    // Commands as a client sends them (arrays of bulk strings).
    out.write(
        "resp",
        "enc-auth",
        &encode_command(&["AUTH", "alice", "a-long-enough-password"]),
    );
    out.write(
        "resp",
        "enc-set-ex",
        &encode_command(&["SET", "red.secret.db.password", "v4lue", "EX", "60"]),
    );
    let mut pipeline = encode_command(&["MULTI"]);
    pipeline.extend(encode_command(&["HSET", "h", "f", "v"]));
    pipeline.extend(encode_command(&["EXEC"]));
    out.write("resp", "enc-pipeline-multi", &pipeline);
    out.write(
        "resp",
        "enc-binary",
        &encode_command(&[&b"GET"[..], &b"\x00\r\n\xff"[..]]),
    );
    // Replies, for `parse_value`, in both protocol versions.
    let reply = Reply::Array(vec![
        Reply::Ok,
        Reply::Int(-7),
        Reply::Bulk(b"bulk".to_vec()),
        Reply::Nil,
        Reply::NilArray,
        Reply::err("ERR syntax error"),
        Reply::Map(vec![(Reply::simple("k"), Reply::Bool(true))]),
        Reply::Set(vec![Reply::bulk("s")]),
    ]);
    for (name, resp3) in [("enc-reply-resp2", false), ("enc-reply-resp3", true)] {
        let mut v = Vec::new();
        reply.encode(resp3, &mut v);
        out.write("resp", name, &v);
    }
}

/// `lua_resp`: replies as a script's `redis.call` gets them (mode byte 0)
/// and value-building programs (mode byte 1).
fn lua_resp_seeds(out: &mut Out) {
    use reddb::server::wire::resp::Reply;
    let reply = Reply::Array(vec![
        Reply::Int(42),
        Reply::Bulk(b"v".to_vec()),
        Reply::Nil,
        Reply::err("ERR value is not an integer or out of range"),
        Reply::simple("OK"),
        Reply::Array(vec![Reply::Int(-1), Reply::Bulk(Vec::new())]),
        Reply::Map(vec![(Reply::bulk("f"), Reply::Double("1.5".into()))]),
        Reply::Set(vec![Reply::bulk("m")]),
        Reply::Bool(true),
    ]);
    for (name, resp3) in [("reply-resp2", false), ("reply-resp3", true)] {
        let mut v = vec![0];
        reply.encode(resp3, &mut v);
        out.write("lua_resp", name, &v);
    }
    out.write("lua_resp", "reply-int", b"\x00:9007199254740993\r\n");
    out.write("lua_resp", "reply-verbatim", b"\x00=8\r\ntxt:abcd\r\n");
    // Programs: a table with `err`, one holding itself, NaN, a map.
    out.write("lua_resp", "program-err", &[1, 4, 0, 2, b'x', 5, 1, 0, 2]);
    out.write("lua_resp", "program-self", &[1, 6, 0, 1, 0, 1, 1, 7, 200]);
    out.write(
        "lua_resp",
        "program-map",
        &[1, 4, 0, 4, 0, 5, 2, 6, 1, 5, 1, 1, 3, 0, 7],
    );
}

/// Keyspace command sequences, one per family, for `wire_commands`.
fn wire_command_seeds(out: &mut Out) {
    use reddb::server::wire::resp::encode_command;
    let families: &[(&str, &[&[&str]])] = &[
        (
            "strings",
            &[
                &["SET", "k", "10", "EX", "100"],
                &["INCRBY", "k", "5"],
                &["APPEND", "k", "x"],
                &["SETRANGE", "k", "3", "yz"],
                &["GETEX", "k", "PERSIST"],
                &["MSET", "a", "1", "b", "2"],
                &["COPY", "a", "c", "DB", "2"],
                &["SETBIT", "bits", "7", "1"],
                &["INCRBYFLOAT", "f", "1.5"],
            ],
        ),
        (
            "sets-and-hashes",
            &[
                &["SADD", "s", "a", "b", "c"],
                &["SREM", "s", "b"],
                &["SMOVE", "s", "t", "a"],
                &["SPOP", "s"],
                &["HSET", "h", "f", "1", "g", "2"],
                &["HINCRBY", "h", "f", "41"],
                &["HDEL", "h", "g"],
                &["EXPIRE", "h", "100"],
                &["SINTERSTORE", "d", "s", "t"],
            ],
        ),
        (
            "lists",
            &[
                &["RPUSH", "l", "a", "b", "c", "d"],
                &["LPUSH", "l", "z"],
                &["LPOP", "l", "2"],
                &["LSET", "l", "0", "x"],
                &["LTRIM", "l", "0", "1"],
                &["LINSERT", "l", "BEFORE", "x", "w"],
                &["LMOVE", "l", "l", "LEFT", "RIGHT"],
                &["LREM", "l", "0", "w"],
            ],
        ),
        (
            "sorted-sets",
            &[
                &["ZADD", "z", "1", "a", "2.5", "b", "-inf", "c"],
                &["ZINCRBY", "z", "3", "a"],
                &["ZADD", "z", "GT", "CH", "0", "b"],
                &["ZREM", "z", "c"],
                &["ZPOPMIN", "z"],
                &["ZREMRANGEBYSCORE", "z", "(1", "+inf"],
                &["ZUNIONSTORE", "u", "2", "z", "z", "WEIGHTS", "1", "2"],
            ],
        ),
    ];
    for (name, commands) in families {
        let mut single = Vec::new();
        for c in *commands {
            single.extend(encode_command(c));
        }
        out.write("wire_commands", &format!("seed-{name}"), &single);
        let mut multi = encode_command(&["MULTI"]);
        multi.extend(single);
        multi.extend(encode_command(&["EXEC"]));
        out.write("wire_commands", &format!("seed-{name}-multi"), &multi);
    }
    let databases: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["SADD", "s", "m"],
        &["MOVE", "s", "3"],
        &["MULTI"],
        &["SWAPDB", "0", "3"],
        &["SADD", "s", "n"],
        &["FLUSHDB"],
        &["EXEC"],
        &["SWAPDB", "3", "5"],
        &["FLUSHALL"],
    ];
    let mut seq = Vec::new();
    for c in databases {
        seq.extend(encode_command(c));
    }
    out.write("wire_commands", "seed-databases", &seq);
}

/// JSON texts for `cjson.decode`: every token kind, the number forms
/// strtod takes beyond JSON's, escapes and surrogate pairs, nesting, and a
/// few refusals.
fn lua_cjson_decode_seeds(out: &mut Out) {
    let seeds: [(&str, &[u8]); 10] = [
        ("array", br#"[1,2,3,{"a":null}]"#),
        (
            "object",
            br#"{"k":"v","n":-1.5e3,"t":true,"f":false,"z":null,"e":{},"a":[]}"#,
        ),
        ("escapes", br#""\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\""#),
        ("numbers", b"[0x1F, -Infinity, nan(123), 1e400, +5, 007, 0.5e-3]"),
        ("nested", b"[[[[[[[[[[1]]]]]]]]]]"),
        ("mixed", br#"{"a":[{"b":{"c":[true,null,"x"]}}]}"#),
        ("unclosed", b"[1,2"),
        ("no-colon", br#"{"a" 1}"#),
        ("nul-inside", b"[1]\0[2]"),
        ("bad-escape", br#""\ud800\u0041""#),
    ];
    for (name, text) in seeds {
        out.write("lua_cjson_decode", name, text);
    }
}

/// `rdb`: real redis-server 7.0 dumps (tests/fixtures/rdb) and files in
/// every encoding from `reddb_rdb::write`, each after the mode byte 0
/// (raw); and a few structure-aware inputs (mode byte 1).
fn rdb_seeds(out: &mut Out) {
    use reddb_rdb::write::{Encoding, RdbWriter};
    use reddb_rdb::RdbValue;
    let raw = |file: &[u8]| [&[0u8][..], file].concat();
    out.write(
        "rdb",
        "redis-7.0-all-encodings",
        &raw(include_bytes!("../../tests/fixtures/rdb/all-encodings.rdb")),
    );
    out.write(
        "rdb",
        "redis-7.0-stream",
        &raw(include_bytes!("../../tests/fixtures/rdb/stream.rdb")),
    );
    let b = |s: &str| s.as_bytes().to_vec();
    let list: Vec<Vec<u8>> = vec![b("a"), b("1"), b("-300"), b("70000"), b(""), vec![b'x'; 80]];
    let zset = vec![(b("m"), 1.5), (b("n"), -2.0), (b("i"), f64::INFINITY)];
    let hash = vec![(b("f"), b("v")), (b("n"), b("42"))];
    let cases: Vec<(&str, RdbValue, Encoding)> = vec![
        ("string-int", RdbValue::String(b("12345")), Encoding::IntegerString),
        ("string-lzf", RdbValue::String(b("token:").repeat(40)), Encoding::Compressed),
        ("list-plain", RdbValue::List(list.clone()), Encoding::Plain),
        ("list-ziplist", RdbValue::List(list.clone()), Encoding::Ziplist),
        ("list-quicklist", RdbValue::List(list.clone()), Encoding::Quicklist),
        ("list-quicklist2", RdbValue::List(list.clone()), Encoding::Quicklist2(2)),
        ("set-plain", RdbValue::Set(list.clone()), Encoding::Plain),
        ("set-listpack", RdbValue::Set(list), Encoding::Listpack),
        ("set-intset", RdbValue::Set(vec![b("-5"), b("7"), b("70000")]), Encoding::Intset(4)),
        ("zset-binary", RdbValue::SortedSet(zset.clone()), Encoding::Plain),
        ("zset-text", RdbValue::SortedSet(zset.clone()), Encoding::TextScores),
        ("zset-ziplist", RdbValue::SortedSet(zset.clone()), Encoding::Ziplist),
        ("zset-listpack", RdbValue::SortedSet(zset), Encoding::Listpack),
        ("hash-plain", RdbValue::Hash(hash.clone()), Encoding::Plain),
        ("hash-zipmap", RdbValue::Hash(hash.clone()), Encoding::Zipmap),
        ("hash-ziplist", RdbValue::Hash(hash.clone()), Encoding::Ziplist),
        ("hash-listpack", RdbValue::Hash(hash), Encoding::Listpack),
    ];
    for (name, value, encoding) in cases {
        let mut w = RdbWriter::new(11);
        w.aux("redis-ver", "7.2.4").select_db(2).resize_db(1, 1);
        w.expire_ms(4_102_444_800_000).item(b"key", &value, encoding);
        out.write("rdb", name, &raw(&w.finish(true)));
    }
    let mut w = RdbWriter::new(12);
    w.raw(&[0xf5]).string(b"#!lua name=lib");
    w.raw(&[0xf4, 1, 2, 3]).raw(&[0xf9, 1]).raw(&[0xf8, 5]);
    w.item(b"k", &RdbValue::String(b("v")), Encoding::Plain);
    out.write("rdb", "opcodes-v12-no-checksum", &raw(&w.finish(false)));
    out.write("rdb", "structured-empty", &[1]);
    out.write("rdb", "structured-some", &[1, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
}

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let mut out = Out {
        root,
        bytes: 0,
        files: 0,
    };
    meta_seeds(&mut out);
    vault_seeds(&mut out);
    let stream = record_seeds(&mut out);
    log_page_seeds(&mut out, &stream);
    certificate_seeds(&mut out);
    resp_seeds(&mut out);
    json_body_seeds(&mut out);
    credentials_seeds(&mut out);
    share_seeds(&mut out);
    wire_command_seeds(&mut out);
    lua_cjson_decode_seeds(&mut out);
    lua_resp_seeds(&mut out);
    rdb_seeds(&mut out);
    println!(
        "wrote {} seeds, {} bytes, under {}",
        out.files,
        out.bytes,
        out.root.display()
    );
    assert!(out.bytes < 200 * 1024, "seed corpus grew past 200 KB");
}
