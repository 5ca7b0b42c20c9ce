//! Fuzzes the gateway's HTTP/1 request framing (hyper's server as the transport
//! configures it, plus `transport::framing::check`) against the reference reading of
//! RFC 9112 (`transport::framing::reference`): for any byte stream on one connection,
//! the same requests, the same bodies, and the same refusal or end. Half the inputs get
//! a request line and a Host first, so the fuzzer spends its time on the framing fields
//! and bodies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis::transport::framing::harness::differs;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, wire)) = data.split_first() else {
        return;
    };
    let mut input = Vec::with_capacity(wire.len() + 40);
    if flags & 1 == 1 {
        input.extend_from_slice(b"POST /f HTTP/1.1\r\nHost: x\r\n");
    }
    input.extend_from_slice(wire);
    if let Some(diff) = runtime().block_on(differs(&input)) {
        panic!("{diff}");
    }
});
