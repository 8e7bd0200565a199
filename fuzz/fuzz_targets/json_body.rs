//! JSON request bodies of the HTTP API, structure-aware.
//!
//! Part 1, pure: `body::policy_document` (the HTTP layer's reading of a
//! policy document, checked by the service's `policy::validate_document`)
//! on the body bytes (then `compile`, `evaluate`, `glob_match` over probe
//! keys), `secrets::validate_key`, `accounts::validate_username` /
//! `validate_password`, `body::parse_role`.
//! Checked: an accepted document re-rendered (`render::policy_document`)
//! reads back as the same policy; an explicit deny always wins and otherwise evaluation is
//! "any allow, else admin"; a pattern without `*` matches only itself;
//! accepted names obey the documented lengths and alphabets.
//!
//! Part 2, handlers: the same bodies routed with `routes::route` (the very
//! function the HTTP server calls) against an unsealed in-memory database,
//! as the admin token, the bootstrap admin's API key, a plain user's API
//! key, a garbage token or no token. Checked: never panics; every reply is
//! 200..600; a refused `PUT /policies/{id}` by the admin token is exactly a
//! document `policy_document` refuses (400); an accepted one reads back
//! (`GET`) as the same policy; a 4xx/5xx reply never echoes the `password`
//! (`/auth/...`) or `value` (`/secrets/...`) string it was sent (16 bytes
//! or more, and not also part of the path, query or another body string).
//!
//! Bootstrapping costs two Argon2id runs (the vault key's is 16 MiB), far
//! too slow per input, so the database is built once and reused, rebuilt
//! every `REBUILD_EVERY` inputs to bound its growth. It holds guarded key
//! memory for the whole run, which LeakSanitizer cannot scan (see
//! `src/lib.rs`): `run.sh` runs this target with `-detect_leaks=0`.
//! Deferred work (Argon2 password jobs) is cancelled, not run.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use reddb::crypto::password::PasswordCost;
use reddb::database::now_ms;
use reddb::pager::Pager;
use reddb::server::http::body::{parse_role, policy_document};
use reddb::server::http::render;
use reddb::server::http::request::Request;
use reddb::server::http::routes::{route, Routed};
use reddb::service::accounts::{self, Role};
use reddb::service::policy::{self, Action, Effect};
use reddb::service::secrets;
use reddb::service::{DbState, Service, ServiceConfig};
use reddb_fuzz::json_fixtures::{
    ADMIN_TOKEN, KNOWN_FIELDS, KNOWN_NAMES, KNOWN_STRINGS, PLAIN_USER,
};
use reddb_fuzz::MemFile;
use serde_json::{Map, Value as Json};
use std::cell::RefCell;

/// Inputs served by one database before it is rebuilt.
const REBUILD_EVERY: u32 = 20_000;
/// Cheapest Argon2 the library accepts, for the users made at rebuild.
const CHEAP: PasswordCost = PasswordCost {
    m_kib: 8,
    t: 1,
    p: 1,
};

struct Fixture {
    svc: Service,
    /// Bearer tokens: the bootstrap admin's API key, the plain user's.
    admin_key: String,
    user_key: String,
    served: u32,
}

fn build() -> Fixture {
    let pager = Pager::create(Box::new(MemFile::default()), 4096).expect("in-memory pager");
    let (mut db, out) = reddb::service::bootstrap::bootstrap(pager, "admin", b"fuzz-admin-password", CHEAP)
        .expect("bootstrap in memory");
    db.complete_first_boot().expect("first boot");
    let now = now_ms();
    let user = accounts::new_user(PLAIN_USER, Role::User, b"fuzz-user-password", CHEAP, now)
        .expect("plain user");
    let key = accounts::new_api_key(PLAIN_USER, "fuzz", now).expect("api key");
    db.store_mut()
        .apply(vec![
            accounts::put_user(&user).expect("user mutation"),
            accounts::put_api_key(&key.record).expect("api key mutation"),
        ])
        .expect("store the plain user");
    let config = ServiceConfig {
        password_cost: CHEAP,
        ..ServiceConfig::default()
    };
    let mut svc = Service::new(DbState::Open(Box::new(db)), config);
    svc.set_admin_token(Some(ADMIN_TOKEN));
    Fixture {
        svc,
        admin_key: out.api_key.as_str().to_string(),
        user_key: key.token.as_str().to_string(),
        served: 0,
    }
}

thread_local! {
    static FIXTURE: RefCell<Option<Fixture>> = const { RefCell::new(None) };
}

/// A string: one of a list of meaningful ones, or any.
#[derive(Arbitrary, Debug)]
enum Text {
    Known(u8),
    Raw(String),
}

impl Text {
    fn get(&self, list: &[&str]) -> String {
        match self {
            Text::Known(i) => list[usize::from(*i) % list.len()].to_string(),
            Text::Raw(s) => s.clone(),
        }
    }
}

/// A JSON value whose strings and field names lean towards the ones the
/// handlers look for.
#[derive(Arbitrary, Debug)]
enum Gen {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    Arr(Vec<Gen>),
    Obj(Vec<(Text, Gen)>),
}

impl Gen {
    fn to_json(&self, depth: u32) -> Json {
        if depth > 6 {
            return Json::Null;
        }
        match self {
            Gen::Null => Json::Null,
            Gen::Bool(b) => Json::Bool(*b),
            Gen::Int(i) => Json::from(*i),
            Gen::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Gen::Str(t) => Json::String(t.get(KNOWN_STRINGS)),
            Gen::Arr(v) => Json::Array(v.iter().take(16).map(|g| g.to_json(depth + 1)).collect()),
            Gen::Obj(v) => {
                let mut m = Map::new();
                for (k, g) in v.iter().take(16) {
                    m.insert(k.get(KNOWN_FIELDS), g.to_json(depth + 1));
                }
                Json::Object(m)
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Body {
    Empty,
    Json(Gen),
    Raw(Vec<u8>),
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Empty => Vec::new(),
            Body::Json(g) => serde_json::to_vec(&g.to_json(0)).expect("serialise a JSON value"),
            Body::Raw(b) => b.clone(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Who {
    AdminToken,
    AdminKey,
    UserKey,
    Garbage,
    Nobody,
}

const WHO: [Who; 5] = [
    Who::AdminToken,
    Who::AdminKey,
    Who::UserKey,
    Who::Garbage,
    Who::Nobody,
];
const METHODS: [Method; 4] = [Method::Get, Method::Post, Method::Put, Method::Delete];

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
}

#[derive(Arbitrary, Debug)]
enum Endpoint {
    Bootstrap,
    Login,
    Logout,
    Users,
    User(Text),
    UserPassword(Text),
    ApiKeys,
    ApiKey(Text),
    Secrets,
    Secret(Text),
    SecretRotate(Text),
    SecretPurge(Text),
    Config(Text),
    Policies,
    Policy(Text),
    PolicyAttach(Text),
    PolicyDetach(Text),
    Audit,
}

impl Endpoint {
    /// Endpoint number `i` (mod 18), with `name` where it takes one.
    fn nth(i: u8, name: Text) -> Self {
        match i % 18 {
            0 => Endpoint::Bootstrap,
            1 => Endpoint::Login,
            2 => Endpoint::Logout,
            3 => Endpoint::Users,
            4 => Endpoint::User(name),
            5 => Endpoint::UserPassword(name),
            6 => Endpoint::ApiKeys,
            7 => Endpoint::ApiKey(name),
            8 => Endpoint::Secrets,
            9 => Endpoint::Secret(name),
            10 => Endpoint::SecretRotate(name),
            11 => Endpoint::SecretPurge(name),
            12 => Endpoint::Config(name),
            13 => Endpoint::Policies,
            14 => Endpoint::Policy(name),
            15 => Endpoint::PolicyAttach(name),
            16 => Endpoint::PolicyDetach(name),
            _ => Endpoint::Audit,
        }
    }

    fn segments(&self) -> Vec<String> {
        let n = |t: &Text| t.get(KNOWN_NAMES);
        let v: Vec<String> = match self {
            Endpoint::Bootstrap => vec!["auth".into(), "bootstrap".into()],
            Endpoint::Login => vec!["auth".into(), "login".into()],
            Endpoint::Logout => vec!["auth".into(), "logout".into()],
            Endpoint::Users => vec!["auth".into(), "users".into()],
            Endpoint::User(t) => vec!["auth".into(), "users".into(), n(t)],
            Endpoint::UserPassword(t) => {
                vec!["auth".into(), "users".into(), n(t), "password".into()]
            }
            Endpoint::ApiKeys => vec!["auth".into(), "api-keys".into()],
            Endpoint::ApiKey(t) => vec!["auth".into(), "api-keys".into(), n(t)],
            Endpoint::Secrets => vec!["secrets".into()],
            Endpoint::Secret(t) => vec!["secrets".into(), n(t)],
            Endpoint::SecretRotate(t) => vec!["secrets".into(), n(t), "rotate".into()],
            Endpoint::SecretPurge(t) => vec!["secrets".into(), n(t), "purge".into()],
            Endpoint::Config(t) => vec!["config".into(), n(t)],
            Endpoint::Policies => vec!["policies".into()],
            Endpoint::Policy(t) => vec!["policies".into(), n(t)],
            Endpoint::PolicyAttach(t) => vec!["policies".into(), n(t), "attach".into()],
            Endpoint::PolicyDetach(t) => vec!["policies".into(), n(t), "detach".into()],
            Endpoint::Audit => vec!["admin".into(), "audit".into()],
        };
        v
    }
}

#[derive(Arbitrary, Debug)]
struct Call {
    who: Who,
    method: Method,
    endpoint: Endpoint,
    query: Vec<(Text, Text)>,
    body: Body,
}

/// Everything after the raw body and the four steering bytes.
#[derive(Arbitrary, Debug)]
struct Extra {
    probes: Vec<(Text, bool)>,
    key: Text,
    username: Text,
    password: Vec<u8>,
    role: Text,
    calls: Vec<Call>,
}

/// The input: `[n: u16 LE][n bytes: a raw body][who][method][endpoint]
/// [name]` then [`Extra`] through `arbitrary`. The raw body is what the
/// seeds carry (real documents); the steering bytes send it to one
/// endpoint, `name` (an index into `KNOWN_NAMES`) being the path's
/// key/name/id. Missing bytes read as zero.
struct Input {
    doc: Vec<u8>,
    first: Call,
    policy_id: String,
    extra: Extra,
}

fn split(data: &[u8]) -> Input {
    let at = |i: usize| data.get(i).copied().unwrap_or(0);
    let n = usize::from(u16::from_le_bytes([at(0), at(1)]));
    let doc = data.get(2..).unwrap_or(&[]);
    let doc = doc.get(..n).unwrap_or(doc).to_vec();
    let k = 2 + doc.len();
    let who = WHO[usize::from(at(k)) % WHO.len()];
    let method = METHODS[usize::from(at(k + 1)) % METHODS.len()];
    let name = Text::Known(at(k + 3));
    let policy_id = name.get(KNOWN_NAMES);
    let endpoint = Endpoint::nth(at(k + 2), name);
    let rest = data.get(k + 4..).unwrap_or(&[]);
    let extra = Extra::arbitrary_take_rest(arbitrary::Unstructured::new(rest)).unwrap_or(Extra {
        probes: Vec::new(),
        key: Text::Known(0),
        username: Text::Known(0),
        password: Vec::new(),
        role: Text::Known(0),
        calls: Vec::new(),
    });
    Input {
        first: Call {
            who,
            method,
            endpoint,
            query: Vec::new(),
            body: Body::Raw(doc.clone()),
        },
        doc,
        policy_id,
        extra,
    }
}

fn pure_checks(input: &Input, doc: &[u8]) {
    let id = input.policy_id.clone();
    if let Ok(p) = policy_document(&id, doc) {
        assert_eq!(p.id, id, "an accepted document carries the path id");
        let again = serde_json::to_vec(&render::policy_document(&p)).expect("serialise a policy");
        let q = policy_document(&id, &again).expect("a stored policy parses again");
        assert_eq!(p, q, "policy changed on a round trip");
        let compiled = policy::compile(&p);
        assert_eq!(compiled.len(), p.statements.len());
        for (probe, is_admin) in input.extra.probes.iter().take(8) {
            let key = probe.get(KNOWN_NAMES);
            for action in Action::ALL {
                let d = policy::evaluate(&compiled, *is_admin, action, &key);
                let hits: Vec<_> = compiled
                    .iter()
                    .filter(|c| c.matches(action, &key))
                    .collect();
                let deny = hits.iter().any(|c| c.effect == Effect::Deny);
                let allow = hits.iter().any(|c| c.effect == Effect::Allow);
                assert_eq!(d.allowed(), !deny && (allow || *is_admin), "{d:?}");
            }
            for st in &p.statements {
                for r in &st.resources {
                    let pat = r.strip_prefix(policy::RESOURCE_PREFIX).expect("validated");
                    if !pat.contains('*') {
                        assert_eq!(policy::glob_match(pat, &key), pat == key, "{pat} vs {key}");
                    }
                    assert!(policy::glob_match(pat, pat) || pat.contains('*'));
                }
            }
        }
    }
    let key = input.extra.key.get(KNOWN_NAMES);
    for prefix in [secrets::SECRET_PREFIX, secrets::CONFIG_PREFIX] {
        if secrets::validate_key(&key, prefix).is_ok() {
            assert!(key.starts_with(prefix) && key.len() > prefix.len());
            assert!(key.len() <= secrets::MAX_KEY_LEN);
        }
    }
    let name = input.extra.username.get(KNOWN_NAMES);
    if accounts::validate_username(&name).is_ok() {
        assert!((1..=64).contains(&name.len()));
        assert!(!name.contains('/') && !name.contains(':'));
    }
    let ok = accounts::validate_password(&input.extra.password, accounts::MIN_PASSWORD_LEN).is_ok();
    assert_eq!(
        ok,
        (accounts::MIN_PASSWORD_LEN..=accounts::MAX_PASSWORD_LEN)
            .contains(&input.extra.password.len())
    );
    let role = input.extra.role.get(KNOWN_STRINGS);
    assert_eq!(parse_role(&role).is_ok(), role == "admin" || role == "user");
}

/// The secrets a body carries for `segments`: the top-level `password`
/// (account endpoints) or `value` (secret endpoints) string, and every
/// other string of the body (the secret is not checked when one of those
/// contains it: a refusal may rightly quote, say, a username).
fn secret_fields(segments: &[String], body: &[u8]) -> (Vec<String>, Vec<String>) {
    fn strings(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::String(s) => out.push(s.clone()),
            Json::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Json::Object(m) => m.iter().for_each(|(k, x)| {
                out.push(k.clone());
                strings(x, out)
            }),
            _ => {}
        }
    }
    let Ok(Json::Object(m)) = serde_json::from_slice::<Json>(body) else {
        return (Vec::new(), Vec::new());
    };
    let field = match segments.first().map(String::as_str) {
        Some("auth") => "password",
        Some("secrets") => "value",
        _ => return (Vec::new(), Vec::new()),
    };
    let mut others = Vec::new();
    for (k, v) in &m {
        others.push(k.clone());
        if k != field {
            strings(v, &mut others);
        }
    }
    let secret = m.get(field).and_then(Json::as_str).map(str::to_string);
    (secret.into_iter().collect(), others)
}

fn send(
    fx: &mut Fixture,
    who: Who,
    method: &str,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let bearer = match who {
        Who::AdminToken => Some(ADMIN_TOKEN.to_string()),
        Who::AdminKey => Some(fx.admin_key.clone()),
        Who::UserKey => Some(fx.user_key.clone()),
        Who::Garbage => Some("rdb_k_00".to_string()),
        Who::Nobody => None,
    };
    let req = Request {
        method: method.to_string(),
        segments,
        query,
        has_authorization: bearer.is_some(),
        bearer,
        body,
        keep_alive: true,
    };
    match route(&req, &mut fx.svc, "127.0.0.1".parse().expect("ip")) {
        Routed::Reply(r) => {
            assert!((200..600).contains(&r.status), "status {}", r.status);
            (r.status, r.body)
        }
        Routed::Defer(w) => {
            fx.svc.cancel(&w.then);
            (202, Vec::new())
        }
    }
}

fn handler_checks(fx: &mut Fixture, input: &Input, doc: &[u8]) {
    // The document as `PUT /policies/{id}` by the admin token.
    let id = input.policy_id.clone();
    let parsed = policy_document(&id, doc);
    let (status, _) = send(
        fx,
        Who::AdminToken,
        "PUT",
        vec!["policies".into(), id.clone()],
        Vec::new(),
        doc.to_vec(),
    );
    match &parsed {
        Err(_) => assert_eq!(status, 400, "a refused document must be a 400"),
        Ok(p) if status == 200 => {
            let (st, body) = send(
                fx,
                Who::AdminToken,
                "GET",
                vec!["policies".into(), id.clone()],
                Vec::new(),
                Vec::new(),
            );
            assert_eq!(st, 200, "a stored policy reads back");
            let got: Json = serde_json::from_slice(&body).expect("a reply is JSON");
            let mut doc = got.get("policy").cloned().unwrap_or(got);
            if let Some(m) = doc.as_object_mut() {
                m.remove("attached");
            }
            let back = serde_json::to_vec(&doc).expect("serialise");
            let q = policy_document(&id, &back).expect("the read-back document parses");
            assert_eq!(&q, p, "read-back policy differs");
        }
        Ok(_) => {}
    }
    for call in std::iter::once(&input.first).chain(input.extra.calls.iter().take(4)) {
        let method = match call.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        };
        let segments = call.endpoint.segments();
        let query: Vec<(String, String)> = call
            .query
            .iter()
            .take(4)
            .map(|(k, v)| (k.get(KNOWN_FIELDS), v.get(KNOWN_STRINGS)))
            .collect();
        let body = call.body.bytes();
        let (secrets, others) = secret_fields(&segments, &body);
        let context = format!("{segments:?}{query:?}{others:?}");
        let (status, reply) = send(fx, call.who, method, segments, query, body);
        if status >= 400 {
            let reply = String::from_utf8_lossy(&reply);
            for s in secrets {
                if s.len() >= 16 && !context.contains(&s) {
                    assert!(
                        !reply.contains(&s),
                        "a {status} refusal echoes a secret: {reply}"
                    );
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = split(data);
    let doc = input.doc.clone();
    pure_checks(&input, &doc);
    FIXTURE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|f| f.served >= REBUILD_EVERY) {
            *slot = None;
            *slot = Some(build());
        }
        let fx = slot.as_mut().expect("fixture just built");
        fx.served += 1;
        handler_checks(fx, &input, &doc);
    });
});
