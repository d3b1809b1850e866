//! The async client (feature `tokio`): many BMC sessions on one UDP socket, driven by one task.
//!
//! A [`Client`] owns the socket and a driver task that runs every [`Session`] core; each
//! [`Bmc`] handle keeps one session to one BMC open and reuses it across calls. Requests to
//! the same BMC run one at a time (the session core queues them); requests to different BMCs
//! run concurrently, bounded by the client's global limit.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ipmi_proto::Error> {
//! use ipmi_proto::client::{Client, PowerAction};
//! use ipmi_proto::session::SessionConfig;
//! use ipmi_proto::cmd::chassis::{BootDevice, BootMode, BootPersistence};
//!
//! let client = Client::builder().build().await?;
//! let bmc = client.bmc("127.0.0.1:623".parse().unwrap(),
//!                      SessionConfig::builder("admin", "password").build()?);
//! bmc.set_boot_device(BootDevice::Pxe, BootPersistence::NextBoot, BootMode::Efi).await?;
//! bmc.power(PowerAction::On).await?;
//! assert!(bmc.power_status().await?);
//! bmc.close().await;
//! # Ok(()) }
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::Instrument;

use crate::cmd::app::{DeviceId, GetDeviceId};
use crate::cmd::chassis::{
    BootDevice, BootFlags, BootMode, BootParameter, BootPersistence, ChassisControl, ChassisStatus,
    GetChassisStatus, GetSystemBootOptions, SetSystemBootOptions,
};
use crate::cmd::fru::{FruInventory, FruReadPlan, GetFruInventoryAreaInfo};
use crate::cmd::sdr::{
    self, GetSdr, GetSensorReading, ReserveSdrRepository, Sdr, SdrHeader, SdrRecord, SensorReading,
};
use crate::cmd::sel::{
    self, ClearSel, ClearSelAction, ErasureProgress, GetSelEntry, GetSelInfo, ReserveSel, SelRecord,
};
use crate::cmd::sol::{ActivatePayload, DeactivatePayload, SerialAlerts, SolActivation};
use crate::cmd::{CompletionCode, RawRequest, Request};
use crate::crypto::{CipherSuite, ConfidentialityAlgorithm, IntegrityAlgorithm};
use crate::error::{Error, Result};
use crate::session::{Event, RawResponse, RequestId, Route, Session, SessionConfig, route};

/// Power actions, mapped to Chassis Control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PowerAction {
    /// Power up.
    On,
    /// Hard power down.
    Off,
    /// Power cycle.
    Cycle,
    /// Hard reset.
    Reset,
    /// ACPI soft shutdown.
    Soft,
    /// Diagnostic interrupt (NMI).
    Diag,
}

impl PowerAction {
    fn control(self) -> ChassisControl {
        match self {
            Self::On => ChassisControl::PowerUp,
            Self::Off => ChassisControl::PowerDown,
            Self::Cycle => ChassisControl::PowerCycle,
            Self::Reset => ChassisControl::HardReset,
            Self::Soft => ChassisControl::SoftShutdown,
            Self::Diag => ChassisControl::DiagnosticInterrupt,
        }
    }
}

/// A sensor and its current reading.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorValue {
    /// The sensor's id string.
    pub name: String,
    /// Sensor number.
    pub number: u8,
    /// The converted reading, for threshold sensors with a reading.
    pub value: Option<f64>,
    /// Units (e.g. `degrees C`, `RPM`), for full sensor records.
    pub unit: String,
    /// The raw reading, if the BMC gave one.
    pub reading: Option<SensorReading>,
    /// The sensor's SDR.
    pub record: Sdr,
}

/// Options of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    bind: SocketAddr,
    max_in_flight: usize,
    socket_buffer: usize,
}

impl ClientBuilder {
    /// Local address to bind (default `0.0.0.0:0`).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Most requests in flight across all BMCs at once, session set-up included (default 1024).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Receive and send buffer size asked of the kernel (default 4 MiB; Linux caps it at
    /// `net.core.rmem_max`). A fleet's answers arrive in bursts: a small buffer drops them and
    /// costs a retransmission timeout each.
    pub fn socket_buffer(mut self, bytes: usize) -> Self {
        self.socket_buffer = bytes;
        self
    }

    /// Bind the socket and start the driver task (needs a tokio runtime).
    pub async fn build(self) -> Result<Client> {
        let socket =
            crate::net::bind_udp(self.bind, self.socket_buffer).map_err(|e| Error::Io {
                during: "binding the client socket",
                message: e.to_string(),
            })?;
        let local_addr = socket.local_addr().map_err(|e| Error::Io {
            during: "reading the local address",
            message: e.to_string(),
        })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let driver = Driver {
            socket,
            rx,
            slots: HashMap::new(),
            by_console: HashMap::new(),
            by_addr: HashMap::new(),
            timers: BinaryHeap::new(),
        };
        tokio::spawn(driver.run());
        Ok(Client {
            inner: Arc::new(Inner {
                tx,
                limit: Arc::new(Semaphore::new(self.max_in_flight)),
                next_key: AtomicU64::new(1),
                local_addr,
            }),
        })
    }
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::UnboundedSender<Cmd>,
    limit: Arc<Semaphore>,
    next_key: AtomicU64,
    local_addr: SocketAddr,
}

/// The async IPMI client. Cloning is cheap; the driver task stops (closing every session)
/// when the last clone and every [`Bmc`] handle are dropped.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Start building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
            max_in_flight: 1024,
            socket_buffer: 4 << 20,
        }
    }

    /// The local address of the client's socket.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// A handle to one BMC. The session opens on the first request and stays open for the
    /// next ones until [`Bmc::close`].
    pub fn bmc(&self, addr: SocketAddr, config: SessionConfig) -> Bmc {
        Bmc {
            client: self.clone(),
            key: self.inner.next_key.fetch_add(1, Ordering::Relaxed),
            addr,
            config: Arc::new(config),
        }
    }
}

/// One BMC reached through a [`Client`].
#[derive(Debug, Clone)]
pub struct Bmc {
    client: Client,
    key: u64,
    addr: SocketAddr,
    config: Arc<SessionConfig>,
}

impl Bmc {
    /// The BMC's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Send a raw request and get the raw response (any completion code).
    pub async fn raw(&self, req: RawRequest) -> Result<RawResponse> {
        let span = tracing::debug_span!("ipmi_request", bmc = %self.addr, netfn = req.netfn, cmd = req.cmd);
        async {
            let _permit = self
                .client
                .inner
                .limit
                .acquire()
                .await
                .map_err(|_| Error::SessionClosed)?;
            let (reply, rx) = oneshot::channel();
            self.client
                .inner
                .tx
                .send(Cmd::Submit {
                    key: self.key,
                    addr: self.addr,
                    config: self.config.clone(),
                    req,
                    reply,
                })
                .map_err(|_| Error::SessionClosed)?;
            let r = rx.await.map_err(|_| Error::SessionClosed)?;
            if let Err(e) = &r {
                tracing::debug!(error = %e, "request failed");
            }
            r
        }
        .instrument(span)
        .await
    }

    /// Send a typed request; a non-zero completion code is an [`Error::Completion`].
    pub async fn send<R: Request>(&self, req: &R) -> Result<R::Response> {
        self.raw(RawRequest::from_request(req)).await?.decode::<R>()
    }

    /// Get Chassis Status.
    pub async fn chassis_status(&self) -> Result<ChassisStatus> {
        self.send(&GetChassisStatus).await
    }

    /// Whether the system is powered on.
    pub async fn power_status(&self) -> Result<bool> {
        Ok(self.chassis_status().await?.power_on)
    }

    /// Power on, off, cycle, reset, soft-off or NMI.
    pub async fn power(&self, action: PowerAction) -> Result<()> {
        self.send(&action.control()).await
    }

    /// Get Device ID.
    pub async fn device_id(&self) -> Result<DeviceId> {
        self.send(&GetDeviceId).await
    }

    /// Set the boot device, as ipmitool's `chassis bootdev` does: mark the boot parameters "set
    /// in progress" (skipped when the BMC refuses that parameter), acknowledge the boot info
    /// (parameter 4: BIOS/POST), write the boot flags, then "set complete".
    pub async fn set_boot_device(
        &self,
        device: BootDevice,
        persistence: BootPersistence,
        mode: BootMode,
    ) -> Result<()> {
        let set = |parameter| SetSystemBootOptions {
            mark_invalid: false,
            parameter,
        };
        let lock = match self.send(&set(BootParameter::SetInProgress(1))).await {
            Ok(()) => true,
            Err(Error::Completion { .. }) => false,
            Err(e) => return Err(e),
        };
        let mut r = self
            .send(&set(BootParameter::BootInfoAck {
                mask: 0x01,
                data: 0x01,
            }))
            .await;
        if r.is_ok() {
            r = self
                .send(&set(BootParameter::BootFlags(BootFlags::new(
                    device,
                    persistence,
                    mode,
                ))))
                .await;
        }
        if lock {
            let done = self.send(&set(BootParameter::SetInProgress(0))).await;
            r?;
            return done;
        }
        r
    }

    /// Read the boot flags (parameter 5).
    pub async fn boot_flags(&self) -> Result<BootFlags> {
        let r = self.send(&GetSystemBootOptions::parameter(5)).await?;
        match r.parameter {
            BootParameter::BootFlags(f) => Ok(f),
            _ => Err(Error::invalid(
                "Get System Boot Options response",
                "not parameter 5",
            )),
        }
    }

    /// Every record of the SDR repository, read as ipmitool and FreeIPMI do: reserve, read each
    /// record's header, then its body in partial reads (shrunk on completion codes 0xC8/0xCA;
    /// a cancelled reservation, 0xC5, is renewed and the record read again).
    pub async fn sdr_records(&self) -> Result<Vec<Sdr>> {
        let mut out = Vec::new();
        let mut reservation = self.send(&ReserveSdrRepository).await?.0;
        let mut record_id = sdr::FIRST_RECORD;
        let mut chunk: u8 = 16;
        let mut renewals = 0;
        // A repository has at most 0xFFFE records; a BMC whose next ids loop is cut off.
        for _ in 0..0xfffe {
            if record_id == sdr::LAST_RECORD {
                break;
            }
            match self.read_sdr(reservation, record_id, &mut chunk).await {
                Ok((next, record)) => {
                    out.push(record);
                    if next == record_id {
                        break;
                    }
                    record_id = next;
                }
                Err(Error::Completion { code, .. })
                    if code == CompletionCode::ReservationCancelled && renewals < 8 =>
                {
                    renewals += 1;
                    reservation = self.send(&ReserveSdrRepository).await?.0;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn read_sdr(
        &self,
        reservation: u16,
        record_id: u16,
        chunk: &mut u8,
    ) -> Result<(u16, Sdr)> {
        let head = self.send(&GetSdr::header(reservation, record_id)).await?;
        let header = SdrHeader::parse(&head.data)?;
        let total = header.total_len();
        let mut data = head.data;
        data.truncate(SdrHeader::LEN);
        while data.len() < usize::from(total) {
            let offset = u8::try_from(data.len())
                .map_err(|_| Error::invalid("SDR record", "longer than 255 bytes"))?;
            let want =
                (*chunk).min(u8::try_from(usize::from(total) - data.len()).unwrap_or(u8::MAX));
            let r = self
                .send(&GetSdr {
                    reservation_id: reservation,
                    record_id,
                    offset,
                    bytes_to_read: want,
                })
                .await;
            match r {
                Ok(part) if !part.data.is_empty() => {
                    data.extend(part.data.iter().take(usize::from(want)));
                }
                Ok(_) => return Err(Error::invalid("Get SDR response", "no data")),
                Err(Error::Completion { code, .. })
                    if matches!(
                        code,
                        CompletionCode::CannotReturnBytes | CompletionCode::RequestTooLong
                    ) && *chunk > 1 =>
                {
                    *chunk = (*chunk / 2).max(1);
                }
                Err(e) => return Err(e),
            }
        }
        Ok((head.next_record_id, Sdr::parse(&data)?))
    }

    /// Every sensor with a reading: the SDR repository, then Get Sensor Reading for each full or
    /// compact sensor record, converted to a value with units when the sensor is a threshold
    /// (analog) sensor.
    pub async fn sensors(&self) -> Result<Vec<SensorValue>> {
        let mut out = Vec::new();
        for record in self.sdr_records().await? {
            let (key, name, full) = match &record.record {
                SdrRecord::FullSensor(f) => (f.key, sdr::id_string_text(&f.id), Some(f.clone())),
                SdrRecord::CompactSensor(c) => (c.key, sdr::id_string_text(&c.id), None),
                _ => continue,
            };
            let reading = match self
                .send(&GetSensorReading {
                    sensor_number: key.number,
                })
                .await
            {
                Ok(r) => Some(r),
                Err(Error::Completion { .. }) => None,
                Err(e) => return Err(e),
            };
            let value = match (&full, &reading) {
                (Some(f), Some(r)) if !r.reading_unavailable && f.event_reading_type == 0x01 => {
                    f.convert(r.reading)
                }
                _ => None,
            };
            let unit = full
                .as_ref()
                .map(|f| f.units.describe())
                .unwrap_or_default();
            out.push(SensorValue {
                name,
                number: key.number,
                value,
                unit,
                reading,
                record,
            });
        }
        Ok(out)
    }

    /// Every SEL record, in order.
    pub async fn sel_entries(&self) -> Result<Vec<SelRecord>> {
        let info = self.send(&GetSelInfo).await?;
        let mut out = Vec::with_capacity(usize::from(info.entries));
        if info.entries == 0 {
            return Ok(out);
        }
        let mut id = sel::FIRST_ENTRY;
        for _ in 0..0xfffe {
            if id == sel::LAST_ENTRY {
                break;
            }
            let e = self.send(&GetSelEntry::entire(id)).await?;
            out.push(e.record()?);
            if e.next_record_id == id {
                break;
            }
            id = e.next_record_id;
        }
        Ok(out)
    }

    /// Clear the SEL (reserve, initiate erase, poll until complete).
    pub async fn clear_sel(&self) -> Result<()> {
        let reservation = self.send(&ReserveSel).await?.0;
        let mut progress = self
            .send(&ClearSel {
                reservation_id: reservation,
                action: ClearSelAction::Initiate,
            })
            .await?;
        for _ in 0..100 {
            if progress == ErasureProgress::Completed {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            progress = self
                .send(&ClearSel {
                    reservation_id: reservation,
                    action: ClearSelAction::GetStatus,
                })
                .await?;
        }
        Err(Error::Timeout {
            what: "SEL erasure",
        })
    }

    /// Read and decode FRU `fru_id` (chunked reads, shrinking the chunk when the BMC asks).
    pub async fn fru(&self, fru_id: u8) -> Result<FruInventory> {
        let info = self.send(&GetFruInventoryAreaInfo { fru_id }).await?;
        if info.word_access {
            return Err(Error::invalid(
                "FRU inventory",
                "word-addressed FRU devices are not supported",
            ));
        }
        let mut plan = FruReadPlan::new(fru_id, info.size, 32);
        while let Some(req) = plan.next_request() {
            match self.send(&req).await {
                Ok(data) => plan.record(&data)?,
                Err(Error::Completion { code, .. }) if plan.on_completion(code) => {}
                Err(e) => return Err(e),
            }
        }
        FruInventory::parse(plan.data())
    }

    /// Activate Serial-over-LAN (payload instance 1) and return the console: an async byte
    /// stream of the managed system's serial port. The BMC must carry SOL on the session's own
    /// UDP port (as virtually all do).
    pub async fn sol(&self) -> Result<SolConsole> {
        // The session must exist to know whether its suite encrypts: a cheap request opens it.
        self.chassis_status().await?;
        let (reply, rx) = oneshot::channel();
        self.client
            .inner
            .tx
            .send(Cmd::SuiteInUse {
                key: self.key,
                reply,
            })
            .map_err(|_| Error::SessionClosed)?;
        let suite = rx
            .await
            .map_err(|_| Error::SessionClosed)?
            .and_then(CipherSuite::by_id)
            .ok_or(Error::SessionClosed)?;
        let activation = SolActivation {
            encryption: suite.confidentiality != ConfidentialityAlgorithm::None,
            authentication: suite.integrity != IntegrityAlgorithm::None,
            test_mode: false,
            serial_alerts: SerialAlerts::Deferred,
            handshake_deasserted: false,
        };
        let act = self.send(&ActivatePayload::sol(1, activation)).await?;
        if act.port != self.addr.port() {
            let _ = self.send(&DeactivatePayload::sol(1)).await;
            return Err(Error::InvalidArgument {
                what: "SOL payload port",
                reason: "the BMC carries SOL on another UDP port, which this client does not support",
            });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let max_chunk = usize::from(act.inbound_size.saturating_sub(4)).clamp(1, 255);
        self.client
            .inner
            .tx
            .send(Cmd::SolStart {
                key: self.key,
                max_chunk,
                tx,
            })
            .map_err(|_| Error::SessionClosed)?;
        Ok(SolConsole {
            bmc: self.clone(),
            rx,
            leftover: Vec::new(),
        })
    }

    /// Close the session (Close Session is sent; the BMC frees its slot). The next request
    /// opens a new session.
    pub async fn close(&self) {
        let (reply, rx) = oneshot::channel();
        if self
            .client
            .inner
            .tx
            .send(Cmd::Close {
                key: self.key,
                reply,
            })
            .is_ok()
        {
            let _ = rx.await;
        }
    }
}

/// A Serial-over-LAN console from [`Bmc::sol`]: read what the managed system writes to its
/// serial port, write what it should read. Implements tokio's `AsyncRead` and `AsyncWrite`.
#[derive(Debug)]
pub struct SolConsole {
    bmc: Bmc,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    leftover: Vec<u8>,
}

impl SolConsole {
    /// Send characters to the managed system's serial port.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        self.bmc
            .client
            .inner
            .tx
            .send(Cmd::SolWrite {
                key: self.bmc.key,
                data: data.to_vec(),
            })
            .map_err(|_| Error::SessionClosed)
    }

    /// The next characters from the serial port; `None` once SOL has ended.
    pub async fn read(&mut self) -> Option<Vec<u8>> {
        if !self.leftover.is_empty() {
            return Some(std::mem::take(&mut self.leftover));
        }
        self.rx.recv().await
    }

    /// Deactivate SOL (the session stays open for other commands).
    pub async fn close(self) -> Result<()> {
        let _ = self
            .bmc
            .client
            .inner
            .tx
            .send(Cmd::SolStop { key: self.bmc.key });
        self.bmc.send(&DeactivatePayload::sol(1)).await
    }
}

impl tokio::io::AsyncRead for SolConsole {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.leftover.is_empty() {
            match self.rx.poll_recv(cx) {
                std::task::Poll::Ready(Some(d)) => self.leftover = d,
                // End of stream: SOL ended.
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(Ok(())),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
        let n = self.leftover.len().min(buf.remaining());
        buf.put_slice(&self.leftover[..n]);
        self.leftover.drain(..n);
        std::task::Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for SolConsole {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(
            self.write(buf)
                .map(|()| buf.len())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::BrokenPipe, e)),
        )
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

enum Cmd {
    SuiteInUse {
        key: u64,
        reply: oneshot::Sender<Option<u8>>,
    },
    SolStart {
        key: u64,
        max_chunk: usize,
        tx: mpsc::UnboundedSender<Vec<u8>>,
    },
    SolWrite {
        key: u64,
        data: Vec<u8>,
    },
    SolStop {
        key: u64,
    },
    Submit {
        key: u64,
        addr: SocketAddr,
        config: Arc<SessionConfig>,
        req: RawRequest,
        reply: oneshot::Sender<Result<RawResponse>>,
    },
    Close {
        key: u64,
        reply: oneshot::Sender<()>,
    },
}

struct Slot {
    addr: SocketAddr,
    sol_tx: Option<mpsc::UnboundedSender<Vec<u8>>>,
    session: Session,
    waiters: HashMap<RequestId, oneshot::Sender<Result<RawResponse>>>,
    closers: Vec<oneshot::Sender<()>>,
    console_sid: u32,
}

struct Driver {
    socket: UdpSocket,
    rx: mpsc::UnboundedReceiver<Cmd>,
    slots: HashMap<u64, Slot>,
    by_console: HashMap<u32, u64>,
    by_addr: HashMap<SocketAddr, Vec<u64>>,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl Driver {
    async fn run(mut self) {
        let mut buf = vec![0u8; 65536];
        let mut shutting_down: Option<Instant> = None;
        loop {
            if let Some(deadline) = shutting_down {
                if self.slots.is_empty() || Instant::now() >= deadline {
                    break;
                }
            }
            let next_timer = self.timers.peek().map(|Reverse((t, _))| *t);
            let sleep_to = match (next_timer, shutting_down) {
                (Some(t), Some(d)) => Some(t.min(d)),
                (t, d) => t.or(d),
            };
            tokio::select! {
                cmd = self.rx.recv(), if shutting_down.is_none() => match cmd {
                    Some(cmd) => self.on_cmd(cmd).await,
                    None => {
                        // Every handle is gone: close the sessions politely, briefly.
                        let now = Instant::now();
                        let keys: Vec<u64> = self.slots.keys().copied().collect();
                        for k in keys {
                            if let Some(s) = self.slots.get_mut(&k) {
                                s.session.close(now);
                            }
                            self.flush(k).await;
                        }
                        shutting_down = Some(now + Duration::from_secs(2));
                    }
                },
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => self.on_datagram(&buf[..n], from).await,
                    Err(e) => tracing::debug!(error = %e, "recv_from failed"),
                },
                _ = sleep_until(sleep_to), if sleep_to.is_some() => self.on_timers().await,
            }
        }
    }

    async fn on_cmd(&mut self, cmd: Cmd) {
        let now = Instant::now();
        match cmd {
            Cmd::Submit {
                key,
                addr,
                config,
                req,
                reply,
            } => {
                let slot = self.slots.entry(key).or_insert_with(|| Slot {
                    addr,
                    session: Session::new((*config).clone(), now),
                    waiters: HashMap::new(),
                    closers: Vec::new(),
                    console_sid: 0,
                    sol_tx: None,
                });
                if slot.session.is_closed() {
                    slot.session = Session::new((*config).clone(), now);
                }
                let by_addr = self.by_addr.entry(addr).or_default();
                if !by_addr.contains(&key) {
                    by_addr.push(key);
                }
                let id = slot.session.submit_raw(now, req);
                slot.waiters.insert(id, reply);
                self.flush(key).await;
            }
            Cmd::SuiteInUse { key, reply } => {
                let _ = reply.send(self.slots.get(&key).and_then(|s| s.session.cipher_suite()));
            }
            Cmd::SolStart { key, max_chunk, tx } => {
                if let Some(slot) = self.slots.get_mut(&key) {
                    slot.session.sol_start(max_chunk);
                    slot.sol_tx = Some(tx);
                }
            }
            Cmd::SolWrite { key, data } => {
                if let Some(slot) = self.slots.get_mut(&key) {
                    slot.session.sol_write(now, &data);
                    self.flush(key).await;
                }
            }
            Cmd::SolStop { key } => {
                if let Some(slot) = self.slots.get_mut(&key) {
                    slot.session.sol_stop();
                    slot.sol_tx = None;
                }
            }
            Cmd::Close { key, reply } => match self.slots.get_mut(&key) {
                Some(slot) => {
                    slot.closers.push(reply);
                    slot.session.close(now);
                    self.flush(key).await;
                }
                None => {
                    let _ = reply.send(());
                }
            },
        }
    }

    async fn on_datagram(&mut self, data: &[u8], from: SocketAddr) {
        let now = Instant::now();
        match route(data) {
            Some(Route::Console(sid)) => {
                let Some(&key) = self.by_console.get(&sid) else {
                    return;
                };
                let Some(slot) = self.slots.get_mut(&key) else {
                    return;
                };
                if slot.addr != from {
                    tracing::debug!(%from, "datagram for a session from another address; dropped");
                    return;
                }
                slot.session.handle_datagram(now, data);
                self.flush(key).await;
            }
            Some(Route::PreSession) => {
                let keys = self.by_addr.get(&from).cloned().unwrap_or_default();
                for key in keys {
                    if let Some(slot) = self.slots.get_mut(&key) {
                        if slot.session.is_setting_up() {
                            slot.session.handle_datagram(now, data);
                            self.flush(key).await;
                        }
                    }
                }
            }
            Some(Route::Asf) | None => {}
        }
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(Reverse((t, key))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            due.push(key);
        }
        due.sort_unstable();
        due.dedup();
        for key in due {
            if let Some(slot) = self.slots.get_mut(&key) {
                if slot.session.poll_timeout().is_some_and(|t| t <= now) {
                    slot.session.handle_timeout(now);
                }
                self.flush(key).await;
            }
        }
    }

    /// Send what the session wants sent, deliver its events, and re-arm its timer.
    async fn flush(&mut self, key: u64) {
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        while let Some(d) = slot.session.poll_transmit() {
            if let Err(e) = self.socket.send_to(&d, slot.addr).await {
                tracing::debug!(error = %e, bmc = %slot.addr, "send_to failed");
            }
        }
        let sid = slot.session.console_session_id();
        if sid != slot.console_sid {
            if slot.console_sid != 0 {
                self.by_console.remove(&slot.console_sid);
            }
            slot.console_sid = sid;
            if sid != 0 {
                self.by_console.insert(sid, key);
            }
        }
        let mut closed = false;
        while let Some(ev) = slot.session.poll_event() {
            match ev {
                Event::Response { id, response } => {
                    if let Some(w) = slot.waiters.remove(&id) {
                        let _ = w.send(Ok(response));
                    }
                }
                Event::RequestFailed { id, error } => {
                    if let Some(w) = slot.waiters.remove(&id) {
                        let _ = w.send(Err(error));
                    }
                }
                Event::Established { suite, privilege } => {
                    tracing::debug!(bmc = %slot.addr, suite, privilege, "session established");
                }
                Event::Failed(e) => tracing::debug!(bmc = %slot.addr, error = %e, "session failed"),
                Event::SolData(d) => {
                    if let Some(tx) = &slot.sol_tx {
                        let _ = tx.send(d);
                    }
                }
                Event::SolClosed => slot.sol_tx = None,
                Event::Closed => closed = true,
            }
        }
        if closed {
            for c in slot.closers.drain(..) {
                let _ = c.send(());
            }
            for (_, w) in slot.waiters.drain() {
                let _ = w.send(Err(Error::SessionClosed));
            }
            self.by_console.remove(&slot.console_sid);
            let addr = slot.addr;
            self.slots.remove(&key);
            if let Some(v) = self.by_addr.get_mut(&addr) {
                v.retain(|k| *k != key);
                if v.is_empty() {
                    self.by_addr.remove(&addr);
                }
            }
            return;
        }
        if let Some(t) = slot.session.poll_timeout() {
            self.timers.push(Reverse((t, key)));
        }
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}
