//! The EventService pushes events to subscribers: a tiny axum receiver on loopback stands for
//! the subscriber; curl and ipmitool drive the BMC.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use common::{curl, header, json, require};
use serde_json::Value;

use bmc_sim::{Fleet, FleetConfig};

/// What the receiver got, per path, and how many POSTs to refuse (500) per path first.
#[derive(Default)]
struct Inbox {
    got: Vec<(String, Value, Instant)>,
    refuse: std::collections::HashMap<String, u32>,
    attempts: std::collections::HashMap<String, u32>,
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    Path(path): Path<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    let mut i = inbox.lock().unwrap();
    *i.attempts.entry(path.clone()).or_default() += 1;
    if let Some(n) = i.refuse.get_mut(&path) {
        if *n > 0 {
            *n -= 1;
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    let v: Value = serde_json::from_slice(&body).expect("an event is JSON");
    i.got.push((path, v, Instant::now()));
    StatusCode::NO_CONTENT
}

fn wait_for(inbox: &Mutex<Inbox>, what: impl Fn(&Inbox) -> bool) -> bool {
    for _ in 0..100 {
        if what(&inbox.lock().unwrap()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn message_ids(inbox: &Inbox, path: &str) -> Vec<String> {
    inbox
        .got
        .iter()
        .filter(|(p, _, _)| p == path)
        .flat_map(|(_, v, _)| v["Events"].as_array().cloned().unwrap_or_default())
        .map(|e| e["MessageId"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn subscriptions_receive_filtered_events_with_retries() {
    require("curl", "curl");
    require("ipmitool", "ipmitool");
    let rt = common::runtime();
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let receiver = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/events/{path}", axum::routing::post(receive))
            .with_state(inbox.clone());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        format!("http://{addr}/events")
    });
    let fleet = rt
        .block_on(Fleet::start(
            FleetConfig::builder()
                .count(1)
                .redfish("127.0.0.1:0".parse().unwrap()),
        ))
        .unwrap();
    let u = fleet.redfish_url(0).unwrap();
    let basic = "admin:password";
    let post =
        |path: &str, body: &str| common::curl_json("POST", basic, body, &format!("{u}{path}"));
    let subscribe = |path: &str, extra: &str| {
        let (code, headers, body) = post(
            "/redfish/v1/EventService/Subscriptions",
            &format!(r#"{{"Destination":"{receiver}/{path}","Context":"ctx-{path}"{extra}}}"#),
        );
        assert_eq!(code, 201, "{body}");
        header(&headers, "location").unwrap().to_string()
    };

    // The service advertises what can be subscribed to and its retry settings.
    let (_, _, body) = curl(&["-u", basic, &format!("{u}/redfish/v1/EventService")]);
    let es = json(&body);
    assert_eq!(es["DeliveryRetryAttempts"], 3);
    assert_eq!(
        es["Subscriptions"]["@odata.id"],
        "/redfish/v1/EventService/Subscriptions"
    );
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-X",
        "PATCH",
        "-d",
        r#"{"DeliveryRetryAttempts":2,"DeliveryRetryIntervalSeconds":1}"#,
        &format!("{u}/redfish/v1/EventService"),
    ]);
    assert_eq!(code, 204);

    let tasks = subscribe("tasks", r#","RegistryPrefixes":["TaskEvent"]"#);
    subscribe(
        "power",
        r#","EventTypes":["StatusChange"],"ResourceTypes":["ComputerSystem"]"#,
    );
    subscribe("all", "");
    let (_, _, body) = curl(&["-u", basic, &format!("{u}{tasks}")]);
    let sub = json(&body);
    assert_eq!(sub["Context"], "ctx-tasks");
    assert_eq!(sub["RegistryPrefixes"][0], "TaskEvent");
    let (_, _, body) = curl(&[
        "-u",
        basic,
        &format!("{u}/redfish/v1/EventService/Subscriptions"),
    ]);
    assert_eq!(json(&body)["Members@odata.count"], 3);

    // Power on through Redfish, off through IPMI: both are power changes of the system.
    assert_eq!(
        post(
            "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
            r#"{"ResetType":"On"}"#
        )
        .0,
        204
    );
    assert!(wait_for(&inbox, |i| !message_ids(i, "power").is_empty()));
    common::ipmitool(
        fleet.ipmi_addr(0).unwrap().port(),
        &["chassis", "power", "off"],
    );
    assert!(wait_for(&inbox, |i| {
        i.got.iter().any(|(p, v, _)| {
            p == "power"
                && v["Events"][0]["Message"]
                    .as_str()
                    .is_some_and(|m| m.contains("PowerState changed to Off"))
        })
    }));

    // A firmware update completes as a task, pushed without anyone polling it.
    let (code, _, _) = post(
        "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
        r#"{"ImageURI":"http://127.0.0.1/fw/bmc-2.0.bin"}"#,
    );
    assert_eq!(code, 202);
    // Each subscriber gets its copy on its own delivery task: wait for both that expect it.
    assert!(wait_for(&inbox, |i| ["tasks", "all"].iter().all(|s| {
        message_ids(i, s).contains(&"TaskEvent.1.0.TaskCompletedOK".to_string())
    })));
    {
        let i = inbox.lock().unwrap();
        // Filters: the task subscriber saw only task events, the power subscriber no task.
        assert!(
            message_ids(&i, "tasks")
                .iter()
                .all(|m| m.starts_with("TaskEvent."))
        );
        assert!(
            !message_ids(&i, "power")
                .iter()
                .any(|m| m.starts_with("TaskEvent."))
        );
        let all = message_ids(&i, "all");
        assert!(all.contains(&"TaskEvent.1.0.TaskCompletedOK".to_string()));
        assert!(all.contains(&"ResourceEvent.1.0.ResourceChanged".to_string()));
        // Each delivery carries its subscription's Context and a well-formed event.
        for (p, v, _) in &i.got {
            assert_eq!(v["Context"], format!("ctx-{p}"));
            assert_eq!(v["@odata.type"], "#Event.v1_7_0.Event");
            assert!(
                v["Events"][0]["EventTimestamp"]
                    .as_str()
                    .unwrap()
                    .ends_with('Z')
            );
        }
    }

    // A subscriber that fails twice gets the event on the third attempt, a second later each.
    inbox.lock().unwrap().refuse.insert("flaky".to_string(), 2);
    subscribe("flaky", "");
    let sent = Instant::now();
    assert_eq!(
        post(
            "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent",
            r#"{"MessageId":"ResourceEvent.1.0.ResourceChanged","Message":"hello"}"#
        )
        .0,
        204
    );
    assert!(wait_for(&inbox, |i| !message_ids(i, "flaky").is_empty()));
    {
        let i = inbox.lock().unwrap();
        assert_eq!(i.attempts["flaky"], 3);
        let at = i.got.iter().find(|(p, _, _)| p == "flaky").unwrap().2;
        assert!(at.duration_since(sent) >= Duration::from_millis(1900));
        // The test event reached every subscriber, whatever its filters.
        for p in ["tasks", "power", "all"] {
            assert!(
                i.got
                    .iter()
                    .any(|(q, v, _)| q == p && v["Events"][0]["Message"] == "hello"),
                "{p}"
            );
        }
    }

    // A subscriber that never answers is dropped after the retries (TerminateAfterRetries).
    inbox
        .lock()
        .unwrap()
        .refuse
        .insert("dead".to_string(), u32::MAX);
    let dead = subscribe("dead", "");
    post(
        "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent",
        "{}",
    );
    let mut gone = false;
    for _ in 0..60 {
        if curl(&["-u", basic, &format!("{u}{dead}")]).0 == 404 {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone, "the dead subscription was not terminated");
    assert_eq!(inbox.lock().unwrap().attempts["dead"], 3);

    // Refused: no destination, not http, not loopback, unknown filters; then DELETE.
    for bad in [
        r#"{"Context":"x"}"#.to_string(),
        r#"{"Destination":"ftp://127.0.0.1/x"}"#.to_string(),
        r#"{"Destination":"http://192.0.2.1/x"}"#.to_string(),
        format!(r#"{{"Destination":"{receiver}/x","EventTypes":["Nope"]}}"#),
        "not json".to_string(),
    ] {
        let (code, _, body) = post("/redfish/v1/EventService/Subscriptions", &bad);
        assert_eq!(code, 400, "{bad}: {body}");
    }
    // PATCH: Context, DeliveryRetryPolicy and Status/State, all or nothing; read-only and
    // unknown properties refused with the subscription unchanged.
    let patch =
        |path: &str, body: &str| common::curl_json("PATCH", basic, body, &format!("{u}{path}"));
    let (code, _, body) = patch(
        &tasks,
        r#"{"Context":"ctx-renamed","DeliveryRetryPolicy":"SuspendRetries","Status":{"State":"Disabled"}}"#,
    );
    assert_eq!(code, 200, "{body}");
    let (_, _, body) = curl(&["-u", basic, &format!("{u}{tasks}")]);
    let sub = json(&body);
    assert_eq!(sub["Context"], "ctx-renamed");
    assert_eq!(sub["DeliveryRetryPolicy"], "SuspendRetries");
    assert_eq!(sub["Status"]["State"], "Disabled");
    let (code, _, body) = patch(&tasks, r#"{"Status":{"State":"Enabled"},"Context":null}"#);
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["Status"]["State"], "Enabled");
    assert!(json(&body)["Context"].is_null());
    for (bad, message) in [
        (
            r#"{"Context":"x","Destination":"http://127.0.0.1/y"}"#,
            "PropertyNotWritable",
        ),
        (r#"{"Bogus":1}"#, "PropertyUnknown"),
        (
            r#"{"Status":{"State":"Sleeping"}}"#,
            "PropertyValueNotInList",
        ),
        (
            r#"{"DeliveryRetryPolicy":"Sometimes"}"#,
            "PropertyValueNotInList",
        ),
    ] {
        let (code, _, body) = patch(&tasks, bad);
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body.contains(message), "{bad}: {body}");
    }
    let (_, _, body) = curl(&["-u", basic, &format!("{u}{tasks}")]);
    assert!(
        json(&body)["Context"].is_null(),
        "a refused PATCH changed the subscription"
    );
    assert_eq!(
        patch(
            "/redfish/v1/EventService/Subscriptions/999",
            r#"{"Context":"x"}"#
        )
        .0,
        404
    );

    let (code, _, _) = curl(&["-u", basic, "-X", "DELETE", &format!("{u}{tasks}")]);
    assert_eq!(code, 204);
    assert_eq!(curl(&["-u", basic, &format!("{u}{tasks}")]).0, 404);
}

/// Python's `http.server` over TLS (certificate from `openssl req`) printing each POSTed body
/// on a line: (child, port, its stdout lines).
fn python_https_receiver(
    dir: &std::path::Path,
) -> (std::process::Child, u16, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    use std::process::Command;
    let (cert, key) = common::self_signed_cert(dir);
    let script = "import http.server, json, ssl, sys\n\
        class H(http.server.BaseHTTPRequestHandler):\n\
        \x20   def do_POST(self):\n\
        \x20       body = self.rfile.read(int(self.headers['Content-Length']))\n\
        \x20       print(json.dumps(json.loads(body)), flush=True)\n\
        \x20       self.send_response(204)\n\
        \x20       self.end_headers()\n\
        \x20   def log_message(self, *a):\n\
        \x20       pass\n\
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n\
        srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n\
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n\
        print(srv.server_address[1], flush=True)\n\
        srv.serve_forever()\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(&cert)
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let port = lines.next().unwrap().unwrap().trim().parse().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    (child, port, rx)
}

#[test]
fn events_are_pushed_to_an_https_receiver() {
    require("curl", "curl");
    require("openssl", "openssl");
    require("python3", "python3");
    let dir = tempfile::tempdir().unwrap();
    let (mut receiver, port, events) = python_https_receiver(dir.path());
    let rt = common::runtime();
    let fleet = rt
        .block_on(Fleet::start(
            FleetConfig::builder().redfish("127.0.0.1:0".parse().unwrap()),
        ))
        .unwrap();
    let u = fleet.redfish_url(0).unwrap();
    let (code, _, body) = curl(&[
        "-u",
        "admin:password",
        "-X",
        "POST",
        "-d",
        &format!(r#"{{"Destination":"https://127.0.0.1:{port}/events","Context":"tls"}}"#),
        &format!("{u}/redfish/v1/EventService/Subscriptions"),
    ]);
    assert_eq!(code, 201, "{body}");
    let (code, _, _) = curl(&[
        "-u",
        "admin:password",
        "-X",
        "POST",
        "-d",
        r#"{"Message":"over TLS"}"#,
        &format!("{u}/redfish/v1/EventService/Actions/EventService.SubmitTestEvent"),
    ]);
    assert_eq!(code, 204);
    let line = events
        .recv_timeout(Duration::from_secs(10))
        .expect("no event reached the HTTPS receiver");
    let v = json(&line);
    assert_eq!(v["Context"], "tls");
    assert_eq!(v["Events"][0]["Message"], "over TLS");
    let _ = receiver.kill();
    let _ = receiver.wait();
}
