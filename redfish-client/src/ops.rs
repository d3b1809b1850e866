//! Typed operations: inventory, reset, boot override, virtual media, BIOS, SecureBoot.
//!
//! Request bodies are built by pure functions ([`boot_override_patches`],
//! [`insert_media_body`]) so that the quirks they apply are unit-tested without IO.
//!
//! ```no_run
//! # async fn demo(client: redfish_client::Client) -> Result<(), redfish_client::Error> {
//! use redfish_client::model::{BootMode, BootSource, ResetType};
//! use redfish_client::ops::BootOverride;
//!
//! let system = client.system("1").await?;
//! client.set_boot_override(&system, &BootOverride::once(BootSource::Pxe).mode(BootMode::Uefi)).await?;
//! client.reset(&system, ResetType::ForceRestart).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::client::{ActionOutcome, Client};
use crate::error::{Error, Result};
use crate::model::{
    ApplyTime, Bios, Boot, BootMode, BootOverrideEnabled, BootSource, Chassis, ComputerSystem, Fan,
    FanReading, Manager, PowerState, PowerSupply, PowerThermal, PowerThermalSource, PsuReading,
    ResetType, SecureBoot, TemperatureReading, VirtualMedia,
};
use crate::odata::Resource;
use crate::quirks::{Quirk, Quirks};

/// A boot override to set: target, persistence, and optionally the firmware mode.
///
/// ```
/// use redfish_client::ops::BootOverride;
/// use redfish_client::model::{BootMode, BootOverrideEnabled, BootSource};
/// let b = BootOverride::once(BootSource::Pxe).mode(BootMode::Uefi);
/// assert_eq!(b.enabled, BootOverrideEnabled::Once);
/// let off = BootOverride::disabled();
/// assert_eq!(off.target, BootSource::None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BootOverride {
    /// `BootSourceOverrideTarget`.
    pub target: BootSource,
    /// `BootSourceOverrideEnabled`.
    pub enabled: BootOverrideEnabled,
    /// `BootSourceOverrideMode`, if it should be set.
    pub mode: Option<BootMode>,
}

impl BootOverride {
    /// Boot from `target` at the next boot only.
    pub fn once(target: BootSource) -> Self {
        Self {
            target,
            enabled: BootOverrideEnabled::Once,
            mode: None,
        }
    }
    /// Boot from `target` at every boot.
    pub fn continuous(target: BootSource) -> Self {
        Self {
            target,
            enabled: BootOverrideEnabled::Continuous,
            mode: None,
        }
    }
    /// Remove the override.
    pub fn disabled() -> Self {
        Self {
            target: BootSource::None,
            enabled: BootOverrideEnabled::Disabled,
            mode: None,
        }
    }
    /// Also set the firmware mode (UEFI or Legacy).
    pub fn mode(mut self, mode: BootMode) -> Self {
        self.mode = Some(mode);
        self
    }
}

fn not_allowed<T: std::fmt::Display>(what: &'static str, value: &T, allowed: &[T]) -> Error {
    let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
    Error::unsupported(
        what,
        format!(
            "{value} is not allowed here; the service allows: {}",
            list.join(", ")
        ),
    )
}

/// The PATCH bodies (in order) that set `req` on a system whose current `Boot` is `boot`,
/// applying the quirks: a `Cd` target becomes `UsbCd` on Supermicro
/// ([`Quirk::VirtualCdIsUsbCd`]); the mode is only sent when the system advertises it, always
/// on Supermicro ([`Quirk::BootModeOnEveryPatch`]), and separately and only when it changes on
/// HPE/Dell ([`Quirk::BootModeReadOnly`]). Values outside the advertised
/// `@Redfish.AllowableValues` are refused before anything is sent.
///
/// ```
/// use redfish_client::ops::{boot_override_patches, BootOverride};
/// use redfish_client::model::{Boot, BootMode, BootSource};
/// use redfish_client::quirks::Quirks;
/// let boot: Boot = serde_json::from_str(r#"{"BootSourceOverrideMode": "UEFI"}"#).unwrap();
/// let p = boot_override_patches(Some(&boot), &BootOverride::once(BootSource::Pxe).mode(BootMode::Uefi),
///                               &Quirks::none()).unwrap();
/// assert_eq!(p[0]["Boot"]["BootSourceOverrideTarget"], "Pxe");
/// assert_eq!(p[0]["Boot"]["BootSourceOverrideMode"], "UEFI");
/// ```
pub fn boot_override_patches(
    boot: Option<&Boot>,
    req: &BootOverride,
    quirks: &Quirks,
) -> Result<Vec<Value>> {
    let empty = Boot::default();
    let boot = boot.unwrap_or(&empty);
    let mut target = req.target.clone();
    if target == BootSource::Cd
        && quirks.has(Quirk::VirtualCdIsUsbCd)
        && boot
            .target_allowable_values
            .as_ref()
            .is_none_or(|v| v.contains(&BootSource::UsbCd))
    {
        target = BootSource::UsbCd;
    }
    if let Some(allowed) = &boot.target_allowable_values {
        if target != BootSource::None && !allowed.contains(&target) {
            return Err(not_allowed("boot target", &target, allowed));
        }
    }
    let enabled = if target == BootSource::None {
        BootOverrideEnabled::Disabled
    } else {
        req.enabled.clone()
    };
    if let Some(allowed) = &boot.enabled_allowable_values {
        if !allowed.contains(&enabled) {
            return Err(not_allowed("boot override persistence", &enabled, allowed));
        }
    }
    let mut obj = Map::new();
    obj.insert("BootSourceOverrideTarget".into(), json!(target));
    obj.insert("BootSourceOverrideEnabled".into(), json!(enabled));
    let mode = req.mode.clone().or_else(|| {
        quirks
            .has(Quirk::BootModeOnEveryPatch)
            .then(|| boot.boot_source_override_mode.clone())
            .flatten()
    });
    let mut patches = Vec::new();
    if let Some(mode) = mode {
        if !boot.advertises_mode() {
            tracing::warn!(%mode, "the system does not advertise BootSourceOverrideMode: not sent");
        } else if let Some(allowed) = boot
            .mode_allowable_values
            .as_ref()
            .filter(|a| !a.contains(&mode))
        {
            return Err(not_allowed("boot mode", &mode, allowed));
        } else if quirks.has(Quirk::BootModeReadOnly) {
            if boot.boot_source_override_mode.as_ref() != Some(&mode) {
                patches.push(json!({ "Boot": { "BootSourceOverrideMode": mode } }));
            }
        } else {
            obj.insert("BootSourceOverrideMode".into(), json!(mode));
        }
    }
    patches.push(json!({ "Boot": obj }));
    Ok(patches)
}

/// Options of a virtual media insertion.
///
/// ```
/// use redfish_client::ops::InsertMedia;
/// let m = InsertMedia::new("http://10.0.0.1/boot.iso").write_protected(false);
/// assert_eq!(m.image, "http://10.0.0.1/boot.iso");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InsertMedia {
    /// Image URL.
    pub image: String,
    /// `WriteProtected` (default true).
    pub write_protected: bool,
    /// `TransferProtocolType` (e.g. `HTTP`, `HTTPS`, `NFS`), for BMCs that require it.
    pub transfer_protocol_type: Option<String>,
    /// `TransferMethod` (`Stream`, `Upload`), for BMCs that require it.
    pub transfer_method: Option<String>,
}

impl InsertMedia {
    /// Insert `image` (a URL the BMC can reach), write-protected.
    pub fn new(image: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            write_protected: true,
            transfer_protocol_type: None,
            transfer_method: None,
        }
    }
    /// Set `WriteProtected`.
    pub fn write_protected(mut self, yes: bool) -> Self {
        self.write_protected = yes;
        self
    }
    /// Set `TransferProtocolType`.
    pub fn transfer_protocol_type(mut self, t: impl Into<String>) -> Self {
        self.transfer_protocol_type = Some(t.into());
        self
    }
    /// Set `TransferMethod`.
    pub fn transfer_method(mut self, t: impl Into<String>) -> Self {
        self.transfer_method = Some(t.into());
        self
    }
}

/// The `InsertMedia` action body; Supermicro gets neither `Inserted` nor `WriteProtected`
/// ([`Quirk::InsertMediaImageOnly`]).
///
/// ```
/// use redfish_client::ops::{insert_media_body, InsertMedia};
/// use redfish_client::quirks::{Quirks, Vendor};
/// let b = insert_media_body(&InsertMedia::new("http://x/a.iso"), &Quirks::none());
/// assert_eq!(b["Inserted"], true);
/// let b = insert_media_body(&InsertMedia::new("http://x/a.iso"), &Quirks::for_vendor(Vendor::Supermicro));
/// assert!(b.get("Inserted").is_none());
/// ```
pub fn insert_media_body(req: &InsertMedia, quirks: &Quirks) -> Value {
    let mut b = Map::new();
    b.insert("Image".into(), json!(req.image));
    if !quirks.has(Quirk::InsertMediaImageOnly) {
        b.insert("Inserted".into(), json!(true));
        b.insert("WriteProtected".into(), json!(req.write_protected));
    }
    if let Some(t) = &req.transfer_protocol_type {
        b.insert("TransferProtocolType".into(), json!(t));
    }
    if let Some(t) = &req.transfer_method {
        b.insert("TransferMethod".into(), json!(t));
    }
    Value::Object(b)
}

fn path_of<R: Resource>(r: &R, what: &'static str) -> Result<String> {
    r.odata_id()
        .map(|id| id.as_str().to_owned())
        .ok_or_else(|| Error::unsupported(what, "the resource has no @odata.id"))
}

impl Client {
    /// Every ComputerSystem.
    pub async fn systems(&self) -> Result<Vec<ComputerSystem>> {
        let root = self.service_root().await?;
        let link = root
            .systems
            .ok_or_else(|| Error::unsupported("Systems", "the service root has no Systems"))?;
        self.members(link.id().as_str()).await
    }

    /// Every Manager (BMC).
    pub async fn managers(&self) -> Result<Vec<Manager>> {
        let root = self.service_root().await?;
        let link = root
            .managers
            .ok_or_else(|| Error::unsupported("Managers", "the service root has no Managers"))?;
        self.members(link.id().as_str()).await
    }

    /// Every Chassis.
    pub async fn chassis(&self) -> Result<Vec<Chassis>> {
        let root = self.service_root().await?;
        let link = root
            .chassis
            .ok_or_else(|| Error::unsupported("Chassis", "the service root has no Chassis"))?;
        self.members(link.id().as_str()).await
    }

    /// Every sensor of `chassis` (its `Sensors` collection, every page), read; an empty list
    /// when the chassis has no `Sensors` link.
    pub async fn sensors(&self, chassis: &Chassis) -> Result<Vec<crate::model::Sensor>> {
        match &chassis.sensors {
            Some(l) => self.members(l.id().as_str()).await,
            None => Ok(Vec::new()),
        }
    }

    /// A chassis' power and thermal readings from whichever resources the service has: the
    /// newer `PowerSubsystem` (power supplies and their `Metrics`), `ThermalSubsystem` (fans,
    /// `ThermalMetrics`) and `EnvironmentMetrics` (power drawn), else the legacy `Power` and
    /// `Thermal`. The typed resources themselves are read with [`Client::get`] on the
    /// chassis' links ([`Chassis::power_subsystem`], [`Chassis::power`], ...).
    pub async fn power_thermal(&self, chassis: &Chassis) -> Result<PowerThermal> {
        let new = chassis.power_subsystem.is_some()
            || chassis.thermal_subsystem.is_some()
            || chassis.environment_metrics.is_some();
        if !new {
            let power = match &chassis.power {
                Some(l) => Some(l.get(self).await?),
                None => None,
            };
            let thermal = match &chassis.thermal {
                Some(l) => Some(l.get(self).await?),
                None => None,
            };
            return Ok(PowerThermal::from_legacy(power.as_ref(), thermal.as_ref()));
        }
        let health = |s: &Option<crate::model::Status>| s.as_ref().and_then(|s| s.health.clone());
        let mut pt = PowerThermal {
            source: PowerThermalSource::Subsystems,
            consumed_watts: None,
            capacity_watts: None,
            power_supplies: Vec::new(),
            temperatures: Vec::new(),
            fans: Vec::new(),
        };
        if let Some(l) = &chassis.power_subsystem {
            let ps = l.get(self).await?;
            pt.capacity_watts = ps
                .capacity_watts
                .or_else(|| ps.allocation.as_ref().and_then(|a| a.allocated_watts));
            if let Some(list) = &ps.power_supplies {
                for s in self.members::<PowerSupply>(list.id().as_str()).await? {
                    let m = match &s.metrics {
                        Some(m) => Some(m.get(self).await?),
                        None => None,
                    };
                    let reading = |f: fn(
                        &crate::model::PowerSupplyMetrics,
                    )
                        -> Option<&crate::model::SensorReading>| {
                        m.as_ref().and_then(f).and_then(|r| r.reading)
                    };
                    pt.power_supplies.push(PsuReading {
                        name: s.name.clone().or(s.id.clone()).unwrap_or_default(),
                        capacity_watts: s.power_capacity_watts,
                        output_watts: reading(|m| m.output_power_watts.as_ref()),
                        input_volts: reading(|m| m.input_voltage.as_ref()),
                        health: health(&s.status),
                    });
                }
            }
        }
        if let Some(l) = &chassis.thermal_subsystem {
            let ts = l.get(self).await?;
            if let Some(list) = &ts.fans {
                for f in self.members::<Fan>(list.id().as_str()).await? {
                    pt.fans.push(FanReading {
                        name: f.name.clone().or(f.id.clone()).unwrap_or_default(),
                        percent: f.speed_percent.as_ref().and_then(|r| r.reading),
                        rpm: f.speed_percent.as_ref().and_then(|r| r.speed_rpm),
                        health: health(&f.status),
                    });
                }
            }
            if let Some(m) = &ts.thermal_metrics {
                let tm = m.get(self).await?;
                pt.temperatures = tm
                    .temperature_readings_celsius
                    .iter()
                    .map(|r| TemperatureReading {
                        name: r
                            .device_name
                            .clone()
                            .or_else(|| {
                                r.data_source_uri
                                    .as_ref()
                                    .map(|u| crate::ODataId::new(u).last_segment().to_owned())
                            })
                            .unwrap_or_default(),
                        celsius: r.reading,
                        upper_critical: None,
                    })
                    .collect();
            }
        }
        if let Some(l) = &chassis.environment_metrics {
            let em = l.get(self).await?;
            pt.consumed_watts = em.power_watts.as_ref().and_then(|r| r.reading);
            if pt.fans.is_empty() {
                pt.fans = em
                    .fan_speeds_percent
                    .iter()
                    .map(|r| FanReading {
                        name: r.device_name.clone().unwrap_or_default(),
                        percent: r.reading,
                        rpm: r.speed_rpm,
                        health: None,
                    })
                    .collect();
            }
        }
        Ok(pt)
    }

    /// One ComputerSystem by `Id` (under the root's `Systems`) or by full path.
    pub async fn system(&self, id_or_path: &str) -> Result<ComputerSystem> {
        if id_or_path.starts_with('/') {
            return self.get(id_or_path).await;
        }
        let root = self.service_root().await?;
        let base = root
            .systems
            .map(|l| l.id().clone())
            .unwrap_or_else(|| "/redfish/v1/Systems".into());
        self.get(base.join(id_or_path).as_str()).await
    }

    /// Reset a system. The ResetType is checked against `ResetType@Redfish.AllowableValues`
    /// when the service advertises them (nothing is sent otherwise).
    pub async fn reset(&self, system: &ComputerSystem, reset: ResetType) -> Result<ActionOutcome> {
        if let Some(allowed) = system.allowed_reset_types() {
            if !allowed.contains(&reset) {
                return Err(not_allowed("ResetType", &reset, &allowed));
            }
        }
        let target = match system
            .actions
            .as_ref()
            .and_then(|a| a.reset.as_ref())
            .and_then(|r| r.target.clone())
        {
            Some(t) => t,
            None => format!(
                "{}/Actions/ComputerSystem.Reset",
                path_of(system, "ComputerSystem.Reset")?
            ),
        };
        self.post(&target, &json!({ "ResetType": reset })).await
    }

    /// Wait until a system reports `state` (read every 250 ms), or time out.
    pub async fn wait_power_state(
        &self,
        system: &ComputerSystem,
        state: PowerState,
        timeout: Duration,
    ) -> Result<()> {
        let path = path_of(system, "PowerState")?;
        let start = tokio::time::Instant::now();
        loop {
            let s: ComputerSystem = self.get(&path).await?;
            if s.power_state.as_ref() == Some(&state) {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(Error::WaitTimeout {
                    what: format!("{path} PowerState {state}"),
                    after: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Set the boot override (see [`boot_override_patches`] for the quirks applied). If the
    /// system refuses Boot changes on itself and advertises `@Redfish.Settings`, the change
    /// is staged on the settings object instead.
    pub async fn set_boot_override(
        &self,
        system: &ComputerSystem,
        req: &BootOverride,
    ) -> Result<()> {
        let quirks = self.quirks().await.unwrap_or_default();
        let path = path_of(system, "Boot")?;
        // Read afresh: the caller's copy may be stale, and we want the current ETag.
        let (current, etag) = self.get_with_etag::<ComputerSystem>(&path).await?;
        let etag = etag.or(current.odata.etag.clone());
        for body in boot_override_patches(current.boot.as_ref(), req, &quirks)? {
            match self.patch(&path, &body, etag.as_deref()).await {
                Ok(_) => {}
                Err(
                    e @ Error::Status {
                        status: 400 | 403 | 405,
                        ..
                    },
                ) => {
                    let Some(settings) = current
                        .settings
                        .as_ref()
                        .and_then(|s| s.settings_object.as_ref())
                    else {
                        return Err(e);
                    };
                    tracing::info!(settings = %settings.id(), "Boot refused on the system: staging it on its settings object");
                    self.patch(settings.id().as_str(), &body, None).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The virtual media slots of a system, wherever the service keeps them: under the system
    /// (newer services, sushy, OpenBMC) or under its managers (Redfish 1.0: Dell, HPE,
    /// Supermicro).
    pub async fn virtual_media(&self, system: &ComputerSystem) -> Result<Vec<VirtualMedia>> {
        if let Some(link) = &system.virtual_media {
            return self.members(link.id().as_str()).await;
        }
        let mut out = Vec::new();
        for m in system
            .links
            .as_ref()
            .map(|l| l.managed_by.clone())
            .unwrap_or_default()
        {
            let manager = m.get(self).await?;
            if let Some(link) = &manager.virtual_media {
                out.extend(self.members::<VirtualMedia>(link.id().as_str()).await?);
            }
        }
        Ok(out)
    }

    async fn cd_slot(&self, system: &ComputerSystem) -> Result<VirtualMedia> {
        let slots = self.virtual_media(system).await?;
        slots
            .iter()
            .find(|s| s.is_cd())
            .or(slots.first())
            .cloned()
            .ok_or_else(|| {
                Error::unsupported("virtual media", "the system has no virtual media slot")
            })
    }

    /// Insert an image into the system's CD slot (ejecting what is there first) and return the
    /// slot as read back. Uses `#VirtualMedia.InsertMedia`, or a PATCH of `Image`/`Inserted`
    /// on services without the action.
    pub async fn insert_media(
        &self,
        system: &ComputerSystem,
        req: &InsertMedia,
    ) -> Result<VirtualMedia> {
        let quirks = self.quirks().await.unwrap_or_default();
        let slot = self.cd_slot(system).await?;
        let path = path_of(&slot, "virtual media")?;
        if slot.has_media() {
            self.eject_slot(&slot).await?;
        }
        match slot
            .actions
            .as_ref()
            .and_then(|a| a.insert_media.as_ref())
            .and_then(|a| a.target.clone())
        {
            Some(target) => {
                self.post(&target, &insert_media_body(req, &quirks)).await?;
            }
            None => {
                self.patch(
                    &path,
                    &json!({ "Image": req.image, "Inserted": true }),
                    slot.odata.etag.as_deref(),
                )
                .await?;
            }
        }
        self.get(&path).await
    }

    async fn eject_slot(&self, slot: &VirtualMedia) -> Result<()> {
        let path = path_of(slot, "virtual media")?;
        match slot
            .actions
            .as_ref()
            .and_then(|a| a.eject_media.as_ref())
            .and_then(|a| a.target.clone())
        {
            Some(target) => {
                self.post(&target, &json!({})).await?;
            }
            None => {
                self.patch(
                    &path,
                    &json!({ "Image": null, "Inserted": false }),
                    slot.odata.etag.as_deref(),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Eject whatever is inserted in the system's CD slot (nothing to do is not an error).
    pub async fn eject_media(&self, system: &ComputerSystem) -> Result<()> {
        let slot = self.cd_slot(system).await?;
        if slot.has_media() {
            self.eject_slot(&slot).await
        } else {
            Ok(())
        }
    }

    /// The system's current BIOS attributes.
    pub async fn bios(&self, system: &ComputerSystem) -> Result<Bios> {
        let link = system
            .bios
            .as_ref()
            .ok_or_else(|| Error::unsupported("BIOS", "the system has no Bios resource"))?;
        self.get(link.id().as_str()).await
    }

    /// The staged (pending) BIOS attributes, from the `@Redfish.Settings` object; the current
    /// ones on services that apply changes directly.
    pub async fn bios_pending(&self, system: &ComputerSystem) -> Result<Bios> {
        let bios = self.bios(system).await?;
        match bios
            .settings
            .as_ref()
            .and_then(|s| s.settings_object.as_ref())
        {
            Some(link) => self.get(link.id().as_str()).await,
            None => Ok(bios),
        }
    }

    /// Stage BIOS attribute changes through the Settings resource (`@Redfish.Settings`),
    /// or on the Bios resource itself when it has none, with an optional apply time.
    pub async fn set_bios_attributes(
        &self,
        system: &ComputerSystem,
        attributes: Map<String, Value>,
        apply_time: Option<ApplyTime>,
    ) -> Result<()> {
        let bios = self.bios(system).await?;
        let settings = bios
            .settings
            .as_ref()
            .and_then(|s| s.settings_object.as_ref());
        if let (Some(allowed), Some(at)) = (
            bios.settings.as_ref().map(|s| &s.supported_apply_times),
            &apply_time,
        ) {
            if !allowed.is_empty() && !allowed.iter().any(|a| a == at.as_str()) {
                let allowed: Vec<ApplyTime> = allowed
                    .iter()
                    .map(|s| ApplyTime::from(s.as_str()))
                    .collect();
                return Err(not_allowed("BIOS apply time", at, &allowed));
            }
        }
        let path = match settings {
            Some(l) => l.id().as_str().to_owned(),
            None => path_of(&bios, "BIOS")?,
        };
        let mut body = json!({ "Attributes": attributes });
        if let Some(at) = apply_time {
            body["@Redfish.SettingsApplyTime"] = json!({ "ApplyTime": at });
        }
        self.patch(&path, &body, None).await?;
        Ok(())
    }

    /// Reset BIOS attributes to their defaults (`#Bios.ResetBios`).
    pub async fn reset_bios(&self, system: &ComputerSystem) -> Result<ActionOutcome> {
        let bios = self.bios(system).await?;
        let target = match bios
            .actions
            .as_ref()
            .and_then(|a| a.reset_bios.as_ref())
            .and_then(|a| a.target.clone())
        {
            Some(t) => t,
            None => format!(
                "{}/Actions/Bios.ResetBios",
                path_of(&bios, "Bios.ResetBios")?
            ),
        };
        self.post(&target, &json!({})).await
    }

    /// The system's SecureBoot resource.
    pub async fn secure_boot(&self, system: &ComputerSystem) -> Result<SecureBoot> {
        let link = system.secure_boot.as_ref().ok_or_else(|| {
            Error::unsupported("SecureBoot", "the system has no SecureBoot resource")
        })?;
        self.get(link.id().as_str()).await
    }

    /// Turn UEFI Secure Boot on or off (effective at the next boot).
    pub async fn set_secure_boot(&self, system: &ComputerSystem, enable: bool) -> Result<()> {
        let sb = self.secure_boot(system).await?;
        let path = path_of(&sb, "SecureBoot")?;
        self.patch(
            &path,
            &json!({ "SecureBootEnable": enable }),
            sb.odata.etag.as_deref(),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quirks::Vendor;

    fn boot(json: &str) -> Boot {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn supermicro_sends_current_mode_on_every_patch() {
        let b = boot(r#"{"BootSourceOverrideMode":"UEFI","BootSourceOverrideTarget":"None"}"#);
        let q = Quirks::for_vendor(Vendor::Supermicro);
        let p = boot_override_patches(Some(&b), &BootOverride::once(BootSource::Pxe), &q).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0]["Boot"]["BootSourceOverrideMode"], "UEFI");
        // Without the quirk, no mode is sent when none was asked for.
        let p = boot_override_patches(
            Some(&b),
            &BootOverride::once(BootSource::Pxe),
            &Quirks::none(),
        )
        .unwrap();
        assert!(p[0]["Boot"].get("BootSourceOverrideMode").is_none());
    }

    #[test]
    fn old_supermicro_without_mode_gets_no_mode() {
        let b = boot(r#"{"BootSourceOverrideTarget":"None"}"#);
        let q = Quirks::for_vendor(Vendor::Supermicro);
        let p = boot_override_patches(
            Some(&b),
            &BootOverride::once(BootSource::Pxe).mode(BootMode::Uefi),
            &q,
        )
        .unwrap();
        assert!(p[0]["Boot"].get("BootSourceOverrideMode").is_none());
    }

    #[test]
    fn read_only_mode_is_left_out_or_sent_alone() {
        let b = boot(r#"{"BootSourceOverrideMode":"UEFI"}"#);
        let q = Quirks::for_vendor(Vendor::Hpe);
        let same = boot_override_patches(
            Some(&b),
            &BootOverride::once(BootSource::Pxe).mode(BootMode::Uefi),
            &q,
        )
        .unwrap();
        assert_eq!(same.len(), 1);
        assert!(same[0]["Boot"].get("BootSourceOverrideMode").is_none());
        let diff = boot_override_patches(
            Some(&b),
            &BootOverride::once(BootSource::Pxe).mode(BootMode::Legacy),
            &q,
        )
        .unwrap();
        assert_eq!(diff.len(), 2);
        assert_eq!(
            diff[0],
            json!({"Boot": {"BootSourceOverrideMode": "Legacy"}})
        );
        assert!(diff[1]["Boot"].get("BootSourceOverrideMode").is_none());
    }

    #[test]
    fn supermicro_cd_is_usbcd() {
        let q = Quirks::for_vendor(Vendor::Supermicro);
        let p = boot_override_patches(None, &BootOverride::once(BootSource::Cd), &q).unwrap();
        assert_eq!(p[0]["Boot"]["BootSourceOverrideTarget"], "UsbCd");
        let b = boot(r#"{"BootSourceOverrideTarget@Redfish.AllowableValues":["Pxe","Cd"]}"#);
        let p = boot_override_patches(Some(&b), &BootOverride::once(BootSource::Cd), &q).unwrap();
        assert_eq!(p[0]["Boot"]["BootSourceOverrideTarget"], "Cd");
    }

    #[test]
    fn allowable_values_are_enforced() {
        let b = boot(
            r#"{"BootSourceOverrideTarget@Redfish.AllowableValues":["Pxe","Hdd"],
                "BootSourceOverrideMode":"UEFI","BootSourceOverrideMode@Redfish.AllowableValues":["UEFI"]}"#,
        );
        let e = boot_override_patches(
            Some(&b),
            &BootOverride::once(BootSource::Cd),
            &Quirks::none(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Pxe, Hdd"), "{e}");
        let e = boot_override_patches(
            Some(&b),
            &BootOverride::once(BootSource::Pxe).mode(BootMode::Legacy),
            &Quirks::none(),
        );
        assert!(matches!(e, Err(Error::Unsupported { .. })));
        let p =
            boot_override_patches(Some(&b), &BootOverride::disabled(), &Quirks::none()).unwrap();
        assert_eq!(p[0]["Boot"]["BootSourceOverrideEnabled"], "Disabled");
    }

    #[test]
    fn supermicro_insert_media_is_image_only() {
        let q = Quirks::for_vendor(Vendor::Supermicro);
        let b = insert_media_body(
            &InsertMedia::new("http://x/a.iso").transfer_protocol_type("HTTP"),
            &q,
        );
        assert_eq!(
            b,
            json!({"Image": "http://x/a.iso", "TransferProtocolType": "HTTP"})
        );
        let b = insert_media_body(&InsertMedia::new("http://x/a.iso"), &Quirks::none());
        assert_eq!(
            b,
            json!({"Image": "http://x/a.iso", "Inserted": true, "WriteProtected": true})
        );
    }
}
