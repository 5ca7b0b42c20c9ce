//! ID token validation for the browser login (OIDC Core §3.1.3.7): signature through the
//! same JWKS cache as bearer tokens (refetch on unknown kid, rate-limited), `iss` exact,
//! `aud` containing the client id, `azp` equal to the client id when present or when
//! there are several audiences, `exp`/`iat`/`nbf` with leeway, `nonce` equal to the
//! login attempt's. Never cached: each ID token is seen once.

use std::time::Duration;

use serde_json::Value;

use super::ProviderRuntime;
use crate::auth::jwks::KeyMiss;
use crate::auth::jwt::{self, JwtValidator};
use crate::auth::{AuthError, Claims};

impl ProviderRuntime {
    /// Validates an ID token received at the callback (or in a refresh response, where
    /// `nonce` is `None` and only the signature, issuer, audience and times are checked).
    pub async fn validate_id_token(
        &self,
        token: &str,
        nonce: Option<&str>,
        leeway: Duration,
    ) -> Result<Claims, AuthError> {
        let Some(discovered) = self.discovered.load_full() else {
            return Err(AuthError::IdpUnavailable(format!(
                "provider `{}` not discovered yet",
                self.name
            )));
        };
        let client_id = self.cfg.client_id.clone();
        let validator = JwtValidator::new(
            self.cfg.issuer.clone(),
            vec![client_id.clone()],
            leeway,
            discovered.validator.algs().to_vec(),
        );
        let invalid = |why: &str| AuthError::InvalidToken(format!("ID token: {why}"));
        if !jwt::looks_like_jwt(token) {
            return Err(invalid("not a JWS"));
        }
        let header = validator
            .id_token_header(token)
            .map_err(|e| invalid(&format!("{e:?}")))?;
        let kid = header.kid.as_deref();
        let mut keys = self
            .jwks
            .keys()
            .await
            .map_err(|e| AuthError::IdpUnavailable(e.to_string()))?;
        if let Err(KeyMiss::NotFound) = keys.find(kid, header.alg) {
            keys = self
                .jwks
                .refetch_for_unknown_key()
                .await
                .map_err(|e| AuthError::IdpUnavailable(e.to_string()))?;
        }
        let candidates = keys
            .find(kid, header.alg)
            .map_err(|m| invalid(&format!("{:?}", jwt::key_miss(m))))?;
        let (claims, _exp) = validator
            .verify(token, &header, candidates, jwt::unix_now())
            .map_err(|e| invalid(&format!("{e:?}")))?;
        if !claims.contains_key("iat") {
            return Err(invalid("iat missing"));
        }
        let several_audiences = matches!(claims.get("aud"), Some(Value::Array(a)) if a.len() > 1);
        match claims.get("azp") {
            Some(Value::String(azp)) if *azp == client_id => {}
            Some(_) => return Err(invalid("azp is not this client")),
            None if several_audiences => return Err(invalid("azp missing with several audiences")),
            None => {}
        }
        if let Some(expected) = nonce {
            match claims.get("nonce") {
                Some(Value::String(n)) if constant_time_eq(n.as_bytes(), expected.as_bytes()) => {}
                _ => return Err(invalid("nonce mismatch")),
            }
        }
        match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => return Err(invalid("sub missing")),
        }
        Ok(claims)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
