//! Transport behaviour against a tiny scripted HTTP server on loopback: sessions (login,
//! re-login on 401, DELETE on close), ETag 428/412 retry, Retry-After, the body cap, errors
//! inside 2xx, task monitors, paging, and credentials kept out of errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redfish_client::model::{ComputerSystem, ResetType};
use redfish_client::{ActionOutcome, Client, Error, RetryPolicy};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

enum Resp {
    Full(u16, Vec<(&'static str, String)>, String),
    Endless,
}

fn json_resp(status: u16, v: serde_json::Value) -> Resp {
    Resp::Full(status, vec![], v.to_string())
}

type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

/// Serve `handler` on 127.0.0.1; returns the base URL and the request log.
async fn serve(handler: Handler) -> (String, Arc<Mutex<Vec<Req>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let handler = handler.clone();
            let log = log2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                let head_end = loop {
                    let n = sock.read(&mut tmp).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap().split(' ');
                let method = first.next().unwrap().to_owned();
                let path = first.next().unwrap().to_owned();
                let headers: HashMap<String, String> = lines
                    .filter_map(|l| l.split_once(": "))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                    .collect();
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = sock.read(&mut tmp).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                }
                let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                let req = Req {
                    method,
                    path,
                    headers,
                    body,
                };
                log.lock().unwrap().push(req.clone());
                match handler(&req) {
                    Resp::Full(status, hdrs, body) => {
                        let mut out = format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                            body.len()
                        );
                        if !body.is_empty() {
                            out.push_str("Content-Type: application/json\r\n");
                        }
                        for (k, v) in hdrs {
                            out.push_str(&format!("{k}: {v}\r\n"));
                        }
                        out.push_str("\r\n");
                        out.push_str(&body);
                        let _ = sock.write_all(out.as_bytes()).await;
                    }
                    Resp::Endless => {
                        let _ = sock
                            .write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[",
                            )
                            .await;
                        let chunk = vec![b'1'; 64 * 1024];
                        while sock.write_all(&chunk).await.is_ok() {}
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), log)
}

fn root() -> serde_json::Value {
    json!({"@odata.id": "/redfish/v1", "Systems": {"@odata.id": "/redfish/v1/Systems"},
           "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}}})
}

#[tokio::test]
async fn session_login_relogin_on_401_and_delete_on_close() {
    let tokens = Arc::new(Mutex::new(0u32));
    let t = tokens.clone();
    let (url, log) = serve(Arc::new(move |r: &Req| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/redfish/v1/") => json_resp(200, root()),
        ("POST", "/redfish/v1/SessionService/Sessions") => {
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            if body["Password"] != "s3cret" {
                return json_resp(401, json!({"error": {"code": "Base.1.0.NoValidSession", "message": "bad"}}));
            }
            let mut n = t.lock().unwrap();
            *n += 1;
            Resp::Full(201, vec![("X-Auth-Token", format!("tok{n}")), ("Location", format!("/redfish/v1/SessionService/Sessions/{n}"))], "{}".into())
        }
        // The first token "expires" after login: it gets 401, the second works.
        ("GET", "/redfish/v1/Systems/1") => match r.headers.get("x-auth-token").map(String::as_str) {
            Some("tok2") => json_resp(200, json!({"@odata.id": "/redfish/v1/Systems/1", "Id": "1", "PowerState": "Off"})),
            _ => json_resp(401, json!({})),
        },
        ("DELETE", p) if p.starts_with("/redfish/v1/SessionService/Sessions/") => Resp::Full(204, vec![], String::new()),
        _ => json_resp(404, json!({})),
    }))
    .await;
    let client = Client::builder(&url)
        .session_auth("admin", "s3cret")
        .build()
        .unwrap();
    let s: ComputerSystem = client.get("/redfish/v1/Systems/1").await.unwrap();
    assert_eq!(s.id.as_deref(), Some("1"));
    client.close().await.unwrap();
    let log = log.lock().unwrap().clone();
    let seq: Vec<String> = log
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        seq,
        [
            "GET /redfish/v1/",
            "POST /redfish/v1/SessionService/Sessions",
            "GET /redfish/v1/Systems/1",
            "POST /redfish/v1/SessionService/Sessions",
            "GET /redfish/v1/Systems/1",
            "DELETE /redfish/v1/SessionService/Sessions/2",
        ]
    );
    assert_eq!(log[5].headers["x-auth-token"], "tok2");

    // A wrong password: a login error that does not contain the password.
    let bad = Client::builder(&url)
        .session_auth("admin", "wrong-pw")
        .build()
        .unwrap();
    let e = bad
        .get::<ComputerSystem>("/redfish/v1/Systems/1")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Login { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("wrong-pw"));
}

#[tokio::test]
async fn patch_retries_once_with_etag_on_428() {
    let (url, log) = serve(Arc::new(|r: &Req| {
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/x") => Resp::Full(200, vec![("ETag", "W/\"42-gzip\"".into())], "{}".into()),
            ("PATCH", "/x") => match r.headers.get("if-match") {
                Some(m) if m == "W/\"42\"" => Resp::Full(204, vec![], String::new()),
                Some(_) => json_resp(412, json!({})),
                None => json_resp(428, json!({})),
            },
            _ => json_resp(404, json!({})),
        }
    }))
    .await;
    let client = Client::builder(&url).build().unwrap();
    client.patch("/x", &json!({"A": 1}), None).await.unwrap();
    // A stale ETag: 412, then the fresh one.
    client
        .patch("/x", &json!({"A": 1}), Some("W/\"41\""))
        .await
        .unwrap();
    let seq: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(seq.iter().filter(|s| s.starts_with("PATCH")).count(), 4);
}

#[tokio::test]
async fn retry_after_is_honoured_for_get_and_service_errors_are_parsed() {
    let n = Arc::new(Mutex::new(0));
    let n2 = n.clone();
    let (url, _) = serve(Arc::new(move |r: &Req| match r.path.as_str() {
        "/busy" => {
            let mut n = n2.lock().unwrap();
            *n += 1;
            if *n < 3 { Resp::Full(503, vec![("Retry-After", "0".into())], String::new()) } else { json_resp(200, json!({"ok": true})) }
        }
        "/bad" => json_resp(400, json!({"error": {"code": "Base.1.0.GeneralError", "message": "x",
            "@Message.ExtendedInfo": [{"MessageId": "Base.1.8.PropertyValueNotInList", "Message": "nope", "Severity": "Critical"}]}})),
        "/ok-but-not" => json_resp(200, json!({"@Message.ExtendedInfo": [{"MessageId": "IDRAC.2.1.SYS444", "Message": "read-only", "MessageSeverity": "Critical"}]})),
        _ => json_resp(404, json!({})),
    }))
    .await;
    let client = Client::builder(&url)
        .retry(RetryPolicy::default().max_retries(3))
        .build()
        .unwrap();
    let v = client.get_json("/busy").await.unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(*n.lock().unwrap(), 3);
    let e = client.get_json("/bad").await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.message_id(), Some("Base.1.8.PropertyValueNotInList"));
    assert!(!e.is_retryable());
    let e = client
        .patch("/ok-but-not", &json!({}), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::ServiceMessage { status: 200, .. }),
        "{e:?}"
    );
    assert_eq!(e.message_id(), Some("IDRAC.2.1.SYS444"));
}

#[tokio::test]
async fn endless_body_hits_the_cap() {
    let (url, _) = serve(Arc::new(|_: &Req| Resp::Endless)).await;
    let client = Client::builder(&url)
        .max_body_bytes(1 << 20)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let e = client.get_json("/redfish/v1/").await.unwrap_err();
    assert!(
        matches!(e, Error::BodyTooLarge { limit: 1048576, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn reset_checks_allowable_values_and_follows_task() {
    let polls = Arc::new(Mutex::new(0));
    let p2 = polls.clone();
    let (url, log) = serve(Arc::new(move |r: &Req| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/redfish/v1/Systems/1") => json_resp(200, json!({"@odata.id": "/redfish/v1/Systems/1/",
            "Actions": {"#ComputerSystem.Reset": {"target": "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
                "ResetType@Redfish.AllowableValues": ["On", "ForceOff"]}}})),
        ("POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset") =>
            Resp::Full(202, vec![("Location", "/redfish/v1/TaskService/Tasks/7".into()), ("Retry-After", "0".into())], String::new()),
        ("GET", "/redfish/v1/TaskService/Tasks/7") => {
            let mut n = p2.lock().unwrap();
            *n += 1;
            let state = if *n < 2 { "Running" } else { "Completed" };
            json_resp(200, json!({"Id": "7", "TaskState": state, "TaskStatus": "OK"}))
        }
        _ => json_resp(404, json!({})),
    }))
    .await;
    let client = Client::builder(&url).build().unwrap();
    let s = client.system("/redfish/v1/Systems/1").await.unwrap();
    let e = client.reset(&s, ResetType::Nmi).await.unwrap_err();
    assert!(
        matches!(e, Error::Unsupported { .. }) && e.to_string().contains("On, ForceOff"),
        "{e}"
    );
    assert!(e.not_sent());
    let ActionOutcome::Accepted(m) = client.reset(&s, ResetType::On).await.unwrap() else {
        panic!("expected a task")
    };
    let task = client.wait_task(&m, Duration::from_secs(10)).await.unwrap();
    assert!(task.succeeded());
    let posts = log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1);
    assert_eq!(*polls.lock().unwrap(), 2);
}

#[tokio::test]
async fn list_follows_next_link_and_stops_on_loops() {
    let (url, _) = serve(Arc::new(|r: &Req| match r.path.as_str() {
        "/c" => json_resp(
            200,
            json!({"Members": [{"@odata.id": "/c/1"}], "Members@odata.nextLink": "/c?page=2"}),
        ),
        "/c?page=2" => json_resp(
            200,
            json!({"Members": [{"@odata.id": "/c/2"}], "Members@odata.nextLink": "/c"}),
        ),
        _ => json_resp(404, json!({})),
    }))
    .await;
    let client = Client::builder(&url).build().unwrap();
    let links = client.list::<serde_json::Value>("/c").await.unwrap();
    let ids: Vec<&str> = links.iter().map(|l| l.id().as_str()).collect();
    assert_eq!(ids, ["/c/1", "/c/2"]);
}

#[tokio::test]
async fn refused_connection_is_retryable_transport_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let client = Client::builder(format!("http://{addr}"))
        .basic_auth("u", "pw-not-shown")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let e = client.get_json("/redfish/v1/").await.unwrap_err();
    assert!(
        matches!(e, Error::Transport { not_sent: true, .. }),
        "{e:?}"
    );
    assert!(e.is_retryable());
    assert!(!format!("{e:?}").contains("pw-not-shown"));
}

#[tokio::test]
async fn members_use_expand_when_advertised_and_fall_back() {
    let (url, log) = serve(Arc::new(|r: &Req| match r.path.as_str() {
        "/redfish/v1/" => json_resp(
            200,
            json!({"Systems": {"@odata.id": "/redfish/v1/Systems"},
            "ProtocolFeaturesSupported": {"ExpandQuery": {"Links": true}}}),
        ),
        "/redfish/v1/Systems?$expand=.($levels=1)" => json_resp(
            200,
            json!({"Members": [
            {"@odata.id": "/redfish/v1/Systems/1", "Id": "1", "PowerState": "On"},
            {"@odata.id": "/redfish/v1/Systems/2", "Id": "2", "PowerState": "Off"}]}),
        ),
        "/redfish/v1/Chassis?$expand=.($levels=1)" => json_resp(
            200,
            json!({"Members": [{"@odata.id": "/redfish/v1/Chassis/1"}]}),
        ),
        "/redfish/v1/Chassis" => json_resp(
            200,
            json!({"Members": [{"@odata.id": "/redfish/v1/Chassis/1"}]}),
        ),
        "/redfish/v1/Chassis/1" => json_resp(
            200,
            json!({"@odata.id": "/redfish/v1/Chassis/1", "Id": "1"}),
        ),
        _ => json_resp(404, json!({})),
    }))
    .await;
    let client = Client::builder(&url).build().unwrap();
    let systems = client.systems().await.unwrap();
    assert_eq!(systems.len(), 2);
    assert_eq!(systems[1].id.as_deref(), Some("2"));
    let chassis: Vec<redfish_client::model::Chassis> =
        client.members("/redfish/v1/Chassis").await.unwrap();
    assert_eq!(chassis[0].id.as_deref(), Some("1"));
    let gets = log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path.starts_with("/redfish/v1/Systems"))
        .count();
    assert_eq!(gets, 1, "one expanded GET for all systems");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_limit_per_bmc() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let now = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let (n2, m2) = (now.clone(), max.clone());
    let (url, _) = serve(Arc::new(move |_: &Req| {
        let cur = n2.fetch_add(1, Ordering::SeqCst) + 1;
        m2.fetch_max(cur, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        n2.fetch_sub(1, Ordering::SeqCst);
        json_resp(200, json!({}))
    }))
    .await;
    let client = Client::builder(&url)
        .max_concurrent_requests(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.get_json("/x").await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(
        max.load(Ordering::SeqCst) <= 2,
        "max in flight {}",
        max.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn virtual_media_under_managers_with_supermicro_body() {
    let (url, log) = serve(Arc::new(|r: &Req| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/redfish/v1/") => json_resp(200, json!({"Vendor": "Supermicro", "Systems": {"@odata.id": "/redfish/v1/Systems"}})),
        ("GET", "/redfish/v1/Systems/1") => json_resp(200, json!({"@odata.id": "/redfish/v1/Systems/1",
            "Links": {"ManagedBy": [{"@odata.id": "/redfish/v1/Managers/1"}]}})),
        ("GET", "/redfish/v1/Managers/1") => json_resp(200, json!({"@odata.id": "/redfish/v1/Managers/1",
            "VirtualMedia": {"@odata.id": "/redfish/v1/Managers/1/VirtualMedia"}})),
        ("GET", "/redfish/v1/Managers/1/VirtualMedia") => json_resp(200, json!({"Members": [
            {"@odata.id": "/redfish/v1/Managers/1/VirtualMedia/Floppy1"}, {"@odata.id": "/redfish/v1/Managers/1/VirtualMedia/CD1"}]})),
        ("GET", "/redfish/v1/Managers/1/VirtualMedia/Floppy1") => json_resp(200, json!({"@odata.id": "/redfish/v1/Managers/1/VirtualMedia/Floppy1",
            "Id": "Floppy1", "MediaTypes": ["Floppy", "USBStick"]})),
        ("GET", "/redfish/v1/Managers/1/VirtualMedia/CD1") => json_resp(200, json!({"@odata.id": "/redfish/v1/Managers/1/VirtualMedia/CD1",
            "Id": "CD1", "MediaTypes": ["CD", "DVD"], "Inserted": false,
            "Actions": {"#VirtualMedia.InsertMedia": {"target": "/redfish/v1/Managers/1/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia"}}})),
        ("POST", "/redfish/v1/Managers/1/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia") => Resp::Full(204, vec![], String::new()),
        _ => json_resp(404, json!({})),
    }))
    .await;
    let client = Client::builder(&url).build().unwrap();
    let s = client.system("1").await.unwrap();
    let slot = client
        .insert_media(
            &s,
            &redfish_client::ops::InsertMedia::new("http://10.0.0.1/a.iso"),
        )
        .await
        .unwrap();
    assert_eq!(slot.id.as_deref(), Some("CD1"));
    let post = log
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.method == "POST")
        .cloned()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&post.body).unwrap(),
        json!({"Image": "http://10.0.0.1/a.iso"})
    );
}
