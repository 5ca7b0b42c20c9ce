// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! A provider runtime's life: discovery that never succeeds for a wrong issuer, the
//! background task's retries and its end (shutdown, runtime dropped), and which config
//! changes forbid reusing the runtime across a reload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[tokio::test]
async fn issuer_mismatch_never_becomes_ready() {
    let idp = idp().await;
    let mut cfg = provider_config(&idp.issuer, false, false);
    cfg.discovery_url = format!("{}/.well-known/openid-configuration", idp.issuer);
    cfg.issuer = format!("{}/", idp.issuer);
    let p = ProviderRuntime::new(cfg, Arc::new(NoopObserver)).unwrap();
    assert!(matches!(
        p.discover().await,
        Err(ProviderError::Discovery {
            source: DiscoveryError::IssuerMismatch { .. },
            ..
        })
    ));
    assert!(!p.is_ready());
}

#[tokio::test]
async fn background_task_retries_until_discovered_and_stops_on_shutdown() {
    let idp = idp().await;
    *idp.down.lock().unwrap() = true;
    let mut p = ProviderRuntime::new(
        provider_config(&idp.issuer, false, false),
        Arc::new(NoopObserver),
    )
    .unwrap();
    p.set_backoff(Duration::from_millis(1), Duration::from_millis(4));
    let p = Arc::new(p);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = p.spawn_refresh(async move {
        let _ = rx.await;
    });
    while idp.server.hits("/.well-known/openid-configuration") < 3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(!p.is_ready());
    *idp.down.lock().unwrap() = false;
    tokio::time::timeout(Duration::from_secs(10), async {
        while !p.is_ready() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .unwrap();
    tx.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn background_task_ends_when_the_runtime_is_dropped() {
    let idp = idp().await;
    *idp.down.lock().unwrap() = true;
    let mut p = ProviderRuntime::new(
        provider_config(&idp.issuer, false, false),
        Arc::new(NoopObserver),
    )
    .unwrap();
    p.set_backoff(Duration::from_millis(1), Duration::from_millis(1));
    let p = Arc::new(p);
    let task = p.spawn_refresh(std::future::pending());
    drop(p);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn reuse_only_for_identical_config() {
    let cfg = provider_config("https://idp.example.com", true, false);
    let p = ProviderRuntime::new(cfg.clone(), Arc::new(NoopObserver)).unwrap();
    assert!(p.can_reuse(&cfg));
    let mut changed = cfg.clone();
    changed.tokens.audiences.push("api2".into());
    assert!(!p.can_reuse(&changed));
    let mut changed = cfg.clone();
    if let Some(i) = changed.tokens.introspection.as_mut() {
        i.client_secret = Some(Secret::new("rotated"));
    }
    assert!(!p.can_reuse(&changed));
    // The bearer-token guards too: cached verdicts were judged under the old ones, and
    // the caps live in the runtime.
    for change in [
        |i: &mut IntrospectionConfig| i.token_types.push("custom".into()),
        |i: &mut IntrospectionConfig| i.max_token_length = 10,
        |i: &mut IntrospectionConfig| i.rate_limit.burst = 1,
    ] {
        let mut changed = cfg.clone();
        change(changed.tokens.introspection.as_mut().unwrap());
        assert!(!p.can_reuse(&changed));
    }
    let mut changed = cfg.clone();
    changed.tokens.userinfo_rate_limit.max_in_flight = 1;
    assert!(!p.can_reuse(&changed));
    let mut changed = cfg;
    changed.tokens.introspection = None;
    assert!(!p.can_reuse(&changed));
    let _: Option<Value> = None;
}
