//! Virtual time: integer nanoseconds since the start of a run, shared by every layer.
//!
//! Model code never reads a wall clock; it is handed a [`SimTime`] by the kernel.
//! Integer nanoseconds keep arithmetic exact and platform-independent.

use std::cmp::Ordering;
use std::fmt;
use std::num::NonZeroU64;
use std::ops::{Add, AddAssign, Mul, Sub};

/// A point in virtual time, in nanoseconds since the run started (at most
/// [`SimTime::MAX`]; arithmetic saturates there).
///
/// Kept as the complement of the nanoseconds, which is never zero: an `Option<SimTime>`
/// is then as small as a `SimTime`, and a player holds several of them per viewer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SimTime(NonZeroU64);

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct SimDuration(u64);

pub const NANOS_PER_MS: u64 = 1_000_000;
pub const NANOS_PER_S: u64 = 1_000_000_000;

impl SimTime {
    pub const ZERO: SimTime = SimTime(NonZeroU64::MAX);
    /// The last instant, about 584 years in.
    pub const MAX: SimTime = SimTime(NonZeroU64::MIN);

    /// The instant `ns` nanoseconds in; [`SimTime::MAX`] if that lies beyond it.
    pub const fn from_nanos(ns: u64) -> Self {
        match NonZeroU64::new(!ns) {
            Some(complement) => SimTime(complement),
            None => SimTime::MAX,
        }
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimTime::from_nanos(ms * NANOS_PER_MS)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimTime::from_nanos(s * NANOS_PER_S)
    }
    pub const fn as_nanos(self) -> u64 {
        !self.0.get()
    }
    pub fn as_secs_f64(self) -> f64 {
        self.as_nanos() as f64 / NANOS_PER_S as f64
    }
    pub fn as_millis_f64(self) -> f64 {
        self.as_nanos() as f64 / NANOS_PER_MS as f64
    }
    /// Time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.as_nanos().saturating_sub(earlier.as_nanos()))
    }
}

impl Ord for SimTime {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_nanos().cmp(&other.as_nanos())
    }
}
impl PartialOrd for SimTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Default for SimTime {
    fn default() -> Self {
        SimTime::ZERO
    }
}
impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimTime").field(&self.as_nanos()).finish()
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * NANOS_PER_MS)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NANOS_PER_S)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_S as f64
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MS as f64
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// Multiplies by a real factor, rounding to the nearest nanosecond.
    pub fn mul_f64(self, factor: f64) -> SimDuration {
        SimDuration((self.0 as f64 * factor).round().max(0.0) as u64)
    }

    /// Parses a duration such as `500ms`, `2s`, `1.5s`, `10m`, `1h`, `1d`, `250us`,
    /// `40ns`, or a sum of such parts written together: `6m59s`, `1h30m`, `2s500ms`.
    pub fn parse(text: &str) -> Result<SimDuration, String> {
        let whole = text.trim();
        let mut rest = whole;
        let mut total = SimDuration::ZERO;
        loop {
            // A part is a number and the unit up to the next digit.
            let unit_at = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let next = rest[unit_at..]
                .find(|c: char| c.is_ascii_digit())
                .map_or(rest.len(), |i| unit_at + i);
            let part = Self::parse_part(&rest[..next], whole)?;
            total = SimDuration(
                total
                    .0
                    .checked_add(part.0)
                    .ok_or_else(|| format!("`{whole}` is too large"))?,
            );
            rest = &rest[next..];
            if rest.is_empty() {
                return Ok(total);
            }
        }
    }

    fn parse_part(part: &str, whole: &str) -> Result<SimDuration, String> {
        let text = part.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{whole}` has no unit; write e.g. `500ms`, `2s`, `10m`, `1h`"))?;
        let (number, unit) = text.split_at(split);
        if number.is_empty() {
            return Err(format!("`{whole}` does not start with a number; write e.g. `2s`"));
        }
        let scale: u64 = match unit.trim() {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => NANOS_PER_MS,
            "s" => NANOS_PER_S,
            "m" | "min" => 60 * NANOS_PER_S,
            "h" => 3_600 * NANOS_PER_S,
            "d" => 86_400 * NANOS_PER_S,
            other => {
                return Err(format!(
                    "`{whole}` has unknown unit `{other}`; use ns, us, ms, s, m, h or d"
                ))
            }
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() || frac.contains('.') {
            return Err(format!("`{whole}` is not a number followed by a unit"));
        }
        let whole_part: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| format!("`{whole}` is too large"))?
        };
        let mut total = whole_part
            .checked_mul(scale)
            .ok_or_else(|| format!("`{whole}` is too large"))?;
        // Fractions are exact in decimal: walk the digits instead of going through f64.
        let mut place = scale;
        for digit in frac.chars() {
            place /= 10;
            let d = digit.to_digit(10).expect("checked digits") as u64;
            if place == 0 && d != 0 {
                return Err(format!("`{whole}` is finer than one nanosecond"));
            }
            total += d * place;
        }
        Ok(SimDuration(total))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime::from_nanos(self.as_nanos().saturating_add(rhs.0))
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}
impl Sub<SimDuration> for SimTime {
    type Output = SimTime;
    /// The instant `rhs` earlier; never before time zero.
    fn sub(self, rhs: SimDuration) -> SimTime {
        SimTime::from_nanos(self.as_nanos().saturating_sub(rhs.0))
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        let (later, earlier) = (self.as_nanos(), rhs.as_nanos());
        SimDuration(later.checked_sub(earlier).expect("virtual time never goes backwards"))
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}
impl AddAssign for SimDuration {
    fn add_assign(&mut self, rhs: SimDuration) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}
impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(rhs.0))
    }
}
impl Mul<u64> for SimDuration {
    type Output = SimDuration;
    fn mul(self, rhs: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(rhs))
    }
}

impl fmt::Display for SimTime {
    /// `123.456789s`: seconds with microsecond precision, fixed width for log alignment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.as_nanos();
        let secs = ns / NANOS_PER_S;
        let micros = (ns % NANOS_PER_S) / 1_000;
        write!(f, "{secs:>6}.{micros:06}s")
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns > 0 && ns.is_multiple_of(3_600 * NANOS_PER_S) {
            write!(f, "{}h", ns / (3_600 * NANOS_PER_S))
        } else if ns > 0 && ns.is_multiple_of(60 * NANOS_PER_S) {
            write!(f, "{}m", ns / (60 * NANOS_PER_S))
        } else if ns.is_multiple_of(NANOS_PER_S) {
            write!(f, "{}s", ns / NANOS_PER_S)
        } else if ns.is_multiple_of(NANOS_PER_MS) {
            write!(f, "{}ms", ns / NANOS_PER_MS)
        } else if ns.is_multiple_of(1_000) {
            write!(f, "{}us", ns / 1_000)
        } else {
            write!(f, "{ns}ns")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_fractions_exactly() {
        assert_eq!(SimDuration::parse("500ms").unwrap(), SimDuration::from_millis(500));
        assert_eq!(SimDuration::parse("1.5s").unwrap(), SimDuration::from_millis(1500));
        assert_eq!(SimDuration::parse("30m").unwrap(), SimDuration::from_secs(1800));
        assert_eq!(SimDuration::parse("1d").unwrap(), SimDuration::from_secs(86_400));
        assert_eq!(SimDuration::parse("0.1ms").unwrap(), SimDuration::from_micros(100));
        assert_eq!(SimDuration::parse("7ns").unwrap(), SimDuration::from_nanos(7));
    }

    #[test]
    fn rejects_malformed_durations_with_a_hint() {
        assert!(SimDuration::parse("10").unwrap_err().contains("no unit"));
        assert!(SimDuration::parse("10 parsecs").unwrap_err().contains("unknown unit"));
        assert!(SimDuration::parse("ms").unwrap_err().contains("number"));
        assert!(SimDuration::parse("1.5ns").unwrap_err().contains("finer"));
    }

    #[test]
    fn parses_compound_durations() {
        assert_eq!(SimDuration::parse("6m59s").unwrap(), SimDuration::from_secs(419));
        assert_eq!(SimDuration::parse("1h30m").unwrap(), SimDuration::from_secs(5_400));
        assert_eq!(SimDuration::parse("2s500ms").unwrap(), SimDuration::from_millis(2_500));
        assert_eq!(SimDuration::parse("1m 30s").unwrap(), SimDuration::from_secs(90));
        assert_eq!(
            SimDuration::parse("6m59x").unwrap_err(),
            "`6m59x` has unknown unit `x`; use ns, us, ms, s, m, h or d"
        );
        assert!(SimDuration::parse("5m3").unwrap_err().contains("no unit"));
    }

    #[test]
    fn an_optional_instant_is_as_small_as_an_instant() {
        assert_eq!(std::mem::size_of::<Option<SimTime>>(), std::mem::size_of::<SimTime>());
        assert_eq!(std::mem::size_of::<SimTime>(), 8);
    }

    #[test]
    fn instants_keep_their_nanoseconds_order_and_saturate_at_the_last_one() {
        for ns in [0, 1, 999, NANOS_PER_S, u64::MAX - 2, u64::MAX - 1] {
            assert_eq!(SimTime::from_nanos(ns).as_nanos(), ns);
        }
        assert_eq!(SimTime::from_nanos(u64::MAX), SimTime::MAX);
        assert_eq!(SimTime::MAX.as_nanos(), u64::MAX - 1);
        assert_eq!(SimTime::ZERO.as_nanos(), 0);
        assert_eq!(SimTime::default(), SimTime::ZERO);
        assert!(SimTime::from_nanos(1) < SimTime::from_nanos(2));
        assert!(SimTime::ZERO < SimTime::MAX);
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(SimTime::from_nanos(5) - SimDuration::from_nanos(9), SimTime::ZERO);
        assert_eq!(SimTime::from_secs(3) - SimTime::from_secs(1), SimDuration::from_secs(2));
        assert_eq!(format!("{:?}", SimTime::from_millis(7)), "SimTime(7000000)");
    }

    #[test]
    fn displays_in_the_coarsest_exact_unit() {
        assert_eq!(SimDuration::from_millis(2000).to_string(), "2s");
        assert_eq!(SimDuration::from_secs(120).to_string(), "2m");
        assert_eq!(SimDuration::from_secs(7_200).to_string(), "2h");
        assert_eq!(SimDuration::from_secs(90).to_string(), "90s");
        assert_eq!(SimDuration::from_millis(500).to_string(), "500ms");
        assert_eq!(SimTime::from_millis(1500).to_string(), "     1.500000s");
    }
}
