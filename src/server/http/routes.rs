//! The HTTP API of SPEC §5: path and method → one call on the service.
//! This module only translates: it reads JSON bodies, picks the service
//! function, and turns its result into a [`Response`].

use super::request::Request;
use super::response::Response;
use crate::service::users::parse_role;
use crate::service::work::Work;
use crate::service::{Principal, Service, ServiceError, ServiceResult};
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
            return defer(body_object(req).and_then(|b| {
                svc.begin_bootstrap(str_field(&b, "username")?, str_field(&b, "password")?)
            }))
        }
        (_, ["auth", "bootstrap"]) => return method_not_allowed(),
        ("POST", ["auth", "login"]) => {
            return defer(body_object(req).and_then(|b| {
                svc.begin_login(
                    str_field(&b, "username")?,
                    str_field(&b, "password")?,
                    peer,
                    false,
                )
            }))
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
    let principal = match svc.authenticate(req.bearer.as_deref()) {
        Ok(p) => p,
        Err(e) => return Routed::Reply(Response::from_service_error(&e)),
    };
    authenticated(req, svc, &principal, m, &segs)
}

fn is_known(segs: &[&str]) -> bool {
    matches!(
        segs,
        ["auth", "logout"]
            | ["auth", "users"]
            | ["auth", "users", _]
            | ["auth", "users", _, "password"]
            | ["auth", "api-keys"]
            | ["auth", "api-keys", _]
            | ["secrets"]
            | ["secrets", _]
            | ["secrets", _, "rotate" | "purge"]
            | ["config", _]
    )
}

fn authenticated(
    req: &Request,
    svc: &mut Service,
    p: &Principal,
    m: &str,
    segs: &[&str],
) -> Routed {
    match (m, segs) {
        ("POST", ["auth", "logout"]) => reply(svc.logout(p)),
        ("GET", ["auth", "users"]) => reply(svc.list_users(p)),
        ("POST", ["auth", "users"]) => defer(body_object(req).and_then(|b| {
            let role = parse_role(opt_str_field(&b, "role")?.unwrap_or("user"))?;
            svc.begin_create_user(
                p,
                str_field(&b, "username")?,
                str_field(&b, "password")?,
                role,
            )
        })),
        ("DELETE", ["auth", "users", name]) => reply(svc.delete_user(p, name)),
        ("POST", ["auth", "users", name, "password"]) => defer(
            body_object(req)
                .and_then(|b| svc.begin_set_password(p, name, str_field(&b, "password")?)),
        ),
        ("GET", ["auth", "api-keys"]) => reply(svc.list_api_keys(p)),
        ("POST", ["auth", "api-keys"]) => reply(body_object(req).and_then(|b| {
            svc.create_api_key(
                p,
                opt_str_field(&b, "owner")?,
                opt_str_field(&b, "label")?.unwrap_or(""),
            )
        })),
        ("DELETE", ["auth", "api-keys", id]) => reply(svc.delete_api_key(p, id)),
        ("GET", ["secrets"]) => reply(svc.list_secrets(p, req.query_value("prefix").unwrap_or(""))),
        ("GET", ["secrets", key]) => {
            let version = match req.query_value("version") {
                None => None,
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        return reply(Err(ServiceError::bad_request(
                            "version must be a positive integer",
                        )))
                    }
                },
            };
            reply(svc.get_secret(p, key, version))
        }
        ("POST", ["secrets", key]) => reply(
            body_object(req).and_then(|b| svc.put_secret(p, key, str_field(&b, "value")?, false)),
        ),
        ("DELETE", ["secrets", key]) => reply(svc.delete_secret(p, key)),
        ("POST", ["secrets", key, "rotate"]) => reply(
            body_object(req).and_then(|b| svc.put_secret(p, key, str_field(&b, "value")?, true)),
        ),
        ("POST", ["secrets", key, "purge"]) => reply(svc.purge_secret(p, key)),
        ("GET", ["config", key]) => reply(svc.get_config(Some(p), key)),
        ("POST", ["config", key]) => reply(body_object(req).and_then(|b| {
            let v = b
                .get("value")
                .ok_or_else(|| ServiceError::bad_request("\"value\" is required"))?;
            svc.put_config(p, key, v)
        })),
        ("DELETE", ["config", key]) => reply(svc.delete_config(p, key)),
        _ => method_not_allowed(),
    }
}
