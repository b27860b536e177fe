//! Stream placement: which ingest servers carry each stream (a primary and, with
//! redundancy, a standby on another server), and how placements change when a server
//! fails, comes back or is overloaded. A stream manager embeds this.
//!
//! Policy: a new role goes to the healthy server with the fewest roles that still has
//! room (`capacity` roles per server), for a primary the one with the fewest primaries
//! among those, then the lowest index; a stream's primary and
//! standby never share a server. When a server fails, each stream it was primary for
//! is promoted to its standby, and every role it held is re-placed; nothing else
//! moves (placements are sticky, so a failure disturbs only the streams it touched).
//! An overloaded server sheds standby roles first, primaries only if that is not
//! enough, since moving a primary is a failover viewers see. A recovered server takes
//! new roles but takes nothing back.
//!
//! Calling contract (sans-IO): [`Placement::add_stream`], then report server health
//! and overload with [`Placement::handle_health`] / [`Placement::handle_overload`];
//! carry out every [`Move`] from [`Placement::poll_move`] in order.
//!
//! failcast's world uses the initial placement: each stream's primary and standby,
//! and its remaining servers from the least loaded, are the order its active-passive
//! policy fails over in (`plan::place_streams`).

use std::collections::VecDeque;

/// A stream's servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// `None` when no healthy server had room.
    pub primary: Option<usize>,
    pub standby: Option<usize>,
}

/// A change for the manager to carry out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// The standby of `stream` on `server` becomes its primary (a failover).
    Promote { stream: usize, server: usize },
    /// `server` takes the primary role of `stream` (it had none, or lost it).
    Primary { stream: usize, server: usize },
    /// `server` takes the standby role of `stream`.
    Standby { stream: usize, server: usize },
    /// `server` no longer carries `stream`.
    Release { stream: usize, server: usize },
}

/// Placement of streams onto a pool of servers.
#[derive(Clone, Debug)]
pub struct Placement {
    capacity: u32,
    /// Per server: roles it may carry now (its capacity, less while overloaded).
    limits: Vec<u32>,
    redundant: bool,
    healthy: Vec<bool>,
    roles: Vec<u32>,
    streams: Vec<Assignment>,
    moves: VecDeque<Move>,
}

impl Placement {
    /// `servers` servers with room for `capacity` roles each; with `redundant`, every
    /// stream also gets a standby.
    pub fn new(servers: usize, capacity: u32, redundant: bool) -> Self {
        Placement {
            capacity,
            limits: vec![capacity; servers],
            redundant,
            healthy: vec![true; servers],
            roles: vec![0; servers],
            streams: Vec::new(),
            moves: VecDeque::new(),
        }
    }

    pub fn assignment(&self, stream: usize) -> Assignment {
        self.streams[stream]
    }

    /// Roles each server carries.
    pub fn roles(&self, server: usize) -> u32 {
        self.roles[server]
    }

    /// The healthy server with room and the fewest roles, other than `except`. For a
    /// primary, ties go to the server with the fewest primaries: a server's failure
    /// then interrupts as few streams as possible.
    fn pick(&self, except: Option<usize>, primary: bool) -> Option<usize> {
        let primaries = |s: usize| {
            if primary {
                self.streams.iter().filter(|a| a.primary == Some(s)).count()
            } else {
                0
            }
        };
        (0..self.healthy.len())
            .filter(|&s| self.healthy[s] && self.roles[s] < self.limits[s] && Some(s) != except)
            .min_by_key(|&s| (self.roles[s], primaries(s), s))
    }

    fn take(&mut self, server: usize) {
        self.roles[server] += 1;
    }

    fn release(&mut self, stream: usize, server: usize) {
        self.roles[server] -= 1;
        self.moves.push_back(Move::Release { stream, server });
    }

    /// Places a new stream; returns its id.
    pub fn add_stream(&mut self) -> usize {
        let stream = self.streams.len();
        self.streams.push(Assignment {
            primary: None,
            standby: None,
        });
        self.fill(stream);
        stream
    }

    /// Gives `stream` whatever roles it lacks, if any server has room.
    fn fill(&mut self, stream: usize) {
        let mut a = self.streams[stream];
        if a.primary.is_none() {
            if let Some(standby) = a.standby.take() {
                a.primary = Some(standby);
                self.moves.push_back(Move::Promote {
                    stream,
                    server: standby,
                });
            } else if let Some(server) = self.pick(None, true) {
                self.take(server);
                a.primary = Some(server);
                self.moves.push_back(Move::Primary { stream, server });
            }
        }
        if self.redundant && a.standby.is_none() && a.primary.is_some() {
            if let Some(server) = self.pick(a.primary, false) {
                self.take(server);
                a.standby = Some(server);
                self.moves.push_back(Move::Standby { stream, server });
            }
        }
        self.streams[stream] = a;
    }

    /// Server `server` is up or down. A failure re-places what it carried; a recovery
    /// gives roles to streams that lacked them.
    pub fn handle_health(&mut self, server: usize, up: bool) {
        if self.healthy[server] == up {
            return;
        }
        self.healthy[server] = up;
        if !up {
            for stream in 0..self.streams.len() {
                let a = &mut self.streams[stream];
                if a.primary == Some(server) {
                    a.primary = None;
                    self.release(stream, server);
                } else if a.standby == Some(server) {
                    a.standby = None;
                    self.release(stream, server);
                }
            }
        }
        for stream in 0..self.streams.len() {
            self.fill(stream);
        }
    }

    /// Server `server` is overloaded: until [`Placement::handle_relief`] it may carry
    /// at most `keep` roles, and sheds the rest (standbys first) to servers with room.
    pub fn handle_overload(&mut self, server: usize, keep: u32) {
        self.limits[server] = keep.min(self.capacity);
        self.shed(server, keep);
        // A raised limit makes room: streams lacking a role may take it.
        for stream in 0..self.streams.len() {
            self.fill(stream);
        }
    }

    fn shed(&mut self, server: usize, keep: u32) {
        for standby_pass in [true, false] {
            for stream in 0..self.streams.len() {
                if self.roles[server] <= keep {
                    return;
                }
                let a = self.streams[stream];
                if standby_pass && a.standby == Some(server) {
                    // Only if another server can take it: shedding must not lose it.
                    if let Some(to) = self.pick_excluding(&[server, a.primary.unwrap_or(server)]) {
                        self.release(stream, server);
                        self.take(to);
                        self.streams[stream].standby = Some(to);
                        self.moves.push_back(Move::Standby { stream, server: to });
                    }
                } else if !standby_pass && a.primary == Some(server) {
                    if let Some(to) = self.pick_excluding(&[server, a.standby.unwrap_or(server)]) {
                        self.release(stream, server);
                        self.take(to);
                        self.streams[stream].primary = Some(to);
                        self.moves.push_back(Move::Primary { stream, server: to });
                    }
                }
            }
        }
    }

    /// Server `server` is no longer overloaded: it takes roles up to its capacity again
    /// (for streams that lack one; nothing is moved back).
    pub fn handle_relief(&mut self, server: usize) {
        self.limits[server] = self.capacity;
        for stream in 0..self.streams.len() {
            self.fill(stream);
        }
    }

    fn pick_excluding(&self, except: &[usize]) -> Option<usize> {
        (0..self.healthy.len())
            .filter(|&s| self.healthy[s] && self.roles[s] < self.limits[s] && !except.contains(&s))
            .min_by_key(|&s| (self.roles[s], s))
    }

    pub fn poll_move(&mut self) -> Option<Move> {
        self.moves.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(p: &mut Placement) -> Vec<Move> {
        std::iter::from_fn(|| p.poll_move()).collect()
    }

    #[test]
    fn spreads_primaries_and_standbys_over_the_least_loaded_servers() {
        let mut p = Placement::new(3, 10, true);
        for _ in 0..3 {
            p.add_stream();
        }
        let placed: Vec<(Option<usize>, Option<usize>)> = (0..3)
            .map(|s| (p.assignment(s).primary, p.assignment(s).standby))
            .collect();
        assert_eq!(placed, vec![(Some(0), Some(1)), (Some(2), Some(0)), (Some(1), Some(2))]);
        assert_eq!((p.roles(0), p.roles(1), p.roles(2)), (2, 2, 2));
    }

    #[test]
    fn a_failure_promotes_standbys_and_moves_nothing_else() {
        let mut p = Placement::new(3, 10, true);
        for _ in 0..3 {
            p.add_stream();
        }
        drain(&mut p);
        p.handle_health(0, false);
        let moves = drain(&mut p);
        assert_eq!(
            moves,
            vec![
                Move::Release { stream: 0, server: 0 },
                Move::Release { stream: 1, server: 0 },
                Move::Promote { stream: 0, server: 1 },
                Move::Standby { stream: 0, server: 2 },
                Move::Standby { stream: 1, server: 1 },
            ]
        );
        // Stream 2 (on 1 and 2) was not touched.
        assert_eq!(
            p.assignment(2),
            Assignment {
                primary: Some(1),
                standby: Some(2)
            }
        );
        // Recovery takes nothing back.
        p.handle_health(0, true);
        assert!(drain(&mut p).is_empty());
    }

    #[test]
    fn an_overloaded_server_sheds_standbys_before_primaries() {
        let mut p = Placement::new(3, 10, true);
        for _ in 0..3 {
            p.add_stream();
        }
        drain(&mut p);
        // Server 0 carries stream 0's primary and stream 1's standby.
        p.handle_overload(0, 1);
        assert_eq!(
            drain(&mut p),
            vec![
                Move::Release { stream: 1, server: 0 },
                Move::Standby { stream: 1, server: 1 }
            ]
        );
        assert_eq!(p.assignment(0).primary, Some(0));
    }

    #[test]
    fn without_room_a_stream_waits_for_a_server() {
        let mut p = Placement::new(2, 1, true);
        p.add_stream();
        let second = p.add_stream();
        assert_eq!(
            p.assignment(second),
            Assignment {
                primary: None,
                standby: None
            }
        );
        p.handle_health(0, false);
        // Stream 0 is promoted onto server 1 (its standby); nothing has room for more.
        assert_eq!(
            p.assignment(0),
            Assignment {
                primary: Some(1),
                standby: None
            }
        );
        assert_eq!(p.assignment(second).primary, None);
    }

    proptest! {
        /// Whatever fails, recovers or overloads: no server exceeds its capacity or
        /// holds two roles of one stream; a stream's roles are on healthy servers; a
        /// stream lacks a role only when no healthy server has room for it; and the
        /// role counts always match the assignments.
        #[test]
        fn placements_stay_valid(servers in 2usize..7, capacity in 1u32..6, streams in 1usize..12,
                                 events in proptest::collection::vec((0usize..7, 0u8..4, 0u32..4), 0..40)) {
            let mut p = Placement::new(servers, capacity, true);
            for _ in 0..streams {
                p.add_stream();
            }
            for (server, kind, keep) in events {
                let server = server % servers;
                match kind {
                    0 => p.handle_health(server, false),
                    1 => p.handle_health(server, true),
                    2 => p.handle_overload(server, keep),
                    _ => p.handle_relief(server),
                }
                drain(&mut p);
                let mut counted = vec![0u32; servers];
                for s in 0..streams {
                    let a = p.assignment(s);
                    for server in [a.primary, a.standby].into_iter().flatten() {
                        prop_assert!(p.healthy[server]);
                        counted[server] += 1;
                    }
                    prop_assert!(a.primary.is_none() || a.primary != a.standby);
                    prop_assert!(a.standby.is_none() || a.primary.is_some());
                    let room = (0..servers).any(|x| p.healthy[x] && p.roles[x] < p.limits[x] && Some(x) != a.primary);
                    prop_assert!(a.primary.is_some() || !room);
                    prop_assert!(a.standby.is_some() || !room);
                }
                for (server, &count) in counted.iter().enumerate() {
                    prop_assert_eq!(count, p.roles(server));
                    prop_assert!(p.roles(server) <= capacity);
                }
            }
        }
    }
}
