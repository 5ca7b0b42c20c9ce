// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Unit tests of the registry's handles.
use super::*;

#[test]
fn auth_successes_use_the_route_counter_resolved_on_first_use() {
    let m = Metrics::new().unwrap();
    let route = m.route("api");
    assert!(route.auth_ok.iter().all(|c| c.get().is_none()), "lazy");
    m.count_auth(&route, "api", "bearer", "ok");
    m.count_auth(&route, "api", "bearer", "ok");
    m.count_auth(&route, "api", "session", "ok");
    m.count_auth(&route, "api", "bearer", "invalid");
    assert_eq!(route.auth_ok[0].get().unwrap().get(), 2);
    let text = String::from_utf8(m.encode()).unwrap();
    for line in [
        r#"portcullis_auth_total{method="bearer",outcome="ok",route="api"} 2"#,
        r#"portcullis_auth_total{method="session",outcome="ok",route="api"} 1"#,
        r#"portcullis_auth_total{method="bearer",outcome="invalid",route="api"} 1"#,
    ] {
        assert!(text.contains(line), "{line}");
    }
}
