//! Redfish client and service throughput, for scripts/bench.sh.
//!
//! * `client URL PATH N [C]`: N GETs of PATH with one redfish-client (basic auth, typed
//!   ComputerSystem), C at a time: requests per second of wall time and per CPU-second of this
//!   process.
//! * `ceiling URL PATH N C`: N GETs at C concurrent connections with a bare HTTP client
//!   (reqwest, no model): the service's ceiling (and that bare client's requests per
//!   CPU-second, the floor of any client's cost).
//! * `fleet BASE_PORT COUNT`: power state of COUNT services on 127.0.0.1:BASE_PORT.. at once,
//!   each with its own redfish-client (a session-less basic-auth client per BMC).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use redfish_client::Client;
use redfish_client::model::ComputerSystem;

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
fn cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.get(1).map(String::as_str) {
        Some("client") => {
            let (url, path, n) = (&args[2], &args[3], args[4].parse::<u32>()?);
            let conc = args
                .get(5)
                .map(|c| c.parse::<u32>())
                .transpose()?
                .unwrap_or(1)
                .max(1);
            rt.block_on(async {
                let c = Client::builder(url.as_str())
                    .basic_auth("admin", "password")
                    .max_concurrent_requests(conc as usize)
                    .build()?;
                let _: ComputerSystem = c.get(path).await?;
                let (t0, c0) = (Instant::now(), cpu_secs());
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..conc {
                    let c = c.clone();
                    let path = path.clone();
                    set.spawn(async move {
                        for _ in 0..n / conc {
                            let s: ComputerSystem = c.get(&path).await?;
                            std::hint::black_box(s);
                        }
                        Ok::<_, redfish_client::Error>(())
                    });
                }
                while let Some(r) = set.join_next().await {
                    r??;
                }
                let done = n / conc * conc;
                let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_secs() - c0);
                println!(
                    "redfish-client ({conc} at a time): {done} GETs in {wall:.3} s: {:.0} req/s, {:.0} req per CPU-second",
                    f64::from(done) / wall,
                    f64::from(done) / cpu.max(0.01)
                );
                Ok::<_, anyhow::Error>(())
            })
        }
        Some("ceiling") => {
            let (url, path) = (&args[2], &args[3]);
            let (n, conc) = (args[4].parse::<u32>()?, args[5].parse::<u32>()?);
            rt.block_on(async {
                let http = reqwest::Client::new();
                let full = format!("{url}{path}");
                let (t0, c0) = (Instant::now(), cpu_secs());
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..conc {
                    let http = http.clone();
                    let full = full.clone();
                    set.spawn(async move {
                        for _ in 0..n / conc {
                            let r = http
                                .get(&full)
                                .basic_auth("admin", Some("password"))
                                .send()
                                .await?;
                            std::hint::black_box(r.bytes().await?);
                        }
                        Ok::<_, reqwest::Error>(())
                    });
                }
                while let Some(r) = set.join_next().await {
                    r??;
                }
                let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_secs() - c0);
                let done = n / conc * conc;
                println!(
                    "ceiling: {done} GETs at {conc} connections in {wall:.3} s ({:.0} req per CPU-second): {:.0} req/s",
                    f64::from(done) / cpu.max(0.01),
                    f64::from(done) / wall
                );
                Ok::<_, anyhow::Error>(())
            })
        }
        Some("fleet") => {
            let (base, count) = (args[2].parse::<u16>()?, args[3].parse::<u16>()?);
            rt.block_on(async {
                let t0 = Instant::now();
                let mut set = tokio::task::JoinSet::new();
                for i in 0..count {
                    set.spawn(async move {
                        let c = Client::builder(format!("http://127.0.0.1:{}", base + i))
                            .basic_auth("admin", "password")
                            .build()?;
                        let s: ComputerSystem = c.get("/redfish/v1/Systems/1").await?;
                        Ok::<_, redfish_client::Error>(s.power_state.is_some())
                    });
                }
                let mut ok = 0u32;
                while let Some(r) = set.join_next().await {
                    if matches!(r, Ok(Ok(true))) {
                        ok += 1;
                    }
                }
                let wall = t0.elapsed().as_secs_f64();
                println!(
                    "redfish fleet: {ok}/{count} power states in {wall:.3} s: {:.0} BMCs/s",
                    f64::from(ok) / wall
                );
                Ok::<_, anyhow::Error>(())
            })
        }
        _ => anyhow::bail!(
            "usage: redfish_bench client URL PATH N | ceiling URL PATH N C | fleet BASE COUNT"
        ),
    }
}
