//! Identity headers: compiled `identity_headers` templates rendered from a [`Principal`].
//!
//! Owns the template language (`{sub}`, `{username}`, `{email}`, `{groups}`, `{scopes}`,
//! `{claims.<path>}`, literal text, `{{`/`}}` for literal braces) and the rule that a
//! value which is not plain visible ASCII is dropped, never sent. It must never strip
//! client-sent copies of these headers on its own (that is the hygiene phase's job, which
//! runs on every request first) and never log a header's value.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::memo;
use super::principal::{lookup_claim, scalar_string, string_list, Principal};
use super::wanted::WantedClaims;
use crate::transport::upstream::Added;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Sub,
    Username,
    Email,
    Groups,
    Scopes,
    Claim(String),
}

/// A parsed header template such as `{username}` or `user={sub};groups={groups}`.
///
/// Rendering: arrays are joined with `,` (groups, array claims) or ` ` (scopes); an array
/// element containing its separator is left out so one value can never pose as two. A
/// placeholder is *missing* when its value is absent, empty, null or an object. When
/// EVERY placeholder of a template is missing, [`Template::render`] returns `false` and the
/// header is omitted; otherwise missing placeholders render as empty text, so a mixed
/// template like `user={sub};email={email}` still reaches the upstream. A template without
/// placeholders always renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses a template; unknown placeholders and unbalanced braces are errors.
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(i) = rest.find(['{', '}']) {
            lit.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{{") {
                lit.push('{');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("}}") {
                lit.push('}');
                rest = after;
            } else if tail.starts_with('}') {
                return Err(format!("unmatched `}}` in template `{s}` (write `}}}}`)"));
            } else {
                let end = tail
                    .find('}')
                    .ok_or_else(|| format!("unclosed `{{` in template `{s}`"))?;
                let name = &tail[1..end];
                let part = match name {
                    "sub" => Part::Sub,
                    "username" => Part::Username,
                    "email" => Part::Email,
                    "groups" => Part::Groups,
                    "scopes" => Part::Scopes,
                    _ => match name.strip_prefix("claims.") {
                        Some(path) if !path.is_empty() && !path.contains('{') => {
                            Part::Claim(path.to_owned())
                        }
                        _ => {
                            return Err(format!(
                            "unknown placeholder `{{{name}}}` in template `{s}` (known: {{sub}}, \
                             {{username}}, {{email}}, {{groups}}, {{scopes}}, {{claims.<path>}})"
                        ))
                        }
                    },
                };
                if !lit.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut lit)));
                }
                parts.push(part);
                rest = &tail[end + 1..];
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        Ok(Template { parts })
    }

    /// Appends the rendering to `out`; `false` means "omit the header" (every placeholder
    /// missing), in which case `out` holds partial text the caller must discard.
    pub fn render(&self, p: &Principal, out: &mut String) -> bool {
        let mut placeholders = 0usize;
        let mut present = 0usize;
        for part in &self.parts {
            let before = out.len();
            match part {
                Part::Literal(s) => {
                    out.push_str(s);
                    continue;
                }
                Part::Sub => out.push_str(&p.subject),
                Part::Username => out.push_str(p.username.as_deref().unwrap_or_default()),
                Part::Email => out.push_str(p.email.as_deref().unwrap_or_default()),
                Part::Groups => join_into(out, p.groups.iter().map(String::as_str), ','),
                Part::Scopes => join_into(out, p.scopes.iter().map(String::as_str), ' '),
                Part::Claim(path) => match lookup_claim(&p.claims, path) {
                    Some(v @ Value::Array(_)) => {
                        join_into(out, string_list(v).iter().map(String::as_str), ',')
                    }
                    Some(v) => out.push_str(scalar_string(v).as_deref().unwrap_or_default()),
                    None => {}
                },
            }
            placeholders += 1;
            if out.len() > before {
                present += 1;
            }
        }
        placeholders == 0 || present > 0
    }
}

/// Joins the elements that do not contain `sep` (and are not empty) with `sep`.
fn join_into<'a>(out: &mut String, items: impl Iterator<Item = &'a str>, sep: char) {
    let mut first = true;
    for item in items.filter(|i| !i.is_empty() && !i.contains(sep)) {
        if !first {
            out.push(sep);
        }
        out.push_str(item);
        first = false;
    }
}

/// A rendered value as a header value, or `None` when it must not be sent.
///
/// Only visible ASCII (0x21–0x7E) and inner spaces are allowed. CR, LF, NUL, TAB and every
/// other control character, DEL and all non-ASCII text (header values should be ASCII;
/// percent-encoding would invent a format upstreams do not expect) drop the whole value,
/// as do empty values and leading/trailing spaces (a receiver trims those, so ` alice`
/// would arrive as `alice`).
pub fn header_value(rendered: &str) -> Option<HeaderValue> {
    let b = rendered.as_bytes();
    let clean = !b.is_empty()
        && b.iter().all(|&c| c == b' ' || (0x21..=0x7e).contains(&c))
        && b.first() != Some(&b' ')
        && b.last() != Some(&b' ');
    if clean {
        HeaderValue::from_str(rendered).ok()
    } else {
        None
    }
}

/// A route's compiled identity headers.
#[derive(Debug, Clone, Default)]
pub struct IdentityHeaders {
    headers: Vec<(HeaderName, Template)>,
    /// Unique per compilation ([`memo::next_key`]; 0: none): a principal's renderings
    /// are kept under it.
    id: u64,
}

/// A route's identity headers rendered for one principal: `None` = omit the header.
pub type Rendered = [(HeaderName, Option<HeaderValue>)];

impl IdentityHeaders {
    /// Compiles a route's `identity_headers`; the error names the header at fault.
    pub fn compile(spec: &[(HeaderName, String)]) -> Result<IdentityHeaders, String> {
        let headers = spec
            .iter()
            .map(|(name, t)| {
                Template::parse(t)
                    .map(|t| (name.clone(), t))
                    .map_err(|e| format!("identity header `{name}`: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let id = memo::next_key();
        Ok(IdentityHeaders { headers, id })
    }

    /// Adds what the templates read to `wanted` (`userinfo: auto` completes only those).
    pub fn add_reads(&self, wanted: &mut WantedClaims) {
        for part in self.headers.iter().flat_map(|(_, t)| &t.parts) {
            match part {
                Part::Username => wanted.username = true,
                Part::Email => wanted.email = true,
                Part::Groups => wanted.groups = true,
                Part::Claim(path) => wanted.add_claim(path),
                Part::Literal(_) | Part::Sub | Part::Scopes => {}
            }
        }
    }

    /// The header names this route may set (for the hygiene phase's strip list).
    pub fn names(&self) -> impl Iterator<Item = &HeaderName> {
        self.headers.iter().map(|(n, _)| n)
    }

    /// Sets every header that renders to a clean value; any existing value of those names
    /// is removed, so an omitted or dropped header is absent, never the client's. The
    /// values are rendered once per principal (and these templates), then reused.
    pub fn apply(&self, p: &Principal, headers: &mut HeaderMap) {
        if self.headers.is_empty() {
            return;
        }
        for (name, value) in self.rendered(p).iter() {
            match value {
                // `insert` replaces every value the name had.
                Some(v) => {
                    headers.insert(name.clone(), v.clone());
                }
                None => {
                    headers.remove(name);
                }
            }
        }
    }

    /// [`apply`](Self::apply) for a request on its way upstream: the values go to
    /// `added` (hygiene stripped every identity header name from the request, in every
    /// spelling, so there is nothing of the client's to replace or remove).
    pub fn add(&self, p: &Principal, added: &mut Added) {
        if self.headers.is_empty() {
            return;
        }
        for (name, value) in self.rendered(p).iter() {
            if let Some(v) = value {
                added.push(name.clone(), v.clone());
            }
        }
    }

    /// The values for `p`, rendered on first use and kept with the (shared) principal.
    fn rendered(&self, p: &Principal) -> Arc<Rendered> {
        p.rendered
            .get_or_derive(self.id, || Arc::from(self.render(p)))
    }

    /// Every header's value for `p`, `None` where the header must be omitted.
    fn render(&self, p: &Principal) -> Vec<(HeaderName, Option<HeaderValue>)> {
        let mut buf = String::with_capacity(128);
        let mut out = Vec::with_capacity(self.headers.len());
        for (name, template) in &self.headers {
            buf.clear();
            let value = template.render(p, &mut buf).then(|| header_value(&buf));
            if value == Some(None) {
                tracing::debug!(
                    header = %name,
                    "identity header omitted: value is empty or not plain visible ASCII"
                );
            }
            let value = value.flatten();
            out.push((name.clone(), value));
        }
        out
    }
}

#[cfg(test)]
mod tests;
