//! The HTTP API (`docs/openapi.json`): one request → one call on the service, as the
//! route table ([`super::route_table`]) says. This module walks that table
//! (which paths exist, 404 versus 405, which need credentials, which are
//! served before bootstrap) and holds the handlers its rows name: each only
//! dispatches — [`super::body`] reads the JSON body into the service's
//! typed request, the service acts, and [`super::render`] turns its typed
//! result into the JSON answer. It also records the audit event of each
//! request under the row's action and resource: every auth, secret, config
//! and policy operation whatever its outcome, and every other request that
//! ends in 401 or 403. Events of requests parked on the worker pool are
//! recorded by the service when they finish.
//!
//! Where the service checks the caller before it reads a body (policies,
//! backup, restore), the handler runs those checks first, so a request
//! that is both unauthorized and malformed is refused as unauthorized.

use super::body::{self, Object};
use super::render::{self, RenderJson};
use super::request::Request;
use super::response::Response;
use super::route_table::{self as table, Audit, Call, Handler, Stage};
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
pub(crate) fn finished_response(r: ServiceResult<Finished>) -> Response {
    response(r.map(|f| f.to_json()))
}

fn defer(r: ServiceResult<Work>) -> Routed {
    match r {
        Ok(w) => Routed::Defer(w),
        Err(e) => Routed::Reply(Response::from_service_error(&e)),
    }
}

fn method_not_allowed() -> Response {
    Response::error(
        405,
        "method_not_allowed",
        "this path does not take that method",
    )
}

fn json_body(req: &Request) -> ServiceResult<Object> {
    body::object(&req.body)
}

/// Routes one request.
pub fn route(req: &Request, svc: &mut Service, peer: IpAddr) -> Routed {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    let stage = table::stage(&segs);
    let call = |route| Call {
        req,
        peer,
        route,
        segs: &segs,
    };
    let public = |svc: &mut Service| match table::find(m, &segs).map(|r| (r, r.handler)) {
        Some((r, Handler::Public(f))) => f(svc, &call(r)),
        _ => Routed::Reply(method_not_allowed()),
    };
    if stage == Some(Stage::Open) {
        return public(svc);
    }
    // Not bootstrapped: nothing but the open endpoints (and /metrics,
    // answered by the loop) until POST /auth/bootstrap.
    if !svc.is_bootstrapped() {
        return Routed::Reply(Response::from_service_error(
            &ServiceError::not_bootstrapped(),
        ));
    }
    if stage == Some(Stage::Password) {
        return public(svc);
    }
    let row = table::find(m, &segs);
    if let Some(r) = row {
        if let Handler::AnonymousOrAuthed { anonymous, .. } = r.handler {
            if !req.has_authorization {
                return anonymous(svc, &call(r));
            }
        }
    }
    if stage.is_none() {
        return Routed::Reply(Response::error(404, "not_found", "no such endpoint"));
    }
    let (action, resource) = row.map_or_else(
        || ("request", segs.join("/")),
        |r| (r.action, r.resource_of(&segs)),
    );
    let principal = match svc.authenticate_from(req.bearer.as_deref(), peer) {
        Ok(p) => p,
        Err(e) => {
            let r: ServiceResult<()> = Err(e.clone());
            svc.audit_result(ANONYMOUS, action, &resource, &r, Some(peer));
            return Routed::Reply(Response::from_service_error(&e));
        }
    };
    let handled = match row.map(|r| (r, r.handler)) {
        Some((r, Handler::Authed(f) | Handler::AnonymousOrAuthed { authed: f, .. })) => {
            (f(svc, &call(r), &principal), r.audit)
        }
        _ => return Routed::Reply(method_not_allowed()),
    };
    match handled {
        (Handled::Done(r, snapshot), audit) => {
            let denied = r
                .as_ref()
                .is_err_and(|e| matches!(e.kind, Kind::Forbidden | Kind::Unauthorized));
            if audit == Audit::Always || denied {
                // A backup's or restore's event names the snapshot it made or read.
                let resource = snapshot.map_or(resource, |id| format!("snapshot:{id}"));
                svc.audit_result(&principal.name, action, &resource, &r, Some(peer));
            }
            reply_json(r)
        }
        (Handled::Deferred(w), _) => {
            if w.is_err() {
                svc.audit_result(&principal.name, action, &resource, &w, Some(peer));
            }
            defer(w)
        }
    }
}

/// `GET /metrics` access: with `loopback_ok`
/// (`--metrics-loopback`) a loopback peer needs no credentials; otherwise
/// an admin user (session or API key) or the admin token. `Err` holds the
/// reply to send instead of the metrics; denials are audited under the
/// table's action and resource of `GET /metrics`.
pub(crate) fn metrics_access(
    req: &Request,
    svc: &mut Service,
    peer: IpAddr,
    loopback_ok: bool,
) -> Result<(), Response> {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let Some(row) = table::find(&req.method, &segs) else {
        return Err(method_not_allowed());
    };
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
            svc.audit_result(&who, row.action, &row.resource_of(&segs), &r, Some(peer));
            Err(Response::from_service_error(&e))
        }
    }
}

/// What an authenticated handler produced.
pub enum Handled {
    /// The answer (or refusal), and the id of the snapshot a backup or
    /// restore made or read (its audit event names it).
    Done(ServiceResult<Json>, Option<String>),
    Deferred(ServiceResult<Work>),
}

fn done<T: RenderJson>(r: ServiceResult<T>) -> Handled {
    Handled::Done(r.map(|x| x.to_json()), None)
}

// The handlers the route table names, in its order.

pub(super) fn health(svc: &mut Service, _c: &Call<'_>) -> Routed {
    Routed::Reply(Response::ok(&svc.health().to_json()))
}

pub(super) fn openapi(_svc: &mut Service, _c: &Call<'_>) -> Routed {
    Routed::Reply(Response::ok(&super::openapi::document()))
}

pub(super) fn bootstrap(svc: &mut Service, c: &Call<'_>) -> Routed {
    let r = json_body(c.req).and_then(|b| {
        let username = body::required_str(&b, "username")?;
        svc.begin_bootstrap(username, body::required_str(&b, "password")?, c.peer)
    });
    if r.is_err() {
        svc.audit_result(ANONYMOUS, c.route.action, &c.resource(), &r, Some(c.peer));
    }
    defer(r)
}

pub(super) fn unseal(svc: &mut Service, c: &Call<'_>) -> Routed {
    reply(json_body(c.req).and_then(|b| {
        let u = body::unseal_request(&b)?;
        svc.unseal_with_share(u.share.as_deref().map(String::as_str), u.reset, c.peer)
    }))
}

pub(super) fn login(svc: &mut Service, c: &Call<'_>) -> Routed {
    let mut who = ANONYMOUS.to_string();
    let r = json_body(c.req).and_then(|b| {
        let user = body::required_str(&b, "username")?;
        who = user.to_string();
        svc.begin_login(user, body::required_str(&b, "password")?, c.peer, false)
    });
    if r.is_err() {
        svc.audit_result(&who, c.route.action, &c.resource(), &r, Some(c.peer));
    }
    defer(r)
}

pub(super) fn logout(svc: &mut Service, _c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.logout(p))
}

pub(super) fn list_users(svc: &mut Service, _c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.list_users(p))
}

pub(super) fn create_user(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    Handled::Deferred(json_body(c.req).and_then(|b| {
        let u = body::new_user(&b)?;
        svc.begin_create_user(p, u.username, u.password, u.role, Some(c.peer))
    }))
}

pub(super) fn delete_user(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.delete_user(p, c.param("name")))
}

pub(super) fn set_password(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    Handled::Deferred(json_body(c.req).and_then(|b| {
        let ch = body::password_change(&b)?;
        svc.begin_set_password(p, c.param("name"), ch.password, ch.current, c.peer)
    }))
}

pub(super) fn disable_user(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.set_user_disabled(p, c.param("name"), true))
}

pub(super) fn enable_user(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.set_user_disabled(p, c.param("name"), false))
}

pub(super) fn list_api_keys(svc: &mut Service, _c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.list_api_keys(p))
}

pub(super) fn create_api_key(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(json_body(c.req).and_then(|b| {
        let k = body::new_api_key(&b)?;
        svc.create_api_key(p, k.owner, k.label)
    }))
}

pub(super) fn delete_api_key(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.delete_api_key(p, c.param("id")))
}

pub(super) fn list_secrets(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.list_secrets(p, c.req.query_value("prefix").unwrap_or("")))
}

pub(super) fn read_secret(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    let version = match c.req.query_value("version") {
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
    done(svc.get_secret(p, c.param("key"), version))
}

pub(super) fn write_secret(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(
        json_body(c.req).and_then(|b| {
            svc.put_secret(p, c.param("key"), body::required_str(&b, "value")?, false)
        }),
    )
}

pub(super) fn delete_secret(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.delete_secret(p, c.param("key")))
}

pub(super) fn rotate_secret(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(
        json_body(c.req).and_then(|b| {
            svc.put_secret(p, c.param("key"), body::required_str(&b, "value")?, true)
        }),
    )
}

pub(super) fn purge_secret(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.purge_secret(p, c.param("key")))
}

pub(super) fn read_config_anonymous(svc: &mut Service, c: &Call<'_>) -> Routed {
    reply_json(
        svc.get_config(None, c.param("key"))
            .and_then(|cfg| render::config_read(&cfg)),
    )
}

pub(super) fn read_config(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    Handled::Done(
        svc.get_config(Some(p), c.param("key"))
            .and_then(|cfg| render::config_read(&cfg)),
        None,
    )
}

pub(super) fn write_config(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(json_body(c.req).and_then(|b| svc.put_config(p, c.param("key"), body::config_value(&b)?)))
}

pub(super) fn delete_config(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.delete_config(p, c.param("key")))
}

pub(super) fn list_policies(svc: &mut Service, _c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.list_policies(p))
}

pub(super) fn read_policy(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.get_policy(p, c.param("id")))
}

/// The caller (an admin, an open vault) is checked before the body is
/// read, as the service does.
pub(super) fn put_policy(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    let id = c.param("id");
    done(svc.policy_request_allowed(p, None).and_then(|()| {
        let policy = body::policy_document(id, &c.req.body)?;
        svc.put_policy(p, id, policy)
    }))
}

pub(super) fn delete_policy(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    done(svc.delete_policy(p, c.param("id")))
}

fn attach_or_detach(svc: &mut Service, c: &Call<'_>, p: &Principal, attach: bool) -> Handled {
    let id = c.param("id");
    done(json_body(c.req).and_then(|b| {
        svc.policy_request_allowed(p, Some(id))?;
        svc.attach_policy(p, id, body::attach_target(&b)?, attach)
    }))
}

pub(super) fn attach_policy(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    attach_or_detach(svc, c, p, true)
}

pub(super) fn detach_policy(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    attach_or_detach(svc, c, p, false)
}

pub(super) fn read_audit(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    let q = |name| c.req.query_value(name);
    done(svc.query_audit(
        p,
        &AuditQuery {
            since: q("since"),
            action: q("action"),
            principal: q("principal"),
            outcome: q("outcome"),
            limit: q("limit"),
        },
    ))
}

pub(super) fn backup(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    let r = json_body(c.req).and_then(|b| {
        svc.require_admin(p)?;
        svc.admin_backup(p, body::backup_request(&b)?)
    });
    let snapshot = r.as_ref().ok().map(|b| hex::encode(b.snapshot_id));
    Handled::Done(r.map(|b| b.to_json()), snapshot)
}

pub(super) fn restore(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    let r = json_body(c.req).and_then(|b| {
        svc.require_admin(p)?;
        svc.admin_restore(p, body::restore_request(&b)?)
    });
    let snapshot = r.as_ref().ok().map(|r| hex::encode(r.snapshot_id));
    Handled::Done(r.map(|r| r.to_json()), snapshot)
}

pub(super) fn rekey(svc: &mut Service, c: &Call<'_>, p: &Principal) -> Handled {
    Handled::Deferred(json_body(c.req).and_then(|b| {
        body::no_fields(&b)?;
        svc.begin_rekey(p, c.peer)
    }))
}
