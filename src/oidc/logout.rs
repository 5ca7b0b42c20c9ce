//! Sign-out: ends the session (every cookie chunk), revokes the refresh token then the
//! access token at the provider (RFC 7009, with `token_type_hint`), and sends the browser
//! to the provider's end_session endpoint (RP-initiated logout) or to the safe `rd` /
//! `logout_redirect`. With the cookie store a copied cookie stays valid until it
//! expires: only a server-side store can revoke it everywhere.

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body_util::Full;

use super::login::redirect;
use super::provider::ProviderRuntime;
use super::sso::Sso;
use super::tokens;
use crate::error::GatewayError;
use crate::idp::form_encode;
use crate::session::cookie::RequestCookies;
use crate::session::unix_now;

/// Handles `/oauth2/sign_out`. `after` is the validated absolute URL to land on;
/// `come_back` is this endpoint's own absolute URL, sent to the provider as
/// `post_logout_redirect_uri` (providers accept only registered, exactly matching URIs,
/// so it is always the same) with `after` in `state`.
pub async fn sign_out(
    sso: &Sso,
    providers: &[std::sync::Arc<ProviderRuntime>],
    headers: &HeaderMap,
    after: String,
    come_back: &str,
) -> Result<Response<Full<Bytes>>, GatewayError> {
    let cookies = RequestCookies::from_headers(headers);
    // Redis unreachable: 503 rather than a sign-out that leaves the record alive.
    let session = sso
        .store
        .load(&cookies, unix_now())
        .await
        .map_err(|e| GatewayError::Unavailable(e.to_string()))?;
    let deletions = sso.store.delete(&cookies).await;
    let Some(session) = session else {
        return redirect(&after, deletions);
    };
    let found = providers
        .iter()
        .enumerate()
        .find(|(_, p)| p.name() == session.provider);
    let Some((index, provider)) = found else {
        return redirect(&after, deletions);
    };
    let meta = provider.metadata();
    if let (Some(endpoint), Some(client)) = (
        meta.as_ref().and_then(|m| m.revocation_endpoint.as_deref()),
        sso.clients.get(index),
    ) {
        // Refresh token first: it is the long-lived one (RFC 7009 §2.1 also lets the
        // provider drop the access tokens issued from it).
        let pairs = [
            (session.refresh_token.as_deref(), "refresh_token"),
            (session.access_token.as_deref(), "access_token"),
        ];
        for (token, hint) in pairs {
            if let Some(token) = token {
                if let Err(e) =
                    tokens::revoke(provider.client(), client, endpoint, token, hint).await
                {
                    tracing::warn!(provider = provider.name(), hint, error = %e, "token revocation failed");
                }
            }
        }
    }
    let target = match meta
        .as_ref()
        .and_then(|m| m.end_session_endpoint.as_deref())
    {
        Some(end_session) => {
            let cfg = provider.config();
            let mut params: Vec<(&str, &str)> = vec![
                ("post_logout_redirect_uri", come_back),
                ("state", after.as_str()),
                ("client_id", cfg.client_id.as_str()),
            ];
            if let Some(id_token) = session.id_token.as_deref() {
                params.push(("id_token_hint", id_token));
            }
            let sep = if end_session.contains('?') { '&' } else { '?' };
            format!("{end_session}{sep}{}", form_encode(&params))
        }
        None => after,
    };
    tracing::info!(provider = provider.name(), "signed out");
    redirect(&target, deletions)
}
