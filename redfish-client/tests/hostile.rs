//! A hostile or broken service on loopback (a raw TCP server that writes what each case
//! scripts): an endless body, a gigantic declared length, deeply nested and gigantic JSON,
//! wrong types, a redirect loop, a slow-loris body, and event streams that never end, never
//! finish an event, or go silent. Each gives a bounded, typed error: no panic, no unbounded
//! memory, no hang.

use std::time::Duration;

use redfish_client::model::ComputerSystem;
use redfish_client::sse::SseLimits;
use redfish_client::{Client, Error, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the server answers every request.
#[derive(Clone)]
enum Script {
    /// These bytes, then close.
    Raw(Vec<u8>),
    /// A head, then `chunk` forever every `every`.
    Forever {
        head: Vec<u8>,
        chunk: Vec<u8>,
        every: Duration,
    },
}

async fn serve(script: Script) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                match script {
                    Script::Raw(b) => {
                        let _ = s.write_all(&b).await;
                    }
                    Script::Forever { head, chunk, every } => {
                        if s.write_all(&head).await.is_err() {
                            return;
                        }
                        loop {
                            if s.write_all(&chunk).await.is_err() {
                                return;
                            }
                            if !every.is_zero() {
                                tokio::time::sleep(every).await;
                            }
                        }
                    }
                }
            });
        }
    });
    url
}

fn json_answer(body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

fn client(url: &str) -> Client {
    Client::builder(url)
        .max_body_bytes(1 << 20)
        .request_timeout(Duration::from_secs(5))
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_gigantic_declared_length_is_refused_before_reading() {
    let url = serve(Script::Raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n{".to_vec(),
    ))
    .await;
    let e = client(&url).get_json("/redfish/v1/").await.unwrap_err();
    assert!(matches!(e, Error::BodyTooLarge { .. }), "{e:?}");
}

#[tokio::test]
async fn an_endless_chunked_body_hits_the_cap() {
    let url = serve(Script::Forever {
        head: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        chunk: b"4000\r\n"
            .iter()
            .copied()
            .chain([b' '; 0x4000])
            .chain(*b"\r\n")
            .collect(),
        every: Duration::ZERO,
    })
    .await;
    let e = client(&url).get_json("/redfish/v1/").await.unwrap_err();
    assert!(
        matches!(e, Error::BodyTooLarge { limit: 1048576, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_slow_loris_body_times_out() {
    let url = serve(Script::Forever {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n".to_vec(),
        chunk: b" ".to_vec(),
        every: Duration::from_millis(200),
    })
    .await;
    let c = Client::builder(&url)
        .request_timeout(Duration::from_secs(1))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let e = c.get_json("/redfish/v1/").await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn deeply_nested_and_gigantic_json_are_decode_errors() {
    // 100,000 levels of nesting: serde_json's recursion limit, not a stack overflow.
    let deep: Vec<u8> = std::iter::repeat_n(b'[', 100_000)
        .chain(std::iter::repeat_n(b']', 100_000))
        .collect();
    let url = serve(Script::Raw(json_answer(&deep))).await;
    let e = client(&url).get_json("/redfish/v1/").await.unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    let e = client(&url)
        .get::<ComputerSystem>("/redfish/v1/Systems/1")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");

    // 40,000 members in a collection, past the 1 MiB cap: refused, memory bounded by the cap.
    let mut big = b"{\"Members\": [".to_vec();
    for i in 0..40_000 {
        big.extend_from_slice(
            format!("{{\"@odata.id\": \"/redfish/v1/Systems/{i}\"}},").as_bytes(),
        );
    }
    big.pop();
    big.extend_from_slice(b"]}");
    assert!(big.len() < 2 << 20);
    let url = serve(Script::Raw(json_answer(&big))).await;
    let e = client(&url)
        .list::<ComputerSystem>("/redfish/v1/Systems")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::BodyTooLarge { .. }), "{e:?}");
}

#[tokio::test]
async fn wrong_types_are_decode_errors_naming_the_path() {
    for body in [
        &br#"{"Id": 7, "PowerState": ["On"]}"#[..],
        br#"{"Boot": "Pxe"}"#,
        br#"{"EthernetInterfaces": {"@odata.id": 42}}"#,
        br#"[1, 2, 3]"#,
        br#"null"#,
        b"\xff\xfe not json",
    ] {
        let url = serve(Script::Raw(json_answer(body))).await;
        let e = client(&url)
            .get::<ComputerSystem>("/redfish/v1/Systems/1")
            .await
            .unwrap_err();
        match &e {
            Error::Decode { path, .. } => assert_eq!(path, "/redfish/v1/Systems/1"),
            other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
        }
    }
}

#[tokio::test]
async fn a_redirect_loop_is_a_transport_error() {
    let url = serve(Script::Raw(
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /redfish/v1/loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_vec(),
    ))
    .await;
    let e = client(&url).get_json("/redfish/v1/loop").await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(format!("{e}").contains("redirect"), "{e}");
    // A redirect to another origin is refused (credentials never leave the BMC).
    let url = serve(Script::Raw(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:9/steal\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_vec(),
    ))
    .await;
    let e = client(&url).get_json("/redfish/v1/").await.unwrap_err();
    assert!(format!("{e}").contains("another origin"), "{e}");
}

const SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

fn chunked(data: &[u8]) -> Vec<u8> {
    let mut v = format!("{:x}\r\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(b"\r\n");
    v
}

#[tokio::test]
async fn a_never_ending_event_hits_the_event_cap() {
    let url = serve(Script::Forever {
        head: [SSE_HEAD, &chunked(b"data: {")].concat(),
        chunk: chunked(&[b'x'; 4096]),
        every: Duration::ZERO,
    })
    .await;
    let c = client(&url);
    let mut s = c
        .event_stream_at("/sse", SseLimits::default().max_event_bytes(64 << 10))
        .await
        .unwrap();
    let e = s.next().await.unwrap_err();
    assert!(matches!(e, Error::EventStream { .. }), "{e:?}");
    assert!(s.bytes_read() < 80 << 10, "{}", s.bytes_read());
    assert!(s.next().await.unwrap().is_none(), "ended after the error");
}

#[tokio::test]
async fn an_endless_stream_of_events_hits_the_stream_cap() {
    let url = serve(Script::Forever {
        head: SSE_HEAD.to_vec(),
        chunk: chunked(b"data: {\"Events\": []}\n\n"),
        every: Duration::ZERO,
    })
    .await;
    let c = client(&url);
    let mut s = c
        .event_stream_at("/sse", SseLimits::default().max_stream_bytes(Some(100_000)))
        .await
        .unwrap();
    let mut n = 0;
    let e = loop {
        match s.next().await {
            Ok(Some(ev)) => {
                assert!(ev.events.is_empty());
                n += 1;
            }
            Ok(None) => panic!("ended without an error"),
            Err(e) => break e,
        }
    };
    assert!(n > 1000, "{n} events before the cap");
    assert!(matches!(e, Error::EventStream { .. }), "{e:?}");
    // The stream is not cut by the client's whole-request timeout (5 s here) but by its caps.
}

#[tokio::test]
async fn a_silent_stream_hits_the_idle_timeout_and_comments_keep_it_alive() {
    let url = serve(Script::Forever {
        head: SSE_HEAD.to_vec(),
        chunk: Vec::new(),
        every: Duration::from_secs(3600),
    })
    .await;
    let c = client(&url);
    let mut s = c
        .event_stream_at(
            "/sse",
            SseLimits::default().idle_timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap();
    let t = std::time::Instant::now();
    let e = s.next().await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3));

    // Keep-alive comments every 100 ms keep a 300 ms idle timeout from firing; junk data
    // is a per-event decode error, and the stream goes on.
    let url = serve(Script::Forever {
        head: [SSE_HEAD, &chunked(b"data: not json\n\n")].concat(),
        chunk: chunked(b": keep-alive\n"),
        every: Duration::from_millis(100),
    })
    .await;
    let c = client(&url);
    let mut s = c
        .event_stream_at(
            "/sse",
            SseLimits::default().idle_timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap();
    assert!(matches!(s.next().await, Err(Error::Decode { .. })));
    let r = tokio::time::timeout(Duration::from_millis(1500), s.next()).await;
    assert!(r.is_err(), "still open and waiting after 1.5 s: {r:?}");
}

#[tokio::test]
async fn a_cut_stream_is_resumed_with_last_event_id() {
    // First connection: two events with ids, then the service hangs up. Second: one more.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, mut heads) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&got).to_ascii_lowercase());
            let body: &[u8] = if n == 0 {
                b"id: 41\ndata: {\"Id\": \"a\"}\n\nid: 42\ndata: {\"Id\": \"b\"}\n\n"
            } else {
                b"id: 43\ndata: {\"Id\": \"c\"}\n\n"
            };
            n += 1;
            let _ = s
                .write_all(&[b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n", body].concat())
                .await;
        }
    });
    let c = client(&url);
    let mut s = c
        .event_stream_at("/redfish/v1/EventService/SSE", SseLimits::default())
        .await
        .unwrap();
    assert_eq!(s.next().await.unwrap().unwrap().id.as_deref(), Some("a"));
    assert_eq!(s.next().await.unwrap().unwrap().id.as_deref(), Some("b"));
    assert!(s.next().await.unwrap().is_none(), "the service hung up");
    assert_eq!(s.last_event_id(), Some("42"));
    let first = heads.recv().await.unwrap();
    assert!(first.contains("accept: text/event-stream"), "{first}");
    assert!(!first.contains("last-event-id"), "{first}");
    let mut s = c.resume_event_stream(&s).await.unwrap();
    assert!(heads.recv().await.unwrap().contains("last-event-id: 42"));
    assert_eq!(s.next().await.unwrap().unwrap().id.as_deref(), Some("c"));
    assert_eq!(s.last_event_id(), Some("43"));
}
