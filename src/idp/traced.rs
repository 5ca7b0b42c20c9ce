//! The trace span of an identity-provider call: `idp <call>` (`idp jwks`,
//! `idp introspection`, `idp userinfo`, `idp token refresh`…), a client span with the
//! HTTP semantic-convention attributes. The URL is recorded without its query; no token,
//! form field value or credential ever is (the grant type names the call, no more).

use std::sync::Arc;

use http::{Method, Uri};

use super::{HttpError, IdpResponse};
use crate::otel::{self, Child, SpanKind};

/// What a client's calls are, for their spans.
#[derive(Clone, Debug, Default)]
pub struct Label {
    /// The provider's name.
    pub provider: Option<Arc<str>>,
    /// The call, when the client serves one kind only (`jwks`, `introspection`).
    pub call: Option<&'static str>,
}

impl Label {
    /// Starts the span of one call (`None`: the request is not sampled, or no request).
    pub fn start(&self, call: &'static str, method: &Method, uri: &Uri) -> Option<Child> {
        if !otel::recording() {
            return None;
        }
        let mut span = otel::child(format!("idp {call}"), SpanKind::Client)?;
        span.attr("portcullis.idp.call", call);
        if let Some(p) = &self.provider {
            span.attr("portcullis.provider", p.to_string());
        }
        span.attr("http.request.method", method.as_str().to_owned());
        if let Some(host) = uri.host() {
            span.attr("server.address", host.to_owned());
        }
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        span.attr("server.port", i64::from(port));
        let scheme = if https { "https" } else { "http" };
        let authority = uri.authority().map_or("", |a| a.as_str());
        span.attr("url.full", format!("{scheme}://{authority}{}", uri.path()));
        Some(span)
    }
}

/// Ends the span with the call's outcome.
pub fn end(span: Option<Child>, result: &Result<IdpResponse, HttpError>) {
    let Some(mut span) = span else { return };
    match result {
        Ok(r) => {
            span.attr("http.response.status_code", r.status.as_u16());
            if !r.status.is_success() {
                span.attr("error.type", r.status.as_str().to_owned());
                span.fail(format!("HTTP {}", r.status.as_u16()));
            }
        }
        Err(e) => {
            let kind = match e {
                HttpError::Timeout => "timeout",
                HttpError::Connect(_) => "connect",
                HttpError::Status(_) => "status",
                HttpError::TooLarge => "too_large",
                HttpError::BadBody(_) => "bad_response",
                HttpError::BadUrl(_) => "bad_url",
                HttpError::Tls(_) => "tls",
            };
            span.attr("error.type", kind);
            span.fail(kind);
        }
    }
    span.end();
}

/// The call a form POST is, by its grant type (never by a value that could be secret).
pub fn form_call(form: &[(&str, &str)]) -> &'static str {
    let field = |name: &str| form.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    match field("grant_type") {
        Some("refresh_token") => "token refresh",
        Some("authorization_code") => "token code",
        Some("urn:ietf:params:oauth:grant-type:token-exchange") => "token exchange",
        Some(_) => "token",
        None if field("token_type_hint").is_some() => "revocation",
        None => "post",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_calls_are_named_by_grant_type_only() {
        assert_eq!(
            form_call(&[("grant_type", "refresh_token"), ("refresh_token", "SECRET")]),
            "token refresh"
        );
        assert_eq!(
            form_call(&[("grant_type", "authorization_code")]),
            "token code"
        );
        assert_eq!(
            form_call(&[(
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            )]),
            "token exchange"
        );
        assert_eq!(form_call(&[("grant_type", "client_credentials")]), "token");
        assert_eq!(
            form_call(&[("token", "x"), ("token_type_hint", "refresh_token")]),
            "revocation"
        );
        assert_eq!(form_call(&[("a", "b")]), "post");
    }
}
