//! Vendor profiles: the Redfish quirks of real BMCs, reproduced on demand so clients can be
//! tested against them (see the `redfish-client` quirks these exercise).

use std::time::Duration;

/// Which BMC the Redfish face behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Vendor {
    /// DMTF-like: ids `1`/`BMC`, virtual media under the system, optional If-Match.
    #[default]
    Generic,
    /// OpenBMC (bmcweb): ids `system`/`bmc`, virtual media under the manager.
    OpenBmc,
    /// Dell iDRAC: ids `System.Embedded.1`/`iDRAC.Embedded.1`, virtual media under the manager,
    /// BootSourceOverrideMode read-only (13G), 8 sessions, SYS518 "not ready" after a reset.
    Dell,
    /// HPE iLO: weak ETags, BootSourceOverrideMode read-only, InvalidOperationForSystemState
    /// after a reset.
    Hpe,
    /// Supermicro: forgets BootSourceOverrideMode unless it is sent on every boot PATCH, wants
    /// `UsbCd`, rejects `Inserted`/`WriteProtected` in InsertMedia.
    Supermicro,
    /// Lenovo XCC: answers 428 to a PATCH without If-Match.
    Lenovo,
}

impl std::str::FromStr for Vendor {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "generic" => Vendor::Generic,
            "openbmc" => Vendor::OpenBmc,
            "dell" => Vendor::Dell,
            "hpe" => Vendor::Hpe,
            "supermicro" => Vendor::Supermicro,
            "lenovo" => Vendor::Lenovo,
            _ => {
                return Err(crate::Error::Config(format!(
                    "unknown vendor `{s}`; expected generic, openbmc, dell, hpe, supermicro or lenovo"
                )));
            }
        })
    }
}

/// The behaviour a vendor profile selects.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) vendor_name: &'static str,
    pub(crate) system_id: &'static str,
    pub(crate) manager_id: &'static str,
    /// Virtual media under `Systems/<id>` (newer DMTF) rather than `Managers/<id>`.
    pub(crate) media_under_system: bool,
    /// The boot target for the virtual CD.
    pub(crate) cd_target: &'static str,
    /// A PATCH including BootSourceOverrideMode is refused.
    pub(crate) mode_read_only: bool,
    /// A boot PATCH without BootSourceOverrideMode resets the mode to Legacy.
    pub(crate) mode_forgotten: bool,
    /// InsertMedia refuses `Inserted` and `WriteProtected`.
    pub(crate) insert_rejects_flags: bool,
    /// A PATCH without If-Match is answered 428.
    pub(crate) require_if_match: bool,
    /// ETags are weak (`W/"n"`).
    pub(crate) weak_etag: bool,
    pub(crate) max_sessions: usize,
    /// After a reset, actions and PATCHes are refused this long with this MessageId.
    pub(crate) not_ready: Option<(Duration, &'static str)>,
}

impl Profile {
    pub(crate) fn of(vendor: Vendor) -> Self {
        let generic = Profile {
            vendor_name: "bmc-sim",
            system_id: "1",
            manager_id: "BMC",
            media_under_system: true,
            cd_target: "Cd",
            mode_read_only: false,
            mode_forgotten: false,
            insert_rejects_flags: false,
            require_if_match: false,
            weak_etag: false,
            max_sessions: 16,
            not_ready: None,
        };
        match vendor {
            Vendor::Generic => generic,
            Vendor::OpenBmc => Profile {
                vendor_name: "OpenBMC",
                system_id: "system",
                manager_id: "bmc",
                media_under_system: false,
                ..generic
            },
            Vendor::Dell => Profile {
                vendor_name: "Dell",
                system_id: "System.Embedded.1",
                manager_id: "iDRAC.Embedded.1",
                media_under_system: false,
                mode_read_only: true,
                max_sessions: 8,
                not_ready: Some((Duration::from_millis(800), "IDRAC.2.8.SYS518")),
                ..generic
            },
            Vendor::Hpe => Profile {
                vendor_name: "HPE",
                system_id: "1",
                manager_id: "1",
                media_under_system: false,
                mode_read_only: true,
                weak_etag: true,
                not_ready: Some((
                    Duration::from_millis(800),
                    "iLO.2.14.InvalidOperationForSystemState",
                )),
                ..generic
            },
            Vendor::Supermicro => Profile {
                vendor_name: "Supermicro",
                system_id: "1",
                manager_id: "1",
                media_under_system: false,
                cd_target: "UsbCd",
                mode_forgotten: true,
                insert_rejects_flags: true,
                ..generic
            },
            Vendor::Lenovo => Profile {
                vendor_name: "Lenovo",
                system_id: "1",
                manager_id: "1",
                media_under_system: false,
                require_if_match: true,
                ..generic
            },
        }
    }

    pub(crate) fn system_path(&self) -> String {
        format!("/redfish/v1/Systems/{}", self.system_id)
    }

    pub(crate) fn manager_path(&self) -> String {
        format!("/redfish/v1/Managers/{}", self.manager_id)
    }

    pub(crate) fn media_path(&self) -> String {
        if self.media_under_system {
            format!("{}/VirtualMedia", self.system_path())
        } else {
            format!("{}/VirtualMedia", self.manager_path())
        }
    }

    pub(crate) fn etag(&self, version: u64) -> String {
        if self.weak_etag {
            format!("W/\"{version}\"")
        } else {
            format!("\"{version}\"")
        }
    }
}
