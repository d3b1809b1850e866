//! `ipmi`: an ipmitool-like command line over `ipmi-proto`, for one BMC or a whole fleet.
//!
//! ```text
//! cargo run --release --example ipmi -- -H HOST [-p PORT] -U USER -P PASS [-C SUITE] [-L PRIV] COMMAND
//! ```
//!
//! `-H` takes a host, a `host:port`, a range with one bracket group (`127.0.0.1:[9000-9099]`,
//! `127.0.2.[1-200]`), a file of `host:port` lines, or `sim:N` to start N virtual nodes
//! (`bmc-sim`) with their BMCs in this process on loopback and run the command on them.
//! With several BMCs the command runs on all at once and prints one line per BMC.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use ipmi_proto::Error;
use ipmi_proto::client::{Bmc, Client, PowerAction};
use ipmi_proto::cmd::chassis::{BootDevice, BootMode, BootPersistence};
use ipmi_proto::cmd::{Privilege, RawRequest};
use ipmi_proto::session::{SessionConfig, SuiteChoice};

#[derive(Parser, Debug)]
#[command(
    name = "ipmi",
    about = "IPMI v2.0 (lanplus) client for one BMC or many"
)]
struct Args {
    /// BMC host, host:port, range (127.0.0.1:[9000-9099]), file of host:port lines, or sim:N.
    #[arg(short = 'H', long)]
    host: String,
    /// UDP port when HOST has none.
    #[arg(short = 'p', long, default_value_t = 623)]
    port: u16,
    /// User name.
    #[arg(short = 'U', long)]
    user: String,
    /// Password (or set IPMI_PASSWORD).
    #[arg(short = 'P', long, env = "IPMI_PASSWORD", hide_env_values = true)]
    password: String,
    /// Cipher suite (default: the strongest both sides support).
    #[arg(short = 'C', long)]
    cipher_suite: Option<u8>,
    /// Privilege level: USER, OPERATOR or ADMINISTRATOR.
    #[arg(short = 'L', long, default_value = "ADMINISTRATOR")]
    privilege: Privilege,
    /// BMC key K_g.
    #[arg(short = 'k', long)]
    kg: Option<String>,
    /// Retransmission timeout in milliseconds.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Retries per message.
    #[arg(long, default_value_t = 4)]
    retries: u32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug, Clone)]
enum Command {
    /// Chassis power: status, on, off, cycle, reset, soft, diag.
    Power {
        /// status|on|off|cycle|reset|soft|diag
        action: String,
    },
    /// Boot device override for the next boot (or all, with --persistent).
    Bootdev {
        /// none|pxe|disk|cdrom|bios
        device: String,
        /// EFI boot (default legacy).
        #[arg(long)]
        efi: bool,
        /// Keep the override for all future boots.
        #[arg(long)]
        persistent: bool,
    },
    /// Management controller: `mc info`.
    Mc {
        /// info
        what: String,
    },
    /// Chassis status.
    Chassis {
        /// status
        what: String,
    },
    /// Sensor readings from the SDR repository (like `ipmitool sdr list`).
    Sdr,
    /// System event log: `sel list` or `sel clear`.
    Sel {
        /// list|clear
        what: String,
    },
    /// FRU inventory (board, product, chassis areas) of FRU id (default 0).
    Fru {
        /// FRU device id.
        #[arg(default_value_t = 0)]
        id: u8,
    },
    /// Serial over LAN: `sol activate` connects stdin/stdout to the serial console (line by
    /// line; `~.` on a line of its own, or end of input, ends it).
    Sol {
        /// activate
        what: String,
    },
    /// A raw command: NETFN CMD [DATA...] (hex or decimal bytes).
    Raw {
        /// Bytes: netfn, command, data.
        #[arg(required = true, num_args = 2..)]
        bytes: Vec<String>,
    },
}

fn parse_byte(s: &str) -> anyhow::Result<u8> {
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u8::from_str_radix(h, 16)
    } else {
        s.parse::<u8>()
    };
    v.with_context(|| format!("not a byte: {s}"))
}

/// Expand one `[a-b]` group.
fn expand(spec: &str) -> anyhow::Result<Vec<String>> {
    let (Some(open), Some(close)) = (spec.find('['), spec.find(']')) else {
        return Ok(vec![spec.to_string()]);
    };
    if close < open {
        bail!("bad range {spec}");
    }
    let (a, b) = spec[open + 1..close]
        .split_once('-')
        .with_context(|| format!("bad range {spec}"))?;
    let (a, b): (u32, u32) = (a.parse()?, b.parse()?);
    if b < a || b - a > 100_000 {
        bail!("bad range {spec}");
    }
    Ok((a..=b)
        .map(|i| format!("{}{}{}", &spec[..open], i, &spec[close + 1..]))
        .collect())
}

fn resolve(spec: &str, port: u16) -> anyhow::Result<Vec<SocketAddr>> {
    let lines: Vec<String> = if std::path::Path::new(spec).is_file() {
        std::fs::read_to_string(spec)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect()
    } else {
        expand(spec)?
    };
    let mut out = Vec::new();
    for l in lines {
        let with_port = if l.parse::<SocketAddr>().is_ok()
            || l.rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            l.clone()
        } else {
            format!("{l}:{port}")
        };
        let addr = with_port
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {l}"))?
            .next()
            .with_context(|| format!("no address for {l}"))?;
        out.push(addr);
    }
    Ok(out)
}

/// Start `n` virtual nodes (bmc-sim) with their BMCs on 127.0.0.1 and the given credentials.
async fn start_sim(
    n: u32,
    user: &str,
    password: &str,
) -> anyhow::Result<(bmc_sim::Fleet, Vec<SocketAddr>)> {
    let fleet = bmc_sim::Fleet::start(
        bmc_sim::FleetConfig::builder()
            .count(n)
            .credentials(user, password),
    )
    .await?;
    let addrs = (0..fleet.len())
        .filter_map(|i| fleet.ipmi_addr(i))
        .collect();
    Ok((fleet, addrs))
}

async fn run_one(bmc: &Bmc, cmd: &Command) -> Result<String, Error> {
    let out = match cmd {
        Command::Power { action } => {
            let action = match action.as_str() {
                "status" => {
                    let on = bmc.power_status().await?;
                    return Ok(format!(
                        "Chassis Power is {}",
                        if on { "on" } else { "off" }
                    ));
                }
                "on" => PowerAction::On,
                "off" => PowerAction::Off,
                "cycle" => PowerAction::Cycle,
                "reset" => PowerAction::Reset,
                "soft" => PowerAction::Soft,
                "diag" => PowerAction::Diag,
                _ => {
                    return Err(Error::InvalidArgument {
                        what: "power action",
                        reason: "expected status|on|off|cycle|reset|soft|diag",
                    });
                }
            };
            bmc.power(action).await?;
            let word = match action {
                PowerAction::On => "Up/On",
                PowerAction::Off => "Down/Off",
                PowerAction::Cycle => "Cycle",
                PowerAction::Reset => "Reset",
                PowerAction::Soft => "Soft",
                _ => "Diag",
            };
            format!("Chassis Power Control: {word}")
        }
        Command::Bootdev {
            device,
            efi,
            persistent,
        } => {
            let dev = match device.as_str() {
                "none" => BootDevice::NoOverride,
                "pxe" => BootDevice::Pxe,
                "disk" => BootDevice::Disk,
                "cdrom" => BootDevice::Cdrom,
                "bios" => BootDevice::BiosSetup,
                _ => {
                    return Err(Error::InvalidArgument {
                        what: "boot device",
                        reason: "expected none|pxe|disk|cdrom|bios",
                    });
                }
            };
            bmc.set_boot_device(
                dev,
                if *persistent {
                    BootPersistence::Persistent
                } else {
                    BootPersistence::NextBoot
                },
                if *efi {
                    BootMode::Efi
                } else {
                    BootMode::Legacy
                },
            )
            .await?;
            format!("Set Boot Device to {device}")
        }
        Command::Mc { what } if what == "info" => {
            let d = bmc.device_id().await?;
            let (maj, min) = d.ipmi_version();
            format!(
                "Device ID                 : {}\nDevice Revision           : {}\nFirmware Revision         : {}\nIPMI Version              : {maj}.{min}\nManufacturer ID           : {}\nProduct ID                : {} (0x{:04x})\nDevice Available          : {}\nProvides Device SDRs      : {}",
                d.device_id,
                d.device_revision,
                d.firmware_revision(),
                d.manufacturer_id,
                d.product_id,
                d.product_id,
                if d.available { "yes" } else { "no" },
                if d.provides_sdrs { "yes" } else { "no" },
            )
        }
        Command::Chassis { what } if what == "status" => {
            let s = bmc.chassis_status().await?;
            format!(
                "System Power         : {}\nPower Overload       : {}\nPower Interlock      : {}\nMain Power Fault     : {}\nPower Control Fault  : {}\nPower Restore Policy : {:?}",
                if s.power_on { "on" } else { "off" },
                s.overload,
                s.interlock,
                s.power_fault,
                s.control_fault,
                s.restore_policy
            )
        }
        Command::Raw { bytes } => {
            let parsed: Result<Vec<u8>, _> = bytes.iter().map(|b| parse_byte(b)).collect();
            let parsed = parsed.map_err(|_| Error::InvalidArgument {
                what: "raw bytes",
                reason: "each byte must be 0..=255, decimal or 0x-hex",
            })?;
            let r = bmc
                .raw(RawRequest {
                    netfn: parsed[0],
                    cmd: parsed[1],
                    data: parsed[2..].to_vec(),
                })
                .await?;
            if r.completion != ipmi_proto::cmd::CompletionCode::Ok {
                return Err(Error::Completion {
                    netfn: r.netfn,
                    cmd: r.cmd,
                    code: r.completion,
                });
            }
            r.data.iter().map(|b| format!(" {b:02x}")).collect()
        }
        Command::Sdr => {
            let mut lines = Vec::new();
            for s in bmc.sensors().await? {
                let reading = match (s.value, &s.reading) {
                    (Some(v), _) => format!("{v:.2} {}", s.unit),
                    (None, Some(r)) if !r.reading_unavailable => {
                        format!("0x{:02x}", r.states.unwrap_or(0))
                    }
                    _ => "no reading".to_string(),
                };
                let status = match &s.reading {
                    Some(r) if r.reading_unavailable => "ns",
                    Some(r) if r.states.unwrap_or(0) & 0x3f != 0 && s.value.is_some() => "cr",
                    Some(_) => "ok",
                    None => "ns",
                };
                lines.push(format!("{:<16} | {:<18} | {status}", s.name, reading));
            }
            lines.join("\n")
        }
        Command::Sel { what } if what == "list" => {
            let mut lines = Vec::new();
            for r in bmc.sel_entries().await? {
                lines.push(match &r.entry {
                    ipmi_proto::cmd::sel::SelEntry::System(e) => format!(
                        "{:4x} | ts {:>10} | sensor type 0x{:02x} #0x{:02x} | event type 0x{:02x} offset {} | {}",
                        r.record_id,
                        e.timestamp,
                        e.sensor_type,
                        e.sensor_number,
                        e.event_type,
                        e.offset(),
                        if e.deassertion { "Deasserted" } else { "Asserted" }
                    ),
                    other => format!("{:4x} | record type 0x{:02x} | {other:?}", r.record_id, r.record_type()),
                });
            }
            if lines.is_empty() {
                "SEL has no entries".to_string()
            } else {
                lines.join("\n")
            }
        }
        Command::Sel { what } if what == "clear" => {
            bmc.clear_sel().await?;
            "Clearing SEL.".to_string()
        }
        Command::Fru { id } => {
            let f = bmc.fru(*id).await?;
            let mut lines = Vec::new();
            if let Some(c) = &f.chassis {
                lines.push(format!(
                    " Chassis Part Number   : {}",
                    c.part_number.decode()
                ));
                lines.push(format!(
                    " Chassis Serial        : {}",
                    c.serial_number.decode()
                ));
            }
            if let Some(b) = &f.board {
                lines.push(format!(
                    " Board Mfg             : {}",
                    b.manufacturer.decode()
                ));
                lines.push(format!(
                    " Board Product         : {}",
                    b.product_name.decode()
                ));
                lines.push(format!(
                    " Board Serial          : {}",
                    b.serial_number.decode()
                ));
                lines.push(format!(
                    " Board Part Number     : {}",
                    b.part_number.decode()
                ));
            }
            if let Some(p) = &f.product {
                lines.push(format!(
                    " Product Manufacturer  : {}",
                    p.manufacturer.decode()
                ));
                lines.push(format!(
                    " Product Name          : {}",
                    p.product_name.decode()
                ));
                lines.push(format!(
                    " Product Serial        : {}",
                    p.serial_number.decode()
                ));
            }
            lines.join("\n")
        }
        Command::Sol { what } if what == "activate" => {
            use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
            let mut sol = bmc.sol().await?;
            eprintln!("[SOL Session operational.  Use ~. to end]");
            let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            let mut stdout = tokio::io::stdout();
            loop {
                tokio::select! {
                    line = stdin.next_line() => match line {
                        Ok(Some(l)) if l.trim() == "~." => break,
                        Ok(Some(l)) => sol.write(format!("{l}\r").as_bytes())?,
                        _ => {
                            // End of input: let the last answers arrive, then stop.
                            let end = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
                            while let Ok(Some(d)) = tokio::time::timeout_at(end, sol.read()).await {
                                let _ = stdout.write_all(&d).await;
                            }
                            break;
                        }
                    },
                    data = sol.read() => match data {
                        Some(d) => {
                            let _ = stdout.write_all(&d).await;
                            let _ = stdout.flush().await;
                        }
                        None => break,
                    },
                }
            }
            let _ = stdout.flush().await;
            sol.close().await?;
            "[SOL Session closed]".to_string()
        }
        Command::Mc { .. }
        | Command::Chassis { .. }
        | Command::Sel { .. }
        | Command::Sol { .. } => {
            return Err(Error::InvalidArgument {
                what: "command",
                reason: "expected `mc info`, `chassis status`, `sel list`, `sel clear` or `sol activate`",
            });
        }
    };
    Ok(out)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        // Colours on a terminal only, never escape codes in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match real_main().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn real_main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    // Keeps the virtual nodes of `sim:N` running until the end.
    let mut _fleet = None;
    let targets = match args.host.strip_prefix("sim:") {
        Some(n) => {
            let n = n.parse().context("sim:N needs a number")?;
            let (fleet, addrs) = start_sim(n, &args.user, &args.password).await?;
            _fleet = Some(fleet);
            addrs
        }
        None => resolve(&args.host, args.port)?,
    };
    if targets.is_empty() {
        bail!("no BMC to talk to");
    }
    let mut cfg = SessionConfig::builder(args.user.as_bytes(), args.password.as_bytes())
        .privilege(args.privilege)
        .retransmit_timeout(std::time::Duration::from_millis(args.timeout_ms))
        .retries(args.retries);
    if let Some(s) = args.cipher_suite {
        cfg = cfg.cipher_suite(SuiteChoice::Fixed(s));
    }
    if let Some(k) = &args.kg {
        cfg = cfg.kg(k.as_bytes());
    }
    let cfg = cfg.build()?;
    let bind: SocketAddr = if targets[0].is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    }
    .parse()?;
    let client = Client::builder().bind(bind).build().await?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, addr) in targets.iter().enumerate() {
        let bmc = client.bmc(*addr, cfg.clone());
        let cmd = args.command.clone();
        tasks.spawn(async move {
            let r = run_one(&bmc, &cmd).await;
            bmc.close().await;
            (i, r)
        });
    }
    let mut results: Vec<Option<Result<String, Error>>> = vec![None; targets.len()];
    while let Some(r) = tasks.join_next().await {
        let (i, r) = r?;
        results[i] = Some(r);
    }
    let many = targets.len() > 1;
    let mut failed = 0usize;
    for (addr, r) in targets.iter().zip(results) {
        let prefix = if many {
            format!("{addr}: ")
        } else {
            String::new()
        };
        match r {
            Some(Ok(s)) => println!("{prefix}{s}"),
            Some(Err(e)) => {
                failed += 1;
                eprintln!("{prefix}error: {e}");
            }
            None => {
                failed += 1;
                eprintln!("{prefix}error: task lost");
            }
        }
    }
    if many {
        eprintln!(
            "{} BMCs, {} ok, {} failed, in {:.3} s",
            targets.len(),
            targets.len() - failed,
            failed,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
