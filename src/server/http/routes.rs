//! The HTTP API of SPEC §5: path and method → one call on the service.
//! This module only translates: it reads JSON bodies, picks the service
//! function, and turns its result into a [`Response`]. It also records the
//! audit event of each request ([`describe`] names it): every auth,
//! secret, config and policy operation whatever its outcome, and every
//! other request that ends in 401 or 403. Events of requests parked on the
//! worker pool are recorded by the service when they finish.

use super::request::Request;
use super::response::Response;
use crate::service::audit::{AuditQuery, ANONYMOUS};
use crate::service::users::parse_role;
use crate::service::work::Work;
use crate::service::{Kind, Principal, Service, ServiceError, ServiceResult};
use serde_json::{Map, Value as Json};
use std::net::IpAddr;

/// What handling a request produced.
pub enum Routed {
    Reply(Response),
    /// Needs a worker; the reply is built by [`finish`] when it returns.
    Defer(Work),
}

fn body_object(req: &Request) -> ServiceResult<Map<String, Json>> {
    if req.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Json>(&req.body) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err(ServiceError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ServiceError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

fn str_field<'a>(m: &'a Map<String, Json>, name: &str) -> ServiceResult<&'a str> {
    match m.get(name) {
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(ServiceError::bad_request(format!(
            "\"{name}\" must be a string"
        ))),
        None => Err(ServiceError::bad_request(format!("\"{name}\" is required"))),
    }
}

fn opt_str_field<'a>(m: &'a Map<String, Json>, name: &str) -> ServiceResult<Option<&'a str>> {
    match m.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => Err(ServiceError::bad_request(format!(
            "\"{name}\" must be a string"
        ))),
    }
}

fn reply(r: ServiceResult<Json>) -> Routed {
    Routed::Reply(match r {
        Ok(j) => Response::ok(&j),
        Err(e) => Response::from_service_error(&e),
    })
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

/// Routes one request.
pub fn route(req: &Request, svc: &mut Service, peer: IpAddr) -> Routed {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    // Endpoints that need no credentials.
    match (m, segs.as_slice()) {
        ("GET", ["health"]) => return Routed::Reply(Response::ok(&svc.health())),
        (_, ["health"]) => return method_not_allowed(),
        ("POST", ["auth", "bootstrap"]) => {
            let r = body_object(req).and_then(|b| {
                svc.begin_bootstrap(str_field(&b, "username")?, str_field(&b, "password")?, peer)
            });
            if r.is_err() {
                svc.audit_result(ANONYMOUS, "auth.bootstrap", "", &r, Some(peer));
            }
            return defer(r);
        }
        (_, ["auth", "bootstrap"]) => return method_not_allowed(),
        ("POST", ["sys", "unseal"]) => {
            let r = body_object(req).and_then(|b| {
                let reset = match b.get("reset") {
                    None | Some(Json::Null) | Some(Json::Bool(false)) => false,
                    Some(Json::Bool(true)) => true,
                    Some(_) => {
                        return Err(ServiceError::bad_request("\"reset\" must be a boolean"))
                    }
                };
                let share =
                    opt_str_field(&b, "share")?.map(|s| zeroize::Zeroizing::new(s.to_string()));
                svc.unseal_with_share(share.as_deref().map(String::as_str), reset, peer)
            });
            return reply(r);
        }
        (_, ["sys", "unseal"]) => return method_not_allowed(),
        // Not bootstrapped: nothing but the two endpoints above (and
        // /metrics, answered by the loop) until POST /auth/bootstrap.
        _ if !svc.is_bootstrapped() => {
            return Routed::Reply(Response::from_service_error(
                &ServiceError::not_bootstrapped(),
            ))
        }
        ("POST", ["auth", "login"]) => {
            let mut who = ANONYMOUS.to_string();
            let r = body_object(req).and_then(|b| {
                let user = str_field(&b, "username")?;
                who = user.to_string();
                svc.begin_login(user, str_field(&b, "password")?, peer, false)
            });
            if r.is_err() {
                svc.audit_result(&who, "auth.login", "http", &r, Some(peer));
            }
            return defer(r);
        }
        (_, ["auth", "login"]) => return method_not_allowed(),
        ("GET", ["config", key]) if !req.has_authorization => {
            return reply(svc.get_config(None, key))
        }
        _ => {}
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
        Handled::Done(r) => {
            let denied = r
                .as_ref()
                .is_err_and(|e| matches!(e.kind, Kind::Forbidden | Kind::Unauthorized));
            if always_audited(action) || denied {
                // A backup's or restore's event names the snapshot it made or read.
                let resource = match &r {
                    Ok(j) if action.starts_with("admin.") => j
                        .get("snapshot_id")
                        .and_then(Json::as_str)
                        .map_or(resource, |id| format!("snapshot:{id}")),
                    _ => resource,
                };
                svc.audit_result(&principal.name, action, &resource, &r, Some(peer));
            }
            reply(r)
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
    if loopback_ok && crate::service::is_loopback(peer) {
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
    let secret = |k: &str| crate::service::policy::resource_of(k);
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
            crate::service::rekey::ACTION,
            crate::service::rekey::RESOURCE.into(),
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
    Done(ServiceResult<Json>),
    Deferred(ServiceResult<Work>),
    NoMethod,
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
    use Handled::{Deferred, Done};
    match (m, segs) {
        ("POST", ["auth", "logout"]) => Done(svc.logout(p)),
        ("GET", ["auth", "users"]) => Done(svc.list_users(p)),
        ("POST", ["auth", "users"]) => Deferred(body_object(req).and_then(|b| {
            let role = parse_role(opt_str_field(&b, "role")?.unwrap_or("user"))?;
            svc.begin_create_user(
                p,
                str_field(&b, "username")?,
                str_field(&b, "password")?,
                role,
                Some(peer),
            )
        })),
        ("DELETE", ["auth", "users", name]) => Done(svc.delete_user(p, name)),
        ("POST", ["auth", "users", name, "password"]) => Deferred(body_object(req).and_then(|b| {
            svc.begin_set_password(
                p,
                name,
                str_field(&b, "password")?,
                opt_str_field(&b, "current_password")?,
                peer,
            )
        })),
        ("POST", ["auth", "users", name, verb @ ("disable" | "enable")]) => {
            Done(svc.set_user_disabled(p, name, *verb == "disable"))
        }
        ("GET", ["auth", "api-keys"]) => Done(svc.list_api_keys(p)),
        ("POST", ["auth", "api-keys"]) => Done(body_object(req).and_then(|b| {
            svc.create_api_key(
                p,
                opt_str_field(&b, "owner")?,
                opt_str_field(&b, "label")?.unwrap_or(""),
            )
        })),
        ("DELETE", ["auth", "api-keys", id]) => Done(svc.delete_api_key(p, id)),
        ("GET", ["secrets"]) => Done(svc.list_secrets(p, req.query_value("prefix").unwrap_or(""))),
        ("GET", ["secrets", key]) => {
            let version = match req.query_value("version") {
                None => None,
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        return Done(Err(ServiceError::bad_request(
                            "version must be a positive integer",
                        )))
                    }
                },
            };
            Done(svc.get_secret(p, key, version))
        }
        ("POST", ["secrets", key]) => Done(
            body_object(req).and_then(|b| svc.put_secret(p, key, str_field(&b, "value")?, false)),
        ),
        ("DELETE", ["secrets", key]) => Done(svc.delete_secret(p, key)),
        ("POST", ["secrets", key, "rotate"]) => Done(
            body_object(req).and_then(|b| svc.put_secret(p, key, str_field(&b, "value")?, true)),
        ),
        ("POST", ["secrets", key, "purge"]) => Done(svc.purge_secret(p, key)),
        ("GET", ["config", key]) => Done(svc.get_config(Some(p), key)),
        ("POST", ["config", key]) => Done(body_object(req).and_then(|b| {
            let v = b
                .get("value")
                .ok_or_else(|| ServiceError::bad_request("\"value\" is required"))?;
            svc.put_config(p, key, v)
        })),
        ("DELETE", ["config", key]) => Done(svc.delete_config(p, key)),
        ("GET", ["policies"]) => Done(svc.list_policies(p)),
        ("GET", ["policies", id]) => Done(svc.get_policy(p, id)),
        ("PUT", ["policies", id]) => Done(svc.put_policy(p, id, &req.body)),
        ("DELETE", ["policies", id]) => Done(svc.delete_policy(p, id)),
        ("POST", ["policies", id, verb @ ("attach" | "detach")]) => {
            Done(body_object(req).and_then(|b| svc.attach_policy(p, id, &b, *verb == "attach")))
        }
        ("GET", ["admin", "audit"]) => Done(svc.query_audit(
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
            Done(body_object(req).and_then(|b| svc.admin_backup(p, &b)))
        }
        ("POST", ["admin", "restore"]) => {
            Done(body_object(req).and_then(|b| svc.admin_restore(p, &b)))
        }
        ("POST", ["admin", "rekey"]) => {
            Deferred(body_object(req).and_then(|b| match b.keys().next() {
                Some(k) => Err(ServiceError::bad_request(format!(
                    "unknown field \"{k}\" (POST /admin/rekey takes no fields)"
                ))),
                None => svc.begin_rekey(p, peer),
            }))
        }
        _ => Handled::NoMethod,
    }
}
