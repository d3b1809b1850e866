//! Faults injected into a BMC face at run time.

use std::time::Duration;

use crate::Error;

/// What goes wrong with a BMC. The default is nothing. Latency and hang apply to both faces;
/// loss and session slots to IPMI; `http5xx` to Redfish.
///
/// Parsed from a comma-separated spec, as the `bmc-sim` example takes it:
///
/// ```
/// use std::time::Duration;
/// let f: bmc_sim::Faults = "latency=50ms,loss=0.2,sessions=2".parse().unwrap();
/// assert_eq!(f.latency, Duration::from_millis(50));
/// assert_eq!(f.loss, 0.2);
/// assert_eq!(f.max_sessions, Some(2));
/// let g: bmc_sim::Faults = "http5xx=0.5,hang".parse().unwrap();
/// assert!(g.hang);
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
}

impl std::str::FromStr for Faults {
    type Err = Error;
    fn from_str(spec: &str) -> Result<Self, Error> {
        let mut f = Faults::default();
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
                "loss" => {
                    f.loss = v.parse().map_err(|_| bad("expected a probability"))?;
                    if !(0.0..=1.0).contains(&f.loss) {
                        return Err(bad("the probability must be within 0..=1"));
                    }
                }
                "hang" => f.hang = true,
                "sessions" => {
                    f.max_sessions = Some(
                        v.parse()
                            .map_err(|_| bad("expected a number of sessions"))?,
                    )
                }
                "http5xx" => {
                    f.http_errors = v.parse().map_err(|_| bad("expected a probability"))?;
                    if !(0.0..=1.0).contains(&f.http_errors) {
                        return Err(bad("the probability must be within 0..=1"));
                    }
                }
                _ => {
                    return Err(bad(
                        "unknown fault; expected latency=, loss=, hang, sessions= or http5xx=",
                    ));
                }
            }
        }
        Ok(f)
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
