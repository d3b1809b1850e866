//! `pxe_pool`: the cost of one `Pool::offer` (sans-IO, one core) as the number of
//! outstanding OFFERs (DISCOVERs not yet followed by a REQUEST, as in a boot storm or a
//! DISCOVER flood) and of static reservations grows. A pool that picks the next free
//! address in constant time shows flat figures; growth means a scan per offer.
#![allow(clippy::print_stdout)]

use std::net::Ipv4Addr;
use std::time::Instant;

use pxe::dhcp::server::Pool;

fn mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [2, 0xbe, b[0], b[1], b[2], b[3]]
}

fn pool() -> Pool {
    Pool::new(
        Ipv4Addr::new(10, 200, 0, 1),
        Ipv4Addr::new(10, 200, 255, 254),
        Ipv4Addr::new(255, 255, 0, 0),
    )
    .expect("pool")
}

/// Microseconds per offer for the last `window` of `n` offers (with a REQUEST after each
/// offer when `request` is set).
fn run(mut p: Pool, n: u32, window: u32, request: bool) -> f64 {
    let now = Instant::now();
    let mut t0 = Instant::now();
    for i in 0..n {
        if i == n - window {
            t0 = Instant::now();
        }
        let ip = p.offer(mac(i), None, now).expect("pool exhausted");
        if request {
            p.request(mac(i), Some(ip), now);
        }
    }
    t0.elapsed().as_secs_f64() * 1e6 / f64::from(window)
}

fn main() {
    let window = 500;
    print!("pool: us per OFFER with N outstanding offers (no REQUEST):");
    for n in [1000, 2000, 4000, 8000] {
        print!(" N={n}: {:.2}", run(pool(), n, window, false));
    }
    println!();
    println!(
        "pool: us per OFFER+REQUEST at N=8000 leases (DORA): {:.2}",
        run(pool(), 8000, window, true)
    );
    print!("pool: us per OFFER+REQUEST (1000 clients) with R static reservations:");
    for r in [0u32, 1000, 4000] {
        let mut p = pool();
        for j in 0..r {
            // Reservations outside the dynamic range, for other (absent) clients.
            p = p.with_reservation(mac(1_000_000 + j), Ipv4Addr::from(0x0ac9_0000 + j));
        }
        print!(" R={r}: {:.2}", run(p, 1000, window, true));
    }
    println!();
}
