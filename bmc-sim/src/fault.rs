//! Faults injected into a BMC face at run time.

use std::time::Duration;

use crate::Error;

/// What goes wrong with a BMC. The default is nothing. Latency and hang apply to both faces;
/// loss and session slots to IPMI; `http5xx` and `reset` to Redfish.
///
/// Parsed from a comma-separated spec, as the `bmc-sim` example takes it: `latency=50ms`,
/// `loss=0.2` (each datagram, each way), `hang`, `sessions=2` (IPMI session slots),
/// `http5xx=0.1` (503 with Retry-After) and `reset=0.1` (the connection is closed without an
/// answer), probabilities per request:
///
/// ```
/// use std::time::Duration;
/// let f: bmc_sim::Faults = "latency=50ms,loss=0.2,sessions=2".parse().unwrap();
/// assert_eq!(f.latency, Duration::from_millis(50));
/// assert_eq!(f.loss, 0.2);
/// assert_eq!(f.max_sessions, Some(2));
/// let g: bmc_sim::Faults = "http5xx=0.5,reset=0.1,hang".parse().unwrap();
/// assert!(g.hang);
/// assert_eq!(g.http_resets, 0.1);
/// assert!("loss=2".parse::<bmc_sim::Faults>().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// Added before every answer.
    pub latency: Duration,
    /// Probability (0..=1) that a datagram is lost, in each direction.
    pub loss: f64,
    /// The BMC receives but never answers (a hung BMC).
    pub hang: bool,
    /// Session slots (BMCs have 4 to 64; a full BMC refuses new sessions).
    pub max_sessions: Option<usize>,
    /// Probability (0..=1) that a Redfish request is answered 503 Service Unavailable.
    pub http_errors: f64,
    /// Probability (0..=1) that a Redfish request's connection is closed without an answer.
    pub http_resets: f64,
}

impl std::str::FromStr for Faults {
    type Err = Error;
    fn from_str(spec: &str) -> Result<Self, Error> {
        let mut f = Faults::default();
        f.apply(spec)?;
        Ok(f)
    }
}

impl Faults {
    /// Apply the faults of `spec` (the comma-separated form) on top of these.
    pub fn apply(&mut self, spec: &str) -> Result<(), Error> {
        let f = self;
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |reason| Error::FaultSpec {
                spec: part.to_string(),
                reason,
            };
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            match k {
                "latency" => {
                    f.latency = parse_duration(v)
                        .ok_or_else(|| bad("expected a duration like 50ms or 2s"))?
                }
                "loss" => f.loss = probability(v).ok_or_else(|| bad(PROBABILITY))?,
                "hang" => f.hang = true,
                "sessions" => {
                    f.max_sessions = Some(
                        v.parse()
                            .map_err(|_| bad("expected a number of sessions"))?,
                    )
                }
                "http5xx" => f.http_errors = probability(v).ok_or_else(|| bad(PROBABILITY))?,
                "reset" => f.http_resets = probability(v).ok_or_else(|| bad(PROBABILITY))?,
                _ => {
                    return Err(bad(
                        "unknown fault; expected latency=, loss=, hang, sessions=, http5xx= or reset=",
                    ));
                }
            }
        }
        Ok(())
    }
}

const PROBABILITY: &str = "expected a probability within 0..=1";

fn probability(v: &str) -> Option<f64> {
    v.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p))
}

/// Faults for a fleet: a spec for every BMC, and specs for some BMCs by index, as the
/// `bmc-sim` example's `--faults` takes it: groups separated by `;`, each `SPEC` (every BMC)
/// or `I:SPEC` / `I-J:SPEC` (BMCs I to J), applied in order on top of each other.
///
/// ```
/// use std::time::Duration;
/// let plan: bmc_sim::FaultPlan = "latency=20ms;3:hang;10-19:http5xx=0.5,reset=0.1".parse().unwrap();
/// assert_eq!(plan.for_bmc(0).latency, Duration::from_millis(20));
/// assert!(plan.for_bmc(3).hang && !plan.for_bmc(4).hang);
/// assert_eq!(plan.for_bmc(12).http_errors, 0.5);
/// assert_eq!(plan.for_bmc(12).latency, Duration::from_millis(20));
/// assert!("5-2:hang".parse::<bmc_sim::FaultPlan>().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    groups: Vec<(Option<(u32, u32)>, String)>,
}

impl std::str::FromStr for FaultPlan {
    type Err = Error;
    fn from_str(spec: &str) -> Result<Self, Error> {
        let mut groups = Vec::new();
        for group in spec.split(';').map(str::trim).filter(|g| !g.is_empty()) {
            let bad = |reason| Error::FaultSpec {
                spec: group.to_string(),
                reason,
            };
            let (range, faults) = match group.split_once(':') {
                Some((r, f)) => {
                    let (a, b) = r.split_once('-').unwrap_or((r, r));
                    let a: u32 = a.trim().parse().map_err(|_| bad("expected a BMC index"))?;
                    let b: u32 = b.trim().parse().map_err(|_| bad("expected a BMC index"))?;
                    if b < a {
                        return Err(bad("the range ends before it starts"));
                    }
                    (Some((a, b)), f)
                }
                None => (None, group),
            };
            // Checked now, applied per BMC later.
            Faults::default().apply(faults)?;
            groups.push((range, faults.to_string()));
        }
        Ok(FaultPlan { groups })
    }
}

impl FaultPlan {
    /// The faults of BMC `index`.
    pub fn for_bmc(&self, index: u32) -> Faults {
        let mut f = Faults::default();
        for (range, spec) in &self.groups {
            if range.is_none_or(|(a, b)| (a..=b).contains(&index)) {
                // Each group parsed when the plan was.
                let _ = f.apply(spec);
            }
        }
        f
    }
}

/// `250ms`, `2s`, `1.5s`.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse::<u64>().ok().map(Duration::from_millis);
    }
    let secs = s.strip_suffix('s').unwrap_or(s).parse::<f64>().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// A small deterministic generator for loss decisions (xorshift64*).
#[derive(Debug, Clone)]
pub(crate) struct Dice(u64);

impl Dice {
    pub(crate) fn new(seed: u64) -> Self {
        Dice(seed.max(1))
    }

    /// True with probability `p`.
    pub(crate) fn roll(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (x as f64 / (1u64 << 53) as f64) < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text is a plan or a typed error, never a panic; a plan's faults are in range.
        #[test]
        fn any_spec_parses_or_errs(spec in "[a-z0-9=.,;:\\- ]{0,40}", i in 0u32..40) {
            if let Ok(plan) = spec.parse::<FaultPlan>() {
                let f = plan.for_bmc(i);
                prop_assert!((0.0..=1.0).contains(&f.loss));
                prop_assert!((0.0..=1.0).contains(&f.http_errors));
                prop_assert!((0.0..=1.0).contains(&f.http_resets));
            }
        }
    }
}
