//! Where a provider's endpoints come from: its OpenID discovery document; its RFC 8414
//! authorization-server metadata for what discovery leaves out (many provider libraries
//! publish introspection and revocation only there); and endpoints written in the config,
//! which win over both. An issuer without OpenID discovery (404 at the default URL) is
//! served from its RFC 8414 document alone.
//!
//! Must never use a document whose `issuer` differs from the configured one (OIDC
//! Discovery §4.3, RFC 8414 §3.3), never follow redirects, and never fail a provider
//! because optional RFC 8414 metadata is absent.

use std::fmt;

use http::Uri;

use super::discovery::{self, DiscoveryError, ProviderMetadata};
use crate::config::ProviderConfig;
use crate::idp::{HttpError, IdpClient};

/// RFC 8414 §3: the well-known suffix of authorization-server metadata.
pub const RFC8414_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

/// Where one endpoint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The OpenID discovery document.
    Discovery,
    /// The RFC 8414 authorization-server metadata.
    Rfc8414,
    /// The provider's config.
    Config,
}

impl Source {
    /// The label the start-up log uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Discovery => "discovery",
            Source::Rfc8414 => "rfc8414",
            Source::Config => "config",
        }
    }
}

/// The source of every endpoint the gateway may call (`None` = no such endpoint).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointSources {
    /// `jwks_uri`.
    pub jwks_uri: Option<Source>,
    /// `userinfo_endpoint`.
    pub userinfo: Option<Source>,
    /// `introspection_endpoint`.
    pub introspection: Option<Source>,
    /// `revocation_endpoint`.
    pub revocation: Option<Source>,
    /// `end_session_endpoint`.
    pub end_session: Option<Source>,
}

impl fmt::Display for EndpointSources {
    /// `jwks_uri=discovery userinfo_endpoint=none introspection_endpoint=rfc8414 …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = [
            ("jwks_uri", self.jwks_uri),
            ("userinfo_endpoint", self.userinfo),
            ("introspection_endpoint", self.introspection),
            ("revocation_endpoint", self.revocation),
            ("end_session_endpoint", self.end_session),
        ];
        for (i, (name, source)) in items.into_iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{name}={}", source.map_or("none", Source::as_str))?;
        }
        Ok(())
    }
}

/// A provider's metadata with every endpoint resolved, and where each came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Discovery (or RFC 8414) metadata with the endpoints filled in and overridden.
    pub metadata: ProviderMetadata,
    /// Where each endpoint came from.
    pub sources: EndpointSources,
}

/// The endpoint fields of a metadata document, for filling one from another.
fn slots<'a>(
    m: &'a mut ProviderMetadata,
    s: &'a mut EndpointSources,
) -> [(&'a mut Option<String>, &'a mut Option<Source>); 4] {
    [
        (&mut m.userinfo_endpoint, &mut s.userinfo),
        (&mut m.introspection_endpoint, &mut s.introspection),
        (&mut m.revocation_endpoint, &mut s.revocation),
        (&mut m.end_session_endpoint, &mut s.end_session),
    ]
}

/// Fetches the provider's metadata and resolves its endpoints: discovery, then the
/// config's endpoints, then RFC 8414 metadata for what is still missing. When the RFC
/// 8414 lookup fails for a reason that may pass (timeout, 5xx), endpoints `previous`
/// found stay in use rather than vanish until the next refresh.
pub async fn resolve(
    client: &IdpClient,
    cfg: &ProviderConfig,
    previous: Option<&Resolved>,
) -> Result<Resolved, DiscoveryError> {
    let (mut metadata, primary) =
        match discovery::fetch_document(client, &cfg.discovery_url, &cfg.issuer).await {
            Ok(m) => (m, Source::Discovery),
            Err(DiscoveryError::Http(HttpError::Status(404))) if default_discovery_url(cfg) => {
                match rfc8414(client, &cfg.issuer).await {
                    Lookup::Found(m) => (*m, Source::Rfc8414),
                    Lookup::Absent(why) | Lookup::Failed(why) => {
                        return Err(DiscoveryError::Missing {
                            discovery: "HTTP 404".into(),
                            rfc8414: why,
                        })
                    }
                }
            }
            Err(e) => return Err(e),
        };
    let mut sources = EndpointSources {
        jwks_uri: (!metadata.jwks_uri.is_empty()).then_some(primary),
        ..EndpointSources::default()
    };
    for (value, source) in slots(&mut metadata, &mut sources) {
        *source = value.is_some().then_some(primary);
    }
    apply_config(&mut metadata, &mut sources, cfg);
    let wanted = metadata.jwks_uri.is_empty()
        || metadata.revocation_endpoint.is_none()
        || (cfg.tokens.introspection.is_some() && metadata.introspection_endpoint.is_none());
    if wanted && primary == Source::Discovery {
        match rfc8414(client, &cfg.issuer).await {
            Lookup::Found(extra) => fill(&mut metadata, &mut sources, *extra, Source::Rfc8414),
            Lookup::Absent(why) => {
                tracing::debug!(provider = %cfg.name, why = %why, "no RFC 8414 metadata");
            }
            Lookup::Failed(why) => {
                tracing::warn!(provider = %cfg.name, why = %why, "RFC 8414 metadata unavailable");
                if let Some(old) = previous {
                    fill_from_previous(&mut metadata, &mut sources, old);
                }
            }
        }
    }
    if metadata.jwks_uri.is_empty() {
        return Err(DiscoveryError::Parse(
            "no jwks_uri in discovery, RFC 8414 metadata or config (set providers[].jwks_uri)"
                .into(),
        ));
    }
    Ok(Resolved { metadata, sources })
}

/// Whether discovery is at the default location, where a 404 means "no OpenID discovery"
/// rather than "the operator's URL is wrong".
fn default_discovery_url(cfg: &ProviderConfig) -> bool {
    let issuer = cfg.issuer.trim_end_matches('/');
    cfg.discovery_url == format!("{issuer}/.well-known/openid-configuration")
}

/// Config endpoints replace whatever the documents said.
fn apply_config(m: &mut ProviderMetadata, s: &mut EndpointSources, cfg: &ProviderConfig) {
    let e = &cfg.endpoints;
    if let Some(uri) = &e.jwks_uri {
        m.jwks_uri = uri.clone();
        s.jwks_uri = Some(Source::Config);
    }
    let configured = [
        &e.userinfo_endpoint,
        &e.introspection_endpoint,
        &e.revocation_endpoint,
        &e.end_session_endpoint,
    ];
    for ((value, source), wanted) in slots(m, s).into_iter().zip(configured) {
        if let Some(url) = wanted {
            *value = Some(url.clone());
            *source = Some(Source::Config);
        }
    }
}

/// Fills every endpoint `m` lacks from `extra` (already issuer-checked).
fn fill(
    m: &mut ProviderMetadata,
    s: &mut EndpointSources,
    mut extra: ProviderMetadata,
    from: Source,
) {
    if m.jwks_uri.is_empty() && !extra.jwks_uri.is_empty() {
        m.jwks_uri = std::mem::take(&mut extra.jwks_uri);
        s.jwks_uri = Some(from);
    }
    let mut unused = EndpointSources::default();
    let offered = slots(&mut extra, &mut unused).map(|(v, _)| v.take());
    for ((value, source), offer) in slots(m, s).into_iter().zip(offered) {
        if value.is_none() && offer.is_some() {
            *value = offer;
            *source = Some(from);
        }
    }
}

/// Fills what `m` lacks from the previous resolution, keeping its sources.
fn fill_from_previous(m: &mut ProviderMetadata, s: &mut EndpointSources, old: &Resolved) {
    if m.jwks_uri.is_empty() && !old.metadata.jwks_uri.is_empty() {
        m.jwks_uri = old.metadata.jwks_uri.clone();
        s.jwks_uri = old.sources.jwks_uri;
    }
    let mut previous = old.clone();
    let offered = slots(&mut previous.metadata, &mut previous.sources).map(|(v, s)| (v.take(), *s));
    for ((value, source), (offer, from)) in slots(m, s).into_iter().zip(offered) {
        if value.is_none() && offer.is_some() {
            *value = offer;
            *source = from;
        }
    }
}

/// What the RFC 8414 lookup found.
enum Lookup {
    /// A document for this issuer (boxed: the other variants are small).
    Found(Box<ProviderMetadata>),
    /// No document for this issuer (404s, wrong issuer, not metadata): why.
    Absent(String),
    /// At least one location could not be asked (timeout, connection, 5xx): why.
    Failed(String),
}

/// The RFC 8414 §3.1 metadata URLs of `issuer`, in the order they are tried: the
/// well-known suffix inserted between host and path (the RFC's form), then appended to
/// the issuer (the form many providers serve); one URL when the issuer has no path.
pub fn rfc8414_urls(issuer: &str) -> Vec<String> {
    let Ok(uri) = issuer.parse::<Uri>() else {
        return Vec::new();
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Vec::new();
    };
    // RFC 8414 §3.1: a terminating `/` is removed before inserting.
    let path = uri.path().trim_end_matches('/');
    let inserted = format!("{scheme}://{authority}{RFC8414_WELL_KNOWN}{path}");
    if path.is_empty() {
        return vec![inserted];
    }
    vec![
        inserted,
        format!("{scheme}://{authority}{path}{RFC8414_WELL_KNOWN}"),
    ]
}

/// Tries every RFC 8414 location of `issuer`; the first document naming it wins.
async fn rfc8414(client: &IdpClient, issuer: &str) -> Lookup {
    let mut why = Vec::new();
    let mut transient = false;
    for url in rfc8414_urls(issuer) {
        match discovery::fetch_document(client, &url, issuer).await {
            Ok(m) => return Lookup::Found(Box::new(m)),
            Err(e) => {
                transient |= match &e {
                    DiscoveryError::Http(HttpError::Status(s)) => *s >= 500 || *s == 429,
                    DiscoveryError::Http(_) => true,
                    _ => false,
                };
                if matches!(e, DiscoveryError::IssuerMismatch { .. }) {
                    tracing::warn!(url = %url, error = %e, "RFC 8414 metadata refused");
                }
                why.push(format!("{url}: {e}"));
            }
        }
    }
    let why = why.join("; ");
    if transient {
        Lookup::Failed(why)
    } else {
        Lookup::Absent(why)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
