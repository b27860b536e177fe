//! VRRP (RFC 5798) for an active-standby pair of devices sharing a floating address:
//! the master advertises every `advert_interval`; a backup that hears nothing for
//! Master_Down_Interval = 3 × advert_interval + Skew_Time, with
//! Skew_Time = (256 − priority) × advert_interval / 256, becomes master (keepalived's
//! defaults: 1 s adverts, so a backup of priority 100 takes over after ≈3.6 s;
//! docs/model.md: "backup takes over after 3 missed + skew (≈3–4 s)").
//!
//! Calling contract (sans-IO): call [`Vrrp::handle_advert`] for every advertisement
//! heard, [`Vrrp::handle_timeout`] when `now` reaches [`Vrrp::poll_timeout`]; send an
//! advertisement whenever [`Vrrp::poll_advert`] returns true; read role changes from
//! [`Vrrp::poll_role`].

use std::collections::VecDeque;

use crate::time::{SimDuration, SimTime};

/// A router's role for one virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Master,
    Backup,
}

/// One router of a VRRP group.
#[derive(Clone, Debug)]
pub struct Vrrp {
    priority: u8,
    advert_interval: SimDuration,
    role: Role,
    /// Backup: when the master is declared down. Master: when to advertise next.
    deadline: SimTime,
    adverts: u32,
    roles: VecDeque<(Role, SimTime)>,
}

impl Vrrp {
    /// keepalived's default advertisement interval.
    pub const DEFAULT_ADVERT_INTERVAL: SimDuration = SimDuration::from_secs(1);

    /// A router that starts as `role` at `now`. Priority 255 is the address owner.
    pub fn new(priority: u8, advert_interval: SimDuration, role: Role, now: SimTime) -> Self {
        let mut router = Vrrp {
            priority,
            advert_interval,
            role,
            deadline: now,
            adverts: 0,
            roles: VecDeque::new(),
        };
        router.deadline = match role {
            Role::Master => now,
            Role::Backup => now + router.master_down_interval(),
        };
        router
    }

    /// Skew_Time = (256 − priority) × advert_interval / 256.
    pub fn skew_time(&self) -> SimDuration {
        SimDuration::from_nanos((256 - u64::from(self.priority)) * self.advert_interval.as_nanos() / 256)
    }

    /// Master_Down_Interval = 3 × advert_interval + Skew_Time.
    pub fn master_down_interval(&self) -> SimDuration {
        self.advert_interval * 3 + self.skew_time()
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// An advertisement from a router of `priority` arrived. Preemption is on (the RFC
    /// default): a backup ignores adverts of lower priority than its own, so it takes
    /// over from a lower-priority master; priority 0 (the master is leaving) makes it
    /// take over after Skew_Time.
    pub fn handle_advert(&mut self, now: SimTime, priority: u8) {
        match self.role {
            Role::Backup if priority == 0 => self.deadline = now + self.skew_time(),
            Role::Backup if priority >= self.priority => self.deadline = now + self.master_down_interval(),
            Role::Backup => {}
            // A higher-priority master takes over (preemption); equal priority keeps us.
            Role::Master if priority > self.priority => {
                self.role = Role::Backup;
                self.deadline = now + self.master_down_interval();
                self.roles.push_back((Role::Backup, now));
            }
            Role::Master => {}
        }
    }

    pub fn poll_timeout(&self) -> SimTime {
        self.deadline
    }

    pub fn handle_timeout(&mut self, now: SimTime) {
        if now < self.deadline {
            return;
        }
        if self.role == Role::Backup {
            self.role = Role::Master;
            self.roles.push_back((Role::Master, now));
        }
        self.adverts += 1;
        self.deadline = now + self.advert_interval;
    }

    /// True once for every advertisement the master should send now.
    pub fn poll_advert(&mut self) -> bool {
        if self.adverts > 0 {
            self.adverts -= 1;
            true
        } else {
            false
        }
    }

    pub fn poll_role(&mut self) -> Option<(Role, SimTime)> {
        self.roles.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs a master (priority 200) and a backup (priority 100) that hears the master's
    /// adverts after `latency`, with the master dying at `dies`.
    fn takeover(latency: SimDuration, dies: SimTime) -> Option<SimTime> {
        let interval = Vrrp::DEFAULT_ADVERT_INTERVAL;
        let mut master = Vrrp::new(200, interval, Role::Master, SimTime::ZERO);
        let mut backup = Vrrp::new(100, interval, Role::Backup, SimTime::ZERO);
        let mut in_flight: Vec<SimTime> = Vec::new();
        let mut now = SimTime::ZERO;
        while now < SimTime::from_secs(120) {
            let next = [
                Some(backup.poll_timeout()),
                (now < dies).then(|| master.poll_timeout()),
                in_flight.first().copied(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
            now = next;
            if in_flight.first() == Some(&now) {
                in_flight.remove(0);
                backup.handle_advert(now, 200);
            }
            if now < dies && master.poll_timeout() == now {
                master.handle_timeout(now);
                while master.poll_advert() {
                    in_flight.push(now + latency);
                }
            }
            if backup.poll_timeout() == now {
                backup.handle_timeout(now);
            }
            if let Some((Role::Master, at)) = backup.poll_role() {
                return Some(at);
            }
        }
        None
    }

    #[test]
    fn backup_takes_over_after_three_missed_adverts_plus_skew() {
        // Last advert at 10 s arrives at 10.001 s; the master dies just after.
        let at = takeover(SimDuration::from_millis(1), SimTime::from_millis(10_500)).unwrap();
        let backup = Vrrp::new(100, Vrrp::DEFAULT_ADVERT_INTERVAL, Role::Backup, SimTime::ZERO);
        // Skew for priority 100: 156/256 s = 609.375 ms.
        assert_eq!(backup.skew_time(), SimDuration::from_nanos(609_375_000));
        assert_eq!(
            at,
            SimTime::from_millis(10_001) + SimDuration::from_secs(3) + backup.skew_time()
        );
        // ≈3.6 s after the last advert: "about 3 s" (docs/model.md: ≈3–4 s).
        let takeover_s = (at - SimTime::from_millis(10_001)).as_secs_f64();
        assert!((3.0..4.0).contains(&takeover_s), "{takeover_s}");
    }

    #[test]
    fn a_live_master_is_never_replaced() {
        assert_eq!(takeover(SimDuration::from_millis(50), SimTime::from_secs(1_000)), None);
    }

    #[test]
    fn a_higher_priority_backup_preempts_a_lower_priority_master() {
        let interval = Vrrp::DEFAULT_ADVERT_INTERVAL;
        let mut backup = Vrrp::new(200, interval, Role::Backup, SimTime::ZERO);
        // Adverts from a priority-100 master are ignored: the backup takes over at its
        // first Master_Down_Interval.
        for s in 0..3 {
            backup.handle_advert(SimTime::from_secs(s), 100);
        }
        backup.handle_timeout(backup.poll_timeout());
        assert_eq!(backup.role(), Role::Master);
        let down = backup.master_down_interval();
        assert_eq!(backup.poll_role(), Some((Role::Master, SimTime::ZERO + down)));
        // A master leaving (priority 0) hands over after Skew_Time.
        let mut other = Vrrp::new(100, interval, Role::Backup, SimTime::ZERO);
        other.handle_advert(SimTime::from_secs(1), 0);
        assert_eq!(other.poll_timeout(), SimTime::from_secs(1) + other.skew_time());
    }

    #[test]
    fn higher_priority_master_preempts() {
        let mut low = Vrrp::new(100, Vrrp::DEFAULT_ADVERT_INTERVAL, Role::Master, SimTime::ZERO);
        low.handle_advert(SimTime::from_secs(1), 200);
        assert_eq!(low.role(), Role::Backup);
        assert_eq!(low.poll_role(), Some((Role::Backup, SimTime::from_secs(1))));
    }

    proptest! {
        /// Takeover always happens exactly Master_Down_Interval after the last advert heard.
        #[test]
        fn takeover_is_exact(latency_ms in 0u64..500, dies_ms in 1_000u64..60_000) {
            let at = takeover(SimDuration::from_millis(latency_ms), SimTime::from_millis(dies_ms)).unwrap();
            let backup = Vrrp::new(100, Vrrp::DEFAULT_ADVERT_INTERVAL, Role::Backup, SimTime::ZERO);
            // The master advertises at whole seconds up to its death.
            let last_sent_ms = (dies_ms - 1) / 1_000 * 1_000;
            let last_heard = SimTime::from_millis(last_sent_ms + latency_ms);
            prop_assert_eq!(at, last_heard + backup.master_down_interval());
        }
    }
}
