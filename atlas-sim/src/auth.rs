//! Authentication: OAuth client-credentials tokens (service accounts) and HTTP Digest
//! (RFC 7616, MD5, `qop=auth`) for legacy API keys. All lifetimes run on the simulator's clock.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use base64::Engine;
use md5::{Digest, Md5};

use crate::config::{ApiKey, ServiceAccount};

/// The Digest realm Atlas uses.
pub const REALM: &str = "MMS Public API";

#[derive(Debug)]
struct Token {
    client_id: String,
    expires: SystemTime,
}

#[derive(Debug)]
struct Nonce {
    issued: SystemTime,
    seen_nc: HashSet<String>,
}

/// Issued tokens and nonces.
#[derive(Debug, Default)]
pub(crate) struct AuthState {
    tokens: HashMap<String, Token>,
    nonces: HashMap<String, Nonce>,
}

/// Why the token endpoint said no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    /// Unknown client, wrong secret, or wrong grant type: 401 `invalid_client`.
    InvalidClient,
    /// Too many live tokens for the client: 429, retry once the oldest expires.
    TooManyTokens { retry_after: Duration },
}

/// Who made an API call, or why nobody did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Authenticated (the client id or public key).
    Allowed(String),
    /// Answer 401 with a Digest challenge.
    Challenge { stale: bool, detail: &'static str },
    /// A bearer token that is unknown or expired.
    BadToken { detail: &'static str },
}

impl AuthState {
    /// `POST /api/oauth/token`.
    pub fn issue_token(
        &mut self,
        authorization: Option<&str>,
        form: &str,
        accounts: &[ServiceAccount],
        now: SystemTime,
        ttl: Duration,
        max_live: usize,
    ) -> Result<String, TokenRefusal> {
        let (id, secret) = basic_credentials(authorization).ok_or(TokenRefusal::InvalidClient)?;
        let known = accounts
            .iter()
            .any(|a| a.client_id == id && a.client_secret == secret);
        if !known || form_value(form, "grant_type").as_deref() != Some("client_credentials") {
            return Err(TokenRefusal::InvalidClient);
        }
        self.tokens.retain(|_, t| t.expires > now);
        let live: Vec<SystemTime> = self
            .tokens
            .values()
            .filter(|t| t.client_id == id)
            .map(|t| t.expires)
            .collect();
        if live.len() >= max_live {
            let oldest = live.into_iter().min().unwrap_or(now);
            let retry_after = oldest.duration_since(now).unwrap_or_default();
            return Err(TokenRefusal::TooManyTokens { retry_after });
        }
        let token = format!("sim.{}", hex::encode(rand::random::<[u8; 24]>()));
        self.tokens.insert(
            token.clone(),
            Token {
                client_id: id,
                expires: now + ttl,
            },
        );
        Ok(token)
    }

    /// A fresh Digest nonce; forgets nonces long expired.
    pub fn new_nonce(&mut self, now: SystemTime, ttl: Duration) -> String {
        let keep = ttl.saturating_mul(10).max(Duration::from_secs(600));
        self.nonces
            .retain(|_, n| now.duration_since(n.issued).unwrap_or_default() < keep);
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        self.nonces.insert(
            nonce.clone(),
            Nonce {
                issued: now,
                seen_nc: HashSet::new(),
            },
        );
        nonce
    }

    /// Checks the `Authorization` header of an API call.
    pub fn verify(
        &mut self,
        method: &str,
        uri: &str,
        authorization: Option<&str>,
        keys: &[ApiKey],
        now: SystemTime,
        nonce_ttl: Duration,
    ) -> Verdict {
        let Some(header) = authorization.map(str::trim) else {
            return challenge("Authentication is required.");
        };
        if let Some(token) = strip_scheme(header, "Bearer") {
            return match self.tokens.get(token.trim()) {
                Some(t) if t.expires > now => Verdict::Allowed(t.client_id.clone()),
                Some(_) => Verdict::BadToken {
                    detail: "The access token has expired.",
                },
                None => Verdict::BadToken {
                    detail: "The access token is not valid.",
                },
            };
        }
        let Some(params) = strip_scheme(header, "Digest").map(parse_params) else {
            return challenge("Use HTTP Digest with an API key, or a Bearer access token.");
        };
        let get = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
        let Some(key) = keys.iter().find(|k| k.public_key == get("username")) else {
            return challenge("Unknown API key.");
        };
        let algorithm_ok =
            !params.contains_key("algorithm") || get("algorithm").eq_ignore_ascii_case("MD5");
        if get("realm") != REALM || get("qop") != "auth" || !algorithm_ok || get("uri") != uri {
            return challenge("The Digest parameters do not match this request.");
        }
        let ha1 = md5_hex(&format!("{}:{REALM}:{}", key.public_key, key.private_key));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let expected = md5_hex(&format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            get("nonce"),
            get("nc"),
            get("cnonce")
        ));
        if !expected.eq_ignore_ascii_case(get("response")) {
            return challenge("The Digest response is not valid for this API key.");
        }
        let Some(nonce) = self.nonces.get_mut(get("nonce")) else {
            return challenge("Unknown nonce.");
        };
        if now.duration_since(nonce.issued).unwrap_or_default() >= nonce_ttl {
            return Verdict::Challenge {
                stale: true,
                detail: "The nonce has expired.",
            };
        }
        if !nonce.seen_nc.insert(get("nc").to_owned()) {
            return challenge("The nonce count was already used.");
        }
        Verdict::Allowed(key.public_key.clone())
    }
}

fn challenge(detail: &'static str) -> Verdict {
    Verdict::Challenge {
        stale: false,
        detail,
    }
}

/// The `WWW-Authenticate` value of a Digest challenge.
pub(crate) fn digest_challenge(nonce: &str, stale: bool) -> String {
    format!(
        "Digest realm=\"{REALM}\", domain=\"\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\", stale={stale}"
    )
}

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// The rest of `header` after `scheme ` (case-insensitive scheme).
fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (name, rest) = header.split_once(' ')?;
    name.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// `(id, secret)` of an `Authorization: Basic …` header.
fn basic_credentials(header: Option<&str>) -> Option<(String, String)> {
    let encoded = strip_scheme(header?.trim(), "Basic")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Parses `name=value, name="quoted, value"` lists (Digest parameters).
fn parse_params(text: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if name.trim().is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            if chars.next_if_eq(&'"').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
            }
        }
        params.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    params
}

/// A value of an `application/x-www-form-urlencoded` body.
fn form_value(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (url_decode(key) == name).then(|| url_decode(value))
    })
}

fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 2;
            }
            (None, b'+') => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_parameters_parse() {
        let p = parse_params(
            r#"username="pk", realm="MMS Public API", nc=00000001, qop=auth, uri="/a?b=1,2""#,
        );
        assert_eq!(p["username"], "pk");
        assert_eq!(p["realm"], REALM);
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["qop"], "auth");
        assert_eq!(p["uri"], "/a?b=1,2");
    }

    #[test]
    fn form_and_basic() {
        assert_eq!(
            form_value("a=1&grant_type=client_credentials", "grant_type").as_deref(),
            Some("client_credentials")
        );
        assert_eq!(url_decode("a%20b+c%2"), "a b c%2");
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("id:se:cret")
        );
        assert_eq!(
            basic_credentials(Some(&header)),
            Some(("id".to_owned(), "se:cret".to_owned()))
        );
    }

    #[test]
    fn rfc_2617_example_response() {
        // RFC 2617 section 3.5 (password "Circle Of Life", realm testrealm@host.com).
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5_hex("GET:/dir/index.html");
        let response = md5_hex(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
        ));
        assert_eq!(response, "6629fae49393a05397450978507c4ef1");
    }
}
