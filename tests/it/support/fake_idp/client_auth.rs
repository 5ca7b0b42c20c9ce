//! FakeIdp's registered code-flow client and how it must authenticate at the token and
//! revocation endpoints: `client_secret_basic`, `client_secret_post`, `private_key_jwt`
//! (RFC 7523 assertion, RS256 or ES256, checked strictly: signature, iss = sub =
//! client_id, audience, short future `exp`, unique `jti`) or `none` (public client).
//!
//! Also generates client key pairs: the gateway gets the private key as a PKCS#8 PEM
//! file, the provider only ever sees the public half.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, RsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use super::flow::Params;
use super::keys::pem;
use super::server::basic_credentials;

/// The client assertion type of RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Longest accepted client-assertion lifetime (`exp` - now), in seconds.
pub const MAX_ASSERTION_SECS: u64 = 300;

/// How the registered client must authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// `Authorization: Basic` with form-urlencoded id and this secret.
    SecretBasic(String),
    /// `client_id` and this `client_secret` in the body.
    SecretPost(String),
    /// A JWT client assertion verified with this public key.
    PrivateKeyJwt(ClientPublicKey),
    /// Public client: only `client_id` (PKCE is mandatory anyway).
    None,
}

/// The public half of a client's assertion key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPublicKey {
    /// `RS256` or `ES256`.
    pub alg: &'static str,
    /// PKCS#1 `RSAPublicKey` DER, or the uncompressed P-256 point.
    der: Vec<u8>,
}

/// A client key pair for `private_key_jwt`.
pub struct ClientKey {
    pkcs8: Vec<u8>,
    public: ClientPublicKey,
}

impl ClientKey {
    /// A fresh RSA 2048 key (RS256).
    pub fn rsa() -> ClientKey {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA keygen");
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("pkcs8");
        let der = pair.public_key().as_ref().to_vec();
        ClientKey {
            pkcs8: pkcs8.as_ref().to_vec(),
            public: ClientPublicKey { alg: "RS256", der },
        }
    }

    /// A fresh P-256 key (ES256).
    pub fn ec() -> ClientKey {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC keygen");
        let pkcs8 = pair.to_pkcs8v1().expect("pkcs8").as_ref().to_vec();
        let der = pair.public_key().as_ref().to_vec();
        ClientKey {
            pkcs8,
            public: ClientPublicKey { alg: "ES256", der },
        }
    }

    /// The private key as a PKCS#8 `PRIVATE KEY` PEM.
    pub fn private_pem(&self) -> String {
        pem("PRIVATE KEY", &self.pkcs8)
    }

    /// Writes [`ClientKey::private_pem`] to `dir/client-<alg>.pem` and returns the path.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("client-{}.pem", self.public.alg.to_lowercase()));
        std::fs::write(&path, self.private_pem()).expect("write client key");
        path
    }

    /// A compact JWS over `claims` (header `alg` + `typ: JWT`), as a client would sign
    /// its assertion.
    pub fn sign_jwt(&self, claims: &Value) -> String {
        let header = serde_json::json!({"alg": self.public.alg, "typ": "JWT"});
        let msg = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = if self.public.alg == "RS256" {
            let pair = RsaKeyPair::from_pkcs8(&self.pkcs8).expect("RSA pkcs8");
            let mut sig = vec![0u8; pair.public_modulus_len()];
            pair.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                msg.as_bytes(),
                &mut sig,
            )
            .expect("RSA sign");
            sig
        } else {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8)
                .expect("EC pkcs8");
            pair.sign(&rng, msg.as_bytes())
                .expect("EC sign")
                .as_ref()
                .to_vec()
        };
        format!("{msg}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// The public half, for [`ClientAuthMethod::PrivateKeyJwt`].
    pub fn public_key(&self) -> ClientPublicKey {
        self.public.clone()
    }
}

/// The code-flow client the provider knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowClient {
    /// `client_id`.
    pub client_id: String,
    /// How it authenticates.
    pub auth: ClientAuthMethod,
    /// The one registered `redirect_uri` (compared exactly).
    pub redirect_uri: String,
}

/// What a token or revocation request presented as client authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuthUsed {
    /// `Authorization: Basic` (decoded id and secret).
    Basic(String, String),
    /// `client_id` + `client_secret` in the body.
    Post(String, String),
    /// A client assertion (the form's `client_id`, if any, and the assertion's claims).
    PrivateKeyJwt(Option<String>, Value),
    /// Only `client_id` in the body.
    None(String),
    /// Nothing identifying a client.
    Missing,
    /// More than one method at once (RFC 6749 §2.3 forbids it).
    Several,
}

/// Reads the client authentication a request presented.
pub(crate) fn presented(headers: &http::HeaderMap, form: &Params) -> ClientAuthUsed {
    let basic = basic_credentials(headers);
    let assertion =
        form.get("client_assertion").is_some() || form.get("client_assertion_type").is_some();
    let secret = form.get("client_secret").is_some();
    if usize::from(basic.is_some()) + usize::from(assertion) + usize::from(secret) > 1 {
        return ClientAuthUsed::Several;
    }
    let id = form.get("client_id").map(str::to_owned);
    if let Some((id, secret)) = basic {
        return ClientAuthUsed::Basic(id, secret);
    }
    if assertion {
        let claims = form
            .get("client_assertion")
            .and_then(|a| a.split('.').nth(1))
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        return ClientAuthUsed::PrivateKeyJwt(id, claims);
    }
    match (id, form.get("client_secret")) {
        (Some(id), Some(secret)) => ClientAuthUsed::Post(id, secret.to_owned()),
        (Some(id), None) => ClientAuthUsed::None(id),
        (None, _) => ClientAuthUsed::Missing,
    }
}

/// Checks `used` against the registered `client`. `audiences` are the accepted assertion
/// audiences (the token endpoint URL first). Err carries the reason (sent as
/// `error_description`, for test diagnostics).
pub(crate) fn authenticate(
    client: &FlowClient,
    used: &ClientAuthUsed,
    form: &Params,
    audiences: &[String],
    jtis: &mut HashSet<String>,
    now: u64,
) -> Result<(), String> {
    let id = &client.client_id;
    match (&client.auth, used) {
        (ClientAuthMethod::SecretBasic(s), ClientAuthUsed::Basic(i, p)) => (i == id && p == s)
            .then_some(())
            .ok_or("wrong Basic credentials".into()),
        (ClientAuthMethod::SecretPost(s), ClientAuthUsed::Post(i, p)) => (i == id && p == s)
            .then_some(())
            .ok_or("wrong client_id/client_secret".into()),
        (ClientAuthMethod::None, ClientAuthUsed::None(i)) => {
            (i == id).then_some(()).ok_or("unknown client_id".into())
        }
        (ClientAuthMethod::PrivateKeyJwt(key), ClientAuthUsed::PrivateKeyJwt(form_id, _)) => {
            if form_id.as_ref().is_some_and(|f| f != id) {
                return Err("client_id differs from the assertion's client".into());
            }
            if form.get("client_assertion_type") != Some(JWT_BEARER) {
                return Err(format!("client_assertion_type must be {JWT_BEARER}"));
            }
            let assertion = form.get("client_assertion").unwrap_or_default();
            verify_assertion(assertion, key, id, audiences, jtis, now)
        }
        (expected, got) => Err(format!(
            "client must authenticate with {}, presented {got:?}",
            method_name(expected)
        )),
    }
}

/// The configuration name of a method.
pub fn method_name(m: &ClientAuthMethod) -> &'static str {
    match m {
        ClientAuthMethod::SecretBasic(_) => "client_secret_basic",
        ClientAuthMethod::SecretPost(_) => "client_secret_post",
        ClientAuthMethod::PrivateKeyJwt(_) => "private_key_jwt",
        ClientAuthMethod::None => "none",
    }
}

fn verify_assertion(
    jwt: &str,
    key: &ClientPublicKey,
    client_id: &str,
    audiences: &[String],
    jtis: &mut HashSet<String>,
    now: u64,
) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err("client_assertion is not a compact JWS".into());
    };
    let decode = |x: &str| {
        URL_SAFE_NO_PAD
            .decode(x)
            .map_err(|_| "bad base64url".to_owned())
    };
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| "header not JSON")?;
    let claims: Value = serde_json::from_slice(&decode(p)?).map_err(|_| "claims not JSON")?;
    if header["alg"] != key.alg {
        return Err(format!(
            "assertion alg {} but the key is {}",
            header["alg"], key.alg
        ));
    }
    let msg = format!("{h}.{p}");
    let sig = decode(s)?;
    let ok = if key.alg == "RS256" {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.der).verify(msg.as_bytes(), &sig)
    } else {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.der).verify(msg.as_bytes(), &sig)
    };
    ok.map_err(|_| "assertion signature does not verify".to_owned())?;
    if claims["iss"] != client_id || claims["sub"] != client_id {
        return Err("assertion iss and sub must both be the client_id".into());
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => audiences.contains(a),
        Value::Array(list) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
        _ => false,
    };
    if !aud_ok {
        return Err(format!(
            "assertion aud {} is not the token endpoint",
            claims["aud"]
        ));
    }
    let exp = claims["exp"]
        .as_u64()
        .ok_or("assertion without numeric exp")?;
    if exp <= now {
        return Err("assertion expired".into());
    }
    if exp > now + MAX_ASSERTION_SECS {
        return Err("assertion lives longer than 5 minutes".into());
    }
    if claims["iat"].as_u64().is_some_and(|iat| iat > now + 60) {
        return Err("assertion issued in the future".into());
    }
    let jti = claims["jti"].as_str().filter(|j| !j.is_empty());
    let jti = jti.ok_or("assertion without jti")?;
    if !jtis.insert(jti.to_owned()) {
        return Err("assertion jti replayed".into());
    }
    Ok(())
}
