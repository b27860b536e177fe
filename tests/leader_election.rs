//! The manager pair's leader election (`control::lease`, client-go's rules) against the
//! distributions derived in docs/model.md: the takeover time after the leader dies,
//! and the split brain when the leader's clock runs slow while it is cut off.

use failcast::control::lease::{Identity, LeaseClient, LeaseConfig, LeaseObject};
use failcast::time::{SimDuration, SimTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const K8S: LeaseConfig = LeaseConfig::KUBERNETES;

/// One member of a pair: its client, its clock's rate (local = true × num / den), when
/// it crashes and when the store stops answering it.
struct Member {
    client: LeaseClient,
    rate: (u64, u64),
    crash_at: SimTime,
    cut_at: SimTime,
    rng: ChaCha8Rng,
    /// Leadership intervals in true time.
    led: Vec<(SimTime, SimTime)>,
    since: Option<SimTime>,
}

impl Member {
    fn new(client: u32, first_try: SimTime, seed: u64) -> Self {
        let identity = Identity { client, incarnation: 0 };
        Member {
            client: LeaseClient::new(K8S, identity, first_try),
            rate: (1, 1),
            crash_at: SimTime::MAX,
            cut_at: SimTime::MAX,
            rng: ChaCha8Rng::seed_from_u64(seed),
            led: Vec::new(),
            since: None,
        }
    }

    fn local(&self, real: SimTime) -> SimTime {
        SimTime::from_nanos(real.as_nanos() * self.rate.0 / self.rate.1)
    }

    fn real(&self, local: SimTime) -> SimTime {
        SimTime::from_nanos(local.as_nanos() * self.rate.1 / self.rate.0)
    }

    fn collect_changes(&mut self) {
        while let Some((leader, at)) = self.client.poll_change() {
            let at = self.real(at);
            match (leader, self.since.take()) {
                (true, None) => self.since = Some(at),
                (false, Some(from)) => self.led.push((from, at)),
                other => panic!("inconsistent change {other:?}"),
            }
        }
    }
}

/// Runs the pair against one Lease object with answers that arrive at once, until
/// `until` (true time). A crashed member stops where it is; its leadership ends then.
fn run(members: &mut [Member], until: SimTime) {
    let mut object = LeaseObject::default();
    loop {
        let (index, at) = (members.iter().enumerate())
            .filter(|(_, m)| m.real(m.client.poll_timeout()) < m.crash_at)
            .map(|(i, m)| (i, m.real(m.client.poll_timeout())))
            .min_by_key(|&(i, at)| (at, i))
            .unwrap_or((0, SimTime::MAX));
        if at > until {
            break;
        }
        let m = &mut members[index];
        let local = m.local(at);
        m.client.handle_timeout(local, &mut m.rng);
        while let Some((id, call)) = m.client.poll_call() {
            if at < m.cut_at {
                let answer = object.handle_call(m.client.identity(), call);
                m.client.handle_answer(local, id, answer, &mut m.rng);
            }
        }
        m.collect_changes();
    }
    for m in members.iter_mut() {
        if let Some(from) = m.since.take() {
            m.led.push((from, m.crash_at.min(until)));
        }
    }
}

/// E[J] and E[J²] of a candidate's wait between tries, J = 2 s × (1 + 1.2 U).
fn jitter_moments() -> (f64, f64) {
    let (lo, hi) = (2.0, 4.4);
    let mean = (lo + hi) / 2.0;
    (mean, (hi - lo) * (hi - lo) / 12.0 + mean * mean)
}

/// E[S_N]: where a candidate's tries, starting at the one that saw the record change
/// last, first reach a whole lease (15 s) after it. Exact up to the 1 ms grid: the
/// renewal density u = δ₀ + u ∗ f of the tries, then each try before 15 s whose next
/// wait crosses 15 s.
fn expected_first_try_past_the_lease() -> f64 {
    let step_ms = 1usize;
    let (lo, hi, lease) = (2_000 / step_ms, 4_400 / step_ms, 15_000 / step_ms);
    let f = 1.0 / (hi - lo) as f64;
    let mut u = vec![0.0f64; lease];
    u[0] = 1.0;
    for t in lo..lease {
        let from = t.saturating_sub(hi - 1);
        let to = t - lo;
        u[t] = (from..=to).map(|s| u[s]).sum::<f64>() * f;
    }
    let mut mean = 0.0;
    for (t, &density) in u.iter().enumerate() {
        if density == 0.0 {
            continue;
        }
        for k in lo..hi {
            if t + k >= lease {
                mean += density * f * (t + k) as f64;
            }
        }
    }
    mean * step_ms as f64 / 1_000.0
}

fn secs(t: SimTime) -> f64 {
    t.as_secs_f64()
}

#[test]
fn takeover_after_the_leaders_crash_follows_the_derived_distribution() {
    // manager-1 wins at 0 and renews every 2 s exactly (answers are instant); it
    // crashes at a uniform instant of one renewal period A after its last renewal.
    // manager-2 saw the record change at its first try after that renewal (W after
    // it, the tries' forward recurrence time, mean E[J²] / 2E[J]) and wins at its
    // first try a whole lease later (S_N after that): T = W + S_N − A, in (13, 23.8) s.
    let (mean_j, mean_j2) = jitter_moments();
    let expected = mean_j2 / (2.0 * mean_j) + expected_first_try_past_the_lease() - 1.0;
    let samples = 4_000;
    let mut takeovers = Vec::with_capacity(samples);
    let mut picker = ChaCha8Rng::seed_from_u64(20261208);
    for seed in 0..samples as u64 {
        let crash = SimTime::from_secs(100) + SimDuration::from_nanos(picker.gen_range(0..2_000_000_000));
        let mut pair = [
            Member::new(0, SimTime::ZERO, 2 * seed),
            Member::new(1, SimTime::from_secs(1), 2 * seed + 1),
        ];
        pair[0].crash_at = crash;
        run(&mut pair, SimTime::from_secs(160));
        assert_eq!(pair[0].led.len(), 1, "seed {seed}: manager-1 leads once");
        assert_eq!(pair[1].led.len(), 1, "seed {seed}: manager-2 takes over once");
        let takeover = secs(pair[1].led[0].0) - secs(crash);
        assert!(takeover > 13.0 && takeover < 23.8, "seed {seed}: takeover {takeover} s");
        takeovers.push(takeover);
    }
    let n = takeovers.len() as f64;
    let mean = takeovers.iter().sum::<f64>() / n;
    let sd = (takeovers.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    // Five standard errors (≈0.1 s); the derivation assumes manager-2's tries are
    // stationary by 100 s, some 30 tries in.
    assert!(
        (mean - expected).abs() < 5.0 * sd / n.sqrt(),
        "mean {mean:.3} s, derived {expected:.3} s"
    );
    assert!(sd > 1.0, "a spread, not a few fixed values: sd {sd:.3} s");
    let below_15 = takeovers.iter().filter(|&&t| t < 15.0).count();
    let above_20 = takeovers.iter().filter(|&&t| t > 20.0).count();
    assert!(
        below_15 > 0 && above_20 > 0,
        "{below_15} under 15 s, {above_20} over 20 s"
    );
}

#[test]
fn with_agreeing_clocks_a_cut_off_leader_stops_before_the_other_wins() {
    for seed in 0..500u64 {
        let mut pair = [
            Member::new(0, SimTime::ZERO, 2 * seed),
            Member::new(1, SimTime::from_secs(1), 2 * seed + 1),
        ];
        pair[0].cut_at = SimTime::from_secs(100) + SimDuration::from_millis(seed * 7 % 2_000);
        run(&mut pair, SimTime::from_secs(200));
        let (stopped, won) = (pair[0].led[0].1, pair[1].led[0].0);
        // The last renewal reached the store at most 2 s before the cut; manager-1
        // stops 12 s after it, manager-2 wins at least 15 s after it.
        assert!(stopped <= won, "seed {seed}: stopped {stopped}, other won {won}");
        let last_renewal = SimTime::from_nanos(pair[0].cut_at.as_nanos() / 2_000_000_000 * 2_000_000_000);
        let last_renewal = if last_renewal == pair[0].cut_at {
            last_renewal - SimDuration::from_secs(2)
        } else {
            last_renewal
        };
        assert_eq!(stopped, last_renewal + SimDuration::from_secs(12), "seed {seed}");
    }
}

#[test]
fn a_half_speed_leader_cut_off_overlaps_the_new_leader_as_derived() {
    // manager-1's clock runs at half speed: it renews every 4 s of true time and, cut
    // off, stops (2 + 10) / 0.5 = 24 s after its last renewal s. manager-2 wins at
    // s + W + S_N: the split brain is 24 − W − S_N, in (0.2, 9) s, never zero.
    let (mean_j, mean_j2) = jitter_moments();
    let expected = 24.0 - mean_j2 / (2.0 * mean_j) - expected_first_try_past_the_lease();
    let samples = 4_000;
    let mut splits = Vec::with_capacity(samples);
    let mut picker = ChaCha8Rng::seed_from_u64(8);
    for seed in 0..samples as u64 {
        let mut pair = [
            Member::new(0, SimTime::ZERO, 2 * seed),
            Member::new(1, SimTime::from_secs(1), 2 * seed + 1),
        ];
        pair[0].rate = (1, 2);
        pair[0].cut_at = SimTime::from_secs(100) + SimDuration::from_nanos(picker.gen_range(0..4_000_000_000));
        run(&mut pair, SimTime::from_secs(200));
        let (stopped, won) = (pair[0].led[0].1, pair[1].led[0].0);
        let split = secs(stopped) - secs(won);
        assert!(split > 0.2 && split < 9.0, "seed {seed}: split brain {split} s");
        splits.push(split);
    }
    let n = splits.len() as f64;
    let mean = splits.iter().sum::<f64>() / n;
    let sd = (splits.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!(
        (mean - expected).abs() < 5.0 * sd / n.sqrt(),
        "mean {mean:.3} s, derived {expected:.3} s"
    );
}
