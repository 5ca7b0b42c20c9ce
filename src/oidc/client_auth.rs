//! How the gateway authenticates itself to a provider's token, revocation and
//! introspection endpoints: client_secret_basic, client_secret_post, private_key_jwt
//! (RFC 7523 client assertion, RS256 or ES256, signed with aws-lc-rs, a fresh `jti` per
//! call) or none (public client + PKCE).
//!
//! Keys are loaded once per provider runtime; nothing here logs a secret or a key.

use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use thiserror::Error;

use crate::auth::jwt::unix_now;
use crate::config::{ClientAuth, IntrospectionConfig, ProviderConfig, Secret};

/// The client-assertion type of RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of a client assertion: short, it is used once right away.
const ASSERTION_LIFETIME_SECS: u64 = 60;

/// A private key usable for client assertions.
enum AssertionKey {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(aws_lc_rs::signature::EcdsaKeyPair),
}

/// The configured client authentication, ready to use.
pub struct ClientAuthenticator {
    client_id: String,
    method: ClientAuth,
    secret: Option<String>,
    key: Option<Arc<AssertionKey>>,
}

/// Why the client authentication could not be set up or applied.
#[derive(Debug, Error)]
pub enum ClientAuthError {
    /// The private key file is unreadable or not an RSA / P-256 key.
    #[error("private_key_file {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A secret-based method without a secret.
    #[error("client_secret is required for {0}")]
    MissingSecret(&'static str),
    /// private_key_jwt without a key.
    #[error("private_key_file is required for private_key_jwt")]
    MissingKey,
    /// Signing failed.
    #[error("client assertion could not be signed")]
    Sign,
}

/// What to add to a token/revocation request.
pub struct AppliedAuth {
    /// Form fields to add to the body.
    pub form: Vec<(&'static str, String)>,
    /// HTTP Basic credentials (client_secret_basic).
    pub basic: Option<(String, String)>,
}

impl AppliedAuth {
    /// `fields` followed by the authentication's form fields.
    pub fn with_fields<'a>(&'a self, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut form = fields.to_vec();
        form.extend(self.form.iter().map(|(k, v)| (*k, v.as_str())));
        form
    }

    /// The HTTP Basic credentials, as `IdpClient::post_form` takes them.
    pub fn basic_pair(&self) -> Option<(&str, &str)> {
        self.basic.as_ref().map(|(i, s)| (i.as_str(), s.as_str()))
    }
}

impl ClientAuthenticator {
    /// Prepares the provider's client authentication (loads the private key when
    /// private_key_jwt has one). Credentials a bearer-only provider may lack are not
    /// required here: [`ClientAuthenticator::apply`] refuses, and
    /// [`ClientAuthenticator::is_usable`] says so before a login starts.
    pub fn new(cfg: &ProviderConfig) -> Result<ClientAuthenticator, ClientAuthError> {
        Self::build(
            &cfg.client_id,
            cfg.client_auth,
            cfg.client_secret.as_ref(),
            cfg.private_key_file.as_deref(),
        )
    }

    /// The introspection client's authentication (`tokens.introspection`): its own id,
    /// method, secret, and key (validation resolved the provider's key as the default).
    pub fn for_introspection(
        cfg: &IntrospectionConfig,
    ) -> Result<ClientAuthenticator, ClientAuthError> {
        Self::build(
            &cfg.client_id,
            cfg.auth_method,
            cfg.client_secret.as_ref(),
            cfg.private_key_file.as_deref(),
        )
    }

    fn build(
        client_id: &str,
        method: ClientAuth,
        secret: Option<&Secret>,
        key_file: Option<&Path>,
    ) -> Result<ClientAuthenticator, ClientAuthError> {
        let key = match (method, key_file) {
            (ClientAuth::PrivateKeyJwt, Some(path)) => Some(Arc::new(load_key(path)?)),
            _ => None,
        };
        Ok(ClientAuthenticator {
            client_id: client_id.to_owned(),
            method,
            secret: secret.map(|s| s.expose().to_owned()),
            key,
        })
    }

    /// Whether the configured method has what it needs (a secret, a key).
    pub fn is_usable(&self) -> bool {
        match self.method {
            ClientAuth::ClientSecretBasic | ClientAuth::ClientSecretPost => self.secret.is_some(),
            ClientAuth::PrivateKeyJwt => self.key.is_some(),
            ClientAuth::None => true,
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The authentication for one request to `endpoint` (the assertion's audience).
    pub fn apply(&self, endpoint: &str) -> Result<AppliedAuth, ClientAuthError> {
        let id = self.client_id.clone();
        Ok(match self.method {
            ClientAuth::ClientSecretBasic => {
                let secret = self
                    .secret
                    .clone()
                    .ok_or(ClientAuthError::MissingSecret("client_secret_basic"))?;
                AppliedAuth {
                    form: Vec::new(),
                    basic: Some((id, secret)),
                }
            }
            ClientAuth::ClientSecretPost => {
                let secret = self
                    .secret
                    .clone()
                    .ok_or(ClientAuthError::MissingSecret("client_secret_post"))?;
                AppliedAuth {
                    form: vec![("client_id", id), ("client_secret", secret)],
                    basic: None,
                }
            }
            ClientAuth::PrivateKeyJwt => {
                let assertion = self.assertion(endpoint)?;
                AppliedAuth {
                    form: vec![
                        ("client_id", id),
                        ("client_assertion_type", JWT_BEARER_ASSERTION.to_owned()),
                        ("client_assertion", assertion),
                    ],
                    basic: None,
                }
            }
            ClientAuth::None => AppliedAuth {
                form: vec![("client_id", id)],
                basic: None,
            },
        })
    }

    /// An RFC 7523 client assertion: iss = sub = client_id, aud = endpoint, unique jti,
    /// exp one minute ahead.
    fn assertion(&self, endpoint: &str) -> Result<String, ClientAuthError> {
        let key = self.key.as_ref().ok_or(ClientAuthError::MissingKey)?;
        let alg = match **key {
            AssertionKey::Rsa(_) => "RS256",
            AssertionKey::Ec(_) => "ES256",
        };
        let now = unix_now() as u64;
        let header = serde_json::json!({ "alg": alg, "typ": "JWT" });
        let claims = serde_json::json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": endpoint,
            "jti": random_token().ok_or(ClientAuthError::Sign)?,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let mut signing_input = URL_SAFE_NO_PAD.encode(header.to_string());
        signing_input.push('.');
        signing_input.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let signature = match &**key {
            AssertionKey::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    signing_input.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| ClientAuthError::Sign)?;
                sig
            }
            AssertionKey::Ec(kp) => kp
                .sign(&rng, signing_input.as_bytes())
                .map_err(|_| ClientAuthError::Sign)?
                .as_ref()
                .to_vec(),
        };
        signing_input.push('.');
        signing_input.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(signing_input)
    }
}

fn load_key(path: &Path) -> Result<AssertionKey, ClientAuthError> {
    let err = |reason: String| ClientAuthError::Key {
        path: path.display().to_string(),
        reason,
    };
    let der = PrivateKeyDer::from_pem_file(path).map_err(|e| err(e.to_string()))?;
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    match &der {
        PrivateKeyDer::Pkcs8(p8) => {
            let bytes = p8.secret_pkcs8_der();
            if let Ok(kp) = aws_lc_rs::rsa::KeyPair::from_pkcs8(bytes) {
                return Ok(AssertionKey::Rsa(kp));
            }
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, bytes)
                .map(AssertionKey::Ec)
                .map_err(|_| err("not an RSA or P-256 private key".into()))
        }
        PrivateKeyDer::Pkcs1(p1) => aws_lc_rs::rsa::KeyPair::from_der(p1.secret_pkcs1_der())
            .map(AssertionKey::Rsa)
            .map_err(|_| err("unusable RSA private key".into())),
        PrivateKeyDer::Sec1(s1) => EcdsaKeyPair::from_private_key_der(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            s1.secret_sec1_der(),
        )
        .map(AssertionKey::Ec)
        .map_err(|_| err("not a P-256 private key".into())),
        _ => Err(err("unsupported private key format".into())),
    }
}

/// 256 random bits, base64url (state, nonce, PKCE verifier, jti); `None` when the system
/// has no randomness to give (aws-lc's DRBG fails only without an OS entropy source):
/// the caller fails closed rather than use a predictable value.
pub fn random_token() -> Option<String> {
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw).ok()?;
    Some(URL_SAFE_NO_PAD.encode(raw))
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_unique_and_url_safe() {
        let a = random_token().expect("randomness");
        assert_ne!(a, random_token().expect("randomness"));
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
