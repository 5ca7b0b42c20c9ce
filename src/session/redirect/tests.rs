//! Regression tests for the open-redirect guard: accepted shapes and known bypasses.

use super::*;

const ORIGIN: Option<&str> = Some("https://public.host");

fn allowed() -> Vec<String> {
    vec![".example.com".into(), "exact.org".into(), "[::1]".into()]
}

fn check(rd: &str) -> Option<String> {
    safe_redirect(rd, ORIGIN, &allowed())
}

#[test]
fn relative_paths_are_accepted_verbatim() {
    for ok in [
        "/",
        "/app",
        "/app/page?x=1&y=%2F%2F#frag",
        "/a//b",
        "/%7Euser",
        "/caf%C3%A9",
        "/.//evil.com",
        "/?next=//evil.com",
        "/#//evil.com",
        "/%252F%252Fevil.com",
    ] {
        assert_eq!(check(ok).as_deref(), Some(ok), "{ok}");
    }
}

#[test]
fn absolute_urls_on_the_public_origin_or_allowed_domains() {
    for ok in [
        "https://public.host",
        "https://public.host/",
        "https://PUBLIC.host/app?x=1#y",
        "HTTPS://public.host:443/app",
        "https://public.host?q",
        "https://public.host#f",
        "https://a.example.com/x",
        "http://a.b.example.com:8080/x",
        "https://A.Example.COM",
        "https://exact.org/",
        "http://[::1]:3000/",
    ] {
        assert_eq!(check(ok).as_deref(), Some(ok), "{ok}");
    }
}

#[test]
fn origin_must_match_scheme_and_port() {
    assert_eq!(check("http://public.host/"), None);
    assert_eq!(check("https://public.host:8443/"), None);
    let with_port = Some("https://public.host:8443");
    assert!(safe_redirect("https://public.host:8443/x", with_port, &[]).is_some());
    assert_eq!(safe_redirect("https://public.host/x", with_port, &[]), None);
    assert_eq!(safe_redirect("https://public.host/x", None, &[]), None);
    assert!(safe_redirect("/x", None, &[]).is_some());
}

#[test]
fn dot_entries_match_subdomains_only_and_plain_entries_exactly() {
    assert_eq!(
        check("https://example.com/"),
        None,
        "apex is not a sub-domain"
    );
    assert_eq!(check("https://badexample.com/"), None);
    assert_eq!(check("https://example.com.evil.com/"), None);
    assert_eq!(check("https://sub.exact.org/"), None);
    assert_eq!(check("https://exact.org.evil.com/"), None);
    assert_eq!(check("https://.example.com/"), None);
    assert_eq!(check("https://a..example.com/"), None);
    assert_eq!(check("https://example.com./"), None);
    assert_eq!(check("https://a.example.com./"), None);
}

#[test]
fn known_bypass_payloads_are_refused() {
    let long_path = format!("/{}", "a".repeat(MAX_REDIRECT_LEN));
    let payloads = [
        "",
        "//evil.com",
        "///evil.com",
        "////evil.com",
        "/\\evil.com",
        "\\/evil.com",
        "\\\\evil.com",
        "/%5Cevil.com",
        "/%5cevil.com",
        "/%2F%2Fevil.com",
        "/%2f%2fevil.com",
        "/%2Fevil.com",
        "/%20/evil.com",
        "/\t/evil.com",
        "/\r/evil.com",
        "/\n/evil.com",
        "/%09/evil.com",
        "/%0d/evil.com",
        "/%0A/evil.com",
        "/app%00",
        "/app%7f",
        "/ok\u{7f}",
        " /app",
        "/app ",
        "\t/app",
        "/app\n",
        "https://public.host/ ",
        " https://public.host/",
        "https:evil.com",
        "https:/evil.com",
        "https:\\\\evil.com",
        "https:/\\evil.com",
        "http://evil.com@public.host",
        "http://public.host@evil.com",
        "https://user:pass@public.host/",
        "https://@public.host/",
        "https://public.host.evil.com",
        "https://evil.com#@public.host",
        "https://evil.com?@public.host",
        "https://public.host:443@evil.com",
        "https://public.host\\@evil.com",
        "https://public.host%2F@evil.com",
        "https://public.host%40evil.com",
        "https://evil.com\\.public.host",
        "https://evil.com%2F.example.com",
        "https://public.host:/",
        "https://public.host:0/",
        "https://public.host:65536/",
        "https://public.host:443:443/",
        "https://public.host:+443/",
        "https://[::1/",
        "https://[evil.com]/",
        "https://[]/",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "javascript://public.host/%0Aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "ftp://public.host/",
        "evil.com",
        "public.host",
        "app",
        "?next=x",
        "#x",
        ".//evil.com",
        "https://pսblic.host/",
        "https://public.hоst/",
        "https://ехample.com/",
        "/caf\u{e9}",
        "/%",
        "/%2",
        "/%zz",
        "/a\"onmouseover=x",
        "/<script>",
        long_path.as_str(),
    ];
    for p in payloads {
        assert_eq!(check(p), None, "{p:?}");
    }
}

#[test]
fn max_length_boundary() {
    let exact = format!("/{}", "a".repeat(MAX_REDIRECT_LEN - 1));
    assert!(check(&exact).is_some());
    let over = format!("/{}", "a".repeat(MAX_REDIRECT_LEN));
    assert!(check(&over).is_none());
}

#[test]
fn bad_public_origin_is_just_no_match() {
    for origin in ["", "public.host", "https://u@public.host", "javascript:x"] {
        assert_eq!(
            safe_redirect("https://public.host/", Some(origin), &[]),
            None
        );
    }
    assert!(safe_redirect("https://public.host/x", Some("https://public.host/"), &[]).is_some());
}

#[test]
fn percent_decode_once_only() {
    assert_eq!(percent_decode_once("/%2F%2f%41"), Some(b"///A".to_vec()));
    assert_eq!(percent_decode_once("/%252F"), Some(b"/%2F".to_vec()));
    assert_eq!(percent_decode_once("/%"), None);
    assert_eq!(percent_decode_once("/%g0"), None);
}
