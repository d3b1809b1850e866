//! bmc-sim's Redfish face fed arbitrary request bodies, headers and query strings on its
//! writable endpoints (all but InsertMedia) and collections, for four vendor profiles: never a panic, always an HTTP
//! answer, and the face still answers a normal GET afterwards.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bmc_sim::{Node, NodeConfig, RedfishConfig, Vendor, redfish_router};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const TARGETS: &[(&str, &str)] = &[
    ("PATCH", "/redfish/v1/Systems/1"),
    ("POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"),
    ("PATCH", "/redfish/v1/Systems/1/Bios/Settings"),
    ("PATCH", "/redfish/v1/Systems/1/SecureBoot"),
    // Not InsertMedia: it makes a HEAD request to the image URL, and fuzzed input must not
    // send traffic anywhere.
    ("POST", "/redfish/v1/SessionService/Sessions"),
    (
        "POST",
        "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
    ),
    ("POST", "/redfish/v1/UpdateService/upload"),
    ("GET", "/redfish/v1/SessionService/Sessions"),
    // Subscriptions deliver to loopback only, and the fuzzed BMC sees no event before it is
    // dropped; its delivery tasks end with it.
    ("POST", "/redfish/v1/EventService/Subscriptions"),
    ("PATCH", "/redfish/v1/EventService"),
    (
        "POST",
        "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent",
    ),
    ("GET", "/redfish/v1/TaskService/Tasks"),
];

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|input: (u8, u8, bool, Vec<u8>, Vec<u8>, Vec<u8>)| {
    let (target, vendor, basic, body, query, header) = input;
    let vendor = [
        Vendor::Generic,
        Vendor::Dell,
        Vendor::Supermicro,
        Vendor::Lenovo,
    ][vendor as usize % 4];
    let node = Arc::new(Mutex::new(Node::new(
        NodeConfig::numbered("fuzz", 1),
        Instant::now(),
    )));
    let router = redfish_router(
        RedfishConfig {
            vendor,
            ..RedfishConfig::default()
        },
        node,
    );
    let (method, path) = TARGETS[target as usize % TARGETS.len()];
    let query: String = String::from_utf8_lossy(&query)
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '#')
        .take(64)
        .collect();
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri.as_str());
    if basic {
        req = req.header("authorization", "Basic YWRtaW46cGFzc3dvcmQ=");
    }
    if let Ok(v) = axum::http::HeaderValue::from_bytes(&header) {
        req = req.header("if-match", v.clone()).header("content-type", v);
    }
    let Ok(req) = req.body(Body::from(body)) else {
        return;
    };
    rt().block_on(async {
        let resp = router.clone().oneshot(req).await.expect("infallible");
        assert!(resp.status().as_u16() >= 200);
        let ok = router
            .oneshot(
                Request::get("/redfish/v1/")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(ok.status(), StatusCode::OK);
    });
});
