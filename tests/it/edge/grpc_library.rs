//! gRPC denials as a real gRPC library reads them: Debian's python3-grpcio (gRPC C-core,
//! the implementation behind the Python, Ruby, PHP and C++ clients) calls the gateway
//! over h2c and must report the status the gateway meant, not a protocol error. The
//! package is installed by tests/run.sh, like nginx and redis-server.

use std::process::Command;

use serde_json::{json, Value};

use super::grpc::grpc_bed;
use crate::bearer::user;

/// The interpreter Debian's python3-grpcio is installed for.
const PYTHON: &str = "/usr/bin/python3";

/// Makes each call of `calls` (`[method path, Authorization or ""]`) with grpcio and
/// prints `[[code name, details], …]` as JSON.
const CLIENT: &str = r#"
import json, sys, grpc
target, calls = sys.argv[1], json.loads(sys.argv[2])
out = []
with grpc.insecure_channel(target) as channel:
    for path, authorization in calls:
        call = channel.unary_unary(path)  # bytes in, bytes out: no codec needed
        metadata = [("authorization", authorization)] if authorization else []
        try:
            call(b"\x0a\x05hello", metadata=metadata, timeout=20)
            out.append(["OK", ""])
        except grpc.RpcError as e:
            out.append([e.code().name, e.details()])
print(json.dumps(out))
"#;

#[tokio::test]
async fn grpcio_reads_the_denials() {
    let check = Command::new(PYTHON).args(["-c", "import grpc"]).output();
    assert!(
        check.is_ok_and(|o| o.status.success()),
        "python3-grpcio missing: apt-get install -y python3-grpcio (tests/run.sh does)"
    );
    let (idp, gw) = grpc_bed().await;
    let bob = format!("Bearer {}", idp.sign(user(&idp, "bob", json!({}))));
    let calls = json!([
        ["/test.Echo/Call", ""],
        ["/test.Session/Call", ""],
        ["/test.Admin/Call", bob],
        ["/test.Down/Call", bob],
        ["/test.Slow/Call", bob],
        ["/test.Nothing/Call", bob],
    ]);
    let target = gw.running.addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(PYTHON)
            .args(["-c", CLIENT, &target, &calls.to_string()])
            .output()
            .expect("run python3")
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "grpcio client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("client output");
    assert_eq!(
        got,
        json!([
            ["UNAUTHENTICATED", "Authentication is required."],
            ["UNAUTHENTICATED", "Authentication is required."],
            ["PERMISSION_DENIED", "Access to this resource is denied."],
            ["UNAVAILABLE", "The upstream service could not be reached."],
            [
                "DEADLINE_EXCEEDED",
                "The upstream service did not answer in time."
            ],
            ["UNIMPLEMENTED", "No route matches this request."],
        ])
    );
}
