//! Software load balancing of viewers over edge servers (`cdn.balancing = "software"`):
//! round-robin or least-connections over the healthy backends.

/// How the next backend is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    RoundRobin,
    LeastConnections,
}

impl Algorithm {
    pub fn by_name(name: &str) -> Option<Algorithm> {
        match name {
            "round-robin" => Some(Algorithm::RoundRobin),
            "least-connections" => Some(Algorithm::LeastConnections),
            _ => None,
        }
    }

    pub const NAMES: &'static [&'static str] = &["round-robin", "least-connections"];
}

/// A balancer over a fixed list of backends.
#[derive(Clone, Debug)]
pub struct Balancer {
    algorithm: Algorithm,
    healthy: Vec<bool>,
    connections: Vec<u64>,
    cursor: usize,
}

impl Balancer {
    pub fn new(algorithm: Algorithm, backends: usize) -> Self {
        Balancer {
            algorithm,
            healthy: vec![true; backends],
            connections: vec![0; backends],
            cursor: 0,
        }
    }

    pub fn set_healthy(&mut self, backend: usize, healthy: bool) {
        self.healthy[backend] = healthy;
    }

    pub fn connections(&self, backend: usize) -> u64 {
        self.connections[backend]
    }

    /// Picks a backend for a new connection, or `None` if none is healthy.
    pub fn pick(&mut self) -> Option<usize> {
        let n = self.healthy.len();
        let chosen = match self.algorithm {
            Algorithm::RoundRobin => {
                let found = (0..n).map(|i| (self.cursor + i) % n).find(|&b| self.healthy[b])?;
                self.cursor = (found + 1) % n;
                found
            }
            // Ties go to the lowest index, so the choice is deterministic.
            Algorithm::LeastConnections => (0..n)
                .filter(|&b| self.healthy[b])
                .min_by_key(|&b| (self.connections[b], b))?,
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

    #[test]
    fn round_robin_cycles_and_skips_unhealthy() {
        let mut b = Balancer::new(Algorithm::RoundRobin, 3);
        assert_eq!((0..4).map(|_| b.pick().unwrap()).collect::<Vec<_>>(), vec![0, 1, 2, 0]);
        b.set_healthy(2, false);
        assert_eq!((0..3).map(|_| b.pick().unwrap()).collect::<Vec<_>>(), vec![1, 0, 1]);
        for i in 0..3 {
            b.set_healthy(i, false);
        }
        assert_eq!(b.pick(), None);
    }

    #[test]
    fn least_connections_fills_the_emptiest() {
        let mut b = Balancer::new(Algorithm::LeastConnections, 3);
        b.pick();
        b.pick();
        b.release(0);
        assert_eq!(b.pick(), Some(0));
        assert_eq!(b.pick(), Some(2));
    }

    proptest! {
        /// Both algorithms spread n × k connections over n backends exactly evenly.
        #[test]
        fn spreads_evenly(n in 1usize..20, k in 1u64..20, lc in any::<bool>()) {
            let algorithm = if lc { Algorithm::LeastConnections } else { Algorithm::RoundRobin };
            let mut b = Balancer::new(algorithm, n);
            for _ in 0..(n as u64 * k) {
                b.pick();
            }
            for i in 0..n {
                prop_assert_eq!(b.connections(i), k);
            }
        }
    }
}
