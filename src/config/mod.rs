//! Configuration: the YAML users write, checked and turned into the validated [`Config`].
//!
//! Loading runs in phases: YAML parse → schema walk (`${VAR}` expansion, unknown keys
//! with hints, types with paths; `walk.rs`) → serde into the raw mirror (`raw.rs`) →
//! validation into [`Config`] (`validate*.rs`). Every phase records into one collector, so
//! a broken file yields ALL its problems at once, each as `field.path: message`. No phase
//! ever puts a secret value into a message.
//!
//! Entry points: [`load_file`], [`load_str`], [`load_str_with_env`].

mod checks;
mod duration;
mod env;
mod issues;
/// The validated types; also re-exported at `config::` (both paths name the same types).
pub mod model;
mod model_tokens;
mod raw;
mod schema;
mod validate;
mod validate_assertion;
mod validate_chooser;
mod validate_cors;
mod validate_credentials;
mod validate_headers;
mod validate_machine;
mod validate_provider;
mod validate_rate_limit;
mod validate_route;
mod validate_session;
mod validate_tokens;
mod validate_tracing;
mod validate_upstream;
mod walk;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use duration::parse_duration;
pub use env::{process_env, EnvLookup};
pub use issues::{ConfigErrors, ConfigIssue};
pub use model::*;

/// Loads, interpolates (from the process environment) and validates a config file.
///
/// Relative file paths inside it (TLS certificates, CA and key files) are resolved against
/// the file's directory. A read failure is returned as a single issue.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    load_file_with_env(path, &process_env)
}

/// [`load_file`] with an explicit environment lookup (tests, embedding).
pub fn load_file_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::single(path.display().to_string(), format!("cannot read: {e}"))
    })?;
    load(&text, env, path.parent())
}

/// Loads a config from YAML text, interpolating from the process environment.
///
/// Relative file paths are resolved against the current directory. An empty text or
/// `{}` yields the defaults: no routes, no providers.
pub fn load_str(text: &str) -> Result<Config, ConfigErrors> {
    load(text, &process_env, None)
}

/// Loads a config from YAML text with an explicit environment lookup for `${VAR}`.
pub fn load_str_with_env(text: &str, env: EnvLookup<'_>) -> Result<Config, ConfigErrors> {
    load(text, env, None)
}

fn load(text: &str, env: EnvLookup<'_>, base_dir: Option<&Path>) -> Result<Config, ConfigErrors> {
    let mut value: serde_yaml::Value = serde_yaml::from_str(text)
        .map_err(|e| ConfigErrors::single("", format!("invalid YAML: {e}")))?;
    value
        .apply_merge()
        .map_err(|e| ConfigErrors::single("", format!("invalid YAML merge (`<<`): {e}")))?;
    let mut issues = issues::Issues::default();
    walk::walk_document(&mut value, env, &mut issues);
    let raw: raw::RawConfig = match serde_yaml::from_value(value) {
        Ok(raw) => raw,
        Err(e) => {
            // Unreachable while schema.rs and raw.rs agree (a test checks that); the serde
            // message may quote a value, so quoted parts are blanked out.
            issues.push(
                "",
                format!("cannot decode config: {}", redact_quoted(&e.to_string())),
            );
            return Err(issues.into_errors());
        }
    };
    match validate::validate(raw, base_dir, &mut issues) {
        Some(config) if issues.is_empty() => Ok(config),
        _ => Err(issues.into_errors()),
    }
}

/// Replaces every `"..."` in a message with `"…"`.
fn redact_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for (i, part) in msg.split('"').enumerate() {
        if i > 0 {
            out.push('"');
        }
        out.push_str(if i % 2 == 1 { "…" } else { part });
    }
    out
}

/// Decodes a `session.secrets` entry into its key bytes (standard or URL-safe base64,
/// padding optional). Validation guarantees `Some` with at least 32 bytes for every loaded
/// secret, so session code can use the same decoding as the check.
pub fn decode_session_secret(secret: &Secret) -> Option<Vec<u8>> {
    checks::decode_base64_key(secret.expose())
}

impl Config {
    /// Valid settings that are probably not what the operator meant, each with its field
    /// path: `check-config` prints them, and the gateway logs them when it starts.
    pub fn warnings(&self) -> Vec<ConfigIssue> {
        let mut warnings = Vec::new();
        let browser_routes: Vec<&str> = self
            .routes
            .iter()
            .filter(|r| r.accept.session)
            .map(|r| r.name.as_str())
            .collect();
        if self.server.public_url.is_none() && !browser_routes.is_empty() {
            // Without TLS here, nothing says the browser's address is https.
            let cookies = if self.server.tls.is_none() {
                "; session cookies are then also set without Secure (no server.tls): behind \
                 a TLS proxy they would travel over plain http too"
            } else {
                ""
            };
            warnings.push(ConfigIssue {
                path: "server.public_url".into(),
                message: format!(
                    "not set while routes sign browsers in ({}): the sign-in callback URL is \
                     then built from each request's Host header{cookies}; set it to the \
                     address browsers use",
                    browser_routes.join(", ")
                ),
            });
        }
        warnings
    }

    /// One line for `check-config` and startup logs, e.g.
    /// `config OK: 3 routes (api, app, public), 1 provider (corp), listen 0.0.0.0:8080, admin 127.0.0.1:9090`.
    pub fn summary(&self) -> String {
        fn counted<'a>(n: usize, what: &str, names: impl Iterator<Item = &'a str>) -> String {
            let plural = if n == 1 { "" } else { "s" };
            let names: Vec<&str> = names.collect();
            if names.is_empty() {
                format!("{n} {what}{plural}")
            } else {
                format!("{n} {what}{plural} ({})", names.join(", "))
            }
        }
        let admin = match self.admin.listen {
            Some(addr) => addr.to_string(),
            None => "off".to_owned(),
        };
        format!(
            "config OK: {}, {}, listen {}{}, admin {admin}",
            counted(
                self.routes.len(),
                "route",
                self.routes.iter().map(|r| r.name.as_str())
            ),
            counted(
                self.providers.len(),
                "provider",
                self.providers.iter().map(|p| p.name.as_str())
            ),
            self.server.listen,
            if self.server.tls.is_some() {
                " (tls)"
            } else {
                ""
            },
        )
    }
}
