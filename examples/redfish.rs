//! `redfish`: a small Redfish command line over `redfish-client`.
//!
//! ```text
//! cargo run --release --example redfish -- --url URL -u USER -p PASS \
//!     [--ca-cert FILE | --pin-sha256 FINGERPRINT | --insecure] \
//!     [--auth session|basic|none] COMMAND
//! ```
//!
//! COMMAND is one of `inventory`, `power SYSTEM on|off|force-off|restart|force-restart|graceful-shutdown|nmi|status`,
//! `boot SYSTEM pxe|hdd|cd|bios|none [--once|--continuous] [--uefi|--legacy]`,
//! `media insert SYSTEM IMAGE-URL`, `media eject SYSTEM`, `bios SYSTEM [get | set KEY=VALUE...]`,
//! `update IMAGE-URL|FILE [--target ID...] [--no-wait]` (SimpleUpdate for a URL, a multipart
//! push for a local file, then the task followed to its end), `events [--count N]
//! [--idle-timeout SECS]` (the SSE stream, one line per event record),
//! `subscriptions [list | add URL | delete ID]`, `get PATH`. SYSTEM is a system `Id`, a path,
//! or `all`. Exit 0 on success; otherwise the service's message on stderr and exit code 1.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use redfish_client::model::{BootMode, BootSource, ComputerSystem, EthernetInterface, ResetType};
use redfish_client::ops::{BootOverride, InsertMedia};
use redfish_client::{AuthMethod, Client};

#[derive(Parser, Debug)]
#[command(name = "redfish", about = "Redfish client for one BMC")]
struct Args {
    /// Service URL, e.g. https://10.0.0.42 or http://127.0.0.1:8000.
    #[arg(long)]
    url: String,
    /// User name.
    #[arg(short = 'u', long, default_value = "")]
    user: String,
    /// Password (or set REDFISH_PASSWORD).
    #[arg(
        short = 'p',
        long,
        env = "REDFISH_PASSWORD",
        hide_env_values = true,
        default_value = ""
    )]
    password: String,
    /// PEM file of the CA that signed the BMC's certificate.
    #[arg(long, conflicts_with_all = ["insecure", "pin_sha256"])]
    ca_cert: Option<std::path::PathBuf>,
    /// Trust the BMC's own certificate by its SHA-256 fingerprint (as
    /// `openssl x509 -noout -fingerprint -sha256` prints it); repeatable.
    #[arg(long, conflicts_with = "insecure")]
    pin_sha256: Vec<String>,
    /// Accept any TLS certificate (lab networks only).
    #[arg(long)]
    insecure: bool,
    /// How to authenticate.
    #[arg(long, value_enum, default_value = "session")]
    auth: Auth,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Auth {
    Session,
    Basic,
    None,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every system (id, manufacturer, model, power, boot override, MACs), manager and media slot.
    Inventory,
    /// Power control or status.
    Power {
        /// System id, path, or `all`.
        system: String,
        /// on, off (graceful), force-off, restart (graceful), force-restart, graceful-shutdown, nmi, status.
        action: PowerCmd,
    },
    /// Set the boot override.
    Boot {
        /// System id, path, or `all`.
        system: String,
        /// Boot device.
        target: BootTarget,
        /// Next boot only (default).
        #[arg(long, conflicts_with = "continuous")]
        once: bool,
        /// Every boot.
        #[arg(long)]
        continuous: bool,
        /// UEFI mode.
        #[arg(long, conflicts_with = "legacy")]
        uefi: bool,
        /// Legacy BIOS mode.
        #[arg(long)]
        legacy: bool,
    },
    /// Virtual media.
    Media {
        #[command(subcommand)]
        action: MediaCmd,
    },
    /// Read or stage BIOS attributes.
    Bios {
        /// System id, path, or `all`.
        system: String,
        /// `get` (default) or `set KEY=VALUE...`.
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Update firmware from a URL the BMC can reach (SimpleUpdate) or a local file (pushed).
    Update {
        /// `http(s)://...` (or another scheme the BMC supports), or a local file path.
        image: String,
        /// Components to update (`@odata.id`s of FirmwareInventory members).
        #[arg(long = "target")]
        targets: Vec<String>,
        /// Return once the service accepted the update instead of following its task.
        #[arg(long)]
        no_wait: bool,
        /// Longest wait for the task, in seconds.
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
    },
    /// Print the EventService's server-sent events as they come.
    Events {
        /// Stop after this many event records.
        #[arg(long)]
        count: Option<usize>,
        /// Give up after this many seconds without a byte from the service.
        #[arg(long, default_value_t = 300)]
        idle_timeout: u64,
    },
    /// List, add or delete event subscriptions.
    Subscriptions {
        /// `list` (default), `add URL`, or `delete ID`.
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// GET any path and print its JSON.
    Get {
        /// e.g. /redfish/v1/Managers.
        path: String,
    },
}

#[derive(Subcommand, Debug)]
enum MediaCmd {
    /// Insert an image (a URL the BMC can reach) into the CD slot.
    Insert {
        /// System id, path, or `all`.
        system: String,
        /// Image URL.
        image: String,
    },
    /// Eject the CD slot.
    Eject {
        /// System id, path, or `all`.
        system: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PowerCmd {
    On,
    Off,
    ForceOff,
    Restart,
    ForceRestart,
    GracefulShutdown,
    Nmi,
    Status,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BootTarget {
    Pxe,
    Hdd,
    Cd,
    Bios,
    None,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        // Colours on a terminal only, never escape codes in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let client = match build(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = run(&client, args.command).await;
    // Always end the session, even after a failure (BMCs have few session slots).
    let closed = client.close().await;
    match (result, closed) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(e), _) => {
            // The client's errors already name their cause; others get their whole chain.
            match e.downcast_ref::<redfish_client::Error>() {
                Some(e) => eprintln!("error: {e}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
        (Ok(()), Err(e)) => {
            eprintln!("error: closing the session: {e}");
            ExitCode::FAILURE
        }
    }
}

fn build(args: &Args) -> anyhow::Result<Client> {
    let method = match args.auth {
        Auth::Session => AuthMethod::Session,
        Auth::Basic => AuthMethod::Basic,
        Auth::None => AuthMethod::None,
    };
    let mut b = Client::builder(&args.url).auth(method, &args.user, &args.password);
    if let Some(ca) = &args.ca_cert {
        b = b.ca_cert_pem(std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?);
    }
    for pin in &args.pin_sha256 {
        b = b.pin_certificate_sha256(pin.clone());
    }
    if args.insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    Ok(b.build()?)
}

async fn systems(client: &Client, which: &str) -> anyhow::Result<Vec<ComputerSystem>> {
    if which == "all" {
        let all = client.systems().await?;
        if all.is_empty() {
            bail!("the service has no systems");
        }
        Ok(all)
    } else {
        Ok(vec![client.system(which).await?])
    }
}

fn label(s: &ComputerSystem) -> String {
    s.id.clone()
        .or_else(|| s.odata.id.as_ref().map(|i| i.to_string()))
        .unwrap_or_default()
}

fn or_dash(v: Option<impl ToString>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

async fn run(client: &Client, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Inventory => inventory(client).await,
        Command::Power { system, action } => {
            for s in systems(client, &system).await? {
                let reset = match action {
                    PowerCmd::Status => {
                        println!("{}: {}", label(&s), or_dash(s.power_state.as_ref()));
                        continue;
                    }
                    PowerCmd::On => ResetType::On,
                    PowerCmd::Off | PowerCmd::GracefulShutdown => ResetType::GracefulShutdown,
                    PowerCmd::ForceOff => ResetType::ForceOff,
                    PowerCmd::Restart => ResetType::GracefulRestart,
                    PowerCmd::ForceRestart => ResetType::ForceRestart,
                    PowerCmd::Nmi => ResetType::Nmi,
                };
                client.reset(&s, reset.clone()).await?;
                println!("{}: {reset} requested", label(&s));
            }
            Ok(())
        }
        Command::Boot {
            system,
            target,
            continuous,
            uefi,
            legacy,
            ..
        } => {
            let source = match target {
                BootTarget::Pxe => BootSource::Pxe,
                BootTarget::Hdd => BootSource::Hdd,
                BootTarget::Cd => BootSource::Cd,
                BootTarget::Bios => BootSource::BiosSetup,
                BootTarget::None => BootSource::None,
            };
            let mut req = match (source, continuous) {
                (BootSource::None, _) => BootOverride::disabled(),
                (s, true) => BootOverride::continuous(s),
                (s, false) => BootOverride::once(s),
            };
            if uefi {
                req = req.mode(BootMode::Uefi);
            } else if legacy {
                req = req.mode(BootMode::Legacy);
            }
            for s in systems(client, &system).await? {
                client.set_boot_override(&s, &req).await?;
                println!(
                    "{}: boot override {} ({})",
                    label(&s),
                    req.target,
                    req.enabled
                );
            }
            Ok(())
        }
        Command::Media {
            action: MediaCmd::Insert { system, image },
        } => {
            for s in systems(client, &system).await? {
                let slot = client.insert_media(&s, &InsertMedia::new(&image)).await?;
                println!("{}: {} inserted in {}", label(&s), image, or_dash(slot.id));
            }
            Ok(())
        }
        Command::Media {
            action: MediaCmd::Eject { system },
        } => {
            for s in systems(client, &system).await? {
                client.eject_media(&s).await?;
                println!("{}: ejected", label(&s));
            }
            Ok(())
        }
        Command::Bios { system, args } => {
            let set = match args.first().map(String::as_str) {
                None | Some("get") if args.len() <= 1 => None,
                Some("set") if args.len() > 1 => {
                    let mut attrs = serde_json::Map::new();
                    for kv in &args[1..] {
                        let (k, v) = kv
                            .split_once('=')
                            .with_context(|| format!("{kv}: expected KEY=VALUE"))?;
                        // Numbers and booleans as such, everything else as a string.
                        let value = match serde_json::from_str::<serde_json::Value>(v) {
                            Ok(j @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                                j
                            }
                            _ => serde_json::Value::String(v.to_owned()),
                        };
                        attrs.insert(k.to_owned(), value);
                    }
                    Some(attrs)
                }
                _ => bail!("usage: bios SYSTEM [get | set KEY=VALUE...]"),
            };
            for s in systems(client, &system).await? {
                match &set {
                    None => {
                        let bios = client.bios(&s).await?;
                        for (k, v) in &bios.attributes {
                            println!(
                                "{}: {k}={}",
                                label(&s),
                                v.as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| v.to_string())
                            );
                        }
                    }
                    Some(attrs) => {
                        client.set_bios_attributes(&s, attrs.clone(), None).await?;
                        println!("{}: {} attribute(s) staged", label(&s), attrs.len());
                    }
                }
            }
            Ok(())
        }
        Command::Update {
            image,
            targets,
            no_wait,
            timeout,
        } => update(client, &image, targets, no_wait, timeout).await,
        Command::Events {
            count,
            idle_timeout,
        } => events(client, count, idle_timeout).await,
        Command::Subscriptions { args } => subscriptions(client, &args).await,
        Command::Get { path } => {
            let v = client.get_json(&path).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
    }
}

async fn inventory(client: &Client) -> anyhow::Result<()> {
    let root = client.service_root().await?;
    println!(
        "service: {} (Redfish {}, vendor {})",
        or_dash(root.name.as_ref()),
        or_dash(root.redfish_version.as_ref()),
        client.quirks().await?.vendor()
    );
    for s in client.systems().await? {
        let boot = s.boot.clone().unwrap_or_default();
        let mut macs = Vec::new();
        if let Some(link) = &s.ethernet_interfaces {
            for nic in client
                .members::<EthernetInterface>(link.id().as_str())
                .await?
            {
                macs.extend(nic.mac_address);
            }
        }
        println!(
            "system {}: manufacturer={} model={} power={} boot={}/{}/{} macs={}",
            label(&s),
            or_dash(s.manufacturer.as_ref()),
            or_dash(s.model.as_ref()),
            or_dash(s.power_state.as_ref()),
            or_dash(boot.boot_source_override_target.as_ref()),
            or_dash(boot.boot_source_override_enabled.as_ref()),
            or_dash(boot.boot_source_override_mode.as_ref()),
            if macs.is_empty() {
                "-".into()
            } else {
                macs.join(",")
            }
        );
        for vm in client.virtual_media(&s).await? {
            let types: Vec<String> = vm.media_types.iter().map(ToString::to_string).collect();
            println!(
                "  media {}: types={} inserted={} image={}",
                or_dash(vm.id.as_ref()),
                types.join(","),
                vm.has_media(),
                vm.image.as_deref().filter(|i| !i.is_empty()).unwrap_or("-")
            );
        }
    }
    if client.service_root().await?.chassis.is_some() {
        for ch in client.chassis().await? {
            // Power and thermal are extra information: a chassis without them is no failure.
            let pt = match client.power_thermal(&ch).await {
                Ok(pt) => pt,
                Err(e) => {
                    eprintln!(
                        "chassis {}: power/thermal unreadable: {e}",
                        or_dash(ch.id.as_ref())
                    );
                    continue;
                }
            };
            let max_temp = pt
                .temperatures
                .iter()
                .filter_map(|t| t.celsius)
                .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
            println!(
                "chassis {}: type={} power={}W psus={} fans={} hottest={}C ({:?})",
                or_dash(ch.id.as_ref()),
                or_dash(ch.chassis_type.as_ref()),
                or_dash(pt.consumed_watts),
                pt.power_supplies.len(),
                pt.fans.len(),
                or_dash(max_temp),
                pt.source
            );
        }
    }
    for m in client.managers().await? {
        println!(
            "manager {}: type={} model={} firmware={}",
            or_dash(m.id.as_ref()),
            or_dash(m.manager_type.as_ref()),
            or_dash(m.model.as_ref()),
            or_dash(m.firmware_version.as_ref())
        );
    }
    Ok(())
}

async fn update(
    client: &Client,
    image: &str,
    targets: Vec<String>,
    no_wait: bool,
    timeout: u64,
) -> anyhow::Result<()> {
    use redfish_client::ActionOutcome;
    use redfish_client::update::{PushUpdate, SimpleUpdate, UpdateImage};
    let is_url = image.contains("://");
    let outcome = if is_url {
        client
            .simple_update(&SimpleUpdate::new(image).targets(targets))
            .await?
    } else {
        let img = UpdateImage::from_file(image).await?;
        println!("pushing {} ({} bytes)", img.file_name(), img.len());
        client
            .push_update(&img, &PushUpdate::default().targets(targets))
            .await?
    };
    match outcome {
        ActionOutcome::Accepted(monitor) if !no_wait => {
            println!("update accepted: task {}", monitor.location);
            let task = client
                .wait_task(&monitor, std::time::Duration::from_secs(timeout))
                .await?;
            println!(
                "task {}: {}",
                monitor.location,
                or_dash(task.task_state.as_ref())
            );
            for m in &task.messages {
                println!(
                    "  {}: {}",
                    or_dash(m.message_id.as_ref()),
                    or_dash(m.message.as_ref())
                );
            }
        }
        ActionOutcome::Accepted(monitor) => println!("update accepted: task {}", monitor.location),
        ActionOutcome::Done { status, .. } => println!("update done (HTTP {status})"),
        _ => println!("update sent"),
    }
    Ok(())
}

async fn events(client: &Client, count: Option<usize>, idle_timeout: u64) -> anyhow::Result<()> {
    use redfish_client::sse::SseLimits;
    let limits = SseLimits::default().idle_timeout(std::time::Duration::from_secs(idle_timeout));
    let mut stream = client.event_stream(limits).await?;
    let mut seen = 0usize;
    while let Some(event) = stream.next().await? {
        for r in &event.events {
            println!(
                "{} {} {} {} {}",
                or_dash(r.event_timestamp.as_ref()),
                or_dash(r.message_severity.as_ref().or(r.severity.as_ref())),
                or_dash(r.message_id.as_ref()),
                or_dash(r.origin_of_condition.as_ref().map(|o| o.id().to_string())),
                or_dash(r.message.as_ref())
            );
            seen += 1;
        }
        if count.is_some_and(|c| seen >= c) {
            return Ok(());
        }
    }
    bail!("the service closed the event stream")
}

async fn subscriptions(client: &Client, args: &[String]) -> anyhow::Result<()> {
    use redfish_client::model::NewSubscription;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["list"] => {
            for s in client.subscriptions().await? {
                println!(
                    "{}: destination={} context={} registries={}",
                    or_dash(s.id.as_ref()),
                    or_dash(s.destination.as_ref()),
                    or_dash(s.context.as_ref()),
                    s.registry_prefixes.join(",")
                );
            }
            Ok(())
        }
        ["add", url] => {
            let s = client.subscribe(&NewSubscription::new(*url)).await?;
            println!("subscription {} created", or_dash(s.id.as_ref()));
            Ok(())
        }
        ["delete", id] => {
            let all = client.subscriptions().await?;
            let s = all
                .iter()
                .find(|s| s.id.as_deref() == Some(*id))
                .with_context(|| format!("no subscription {id}"))?;
            client.unsubscribe(s).await?;
            println!("subscription {id} deleted");
            Ok(())
        }
        _ => bail!("usage: subscriptions [list | add URL | delete ID]"),
    }
}
