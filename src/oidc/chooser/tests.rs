// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The chooser page (escaping, accessibility, CSP hash) and the login_hint domain rules,
//! with hostile hints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;

use super::*;

fn page<'a>(choices: &'a [Choice<'a>], hint: Option<&'a str>, ask_email: bool) -> String {
    render(&Page {
        prefix: "/oauth2",
        choices,
        return_to: "/app/x?a=1&b=\"<2>\"",
        hint,
        ask_email,
    })
}

const TWO: [Choice<'static>; 2] = [
    Choice {
        name: "corp",
        display_name: "Corp <SSO> & \"friends\"",
    },
    Choice {
        name: "partner",
        display_name: "Partner's login",
    },
];

#[test]
fn the_csp_names_the_hash_of_the_inline_style() {
    let sum = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, STYLE.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(sum.as_ref());
    assert!(
        CSP.contains(&format!("style-src 'sha256-{b64}'")),
        "CSP must allow the style's hash sha256-{b64}: {CSP}"
    );
    assert!(CSP.contains("default-src 'none'"));
    assert!(!CSP.contains("unsafe-inline"));
    // The hash covers the exact bytes between the tags.
    let html = page(&TWO, None, true);
    assert!(html.contains(&format!("<style>{STYLE}</style>")));
}

#[test]
fn names_and_links_are_escaped() {
    let html = page(&TWO, Some("al\"ice@example.com"), true);
    assert!(
        html.contains(">Corp &lt;SSO&gt; &amp; &quot;friends&quot;</a>"),
        "{html}"
    );
    assert!(html.contains(">Partner&#39;s login</a>"), "{html}");
    assert!(!html.contains("<SSO>"));
    // rd and hint are form-encoded in the link, then HTML-escaped (`&` between them).
    assert!(
        html.contains(
            "href=\"/oauth2/start?provider=corp&amp;rd=%2Fapp%2Fx%3Fa%3D1%26b%3D%22%3C2%3E%22\
             &amp;login_hint=al%22ice%40example.com\""
        ),
        "{html}"
    );
    // In the form, the raw values are attribute-escaped.
    assert!(html.contains("name=\"rd\" value=\"/app/x?a=1&amp;b=&quot;&lt;2&gt;&quot;\""));
    assert!(html.contains("value=\"al&quot;ice@example.com\""));
}

#[test]
fn the_page_is_accessible_and_needs_no_script() {
    let html = page(&TWO, None, true);
    for needle in [
        "<html lang=\"en\">",
        "<title>Sign in</title>",
        "<meta name=\"viewport\"",
        "<meta name=\"color-scheme\" content=\"light dark\">",
        "<h1 id=\"title\">",
        "<label for=\"login_hint\">",
        "id=\"login_hint\" name=\"login_hint\" type=\"email\" autocomplete=\"email\"",
        "<button type=\"submit\">",
    ] {
        assert!(html.contains(needle), "{needle} missing:\n{html}");
    }
    assert!(STYLE.contains(":focus-visible"), "visible focus");
    assert!(STYLE.contains("prefers-color-scheme:dark"), "dark mode");
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"));
    assert!(!lower.contains(" on"), "no inline event handlers");
    assert!(
        !lower.contains("style=\""),
        "no style attributes (the CSP hash covers <style> only)"
    );
    // Without domains, no form; without a hint, no note.
    let plain = page(&TWO, None, false);
    assert!(!plain.contains("<form"));
    assert!(!html.contains("hint-note"));
    assert!(page(&TWO, Some("x@y.z"), true).contains("role=\"status\""));
}

#[test]
fn hints_name_a_domain_only_when_well_formed() {
    assert_eq!(
        hint_domain("alice@Partner.COM").as_deref(),
        Some("partner.com")
    );
    assert_eq!(hint_domain("partner.com").as_deref(), Some("partner.com"));
    assert_eq!(
        hint_domain("a.b-c.example").as_deref(),
        Some("a.b-c.example")
    );
    for bad in [
        "",
        "alice",
        "@partner.com",
        "a@b@partner.com",
        "alice@",
        "alice@partner",
        "alice@partner..com",
        "alice@-partner.com",
        "alice@partner-.com",
        "alice@partner.com.",
        "alice@par tner.com",
        "alice@partner.com/x",
        "alice@[127.0.0.1]",
        "alice@pärtner.com",
        &format!("a@{}.com", "x".repeat(64)),
        &format!("a@{}com", "x.".repeat(130)),
    ] {
        assert_eq!(hint_domain(bad), None, "{bad:?}");
    }
}

#[test]
fn usable_hints_are_short_single_lines() {
    assert_eq!(usable_hint("  bob@x.com "), Some("bob@x.com"));
    assert_eq!(usable_hint("   "), None);
    assert_eq!(usable_hint("bob\r\n@x.com"), None);
    assert_eq!(
        usable_hint(&"a".repeat(MAX_HINT)).map(str::len),
        Some(MAX_HINT)
    );
    assert_eq!(usable_hint(&"a".repeat(MAX_HINT + 1)), None);
}

#[test]
fn listed_domains_are_exact_or_dot_bounded_suffixes() {
    let listed = vec!["partner.com".to_owned(), ".eu.partner.com".to_owned()];
    assert!(domain_listed(&listed, "partner.com"));
    assert!(domain_listed(&listed, "a.eu.partner.com"));
    assert!(domain_listed(&listed, "x.a.eu.partner.com"));
    assert!(
        !domain_listed(&listed, "eu.partner.com"),
        "suffix = subdomains only"
    );
    assert!(!domain_listed(&listed, "xeu.partner.com"));
    assert!(!domain_listed(&listed, "a.partner.com"));
    assert!(!domain_listed(&listed, "notpartner.com"));
    assert!(!domain_listed(&listed, "partner.com.evil"));
    assert!(!domain_listed(&[], "partner.com"));
}
