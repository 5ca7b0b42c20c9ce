//! The login chooser: the page a browser gets when the route it wants lists several
//! identity providers and nothing picked one, and the `login_hint` domain rule that
//! picks one without the page.
//!
//! The page works without script (plain links to `<prefix>/start?provider=…`, and a GET
//! form for an e-mail address when a provider has `domains`); its only style is inline
//! and allowed by the hash in [`CSP`], so nothing else can run or load. Every value shown
//! or linked is escaped here: display names come from the config, `rd` and the hint from
//! the browser. Never decides a status code and never reads a cookie.

use crate::idp::form_encode;

/// The page's style. [`CSP`] names its SHA-256: change both together (a test checks).
const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#1b1d21;--muted:#555b66;\
--line:#c3c8d0;--accent:#0b57d0;--on-accent:#fff}\
@media (prefers-color-scheme:dark){:root{--bg:#15171a;--card:#1f2226;--fg:#eceff3;\
--muted:#a9b0bb;--line:#3d434c;--accent:#8ab4f8;--on-accent:#0b1a33}}\
*{box-sizing:border-box}\
body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);\
color:var(--fg);font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\
main{width:min(26rem,100% - 2rem);margin:1rem;background:var(--card);\
border:1px solid var(--line);border-radius:12px;padding:2rem}\
h1{margin:0 0 .25rem;font-size:1.5rem}\
p{margin:0 0 1.25rem;color:var(--muted)}\
ul{list-style:none;margin:0;padding:0;display:grid;gap:.75rem}\
a{display:block;padding:.8rem 1rem;border:1px solid var(--line);border-radius:8px;\
color:var(--fg);text-decoration:none;font-weight:600}\
a:hover{border-color:var(--accent)}\
a:focus-visible,input:focus-visible,button:focus-visible{outline:3px solid var(--accent);\
outline-offset:2px}\
form{margin-top:1.5rem;display:grid;gap:.5rem}\
label{font-weight:600}\
input{font:inherit;padding:.6rem .75rem;border:1px solid var(--line);border-radius:8px;\
background:var(--bg);color:var(--fg)}\
button{font:inherit;font-weight:600;padding:.6rem 1rem;border:0;border-radius:8px;\
background:var(--accent);color:var(--on-accent);cursor:pointer}\
.note{color:var(--fg)}";

/// The page's Content-Security-Policy: nothing but its own inline style. No
/// `form-action`: the e-mail form's answer redirects to a provider, which browsers
/// would check against it.
pub const CSP: &str = "default-src 'none'; \
style-src 'sha256-NdD0W1AWCtzRbp1ei9R03P1Iz+CgAtZRMshfrhrWv94='; base-uri 'none'; \
frame-ancestors 'none'";

/// Longest `login_hint` taken (longer ones are ignored, not cut).
pub const MAX_HINT: usize = 256;

/// One provider the page offers.
pub struct Choice<'a> {
    /// Its config name (the `provider` parameter).
    pub name: &'a str,
    /// What the page shows.
    pub display_name: &'a str,
}

/// Everything the page shows.
pub struct Page<'a> {
    /// `server.proxy_prefix`.
    pub prefix: &'a str,
    /// The providers, in the route's order.
    pub choices: &'a [Choice<'a>],
    /// Where to go after the login (already judged safe).
    pub return_to: &'a str,
    /// The browser's `login_hint`, passed on with each choice.
    pub hint: Option<&'a str>,
    /// Offer the e-mail form (some provider has `domains`).
    pub ask_email: bool,
}

/// A `login_hint` worth passing on: not empty, one line, at most [`MAX_HINT`] bytes.
pub fn usable_hint(hint: &str) -> Option<&str> {
    let hint = hint.trim();
    (!hint.is_empty() && hint.len() <= MAX_HINT && !hint.chars().any(char::is_control))
        .then_some(hint)
}

/// The domain a `login_hint` names, lower-case: the part after the one `@` of an
/// address, or the whole hint when it is a bare domain. `None` for anything else (two
/// `@`, an empty local part, a label that is not letters, digits and inner `-`).
pub fn hint_domain(hint: &str) -> Option<String> {
    let domain = match hint.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.contains('@') => domain,
        Some(_) => return None,
        None => hint,
    };
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    (labels_ok && domain.contains('.') && domain.len() <= 253).then(|| domain.to_ascii_lowercase())
}

/// Whether `domain` (lower-case) is one a provider lists: `example.com` exactly, or
/// `.example.com` for its subdomains (dot-bounded, as `allow.email_domains`).
pub fn domain_listed(listed: &[String], domain: &str) -> bool {
    listed.iter().any(|entry| match entry.strip_prefix('.') {
        Some(suffix) => domain
            .strip_suffix(suffix)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        None => entry == domain,
    })
}

/// The page, as UTF-8 HTML.
pub fn render(page: &Page<'_>) -> String {
    let mut html = String::with_capacity(4096);
    html.push_str(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n<title>Sign in</title>\n<style>",
    );
    html.push_str(STYLE);
    html.push_str(
        "</style>\n</head>\n<body>\n<main>\n<h1 id=\"title\">Sign in</h1>\n\
         <p id=\"how\">Choose how you want to sign in.</p>\n\
         <ul aria-labelledby=\"title\" aria-describedby=\"how\">\n",
    );
    for choice in page.choices {
        let mut params = vec![("provider", choice.name), ("rd", page.return_to)];
        if let Some(hint) = page.hint {
            params.push(("login_hint", hint));
        }
        html.push_str("<li><a href=\"");
        escape_into(&mut html, page.prefix);
        html.push_str("/start?");
        escape_into(&mut html, &form_encode(&params));
        html.push_str("\" data-provider=\"");
        escape_into(&mut html, choice.name);
        html.push_str("\">");
        escape_into(&mut html, choice.display_name);
        html.push_str("</a></li>\n");
    }
    html.push_str("</ul>\n");
    if page.ask_email {
        email_form(&mut html, page);
    }
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

/// A GET form back to `start` with the address as `login_hint`: its domain may pick
/// the provider. A hint that picked none is said so, next to the field.
fn email_form(html: &mut String, page: &Page<'_>) {
    html.push_str("<form method=\"get\" action=\"");
    escape_into(html, page.prefix);
    html.push_str("/start\">\n<input type=\"hidden\" name=\"rd\" value=\"");
    escape_into(html, page.return_to);
    html.push_str(
        "\">\n<label for=\"login_hint\">Or sign in with your work e-mail address</label>\n",
    );
    if page.hint.is_some() {
        html.push_str(
            "<p class=\"note\" id=\"hint-note\" role=\"status\">No sign-in option matches \
             that address; choose one above.</p>\n",
        );
    }
    html.push_str(
        "<input id=\"login_hint\" name=\"login_hint\" type=\"email\" autocomplete=\"email\" \
         required",
    );
    if let Some(hint) = page.hint {
        html.push_str(" aria-describedby=\"hint-note\" value=\"");
        escape_into(html, hint);
        html.push('"');
    }
    html.push_str(">\n<button type=\"submit\">Continue</button>\n</form>\n");
}

/// HTML text and attribute escaping (quotes included).
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
