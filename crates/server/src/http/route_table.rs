//! The one table of the HTTP API. Each [`Route`] row names a
//! method and a path pattern (`{name}` placeholders, as `docs/openapi.json` writes them),
//! who may call it, its audit action and resource, its metrics family, its
//! handler, and the shapes its OpenAPI operation documents.
//!
//! Owns the facts that were once written in several places: routing (which
//! paths exist, 404 versus 405, which routes need credentials, which are
//! served before bootstrap), the audit action and resource of a request,
//! the bounded set of `route` labels of `GET /metrics`, and the operations
//! of `GET /openapi.json` ([`super::openapi`]). The router
//! ([`super::routes`]) only walks it; it must never hold a second list.

use super::request::Request;
use super::routes::{self as h, Handled, Routed};
use reddb_service::{Principal, Service};
use std::net::IpAddr;

/// Who may call a route, and so when the router runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credentials; served whether or not the database is bootstrapped.
    /// Another method on the path is 405 before anything else is looked at.
    Open,
    /// No credentials, only while the database is not bootstrapped and only
    /// from loopback peers (the service checks both); served like [`Auth::Open`].
    BootstrapOnly,
    /// No credentials, only while the vault is sealed; served like [`Auth::Open`].
    SealedOnly,
    /// Username and password in the body; needs a bootstrapped database.
    /// Another method on the path is 405 without credentials.
    Password,
    /// A bearer (session, API key or admin token) when the request has an
    /// `Authorization` header; otherwise anonymous (what is public).
    OptionalBearer,
    /// A session token, an API key or the admin token; the service decides
    /// what the principal may do (policies, ownership).
    Bearer,
    /// A bearer that the service requires to be an admin (or the admin token).
    Admin,
    /// Answered by the event loop: an admin bearer, or any loopback peer
    /// under `--metrics-loopback`.
    AdminOrLoopback,
}

/// When the router answers a path, relative to credentials and bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before bootstrap is checked: [`Auth::Open`], [`Auth::BootstrapOnly`], [`Auth::SealedOnly`].
    Open,
    /// After bootstrap, without credentials: [`Auth::Password`].
    Password,
    /// With credentials (or the anonymous form of [`Auth::OptionalBearer`]).
    Authenticated,
    /// By the event loop before the router is called.
    EventLoop,
}

impl Auth {
    pub fn stage(self) -> Stage {
        match self {
            Auth::Open | Auth::BootstrapOnly | Auth::SealedOnly => Stage::Open,
            Auth::Password => Stage::Password,
            Auth::OptionalBearer | Auth::Bearer | Auth::Admin => Stage::Authenticated,
            Auth::AdminOrLoopback => Stage::EventLoop,
        }
    }
}

/// Which outcomes of a route the router records in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// None by the router (the service records what it must).
    Never,
    /// Refusals before the work is handed to the pool (the service records
    /// the outcome of the work when it finishes).
    Failure,
    /// Every outcome.
    Always,
    /// Refusals with 401 or 403 only.
    Denied,
}

/// What answers a route.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Runs without credentials ([`Stage::Open`] and [`Stage::Password`]);
    /// records its own refusals with the row's action and resource.
    Public(fn(&mut Service, &Call<'_>) -> Routed),
    /// Runs for an authenticated principal.
    Authed(fn(&mut Service, &Call<'_>, &Principal) -> Handled),
    /// [`Auth::OptionalBearer`]: `anonymous` without an `Authorization`
    /// header, else `authed`.
    AnonymousOrAuthed {
        anonymous: fn(&mut Service, &Call<'_>) -> Routed,
        authed: fn(&mut Service, &Call<'_>, &Principal) -> Handled,
    },
    /// Answered by the event loop itself (`GET /metrics`).
    EventLoop,
}

/// What a `200` answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// JSON of the named schema of [`super::openapi`].
    Json(&'static str),
    /// The Prometheus text exposition format.
    Prometheus,
}

/// One operation of the API.
pub struct Route {
    pub method: &'static str,
    /// `/`-separated segments; `{name}` matches any one segment.
    pub path: &'static str,
    pub auth: Auth,
    /// The audit action (`request` where the router records nothing).
    pub action: &'static str,
    /// The audit resource, with the path's `{name}` values filled in.
    pub resource: &'static str,
    pub audit: Audit,
    /// The `route` label of the request metrics.
    pub family: &'static str,
    pub handler: Handler,
    pub summary: &'static str,
    /// Query parameters: name and description (all strings).
    pub query: &'static [(&'static str, &'static str)],
    /// The named request body schema of [`super::openapi`], if it takes one.
    pub request: Option<&'static str>,
    pub response: Body,
    /// The statuses besides 200 the route itself can answer (those every
    /// request can meet are added by [`super::openapi`]).
    pub errors: &'static [u16],
    /// For a route that creates something: the placeholder that names it
    /// and the JSON pointer of that name in the answer. The OpenAPI
    /// document links it to the routes under the same path that take that
    /// placeholder (read, change, delete what was made).
    pub creates: Option<(&'static str, &'static str)>,
}

/// The family label of a path whose first segment no route has.
pub(crate) const OTHER_FAMILY: &str = "other";

/// Every route of the API.
pub(crate) static ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/health",
        auth: Auth::Open,
        action: "request",
        resource: "health",
        audit: Audit::Never,
        family: "health",
        handler: Handler::Public(h::health),
        summary: "Liveness and state: sealed, bootstrapped, unseal progress; nothing else",
        query: &[],
        request: None,
        response: Body::Json("Health"),
        errors: &[],
        creates: None,
    },
    Route {
        method: "GET",
        path: "/openapi.json",
        auth: Auth::Open,
        action: "request",
        resource: "openapi",
        audit: Audit::Never,
        family: "openapi",
        handler: Handler::Public(h::openapi),
        summary: "This document: the API contract, generated from the route table",
        query: &[],
        request: None,
        response: Body::Json("OpenApi"),
        errors: &[],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/auth/bootstrap",
        auth: Auth::BootstrapOnly,
        action: "auth.bootstrap",
        resource: "",
        audit: Audit::Failure,
        family: "auth",
        handler: Handler::Public(h::bootstrap),
        summary: "Create the vault and the first admin (loopback peers, fresh database only)",
        query: &[],
        request: Some("Credentials"),
        response: Body::Json("Bootstrapped"),
        errors: &[403, 409],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/sys/unseal",
        auth: Auth::SealedOnly,
        action: "request",
        resource: "unseal",
        audit: Audit::Never,
        // Counted as `other`, as it always was.
        family: OTHER_FAMILY,
        handler: Handler::Public(h::unseal),
        summary: "Give one certificate share (or reset); unseals at the threshold",
        query: &[],
        request: Some("UnsealRequest"),
        response: Body::Json("UnsealProgress"),
        errors: &[409, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/auth/login",
        auth: Auth::Password,
        action: "auth.login",
        resource: "http",
        audit: Audit::Failure,
        family: "auth",
        handler: Handler::Public(h::login),
        summary: "Exchange a username and password for a session token",
        query: &[],
        request: Some("Credentials"),
        response: Body::Json("LoginOk"),
        errors: &[401, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/auth/logout",
        auth: Auth::Bearer,
        action: "auth.logout",
        resource: "",
        audit: Audit::Always,
        family: "auth",
        handler: Handler::Authed(h::logout),
        summary: "Revoke the calling session",
        query: &[],
        request: None,
        response: Body::Json("Ok"),
        errors: &[401, 429],
        creates: None,
    },
    Route {
        method: "GET",
        path: "/auth/users",
        auth: Auth::Admin,
        action: "user.list",
        resource: "",
        audit: Audit::Denied,
        family: "auth",
        handler: Handler::Authed(h::list_users),
        summary: "List users",
        query: &[],
        request: None,
        response: Body::Json("UserList"),
        errors: &[401, 403, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/auth/users",
        auth: Auth::Admin,
        action: "user.create",
        resource: "",
        audit: Audit::Always,
        family: "auth",
        handler: Handler::Authed(h::create_user),
        summary: "Create a user",
        query: &[],
        request: Some("NewUser"),
        response: Body::Json("UserCreated"),
        errors: &[401, 403, 409, 429],
        creates: Some(("name", "/user/username")),
    },
    Route {
        method: "DELETE",
        path: "/auth/users/{name}",
        auth: Auth::Admin,
        action: "user.delete",
        resource: "user:{name}",
        audit: Audit::Always,
        family: "auth",
        handler: Handler::Authed(h::delete_user),
        summary: "Delete a user and revoke its sessions",
        query: &[],
        request: None,
        response: Body::Json("UserDeleted"),
        errors: &[401, 403, 404, 409, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/auth/users/{name}/password",
        auth: Auth::Bearer,
        action: "user.password",
        resource: "user:{name}",
        audit: Audit::Always,
        family: "auth",
        handler: Handler::Authed(h::set_password),
        summary: "Change a password (an admin, or the user itself with current_password)",
        query: &[],
        request: Some("PasswordChange"),
        response: Body::Json("PasswordChanged"),
        errors: &[401, 403, 404, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/auth/users/{name}/disable",
        auth: Auth::Admin,
        action: "user.disable",
        resource: "user:{name}",
        audit: Audit::Always,
        family: "auth",
        handler: Handler::Authed(h::disable_user),
        summary: "Disable a user and revoke its sessions",
        query: &[],
        request: None,
        response: Body::Json("UserStatusChanged"),
        errors: &[401, 403, 404, 409, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/auth/users/{name}/enable",
        auth: Auth::Admin,
        action: "user.enable",
        resource: "user:{name}",
        audit: Audit::Always,
        family: "auth",
        handler: Handler::Authed(h::enable_user),
        summary: "Enable a disabled user",
        query: &[],
        request: None,
        response: Body::Json("UserStatusChanged"),
        errors: &[401, 403, 404, 409, 429],
        creates: None,
    },
    Route {
        method: "GET",
        path: "/auth/api-keys",
        auth: Auth::Bearer,
        action: "apikey.list",
        resource: "",
        audit: Audit::Denied,
        family: "auth",
        handler: Handler::Authed(h::list_api_keys),
        summary: "List API keys (all for an admin, its own for a user)",
        query: &[],
        request: None,
        response: Body::Json("ApiKeyList"),
        errors: &[401, 403, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/auth/api-keys",
        auth: Auth::Bearer,
        action: "apikey.create",
        resource: "",
        audit: Audit::Always,
        family: "auth",
        handler: Handler::Authed(h::create_api_key),
        summary: "Mint an API key; the key is shown once",
        query: &[],
        request: Some("NewApiKey"),
        response: Body::Json("ApiKeyMinted"),
        errors: &[401, 403, 404, 409, 429],
        creates: Some(("id", "/key/id")),
    },
    Route {
        method: "DELETE",
        path: "/auth/api-keys/{id}",
        auth: Auth::Bearer,
        action: "apikey.delete",
        resource: "apikey:{id}",
        audit: Audit::Always,
        family: "auth",
        handler: Handler::Authed(h::delete_api_key),
        summary: "Revoke an API key (an admin, or its owner)",
        query: &[],
        request: None,
        response: Body::Json("Deleted"),
        errors: &[401, 403, 404, 429],
        creates: None,
    },
    Route {
        method: "GET",
        path: "/secrets",
        auth: Auth::Bearer,
        action: "secret.list",
        resource: "vault:red.vault/",
        audit: Audit::Always,
        family: "secrets",
        handler: Handler::Authed(h::list_secrets),
        summary: "Secret metadata (never values), filtered by key prefix",
        query: &[("prefix", "Only keys that start with this text")],
        request: None,
        response: Body::Json("SecretList"),
        errors: &[401, 403, 429],
        creates: None,
    },
    Route {
        method: "GET",
        path: "/secrets/{key}",
        auth: Auth::Bearer,
        action: "secret.read",
        resource: "vault:red.vault/{key}",
        audit: Audit::Always,
        family: "secrets",
        handler: Handler::Authed(h::read_secret),
        summary: "Read a secret's latest (or, with vault:unseal_history, an older) version",
        query: &[("version", "A version number (a positive integer)")],
        request: None,
        response: Body::Json("SecretRead"),
        errors: &[401, 403, 404, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/secrets/{key}",
        auth: Auth::Bearer,
        action: "secret.write",
        resource: "vault:red.vault/{key}",
        audit: Audit::Always,
        family: "secrets",
        handler: Handler::Authed(h::write_secret),
        summary: "Write a secret (a new version when it exists)",
        query: &[],
        request: Some("SecretValue"),
        response: Body::Json("SecretWritten"),
        errors: &[401, 403, 409, 429],
        creates: Some(("key", "/key")),
    },
    Route {
        method: "DELETE",
        path: "/secrets/{key}",
        auth: Auth::Bearer,
        action: "secret.delete",
        resource: "vault:red.vault/{key}",
        audit: Audit::Always,
        family: "secrets",
        handler: Handler::Authed(h::delete_secret),
        summary: "Delete a secret (its versions are kept until purged)",
        query: &[],
        request: None,
        response: Body::Json("SecretDeleted"),
        errors: &[401, 403, 404, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/secrets/{key}/rotate",
        auth: Auth::Bearer,
        action: "secret.rotate",
        resource: "vault:red.vault/{key}",
        audit: Audit::Always,
        family: "secrets",
        handler: Handler::Authed(h::rotate_secret),
        summary: "Write a new version of an existing secret",
        query: &[],
        request: Some("SecretValue"),
        response: Body::Json("SecretWritten"),
        errors: &[401, 403, 404, 409, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/secrets/{key}/purge",
        auth: Auth::Bearer,
        action: "secret.purge",
        resource: "vault:red.vault/{key}",
        audit: Audit::Always,
        family: "secrets",
        handler: Handler::Authed(h::purge_secret),
        summary: "Hard-purge a deleted secret",
        query: &[],
        request: None,
        response: Body::Json("SecretPurged"),
        errors: &[401, 403, 404, 409, 429],
        creates: None,
    },
    Route {
        method: "GET",
        path: "/config/{key}",
        auth: Auth::OptionalBearer,
        action: "config.read",
        resource: "config:{key}",
        audit: Audit::Denied,
        family: "config",
        handler: Handler::AnonymousOrAuthed {
            anonymous: h::read_config_anonymous,
            authed: h::read_config,
        },
        summary: "Read a config value (public ones need no credentials)",
        query: &[],
        request: None,
        response: Body::Json("ConfigRead"),
        errors: &[401, 403, 404, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/config/{key}",
        auth: Auth::Bearer,
        action: "config.write",
        resource: "config:{key}",
        audit: Audit::Always,
        family: "config",
        handler: Handler::Authed(h::write_config),
        summary: "Write a config value (any JSON)",
        query: &[],
        request: Some("ConfigValue"),
        response: Body::Json("ConfigWritten"),
        errors: &[401, 403, 429],
        creates: Some(("key", "/key")),
    },
    Route {
        method: "DELETE",
        path: "/config/{key}",
        auth: Auth::Bearer,
        action: "config.delete",
        resource: "config:{key}",
        audit: Audit::Always,
        family: "config",
        handler: Handler::Authed(h::delete_config),
        summary: "Delete a config value",
        query: &[],
        request: None,
        response: Body::Json("ConfigDeleted"),
        errors: &[401, 403, 404, 429],
        creates: None,
    },
    Route {
        method: "GET",
        path: "/policies",
        auth: Auth::Admin,
        action: "policy.list",
        resource: "",
        audit: Audit::Denied,
        family: "policies",
        handler: Handler::Authed(h::list_policies),
        summary: "List policy documents and their attachments",
        query: &[],
        request: None,
        response: Body::Json("PolicyList"),
        errors: &[401, 403, 429],
        creates: None,
    },
    Route {
        method: "GET",
        path: "/policies/{id}",
        auth: Auth::Admin,
        action: "policy.read",
        resource: "policy:{id}",
        audit: Audit::Denied,
        family: "policies",
        handler: Handler::Authed(h::read_policy),
        summary: "Read a policy document and its attachments",
        query: &[],
        request: None,
        response: Body::Json("PolicyRead"),
        errors: &[401, 403, 404, 429],
        creates: None,
    },
    Route {
        method: "PUT",
        path: "/policies/{id}",
        auth: Auth::Admin,
        action: "policy.put",
        resource: "policy:{id}",
        audit: Audit::Always,
        family: "policies",
        handler: Handler::Authed(h::put_policy),
        summary: "Create or replace a policy document",
        query: &[],
        request: Some("PolicyDocument"),
        response: Body::Json("PolicyStored"),
        errors: &[401, 403, 409, 429],
        creates: Some(("id", "/policy/id")),
    },
    Route {
        method: "DELETE",
        path: "/policies/{id}",
        auth: Auth::Admin,
        action: "policy.delete",
        resource: "policy:{id}",
        audit: Audit::Always,
        family: "policies",
        handler: Handler::Authed(h::delete_policy),
        summary: "Delete a policy document and its attachments",
        query: &[],
        request: None,
        response: Body::Json("Deleted"),
        errors: &[401, 403, 404, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/policies/{id}/attach",
        auth: Auth::Admin,
        action: "policy.attach",
        resource: "policy:{id}",
        audit: Audit::Always,
        family: "policies",
        handler: Handler::Authed(h::attach_policy),
        summary: "Attach a policy to a user or a group (everyone)",
        query: &[],
        request: Some("AttachTarget"),
        response: Body::Json("PolicyRead"),
        errors: &[401, 403, 404, 409, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/policies/{id}/detach",
        auth: Auth::Admin,
        action: "policy.detach",
        resource: "policy:{id}",
        audit: Audit::Always,
        family: "policies",
        handler: Handler::Authed(h::detach_policy),
        summary: "Detach a policy from a user or a group",
        query: &[],
        request: Some("AttachTarget"),
        response: Body::Json("PolicyRead"),
        errors: &[401, 403, 404, 409, 429],
        creates: None,
    },
    Route {
        method: "GET",
        path: "/admin/audit",
        auth: Auth::Admin,
        action: "audit.read",
        resource: "",
        audit: Audit::Always,
        family: "admin",
        handler: Handler::Authed(h::read_audit),
        summary: "Audit events (who, what, resource, outcome, time), never values",
        query: &[
            (
                "since",
                "Only events newer than this age (e.g. 24h, 30m) or time",
            ),
            ("action", "Only events of this action"),
            ("principal", "Only events of this principal"),
            ("outcome", "Only events with this outcome"),
            ("limit", "At most this many events"),
        ],
        request: None,
        response: Body::Json("AuditEvents"),
        errors: &[401, 403, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/admin/backup",
        auth: Auth::Admin,
        action: "admin.backup",
        resource: "snapshot",
        audit: Audit::Always,
        family: "admin",
        handler: Handler::Authed(h::backup),
        summary: "Write an encrypted snapshot to the backup directory",
        query: &[],
        request: Some("BackupRequest"),
        response: Body::Json("BackupMade"),
        errors: &[401, 403, 409, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/admin/restore",
        auth: Auth::Admin,
        action: "admin.restore",
        resource: "snapshot",
        audit: Audit::Always,
        family: "admin",
        handler: Handler::Authed(h::restore),
        summary: "Restore a snapshot of the backup directory",
        query: &[],
        request: Some("RestoreRequest"),
        response: Body::Json("Restored"),
        errors: &[401, 403, 404, 409, 429],
        creates: None,
    },
    Route {
        method: "POST",
        path: "/admin/rekey",
        auth: Auth::Admin,
        action: reddb_service::rekey::ACTION,
        resource: reddb_service::rekey::RESOURCE,
        audit: Audit::Always,
        family: "admin",
        handler: Handler::Authed(h::rekey),
        summary: "Rotate the certificate in place; the new one is answered once",
        query: &[],
        request: Some("NoFields"),
        response: Body::Json("Rekeyed"),
        errors: &[401, 403, 409, 429],
        creates: None,
    },
    Route {
        method: "GET",
        path: "/metrics",
        auth: Auth::AdminOrLoopback,
        action: "request",
        resource: "metrics",
        audit: Audit::Denied,
        family: "metrics",
        handler: Handler::EventLoop,
        summary: "Prometheus metrics (an admin, or loopback peers under --metrics-loopback)",
        query: &[],
        request: None,
        response: Body::Prometheus,
        errors: &[401, 403, 429],
        creates: None,
    },
];

/// The segments of a pattern.
fn pattern(path: &'static str) -> impl Iterator<Item = &'static str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The name of a `{name}` segment.
pub(crate) fn placeholder(seg: &str) -> Option<&str> {
    seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
}

impl Route {
    /// Whether the path's segments match this route's pattern.
    pub fn matches(&self, segs: &[&str]) -> bool {
        pattern(self.path).count() == segs.len()
            && pattern(self.path)
                .zip(segs)
                .all(|(p, s)| placeholder(p).is_some() || p == *s)
    }

    /// The value of the `{name}` segment (empty when the pattern has none).
    pub(crate) fn param<'a>(&self, segs: &[&'a str], name: &str) -> &'a str {
        pattern(self.path)
            .zip(segs)
            .find(|(p, _)| placeholder(p) == Some(name))
            .map_or("", |(_, s)| *s)
    }

    /// The placeholder names of the pattern, in order.
    pub fn params(&self) -> impl Iterator<Item = &'static str> {
        pattern(self.path).filter_map(placeholder)
    }

    /// The audit resource with the path's values filled in.
    pub fn resource_of(&self, segs: &[&str]) -> String {
        let mut out = String::new();
        let mut rest = self.resource;
        while let Some(open) = rest.find('{') {
            let (before, from) = rest.split_at(open);
            out.push_str(before);
            match from.find('}') {
                Some(close) => {
                    let name = from.get(1..close).unwrap_or("");
                    out.push_str(self.param(segs, name));
                    rest = from.get(close + 1..).unwrap_or("");
                }
                None => {
                    rest = from;
                    break;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The route of `method` on the path, if the table has it.
pub fn find(method: &str, segs: &[&str]) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method == method && r.matches(segs))
}

/// When the path is answered (`None`: no route has it, 404).
pub fn stage(segs: &[&str]) -> Option<Stage> {
    ROUTES
        .iter()
        .find(|r| r.matches(segs))
        .map(|r| r.auth.stage())
}

/// The `route` label of a request: the family of the routes whose first
/// segment is the path's, else [`OTHER_FAMILY`]. A bounded set.
pub fn family(segments: &[String]) -> &'static str {
    let Some(first) = segments.first() else {
        return OTHER_FAMILY;
    };
    ROUTES
        .iter()
        .find(|r| pattern(r.path).next() == Some(first.as_str()))
        .map_or(OTHER_FAMILY, |r| r.family)
}

/// Whether the event loop answers the path itself (`/metrics`).
pub(crate) fn answered_by_loop(segments: &[String]) -> bool {
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    stage(&segs) == Some(Stage::EventLoop)
}

/// One request on its route, as a handler sees it.
pub struct Call<'a> {
    pub req: &'a Request,
    pub peer: IpAddr,
    pub route: &'static Route,
    pub segs: &'a [&'a str],
}

impl<'a> Call<'a> {
    /// The value of the path's `{name}` segment.
    pub(crate) fn param(&self, name: &str) -> &'a str {
        self.route.param(self.segs, name)
    }

    /// The audit resource of this request.
    pub fn resource(&self) -> String {
        self.route.resource_of(self.segs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn rows_are_unique_and_paths_consistent() {
        let mut seen = BTreeMap::new();
        for r in ROUTES {
            assert!(r.path.starts_with('/'), "{}", r.path);
            assert!(
                seen.insert((r.method, r.path), ()).is_none(),
                "twice: {} {}",
                r.method,
                r.path
            );
            // Every row of a path is answered at the same stage, and every
            // row of a first segment has the same family.
            for o in ROUTES {
                if o.path == r.path {
                    assert_eq!(o.auth.stage(), r.auth.stage(), "{}", r.path);
                }
                if pattern(o.path).next() == pattern(r.path).next() {
                    assert_eq!(o.family, r.family, "{} {}", o.path, r.path);
                }
            }
            // A path that matches a row's pattern literally finds that row.
            let segs: Vec<&str> = pattern(r.path).collect();
            assert!(std::ptr::eq(find(r.method, &segs).unwrap(), r));
            for name in r.params() {
                assert!(!name.is_empty());
            }
            let mut rest = r.resource;
            while let Some(i) = rest.find('{') {
                let tail = &rest[i..];
                let close = tail.find('}').expect("closed placeholder");
                let name = &tail[1..close];
                assert!(r.params().any(|p| p == name), "{} {}", r.path, name);
                rest = &tail[close + 1..];
            }
        }
    }

    #[test]
    fn matching_params_and_resources() {
        let segs = ["secrets", "red.secret.a", "rotate"];
        let r = find("POST", &segs).unwrap();
        assert_eq!(r.action, "secret.rotate");
        assert_eq!(r.param(&segs, "key"), "red.secret.a");
        assert_eq!(
            r.resource_of(&segs),
            reddb_service::policy::resource_of("red.secret.a")
        );
        let list = find("GET", &["secrets"]).unwrap();
        assert_eq!(
            list.resource_of(&["secrets"]),
            reddb_service::policy::resource_of("")
        );
        let u = ["auth", "users", "bob", "disable"];
        assert_eq!(find("POST", &u).unwrap().resource_of(&u), "user:bob");
        assert!(find("GET", &u).is_none());
        assert_eq!(stage(&u), Some(Stage::Authenticated));
        assert_eq!(stage(&["secrets", "a", "b", "c"]), None);
        assert_eq!(stage(&[]), None);
        assert_eq!(stage(&["health"]), Some(Stage::Open));
        assert_eq!(stage(&["auth", "login"]), Some(Stage::Password));
    }

    #[test]
    fn families_are_a_bounded_set() {
        let f = |p: &[&str]| family(&p.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(f(&["secrets", "red.secret.x"]), "secrets");
        assert_eq!(f(&["secrets", "a", "b", "c"]), "secrets");
        assert_eq!(f(&["whatever", "x"]), "other");
        assert_eq!(f(&["sys", "unseal"]), "other");
        assert_eq!(f(&["metrics"]), "metrics");
        assert_eq!(f(&["health"]), "health");
        assert_eq!(f(&[]), "other");
        assert!(answered_by_loop(&["metrics".to_string()]));
        assert!(!answered_by_loop(&["metrics".to_string(), "x".to_string()]));
    }
}
