//! The viewers of a run: when each joins (an arrival curve with ramps and flash crowds),
//! how long it stays, and which region it watches from, drawn from seed streams the
//! caller hands in, so the plan is the same in every process.

use rand::Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::settings::SessionDistribution;
use super::{Dur, Scenario};
use crate::time::{SimDuration, SimTime};

/// One point of the arrival curve: the relative arrival intensity at `at`. The
/// intensity is linear between points; two points at the same instant make a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalPoint {
    pub at: Dur,
    pub rate: f64,
}

/// How long a viewer stays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// `exponential` (default), `lognormal`, `fixed` or `uniform` (on [0, 2 × mean]).
    #[serde(default = "exponential")]
    pub distribution: String,
    pub mean: Dur,
    /// `lognormal`: the standard deviation of the log of the length (1.0: a long tail).
    #[serde(default = "one")]
    pub sigma: f64,
}

fn exponential() -> String {
    "exponential".into()
}

fn one() -> f64 {
    1.0
}

/// One viewer's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewerPlan {
    pub join: SimTime,
    /// When it leaves (`None`: it stays to the end).
    pub leave: Option<SimTime>,
    /// The region it watches from (an index into `[regions]` in name order), when
    /// `viewers.regions` is given.
    pub region: Option<usize>,
}

/// Whether the scenario plans its viewers here (an arrival curve, sessions or regions);
/// otherwise each cohort draws its viewers' joins itself, uniformly over
/// `[join_at, join_at + join_over)`.
pub fn is_planned(s: &Scenario) -> bool {
    let v = &s.viewers;
    !v.arrivals.is_empty() || v.session.is_some() || !v.regions.is_empty()
}

/// Every viewer's plan, in viewer order. `rng_for` gives the generator of a named seed
/// stream. The scenario was validated (the curve has area, the weights a positive sum).
pub fn plan_viewers<R: Rng>(s: &Scenario, mut rng_for: impl FnMut(&str) -> R) -> Vec<ViewerPlan> {
    let v = &s.viewers;
    let end = SimTime::ZERO + s.scenario.duration.0;
    let curve = Curve::new(&v.arrivals, s.scenario.duration.0);
    let mut arrivals = rng_for("viewers/arrivals");
    let mut sessions = rng_for("viewers/sessions");
    let mut regions = rng_for("viewers/regions");
    let region_names: Vec<&String> = s.regions.keys().collect();
    let weights: Vec<f64> = (region_names.iter())
        .map(|name| v.regions.get(*name).copied().unwrap_or(0.0))
        .collect();
    let total_weight: f64 = weights.iter().sum();
    (0..v.count)
        .map(|_| {
            let join = match &curve {
                Some(curve) => snap_join(SimTime::ZERO, curve.sample(arrivals.gen::<f64>()), v.join_step.0),
                None => {
                    let span = v.join_over.0.as_nanos();
                    let offset = if span == 0 { 0 } else { arrivals.gen_range(0..span) };
                    let start = SimTime::ZERO + v.join_at.0;
                    snap_join(start, start + SimDuration::from_nanos(offset), v.join_step.0)
                }
            };
            let leave = (v.session.as_ref())
                .map(|session| join + session_length(&mut sessions, session))
                .filter(|&leave| leave < end);
            let region = (total_weight > 0.0).then(|| {
                let mut pick = regions.gen::<f64>() * total_weight;
                let last = weights.iter().rposition(|&w| w > 0.0).unwrap_or(0);
                (weights.iter().position(|&w| {
                    pick -= w;
                    w > 0.0 && pick < 0.0
                }))
                .unwrap_or(last)
            });
            ViewerPlan { join, leave, region }
        })
        .collect()
}

/// A join at `at` moved down onto the grid of `step` that starts at `origin`
/// (`viewers.join_step`; a zero step leaves it where it is).
pub fn snap_join(origin: SimTime, at: SimTime, step: SimDuration) -> SimTime {
    if step.is_zero() {
        return at;
    }
    let offset = at.saturating_since(origin).as_nanos();
    origin + SimDuration::from_nanos(offset - offset % step.as_nanos())
}

/// A session length drawn from `session` (at least 1 ms).
fn session_length<R: Rng>(rng: &mut R, session: &Session) -> SimDuration {
    // Validation admits only the names of `SessionDistribution`; any other draws as
    // the default, exponential.
    let factor = match SessionDistribution::by_name(&session.distribution) {
        Some(SessionDistribution::Fixed) => 1.0,
        Some(SessionDistribution::Uniform) => 2.0 * rng.gen::<f64>(),
        Some(SessionDistribution::Lognormal) => {
            // Box–Muller; μ = −σ²/2 keeps the mean. libm is the same everywhere.
            let (u1, u2) = (1.0 - rng.gen::<f64>(), rng.gen::<f64>());
            let normal = libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2);
            let sigma = session.sigma;
            libm::exp(sigma * normal - sigma * sigma / 2.0)
        }
        Some(SessionDistribution::Exponential) | None => -libm::log(1.0 - rng.gen::<f64>()),
    };
    session.mean.0.mul_f64(factor).max(SimDuration::from_millis(1))
}

/// A piecewise-linear arrival intensity, sampled by inverting its integral.
struct Curve {
    /// Per piece: start (ns), end (ns), rate at start, rate at end, area before it.
    pieces: Vec<(f64, f64, f64, f64, f64)>,
    area: f64,
}

impl Curve {
    /// The curve through `points`, cut at `end` (points after it shape the rate up to
    /// it, so a scenario shortened with `--set scenario.duration` keeps its curve).
    fn new(points: &[ArrivalPoint], end: SimDuration) -> Option<Curve> {
        if points.len() < 2 {
            return None;
        }
        let end = end.as_nanos() as f64;
        let mut pieces = Vec::new();
        let mut area = 0.0;
        for pair in points.windows(2) {
            let (t0, t1) = (pair[0].at.0.as_nanos() as f64, pair[1].at.0.as_nanos() as f64);
            let (r0, mut r1) = (pair[0].rate, pair[1].rate);
            if t0 >= end {
                break;
            }
            let t1 = if t1 > end {
                r1 = r0 + (r1 - r0) * (end - t0) / (t1 - t0);
                end
            } else {
                t1
            };
            let piece_area = (r0 + r1) / 2.0 * (t1 - t0);
            if piece_area > 0.0 {
                pieces.push((t0, t1, r0, r1, area));
                area += piece_area;
            }
        }
        (area > 0.0).then_some(Curve { pieces, area })
    }

    /// The instant at which a share `u` ∈ [0, 1) of the arrivals has happened.
    fn sample(&self, u: f64) -> SimTime {
        let target = u * self.area;
        let index = self.pieces.partition_point(|piece| piece.4 <= target).saturating_sub(1);
        let (t0, t1, r0, r1, before) = self.pieces[index];
        let a = target - before;
        let width = t1 - t0;
        let slope = (r1 - r0) / width;
        // Solve r0·x + slope·x²/2 = a for x in [0, width].
        let x = if slope.abs() < 1e-30 {
            a / r0
        } else {
            let root = libm::sqrt((r0 * r0 + 2.0 * slope * a).max(0.0));
            2.0 * a / (r0 + root)
        };
        SimTime::from_nanos((t0 + x.clamp(0.0, width)) as u64)
    }
}

/// The total relative arrivals of a curve up to `end` (0 when it has none), for
/// validation.
pub fn curve_area(points: &[ArrivalPoint], end: SimDuration) -> f64 {
    Curve::new(points, end).map_or(0.0, |curve| curve.area)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn point(at_s: u64, rate: f64) -> ArrivalPoint {
        ArrivalPoint {
            at: Dur(SimDuration::from_secs(at_s)),
            rate,
        }
    }

    #[test]
    fn a_flat_curve_spreads_arrivals_evenly() {
        let curve = Curve::new(&[point(0, 1.0), point(100, 1.0)], SimDuration::from_secs(1_000)).unwrap();
        assert_eq!(curve.sample(0.0), SimTime::ZERO);
        assert_eq!(curve.sample(0.25), SimTime::from_secs(25));
        assert_eq!(curve.sample(0.5), SimTime::from_secs(50));
    }

    #[test]
    fn a_ramp_puts_arrivals_where_the_rate_is_high() {
        // Rate 0 → 1 over 100 s: the share by t is (t/100)², so half arrive by 70.7 s.
        let curve = Curve::new(&[point(0, 0.0), point(100, 1.0)], SimDuration::from_secs(100)).unwrap();
        let half = curve.sample(0.5).as_secs_f64();
        assert!((half - 100.0 / 2f64.sqrt()).abs() < 1e-6, "{half}");
        // A step up (flash crowd): rate 1 for 100 s, then 9 for 10 s (area 100 + 90).
        // Three quarters of the arrivals (142.5) are in by 100 s + 42.5 / 9.
        let crowd = Curve::new(
            &[point(0, 1.0), point(100, 1.0), point(100, 9.0), point(110, 9.0)],
            SimDuration::from_secs(110),
        )
        .unwrap();
        let at = crowd.sample(0.75).as_secs_f64();
        assert!((at - (100.0 + 42.5 / 9.0)).abs() < 1e-6, "{at}");
        assert_eq!(crowd.sample(0.5), SimTime::from_secs(95));
    }

    #[test]
    fn a_curve_is_cut_at_the_end_of_the_run() {
        // Rate 0 → 2 over 200 s, cut at 100 s (rate 1 there): arrivals as for 0 → 1.
        let cut = Curve::new(&[point(0, 0.0), point(200, 2.0)], SimDuration::from_secs(100)).unwrap();
        assert!((cut.area - 50e9).abs() < 1.0);
        let half = cut.sample(0.5).as_secs_f64();
        assert!((half - 100.0 / 2f64.sqrt()).abs() < 1e-6, "{half}");
        assert!(Curve::new(&[point(200, 1.0), point(300, 1.0)], SimDuration::from_secs(100)).is_none());
    }

    #[test]
    fn lognormal_sessions_keep_their_mean() {
        let session = Session {
            distribution: "lognormal".into(),
            mean: Dur(SimDuration::from_secs(1_200)),
            sigma: 1.0,
        };
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let n = 200_000;
        let total: f64 = (0..n).map(|_| session_length(&mut rng, &session).as_secs_f64()).sum();
        let mean = total / f64::from(n);
        assert!((mean - 1_200.0).abs() < 20.0, "{mean}");
    }
}
