//! Discovering a provider: resolving its endpoints (OpenID discovery, RFC 8414 metadata,
//! config; see `oidc::metadata`), installing them with the JWT validator they imply, and
//! warming the JWKS. Must never install metadata for another issuer (the resolver checks
//! every document) and never drop a working snapshot because a refresh failed.

use std::sync::Arc;
use std::time::Instant;

use super::{Discovered, ProviderError, ProviderRuntime};
use crate::auth::jwt::JwtValidator;
use crate::oidc::metadata::{self, EndpointSources, Resolved};
use crate::oidc::IdpCall;

impl ProviderRuntime {
    /// Fetches and installs the provider's metadata, then warms the JWKS (a JWKS failure
    /// is logged and counted but does not fail discovery: keys are fetched again on
    /// demand). Logs where each endpoint came from.
    pub async fn discover(&self) -> Result<(), ProviderError> {
        let started = Instant::now();
        let previous = self.discovered.load_full().map(|d| Resolved {
            metadata: (*d.metadata).clone(),
            sources: d.sources,
        });
        let result = metadata::resolve(&self.client, &self.cfg, previous.as_ref()).await;
        self.observer.idp_call(
            &self.name,
            IdpCall::Discovery,
            started.elapsed(),
            result.is_ok(),
        );
        let Resolved { metadata, sources } = result.map_err(|source| ProviderError::Discovery {
            provider: self.cfg.name.clone(),
            source,
        })?;
        if self.introspector.is_some() && metadata.introspection_endpoint.is_none() {
            tracing::error!(
                provider = %self.name,
                "introspection is configured but neither discovery nor RFC 8414 metadata has \
                 an introspection_endpoint: set providers[].introspection_endpoint"
            );
        }
        let algs = JwtValidator::allowed_algs(
            self.cfg.signing_algs.as_deref(),
            metadata.id_token_signing_alg_values_supported.as_deref(),
        );
        let tokens = &self.cfg.tokens;
        let validator = JwtValidator::new(
            self.cfg.issuer.clone(),
            tokens.audiences.clone(),
            tokens.leeway,
            algs,
        );
        if let Some(old) = self.discovered.load().as_ref() {
            if old.validator.algs() != validator.algs() {
                // Tokens verified under the old allowlist must be judged again.
                self.verified.clear();
            }
        }
        let uri_changed = self.jwks.set_uri(&metadata.jwks_uri);
        self.discovered.store(Some(Arc::new(Discovered {
            metadata: Arc::new(metadata),
            sources,
            validator,
            at: Instant::now(),
        })));
        if uri_changed || self.jwks.is_stale() {
            if let Err(e) = self.jwks.refresh().await {
                tracing::warn!(provider = %self.name, error = %e, "JWKS warm-up failed");
            }
        }
        tracing::info!(provider = %self.name, endpoints = %sources, "provider discovered");
        Ok(())
    }

    /// Where each endpoint came from, once discovered.
    pub fn endpoint_sources(&self) -> Option<EndpointSources> {
        self.discovered.load().as_ref().map(|d| d.sources)
    }
}
