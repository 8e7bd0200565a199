//! User and API-key management: list, create, delete, disable and enable,
//! change password, mint and revoke keys. Admins manage everyone; a user
//! may change its own password (giving the current one) and manage its own
//! keys.
//!
//! Deleting a user, disabling it or changing its password ends every one of
//! its sessions in the same commit (from the owner index, no scan); its
//! API keys are deleted with it, and refused while it is disabled.

use super::accounts::{self, ApiKeyRecord, Role, UserRecord};
use super::records::StoredRecord;
use super::results::{
    ApiKeyDeleted, ApiKeyList, ApiKeyMinted, ApiKeyView, PasswordChanged, UserDeleted, UserList,
    UserStatusChanged, UserView,
};
use super::work::{Job, Then, Work};
use super::{Kind, Principal, Service, ServiceError, ServiceResult, Via};
use reddb_storage::database::now_ms;
use reddb_storage::store::record::{Mutation, Namespace, ValueRef};
use std::net::IpAddr;
use zeroize::Zeroizing;

impl Service {
    fn records<T: StoredRecord>(&self, prefix: &str) -> ServiceResult<Vec<T>> {
        let db = self.open_db()?;
        let now = now_ms();
        let mut out = Vec::new();
        for (k, e) in db.store().state().iter(Namespace::Vault, now) {
            if !k.starts_with(prefix.as_bytes()) {
                continue;
            }
            if let ValueRef::Bytes(b) = e.value {
                out.push(accounts::decode_record(b)?);
            }
        }
        Ok(out)
    }

    pub fn list_users(&self, p: &Principal) -> ServiceResult<UserList> {
        self.require_admin(p)?;
        let mut users: Vec<UserRecord> = self.records(accounts::USER_PREFIX)?;
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(UserList(users.iter().map(UserView::from).collect()))
    }

    pub fn begin_create_user(
        &mut self,
        p: &Principal,
        username: &str,
        password: &str,
        role: Role,
        peer: Option<IpAddr>,
    ) -> ServiceResult<Work> {
        self.require_admin(p)?;
        accounts::validate_new_username(username)?;
        accounts::validate_password(password.as_bytes(), self.config.min_password_len)?;
        if self.user(username)?.is_some() {
            return Err(ServiceError::new(
                Kind::Conflict,
                "conflict",
                format!("user '{username}' already exists"),
            ));
        }
        Ok(Work {
            job: Job::Hash {
                password: Zeroizing::new(password.to_string()),
                cost: self.config.password_cost,
            },
            then: Then::CreateUser {
                username: username.to_string(),
                role,
                actor: p.name.clone(),
                peer,
            },
        })
    }

    pub(super) fn finish_create_user(
        &mut self,
        username: &str,
        role: Role,
        hash: String,
    ) -> ServiceResult<UserView> {
        if self.user(username)?.is_some() {
            return Err(ServiceError::new(
                Kind::Conflict,
                "conflict",
                format!("user '{username}' already exists"),
            ));
        }
        let user = UserRecord {
            username: username.to_string(),
            role,
            password_hash: hash,
            created_at_ms: now_ms(),
            disabled: false,
        };
        self.commit(vec![accounts::put_user(&user)?])?;
        Ok(UserView::from(&user))
    }

    pub fn delete_user(&mut self, p: &Principal, username: &str) -> ServiceResult<UserDeleted> {
        self.require_admin(p)?;
        let user = self
            .user(username)?
            .ok_or_else(|| ServiceError::not_found(format!("no user '{username}'")))?;
        if self.last_enabled_admin(&user)? {
            return Err(ServiceError::new(
                Kind::Conflict,
                "conflict",
                "cannot delete the last admin",
            ));
        }
        let (mut muts, revoked) = self.revoke_sessions(username);
        muts.push(Mutation::Delete {
            ns: Namespace::Vault,
            key: accounts::user_key(username),
        });
        let keys: Vec<ApiKeyRecord> = self.records(accounts::API_KEY_PREFIX)?;
        for k in keys.iter().filter(|k| k.owner == username) {
            muts.push(Mutation::Delete {
                ns: Namespace::Vault,
                key: accounts::api_key_key(&k.id),
            });
        }
        muts.extend(self.detach_user_mutations(username));
        self.commit(muts)?;
        self.unindex_owner(username);
        self.forget_user_attachments(username);
        Ok(UserDeleted {
            username: username.to_string(),
            sessions_revoked: revoked,
        })
    }

    /// Whether `username` is the only enabled admin (who may be neither
    /// deleted nor disabled).
    fn last_enabled_admin(&self, user: &UserRecord) -> ServiceResult<bool> {
        if user.role != Role::Admin || user.disabled {
            return Ok(false);
        }
        let admins = self
            .records::<UserRecord>(accounts::USER_PREFIX)?
            .iter()
            .filter(|u| u.role == Role::Admin && !u.disabled)
            .count();
        Ok(admins <= 1)
    }

    /// `POST /auth/users/{name}/disable` and `/enable` (admins). Disabling
    /// ends every session of the user in the same commit and refuses its
    /// API keys and password until it is enabled again; sessions stay
    /// ended.
    pub fn set_user_disabled(
        &mut self,
        p: &Principal,
        username: &str,
        disabled: bool,
    ) -> ServiceResult<UserStatusChanged> {
        self.require_admin(p)?;
        let mut user = self
            .user(username)?
            .ok_or_else(|| ServiceError::not_found(format!("no user '{username}'")))?;
        if disabled && self.last_enabled_admin(&user)? {
            return Err(ServiceError::new(
                Kind::Conflict,
                "conflict",
                "cannot disable the last enabled admin",
            ));
        }
        user.disabled = disabled;
        let (mut muts, revoked) = if disabled {
            self.revoke_sessions(username)
        } else {
            (Vec::new(), 0)
        };
        muts.push(accounts::put_user(&user)?);
        self.commit(muts)?;
        Ok(UserStatusChanged {
            user: UserView::from(&user),
            sessions_revoked: revoked,
        })
    }

    /// `POST /auth/users/{name}/password`. A user changing its own password
    /// (through its session or API key, admins included) must give its
    /// `current` password: it is verified on a worker, throttled like a
    /// login (per user and peer), and only then is the new one hashed. An
    /// admin (or the admin token) setting someone else's password does not
    /// give one. Either way every session of the user ends.
    pub fn begin_set_password(
        &mut self,
        p: &Principal,
        username: &str,
        password: &str,
        current: Option<&str>,
        peer: IpAddr,
    ) -> ServiceResult<Work> {
        let own = p.name == username && !matches!(p.via, Via::AdminToken);
        if !own {
            self.require_admin(p)?;
        }
        accounts::validate_password(password.as_bytes(), self.config.min_password_len)?;
        let user = self
            .user(username)?
            .ok_or_else(|| ServiceError::not_found(format!("no user '{username}'")))?;
        let stamp = accounts::user_stamp(&user);
        let then = |own| Then::SetPassword {
            username: username.to_string(),
            actor: p.name.clone(),
            peer: Some(peer),
            stamp: stamp.clone(),
            own,
        };
        if !own {
            return Ok(Work {
                job: Job::Hash {
                    password: Zeroizing::new(password.to_string()),
                    cost: self.config.password_cost,
                },
                then: then(None),
            });
        }
        let current = current.ok_or_else(|| {
            ServiceError::bad_request(
                "\"current_password\" is required to change your own password",
            )
        })?;
        if current.len() > accounts::MAX_PASSWORD_LEN {
            return Err(ServiceError::bad_request(format!(
                "current_password must be at most {} bytes long",
                accounts::MAX_PASSWORD_LEN
            )));
        }
        let now = std::time::Instant::now();
        if let Err(retry) = self.limiter.check(username, peer, now) {
            return Err(super::rate_limited(
                "too many wrong current passwords",
                retry,
            ));
        }
        if self.limiter.peer_busy(peer) {
            return Err(super::peer_busy());
        }
        self.limiter.begin(username, peer, now);
        Ok(Work {
            job: Job::Rehash {
                phc: user.password_hash,
                current: Zeroizing::new(current.to_string()),
                password: Zeroizing::new(password.to_string()),
                cost: self.config.password_cost,
            },
            then: then(Some(peer)),
        })
    }

    /// Stores the new hash and ends every session of the user, in one
    /// commit. Refused if the user changed meanwhile (another password
    /// change, or deleted and created again): `stamp` is from the start.
    pub(super) fn finish_set_password(
        &mut self,
        username: &str,
        stamp: &str,
        hash: String,
    ) -> ServiceResult<PasswordChanged> {
        let mut user = self
            .user(username)?
            .ok_or_else(|| ServiceError::not_found(format!("no user '{username}'")))?;
        if accounts::user_stamp(&user) != stamp {
            return Err(ServiceError::new(
                Kind::Conflict,
                "conflict",
                "the user's password changed while this change was in progress; retry",
            ));
        }
        user.password_hash = hash;
        let (mut muts, revoked) = self.revoke_sessions(username);
        muts.push(accounts::put_user(&user)?);
        self.commit(muts)?;
        Ok(PasswordChanged {
            sessions_revoked: revoked,
        })
    }

    pub fn list_api_keys(&self, p: &Principal) -> ServiceResult<ApiKeyList> {
        let mut keys: Vec<ApiKeyRecord> = self.records(accounts::API_KEY_PREFIX)?;
        if !p.is_admin() {
            keys.retain(|k| k.owner == p.name);
        }
        keys.sort_by(|a, b| a.created_at_ms.cmp(&b.created_at_ms).then(a.id.cmp(&b.id)));
        Ok(ApiKeyList(keys.iter().map(ApiKeyView::from).collect()))
    }

    /// Mints a key for `owner` (admins only for someone else). The token is
    /// in the reply once and never again.
    pub fn create_api_key(
        &mut self,
        p: &Principal,
        owner: Option<&str>,
        label: &str,
    ) -> ServiceResult<ApiKeyMinted> {
        let owner = match owner {
            Some(o) if o != p.name => {
                self.require_admin(p)?;
                o.to_string()
            }
            _ => {
                if matches!(p.via, Via::AdminToken) {
                    return Err(ServiceError::bad_request(
                        "give \"owner\": the admin token is not a user",
                    ));
                }
                p.name.clone()
            }
        };
        if label.len() > 128 {
            return Err(ServiceError::bad_request("label must be at most 128 bytes"));
        }
        if self.user(&owner)?.is_none() {
            return Err(ServiceError::not_found(format!("no user '{owner}'")));
        }
        let key = accounts::new_api_key(&owner, label, now_ms())?;
        self.commit(vec![accounts::put_api_key(&key.record)?])?;
        self.index_api_key(&key.record);
        Ok(ApiKeyMinted {
            key: ApiKeyView::from(&key.record),
            token: key.token,
        })
    }

    pub fn delete_api_key(&mut self, p: &Principal, id: &str) -> ServiceResult<ApiKeyDeleted> {
        let keys: Vec<ApiKeyRecord> = self.records(accounts::API_KEY_PREFIX)?;
        let key = keys
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| ServiceError::not_found(format!("no api key '{id}'")))?;
        if key.owner != p.name {
            self.require_admin(p)?;
        }
        self.commit(vec![Mutation::Delete {
            ns: Namespace::Vault,
            key: accounts::api_key_key(id),
        }])?;
        self.unindex_api_key(id);
        Ok(ApiKeyDeleted { id: id.to_string() })
    }
}
