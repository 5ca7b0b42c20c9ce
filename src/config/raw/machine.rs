//! The serde mirror of the machine-credential keys (`api_keys[]`); see `model/machine.rs`.

use serde::Deserialize;

/// `api_keys[]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawApiKeySource {
    pub name: String,
    pub file: Option<String>,
}
