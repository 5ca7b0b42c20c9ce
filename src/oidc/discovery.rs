//! The OpenID Provider discovery document: fetching it, parsing it, and checking that it
//! describes the issuer we were configured for.
//!
//! Must never accept a document whose `issuer` differs from the configured one (OIDC
//! Discovery §4.3: that would let one provider speak for another) and never follows
//! redirects to find it.

use serde::Deserialize;
use thiserror::Error;

use crate::idp::{HttpError, IdpClient};

/// The fields of a discovery document the gateway uses; unknown fields are ignored.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// Issuer identifier; equal to the configured issuer (checked).
    pub issuer: String,
    /// Where the signing keys are (empty only in a document [`parse_document`] read:
    /// RFC 8414 makes it optional, and the config may give it).
    #[serde(default)]
    pub jwks_uri: String,
    /// Browser login endpoint.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Code/refresh exchange endpoint.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Userinfo endpoint.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// RFC 7662 introspection endpoint.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// RP-initiated logout endpoint.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// Algorithms the provider signs ID tokens with.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// Client authentication methods at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// PKCE methods.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207: the provider puts `iss` into every authorization response, so one
    /// without it is refused (a mix-up attack). Taken as given; only `true` counts.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<serde_json::Value>,
}

impl ProviderMetadata {
    /// Whether authorization responses must carry `iss` (RFC 9207 §3).
    pub fn requires_iss(&self) -> bool {
        self.authorization_response_iss_parameter_supported == Some(serde_json::Value::Bool(true))
    }
}

/// Why discovery failed.
#[derive(Debug, Error)]
pub enum DiscoveryError {
    /// The document could not be fetched.
    #[error("fetching discovery document: {0}")]
    Http(#[from] HttpError),
    /// The document is not a valid discovery JSON object.
    #[error("parsing discovery document: {0}")]
    Parse(String),
    /// Neither the OpenID discovery document nor RFC 8414 metadata was found.
    #[error("no discovery document ({discovery}) and no RFC 8414 metadata ({rfc8414})")]
    Missing {
        /// Why discovery failed.
        discovery: String,
        /// Why every RFC 8414 location failed.
        rfc8414: String,
    },
    /// The document names another issuer.
    #[error("discovery issuer `{found}` differs from configured `{expected}`")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// What the document says.
        found: String,
    },
}

/// Fetches `url` and validates it against `issuer`.
pub async fn fetch(
    client: &IdpClient,
    url: &str,
    issuer: &str,
) -> Result<ProviderMetadata, DiscoveryError> {
    let response = client.get(url, "application/json").await?.success()?;
    parse(&response.body, issuer)
}

/// Fetches a metadata document (OpenID discovery or RFC 8414) at `url` and checks its
/// issuer; a missing `jwks_uri` is left for the caller to find elsewhere.
pub async fn fetch_document(
    client: &IdpClient,
    url: &str,
    issuer: &str,
) -> Result<ProviderMetadata, DiscoveryError> {
    let response = client.get(url, "application/json").await?.success()?;
    parse_document(&response.body, issuer)
}

/// Parses a discovery document and checks its issuer (exact string equality, no
/// trailing-slash or case normalisation: the spec requires identity) and its `jwks_uri`.
pub fn parse(body: &[u8], issuer: &str) -> Result<ProviderMetadata, DiscoveryError> {
    let metadata = parse_document(body, issuer)?;
    if metadata.jwks_uri.is_empty() {
        return Err(DiscoveryError::Parse("jwks_uri is empty".into()));
    }
    Ok(metadata)
}

/// [`parse`] without the `jwks_uri` requirement (RFC 8414 §2 makes it optional); the
/// issuer check is the same (RFC 8414 §3.3 requires identity too).
pub fn parse_document(body: &[u8], issuer: &str) -> Result<ProviderMetadata, DiscoveryError> {
    let metadata: ProviderMetadata =
        serde_json::from_slice(body).map_err(|e| DiscoveryError::Parse(e.to_string()))?;
    if metadata.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: metadata.issuer,
        });
    }
    Ok(metadata)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::oidc::testkit::{json_response, response, FakeServer};
    use serde_json::json;
    use std::time::Duration;

    const ISS: &str = "https://idp.example.com/authentication";

    #[test]
    fn parses_and_ignores_unknown_fields() {
        let doc = json!({
            "issuer": ISS,
            "jwks_uri": "https://idp.example.com/jwks",
            "token_endpoint": "https://idp.example.com/token",
            "id_token_signing_alg_values_supported": ["RS256"],
            "registration_endpoint": "https://idp.example.com/register",
            "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code"],
        });
        let m = parse(doc.to_string().as_bytes(), ISS).unwrap();
        assert_eq!(m.jwks_uri, "https://idp.example.com/jwks");
        assert_eq!(
            m.id_token_signing_alg_values_supported.as_deref(),
            Some(&["RS256".to_string()][..])
        );
        assert_eq!(m.userinfo_endpoint, None);
    }

    #[test]
    fn issuer_must_match_exactly() {
        for other in [
            "https://idp.example.com/authentication/",
            "https://IDP.example.com/authentication",
            "https://evil.example.com/authentication",
        ] {
            let doc = json!({"issuer": other, "jwks_uri": "https://x/jwks"});
            assert!(matches!(
                parse(doc.to_string().as_bytes(), ISS),
                Err(DiscoveryError::IssuerMismatch { .. })
            ));
        }
    }

    #[test]
    fn rejects_missing_required_fields_and_non_json() {
        assert!(parse(json!({"issuer": ISS}).to_string().as_bytes(), ISS).is_err());
        assert!(parse(json!({"jwks_uri": "x"}).to_string().as_bytes(), ISS).is_err());
        assert!(parse(b"<html>", ISS).is_err());
        assert!(parse(b"[]", ISS).is_err());
        let empty = json!({"issuer": ISS, "jwks_uri": ""});
        assert!(parse(empty.to_string().as_bytes(), ISS).is_err());
    }

    #[tokio::test]
    async fn fetches_from_a_non_standard_path() {
        let server = FakeServer::start(|seen| async move {
            match seen.path.as_str() {
                "/authentication/.well-known/oidc-configuration" => json_response(
                    200,
                    &json!({"issuer": "ISSUER", "jwks_uri": "http://127.0.0.1/jwks"}),
                ),
                _ => response(404, "text/plain", None, "no"),
            }
        })
        .await;
        let client = IdpClient::new(None, Duration::from_secs(5)).unwrap();
        let url = server.url("/authentication/.well-known/oidc-configuration");
        let m = fetch(&client, &url, "ISSUER").await.unwrap();
        assert_eq!(m.issuer, "ISSUER");
        let missing = fetch(&client, &server.url("/nope"), "ISSUER").await;
        assert!(matches!(
            missing,
            Err(DiscoveryError::Http(HttpError::Status(404)))
        ));
    }
}
