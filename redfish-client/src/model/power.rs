//! Chassis power and thermal, both generations: the newer `PowerSubsystem`,
//! `ThermalSubsystem` and `EnvironmentMetrics` (Redfish 2020.4+, with `PowerSupply`, `Fan`,
//! `ThermalMetrics` beneath) and the legacy `Power` and `Thermal` resources (deprecated but
//! still what most BMCs in racks serve). [`crate::Client::power_thermal`] reads whichever the
//! service has and sums it up as a [`PowerThermal`].
//!
//! Readings are lenient: a number, a numeric string, or anything else (`null`, `"N/A"`) as
//! `None`, because BMCs do send all three.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Status, resource};
use crate::odata::{Collection, Link, OData};

/// A `Sensor` excerpt (`SensorPowerExcerpt`, `SensorFanExcerpt`, ...): a reading and where it
/// comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct SensorReading {
    /// `Reading`.
    #[serde(default)]
    pub reading: Option<f64>,
    /// `SpeedRPM` (fans).
    #[serde(rename = "SpeedRPM", default)]
    pub speed_rpm: Option<f64>,
    /// `DataSourceUri`: the Sensor resource.
    #[serde(default)]
    pub data_source_uri: Option<String>,
    /// `DeviceName` (in arrays of readings).
    #[serde(default)]
    pub device_name: Option<String>,
    /// `PhysicalContext`.
    #[serde(default)]
    pub physical_context: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
model_deserialize!(SensorReading {
        "Reading" => reading as lenient,
        "SpeedRPM" => speed_rpm as lenient,
        "DataSourceUri" => data_source_uri,
        "DeviceName" => device_name,
        "PhysicalContext" => physical_context,
});

/// `PowerSubsystem.Allocation`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PowerAllocation {
    /// `AllocatedWatts`.
    pub allocated_watts: Option<f64>,
    /// `RequestedWatts`.
    pub requested_watts: Option<f64>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(PowerAllocation {
        "AllocatedWatts" => allocated_watts as lenient,
        "RequestedWatts" => requested_watts as lenient,
});

/// `PowerSubsystem` (`Chassis/X/PowerSubsystem`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PowerSubsystem {
    /// OData annotations.
    pub odata: OData,
    /// `CapacityWatts`.
    pub capacity_watts: Option<f64>,
    /// `Allocation`.
    pub allocation: Option<PowerAllocation>,
    /// `PowerSupplies`.
    pub power_supplies: Option<Link<Collection<PowerSupply>>>,
    /// `Batteries`.
    pub batteries: Option<Link<Collection<Value>>>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(PowerSubsystem, odata {
        "CapacityWatts" => capacity_watts as lenient,
        "Allocation" => allocation,
        "PowerSupplies" => power_supplies,
        "Batteries" => batteries,
        "Status" => status,
        "Oem" => oem,
});

/// `PowerSupply` (new model, a member of `PowerSubsystem/PowerSupplies`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PowerSupply {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Manufacturer`.
    pub manufacturer: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `SerialNumber`.
    pub serial_number: Option<String>,
    /// `PowerCapacityWatts`.
    pub power_capacity_watts: Option<f64>,
    /// `PowerSupplyType` (`AC`, `DC`, ...).
    pub power_supply_type: Option<String>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Metrics`.
    pub metrics: Option<Link<PowerSupplyMetrics>>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(PowerSupply, odata {
        "Id" => id,
        "Name" => name,
        "Manufacturer" => manufacturer,
        "Model" => model,
        "SerialNumber" => serial_number,
        "PowerCapacityWatts" => power_capacity_watts as lenient,
        "PowerSupplyType" => power_supply_type,
        "Status" => status,
        "Metrics" => metrics,
        "Oem" => oem,
});

/// `PowerSupplyMetrics`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PowerSupplyMetrics {
    /// OData annotations.
    pub odata: OData,
    /// `InputVoltage`.
    pub input_voltage: Option<SensorReading>,
    /// `InputPowerWatts`.
    pub input_power_watts: Option<SensorReading>,
    /// `OutputPowerWatts`.
    pub output_power_watts: Option<SensorReading>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(PowerSupplyMetrics, odata {
        "InputVoltage" => input_voltage,
        "InputPowerWatts" => input_power_watts,
        "OutputPowerWatts" => output_power_watts,
});

/// `ThermalSubsystem` (`Chassis/X/ThermalSubsystem`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ThermalSubsystem {
    /// OData annotations.
    pub odata: OData,
    /// `Fans`.
    pub fans: Option<Link<Collection<Fan>>>,
    /// `ThermalMetrics`.
    pub thermal_metrics: Option<Link<ThermalMetrics>>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(ThermalSubsystem, odata {
        "Fans" => fans,
        "ThermalMetrics" => thermal_metrics,
        "Status" => status,
        "Oem" => oem,
});

/// `Fan` (new model, a member of `ThermalSubsystem/Fans`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Fan {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `SpeedPercent`: `Reading` in percent, `SpeedRPM`.
    pub speed_percent: Option<SensorReading>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Fan, odata {
        "Id" => id,
        "Name" => name,
        "SpeedPercent" => speed_percent,
        "Status" => status,
        "Oem" => oem,
});

/// `ThermalMetrics`: every temperature of the chassis in one resource.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ThermalMetrics {
    /// OData annotations.
    pub odata: OData,
    /// `TemperatureReadingsCelsius`.
    pub temperature_readings_celsius: Vec<SensorReading>,
    /// `TemperatureSummaryCelsius` (`Internal`, `Intake`, `Exhaust`, `Ambient`).
    pub temperature_summary_celsius: Option<Map<String, Value>>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(ThermalMetrics, odata {
        "TemperatureReadingsCelsius" => temperature_readings_celsius,
        "TemperatureSummaryCelsius" => temperature_summary_celsius,
});

/// `EnvironmentMetrics` of a chassis (also found on processors and memory).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EnvironmentMetrics {
    /// OData annotations.
    pub odata: OData,
    /// `TemperatureCelsius`.
    pub temperature_celsius: Option<SensorReading>,
    /// `PowerWatts`.
    pub power_watts: Option<SensorReading>,
    /// `EnergykWh`.
    pub energy_kwh: Option<SensorReading>,
    /// `HumidityPercent`.
    pub humidity_percent: Option<SensorReading>,
    /// `FanSpeedsPercent`.
    pub fan_speeds_percent: Vec<SensorReading>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(EnvironmentMetrics, odata {
        "TemperatureCelsius" => temperature_celsius,
        "PowerWatts" => power_watts,
        "EnergykWh" => energy_kwh,
        "HumidityPercent" => humidity_percent,
        "FanSpeedsPercent" => fan_speeds_percent,
        "Oem" => oem,
});

/// `PowerControl` entry of the legacy `Power` resource.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PowerControl {
    /// `MemberId`.
    pub member_id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `PowerConsumedWatts`.
    pub power_consumed_watts: Option<f64>,
    /// `PowerCapacityWatts`.
    pub power_capacity_watts: Option<f64>,
    /// `PowerMetrics` (`AverageConsumedWatts`, `MinConsumedWatts`, ...).
    pub power_metrics: Option<Map<String, Value>>,
    /// `PowerLimit`.
    pub power_limit: Option<Map<String, Value>>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(PowerControl {
        "MemberId" => member_id,
        "Name" => name,
        "PowerConsumedWatts" => power_consumed_watts as lenient,
        "PowerCapacityWatts" => power_capacity_watts as lenient,
        "PowerMetrics" => power_metrics,
        "PowerLimit" => power_limit,
});

/// `Voltages` entry of the legacy `Power` resource.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Voltage {
    /// `Name`.
    pub name: Option<String>,
    /// `ReadingVolts`.
    pub reading_volts: Option<f64>,
    /// `Status`.
    pub status: Option<Status>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Voltage {
        "Name" => name,
        "ReadingVolts" => reading_volts as lenient,
        "Status" => status,
});

/// `PowerSupplies` entry of the legacy `Power` resource.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LegacyPowerSupply {
    /// `MemberId`.
    pub member_id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `Manufacturer`.
    pub manufacturer: Option<String>,
    /// `SerialNumber`.
    pub serial_number: Option<String>,
    /// `PowerCapacityWatts`.
    pub power_capacity_watts: Option<f64>,
    /// `LastPowerOutputWatts`.
    pub last_power_output_watts: Option<f64>,
    /// `LineInputVoltage`.
    pub line_input_voltage: Option<f64>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(LegacyPowerSupply {
        "MemberId" => member_id,
        "Name" => name,
        "Model" => model,
        "Manufacturer" => manufacturer,
        "SerialNumber" => serial_number,
        "PowerCapacityWatts" => power_capacity_watts as lenient,
        "LastPowerOutputWatts" => last_power_output_watts as lenient,
        "LineInputVoltage" => line_input_voltage as lenient,
        "Status" => status,
        "Oem" => oem,
});

/// The legacy `Power` resource (`Chassis/X/Power`, deprecated in 2020.4).
///
/// ```
/// use redfish_client::model::Power;
/// let p: Power = serde_json::from_str(r#"{"PowerControl": [{"PowerConsumedWatts": 212}],
///     "PowerSupplies": [{"Name": "PSU1", "LineInputVoltage": "230", "PowerCapacityWatts": null}]}"#).unwrap();
/// assert_eq!(p.power_control[0].power_consumed_watts, Some(212.0));
/// assert_eq!(p.power_supplies[0].line_input_voltage, Some(230.0));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Power {
    /// OData annotations.
    pub odata: OData,
    /// `PowerControl`.
    pub power_control: Vec<PowerControl>,
    /// `Voltages`.
    pub voltages: Vec<Voltage>,
    /// `PowerSupplies`.
    pub power_supplies: Vec<LegacyPowerSupply>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else (`Redundancy`, ...).
    pub extra: Map<String, Value>,
}
model_deserialize!(Power, odata {
        "PowerControl" => power_control,
        "Voltages" => voltages,
        "PowerSupplies" => power_supplies,
        "Oem" => oem,
});

/// `Temperatures` entry of the legacy `Thermal` resource.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Temperature {
    /// `MemberId`.
    pub member_id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `ReadingCelsius`.
    pub reading_celsius: Option<f64>,
    /// `UpperThresholdCritical`.
    pub upper_threshold_critical: Option<f64>,
    /// `PhysicalContext`.
    pub physical_context: Option<String>,
    /// `Status`.
    pub status: Option<Status>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Temperature {
        "MemberId" => member_id,
        "Name" => name,
        "ReadingCelsius" => reading_celsius as lenient,
        "UpperThresholdCritical" => upper_threshold_critical as lenient,
        "PhysicalContext" => physical_context,
        "Status" => status,
});

/// `Fans` entry of the legacy `Thermal` resource.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LegacyFan {
    /// `MemberId`.
    pub member_id: Option<String>,
    /// `Name` (`FanName` on Thermal 1.0 services).
    pub name: Option<String>,
    /// `Reading`.
    pub reading: Option<f64>,
    /// `ReadingUnits` (`RPM` or `Percent`).
    pub reading_units: Option<String>,
    /// `Status`.
    pub status: Option<Status>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(LegacyFan {
        "MemberId" => member_id,
        "Name" | "FanName" => name,
        "Reading" => reading as lenient,
        "ReadingUnits" => reading_units,
        "Status" => status,
});

/// The legacy `Thermal` resource (`Chassis/X/Thermal`, deprecated in 2020.4).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Thermal {
    /// OData annotations.
    pub odata: OData,
    /// `Temperatures`.
    pub temperatures: Vec<Temperature>,
    /// `Fans`.
    pub fans: Vec<LegacyFan>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else (`Redundancy`, ...).
    pub extra: Map<String, Value>,
}
model_deserialize!(Thermal, odata {
        "Temperatures" => temperatures,
        "Fans" => fans,
        "Oem" => oem,
});

/// Which generation of resources a [`PowerThermal`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PowerThermalSource {
    /// `PowerSubsystem`, `ThermalSubsystem`, `EnvironmentMetrics`.
    Subsystems,
    /// `Power` and `Thermal`.
    Legacy,
}

/// One power supply in a [`PowerThermal`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PsuReading {
    /// Name (or Id / MemberId).
    pub name: String,
    /// Rated capacity.
    pub capacity_watts: Option<f64>,
    /// Output power now.
    pub output_watts: Option<f64>,
    /// Input voltage now.
    pub input_volts: Option<f64>,
    /// `Status.Health`.
    pub health: Option<super::Health>,
}

/// One temperature in a [`PowerThermal`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TemperatureReading {
    /// Sensor name.
    pub name: String,
    /// Degrees Celsius.
    pub celsius: Option<f64>,
    /// Upper critical threshold, if known.
    pub upper_critical: Option<f64>,
}

/// One fan in a [`PowerThermal`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct FanReading {
    /// Fan name.
    pub name: String,
    /// Speed in percent, if known.
    pub percent: Option<f64>,
    /// Speed in RPM, if known.
    pub rpm: Option<f64>,
    /// `Status.Health`.
    pub health: Option<super::Health>,
}

/// A chassis' power and thermal readings, whichever generation the service serves.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PowerThermal {
    /// Where the figures come from.
    pub source: PowerThermalSource,
    /// Power the chassis draws now.
    pub consumed_watts: Option<f64>,
    /// Power capacity (budget) of the chassis.
    pub capacity_watts: Option<f64>,
    /// Power supplies.
    pub power_supplies: Vec<PsuReading>,
    /// Temperatures.
    pub temperatures: Vec<TemperatureReading>,
    /// Fans.
    pub fans: Vec<FanReading>,
}

impl PowerThermal {
    /// Sum up the legacy resources.
    ///
    /// ```
    /// use redfish_client::model::{Power, PowerThermal, Thermal};
    /// let p: Power = serde_json::from_str(r#"{"PowerControl": [{"PowerConsumedWatts": 180}]}"#).unwrap();
    /// let t: Thermal = serde_json::from_str(r#"{"Fans": [{"FanName": "FAN1", "Reading": 40, "ReadingUnits": "Percent"}],
    ///     "Temperatures": [{"Name": "Inlet", "ReadingCelsius": 22}]}"#).unwrap();
    /// let pt = PowerThermal::from_legacy(Some(&p), Some(&t));
    /// assert_eq!(pt.consumed_watts, Some(180.0));
    /// assert_eq!(pt.fans[0].percent, Some(40.0));
    /// assert_eq!(pt.temperatures[0].celsius, Some(22.0));
    /// ```
    pub fn from_legacy(power: Option<&Power>, thermal: Option<&Thermal>) -> Self {
        let health = |s: &Option<Status>| s.as_ref().and_then(|s| s.health.clone());
        let first = power.and_then(|p| p.power_control.first());
        Self {
            source: PowerThermalSource::Legacy,
            consumed_watts: first.and_then(|c| c.power_consumed_watts),
            capacity_watts: first.and_then(|c| c.power_capacity_watts),
            power_supplies: power
                .map(|p| {
                    p.power_supplies
                        .iter()
                        .map(|s| PsuReading {
                            name: s
                                .name
                                .clone()
                                .or_else(|| s.member_id.clone())
                                .unwrap_or_default(),
                            capacity_watts: s.power_capacity_watts,
                            output_watts: s.last_power_output_watts,
                            input_volts: s.line_input_voltage,
                            health: health(&s.status),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            temperatures: thermal
                .map(|t| {
                    t.temperatures
                        .iter()
                        .map(|s| TemperatureReading {
                            name: s
                                .name
                                .clone()
                                .or_else(|| s.member_id.clone())
                                .unwrap_or_default(),
                            celsius: s.reading_celsius,
                            upper_critical: s.upper_threshold_critical,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            fans: thermal
                .map(|t| {
                    t.fans
                        .iter()
                        .map(|f| {
                            let pct = f
                                .reading_units
                                .as_deref()
                                .is_some_and(|u| u.eq_ignore_ascii_case("percent"));
                            FanReading {
                                name: f
                                    .name
                                    .clone()
                                    .or_else(|| f.member_id.clone())
                                    .unwrap_or_default(),
                                percent: if pct { f.reading } else { None },
                                rpm: if pct { None } else { f.reading },
                                health: health(&f.status),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// One threshold of a [`Sensor`] (`Thresholds.UpperCritical`, ...).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SensorThreshold {
    /// `Reading`: the threshold value, in the sensor's units.
    pub reading: Option<f64>,
    /// `Activation` (`Increasing`, `Decreasing`, `Either`, `Disabled`).
    pub activation: Option<String>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(SensorThreshold {
        "Reading" => reading as lenient,
        "Activation" => activation,
});

/// `Sensor.Thresholds`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SensorThresholds {
    /// `UpperCaution` (IPMI's upper non-critical).
    pub upper_caution: Option<SensorThreshold>,
    /// `UpperCritical`.
    pub upper_critical: Option<SensorThreshold>,
    /// `UpperFatal` (IPMI's upper non-recoverable).
    pub upper_fatal: Option<SensorThreshold>,
    /// `LowerCaution`.
    pub lower_caution: Option<SensorThreshold>,
    /// `LowerCritical`.
    pub lower_critical: Option<SensorThreshold>,
    /// `LowerFatal`.
    pub lower_fatal: Option<SensorThreshold>,
    /// Everything else (`UpperCautionUser`, ...).
    pub extra: Map<String, Value>,
}
model_deserialize!(SensorThresholds {
        "UpperCaution" => upper_caution,
        "UpperCritical" => upper_critical,
        "UpperFatal" => upper_fatal,
        "LowerCaution" => lower_caution,
        "LowerCritical" => lower_critical,
        "LowerFatal" => lower_fatal,
});

/// `Sensor` (`Chassis/X/Sensors/Y`): one reading with its type, units and thresholds.
/// [`crate::Client::sensors`] lists a chassis' sensors.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Sensor {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Reading` (lenient: a number, a numeric string, or `None`).
    pub reading: Option<f64>,
    /// `ReadingType` (`Temperature`, `Voltage`, `Rotational`, `Power`, ...).
    pub reading_type: Option<String>,
    /// `ReadingUnits` (UCUM: `Cel`, `V`, `RPM`, `W`, ...).
    pub reading_units: Option<String>,
    /// `PhysicalContext` (`CPU`, `Intake`, ...).
    pub physical_context: Option<String>,
    /// `Thresholds`.
    pub thresholds: Option<SensorThresholds>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Oem`, raw.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Sensor, odata {
        "Id" => id,
        "Name" => name,
        "Reading" => reading as lenient,
        "ReadingType" => reading_type,
        "ReadingUnits" => reading_units,
        "PhysicalContext" => physical_context,
        "Thresholds" => thresholds,
        "Status" => status,
        "Oem" => oem,
});

resource!(
    Sensor,
    PowerSubsystem,
    PowerSupply,
    PowerSupplyMetrics,
    ThermalSubsystem,
    Fan,
    ThermalMetrics,
    EnvironmentMetrics,
    Power,
    Thermal
);
