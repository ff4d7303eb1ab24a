//! Who is calling: a token (Bearer header or `?api_token=`) names an account;
//! no token at all is an anonymous caller known by IP. A token that is
//! present but unknown or revoked is a 401 — never an anonymous fallback.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Account, Plan};

/// The authenticated (or anonymous) caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The account, when a valid token was given.
    pub account: Option<Account>,
    /// Client address (after `X-Forwarded-For` when trusted).
    pub ip: IpAddr,
}

impl Caller {
    /// The owner key of this caller's jobs: `acct:<id>` or `ip:<addr>`.
    pub fn owner(&self) -> String {
        match &self.account {
            Some(a) => format!("acct:{}", a.id),
            None => format!("ip:{}", self.ip),
        }
    }

    /// The plan, `None` for anonymous callers.
    pub fn plan(&self) -> Option<Plan> {
        self.account.as_ref().map(|a| a.plan)
    }

    /// The account, or 401 for endpoints that need one.
    pub fn require_account(&self) -> Result<&Account, ApiError> {
        self.account.as_ref().ok_or_else(|| ApiError::Unauthorized {
            code: "token_required",
            message: "this endpoint needs an account token (Authorization: Bearer … or ?api_token=…)".into(),
        })
    }
}

/// A new random token: `ocr_` + 48 hex digits (192 bits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("ocr_{}", hex::encode(bytes))
}

/// What the database stores instead of the token. Tokens carry 192 random
/// bits, so a plain SHA-256 is as strong as a slow KDF here and lets the
/// lookup be an index hit.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The part of a token shown by `token list`.
pub fn token_prefix(token: &str) -> String {
    token.chars().take(12).collect()
}

fn token_from(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default().trim();
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or(value);
        return Some(token.trim().to_string());
    }
    let query = parts.uri.query()?;
    url_query_value(query, "api_token")
}

/// The first value of `key` in a query string, percent-decoded.
pub fn url_query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| percent_decode(v))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        if let Some(ip) = forwarded.and_then(|v| v.split(',').next()).and_then(|v| v.trim().parse().ok()) {
            return ip;
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |ConnectInfo(addr)| addr.ip())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts, state.config.trust_forwarded_for);
        let Some(token) = token_from(parts) else {
            return Ok(Caller { account: None, ip });
        };
        let account = state.store.account_by_token_hash(&token_hash(&token)).await?;
        match account {
            Some(account) => Ok(Caller { account: Some(account), ip }),
            None => Err(ApiError::Unauthorized {
                code: "invalid_token",
                message: "the API token is unknown or revoked".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        let cases = [
            ("api_token=abc", "api_token", Some("abc")),
            ("format=md&api_token=a%2Bb", "api_token", Some("a+b")),
            ("x=1", "api_token", None),
            ("api_token=%zz", "api_token", Some("%zz")),
            ("api_token=a%", "api_token", Some("a%")),
        ];
        for (query, key, want) in cases {
            assert_eq!(url_query_value(query, key).as_deref(), want, "{query}");
        }
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("ocr_") && a.len() == 52);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
