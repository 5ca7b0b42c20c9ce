//! `rediss://`: the real `portcullis` binary talks TLS to a TLS-only redis-server through
//! rustls (aws-lc-rs). The server's self-signed certificate is trusted through
//! `SSL_CERT_FILE`, set for the child process only (the test process's environment is
//! never changed).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::bearer::poll;
use crate::support::client::get;
use crate::support::fake_idp::FakeIdp;
use crate::support::redis::RedisServer;

/// Kills the gateway process when the test ends, however it ends.
struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

#[tokio::test]
async fn the_gateway_reaches_redis_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).expect("params");
    let cert = params.self_signed(&key).expect("cert");
    let cert_path = dir.path().join("redis.crt");
    let key_path = dir.path().join("redis.key");
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    let redis = RedisServer::start_tls(cert_path.clone(), key_path).await;
    assert!(redis.url().starts_with("rediss://"));

    let idp = FakeIdp::start().await;
    let admin = free_port();
    let yaml = format!(
        "server:\n  listen: \"127.0.0.1:{listen}\"\nadmin:\n  listen: \"127.0.0.1:{admin}\"\n\
         providers:\n  - name: idp\n    issuer: \"{issuer}\"\n    client_id: portcullis\n    \
         client_secret: s\n    tokens:\n      audiences: [api1]\n\
         session:\n  secrets: [\"{secret}\"]\n  store: redis\n  redis: {{ url: \"{url}\" }}\n\
         routes:\n  - name: app\n    match: {{ path_prefix: \"/\" }}\n    upstream: \
         \"http://127.0.0.1:1\"\n    auth: session\n",
        listen = free_port(),
        issuer = idp.issuer(),
        secret = crate::sso::new_secret(),
        url = redis.url(),
    );
    let config = dir.path().join("portcullis.yaml");
    std::fs::write(&config, yaml).expect("write config");
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("SSL_CERT_FILE", &cert_path)
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run portcullis");
    let _gw = Gateway(child);
    let readyz = format!("http://127.0.0.1:{admin}/readyz");
    let ready = poll(Duration::from_secs(30), || async {
        std::net::TcpStream::connect(("127.0.0.1", admin)).is_ok()
            && get(&readyz, &[]).await.status == 200
    })
    .await;
    let why = if std::net::TcpStream::connect(("127.0.0.1", admin)).is_ok() {
        get(&readyz, &[]).await.text()
    } else {
        "admin port not listening".to_owned()
    };
    assert!(ready, "the gateway never reached redis over TLS: {why}");
}
