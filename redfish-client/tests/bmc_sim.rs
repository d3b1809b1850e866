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
