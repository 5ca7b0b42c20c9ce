//! Precedence matrix, host wildcards and prefix-boundary tests for the route table.

use std::time::Duration;

use super::*;
use crate::config::model::{AllowRules, AuthMode, RouteTimeouts, Upstream};

fn route(name: &str, host: Option<&str>, prefix: &str) -> RouteConfig {
    RouteConfig {
        name: name.to_owned(),
        host: host.map(|h| match h.strip_prefix('*') {
            Some(suffix) => HostMatch::Suffix(suffix.to_owned()),
            None => HostMatch::Exact(h.to_owned()),
        }),
        path_prefix: prefix.to_owned(),
        upstream: Upstream {
            url: "http://127.0.0.1:3000".to_owned(),
            https: false,
            h2c: false,
            authority: http::uri::Authority::from_static("127.0.0.1:3000"),
            base_path: String::new(),
        },
        upstream_tls: None,
        strip_prefix: false,
        preserve_host: false,
        auth: AuthMode::None,
        provider: None,
        providers: Vec::new(),
        public_paths: Vec::new(),
        allow: AllowRules::default(),
        identity_headers: Vec::new(),
        forward_authorization: false,
        pass_access_token: false,
        timeouts: RouteTimeouts {
            connect: Duration::from_secs(1),
            response: Duration::from_secs(1),
        },
        cors: None,
        rate_limit: Vec::new(),
        identity_assertion: None,
        token_exchange: None,
        accept: Default::default(),
        machine: Default::default(),
    }
}

fn names(routes: &[RouteConfig], found: Option<usize>) -> Option<&str> {
    found.map(|i| routes[i].name.as_str())
}

#[test]
fn prefix_is_segment_bounded() {
    assert!(prefix_matches("/api", "/api"));
    assert!(prefix_matches("/api", "/api/"));
    assert!(prefix_matches("/api", "/api/x/y"));
    assert!(!prefix_matches("/api", "/apix"));
    assert!(!prefix_matches("/api", "/ap"));
    assert!(!prefix_matches("/api", "/"));
    assert!(prefix_matches("/v1/", "/v1/items"));
    assert!(prefix_matches("/v1/", "/v1/"));
    assert!(prefix_matches("/v1/", "/v1"));
    assert!(!prefix_matches("/v1/", "/v10"));
    assert!(!prefix_matches("/v1/", "/v1x/"));
    assert!(prefix_matches("/", "/"));
    assert!(prefix_matches("/", "/anything"));
    // Case-sensitive, like the paths themselves.
    assert!(!prefix_matches("/api", "/API"));
    // An encoded slash is not a boundary.
    assert!(!prefix_matches("/a/", "/a%2Fb"));
    assert!(!prefix_matches("/a", "/a%2Fb"));
    // A path parameter is part of its segment (the pipeline refuses the ambiguous ones).
    assert!(!prefix_matches("/admin", "/admin;x/users"));
}

#[test]
fn longest_prefix_wins_then_file_order() {
    let routes = vec![
        route("root", None, "/"),
        route("api", None, "/api"),
        route("api-v1", None, "/api/v1"),
        route("api-dup", None, "/api"),
    ];
    let t = RouteTable::new(&routes);
    assert_eq!(names(&routes, t.find(None, "/api/v1/x")), Some("api-v1"));
    assert_eq!(names(&routes, t.find(None, "/api/v2")), Some("api"));
    assert_eq!(names(&routes, t.find(None, "/api")), Some("api"));
    assert_eq!(names(&routes, t.find(None, "/apix")), Some("root"));
    assert_eq!(names(&routes, t.find(None, "/api/v1x")), Some("api"));
    assert_eq!(names(&routes, t.find(Some("any.host"), "/")), Some("root"));
}

#[test]
fn no_match_is_none() {
    let routes = vec![route("api", Some("api.example.com"), "/api")];
    let t = RouteTable::new(&routes);
    assert_eq!(t.find(Some("api.example.com"), "/other"), None);
    assert_eq!(t.find(Some("www.example.com"), "/api"), None);
    assert_eq!(t.find(None, "/api"), None);
    assert!(RouteTable::new(&[]).find(None, "/").is_none());
}

#[test]
fn host_class_beats_prefix_length() {
    let routes = vec![
        route("any-long", None, "/a/b/c"),
        route("wild", Some("*.example.com"), "/a"),
        route("exact", Some("api.example.com"), "/"),
        route("wild-deeper", Some("*.eu.example.com"), "/"),
    ];
    let t = RouteTable::new(&routes);
    assert_eq!(
        names(&routes, t.find(Some("api.example.com"), "/a/b/c")),
        Some("exact")
    );
    assert_eq!(
        names(&routes, t.find(Some("www.example.com"), "/a/b/c")),
        Some("wild")
    );
    // The exact route would match any path; a wildcard only /a.
    assert_eq!(names(&routes, t.find(Some("www.example.com"), "/z")), None);
    assert_eq!(
        names(&routes, t.find(Some("other.org"), "/a/b/c/d")),
        Some("any-long")
    );
    // A longer (more specific) wildcard wins over a shorter one.
    assert_eq!(
        names(&routes, t.find(Some("x.eu.example.com"), "/a")),
        Some("wild-deeper")
    );
}

#[test]
fn exact_route_falls_through_to_wildcard_and_any_when_path_misses() {
    let routes = vec![
        route("exact-api", Some("app.example.com"), "/api"),
        route("wild", Some("*.example.com"), "/static"),
        route("any", None, "/"),
    ];
    let t = RouteTable::new(&routes);
    assert_eq!(
        names(&routes, t.find(Some("app.example.com"), "/api/1")),
        Some("exact-api")
    );
    assert_eq!(
        names(&routes, t.find(Some("app.example.com"), "/static/x")),
        Some("wild")
    );
    assert_eq!(
        names(&routes, t.find(Some("app.example.com"), "/other")),
        Some("any")
    );
}

#[test]
fn wildcard_hosts() {
    let routes = vec![route("wild", Some("*.example.com"), "/")];
    let t = RouteTable::new(&routes);
    for ok in [
        "a.example.com",
        "a.b.example.com",
        "A.EXAMPLE.COM",
        "a.example.com:8443",
        "a.example.com.",
        "a.example.com.:80",
    ] {
        assert_eq!(t.find(Some(ok), "/"), Some(0), "{ok}");
    }
    for bad in [
        "example.com",
        ".example.com",
        "evilexample.com",
        "example.com.evil.org",
        "a.example.co",
        "a.example.com.evil",
        "",
    ] {
        assert_eq!(t.find(Some(bad), "/"), None, "{bad}");
    }
    assert_eq!(t.find(None, "/"), None);
}

#[test]
fn exact_hosts_with_ports_case_and_trailing_dot() {
    let routes = vec![route("exact", Some("api.example.com"), "/")];
    let t = RouteTable::new(&routes);
    for ok in [
        "api.example.com",
        "API.Example.COM",
        "api.example.com:443",
        "api.example.com.",
    ] {
        assert_eq!(t.find(Some(ok), "/"), Some(0), "{ok}");
    }
    for bad in [
        "api.example.com.evil",
        "xapi.example.com",
        "api.example.com:x",
        "evil@api.example.com",
        "api.example.com/x",
        "api.example.com ",
        "api.example.com:80:80",
    ] {
        assert_eq!(t.find(Some(bad), "/"), None, "{bad}");
    }
}

#[test]
fn malformed_host_only_reaches_hostless_routes() {
    let routes = vec![
        route("exact", Some("a.example.com"), "/"),
        route("any", None, "/"),
    ];
    let t = RouteTable::new(&routes);
    assert_eq!(
        names(&routes, t.find(Some("a.example.com@evil"), "/")),
        Some("any")
    );
    assert_eq!(names(&routes, t.find(Some("[::1]:8080"), "/")), Some("any"));
}

#[test]
fn host_only_parsing() {
    assert_eq!(host_only("example.com:8080"), Some("example.com"));
    assert_eq!(host_only("example.com."), Some("example.com"));
    assert_eq!(host_only("[::1]:8080"), Some("[::1]"));
    assert_eq!(host_only("[::1]"), Some("[::1]"));
    assert_eq!(host_only("[::1"), None);
    assert_eq!(host_only("[::1]x"), None);
    assert_eq!(host_only("[a@b]"), None);
    assert_eq!(host_only(":80"), None);
    assert_eq!(host_only(""), None);
    assert_eq!(host_only("10.0.0.1:80"), Some("10.0.0.1"));
}

#[test]
fn public_paths_use_the_same_boundary_rule() {
    let public = vec!["/public".to_owned(), "/v1/health/".to_owned()];
    assert!(is_public(&public, "/public"));
    assert!(is_public(&public, "/public/x"));
    assert!(is_public(&public, "/v1/health"));
    assert!(is_public(&public, "/v1/health/live"));
    assert!(!is_public(&public, "/publicity"));
    assert!(!is_public(&public, "/admin"));
    assert!(!is_public(&public, "/public%23/../admin"));
    assert!(!is_public(&[], "/public"));
    // Normalising first is what defeats the tricks.
    let tricky = crate::routing::normalize_path("/public%23/../admin");
    assert_eq!(tricky.as_deref(), Ok("/admin"));
    assert!(!is_public(&public, "/admin"));
    assert!(!is_public(&public, "/public%23"));
}

#[test]
fn strip_prefix_keeps_a_leading_slash() {
    assert_eq!(strip_prefix("/api/x", "/api"), "/x");
    assert_eq!(strip_prefix("/api/x/", "/api/"), "/x/");
    assert_eq!(strip_prefix("/api", "/api"), "/");
    assert_eq!(strip_prefix("/api/", "/api"), "/");
    assert_eq!(strip_prefix("/api", "/api/"), "/");
    assert_eq!(strip_prefix("/x", "/"), "/x");
    assert_eq!(strip_prefix("/", "/"), "/");
    // Not a segment match: unchanged rather than mangled.
    assert_eq!(strip_prefix("/apix", "/api"), "/apix");
    assert_eq!(strip_prefix("/other", "/api"), "/other");
}

#[test]
fn table_len() {
    let routes = vec![route("a", None, "/"), route("b", None, "/b")];
    let t = RouteTable::new(&routes);
    assert_eq!(t.len(), 2);
    assert!(!t.is_empty());
    assert!(RouteTable::default().is_empty());
}

#[test]
fn the_host_is_read_once_and_only_for_host_bound_routes() {
    let routes = vec![
        route("app", Some("app.example.com"), "/app"),
        route("wild", Some("*.example.com"), "/"),
        route("root", None, "/"),
    ];
    let t = RouteTable::new(&routes);
    let reads = std::cell::Cell::new(0);
    let host = |h: &'static str| {
        reads.set(reads.get() + 1);
        Some(h)
    };
    // Both host-bound entries are tried: the host is read once for them.
    assert_eq!(
        names(&routes, t.find_by(|| host("x.example.com"), "/app")),
        Some("wild")
    );
    assert_eq!(reads.get(), 1);
    assert_eq!(
        names(&routes, t.find_by(|| host("other.org"), "/a")),
        Some("root")
    );
    assert_eq!(reads.get(), 2);
    // A garbage host matches only the host-less route, as with `find`.
    assert_eq!(
        names(&routes, t.find_by(|| host("a b@x.example.com"), "/")),
        Some("root")
    );
    let hostless = [route("root", None, "/")];
    let t = RouteTable::new(&hostless);
    assert_eq!(t.find_by(|| host("never.read"), "/x"), Some(0));
    assert_eq!(reads.get(), 3, "a host-less table never reads the host");
}

#[test]
fn a_path_read_as_another_route_by_a_lenient_upstream_is_refused() {
    let routes = vec![
        route("open", None, "/"),
        route("admin", None, "/admin"),
        route("api", None, "/api/"),
    ];
    let t = RouteTable::new(&routes);
    let find = |p: &str| t.find_unambiguous(|| None, p).map(|f| names(&routes, f));
    // Escaped separators kept in the path (normal forms, as `keep` forwards them).
    for p in [
        "/admin%2Fx",
        "/%2Fadmin/x",
        "/admin%5Cx",
        "/admin%252Fx",
        // Only both readings at once (decoded, then parameters dropped) reach `admin`.
        "/%2Fadmin;v/x",
    ] {
        assert_eq!(find(p), Err(AmbiguousRoute::EscapedSlash), "{p}");
    }
    assert_eq!(find("/admin;x/y"), Err(AmbiguousRoute::Params));
    // Decoded onto the same route: kept as written.
    assert_eq!(find("/api/a%2Fb"), Ok(Some("api")));
    assert_eq!(find("/admin/a%2Fb"), Ok(Some("admin")));
    assert_eq!(find("/files/a%2F..%2F"), Ok(Some("open")));
    assert_eq!(find("/a%2Fb"), Ok(Some("open")));
    assert_eq!(
        AmbiguousRoute::EscapedSlash.why(),
        "escaped slashes would change the route"
    );
}
