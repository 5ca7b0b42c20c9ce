//! `WWW-Authenticate` challenges: RFC 6750 §3 for bearer tokens, RFC 9449 §7 for DPoP
//! (with `algs`), the `ApiKey` scheme of API keys, and the `resource_metadata` parameter
//! of RFC 9728 §5.1. Every value written here is a configured name or a fixed word,
//! filtered so it cannot end a quoted-string or break the header.

use http::HeaderValue;

use super::GatewayError;
use crate::auth::dpop::{DpopError, DPOP_SCHEME, PROOF_ALGS};
use crate::auth::AuthError;

/// RFC 6750 §3 challenge: no error attribute when no credentials were sent (§3.1). A
/// route whose provider accepts other schemes (e.g. `Token`) challenges with those, one
/// challenge per scheme (RFC 9110 §11.6.1); `dpop` adds the proof algorithms it takes.
/// A DPoP proof failure challenges with `DPoP` only.
pub(super) fn challenge(
    err: &GatewayError,
    realm: Option<&str>,
    schemes: &[String],
    resource_metadata: Option<&str>,
) -> Option<HeaderValue> {
    let realm = quoted_safe(realm.unwrap_or("portcullis"));
    let params = match err {
        GatewayError::Auth(AuthError::Missing) => format!("realm=\"{realm}\""),
        GatewayError::Auth(AuthError::InvalidToken(_)) => {
            format!("realm=\"{realm}\", error=\"invalid_token\"")
        }
        GatewayError::Auth(AuthError::Malformed(_)) => {
            format!("realm=\"{realm}\", error=\"invalid_request\"")
        }
        GatewayError::Auth(AuthError::Dpop(DpopError::InvalidProof(_))) => {
            format!("realm=\"{realm}\", error=\"invalid_dpop_proof\"")
        }
        GatewayError::Auth(AuthError::Dpop(DpopError::UseNonce(_))) => {
            format!("realm=\"{realm}\", error=\"use_dpop_nonce\"")
        }
        GatewayError::InsufficientScope(scopes) => format!(
            "realm=\"{realm}\", error=\"insufficient_scope\", scope=\"{}\"",
            quoted_safe(scopes)
        ),
        _ => return None,
    };
    let dpop_only = [DPOP_SCHEME.to_owned()];
    let schemes = match err {
        GatewayError::Auth(AuthError::Dpop(_)) => &dpop_only[..],
        _ => schemes,
    };
    let mut value = String::new();
    for scheme in schemes.iter().map(String::as_str).chain(
        // No configured scheme: the standard one.
        schemes.is_empty().then_some("bearer"),
    ) {
        if !value.is_empty() {
            value.push_str(", ");
        }
        push_scheme(&mut value, scheme);
        value.push(' ');
        value.push_str(&params);
        if scheme == DPOP_SCHEME {
            value.push_str(", algs=\"");
            value.push_str(PROOF_ALGS);
            value.push('"');
        }
        if let Some(url) = resource_metadata {
            value.push_str(", resource_metadata=\"");
            value.push_str(&quoted_safe(url));
            value.push('"');
        }
    }
    HeaderValue::from_str(&value).ok()
}

/// `bearer` → `Bearer`, `dpop` → `DPoP`, `apikey` → `ApiKey`: the conventional
/// spellings (schemes are case-insensitive).
fn push_scheme(out: &mut String, scheme: &str) {
    match scheme {
        DPOP_SCHEME => return out.push_str("DPoP"),
        crate::auth::api_key::API_KEY_SCHEME => return out.push_str("ApiKey"),
        _ => {}
    }
    let mut chars = scheme
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(*c));
    if let Some(first) = chars.next() {
        out.push(first.to_ascii_uppercase());
        out.extend(chars);
    }
}

/// Keeps only characters that cannot end a quoted-string or break a header.
pub(super) fn quoted_safe(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::auth::dpop::ProofError;

    fn schemes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn dpop_and_api_key_challenges() {
        let s = schemes(&["bearer", "dpop", "apikey"]);
        let c = challenge(
            &GatewayError::Auth(AuthError::Missing),
            Some("api"),
            &s,
            None,
        )
        .unwrap();
        assert_eq!(
            c,
            format!(
                "Bearer realm=\"api\", DPoP realm=\"api\", algs=\"{PROOF_ALGS}\", ApiKey realm=\"api\""
            )
            .as_str()
        );
        let proof = GatewayError::Auth(AuthError::Dpop(DpopError::InvalidProof(ProofError::Htu)));
        let c = challenge(&proof, Some("api"), &s, None).unwrap();
        assert_eq!(
            c,
            format!("DPoP realm=\"api\", error=\"invalid_dpop_proof\", algs=\"{PROOF_ALGS}\"")
                .as_str()
        );
        let nonce = GatewayError::Auth(AuthError::Dpop(DpopError::UseNonce("n".into())));
        let c = challenge(&nonce, Some("api"), &s, None).unwrap();
        assert!(c
            .to_str()
            .unwrap()
            .starts_with("DPoP realm=\"api\", error=\"use_dpop_nonce\""));
    }

    #[test]
    fn resource_metadata_goes_into_every_challenge() {
        let s = schemes(&["bearer", "token"]);
        let url = "https://api.example.com/.well-known/oauth-protected-resource/mcp";
        let c = challenge(
            &GatewayError::InsufficientScope("a".into()),
            Some("mcp"),
            &s,
            Some(url),
        )
        .unwrap();
        assert_eq!(
            c,
            format!(
                "Bearer realm=\"mcp\", error=\"insufficient_scope\", scope=\"a\", \
                 resource_metadata=\"{url}\", Token realm=\"mcp\", error=\"insufficient_scope\", \
                 scope=\"a\", resource_metadata=\"{url}\""
            )
            .as_str()
        );
        assert!(challenge(&GatewayError::Forbidden("x"), None, &s, Some(url)).is_none());
    }
}
