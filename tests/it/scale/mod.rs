//! Scale-out (issue 6): two gateway replicas sharing one real `redis-server` (started by
//! the test on a free port). Sessions made on one replica work on the other, sign-out and
//! back-channel logout end them everywhere, and a Redis outage turns session routes into
//! 503 (bearer routes unaffected) until Redis is back, without restarting the gateways.

mod backchannel;
mod cached;
mod outage;
mod refresh;
mod shared;
mod tls;

use serde_json::{json, Value};

use crate::sso::{new_secret, Bed, Setup, CLIENT_ID};
use crate::support::browser::Browser;
use crate::support::client::{send, Resp};
use crate::support::fake_idp::{now, random_hex};
use crate::support::redis::RedisServer;
use crate::support::TestGateway;

/// The back-channel logout event.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Replica A (the bed's gateway), replica B, and their Redis.
pub struct Pair {
    /// Replica A with the FakeIdp and the upstream (fields drop in order: the gateways
    /// before their Redis).
    pub bed: Bed,
    /// Replica B.
    pub b: TestGateway,
    /// B's public origin.
    pub public_b: String,
    /// The Redis both use.
    pub redis: RedisServer,
}

/// The standard SSO setup with `store: redis` at `url` and the shared `secret`.
pub fn setup(url: &str, secret: &str) -> Setup {
    Setup {
        secrets: vec![secret.to_owned()],
        ..Setup::default()
            .session("store: redis")
            .session(&format!("redis: {{ url: \"{url}\" }}"))
    }
}

impl Pair {
    /// Redis, then replica A (with the FakeIdp), then replica B with the same config and
    /// session secret. The provider puts `sid` into its ID tokens.
    pub async fn start() -> Pair {
        let redis = RedisServer::start().await;
        let secret = new_secret();
        let bed = Bed::start(setup(&redis.url(), &secret)).await;
        let (b, public_b) = bed.another(&setup(&redis.url(), &secret)).await;
        let pair = Pair {
            bed,
            b,
            public_b,
            redis,
        };
        pair.set_sid("sid-1");
        pair
    }

    /// The provider session id of the next logins.
    pub fn set_sid(&self, sid: &str) {
        self.bed.idp.set_id_token_patch(json!({ "sid": sid }));
    }

    /// A URL on replica A.
    pub fn a(&self, path: &str) -> String {
        self.bed.url(path)
    }

    /// A URL on replica B.
    pub fn b(&self, path: &str) -> String {
        format!("{}{path}", self.public_b)
    }

    /// A fresh browser signed in through replica A (asserts the chain ended on the page).
    pub async fn signed_in(&self) -> Browser {
        let browser = Browser::new();
        self.bed.login_with(&browser, "/app/x").await;
        browser
    }

    /// Number of session records in Redis.
    pub async fn records(&self) -> usize {
        let reply = self.redis.command("KEYS portcullis:s:*").await;
        // RESP array header: `*<n>`.
        reply
            .lines()
            .next()
            .and_then(|l| l.strip_prefix('*'))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// A logout token signed by the provider (`typ: logout+jwt`), standard claims patched
    /// with `patch` (`null` removes a claim).
    pub fn logout_token(&self, patch: Value) -> String {
        let mut claims = json!({
            "iss": self.bed.idp.issuer(),
            "aud": CLIENT_ID,
            "iat": now(),
            "exp": now() + 120,
            "jti": random_hex(16),
            "sub": "sub-alice",
            "sid": "sid-1",
            "events": { EVENT: {} },
        });
        if let (Value::Object(c), Value::Object(p)) = (&mut claims, patch) {
            for (k, v) in p {
                if v.is_null() {
                    c.remove(&k);
                } else {
                    c.insert(k, v);
                }
            }
        }
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(self.bed.idp.kid());
        h.typ = Some("logout+jwt".into());
        self.bed.idp.sign_with_header(h, claims)
    }
}

/// POSTs `logout_token=<token>` to `<origin>/oauth2/backchannel_logout`.
pub async fn post_logout(origin: &str, token: &str) -> Resp {
    send(
        "POST",
        &format!("{origin}/oauth2/backchannel_logout"),
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("logout_token={token}").into(),
    )
    .await
}
