//! Calls to the provider's token and revocation endpoints: authorization-code exchange,
//! refresh, revocation (RFC 7009). Parses responses strictly; error bodies from the
//! provider are summarised (the `error` code only), never echoed with tokens.

use serde::Deserialize;
use thiserror::Error;

use crate::idp::client_auth::{ClientAuthError, ClientAuthenticator};
use crate::idp::{HttpError, IdpClient};

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer` (any case) in every response [`token_call`] returns: see
    /// [`is_usable_token_type`]. Empty when the provider left it out.
    #[serde(default)]
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// The ID token (always present for a code exchange with the openid scope).
    #[serde(default)]
    pub id_token: Option<String>,
    /// The refresh token, when issued.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// Why a token call failed.
#[derive(Debug, Error)]
pub enum TokenError {
    /// The provider could not be reached or answered garbage: retryable, 503.
    #[error("token endpoint unreachable: {0}")]
    Unavailable(String),
    /// The provider refused the grant (`invalid_grant`, `invalid_client`…).
    #[error("token endpoint refused: {0}")]
    Refused(String),
    /// Local set-up problem (client assertion).
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    /// The provider issued tokens of a type this gateway cannot use (RFC 6749 §7.1):
    /// the type, sanitised, or `(none)`.
    #[error("token endpoint issued token_type `{0}`, which this gateway cannot use (Bearer only)")]
    TokenType(String),
}

/// The access-token types this gateway knows how to use. RFC 6749 §7.1: a client must
/// not use an access token whose type it does not understand; a `mac` or unknown type
/// is not a bearer token, and presenting it as one would be wrong. `DPoP` (RFC 9449)
/// joins this list when sender-constrained tokens are supported.
pub const USABLE_TOKEN_TYPES: &[&str] = &["Bearer"];

/// Whether a token response's `token_type` is one of [`USABLE_TOKEN_TYPES`] (compared
/// case-insensitively: RFC 6749 §5.1).
pub fn is_usable_token_type(token_type: &str) -> bool {
    USABLE_TOKEN_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(token_type))
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// Exchanges an authorization code (with its PKCE verifier).
pub async fn exchange_code(
    http: &IdpClient,
    auth: &ClientAuthenticator,
    token_endpoint: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<TokenResponse, TokenError> {
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    token_call(http, auth, token_endpoint, &fields).await
}

/// Uses a refresh token.
pub async fn refresh(
    http: &IdpClient,
    auth: &ClientAuthenticator,
    token_endpoint: &str,
    refresh_token: &str,
) -> Result<TokenResponse, TokenError> {
    let fields = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token_call(http, auth, token_endpoint, &fields).await
}

/// Revokes a token (RFC 7009) with its type hint. Best effort: the caller logs failures.
pub async fn revoke(
    http: &IdpClient,
    auth: &ClientAuthenticator,
    revocation_endpoint: &str,
    token: &str,
    hint: &str,
) -> Result<(), TokenError> {
    let fields = [("token", token), ("token_type_hint", hint)];
    let resp = authenticated_post(http, auth, revocation_endpoint, &fields).await?;
    if resp.status.is_success() {
        Ok(())
    } else {
        Err(TokenError::Refused(format!(
            "HTTP {}",
            resp.status.as_u16()
        )))
    }
}

async fn token_call(
    http: &IdpClient,
    auth: &ClientAuthenticator,
    endpoint: &str,
    fields: &[(&str, &str)],
) -> Result<TokenResponse, TokenError> {
    let resp = authenticated_post(http, auth, endpoint, fields).await?;
    let status = resp.status.as_u16();
    if resp.status.is_success() {
        let tokens = serde_json::from_slice::<TokenResponse>(&resp.body)
            .map_err(|_| TokenError::Unavailable("token response is not valid JSON".into()))?;
        if !is_usable_token_type(&tokens.token_type) {
            let shown = match sanitize(&tokens.token_type) {
                t if t.is_empty() => "(none)".to_owned(),
                t => t,
            };
            return Err(TokenError::TokenType(shown));
        }
        return Ok(tokens);
    }
    if (400..500).contains(&status) && !transient(status) {
        // 400/401 with an OAuth error body: the grant or the client was refused.
        let code = serde_json::from_slice::<ErrorBody>(&resp.body)
            .map(|b| sanitize(&b.error))
            .unwrap_or_else(|_| format!("HTTP {status}"));
        return Err(TokenError::Refused(code));
    }
    Err(TokenError::Unavailable(format!("HTTP {status}")))
}

/// A 4xx that says "not now" rather than "no": timeout, too early, rate limited. A
/// refresh that meets it must not end the session.
fn transient(status: u16) -> bool {
    matches!(status, 408 | 425 | 429)
}

/// POSTs `fields` to `endpoint` with the client's authentication added (form fields or
/// HTTP Basic, per the configured method).
async fn authenticated_post(
    http: &IdpClient,
    auth: &ClientAuthenticator,
    endpoint: &str,
    fields: &[(&str, &str)],
) -> Result<crate::idp::IdpResponse, TokenError> {
    let applied = auth.apply(endpoint)?;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.extend(applied.form.iter().map(|(k, v)| (*k, v.as_str())));
    let basic = applied
        .basic
        .as_ref()
        .map(|(i, s)| (i.as_str(), s.as_str()));
    http.post_form(endpoint, &form, basic)
        .await
        .map_err(unavailable)
}

fn unavailable(e: HttpError) -> TokenError {
    TokenError::Unavailable(e.to_string())
}

/// Keeps an OAuth error code printable and short for logs.
fn sanitize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_in_any_case_is_usable() {
        for ok in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            assert!(is_usable_token_type(ok), "{ok}");
        }
        for bad in [
            "", "mac", "MAC", "DPoP", "N_A", "Bearer ", " Bearer", "Bearerx", "Basic",
        ] {
            assert!(!is_usable_token_type(bad), "{bad:?}");
        }
    }
}
