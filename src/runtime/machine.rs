//! The machine-credential part of a snapshot: the API key store, the DPoP replay cache
//! and nonce key, the RFC 9728 documents, and per route the schemes it parses,
//! challenges with and strips. Built with the snapshot; the key store and the replay
//! cache carry over to the next snapshot (the store while its sources are unchanged).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::auth::api_key::{ApiKeyStore, API_KEY_SCHEME};
use crate::auth::dpop::nonce::NonceKey;
use crate::auth::dpop::replay::ReplayCache;
use crate::auth::dpop::DPOP_SCHEME;
use crate::config::{
    decode_session_secret, metadata_path, Config, DpopMode, HostMatch, RouteConfig,
};
use crate::metrics::Metrics;
use crate::oidc::sso::origin_of;

/// Shared machine-credential state of one snapshot.
pub struct MachineState {
    /// The API keys, when `api_keys` has sources.
    pub api_keys: Option<Arc<ApiKeyStore>>,
    /// DPoP proofs seen (when the session store is not Redis).
    pub replay: Arc<ReplayCache>,
    /// The key of DPoP server nonces.
    pub nonce: Arc<NonceKey>,
    /// RFC 9728 documents, by route.
    pub documents: Vec<ResourceDocument>,
}

/// One route's protected resource metadata.
pub struct ResourceDocument {
    /// Index of the route.
    pub route: usize,
    /// The path it is served at (`/.well-known/oauth-protected-resource/<prefix>`).
    pub path: String,
    /// The JSON document.
    pub body: Bytes,
}

/// A route's machine-credential settings, resolved against its provider.
#[derive(Debug, Clone, Default)]
pub struct RouteMachine {
    /// The `Authorization` schemes a token may come with (the provider's, and `dpop`).
    pub token_schemes: Vec<String>,
    /// The schemes a 401 challenges with.
    pub challenge_schemes: Vec<String>,
    /// The schemes whose `Authorization` never reaches the upstream unchecked.
    pub strip_schemes: Vec<String>,
    /// The URL of its RFC 9728 document, named in its challenges.
    pub resource_metadata: Option<String>,
    /// How old a DPoP proof may be (its provider's `dpop_window`).
    pub dpop_window: Duration,
    /// Clock skew allowed for proofs (its provider's `tokens.leeway`).
    pub leeway: Duration,
}

/// The per-process nonce key used when no session secret is shared between replicas.
static PROCESS_NONCE_KEY: OnceLock<Option<Arc<NonceKey>>> = OnceLock::new();

fn nonce_key(config: &Config) -> Result<Arc<NonceKey>, String> {
    if let Some(secret) = config.session.secrets.first() {
        if let Some(bytes) = decode_session_secret(secret) {
            return Ok(Arc::new(NonceKey::derive(&bytes)));
        }
    }
    if config.routes.iter().any(|r| r.machine.dpop_nonce) {
        tracing::info!(
            "DPoP nonces use a key of this process (no session.secrets): replicas behind one \
             address need a shared session secret to accept each other's nonces"
        );
    }
    PROCESS_NONCE_KEY
        .get_or_init(|| NonceKey::random().ok().map(Arc::new))
        .clone()
        .ok_or_else(|| "cannot draw a DPoP nonce key".to_owned())
}

impl MachineState {
    /// Builds the state for `config`, keeping what `previous` has that still fits.
    pub fn build(
        config: &Config,
        previous: Option<&MachineState>,
        metrics: &Metrics,
        stop: &CancellationToken,
    ) -> Result<MachineState, String> {
        let api_keys = if config.api_keys.sources.is_empty() {
            None
        } else {
            let kept = previous
                .and_then(|p| p.api_keys.as_ref())
                .filter(|s| s.serves(&config.api_keys))
                .cloned();
            match kept {
                Some(store) => Some(store),
                None => {
                    let store = Arc::new(ApiKeyStore::load(
                        &config.api_keys,
                        metrics.machine.clone(),
                    )?);
                    store.spawn_watch(stop.clone().cancelled_owned());
                    for (source, keys) in store.counts() {
                        tracing::info!(source = %source, keys, "API keys loaded");
                    }
                    Some(store)
                }
            }
        };
        let documents = config
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.machine.protected_resource_metadata)
            .map(|(route, r)| ResourceDocument {
                route,
                path: metadata_path(&r.path_prefix),
                body: document(config, r),
            })
            .collect();
        Ok(MachineState {
            api_keys,
            replay: previous.map_or_else(Default::default, |p| p.replay.clone()),
            nonce: nonce_key(config)?,
            documents,
        })
    }
}

/// `scheme://authority` a route's resource lives at: `server.public_url`, with the
/// route's own host when it is bound to one exact host.
fn resource_origin(config: &Config, route: &RouteConfig) -> Option<String> {
    let public = config.server.public_url.as_ref()?;
    Some(match &route.host {
        Some(HostMatch::Exact(host)) if public.host() != Some(host.as_str()) => {
            format!("{}://{host}", public.scheme_str().unwrap_or("https"))
        }
        _ => origin_of(public),
    })
}

/// The resource identifier: origin + prefix without its trailing slash (RFC 9728 §1.2).
fn resource(origin: &str, route: &RouteConfig) -> String {
    format!("{origin}{}", route.path_prefix.trim_end_matches('/'))
}

/// The RFC 9728 §2 document of `route`.
fn document(config: &Config, route: &RouteConfig) -> Bytes {
    let origin = resource_origin(config, route).unwrap_or_default();
    let issuers: Vec<&str> = route
        .provider
        .and_then(|i| config.providers.get(i))
        .map(|p| p.issuer.as_str())
        .into_iter()
        .collect();
    let mut doc = json!({
        "resource": resource(&origin, route),
        "authorization_servers": issuers,
        "bearer_methods_supported": ["header"],
    });
    if !route.allow.scopes.is_empty() {
        doc["scopes_supported"] = json!(route.allow.scopes);
    }
    if route.machine.dpop != DpopMode::Off {
        let algs: Vec<&str> = crate::auth::dpop::PROOF_ALGS.split(' ').collect();
        doc["dpop_signing_alg_values_supported"] = json!(algs);
        doc["dpop_bound_access_tokens_required"] = json!(route.machine.dpop == DpopMode::Required);
    }
    Bytes::from(doc.to_string())
}

impl RouteMachine {
    /// Resolves `route`'s schemes and DPoP timing against its provider.
    pub fn build(config: &Config, route: &RouteConfig) -> RouteMachine {
        let provider = route.provider.and_then(|i| config.providers.get(i));
        let provider_schemes = provider.map_or(&[][..], |p| &p.tokens.schemes[..]);
        let dpop = route.machine.dpop;
        let accept = route.accept;
        let mut token_schemes = provider_schemes.to_vec();
        if dpop != DpopMode::Off {
            token_schemes.push(DPOP_SCHEME.to_owned());
        }
        let mut challenge_schemes = Vec::new();
        // A session route keeps its provider's challenge (an XHR 401 names Bearer).
        if (accept.bearer && dpop != DpopMode::Required) || !(accept.bearer || accept.api_key) {
            challenge_schemes.extend_from_slice(provider_schemes);
        }
        let mut strip_schemes = Vec::new();
        if accept.bearer {
            if dpop != DpopMode::Off {
                challenge_schemes.push(DPOP_SCHEME.to_owned());
            }
            strip_schemes.extend_from_slice(&token_schemes);
        }
        if accept.api_key {
            challenge_schemes.push(API_KEY_SCHEME.to_owned());
            strip_schemes.push(API_KEY_SCHEME.to_owned());
        }
        let resource_metadata = route
            .machine
            .protected_resource_metadata
            .then(|| resource_origin(config, route))
            .flatten()
            .map(|origin| format!("{origin}{}", metadata_path(&route.path_prefix)));
        RouteMachine {
            token_schemes,
            challenge_schemes,
            strip_schemes,
            resource_metadata,
            dpop_window: provider.map_or(Duration::from_secs(60), |p| p.dpop.window),
            leeway: provider.map_or(Duration::ZERO, |p| p.tokens.leeway),
        }
    }
}
