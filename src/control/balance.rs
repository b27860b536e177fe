//! Software load balancing of clients over backends (`cdn.balancing = "software"`,
//! algorithm by `cdn.algorithm`):
//! - `round-robin`: next healthy backend in turn;
//! - `least-connections`: fewest open connections (ties to the lowest index);
//! - `weighted`: smooth weighted round-robin (nginx's algorithm): exact proportions,
//!   interleaved rather than in bursts;
//! - `consistent-hash`: a hash ring with virtual nodes and bounded loads (Mirrokni,
//!   Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads"; HAProxy's
//!   `hash-balance-factor`): a key goes to the first backend clockwise whose load is
//!   below `balance_factor` × the average;
//! - `power-of-two`: two distinct healthy backends drawn at random, the less loaded wins
//!   (Mitzenmacher, "The Power of Two Choices").
//!
//! Randomness (power-of-two) comes from the generator passed to [`Balancer::pick`].

use rand::Rng;

/// How the next backend is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Algorithm {
    RoundRobin,
    LeastConnections,
    Weighted,
    ConsistentHash { balance_factor: f64 },
    PowerOfTwo,
}

impl Algorithm {
    /// The algorithm named `name`; `balance_factor` applies to `consistent-hash`.
    pub fn by_name(name: &str, balance_factor: f64) -> Option<Algorithm> {
        match name {
            "round-robin" => Some(Algorithm::RoundRobin),
            "least-connections" => Some(Algorithm::LeastConnections),
            "weighted" => Some(Algorithm::Weighted),
            "consistent-hash" => Some(Algorithm::ConsistentHash { balance_factor }),
            "power-of-two" => Some(Algorithm::PowerOfTwo),
            _ => None,
        }
    }

    pub const NAMES: &'static [&'static str] = &[
        "round-robin",
        "least-connections",
        "weighted",
        "consistent-hash",
        "power-of-two",
    ];
}

/// Virtual nodes per backend on the hash ring.
const RING_REPLICAS: u64 = 100;

/// A fixed, well-mixed 64-bit hash (splitmix64's finaliser).
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A balancer over a fixed list of backends.
#[derive(Clone, Debug)]
pub struct Balancer {
    algorithm: Algorithm,
    healthy: Vec<bool>,
    connections: Vec<u64>,
    weights: Vec<u64>,
    current: Vec<i64>,
    cursor: usize,
    ring: Vec<(u64, usize)>,
}

impl Balancer {
    /// Equal weights.
    pub fn new(algorithm: Algorithm, backends: usize) -> Self {
        Self::weighted(algorithm, vec![1; backends])
    }

    /// With `weights` (used by `weighted`; a weight of 0 takes no traffic).
    pub fn weighted(algorithm: Algorithm, weights: Vec<u64>) -> Self {
        let n = weights.len();
        let mut ring: Vec<(u64, usize)> = (0..n)
            .flat_map(|b| (0..RING_REPLICAS).map(move |r| (mix64(mix64(b as u64) ^ r), b)))
            .collect();
        ring.sort_unstable();
        Balancer {
            algorithm,
            healthy: vec![true; n],
            connections: vec![0; n],
            weights,
            current: vec![0; n],
            cursor: 0,
            ring,
        }
    }

    pub fn set_healthy(&mut self, backend: usize, healthy: bool) {
        self.healthy[backend] = healthy;
    }

    pub fn connections(&self, backend: usize) -> u64 {
        self.connections[backend]
    }

    fn healthy_backends(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.healthy.len()).filter(|&b| self.healthy[b])
    }

    /// Picks a backend for a new connection from a client identified by `key` (used by
    /// consistent hashing), or `None` if no backend is healthy.
    pub fn pick(&mut self, key: u64, rng: &mut impl Rng) -> Option<usize> {
        let n = self.healthy.len();
        let chosen = match self.algorithm {
            Algorithm::RoundRobin => {
                let found = (0..n).map(|i| (self.cursor + i) % n).find(|&b| self.healthy[b])?;
                self.cursor = (found + 1) % n;
                found
            }
            Algorithm::LeastConnections => self.healthy_backends().min_by_key(|&b| (self.connections[b], b))?,
            Algorithm::Weighted => {
                let eligible: Vec<usize> = self.healthy_backends().filter(|&b| self.weights[b] > 0).collect();
                let total: i64 = eligible.iter().map(|&b| self.weights[b] as i64).sum();
                for &b in &eligible {
                    self.current[b] += self.weights[b] as i64;
                }
                let best = eligible
                    .iter()
                    .copied()
                    .max_by_key(|&b| (self.current[b], std::cmp::Reverse(b)))?;
                self.current[best] -= total;
                best
            }
            Algorithm::ConsistentHash { balance_factor } => {
                let healthy = self.healthy_backends().count();
                if healthy == 0 {
                    return None;
                }
                let total: u64 = self.healthy_backends().map(|b| self.connections[b]).sum();
                let bound = ((total + 1) as f64 * balance_factor / healthy as f64).ceil().max(1.0) as u64;
                let hash = mix64(key);
                let start = self.ring.partition_point(|&(h, _)| h < hash);
                let len = self.ring.len();
                (0..len)
                    .map(|i| self.ring[(start + i) % len].1)
                    .find(|&b| self.healthy[b] && self.connections[b] < bound)
                    .or_else(|| self.healthy_backends().min_by_key(|&b| (self.connections[b], b)))?
            }
            Algorithm::PowerOfTwo => {
                let healthy: Vec<usize> = self.healthy_backends().collect();
                match healthy.len() {
                    0 => return None,
                    1 => healthy[0],
                    m => {
                        let first = rng.gen_range(0..m);
                        let second = (first + 1 + rng.gen_range(0..m - 1)) % m;
                        let (a, b) = (healthy[first], healthy[second]);
                        if (self.connections[b], b) < (self.connections[a], a) {
                            b
                        } else {
                            a
                        }
                    }
                }
            }
        };
        self.connections[chosen] += 1;
        Some(chosen)
    }

    /// A connection to `backend` closed.
    pub fn release(&mut self, backend: usize) {
        self.connections[backend] = self.connections[backend].saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    fn picks(b: &mut Balancer, count: u64) -> Vec<usize> {
        let mut r = rng();
        (0..count).map(|k| b.pick(k, &mut r).unwrap()).collect()
    }

    #[test]
    fn round_robin_cycles_and_skips_unhealthy() {
        let mut b = Balancer::new(Algorithm::RoundRobin, 3);
        assert_eq!(picks(&mut b, 4), vec![0, 1, 2, 0]);
        b.set_healthy(2, false);
        assert_eq!(picks(&mut b, 3), vec![1, 0, 1]);
        for i in 0..3 {
            b.set_healthy(i, false);
        }
        assert_eq!(b.pick(0, &mut rng()), None);
    }

    #[test]
    fn least_connections_fills_the_emptiest() {
        let mut b = Balancer::new(Algorithm::LeastConnections, 3);
        picks(&mut b, 2);
        b.release(0);
        assert_eq!(picks(&mut b, 2), vec![0, 2]);
    }

    #[test]
    fn smooth_weighted_round_robin_interleaves() {
        // nginx's example: weights 5, 1, 1 give a a b a c a a (not a a a a a b c).
        let mut b = Balancer::weighted(Algorithm::Weighted, vec![5, 1, 1]);
        assert_eq!(picks(&mut b, 7), vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn consistent_hash_is_sticky_and_moves_only_the_lost_backends_keys() {
        let unbounded = Algorithm::ConsistentHash {
            balance_factor: f64::INFINITY,
        };
        let mut before = Balancer::new(unbounded, 5);
        let mut after = Balancer::new(unbounded, 5);
        after.set_healthy(3, false);
        let mut r = rng();
        let mut moved = 0;
        for key in 0..2_000u64 {
            let (a, b) = (before.pick(key, &mut r).unwrap(), after.pick(key, &mut r).unwrap());
            if a != 3 {
                assert_eq!(a, b, "key {key} moved although its backend stayed");
            } else {
                moved += 1;
            }
        }
        // About a fifth of the keys lived on backend 3.
        assert!((250..550).contains(&moved), "{moved}");
    }

    proptest! {
        /// Both spread n × k connections over n backends exactly evenly.
        #[test]
        fn round_robin_and_least_connections_spread_evenly(n in 1usize..20, k in 1u64..20, lc in any::<bool>()) {
            let algorithm = if lc { Algorithm::LeastConnections } else { Algorithm::RoundRobin };
            let mut b = Balancer::new(algorithm, n);
            picks(&mut b, n as u64 * k);
            for i in 0..n {
                prop_assert_eq!(b.connections(i), k);
            }
        }

        /// Over whole cycles, each backend gets exactly its share of the weights.
        #[test]
        fn weighted_shares_are_exact(weights in proptest::collection::vec(0u64..6, 1..8), cycles in 1u64..5) {
            prop_assume!(weights.iter().sum::<u64>() > 0);
            let total: u64 = weights.iter().sum();
            let mut b = Balancer::weighted(Algorithm::Weighted, weights.clone());
            picks(&mut b, total * cycles);
            for (i, &w) in weights.iter().enumerate() {
                prop_assert_eq!(b.connections(i), w * cycles);
            }
        }

        /// With bounded loads no backend exceeds ceil(balance_factor × average).
        #[test]
        fn bounded_loads_hold(n in 1usize..12, clients in 1u64..400, factor in 1.0f64..2.0) {
            let mut b = Balancer::new(Algorithm::ConsistentHash { balance_factor: factor }, n);
            picks(&mut b, clients);
            let bound = (clients as f64 * factor / n as f64).ceil() as u64;
            for i in 0..n {
                prop_assert!(b.connections(i) <= bound.max(1), "backend {} has {} > {}", i, b.connections(i), bound);
            }
        }

        /// Two choices keep the spread within a few connections of even (the gap grows
        /// like ln ln n; one random choice would spread ~20–30 apart here).
        #[test]
        fn power_of_two_stays_close_to_even(n in 2usize..16, per in 10u64..100) {
            let mut b = Balancer::new(Algorithm::PowerOfTwo, n);
            picks(&mut b, n as u64 * per);
            let loads: Vec<u64> = (0..n).map(|i| b.connections(i)).collect();
            let (min, max) = (*loads.iter().min().unwrap(), *loads.iter().max().unwrap());
            prop_assert!(max - min <= 8, "{loads:?}");
        }
    }
}
