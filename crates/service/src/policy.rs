//! Policy documents (`docs/SECURITY.md`, "Policies and the audit log"): the
//! typed model, its validation, resource globs, evaluation (pure
//! functions), and their storage and attachment on [`Service`] (the
//! `/policies` endpoints). A
//! front end reads a document from its own syntax into a [`Policy`] (the
//! HTTP layer from JSON) and this module checks it ([`validate_document`]).
//!
//! Storage (namespace `Vault`, one commit per change): `policy:<id>` → the
//! document (encoded by the private `records` module); `attach:user:<name>:<id>` and
//! `attach:group:everyone:<id>` → an empty record. Both are mirrored in
//! memory (rebuilt at open) so evaluating a request reads no store entry.
//!
//! A document is
//! `{"id", "statements": [{"sid", "effect", "actions", "resources"}]}`.
//! Actions are `vault:read_metadata`, `vault:read`, `vault:unseal_history`,
//! `vault:write`, `vault:purge`, `vault:unseal` (accepted, gates nothing
//! here) and `vault:*` (all of them). A resource is `vault:red.vault/` then a
//! key pattern.
//!
//! Pub/sub channels have actions of their own: `channel:publish`,
//! `channel:subscribe` (`SUBSCRIBE`, `PSUBSCRIBE` — a pattern is checked
//! as a channel name, and every message is checked again against the
//! channel it was published on) and `channel:*`; their resources are
//! `channel:` then a channel pattern (same glob as keys). `vault:*` does
//! not cover them, nor a `channel:` resource a vault action. A principal
//! that no attached statement names a channel action for may use every
//! channel, as it may use the keyspace ([`Service::channel_allowed`]);
//! once one does, channels are evaluated like keys.
//!
//! Key patterns are split into *segments* on `.` (only `.`; `/`, `:`, `_`
//! and `-` are ordinary characters). Patterns and keys are compared
//! byte for byte, case-sensitively, with no normalisation:
//!
//! * a pattern segment that is exactly `*` and is the **last** segment
//!   matches one or more remaining key segments (any content), so
//!   `red.secret.ai.*` covers every key that starts with `red.secret.ai.`,
//!   but not `red.secret.ai` itself;
//! * a segment that is exactly `*` anywhere else matches exactly one key
//!   segment (`red.secret.*.token` matches `red.secret.github.token`, not
//!   `red.secret.a.b.token`);
//! * inside any other segment `*` matches any run (possibly empty) of
//!   characters within that one segment (`red.secret.ai.open*` matches
//!   `red.secret.ai.openai` but not `red.secret.ai.openai.key`);
//! * every other character matches itself.
//!
//! Evaluation (for one principal, action and key): collect the statements
//! of the policies attached to the user and to the `everyone` group; a
//! matching `deny` wins over everything — admins and the admin token
//! included; otherwise a matching `allow` allows; otherwise admins are
//! allowed and everyone else is denied.

use super::records::{decode_policy, encode_policy, ATTACHMENT_VALUE};
use super::results::{PolicyDeleted, PolicyList, PolicyRead, PolicyStored, PolicyView};
use super::{Principal, Service, ServiceError, ServiceResult, Via};
use reddb_storage::database::now_ms;
use reddb_storage::store::record::{Mutation, Namespace, Value, ValueRef};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) const POLICY_PREFIX: &str = "policy:";
pub(crate) const ATTACH_PREFIX: &str = "attach:";

pub const RESOURCE_PREFIX: &str = "vault:red.vault/";
pub(crate) const MAX_STATEMENTS: usize = 64;
pub(crate) const MAX_ITEMS: usize = 64;
pub(crate) const MAX_PATTERN_LEN: usize = 512;
pub const MAX_ID_LEN: usize = 128;
/// The one group: every principal, the admin token included.
pub(crate) const GROUP_EVERYONE: &str = "everyone";

/// An action a statement can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadMetadata,
    Read,
    UnsealHistory,
    Write,
    Purge,
    /// The master-key lifecycle of a collection. Accepted in documents so
    /// that policies naming it load; no request of this server is gated by
    /// it.
    Unseal,
    /// `PUBLISH` on a channel.
    ChannelPublish,
    /// `SUBSCRIBE`/`PSUBSCRIBE`, and receiving a channel's messages.
    ChannelSubscribe,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::ReadMetadata,
        Action::Read,
        Action::UnsealHistory,
        Action::Write,
        Action::Purge,
        Action::Unseal,
        Action::ChannelPublish,
        Action::ChannelSubscribe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadMetadata => "vault:read_metadata",
            Action::Read => "vault:read",
            Action::UnsealHistory => "vault:unseal_history",
            Action::Write => "vault:write",
            Action::Purge => "vault:purge",
            Action::Unseal => "vault:unseal",
            Action::ChannelPublish => "channel:publish",
            Action::ChannelSubscribe => "channel:subscribe",
        }
    }

    /// Whether the action is about pub/sub channels (its resources are
    /// `channel:` patterns).
    pub fn is_channel(self) -> bool {
        matches!(self, Action::ChannelPublish | Action::ChannelSubscribe)
    }

    fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

/// An action pattern of a statement: one action, `vault:*` (every vault
/// action) or `channel:*` (every channel action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActionPattern {
    One(Action),
    All,
    AllChannels,
}

impl ActionPattern {
    fn matches(self, a: Action) -> bool {
        match self {
            ActionPattern::All => !a.is_channel(),
            ActionPattern::AllChannels => a.is_channel(),
            ActionPattern::One(x) => x == a,
        }
    }
}

/// The prefix of a channel resource (`channel:news.*`).
pub const CHANNEL_RESOURCE_PREFIX: &str = "channel:";

/// One statement of a document, as given (checked by
/// [`validate_document`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// A policy document: as given, then validated and stored (and shown back
/// as stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub id: String,
    pub statements: Vec<Statement>,
}

/// Policy ids: 1 to 128 of `A-Z a-z 0-9 . _ -`.
pub fn validate_id(id: &str) -> ServiceResult<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::bad_request(format!(
            "policy id must be 1 to {MAX_ID_LEN} characters of letters, digits, '.', '_', '-'"
        )))
    }
}

fn parse_action(s: &str) -> ServiceResult<ActionPattern> {
    if s == "vault:*" {
        return Ok(ActionPattern::All);
    }
    if s == "channel:*" {
        return Ok(ActionPattern::AllChannels);
    }
    Action::parse(s).map(ActionPattern::One).ok_or_else(|| {
        ServiceError::bad_request(format!(
            "unknown action {s:?}: use vault:read_metadata, vault:read, vault:unseal_history, vault:write, vault:purge, vault:unseal, vault:*, channel:publish, channel:subscribe or channel:*"
        ))
    })
}

/// A resource of a statement: a key pattern (`vault:red.vault/…`) or a
/// channel pattern (`channel:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resource {
    channel: bool,
    pattern: String,
}

fn parse_resource(s: &str) -> ServiceResult<Resource> {
    if let Some(pattern) = s.strip_prefix(CHANNEL_RESOURCE_PREFIX) {
        let ok = !pattern.is_empty()
            && pattern.len() <= MAX_PATTERN_LEN
            && pattern.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(ServiceError::bad_request(format!(
                "resource {s:?}: the channel pattern must be 1 to {MAX_PATTERN_LEN} printable characters without spaces"
            )));
        }
        return Ok(Resource {
            channel: true,
            pattern: pattern.to_string(),
        });
    }
    let pattern = s.strip_prefix(RESOURCE_PREFIX).ok_or_else(|| {
        ServiceError::bad_request(format!(
            "resource {s:?} must start with \"{RESOURCE_PREFIX}\" (or \"{CHANNEL_RESOURCE_PREFIX}\" for a channel)"
        ))
    })?;
    let ok = !pattern.is_empty()
        && pattern.len() <= MAX_PATTERN_LEN
        && pattern.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':' | b'*')
        });
    if ok {
        Ok(Resource {
            channel: false,
            pattern: pattern.to_string(),
        })
    } else {
        Err(ServiceError::bad_request(format!(
            "resource {s:?}: the key pattern must be 1 to {MAX_PATTERN_LEN} characters of letters, digits, '.', '_', '-', '/', ':', '*'"
        )))
    }
}

/// Checks a document for `PUT /policies/{path_id}`: the id (the path's,
/// which the document's must equal), 1 to [`MAX_STATEMENTS`] statements,
/// each with 1 to [`MAX_ITEMS`] known actions and well-formed resources.
pub fn validate_document(path_id: &str, policy: &Policy) -> ServiceResult<()> {
    validate_id(path_id)?;
    if policy.id != path_id {
        return Err(ServiceError::bad_request(
            "\"id\" in the body must equal the id in the path",
        ));
    }
    if policy.statements.is_empty() || policy.statements.len() > MAX_STATEMENTS {
        return Err(ServiceError::bad_request(format!(
            "a policy needs 1 to {MAX_STATEMENTS} statements"
        )));
    }
    for st in &policy.statements {
        if let Some(sid) = &st.sid {
            if sid.len() > MAX_ID_LEN {
                return Err(ServiceError::bad_request(format!(
                    "\"sid\" is limited to {MAX_ID_LEN} bytes"
                )));
            }
        }
        for (name, list) in [("actions", &st.actions), ("resources", &st.resources)] {
            if list.is_empty() || list.len() > MAX_ITEMS {
                return Err(ServiceError::bad_request(format!(
                    "\"{name}\" needs 1 to {MAX_ITEMS} entries"
                )));
            }
        }
        for a in &st.actions {
            parse_action(a)?;
        }
        for r in &st.resources {
            parse_resource(r)?;
        }
    }
    Ok(())
}

/// A statement in the form evaluation uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    pub policy: String,
    pub sid: Option<String>,
    pub effect: Effect,
    actions: Vec<ActionPattern>,
    patterns: Vec<Resource>,
}

impl Compiled {
    pub fn matches(&self, action: Action, key: &str) -> bool {
        self.actions.iter().any(|a| a.matches(action))
            && self
                .patterns
                .iter()
                .any(|r| r.channel == action.is_channel() && glob_match(&r.pattern, key))
    }

    /// Whether this statement names `action` at all (any resource).
    pub fn names(&self, action: Action) -> bool {
        self.actions.iter().any(|a| a.matches(action))
    }
}

/// Compiles a validated policy (entries that somehow fail to parse are
/// skipped: a stored document was validated when it was written).
pub fn compile(p: &Policy) -> Vec<Compiled> {
    p.statements
        .iter()
        .map(|st| Compiled {
            policy: p.id.clone(),
            sid: st.sid.clone(),
            effect: st.effect,
            actions: st
                .actions
                .iter()
                .filter_map(|a| parse_action(a).ok())
                .collect(),
            patterns: st
                .resources
                .iter()
                .filter_map(|r| parse_resource(r).ok())
                .collect(),
        })
        .collect()
}

/// Matches one segment with in-segment `*` (any run of characters).
fn segment_match(pat: &[u8], s: &[u8]) -> bool {
    // Classic greedy wildcard match with one backtrack point; linear-ish.
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if Some(&c) == s.get(i) => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat.get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// Whether key pattern `pattern` (without the `vault:red.vault/` prefix)
/// matches `key`; see the module documentation for the exact rules.
pub fn glob_match(pattern: &str, key: &str) -> bool {
    let pats: Vec<&str> = pattern.split('.').collect();
    let segs: Vec<&str> = key.split('.').collect();
    let last = pats.len() - 1;
    for (i, p) in pats.iter().enumerate() {
        if i == last && *p == "*" {
            return segs.len() > i;
        }
        let Some(s) = segs.get(i) else { return false };
        if *p != "*" && !segment_match(p.as_bytes(), s.as_bytes()) {
            return false;
        }
    }
    segs.len() == pats.len()
}

/// The outcome of one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// An explicit deny: which policy and statement.
    ExplicitDeny {
        policy: String,
        sid: Option<String>,
    },
    /// No statement allowed it and the principal is not an admin.
    DefaultDeny,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        *self == Decision::Allow
    }
}

/// Evaluates `action` on `key` against `statements` (already collected for
/// the principal): explicit deny, then allow, then the role default.
pub fn evaluate(statements: &[Compiled], is_admin: bool, action: Action, key: &str) -> Decision {
    let mut allowed = false;
    for st in statements.iter().filter(|s| s.matches(action, key)) {
        match st.effect {
            Effect::Deny => {
                return Decision::ExplicitDeny {
                    policy: st.policy.clone(),
                    sid: st.sid.clone(),
                }
            }
            Effect::Allow => allowed = true,
        }
    }
    if allowed || is_admin {
        Decision::Allow
    } else {
        Decision::DefaultDeny
    }
}

/// The `vault:` resource string of a key.
pub fn resource_of(key: &str) -> String {
    format!("{RESOURCE_PREFIX}{key}")
}

/// The 403 a denied decision turns into: names the action and resource,
/// never a value.
pub(crate) fn denied_error(d: &Decision, action: Action, key: &str) -> ServiceError {
    let why = match d {
        Decision::ExplicitDeny { policy, sid } => match sid {
            Some(s) => format!("explicitly denied by policy '{policy}' statement '{s}'"),
            None => format!("explicitly denied by policy '{policy}'"),
        },
        _ => "no policy allows it".to_string(),
    };
    ServiceError::forbidden(format!(
        "{} on {} is not allowed: {why}",
        action.as_str(),
        resource_of(key)
    ))
}

/// Who a policy is attached to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    User(String),
    Group(String),
}

impl Target {
    fn storage_key(&self, policy: &str) -> Vec<u8> {
        match self {
            Target::User(u) => format!("{ATTACH_PREFIX}user:{u}:{policy}"),
            Target::Group(g) => format!("{ATTACH_PREFIX}group:{g}:{policy}"),
        }
        .into_bytes()
    }

    pub(super) fn parse_storage_key(k: &[u8]) -> Option<(Target, String)> {
        let s = std::str::from_utf8(k).ok()?.strip_prefix(ATTACH_PREFIX)?;
        let (kind, rest) = s.split_once(':')?;
        let (name, policy) = rest.split_once(':')?;
        let t = match kind {
            "user" => Target::User(name.to_string()),
            "group" => Target::Group(name.to_string()),
            _ => return None,
        };
        Some((t, policy.to_string()))
    }
}

/// The in-memory mirror of the stored policies and attachments.
#[derive(Debug, Default)]
pub(crate) struct PolicyIndex {
    policies: BTreeMap<String, (Policy, Vec<Compiled>)>,
    /// (target, policy id)
    attachments: BTreeSet<(Target, String)>,
}

impl PolicyIndex {
    fn attached_to(&self, policy: &str) -> Vec<&Target> {
        self.attachments
            .iter()
            .filter(|(_, p)| p == policy)
            .map(|(t, _)| t)
            .collect()
    }

    /// The statements of the policies attached to any of `targets`; a
    /// range scan per target (the set is ordered by target first).
    fn statements_for(&self, targets: &[Target]) -> Vec<Compiled> {
        let mut out = Vec::new();
        for t in targets {
            let from = (t.clone(), String::new());
            for (_, pid) in self.attachments.range(from..).take_while(|(x, _)| x == t) {
                if let Some((_, c)) = self.policies.get(pid) {
                    out.extend(c.iter().cloned());
                }
            }
        }
        out
    }
}

impl Service {
    pub(super) fn rebuild_policy_index(&mut self) {
        let mut ix = PolicyIndex::default();
        if let Some(db) = self.database() {
            for (k, e) in db.store().state().iter(Namespace::Vault, now_ms()) {
                if let Some(id) = k.strip_prefix(POLICY_PREFIX.as_bytes()) {
                    let ValueRef::Bytes(b) = e.value else {
                        continue;
                    };
                    match decode_policy(b) {
                        Ok(p) => {
                            let c = compile(&p);
                            ix.policies
                                .insert(String::from_utf8_lossy(id).into_owned(), (p, c));
                        }
                        Err(_) => {
                            reddb_storage::log_warn!("a stored policy does not decode; ignored")
                        }
                    }
                } else if let Some(a) = Target::parse_storage_key(k) {
                    ix.attachments.insert(a);
                }
            }
        }
        self.policy_index = ix;
    }

    /// The statements that apply to `p`: the policies attached to the user
    /// (not for the admin token, which is no user) and to `everyone`.
    pub(crate) fn statements_for(&self, p: &Principal) -> Vec<Compiled> {
        let mut targets = vec![Target::Group(GROUP_EVERYONE.to_string())];
        if !matches!(p.via, Via::AdminToken) {
            targets.push(Target::User(p.name.clone()));
        }
        self.policy_index.statements_for(&targets)
    }

    /// Whether `p` may `action` (publish, subscribe) `channel`: yes when
    /// no statement attached to it names a channel action (channels are
    /// open, like the keyspace); otherwise as a key is evaluated (an
    /// explicit deny wins, then an allow, then admins only). A channel
    /// name that is not UTF-8 matches no pattern: admins only.
    pub fn channel_allowed(&self, p: &Principal, action: Action, channel: &[u8]) -> bool {
        let st = self.statements_for(p);
        let governed = st
            .iter()
            .any(|s| s.names(Action::ChannelPublish) || s.names(Action::ChannelSubscribe));
        if !governed {
            return true;
        }
        match std::str::from_utf8(channel) {
            Ok(name) => evaluate(&st, p.is_admin(), action, name).allowed(),
            Err(_) => p.is_admin(),
        }
    }

    /// Whether some statement attached to `p` names a channel action (its
    /// messages are then checked channel by channel).
    pub fn channels_governed(&self, p: &Principal) -> bool {
        self.statements_for(p)
            .iter()
            .any(|s| s.names(Action::ChannelPublish) || s.names(Action::ChannelSubscribe))
    }

    /// Evaluates one action on one key; a denial is a 403 naming both.
    pub fn authorize(&self, p: &Principal, action: Action, key: &str) -> ServiceResult<()> {
        let st = self.statements_for(p);
        let d = evaluate(&st, p.is_admin(), action, key);
        if d.allowed() {
            Ok(())
        } else {
            Err(denied_error(&d, action, key))
        }
    }

    fn policy_view(&self, id: &str) -> Option<PolicyView> {
        let (p, _) = self.policy_index.policies.get(id)?;
        let attached = self
            .policy_index
            .attached_to(id)
            .into_iter()
            .cloned()
            .collect();
        Some(PolicyView {
            policy: p.clone(),
            attached,
        })
    }

    /// The checks every `/policies` request passes first, before its body
    /// is read: an admin, an open vault and, with `existing`, a policy by
    /// that id (404 otherwise).
    pub fn policy_request_allowed(
        &self,
        p: &Principal,
        existing: Option<&str>,
    ) -> ServiceResult<()> {
        self.require_admin(p)?;
        self.open_db()?;
        match existing {
            Some(id) if !self.policy_index.policies.contains_key(id) => {
                Err(ServiceError::not_found(format!("no policy '{id}'")))
            }
            _ => Ok(()),
        }
    }

    /// `PUT /policies/{id}`: creates or replaces a document.
    pub fn put_policy(
        &mut self,
        p: &Principal,
        id: &str,
        policy: Policy,
    ) -> ServiceResult<PolicyStored> {
        self.policy_request_allowed(p, None)?;
        validate_document(id, &policy)?;
        let bytes = encode_policy(&policy)?;
        self.commit(vec![Mutation::Put {
            ns: Namespace::Vault,
            key: format!("{POLICY_PREFIX}{id}").into_bytes(),
            value: Value::Bytes(bytes),
            expires_at_ms: 0,
        }])?;
        let created = !self.policy_index.policies.contains_key(id);
        let c = compile(&policy);
        self.policy_index
            .policies
            .insert(id.to_string(), (policy, c));
        let policy = self.stored_view(id)?;
        Ok(PolicyStored { created, policy })
    }

    /// A policy just written or changed, as it now stands.
    fn stored_view(&self, id: &str) -> ServiceResult<PolicyView> {
        self.policy_view(id)
            .ok_or_else(|| ServiceError::internal(format!("policy '{id}' vanished")))
    }

    pub fn get_policy(&self, p: &Principal, id: &str) -> ServiceResult<PolicyRead> {
        self.policy_request_allowed(p, None)?;
        self.policy_view(id)
            .map(PolicyRead)
            .ok_or_else(|| ServiceError::not_found(format!("no policy '{id}'")))
    }

    pub fn list_policies(&self, p: &Principal) -> ServiceResult<PolicyList> {
        self.policy_request_allowed(p, None)?;
        Ok(PolicyList(
            self.policy_index
                .policies
                .keys()
                .filter_map(|id| self.policy_view(id))
                .collect(),
        ))
    }

    /// `DELETE /policies/{id}`: the document and every attachment of it.
    pub fn delete_policy(&mut self, p: &Principal, id: &str) -> ServiceResult<PolicyDeleted> {
        self.policy_request_allowed(p, Some(id))?;
        let targets: Vec<Target> = self
            .policy_index
            .attached_to(id)
            .into_iter()
            .cloned()
            .collect();
        let mut muts = vec![Mutation::Delete {
            ns: Namespace::Vault,
            key: format!("{POLICY_PREFIX}{id}").into_bytes(),
        }];
        muts.extend(targets.iter().map(|t| Mutation::Delete {
            ns: Namespace::Vault,
            key: t.storage_key(id),
        }));
        self.commit(muts)?;
        self.policy_index.policies.remove(id);
        self.policy_index.attachments.retain(|(_, pid)| pid != id);
        Ok(PolicyDeleted { id: id.to_string() })
    }

    /// `POST /policies/{id}/attach` and `/detach` to a user or to the
    /// `everyone` group.
    pub fn attach_policy(
        &mut self,
        p: &Principal,
        id: &str,
        target: Target,
        attach: bool,
    ) -> ServiceResult<PolicyRead> {
        self.policy_request_allowed(p, Some(id))?;
        if let Target::Group(g) = &target {
            if g != GROUP_EVERYONE {
                return Err(ServiceError::bad_request("the only group is \"everyone\""));
            }
        }
        let pair = (target.clone(), id.to_string());
        if attach {
            if let Target::User(u) = &target {
                if self.user(u)?.is_none() {
                    return Err(ServiceError::not_found(format!("no user '{u}'")));
                }
            }
            if !self.policy_index.attachments.contains(&pair) {
                self.commit(vec![Mutation::Put {
                    ns: Namespace::Vault,
                    key: target.storage_key(id),
                    value: Value::Bytes(ATTACHMENT_VALUE.to_vec()),
                    expires_at_ms: 0,
                }])?;
                self.policy_index.attachments.insert(pair);
            }
        } else {
            if !self.policy_index.attachments.contains(&pair) {
                return Err(ServiceError::not_found(format!(
                    "policy '{id}' is not attached to that principal"
                )));
            }
            self.commit(vec![Mutation::Delete {
                ns: Namespace::Vault,
                key: target.storage_key(id),
            }])?;
            self.policy_index.attachments.remove(&pair);
        }
        self.stored_view(id).map(PolicyRead)
    }

    /// Deletes of every attachment to user `name` (for `delete_user`, in
    /// the same commit), and forgets them in memory.
    pub(super) fn detach_user_mutations(&self, name: &str) -> Vec<Mutation> {
        let t = Target::User(name.to_string());
        let pairs: Vec<(Target, String)> = self
            .policy_index
            .attachments
            .iter()
            .filter(|(x, _)| *x == t)
            .cloned()
            .collect();
        pairs
            .into_iter()
            .map(|(t, pid)| Mutation::Delete {
                ns: Namespace::Vault,
                key: t.storage_key(&pid),
            })
            .collect()
    }

    pub(super) fn forget_user_attachments(&mut self, name: &str) {
        let t = Target::User(name.to_string());
        self.policy_index.attachments.retain(|(x, _)| *x != t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn glob_rules() {
        let m = glob_match;
        assert!(m("red.secret.ai.custom.*", "red.secret.ai.custom.key"));
        assert!(m("red.secret.ai.custom.*", "red.secret.ai.custom.a.b.c"));
        assert!(!m("red.secret.ai.custom.*", "red.secret.ai.custom"));
        assert!(!m("red.secret.ai.custom.*", "red.secret.ai.customer.x"));
        assert!(!m("red.secret.ai.custom.*", "red.secret.ai.Custom.x"));
        assert!(m("red.secret.*.token", "red.secret.github.token"));
        assert!(!m("red.secret.*.token", "red.secret.a.b.token"));
        assert!(!m("red.secret.*.token", "red.secret.token"));
        assert!(m("red.secret.ai.open*", "red.secret.ai.openai"));
        assert!(m("red.secret.ai.open*", "red.secret.ai.open"));
        assert!(!m("red.secret.ai.open*", "red.secret.ai.openai.key"));
        assert!(m("red.secret.*ai*.k", "red.secret.openai_x.k"));
        assert!(m("*", "red.secret.x"));
        assert!(m("red.secret.x", "red.secret.x"));
        assert!(!m("red.secret.x", "red.secret.xy"));
        assert!(!m("red.secret.x", "red.secret.x.y"));
        // '/' and ':' are not separators.
        assert!(m("red.secret.app/*", "red.secret.app/db"));
        assert!(!m("red.secret.app/*", "red.secret.app/db.x"));
        assert!(m("red.secret.app/*.*", "red.secret.app/db.x"));
    }

    #[test]
    fn documents_are_validated_whatever_syntax_they_came_in() {
        let st = |actions: &[&str], resources: &[&str]| Statement {
            sid: None,
            effect: Effect::Allow,
            actions: actions.iter().map(|a| a.to_string()).collect(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
        };
        let doc = |id: &str, statements| Policy {
            id: id.into(),
            statements,
        };
        let good = st(&["vault:read"], &["vault:red.vault/red.secret.*"]);
        assert!(validate_document("p1", &doc("p1", vec![good.clone()])).is_ok());
        for (path, bad) in [
            ("p1", doc("p2", vec![good.clone()])),
            ("bad id", doc("bad id", vec![good.clone()])),
            ("p1", doc("p1", vec![])),
            (
                "p1",
                doc("p1", vec![st(&["vault:reed"], &["vault:red.vault/*"])]),
            ),
            (
                "p1",
                doc("p1", vec![st(&["vault:read"], &["red.secret.*"])]),
            ),
            ("p1", doc("p1", vec![st(&[], &["vault:red.vault/*"])])),
        ] {
            let e = validate_document(path, &bad).unwrap_err();
            assert_eq!(e.code, "bad_request", "{bad:?}");
        }
    }

    #[test]
    fn channel_actions_and_resources_stay_apart_from_the_vault() {
        let policy = |actions: &[&str], resources: &[&str]| Policy {
            id: "p".into(),
            statements: vec![Statement {
                sid: None,
                effect: Effect::Allow,
                actions: actions.iter().map(|a| a.to_string()).collect(),
                resources: resources.iter().map(|r| r.to_string()).collect(),
            }],
        };
        let vault_all = compile(&policy(&["vault:*"], &["vault:red.vault/*"]));
        assert!(evaluate(&vault_all, false, Action::Read, "news").allowed());
        assert!(!evaluate(&vault_all, false, Action::ChannelPublish, "news").allowed());
        let channels = compile(&policy(&["channel:*"], &["channel:news.*"]));
        assert!(evaluate(&channels, false, Action::ChannelSubscribe, "news.a").allowed());
        assert!(!evaluate(&channels, false, Action::ChannelSubscribe, "other").allowed());
        // A channel resource never matches a key, even with a vault action.
        let crossed = compile(&policy(&["vault:read", "channel:publish"], &["channel:*"]));
        assert!(!evaluate(&crossed, false, Action::Read, "red.secret.a").allowed());
        assert!(evaluate(&crossed, false, Action::ChannelPublish, "x").allowed());
        assert!(validate_document(
            "p",
            &policy(&["channel:subscribe"], &["channel:__keyspace@0__:*"])
        )
        .is_ok());
        for bad in ["channel:", "channel:a b", "channel:\u{e9}"] {
            assert!(
                validate_document("p", &policy(&["channel:publish"], &[bad])).is_err(),
                "{bad}"
            );
        }
        assert!(validate_document("p", &policy(&["channel:read"], &["channel:*"])).is_err());
    }

    #[test]
    fn denial_message_names_action_and_resource() {
        let e = denied_error(&Decision::DefaultDeny, Action::Read, "red.secret.a");
        assert_eq!(e.code, "forbidden");
        assert!(e
            .message
            .contains("vault:read on vault:red.vault/red.secret.a"));
    }

    /// A reference matcher: a regex-free recursive definition of the rules.
    fn reference(pattern: &str, key: &str) -> bool {
        fn seg(p: &[u8], s: &[u8]) -> bool {
            match p.split_first() {
                None => s.is_empty(),
                Some((b'*', rest)) => (0..=s.len()).any(|i| seg(rest, &s[i..])),
                Some((c, rest)) => s.first() == Some(c) && seg(rest, &s[1..]),
            }
        }
        let ps: Vec<&str> = pattern.split('.').collect();
        let ks: Vec<&str> = key.split('.').collect();
        if ps.last() == Some(&"*") {
            let n = ps.len() - 1;
            ks.len() > n
                && ps[..n]
                    .iter()
                    .zip(&ks)
                    .all(|(p, k)| *p == "*" || seg(p.as_bytes(), k.as_bytes()))
        } else {
            ps.len() == ks.len()
                && ps
                    .iter()
                    .zip(&ks)
                    .all(|(p, k)| *p == "*" || seg(p.as_bytes(), k.as_bytes()))
        }
    }

    proptest! {
        #[test]
        fn glob_agrees_with_reference(
            pattern in "[ab*.]{1,10}",
            key in "[ab.]{1,10}",
        ) {
            prop_assert_eq!(glob_match(&pattern, &key), reference(&pattern, &key));
        }

        #[test]
        fn literal_patterns_match_only_themselves(
            key in "[a-z]{1,4}(\\.[a-z]{1,4}){0,4}",
            other in "[a-z]{1,4}(\\.[a-z]{1,4}){0,4}",
        ) {
            prop_assert!(glob_match(&key, &key));
            prop_assert_eq!(glob_match(&key, &other), key == other);
            // A trailing `.*` covers exactly the keys strictly under it.
            let prefix_pat = format!("{key}.*");
            let under = other.starts_with(&format!("{key}."));
            prop_assert_eq!(glob_match(&prefix_pat, &other), under);
        }

        #[test]
        fn deny_always_wins(is_admin: bool, allow_first: bool) {
            let st = |effect| Compiled {
                policy: "p".into(),
                sid: None,
                effect,
                actions: vec![ActionPattern::All],
                patterns: vec![Resource {
                    channel: false,
                    pattern: "*".into(),
                }],
            };
            let v = if allow_first {
                vec![st(Effect::Allow), st(Effect::Deny)]
            } else {
                vec![st(Effect::Deny), st(Effect::Allow)]
            };
            let d = evaluate(&v, is_admin, Action::Read, "red.secret.x");
            prop_assert!(
                matches!(d, Decision::ExplicitDeny { .. }),
                "deny lost: {:?}",
                d
            );
        }
    }
}
