//! The client against bmc-sim's Redfish face, for what sushy-emulator does not offer: token
//! sessions and their limit, ETag enforcement, vendor quirks, "not ready" retries, tasks,
//! paging and `$expand`. The node model behind the face is checked directly.

use std::time::Duration;

use bmc_sim::{Fleet, FleetConfig, PowerState, Vendor};
use ipmi_proto::cmd::chassis::{BootDevice, BootMode as NodeBootMode};
use redfish_client::model::{BootMode, BootSource, ResetType, Session};
use redfish_client::ops::{BootOverride, InsertMedia};
use redfish_client::{ActionOutcome, Client, RetryPolicy};

async fn fleet(v: Vendor) -> Fleet {
    Fleet::start(
        FleetConfig::builder()
            .count(1)
            .vendor(v)
            .redfish("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .unwrap()
}

fn session_client(url: &str) -> Client {
    Client::builder(url)
        .session_auth("admin", "password")
        .build()
        .unwrap()
}

fn basic_client(url: &str) -> Client {
    Client::builder(url)
        .basic_auth("admin", "password")
        .build()
        .unwrap()
}

/// A one-path image server answering 200 to any `.iso` request.
async fn image_server() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_created_reused_and_deleted_and_the_limit_is_an_error() {
    let f = fleet(Vendor::Dell).await;
    let url = f.redfish_url(0).unwrap();
    let watcher = basic_client(&url);
    let count = || async {
        watcher
            .members::<Session>("/redfish/v1/SessionService/Sessions")
            .await
            .unwrap()
            .len()
    };
    let c = session_client(&url);
    for _ in 0..3 {
        c.system("System.Embedded.1").await.unwrap();
    }
    assert_eq!(count().await, 1, "one session, reused for every request");
    c.close().await.unwrap();
    assert_eq!(count().await, 0, "closing deletes the session");

    // iDRAC has 8 slots: the 9th login is refused with the service's message.
    let clients: Vec<Client> = (0..8).map(|_| session_client(&url)).collect();
    for c in &clients {
        c.system("System.Embedded.1").await.unwrap();
    }
    let ninth = session_client(&url);
    match ninth.system("System.Embedded.1").await {
        Err(e) => assert!(
            format!("{e}").contains("SessionLimitExceeded")
                || e.message_id() == Some("Base.1.8.SessionLimitExceeded"),
            "{e}"
        ),
        Ok(_) => panic!("a 9th session was accepted"),
    }
    clients[0].close().await.unwrap();
    ninth.system("System.Embedded.1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_quirks_against_their_profiles() {
    // Dell: BootSourceOverrideMode is read-only; the client leaves it out; SYS518 after a
    // reset is retried until the BMC is ready.
    let f = fleet(Vendor::Dell).await;
    let c = basic_client(&f.redfish_url(0).unwrap());
    let sys = c.system("System.Embedded.1").await.unwrap();
    c.set_boot_override(
        &sys,
        &BootOverride::once(BootSource::Pxe).mode(BootMode::Uefi),
    )
    .await
    .unwrap();
    c.reset(&sys, ResetType::On).await.unwrap();
    c.reset(&sys, ResetType::ForceRestart).await.unwrap();
    {
        let node = f.node(0).unwrap();
        let n = node.lock().unwrap();
        assert_eq!(n.boots()[0].0, BootDevice::Pxe);
        assert_eq!(n.power(), PowerState::On);
    }

    // Supermicro: the mode is forgotten unless sent: the client sends it on every boot PATCH;
    // the virtual CD is UsbCd and InsertMedia takes the image only.
    let f = fleet(Vendor::Supermicro).await;
    let c = basic_client(&f.redfish_url(0).unwrap());
    let sys = c.system("1").await.unwrap();
    c.set_boot_override(
        &sys,
        &BootOverride::once(BootSource::Pxe).mode(BootMode::Uefi),
    )
    .await
    .unwrap();
    let sys = c.system("1").await.unwrap();
    c.set_boot_override(&sys, &BootOverride::continuous(BootSource::Pxe))
        .await
        .unwrap();
    assert_eq!(
        f.node(0).unwrap().lock().unwrap().boot_override().mode,
        NodeBootMode::Efi,
        "the mode survived a PATCH that did not name it"
    );
    let image = format!("{}/install.iso", image_server().await);
    c.insert_media(&sys, &InsertMedia::new(image.clone()))
        .await
        .unwrap();
    let media = c.virtual_media(&sys).await.unwrap();
    assert!(
        media
            .iter()
            .any(|m| m.image.as_deref() == Some(image.as_str()))
    );
    c.eject_media(&sys).await.unwrap();

    // Lenovo: a PATCH without If-Match is 428; the client retries with the ETag.
    let f = fleet(Vendor::Lenovo).await;
    let c = basic_client(&f.redfish_url(0).unwrap());
    let sys = c.system("1").await.unwrap();
    c.set_boot_override(&sys, &BootOverride::once(BootSource::Hdd))
        .await
        .unwrap();
    assert!(f.node(0).unwrap().lock().unwrap().boot_override().valid);

    // HPE: weak ETags are matched.
    let f = fleet(Vendor::Hpe).await;
    let c = basic_client(&f.redfish_url(0).unwrap());
    let sys = c.system("1").await.unwrap();
    c.set_boot_override(&sys, &BootOverride::once(BootSource::Pxe))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firmware_update_task_is_followed_to_completion() {
    let f = fleet(Vendor::Generic).await;
    let url = f.redfish_url(0).unwrap();
    let c = basic_client(&url);
    let outcome = c
        .post(
            "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
            &serde_json::json!({"ImageURI": "http://127.0.0.1/fw/bmc-9.9.bin"}),
        )
        .await
        .unwrap();
    let ActionOutcome::Accepted(monitor) = outcome else {
        panic!("expected a task, got {outcome:?}")
    };
    let task = c
        .wait_task(&monitor, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(task.succeeded(), "{task:?}");
    let mgr = c.get_json("/redfish/v1/Managers/BMC").await.unwrap();
    assert_eq!(mgr["FirmwareVersion"], "bmc-9.9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paged_and_expanded_collections_and_retried_503s() {
    let f = fleet(Vendor::Generic).await;
    let url = f.redfish_url(0).unwrap();
    let logins: Vec<Client> = (0..14).map(|_| session_client(&url)).collect();
    for c in &logins {
        c.system("1").await.unwrap();
    }
    let c = basic_client(&url);
    // 14 sessions over two server-driven pages, fetched whole.
    let links = c
        .list::<Session>("/redfish/v1/SessionService/Sessions")
        .await
        .unwrap();
    assert_eq!(links.len(), 14);
    let expanded = c
        .members::<Session>("/redfish/v1/SessionService/Sessions")
        .await
        .unwrap();
    assert_eq!(expanded.len(), 14);
    assert!(
        expanded
            .iter()
            .all(|s| s.user_name.as_deref() == Some("admin"))
    );

    // A BMC answering 503 + Retry-After to half the requests: idempotent GETs get through.
    f.set_faults(&"http5xx=0.5".parse().unwrap());
    let patient = Client::builder(&url)
        .basic_auth("admin", "password")
        .retry(
            RetryPolicy::default()
                .max_retries(12)
                .max_retry_after(Duration::from_millis(50)),
        )
        .build()
        .unwrap();
    for _ in 0..5 {
        patient.system("1").await.unwrap();
    }
    f.set_faults(&"http5xx=1".parse().unwrap());
    let e = patient.system("1").await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(matches!(e.status(), Some(503)), "{e}");
}

/// A loopback HTTP receiver of pushed events: every POST body, in order.
async fn event_receiver() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", l.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    let n = s.read(&mut tmp).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    if let Ok(v) = serde_json::from_slice(&buf[end + 4..end + 4 + len]) {
                        let _ = tx.send(v);
                    }
                    let _ = s
                        .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmware_update_by_simple_update_and_multipart_push() {
    use redfish_client::update::{PushUpdate, SimpleUpdate, UpdateImage};
    let f = fleet(Vendor::Generic).await;
    let c = session_client(&f.redfish_url(0).unwrap());
    let us = c.update_service().await.unwrap();
    assert!(us.multipart_http_push_uri.is_some());
    assert_eq!(us.transfer_protocols().unwrap(), ["HTTP", "HTTPS"]);

    // A protocol the service does not allow is refused before anything is sent.
    let e = c
        .simple_update(&SimpleUpdate::new("ftp://127.0.0.1/x.bin").transfer_protocol("FTP"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, redfish_client::Error::Unsupported { .. }),
        "{e}"
    );
    // The service's own refusal comes back with its MessageId.
    let e = c
        .simple_update(&SimpleUpdate::new("not-a-url"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert!(
        e.message_id()
            .unwrap()
            .contains("ActionParameterValueFormatError"),
        "{e}"
    );

    let outcome = c
        .simple_update(
            &SimpleUpdate::new("http://127.0.0.1/fw/bmc-2.0.bin")
                .transfer_protocol("HTTP")
                .targets(["/redfish/v1/Managers/BMC"]),
        )
        .await
        .unwrap();
    let ActionOutcome::Accepted(monitor) = outcome else {
        panic!("expected a task, got {outcome:?}")
    };
    assert_eq!(monitor.retry_after, Some(Duration::from_secs(1)));
    let task = c
        .wait_task(&monitor, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(task.succeeded(), "{task:?}");
    assert_eq!(
        c.get_json("/redfish/v1/Managers/BMC").await.unwrap()["FirmwareVersion"],
        "bmc-2.0"
    );

    // Multipart push, from a file on disk (streamed).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bmc-3.1.bin");
    std::fs::write(&path, vec![0x5a; 256 << 10]).unwrap();
    let image = UpdateImage::from_file(&path).await.unwrap();
    let outcome = c
        .push_update(
            &image,
            &PushUpdate::default().targets(["/redfish/v1/Managers/BMC"]),
        )
        .await
        .unwrap();
    let ActionOutcome::Accepted(monitor) = outcome else {
        panic!("expected a task, got {outcome:?}")
    };
    let task = c
        .wait_task(&monitor, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(task.succeeded(), "{task:?}");
    assert_eq!(
        c.get_json("/redfish/v1/Managers/BMC").await.unwrap()["FirmwareVersion"],
        "bmc-3.1"
    );
    // An empty image is refused by the service with its message.
    let e = c
        .push_update(
            &UpdateImage::from_bytes("empty.bin", Vec::new()),
            &PushUpdate::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_subscriptions_and_the_sse_stream() {
    use redfish_client::model::NewSubscription;
    use redfish_client::sse::SseLimits;
    let f = fleet(Vendor::Generic).await;
    let c = session_client(&f.redfish_url(0).unwrap());
    let es = c.event_service().await.unwrap();
    assert_eq!(es.service_enabled, Some(true));
    assert!(es.server_sent_event_uri.is_some());

    // A subscription to a loopback receiver: created, listed, delivered to, deleted.
    let (dest, mut pushed) = event_receiver().await;
    let sub = c
        .subscribe(&NewSubscription::new(dest.clone()).context("rack-7"))
        .await
        .unwrap();
    assert_eq!(sub.destination.as_deref(), Some(dest.as_str()));
    assert_eq!(sub.context.as_deref(), Some("rack-7"));
    let listed = c.subscriptions().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, sub.id);

    // The SSE stream, open before the events happen.
    let mut stream = c
        .event_stream(SseLimits::default().idle_timeout(Duration::from_secs(20)))
        .await
        .unwrap();
    c.submit_test_event(
        &serde_json::json!({"MessageId": "ResourceEvent.1.0.ResourceCreated", "Message": "hello"}),
    )
    .await
    .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), pushed.recv())
        .await
        .expect("the pushed event arrives")
        .unwrap();
    let ev = redfish_client::model::Event::from_value(got).unwrap();
    assert_eq!(ev.context.as_deref(), Some("rack-7"));
    assert_eq!(
        ev.events[0].message_id.as_deref(),
        Some("ResourceEvent.1.0.ResourceCreated")
    );
    let streamed = loop {
        let e = stream.next().await.unwrap().expect("the stream goes on");
        if e.events
            .iter()
            .any(|r| r.message.as_deref() == Some("hello"))
        {
            break e;
        }
    };
    assert!(streamed.raw.is_object(), "raw JSON kept");

    // A reset shows up on the stream as well.
    let sys = c.system("1").await.unwrap();
    c.reset(&sys, ResetType::On).await.unwrap();
    let mut seen_reset = false;
    for _ in 0..20 {
        let e = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .unwrap();
        if e.events.iter().any(|r| {
            r.origin_of_condition
                .as_ref()
                .is_some_and(|o| o.id().as_str().starts_with("/redfish/v1/Systems"))
        }) {
            seen_reset = true;
            break;
        }
    }
    assert!(seen_reset, "the power change was streamed");

    c.unsubscribe(&sub).await.unwrap();
    assert!(c.subscriptions().await.unwrap().is_empty());

    // More subscriptions than a page (bmc-sim pages its collections by 10): listed whole,
    // by following Members@odata.nextLink.
    let mut made = Vec::new();
    for i in 0..13 {
        let s = c
            .subscribe(&NewSubscription::new(dest.clone()).context(format!("page-{i}")))
            .await
            .unwrap();
        made.push(s.id);
    }
    let first_page = c
        .get_json("/redfish/v1/EventService/Subscriptions")
        .await
        .unwrap();
    assert_eq!(first_page["Members"].as_array().unwrap().len(), 10);
    assert!(first_page["Members@odata.nextLink"].is_string());
    let listed: Vec<_> = c
        .subscriptions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, made);
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_wide_retry_budget_stops_a_retry_storm() {
    use redfish_client::RetryBudget;
    let f = Fleet::start(
        FleetConfig::builder()
            .count(20)
            .vendor(Vendor::Generic)
            .redfish("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .unwrap();
    // The whole rack fails.
    f.set_faults(&"http5xx=1".parse().unwrap());
    let policy = RetryPolicy::default()
        .max_retries(5)
        .initial_backoff(Duration::from_millis(1))
        .max_retry_after(Duration::from_millis(1));
    // Each client alone would retry 5 times (100 retries for the rack); they share a budget.
    let budget = RetryBudget::with_max_balance(0.1, 0.0, 2.0);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        let c = Client::builder(f.redfish_url(i).unwrap())
            .basic_auth("admin", "password")
            .retry(policy.clone())
            .retry_budget(budget.clone())
            .build()
            .unwrap();
        set.spawn(async move { c.system("1").await });
    }
    while let Some(r) = set.join_next().await {
        let e = r.unwrap().unwrap_err();
        assert_eq!(e.status(), Some(503), "{e}");
    }
    let s = budget.stats();
    assert_eq!(s.requests, 20);
    // 20 requests at 10% plus nothing saved up: about 2 retries for the whole rack
    // instead of 100.
    assert!(s.retries <= 3, "{s:?}");
    assert!(s.refused >= 17, "{s:?}");

    // The budget refills with requests that succeed, and retries flow again.
    f.set_faults(&"".parse().unwrap());
    let ok = Client::builder(f.redfish_url(0).unwrap())
        .basic_auth("admin", "password")
        .retry_budget(budget.clone())
        .build()
        .unwrap();
    for _ in 0..20 {
        ok.system("1").await.unwrap();
    }
    assert!(budget.balance() >= 1.0, "{budget:?}");
}

/// The chassis' sensors, typed: bmc-sim serves its IPMI face's sensors as Redfish `Sensor`
/// resources; readings, units and thresholds decode, and a reading changed on the node is
/// what the next read sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_sensors() {
    let f = fleet(Vendor::Generic).await;
    let c = basic_client(&f.redfish_url(0).unwrap());
    let chassis = c.chassis().await.unwrap();
    let sensors = c.sensors(&chassis[0]).await.unwrap();
    let names: Vec<_> = sensors.iter().filter_map(|s| s.name.as_deref()).collect();
    assert_eq!(names, ["Inlet Temp", "CPU Temp", "FAN1", "12V"]);
    let by = |name: &str| {
        sensors
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
            .unwrap()
    };
    let cpu = by("CPU Temp");
    assert_eq!(cpu.reading, Some(45.0));
    assert_eq!(cpu.reading_type.as_deref(), Some("Temperature"));
    assert_eq!(cpu.reading_units.as_deref(), Some("Cel"));
    let t = cpu.thresholds.as_ref().unwrap();
    assert_eq!(t.upper_caution.as_ref().unwrap().reading, Some(85.0));
    assert_eq!(t.upper_critical.as_ref().unwrap().reading, Some(90.0));
    assert_eq!(t.upper_fatal.as_ref().unwrap().reading, Some(95.0));
    assert!(t.lower_critical.is_none());
    assert_eq!(by("12V").reading, Some(12.0));
    assert_eq!(by("FAN1").reading_units.as_deref(), Some("RPM"));
    assert!(cpu.oem.is_some(), "OEM data kept");

    f.node(0)
        .unwrap()
        .lock()
        .unwrap()
        .storage
        .set_reading(0x01, 31);
    let again = c.sensors(&chassis[0]).await.unwrap();
    let inlet = again
        .iter()
        .find(|s| s.id.as_deref() == Some("InletTemp"))
        .unwrap();
    assert_eq!(inlet.reading, Some(31.0));
}
