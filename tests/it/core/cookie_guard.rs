//! An upstream cannot set or delete the gateway's cookies (cookie tossing, session
//! fixation): its `Set-Cookie` fields naming them are dropped on every route and path,
//! over HTTP/1 and HTTP/2, and counted; its own cookies pass.

use bytes::Bytes;
use http::HeaderMap;

use crate::support::client::{get, get_h2c, send};
use crate::support::{fixed_upstream, TestGateway};

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\n\
    Set-Cookie: app=1; Path=/\r\n\
    Set-Cookie: portcullis=forged; Path=/\r\n\
    Set-Cookie: __Host-portcullis=; Max-Age=0; Path=/; Secure\r\n\
    set-cookie: __Secure-PORTCULLIS_1=chunk\r\n\
    Set-Cookie: portcullis_login_abc=x\r\n\
    Set-Cookie: =portcullis=nameless\r\n\
    Set-Cookie: other=2\r\n\
    Content-Length: 2\r\n\r\nok";

fn cookies(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("text"))
        .collect()
}

#[tokio::test]
async fn upstream_set_cookies_naming_gateway_cookies_are_dropped_everywhere() {
    let up = fixed_upstream(ANSWER, false).await;
    let gw = TestGateway::start(&format!(
        "server:\n  listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\n\
         routes:\n  - name: open\n    upstream: \"http://{up}\"\n    auth: none\n"
    ))
    .await;
    let url = format!("http://{}/x", gw.running.addr);
    let want = ["app=1; Path=/", "other=2"];

    let r = get(&url, &[]).await;
    assert_eq!(r.body, "ok");
    assert_eq!(cookies(&r.headers), want, "HTTP/1 GET");
    let r = send("POST", &url, &[], Bytes::from_static(b"hi")).await;
    assert_eq!(cookies(&r.headers), want, "HTTP/1 POST");
    let r = get_h2c(gw.running.addr, "/x").await;
    assert_eq!(cookies(&r.headers), want, "HTTP/2");

    // Five dropped per response, three responses.
    let dropped = gw
        .metric("portcullis_upstream_cookies_dropped_total{route=\"open\"}")
        .await;
    assert_eq!(dropped, 15.0);
}
