//! Hot reload through the watched config file: a valid edit is served, an invalid one
//! keeps the old config and bumps the failure metric.

use std::time::Duration;

use crate::support::client::get;
use crate::support::{echo_upstream, with_listen, TestGateway};

/// Polls `check` until it holds (bounded); reload is asynchronous by nature.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn valid_edit_is_served_and_invalid_edit_keeps_the_old_config() {
    let up = echo_upstream().await;
    let v1 = format!(
        "routes:\n  - name: old\n    match: {{ path_prefix: \"/old\" }}\n    upstream: \"http://{up}\"\n    auth: none\n"
    );
    let gw = TestGateway::start_with_file(&v1).await;
    let path = gw.config_path.clone().expect("config path");
    assert_eq!(get(&format!("{}/new", gw.url), &[]).await.status, 404);

    // The listen addresses in the file say port 0: a reload keeps the bound sockets.
    let v2 = format!(
        "{v1}  - name: new\n    match: {{ path_prefix: \"/new\" }}\n    upstream: \"http://{up}\"\n    auth: none\n"
    );
    std::fs::write(&path, with_listen(&v2)).expect("write v2");
    let url = gw.url.clone();
    eventually("new route served", || {
        let url = url.clone();
        async move { get(&format!("{url}/new"), &[]).await.status == 200 }
    })
    .await;
    assert_eq!(
        gw.metric("portcullis_config_reloads_total{result=\"ok\"}")
            .await,
        1.0
    );

    std::fs::write(
        &path,
        with_listen("routes:\n  - name: broken\n    upstream: nope\n"),
    )
    .expect("write bad");
    let admin = gw.admin_url.clone();
    eventually("reload failure counted", || {
        let admin = admin.clone();
        async move {
            let m = get(&format!("{admin}/metrics"), &[]).await.text();
            crate::support::metric_value(&m, "portcullis_config_reloads_total{result=\"error\"}")
                == 1.0
        }
    })
    .await;
    assert_eq!(get(&format!("{}/new", gw.url), &[]).await.status, 200);
    assert_eq!(get(&format!("{}/old", gw.url), &[]).await.status, 200);
}

#[tokio::test]
async fn requests_in_flight_finish_on_their_snapshot() {
    let mut up = crate::support::gated_upstream().await;
    let v1 = format!(
        "routes:\n  - name: slow\n    upstream: \"http://{}\"\n    auth: none\n",
        up.addr
    );
    let gw = TestGateway::start(&v1).await;
    let url = format!("{}/x", gw.url);
    let pending = tokio::spawn(async move { get(&url, &[]).await });
    up.arrived.recv().await.expect("arrived");
    // Swap in a config without the route while the request is in flight.
    let cfg = portcullis::config::load_str(&with_listen("routes: []\n")).expect("cfg");
    gw.running.gateway.apply(cfg).expect("apply");
    assert_eq!(get(&format!("{}/x", gw.url), &[]).await.status, 404);
    up.release.notify_waiters();
    let r = pending.await.expect("join");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "released");
}
