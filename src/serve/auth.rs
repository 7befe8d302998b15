//! Who is calling, and whether they may: API keys (`Authorization:
//! Bearer fwk_<id>_<secret>`), device tokens (`fwd_<secret>`, only for
//! the device's own check-in), browser sessions (cookie, CSRF token per
//! session), per-caller rate limits. Deny by default: a handler states
//! the scope it needs, and a tag-bound caller sees only its devices.
//!
//! Secrets are random 32-byte values; the store keeps their SHA-256 and
//! tokens are compared in constant time. User passwords are argon2
//! hashes. No secret is ever logged or put in an error message.

use super::error::{ApiError, ApiResult};
use crate::fleet::FleetStore;
use crate::fleet::access::{ApiKey, Role, User};
use crate::fleet::queries::Scope;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub use crate::fleet::access::random_hex;

pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two hex digests.
pub fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A new API key: the record to store and the token to show once.
pub fn new_key(
    name: &str,
    scope: Role,
    tags: &[String],
    now: &str,
) -> Result<(ApiKey, String), String> {
    let id = random_hex(6)?;
    let secret = random_hex(32)?;
    let key = ApiKey {
        id: id.clone(),
        name: name.to_string(),
        scope,
        tags: tags.to_vec(),
        hash: sha256_hex(&secret),
        created: now.to_string(),
        revoked: None,
    };
    Ok((key, format!("fwk_{id}_{secret}")))
}

/// A new device token: its hash to store and the token to show once.
pub fn new_device_token() -> Result<(String, String), String> {
    let secret = random_hex(32)?;
    Ok((sha256_hex(&secret), format!("fwd_{secret}")))
}

/// An argon2id hash (PHC string, random salt) of a password.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("password hash: {e}"))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// Looks up an API key token; `None` for anything that is not a live key.
pub fn check_key(store: &dyn FleetStore, token: &str) -> Result<Option<ApiKey>, String> {
    let Some(rest) = token.strip_prefix("fwk_") else {
        return Ok(None);
    };
    let Some((id, secret)) = rest.split_once('_') else {
        return Ok(None);
    };
    let Some(key) = store.key(id)? else {
        // The same work as a found key, so timing does not tell ids apart.
        let _ = same_digest(&sha256_hex(secret), &sha256_hex(""));
        return Ok(None);
    };
    if !same_digest(&sha256_hex(secret), &key.hash) || key.revoked.is_some() {
        return Ok(None);
    }
    Ok(Some(key))
}

/// Checks a user's password; `None` when the user or password is wrong.
pub fn check_user(
    store: &dyn FleetStore,
    name: &str,
    password: &str,
) -> Result<Option<User>, String> {
    match store.user(name)? {
        Some(u) if verify_password(password, &u.password_hash) => Ok(Some(u)),
        Some(_) => Ok(None),
        None => {
            // As slow as a wrong password.
            static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let dummy = DUMMY.get_or_init(|| hash_password("not a password").unwrap_or_default());
            let _ = verify_password(password, dummy);
            Ok(None)
        }
    }
}

/// A caller of the API or the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who, for the audit log: `key NAME (ID)` or `user NAME`.
    pub who: String,
    pub role: Role,
    pub scope: Scope,
    /// Rate limits are counted per this.
    pub limit_id: String,
}

impl Caller {
    pub fn of_key(key: &ApiKey) -> Caller {
        Caller {
            who: format!("key {} ({})", key.name, key.id),
            role: key.scope,
            scope: Scope::of_tags(&key.tags),
            limit_id: format!("key:{}", key.id),
        }
    }

    pub fn of_user(user: &User) -> Caller {
        Caller {
            who: format!("user {}", user.name),
            role: user.scope,
            scope: Scope::of_tags(&user.tags),
            limit_id: format!("user:{}", user.name),
        }
    }

    /// 403 unless the caller's scope includes `role`.
    pub fn require(&self, role: Role) -> ApiResult<()> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} scope; the caller has {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// What checking a caller needs of the service's state (the service's
/// `AppState` has it): declared here so that authentication does not
/// depend on the state that holds its limiter and sessions.
pub trait Authority {
    fn store(&self) -> &dyn FleetStore;
    fn limiter(&self) -> &Limiter;
    /// Hashes of every device token.
    fn device_tokens(&self) -> &RwLock<HashSet<String>>;
}

/// API callers: a live API key in `Authorization: Bearer`, within its rate.
impl<S: Authority + Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Caller> {
        let Some(token) = bearer(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "an API key is needed: Authorization: Bearer fwk_...",
            ));
        };
        if token.starts_with("fwd_") {
            return Err(ApiError::unauthorized(
                "a device token can only check its own device in",
            ));
        }
        let key = check_key(state.store(), token)?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
        let caller = Caller::of_key(&key);
        state.limiter().check(&caller.limit_id)?;
        Ok(caller)
    }
}

/// A device proving it is `device` with its own token, within its rate.
pub fn check_device(state: &impl Authority, headers: &HeaderMap, device: &str) -> ApiResult<()> {
    let Some(token) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "a device token is needed: Authorization: Bearer fwd_...",
        ));
    };
    let Some(secret) = token.strip_prefix("fwd_") else {
        return Err(ApiError::unauthorized(
            "check-ins take the device's own token (fwd_...)",
        ));
    };
    let digest = sha256_hex(secret);
    let own = state.store().device_token(device)?;
    if own.as_ref().is_some_and(|t| same_digest(&digest, &t.hash)) {
        state.limiter().check(&format!("device:{device}"))?;
        return Ok(());
    }
    // A valid token of another device is forbidden, anything else unknown.
    if state
        .device_tokens()
        .read()
        .map_err(|_| ApiError::internal("token index"))?
        .contains(&digest)
    {
        return Err(ApiError::forbidden("this token belongs to another device"));
    }
    Err(ApiError::unauthorized("unknown device token"))
}

/// Token buckets per caller: `rate` requests a second, bursts of twice
/// that. A rate of 0 turns limiting off.
pub struct Limiter {
    rate: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    pub fn new(rate: u32) -> Limiter {
        Limiter {
            rate: f64::from(rate),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, id: &str) -> ApiResult<()> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let burst = self.rate * 2.0;
        let now = Instant::now();
        let mut map = self
            .buckets
            .lock()
            .map_err(|_| ApiError::internal("rate limiter"))?;
        let (tokens, last) = map.entry(id.to_string()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64;
            Err(ApiError {
                retry_after: Some(wait),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("more than {} requests a second", self.rate),
                )
            })
        }
    }
}

/// Browser sessions, in memory (a restart logs everyone out).
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    pub lifetime: Duration,
}

#[derive(Clone)]
pub struct Session {
    pub caller: Caller,
    /// The token every form of this session carries.
    pub csrf: String,
    pub expires: Instant,
}

pub const SESSION_COOKIE: &str = "fwaudit_session";
/// Before login: the CSRF token of the login form (double submit).
pub const LOGIN_COOKIE: &str = "fwaudit_login";

impl Sessions {
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            lifetime,
        }
    }

    /// Starts a session; returns its id (the cookie value).
    pub fn start(&self, caller: Caller) -> Result<String, String> {
        let id = random_hex(32)?;
        let session = Session {
            caller,
            csrf: random_hex(32)?,
            expires: Instant::now() + self.lifetime,
        };
        let mut map = self.map.lock().map_err(|_| "sessions".to_string())?;
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        map.insert(id.clone(), session);
        Ok(id)
    }

    pub fn get(&self, id: &str) -> Option<Session> {
        let map = self.map.lock().ok()?;
        map.get(id).filter(|s| s.expires > Instant::now()).cloned()
    }

    pub fn end(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure under TLS.
pub fn set_cookie(name: &str, value: &str, tls: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if tls {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_digests() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(same_digest(&sha256_hex("a"), &sha256_hex("a")));
        assert!(!same_digest(&sha256_hex("a"), &sha256_hex("b")));
    }

    #[test]
    fn the_limiter_refuses_past_the_burst() {
        let l = Limiter::new(5);
        let ok = (0..20).filter(|_| l.check("k").is_ok()).count();
        assert_eq!(ok, 10, "a burst of twice the rate");
        let e = l.check("k").unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(l.check("other").is_ok(), "per caller");
        assert!((0..100).all(|_| Limiter::new(0).check("k").is_ok()));
    }
}
