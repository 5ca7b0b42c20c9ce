//! gRPC end to end over an `h2c://` upstream (issue 18 part 5): a real gRPC server
//! (Debian's python3-grpcio, a generic handler on raw bytes, no protoc) behind the
//! gateway, called through it by the same library's client. The upstream leg is HTTP/2
//! with prior knowledge: unary, client-streaming and server-streaming calls work, the
//! server's trailing metadata and status come back, the client's `TE: trailers` reaches
//! the server (it refuses calls without it), the route's identity headers arrive as
//! metadata, and a call without credentials is answered UNAUTHENTICATED by the gateway.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::bearer::user;
use crate::support::bearer::{config, start_ready, ProviderYaml};
use crate::support::fake_idp::FakeIdp;

/// The interpreter Debian's python3-grpcio is installed for.
const PYTHON: &str = "/usr/bin/python3";

/// A gRPC server on 127.0.0.1:<free port> (printed first): service `test.Echo` with
/// `Call` (unary: echoes the message, trailing metadata names the server, the caller's
/// `x-auth-user`, and whether `te: trailers` came), `Sum` (client streaming: counts the
/// messages), `Count` (server streaming: as many messages as the request says) and
/// `Fail` (NOT_FOUND with details).
const SERVER: &str = r#"
import sys, grpc
from concurrent import futures

def md(context):
    return dict(context.invocation_metadata())

def call(request, context):
    seen = md(context)
    context.set_trailing_metadata((
        ("x-served-by", "python-grpc"),
        ("x-user", seen.get("x-auth-user", "-")),
        ("x-authorization", "present" if "authorization" in seen else "absent"),
    ))
    return b"echo:" + request

def total(requests, context):
    parts = [r for r in requests]
    context.set_trailing_metadata((("x-messages", str(len(parts))),))
    return b"got %d messages, %d bytes" % (len(parts), sum(len(p) for p in parts))

def count(request, context):
    for i in range(int(request)):
        yield b"n%d" % i

def fail(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no such thing here")

handler = grpc.method_handlers_generic_handler("test.Echo", {
    "Call": grpc.unary_unary_rpc_method_handler(call),
    "Sum": grpc.stream_unary_rpc_method_handler(total),
    "Count": grpc.unary_stream_rpc_method_handler(count),
    "Fail": grpc.unary_unary_rpc_method_handler(fail),
})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
server.add_generic_rpc_handlers((handler,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
server.wait_for_termination()
"#;

/// Calls the gateway at argv[1] with the Authorization of argv[2] (`""`: none) and
/// prints each call's `[code, details, messages, trailing metadata]` as JSON.
const CLIENT: &str = r#"
import json, sys, grpc
target, authorization = sys.argv[1], sys.argv[2]
metadata = [("authorization", authorization)] if authorization else []
out = {}
def outcome(name, fn):
    try:
        messages, call = fn()
        trailers = {k: v for k, v in (call.trailing_metadata() or ())}
        out[name] = [call.code().name, call.details() or "", messages, trailers]
    except grpc.RpcError as e:
        trailers = {k: v for k, v in (e.trailing_metadata() or ())}
        out[name] = [e.code().name, e.details() or "", [], trailers]
with grpc.insecure_channel(target) as channel:
    def unary():
        reply, call = channel.unary_unary("/test.Echo/Call").with_call(
            b"hello", metadata=metadata, timeout=20)
        return [reply.decode()], call
    def client_stream():
        reply, call = channel.stream_unary("/test.Echo/Sum").with_call(
            iter([b"a", b"bb", b"ccc"]), metadata=metadata, timeout=20)
        return [reply.decode()], call
    def server_stream():
        call = channel.unary_stream("/test.Echo/Count")(b"3", metadata=metadata, timeout=20)
        return [m.decode() for m in call], call
    def failing():
        reply, call = channel.unary_unary("/test.Echo/Fail").with_call(
            b"x", metadata=metadata, timeout=20)
        return [reply.decode()], call
    outcome("unary", unary)
    outcome("client_stream", client_stream)
    outcome("server_stream", server_stream)
    outcome("fail", failing)
print(json.dumps(out))
"#;

/// The Python gRPC server, killed when dropped.
struct GrpcServer {
    child: Child,
    port: u16,
}

impl GrpcServer {
    fn start() -> GrpcServer {
        let mut child = Command::new(PYTHON)
            .args(["-c", SERVER])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the python gRPC server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port line");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("gRPC server printed no port: {line:?}")
        });
        GrpcServer { child, port }
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn client(target: String, authorization: String) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(PYTHON)
            .args(["-c", CLIENT, &target, &authorization])
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
    serde_json::from_slice(&out.stdout).expect("client output")
}

#[tokio::test]
async fn grpc_calls_reach_an_h2c_upstream_with_trailers_and_streams() {
    let check = Command::new(PYTHON).args(["-c", "import grpc"]).output();
    assert!(
        check.is_ok_and(|o| o.status.success()),
        "python3-grpcio missing: apt-get install -y python3-grpcio (tests/run.sh does)"
    );
    let server = tokio::task::spawn_blocking(GrpcServer::start)
        .await
        .expect("join");
    let idp = FakeIdp::start().await;
    let route = format!(
        "  - name: grpc\n    match: {{ path_prefix: \"/test.Echo\" }}\n    upstream: \
         \"h2c://127.0.0.1:{}\"\n    auth: bearer\n    forward_authorization: false\n",
        server.port
    );
    let yaml = config(
        &[ProviderYaml::default().with("userinfo: never").render(&idp)],
        &[route],
    );
    let gw = start_ready(&yaml).await;
    let target = gw.running.addr.to_string();
    let bob = format!("Bearer {}", idp.sign(user(&idp, "bob", json!({}))));

    let got = client(target.clone(), bob).await;
    let served = |extra: Value| {
        let mut t =
            json!({"x-served-by": "python-grpc", "x-user": "bob", "x-authorization": "absent"});
        if let (Some(t), Value::Object(e)) = (t.as_object_mut(), extra) {
            t.extend(e);
        }
        t
    };
    assert_eq!(
        got["unary"],
        json!(["OK", "", ["echo:hello"], served(json!({}))])
    );
    assert_eq!(
        got["client_stream"],
        json!(["OK", "", ["got 3 messages, 6 bytes"], {"x-messages": "3"}])
    );
    assert_eq!(
        got["server_stream"],
        json!(["OK", "", ["n0", "n1", "n2"], {}])
    );
    // The server's own status and message pass through (trailers-only: its trailing
    // metadata is the response head, the gateway's Date and X-Request-Id included).
    assert_eq!(
        got["fail"].as_array().map(|a| &a[..3]),
        Some(
            &json!(["NOT_FOUND", "no such thing here", []])
                .as_array()
                .unwrap()[..]
        ),
        "{}",
        got["fail"]
    );

    // Without credentials the gateway answers, in gRPC's terms; nothing reaches the server.
    let got = client(target, String::new()).await;
    for call in ["unary", "client_stream", "server_stream", "fail"] {
        assert_eq!(got[call][0], "UNAUTHENTICATED", "{call}: {}", got[call]);
        assert_eq!(got[call][1], "Authentication is required.", "{call}");
    }
    let opened = gw
        .metric("portcullis_upstream_connections_opened_total{route=\"grpc\"}")
        .await;
    assert!(
        (1.0..=2.0).contains(&opened),
        "one HTTP/2 connection per worker carries every call: {opened}"
    );
}
