//! Provider endpoints written in the config (they win over discovery and RFC 8414
//! metadata). Holds URLs that validation has already checked; never fetched from here.

/// `providers[].jwks_uri`, `…userinfo_endpoint`, `…introspection_endpoint`,
/// `…revocation_endpoint`, `…end_session_endpoint`: validated absolute URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    /// The JWKS document.
    pub jwks_uri: Option<String>,
    /// The userinfo endpoint.
    pub userinfo_endpoint: Option<String>,
    /// The RFC 7662 introspection endpoint.
    pub introspection_endpoint: Option<String>,
    /// The RFC 7009 revocation endpoint.
    pub revocation_endpoint: Option<String>,
    /// The RP-initiated logout endpoint.
    pub end_session_endpoint: Option<String>,
}
