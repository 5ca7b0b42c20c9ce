//! Refresh-token use, coalesced: concurrent requests of one session cause one call to
//! the token endpoint, and the result stays available for a short grace window so that
//! parallel requests still carrying the just-rotated refresh token get the new tokens
//! instead of an `invalid_grant` (which would log the user out). Failures are never kept.

use std::sync::Arc;
use std::time::Duration;

use super::tokens::{self, TokenError, TokenResponse};
use crate::idp::client_auth::ClientAuthenticator;
use crate::idp::IdpClient;

use crate::auth::credentials::TokenHash;

/// How long a refresh result is reused for the same (old) refresh token.
pub const GRACE: Duration = Duration::from_secs(30);
/// Bound on remembered refresh results.
const CAPACITY: u64 = 10_000;

/// A refresh result and when it was obtained (its `expires_in` counts from then).
pub struct Refreshed {
    /// The token response.
    pub tokens: TokenResponse,
    /// Unix seconds when the provider answered.
    pub obtained_at: u64,
}

impl Refreshed {
    /// When the new access token expires, if the provider said.
    pub fn expires_at(&self) -> Option<u64> {
        self.tokens
            .expires_in
            .map(|s| self.obtained_at.saturating_add(s))
    }
}

/// The coalescer; one per snapshot.
pub struct Refresher {
    results: moka::future::Cache<TokenHash, Arc<Refreshed>>,
}

impl Default for Refresher {
    fn default() -> Self {
        Refresher::new()
    }
}

impl Refresher {
    /// An empty coalescer.
    pub fn new() -> Refresher {
        Refresher {
            results: moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(GRACE)
                .build(),
        }
    }

    /// Refreshes with `refresh_token`, or returns the result another request got for it
    /// within the grace window — unless the refresh token was not rotated (reusable) and
    /// that result's access token has expired by `fresh_until`, in which case it
    /// refreshes again.
    pub async fn refresh(
        &self,
        http: &IdpClient,
        auth: &ClientAuthenticator,
        token_endpoint: &str,
        refresh_token: &str,
        fresh_until: u64,
    ) -> Result<Arc<Refreshed>, Arc<TokenError>> {
        let key = TokenHash::of(refresh_token);
        if let Some(hit) = self.results.get(&key).await {
            // A rotated refresh token is spent: the remembered result is all there is.
            let rotated = hit
                .tokens
                .refresh_token
                .as_deref()
                .is_some_and(|new| new != refresh_token);
            if !rotated && hit.expires_at().is_some_and(|t| t <= fresh_until) {
                self.results.invalidate(&key).await;
            }
        }
        self.results
            .try_get_with(key, async {
                let tokens = tokens::refresh(http, auth, token_endpoint, refresh_token).await?;
                Ok(Arc::new(Refreshed {
                    tokens,
                    obtained_at: crate::session::unix_now(),
                }))
            })
            .await
    }
}
