//! Passive health checking: failures counted from real traffic rather than probes.
//!
//! - [`NginxPassive`]: nginx upstream `max_fails` / `fail_timeout` (defaults 1 and
//!   10 s): `max_fails` failed attempts within `fail_timeout` make the server
//!   unavailable for `fail_timeout` (nginx upstream module docs). `max_fails = 0`
//!   disables the accounting.
//! - [`OutlierDetector`]: Envoy outlier detection (`outlier_detection.proto`): after
//!   `consecutive_5xx` (5) consecutive 5xx answers a host is ejected for
//!   `base_ejection_time` (30 s) × the number of times it has been ejected; ejected
//!   hosts come back at the first `interval` (10 s) sweep after their time is up; at most
//!   `max_ejection_percent` (10%) of the hosts are ejected at once, but always at least
//!   one may be.
//!
//! Calling contract (sans-IO): report every answer with `handle_result` /
//! `handle_response` and `now`; for the detector, call
//! [`OutlierDetector::handle_timeout`] when `now` reaches
//! [`OutlierDetector::poll_timeout`].

use crate::time::{SimDuration, SimTime};

/// nginx's passive checks for a list of servers.
#[derive(Clone, Debug)]
pub struct NginxPassive {
    max_fails: u32,
    fail_timeout: SimDuration,
    /// Per server: failures counted in the current window, the window's start, and
    /// when the server is usable again.
    servers: Vec<(u32, SimTime, Option<SimTime>)>,
}

impl NginxPassive {
    /// nginx's defaults: `max_fails=1 fail_timeout=10s`.
    pub fn nginx_defaults(servers: usize) -> Self {
        Self::new(servers, 1, SimDuration::from_secs(10))
    }

    pub fn new(servers: usize, max_fails: u32, fail_timeout: SimDuration) -> Self {
        NginxPassive {
            max_fails,
            fail_timeout,
            servers: vec![(0, SimTime::ZERO, None); servers],
        }
    }

    pub fn is_available(&self, now: SimTime, server: usize) -> bool {
        self.servers[server].2.is_none_or(|until| now >= until)
    }

    /// An attempt on `server` succeeded (`ok`) or failed at `now`.
    pub fn handle_result(&mut self, now: SimTime, server: usize, ok: bool) {
        if self.max_fails == 0 {
            return;
        }
        let fail_timeout = self.fail_timeout;
        let max_fails = self.max_fails;
        let (fails, window_start, down_until) = &mut self.servers[server];
        if ok {
            *fails = 0;
            return;
        }
        if *fails == 0 || now - *window_start >= fail_timeout {
            *fails = 0;
            *window_start = now;
        }
        *fails += 1;
        if *fails >= max_fails {
            *down_until = Some(now + fail_timeout);
            *fails = 0;
        }
    }
}

/// Envoy's outlier detection settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutlierConfig {
    pub consecutive_5xx: u32,
    pub interval: SimDuration,
    pub base_ejection_time: SimDuration,
    pub max_ejection_percent: f64,
}

impl OutlierConfig {
    /// Envoy's defaults.
    pub const ENVOY: OutlierConfig = OutlierConfig {
        consecutive_5xx: 5,
        interval: SimDuration::from_secs(10),
        base_ejection_time: SimDuration::from_secs(30),
        max_ejection_percent: 10.0,
    };
}

#[derive(Clone, Copy, Debug, Default)]
struct Host {
    consecutive: u32,
    ejected_until: Option<SimTime>,
    times_ejected: u32,
}

/// Envoy-style outlier detection over a list of hosts.
#[derive(Clone, Debug)]
pub struct OutlierDetector {
    config: OutlierConfig,
    hosts: Vec<Host>,
    next_sweep: SimTime,
}

impl OutlierDetector {
    pub fn new(config: OutlierConfig, hosts: usize, now: SimTime) -> Self {
        OutlierDetector {
            config,
            hosts: vec![Host::default(); hosts],
            next_sweep: now + config.interval,
        }
    }

    pub fn is_ejected(&self, host: usize) -> bool {
        self.hosts[host].ejected_until.is_some()
    }

    pub fn ejected(&self) -> usize {
        self.hosts.iter().filter(|h| h.ejected_until.is_some()).count()
    }

    fn may_eject(&self) -> bool {
        let allowed = (self.hosts.len() as f64 * self.config.max_ejection_percent / 100.0).floor() as usize;
        self.ejected() < allowed.max(1)
    }

    /// `host` answered at `now`; `is_5xx` if it was a server error (or no answer).
    pub fn handle_response(&mut self, now: SimTime, host: usize, is_5xx: bool) {
        if !is_5xx {
            self.hosts[host].consecutive = 0;
            return;
        }
        self.hosts[host].consecutive += 1;
        let tripped = self.hosts[host].consecutive >= self.config.consecutive_5xx;
        if tripped && self.hosts[host].ejected_until.is_none() && self.may_eject() {
            let h = &mut self.hosts[host];
            h.times_ejected += 1;
            h.consecutive = 0;
            h.ejected_until = Some(now + self.config.base_ejection_time * u64::from(h.times_ejected));
        }
    }

    pub fn poll_timeout(&self) -> SimTime {
        self.next_sweep
    }

    /// The interval sweep: hosts whose ejection time is up come back.
    pub fn handle_timeout(&mut self, now: SimTime) {
        while self.next_sweep <= now {
            let sweep = self.next_sweep;
            for host in &mut self.hosts {
                if host.ejected_until.is_some_and(|until| until <= sweep) {
                    host.ejected_until = None;
                }
            }
            self.next_sweep = sweep + self.config.interval;
        }
    }
}

/// How an attempt on an upstream ended, as a proxy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A 5xx answer.
    ServerError,
    /// No answer in time, or the connection failed.
    Failure,
}

/// A proxy's passive checking, by flavour.
#[derive(Clone, Debug)]
pub enum Passive {
    /// nginx counts what `proxy_next_upstream` treats as unsuccessful, by default
    /// `error timeout`: failures, not 5xx answers.
    Nginx(NginxPassive),
    /// Envoy counts 5xx answers, and local failures (timeouts, resets) as 5xx.
    Envoy(OutlierDetector),
}

impl Passive {
    pub fn handle(&mut self, now: SimTime, host: usize, outcome: Outcome) {
        match self {
            Passive::Nginx(p) => p.handle_result(now, host, outcome != Outcome::Failure),
            Passive::Envoy(d) => d.handle_response(now, host, outcome != Outcome::Ok),
        }
    }

    /// Whether `host` may take requests at `now`.
    pub fn available(&self, now: SimTime, host: usize) -> bool {
        match self {
            Passive::Nginx(p) => p.is_available(now, host),
            Passive::Envoy(d) => !d.is_ejected(host),
        }
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        match self {
            Passive::Nginx(_) => None,
            Passive::Envoy(d) => Some(d.poll_timeout()),
        }
    }

    pub fn handle_timeout(&mut self, now: SimTime) {
        if let Passive::Envoy(d) = self {
            d.handle_timeout(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: u64) -> SimTime {
        SimTime::from_secs(s)
    }

    #[test]
    fn nginx_defaults_take_a_server_out_for_ten_seconds_after_one_failure() {
        let mut p = NginxPassive::nginx_defaults(2);
        p.handle_result(t(5), 0, false);
        assert!(!p.is_available(t(14), 0));
        assert!(p.is_available(t(15), 0));
        assert!(p.is_available(t(5), 1));
    }

    #[test]
    fn nginx_counts_failures_within_the_window_only() {
        let mut p = NginxPassive::new(1, 3, SimDuration::from_secs(10));
        p.handle_result(t(0), 0, false);
        p.handle_result(t(5), 0, false);
        // The window started at 0 s: at 11 s the count starts over.
        p.handle_result(t(11), 0, false);
        assert!(p.is_available(t(12), 0));
        p.handle_result(t(12), 0, false);
        p.handle_result(t(13), 0, false);
        assert!(!p.is_available(t(13), 0));
        assert!(p.is_available(t(23), 0));
    }

    #[test]
    fn envoy_ejects_after_five_5xx_for_growing_times() {
        let mut d = OutlierDetector::new(OutlierConfig::ENVOY, 10, SimTime::ZERO);
        for i in 0..4 {
            d.handle_response(t(1 + i), 3, true);
        }
        assert!(!d.is_ejected(3));
        d.handle_response(t(5), 3, true);
        assert!(d.is_ejected(3));
        // Ejected until 35 s; swept back at the 40 s interval tick.
        d.handle_timeout(t(30));
        assert!(d.is_ejected(3));
        d.handle_timeout(t(40));
        assert!(!d.is_ejected(3));
        // Second ejection: 2 × 30 s, from 45 s to 105 s, back at the 110 s sweep.
        for i in 0..5 {
            d.handle_response(t(41 + i), 3, true);
        }
        d.handle_timeout(t(100));
        assert!(d.is_ejected(3));
        d.handle_timeout(t(110));
        assert!(!d.is_ejected(3));
    }

    #[test]
    fn a_success_resets_the_count_and_the_cap_holds() {
        let mut d = OutlierDetector::new(OutlierConfig::ENVOY, 10, SimTime::ZERO);
        for _ in 0..4 {
            d.handle_response(t(1), 0, true);
        }
        d.handle_response(t(1), 0, false);
        d.handle_response(t(1), 0, true);
        assert!(!d.is_ejected(0));
        // 10% of 10 hosts: only one ejected at a time.
        for host in [1, 2] {
            for _ in 0..5 {
                d.handle_response(t(2), host, true);
            }
        }
        assert!(d.is_ejected(1) && !d.is_ejected(2));
    }

    #[test]
    fn nginx_ignores_5xx_answers_and_envoy_counts_timeouts() {
        let mut nginx = Passive::Nginx(NginxPassive::nginx_defaults(1));
        nginx.handle(t(1), 0, Outcome::ServerError);
        assert!(nginx.available(t(1), 0));
        nginx.handle(t(2), 0, Outcome::Failure);
        assert!(!nginx.available(t(2), 0));
        let mut envoy = Passive::Envoy(OutlierDetector::new(OutlierConfig::ENVOY, 2, SimTime::ZERO));
        for i in 0..5 {
            envoy.handle(t(i), 1, Outcome::Failure);
        }
        assert!(!envoy.available(t(5), 1));
        assert_eq!(envoy.poll_timeout(), Some(t(10)));
    }

    proptest! {
        /// Whatever the traffic, no more than max(1, 10% of hosts) are ejected at once.
        #[test]
        fn ejection_cap_holds(n in 1usize..30, answers in proptest::collection::vec((0usize..30, any::<bool>()), 1..400)) {
            let mut d = OutlierDetector::new(OutlierConfig::ENVOY, n, SimTime::ZERO);
            let cap = ((n as f64 * 0.10).floor() as usize).max(1);
            for (i, (host, bad)) in answers.into_iter().enumerate() {
                let now = SimTime::from_millis(i as u64 * 250);
                d.handle_timeout(now);
                d.handle_response(now, host % n, bad);
                prop_assert!(d.ejected() <= cap);
            }
        }

        /// Liveness: whatever came before, a host that answers `consecutive_5xx`
        /// failures in a row while nothing is ejected is ejected.
        #[test]
        fn five_failures_in_a_row_eject_a_host(n in 1usize..30, host in 0usize..30, before in proptest::collection::vec((0usize..30, any::<bool>()), 0..100)) {
            let mut d = OutlierDetector::new(OutlierConfig::ENVOY, n, SimTime::ZERO);
            let host = host % n;
            let mut now = SimTime::ZERO;
            for (i, (other, bad)) in before.into_iter().enumerate() {
                now = SimTime::from_millis(i as u64 * 250);
                d.handle_timeout(now);
                d.handle_response(now, other % n, bad);
            }
            // Long enough for every ejection (30 s, doubled per repeat, at most 100 of them) to end.
            now += SimDuration::from_secs(30 * 200);
            d.handle_timeout(now);
            prop_assume!(d.ejected() == 0);
            d.handle_response(now, host, false);
            for _ in 0..OutlierConfig::ENVOY.consecutive_5xx {
                prop_assert!(!d.is_ejected(host));
                d.handle_response(now, host, true);
            }
            prop_assert!(d.is_ejected(host));
        }
    }
}
