//! Virtual nodes that really network-boot: powered on through their BMC with a PXE override,
//! their virtual firmware leases an address from pxe's DHCP server, fetches the boot file from
//! pxe's TFTP server, asks DHCP again as iPXE and fetches its script from pxe's HTTP server.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use bmc_sim::{Fleet, FleetConfig, NetbootConfig};
use ipmi_proto::client::{Client, PowerAction};
use ipmi_proto::cmd::chassis::{BootDevice, BootMode, BootPersistence};
use ipmi_proto::session::SessionConfig;
use pxe::dhcp::BootPolicy;
use pxe::dhcp::server::{DhcpServer, Pool};
use pxe::http::server::HttpServer;
use pxe::http::{FnHandler, Response};
use pxe::tftp::server::TftpServer;
use pxe::tftp::source::MemorySource;

#[test]
fn nodes_powered_on_with_a_pxe_override_netboot_through_pxes_servers() {
    let rt = common::runtime();
    rt.block_on(async {
        let ipxe_efi: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let tftp = TftpServer::builder(Arc::new(
            MemorySource::new().with_file("ipxe.efi", ipxe_efi.clone()),
        ))
        .listen("127.0.0.1:0".parse().unwrap())
        .bind()
        .await
        .unwrap();
        let tftp_addr = tftp.local_addr().unwrap();
        tftp.spawn();
        let http = HttpServer::builder(FnHandler::new(|_req| {
            Ok(Response::script(
                "#!ipxe\nkernel http://127.0.0.1/vmlinuz ip=dhcp\ninitrd http://127.0.0.1/initrd\nboot\n",
            ))
        }))
        .listen("127.0.0.1:0".parse().unwrap())
        .bind()
        .await
        .unwrap();
        let http_addr = http.local_addr().unwrap();
        http.spawn();
        let pool = Pool::new(
            Ipv4Addr::new(10, 77, 0, 10),
            Ipv4Addr::new(10, 77, 0, 200),
            Ipv4Addr::new(255, 255, 255, 0),
        )
        .unwrap();
        let dhcp = DhcpServer::builder(BootPolicy::new(
            Ipv4Addr::LOCALHOST,
            format!("http://{http_addr}"),
        ))
        .listen("127.0.0.1:0".parse().unwrap())
        .pool(pool)
        .reply_to_source(true)
        .bind()
        .await
        .unwrap();
        let dhcp_addr = dhcp.local_addr().unwrap();
        dhcp.spawn();

        let fleet = Fleet::start(
            FleetConfig::builder()
                .count(3)
                .netboot(NetbootConfig::new(dhcp_addr, tftp_addr)),
        )
        .await
        .unwrap();
        let client = Client::builder()
            .bind("127.0.0.1:0".parse().unwrap())
            .build()
            .await
            .unwrap();
        let cfg = SessionConfig::builder("admin", "password").build().unwrap();
        // Nodes 0 and 1 get a one-time PXE override; node 2 boots from disk.
        for i in 0..3 {
            let bmc = client.bmc(fleet.ipmi_addr(i).unwrap(), cfg.clone());
            if i < 2 {
                bmc.set_boot_device(BootDevice::Pxe, BootPersistence::NextBoot, BootMode::Efi)
                    .await
                    .unwrap();
            }
            bmc.power(PowerAction::On).await.unwrap();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let done = (0..2).all(|i| !fleet.node(i).unwrap().lock().unwrap().netboots().is_empty());
            if done || tokio::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut addresses = Vec::new();
        for i in 0..2 {
            let node = fleet.node(i).unwrap();
            let n = node.lock().unwrap();
            let outcome = match n.netboots() {
                [Ok(o)] => o.clone(),
                other => panic!("node {i}: {other:?}"),
            };
            assert_eq!(outcome.boot_file, "ipxe.efi");
            assert_eq!(outcome.boot_file_size, ipxe_efi.len());
            assert_eq!(outcome.script_url, format!("http://{http_addr}/boot.ipxe"));
            assert!(outcome.script.starts_with("#!ipxe\nkernel "), "{}", outcome.script);
            assert_eq!(outcome.address.octets()[..3], [10, 77, 0]);
            addresses.push(outcome.address);
        }
        assert_ne!(addresses[0], addresses[1], "each node leased its own address");
        assert!(fleet.node(2).unwrap().lock().unwrap().netboots().is_empty(), "a disk boot does not netboot");
    });
}
