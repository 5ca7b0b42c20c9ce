//! One session, two replicas: made on A, used on B, ended on B and refused by A (within
//! a second); a new login replaces the id (no fixation); records and indexes carry TTLs.

use super::Pair;
use crate::support::browser::{enc, Browser};

#[tokio::test]
async fn a_session_made_on_a_works_on_b_and_sign_out_on_b_kills_it_on_a() {
    let pair = Pair::start().await;
    let browser = pair.signed_in().await;
    let cookies = pair.bed.session_cookies(&browser);
    assert_eq!(
        cookies.len(),
        1,
        "one opaque cookie, no chunks: {cookies:?}"
    );
    assert!(
        cookies[0].value.len() < 200,
        "the cookie should carry only a sealed id, got {} bytes",
        cookies[0].value.len()
    );
    assert_eq!(pair.records().await, 1);

    // Replica B knows the session it never saw being made.
    let on_b = browser.api_get(&pair.b("/app/x")).await;
    assert_eq!(on_b.status, 200, "{}: {}", on_b.describe(), on_b.text());
    assert_eq!(on_b.echoed("x-auth-user").as_deref(), Some("alice"));

    // A copy of the cookie taken before sign-out…
    let stolen = browser.fork();
    let chain = browser.follow(&pair.b("/oauth2/sign_out")).await;
    assert_eq!(chain.hops[0].status, 302, "{}", chain.describe());
    assert_eq!(pair.records().await, 0, "sign-out must delete the record");

    // …is dead on the other replica too (within a second: it drops its copy when Redis
    // announces the deletion).
    assert!(super::cached::refused_within(&stolen, &pair.a("/app/x")).await);
    let hop = stolen.get(&pair.a("/app/x")).await;
    assert_eq!(hop.status, 302, "navigation must lead to the login again");
    let hop = stolen.api_get(&pair.a("/oauth2/userinfo")).await;
    assert_eq!(hop.status, 401, "{}", hop.describe());
}

#[tokio::test]
async fn a_new_login_gets_a_new_id_and_the_old_one_dies() {
    let pair = Pair::start().await;
    let browser = pair.signed_in().await;
    let before = browser.fork();
    let old = pair.bed.session_cookies(&browser)[0].value.clone();

    // Log in again in the same browser (it still sends the old cookie).
    let start = format!("/oauth2/start?rd={}", enc("/app/x"));
    let chain = browser.follow(&pair.a(&start)).await;
    assert_eq!(
        (chain.last().status, chain.last().url.as_str()),
        (200, pair.a("/app/x").as_str()),
        "{}",
        chain.describe()
    );
    let new = pair.bed.session_cookies(&browser)[0].value.clone();
    assert_ne!(old, new, "a login must issue a new session id");
    assert_eq!(pair.records().await, 1, "the old record must be deleted");
    assert_eq!(before.api_get(&pair.b("/app/x")).await.status, 401);
    assert_eq!(browser.api_get(&pair.b("/app/x")).await.status, 200);
}

#[tokio::test]
async fn records_and_indexes_expire_with_the_session() {
    let pair = Pair::start().await;
    let _browser = pair.signed_in().await;
    let keys = pair.redis.command("KEYS portcullis:*").await;
    let names: Vec<&str> = keys
        .lines()
        .filter(|l| l.starts_with("portcullis:"))
        .collect();
    let record = names
        .iter()
        .find(|k| k.starts_with("portcullis:s:"))
        .unwrap_or_else(|| panic!("no record in {names:?}"));
    assert_eq!(record.len(), "portcullis:s:".len() + 64, "sha256 hex key");
    assert!(names.contains(&"portcullis:sid:idp:sid-1"), "{names:?}");
    assert!(names.contains(&"portcullis:sub:idp:sub-alice"), "{names:?}");
    // idle_timeout defaults to 1h (< lifetime 12h): the TTL never exceeds it.
    for key in &names {
        let reply = pair.redis.command(&format!("TTL {key}")).await;
        let ttl: i64 = reply.trim().trim_start_matches(':').parse().expect("TTL");
        assert!(ttl > 0 && ttl <= 3600, "{key}: TTL {ttl}");
    }
    // The record is encrypted: no token or user name in clear.
    let raw = pair.redis.command(&format!("GET {record}")).await;
    assert!(!raw.contains("alice"), "record not encrypted");
    let issued = pair.bed.idp.last_issued().expect("issued");
    assert!(!raw.contains(&issued.access_token));
}

#[tokio::test]
async fn a_forged_or_foreign_cookie_is_no_session() {
    let pair = Pair::start().await;
    let browser = pair.signed_in().await;
    let value = pair.bed.session_cookies(&browser)[0].value.clone();
    let forged = Browser::new();
    forged.put_cookie("portcullis", &format!("{}A", &value[..value.len() - 1]));
    assert_eq!(forged.api_get(&pair.a("/app/x")).await.status, 401);
    forged.put_cookie("portcullis", "bm90IGFuIGlk");
    assert_eq!(forged.api_get(&pair.b("/app/x")).await.status, 401);
}

#[tokio::test]
async fn after_a_secret_rotation_cookie_and_record_are_resealed_once() {
    use crate::sso::{new_secret, Bed, Setup};
    use crate::support::redis::RedisServer;
    // Dropped last: the gateways go before their Redis.
    let redis = RedisServer::start().await;
    let (old, new) = (new_secret(), new_secret());
    let with = |secrets: &[&String]| Setup {
        secrets: secrets.iter().map(|s| (*s).clone()).collect(),
        ..super::setup(&redis.url(), "unused")
    };
    let bed = Bed::start(with(&[&old])).await;
    let (_rotated, rotated) = bed.another(&with(&[&new, &old])).await;
    let (_retired, only_new) = bed.another(&with(&[&new])).await;
    let browser = Browser::new();
    bed.login_with(&browser, "/app/x").await;
    let id_cookie = bed.session_cookies(&browser)[0].value.clone();
    assert_eq!(
        browser
            .fork()
            .api_get(&format!("{only_new}/app/x"))
            .await
            .status,
        401
    );
    let first = browser.api_get(&format!("{rotated}/app/x")).await;
    assert_eq!(first.status, 200, "{}", first.describe());
    let resealed = bed.session_cookies(&browser)[0].value.clone();
    assert_ne!(resealed, id_cookie, "the id cookie was not re-sealed");
    let second = browser.api_get(&format!("{rotated}/app/y")).await;
    assert!(
        second.set_cookies.is_empty(),
        "re-sealed on every request: {:?}",
        second.set_cookies
    );
    // The same session (one record), now readable with the new secret alone: the id
    // cookie and the record were both sealed again.
    let hop = browser.api_get(&format!("{only_new}/app/z")).await;
    assert_eq!(hop.status, 200, "{}: {}", hop.describe(), hop.text());
    let records = redis.command("KEYS portcullis:s:*").await;
    assert!(records.starts_with("*1"), "{records}");
}
