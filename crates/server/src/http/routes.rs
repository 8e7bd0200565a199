//! The HTTP API of SPEC §5: path and method → one call on the service.
//! This module only dispatches: [`super::body`] reads the JSON body into
//! the service's typed request, the service acts, and [`super::render`]
//! turns its typed result into the JSON answer. It also records the audit
//! event of each request ([`describe`] names it): every auth, secret,
//! config and policy operation whatever its outcome, and every other
//! request that ends in 401 or 403. Events of requests parked on the
//! worker pool are recorded by the service when they finish.
//!
//! Where the service checks the caller before it reads a body (policies,
//! backup, restore), the route runs those checks first, so a request that
//! is both unauthorized and malformed is refused as unauthorized.

use super::body::{self, Object};
use super::render::{self, RenderJson};
use super::request::Request;
use super::response::Response;
use reddb_service::audit::{AuditQuery, ANONYMOUS};
use reddb_service::results::Finished;
use reddb_service::work::Work;
use reddb_service::{Kind, Principal, Service, ServiceError, ServiceResult};
use serde_json::Value as Json;
use std::net::IpAddr;

/// What handling a request produced.
pub enum Routed {
    Reply(Response),
    /// Needs a worker; the reply is built by [`finished_response`] when it
    /// returns.
    Defer(Work),
}

fn reply<T: RenderJson>(r: ServiceResult<T>) -> Routed {
    reply_json(r.map(|x| x.to_json()))
}

fn reply_json(r: ServiceResult<Json>) -> Routed {
    Routed::Reply(response(r))
}

fn response(r: ServiceResult<Json>) -> Response {
    match r {
        Ok(j) => Response::ok(&j),
        Err(e) => Response::from_service_error(&e),
    }
}

/// The answer to a request that was parked on the worker pool.
pub fn finished_response(r: ServiceResult<Finished>) -> Response {
    response(r.map(|f| f.to_json()))
}

fn defer(r: ServiceResult<Work>) -> Routed {
    match r {
        Ok(w) => Routed::Defer(w),
        Err(e) => Routed::Reply(Response::from_service_error(&e)),
    }
}

fn method_not_allowed() -> Routed {
    Routed::Reply(Response::error(
        405,
        "method_not_allowed",
        "this path does not take that method",
    ))
}

fn json_body(req: &Request) -> ServiceResult<Object> {
    body::object(&req.body)
}

/// Routes one request.
pub fn route(req: &Request, svc: &mut Service, peer: IpAddr) -> Routed {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    if let Some(r) = without_credentials(req, svc, m, &segs, peer) {
        return r;
    }
    if !is_known(&segs) {
        return Routed::Reply(Response::error(404, "not_found", "no such endpoint"));
    }
    let (action, resource) = describe(m, &segs);
    let principal = match svc.authenticate_from(req.bearer.as_deref(), peer) {
        Ok(p) => p,
        Err(e) => {
            let r: ServiceResult<()> = Err(e.clone());
            svc.audit_result(ANONYMOUS, action, &resource, &r, Some(peer));
            return Routed::Reply(Response::from_service_error(&e));
        }
    };
    match authenticated(req, svc, &principal, m, &segs, peer) {
        Handled::Done(r, snapshot) => {
            let denied = r
                .as_ref()
                .is_err_and(|e| matches!(e.kind, Kind::Forbidden | Kind::Unauthorized));
            if always_audited(action) || denied {
                // A backup's or restore's event names the snapshot it made or read.
                let resource = snapshot.map_or(resource, |id| format!("snapshot:{id}"));
                svc.audit_result(&principal.name, action, &resource, &r, Some(peer));
            }
            reply_json(r)
        }
        Handled::Deferred(w) => {
            if w.is_err() {
                svc.audit_result(&principal.name, action, &resource, &w, Some(peer));
            }
            defer(w)
        }
        Handled::NoMethod => method_not_allowed(),
    }
}

/// The endpoints that need no credentials, and the refusal of everything
/// else before bootstrap; `None` for a request that needs credentials.
fn without_credentials(
    req: &Request,
    svc: &mut Service,
    m: &str,
    segs: &[&str],
    peer: IpAddr,
) -> Option<Routed> {
    Some(match (m, segs) {
        ("GET", ["health"]) => Routed::Reply(Response::ok(&svc.health().to_json())),
        (_, ["health"]) => method_not_allowed(),
        ("POST", ["auth", "bootstrap"]) => {
            let r = json_body(req).and_then(|b| {
                let username = body::required_str(&b, "username")?;
                svc.begin_bootstrap(username, body::required_str(&b, "password")?, peer)
            });
            if r.is_err() {
                svc.audit_result(ANONYMOUS, "auth.bootstrap", "", &r, Some(peer));
            }
            defer(r)
        }
        (_, ["auth", "bootstrap"]) => method_not_allowed(),
        ("POST", ["sys", "unseal"]) => reply(json_body(req).and_then(|b| {
            let u = body::unseal_request(&b)?;
            svc.unseal_with_share(u.share.as_deref().map(String::as_str), u.reset, peer)
        })),
        (_, ["sys", "unseal"]) => method_not_allowed(),
        // Not bootstrapped: nothing but the two endpoints above (and
        // /metrics, answered by the loop) until POST /auth/bootstrap.
        _ if !svc.is_bootstrapped() => Routed::Reply(Response::from_service_error(
            &ServiceError::not_bootstrapped(),
        )),
        ("POST", ["auth", "login"]) => {
            let mut who = ANONYMOUS.to_string();
            let r = json_body(req).and_then(|b| {
                let user = body::required_str(&b, "username")?;
                who = user.to_string();
                svc.begin_login(user, body::required_str(&b, "password")?, peer, false)
            });
            if r.is_err() {
                svc.audit_result(&who, "auth.login", "http", &r, Some(peer));
            }
            defer(r)
        }
        (_, ["auth", "login"]) => method_not_allowed(),
        ("GET", ["config", key]) if !req.has_authorization => reply_json(
            svc.get_config(None, key)
                .and_then(|c| render::config_read(&c)),
        ),
        _ => return None,
    })
}

/// `GET /metrics` access (SPEC §5): with `loopback_ok`
/// (`--metrics-loopback`) a loopback peer needs no credentials; otherwise
/// an admin user (session or API key) or the admin token. `Err` holds the
/// reply to send instead of the metrics; denials are audited.
pub fn metrics_access(
    req: &Request,
    svc: &mut Service,
    peer: IpAddr,
    loopback_ok: bool,
) -> Result<(), Response> {
    if req.method != "GET" {
        return Err(Response::error(
            405,
            "method_not_allowed",
            "this path does not take that method",
        ));
    }
    if loopback_ok && reddb_service::is_loopback(peer) {
        return Ok(());
    }
    let (who, r) = match svc.authenticate_from(req.bearer.as_deref(), peer) {
        Ok(p) => {
            let r = svc.require_admin(&p);
            (p.name, r)
        }
        Err(e) => (ANONYMOUS.to_string(), Err(e)),
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) => {
            let r: ServiceResult<()> = Err(e.clone());
            svc.audit_result(&who, "request", "metrics", &r, Some(peer));
            Err(Response::from_service_error(&e))
        }
    }
}

/// The audit action and resource of an authenticated endpoint.
fn describe(m: &str, segs: &[&str]) -> (&'static str, String) {
    let secret = |k: &str| reddb_service::policy::resource_of(k);
    match (m, segs) {
        ("POST", ["auth", "logout"]) => ("auth.logout", String::new()),
        ("GET", ["auth", "users"]) => ("user.list", String::new()),
        ("POST", ["auth", "users"]) => ("user.create", String::new()),
        ("DELETE", ["auth", "users", n]) => ("user.delete", format!("user:{n}")),
        ("POST", ["auth", "users", n, "password"]) => ("user.password", format!("user:{n}")),
        ("POST", ["auth", "users", n, "disable"]) => ("user.disable", format!("user:{n}")),
        ("POST", ["auth", "users", n, "enable"]) => ("user.enable", format!("user:{n}")),
        ("GET", ["auth", "api-keys"]) => ("apikey.list", String::new()),
        ("POST", ["auth", "api-keys"]) => ("apikey.create", String::new()),
        ("DELETE", ["auth", "api-keys", id]) => ("apikey.delete", format!("apikey:{id}")),
        ("GET", ["secrets"]) => ("secret.list", secret("")),
        ("GET", ["secrets", k]) => ("secret.read", secret(k)),
        ("POST", ["secrets", k]) => ("secret.write", secret(k)),
        ("DELETE", ["secrets", k]) => ("secret.delete", secret(k)),
        ("POST", ["secrets", k, "rotate"]) => ("secret.rotate", secret(k)),
        ("POST", ["secrets", k, "purge"]) => ("secret.purge", secret(k)),
        ("GET", ["config", k]) => ("config.read", format!("config:{k}")),
        ("POST", ["config", k]) => ("config.write", format!("config:{k}")),
        ("DELETE", ["config", k]) => ("config.delete", format!("config:{k}")),
        ("GET", ["policies"]) => ("policy.list", String::new()),
        ("GET", ["policies", id]) => ("policy.read", format!("policy:{id}")),
        ("PUT", ["policies", id]) => ("policy.put", format!("policy:{id}")),
        ("DELETE", ["policies", id]) => ("policy.delete", format!("policy:{id}")),
        ("POST", ["policies", id, "attach"]) => ("policy.attach", format!("policy:{id}")),
        ("POST", ["policies", id, "detach"]) => ("policy.detach", format!("policy:{id}")),
        ("GET", ["admin", "audit"]) => ("audit.read", String::new()),
        ("POST", ["admin", "backup"]) => ("admin.backup", "snapshot".into()),
        ("POST", ["admin", "restore"]) => ("admin.restore", "snapshot".into()),
        ("POST", ["admin", "rekey"]) => (
            reddb_service::rekey::ACTION,
            reddb_service::rekey::RESOURCE.into(),
        ),
        _ => ("request", segs.join("/")),
    }
}

/// Actions recorded whatever their outcome (the rest only when denied).
fn always_audited(action: &str) -> bool {
    !matches!(
        action,
        "user.list" | "apikey.list" | "config.read" | "policy.list" | "policy.read" | "request"
    )
}

/// What an authenticated endpoint produced.
enum Handled {
    /// The answer (or refusal), and the id of the snapshot a backup or
    /// restore made or read (its audit event names it).
    Done(ServiceResult<Json>, Option<String>),
    Deferred(ServiceResult<Work>),
    NoMethod,
}

fn done<T: RenderJson>(r: ServiceResult<T>) -> Handled {
    Handled::Done(r.map(|x| x.to_json()), None)
}

fn is_known(segs: &[&str]) -> bool {
    matches!(
        segs,
        ["auth", "logout"]
            | ["auth", "users"]
            | ["auth", "users", _]
            | ["auth", "users", _, "password" | "disable" | "enable"]
            | ["auth", "api-keys"]
            | ["auth", "api-keys", _]
            | ["secrets"]
            | ["secrets", _]
            | ["secrets", _, "rotate" | "purge"]
            | ["config", _]
            | ["policies"]
            | ["policies", _]
            | ["policies", _, "attach" | "detach"]
            | ["admin", "audit" | "backup" | "restore" | "rekey"]
    )
}

fn authenticated(
    req: &Request,
    svc: &mut Service,
    p: &Principal,
    m: &str,
    segs: &[&str],
    peer: IpAddr,
) -> Handled {
    match segs.first() {
        Some(&"auth") => accounts(req, svc, p, m, segs, peer),
        Some(&"secrets") => secrets(req, svc, p, m, segs),
        Some(&"config") => config(req, svc, p, m, segs),
        Some(&"policies") => policies(req, svc, p, m, segs),
        Some(&"admin") => admin(req, svc, p, m, segs, peer),
        _ => Handled::NoMethod,
    }
}

/// `/auth/...`: logout, users, API keys.
fn accounts(
    req: &Request,
    svc: &mut Service,
    p: &Principal,
    m: &str,
    segs: &[&str],
    peer: IpAddr,
) -> Handled {
    use Handled::Deferred;
    match (m, segs) {
        ("POST", ["auth", "logout"]) => done(svc.logout(p)),
        ("GET", ["auth", "users"]) => done(svc.list_users(p)),
        ("POST", ["auth", "users"]) => Deferred(json_body(req).and_then(|b| {
            let u = body::new_user(&b)?;
            svc.begin_create_user(p, u.username, u.password, u.role, Some(peer))
        })),
        ("DELETE", ["auth", "users", name]) => done(svc.delete_user(p, name)),
        ("POST", ["auth", "users", name, "password"]) => Deferred(json_body(req).and_then(|b| {
            let c = body::password_change(&b)?;
            svc.begin_set_password(p, name, c.password, c.current, peer)
        })),
        ("POST", ["auth", "users", name, verb @ ("disable" | "enable")]) => {
            done(svc.set_user_disabled(p, name, *verb == "disable"))
        }
        ("GET", ["auth", "api-keys"]) => done(svc.list_api_keys(p)),
        ("POST", ["auth", "api-keys"]) => done(json_body(req).and_then(|b| {
            let k = body::new_api_key(&b)?;
            svc.create_api_key(p, k.owner, k.label)
        })),
        ("DELETE", ["auth", "api-keys", id]) => done(svc.delete_api_key(p, id)),
        _ => Handled::NoMethod,
    }
}

/// `/secrets/...`.
fn secrets(req: &Request, svc: &mut Service, p: &Principal, m: &str, segs: &[&str]) -> Handled {
    match (m, segs) {
        ("GET", ["secrets"]) => done(svc.list_secrets(p, req.query_value("prefix").unwrap_or(""))),
        ("GET", ["secrets", key]) => {
            let version = match req.query_value("version") {
                None => None,
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        return Handled::Done(
                            Err(ServiceError::bad_request(
                                "version must be a positive integer",
                            )),
                            None,
                        )
                    }
                },
            };
            done(svc.get_secret(p, key, version))
        }
        ("POST", ["secrets", key]) => done(
            json_body(req)
                .and_then(|b| svc.put_secret(p, key, body::required_str(&b, "value")?, false)),
        ),
        ("DELETE", ["secrets", key]) => done(svc.delete_secret(p, key)),
        ("POST", ["secrets", key, "rotate"]) => done(
            json_body(req)
                .and_then(|b| svc.put_secret(p, key, body::required_str(&b, "value")?, true)),
        ),
        ("POST", ["secrets", key, "purge"]) => done(svc.purge_secret(p, key)),
        _ => Handled::NoMethod,
    }
}

/// `/config/{key}`.
fn config(req: &Request, svc: &mut Service, p: &Principal, m: &str, segs: &[&str]) -> Handled {
    match (m, segs) {
        ("GET", ["config", key]) => Handled::Done(
            svc.get_config(Some(p), key)
                .and_then(|c| render::config_read(&c)),
            None,
        ),
        ("POST", ["config", key]) => {
            done(json_body(req).and_then(|b| svc.put_config(p, key, body::config_value(&b)?)))
        }
        ("DELETE", ["config", key]) => done(svc.delete_config(p, key)),
        _ => Handled::NoMethod,
    }
}

/// `/policies/...`. The caller (an admin, an open vault, the policy
/// existing) is checked before the body is read, as the service does.
fn policies(req: &Request, svc: &mut Service, p: &Principal, m: &str, segs: &[&str]) -> Handled {
    match (m, segs) {
        ("GET", ["policies"]) => done(svc.list_policies(p)),
        ("GET", ["policies", id]) => done(svc.get_policy(p, id)),
        ("PUT", ["policies", id]) => done(svc.policy_request_allowed(p, None).and_then(|()| {
            let policy = body::policy_document(id, &req.body)?;
            svc.put_policy(p, id, policy)
        })),
        ("DELETE", ["policies", id]) => done(svc.delete_policy(p, id)),
        ("POST", ["policies", id, verb @ ("attach" | "detach")]) => {
            done(json_body(req).and_then(|b| {
                svc.policy_request_allowed(p, Some(id))?;
                svc.attach_policy(p, id, body::attach_target(&b)?, *verb == "attach")
            }))
        }
        _ => Handled::NoMethod,
    }
}

/// `/admin/...`: audit, backup, restore, rekey.
fn admin(
    req: &Request,
    svc: &mut Service,
    p: &Principal,
    m: &str,
    segs: &[&str],
    peer: IpAddr,
) -> Handled {
    match (m, segs) {
        ("GET", ["admin", "audit"]) => done(svc.query_audit(
            p,
            &AuditQuery {
                since: req.query_value("since"),
                action: req.query_value("action"),
                principal: req.query_value("principal"),
                outcome: req.query_value("outcome"),
                limit: req.query_value("limit"),
            },
        )),
        ("POST", ["admin", "backup"]) => {
            let r = json_body(req).and_then(|b| {
                svc.require_admin(p)?;
                svc.admin_backup(p, body::backup_request(&b)?)
            });
            let snapshot = r.as_ref().ok().map(|b| hex::encode(b.snapshot_id));
            Handled::Done(r.map(|b| b.to_json()), snapshot)
        }
        ("POST", ["admin", "restore"]) => {
            let r = json_body(req).and_then(|b| {
                svc.require_admin(p)?;
                svc.admin_restore(p, body::restore_request(&b)?)
            });
            let snapshot = r.as_ref().ok().map(|r| hex::encode(r.snapshot_id));
            Handled::Done(r.map(|r| r.to_json()), snapshot)
        }
        ("POST", ["admin", "rekey"]) => Handled::Deferred(json_body(req).and_then(|b| {
            body::no_fields(&b)?;
            svc.begin_rekey(p, peer)
        })),
        _ => Handled::NoMethod,
    }
}
