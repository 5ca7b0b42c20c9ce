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
fn relative_paths_without_dot_segments_are_accepted_verbatim() {
    for ok in [
        "/",
        "/app",
        "/app/page?x=1&y=%2F%2F#frag",
        "/a//b",
        "/%7Euser",
        "/caf%C3%A9",
        "/?next=//evil.com",
        "/a/..b/.c/b..",
        "/%2e%2e%2e/x",
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
        "http://a.b.example.com/x",
        "https://a.example.com:443/x",
        "https://A.Example.COM",
        "https://exact.org/",
        "http://[::1]/",
        "https://a.example.com/x?next=/../..//evil.com#/..//y",
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
fn dot_segments_are_resolved_and_the_resolved_form_returned() {
    for (rd, resolved) in [
        ("/app/./x", "/app/x"),
        ("/app/../admin", "/admin"),
        ("/app/x/..", "/app/"),
        ("/app/x/.", "/app/x/"),
        ("/..", "/"),
        ("/../../app", "/app"),
        ("/.", "/"),
        ("/app/%2e%2e/admin", "/admin"),
        ("/app/%2E./admin", "/admin"),
        ("/app/.%2E/admin", "/admin"),
        ("/app/%2e/x", "/app/x"),
        ("/a/b/../../c?x=/../y#/../z", "/c?x=/../y#/../z"),
        ("/a//../b", "/a/b"),
        ("https://public.host/app/../x?q", "https://public.host/x?q"),
        ("https://a.example.com/a/./b", "https://a.example.com/a/b"),
    ] {
        assert_eq!(check(rd).as_deref(), Some(resolved), "{rd}");
    }
}

#[test]
fn paths_that_resolve_to_an_authority_are_refused() {
    for rd in [
        "/.//evil.com",
        "/./\\evil.com",
        "/app/..//evil.com",
        "/app/../..//evil.com",
        "/a/b/../..//evil.com",
        "/%2e//evil.com",
        "/%2E%2E//evil.com",
        "/app/%2e%2e//evil.com",
        "/app/.%2e/%2Fevil.com",
        "/app/..%2F%2Fevil.com",
        "/app%2F..%2F%2Fevil.com",
        "/app%2f..%2f%2fevil.com",
        "/app%5C..%5C%5Cevil.com",
        "/app%2F..%2F%5Cevil.com",
        "/app/%2e%2e%2F%2Fevil.com",
        "/app/..%2F%5Cevil.com",
        "/app/../%20/evil.com",
        "/app/..//evil.com?x",
        "/app/..//evil.com#x",
        "https://public.host//evil.com",
        "https://public.host/app/..//evil.com",
        "https://public.host/%2e%2e//evil.com",
        "https://a.example.com/x/..//evil.com",
    ] {
        assert_eq!(check(rd), None, "{rd:?}");
    }
}

#[test]
fn entries_without_a_port_match_only_default_or_public_ports() {
    let plain = vec![".example.com".to_owned(), "[::1]".to_owned()];
    let on = |rd: &str, origin: &str| safe_redirect(rd, Some(origin), &plain).is_some();
    assert!(on("https://a.example.com/", "https://public.host"));
    assert!(on("https://a.example.com:443/", "https://public.host"));
    assert!(on("http://a.example.com:80/", "https://public.host"));
    assert!(!on("https://a.example.com:8443/", "https://public.host"));
    assert!(!on("http://a.example.com:8080/", "https://public.host"));
    assert!(!on("https://a.example.com:80/", "https://public.host"));
    assert!(!on("http://[::1]:3000/", "https://public.host"));
    // The public URL's own port counts too, with either scheme.
    assert!(on(
        "https://a.example.com:8443/",
        "https://public.host:8443"
    ));
    assert!(on("http://a.example.com:8443/", "https://public.host:8443"));
    assert!(on("http://[::1]:8443/", "https://public.host:8443"));
    assert!(!on(
        "https://a.example.com:8444/",
        "https://public.host:8443"
    ));
    // No public origin: default ports only.
    assert!(safe_redirect("https://a.example.com/", None, &plain).is_some());
    assert!(safe_redirect("https://a.example.com:8443/", None, &plain).is_none());
}

#[test]
fn entries_with_a_port_or_a_star() {
    let entries = vec![
        ".example.com:8443".to_owned(),
        "exact.org:*".to_owned(),
        "[::1]:3000".to_owned(),
    ];
    let on = |rd: &str| safe_redirect(rd, ORIGIN, &entries).is_some();
    assert!(on("https://a.example.com:8443/"));
    assert!(on("http://a.example.com:8443/"));
    assert!(
        !on("https://a.example.com/"),
        "a named port is the only one"
    );
    assert!(!on("https://a.example.com:8444/"));
    assert!(on("https://exact.org/"));
    assert!(on("https://exact.org:1/"));
    assert!(on("http://exact.org:65535/"));
    assert!(!on("https://sub.exact.org:8443/"));
    assert!(on("http://[::1]:3000/"));
    assert!(!on("http://[::1]/"));
    assert!(!on("http://[::2]:3000/"));
}

#[test]
fn entry_splitting() {
    use PortRule::*;
    for (entry, split) in [
        (".example.com", Some((".example.com", Default))),
        (" example.com:8443 ", Some(("example.com", Exactly(8443)))),
        (".example.com:*", Some((".example.com", Any))),
        ("[::1]", Some(("[::1]", Default))),
        ("[::1]:3000", Some(("[::1]", Exactly(3000)))),
        ("[::1]:*", Some(("[::1]", Any))),
        ("example.com:", None),
        ("example.com:0", None),
        ("example.com:65536", None),
        ("example.com:+1", None),
        ("example.com:**", None),
    ] {
        assert_eq!(split_domain_entry(entry), split, "{entry:?}");
    }
    // An entry whose port is malformed matches nothing.
    let bad = vec!["example.com:x".to_owned()];
    assert_eq!(safe_redirect("https://example.com/", ORIGIN, &bad), None);
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
fn remove_dot_segments_follows_rfc3986() {
    // RFC 3986 §5.4 examples, as absolute paths.
    for (path, out) in [
        ("/a/b/c/./../../g", "/a/g"),
        ("/mid/content=5/../6", "/mid/6"),
        ("/b/c/./g", "/b/c/g"),
        ("/b/c/g/.", "/b/c/g/"),
        ("/b/c/../g", "/b/g"),
        ("/b/c/..", "/b/"),
        ("/b/c/../..", "/"),
        ("/b/c/../../../g", "/g"),
        ("/b/c/g.", "/b/c/g."),
        ("/b/c/.g", "/b/c/.g"),
        ("/b/c/g..", "/b/c/g.."),
        ("/b/c/..g", "/b/c/..g"),
        ("/b/c/./../g", "/b/g"),
        ("/b/c/g/./h", "/b/c/g/h"),
        ("/b/c/g/../h", "/b/c/h"),
        ("/", "/"),
        ("//", "//"),
    ] {
        assert_eq!(
            remove_dot_segments(path.as_bytes(), plain_dot),
            out.as_bytes(),
            "{path}"
        );
    }
    assert_eq!(remove_dot_segments(b"/a/%2E%2e/b", browser_dot), b"/b");
    assert_eq!(
        remove_dot_segments(b"/a/%2E%2e/b", plain_dot),
        b"/a/%2E%2e/b"
    );
}

#[test]
fn percent_decode_once_only() {
    assert_eq!(percent_decode_once("/%2F%2f%41"), Some(b"///A".to_vec()));
    assert_eq!(percent_decode_once("/%252F"), Some(b"/%2F".to_vec()));
    assert_eq!(percent_decode_once("/%"), None);
    assert_eq!(percent_decode_once("/%g0"), None);
}
