//! Refresh-token use, coalesced: concurrent requests of one session cause one call to
//! the token endpoint, and the result stays available for a short grace window so that
//! parallel requests still carrying the just-rotated refresh token get the new tokens
//! instead of an `invalid_grant` (which would log the user out). Failures are never kept.

use std::sync::Arc;
use std::time::Duration;

use super::client_auth::ClientAuthenticator;
use super::http::IdpClient;
use super::tokens::{self, TokenError, TokenResponse};
use crate::auth::credentials::TokenHash;

/// How long a refresh result is reused for the same (old) refresh token.
pub const GRACE: Duration = Duration::from_secs(30);
/// Bound on remembered refresh results.
const CAPACITY: u64 = 10_000;

/// The coalescer; one per snapshot.
pub struct Refresher {
    results: moka::future::Cache<TokenHash, Arc<TokenResponse>>,
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
    /// within the grace window.
    pub async fn refresh(
        &self,
        http: &IdpClient,
        auth: &ClientAuthenticator,
        token_endpoint: &str,
        refresh_token: &str,
    ) -> Result<Arc<TokenResponse>, Arc<TokenError>> {
        let key = TokenHash::of(refresh_token);
        self.results
            .try_get_with(key, async {
                tokens::refresh(http, auth, token_endpoint, refresh_token)
                    .await
                    .map(Arc::new)
            })
            .await
    }
}
