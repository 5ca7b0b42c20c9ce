//! `routes[].cors` as written (the serde mirror; see `validate_cors.rs` for the checks).

use serde::Deserialize;

/// `routes[].cors`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawCors {
    pub allow_origins: Vec<String>,
    /// `None` = GET, HEAD, POST.
    pub allow_methods: Option<Vec<String>>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: bool,
    /// `None` = no `Access-Control-Max-Age`.
    pub max_age: Option<String>,
    pub allow_private_network: bool,
}
