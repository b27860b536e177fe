//! The cohort as the kernel drives it: inputs routed to the viewers they are for.

use super::*;

impl Behavior for Cohort {
    type Msg = Msg;

    /// Where the viewer an input is for sits in this cohort: a table of all viewers,
    /// too large to stay cached in a large audience.
    fn prefetch_index(&self, input: &Input<Msg>) {
        if let Some(entry) = viewer_of(input).and_then(|viewer| self.config.slot_of_viewer.get(viewer as usize)) {
            prefetch(entry);
        }
    }

    /// The viewer an input is for: its state is what a large audience waits on.
    fn prefetch(&self, input: &Input<Msg>) {
        let Some(viewer) = viewer_of(input) else {
            return;
        };
        let Some(&member) = self.config.slot_of_viewer.get(viewer as usize) else {
            return;
        };
        let Some(slot) = self.slot_of_member(member as usize) else {
            return;
        };
        if let (Some(state), Some(id)) = (self.viewers.get(slot), self.config.viewers.get(member as usize)) {
            prefetch_all(state);
            prefetch(id);
        }
        // Segments that began since the viewer's last event are booked on its next
        // one, mostly its reload timer: timers touch the record.
        if let (Input::Timer(_), Some(record)) = (input, self.records.get(slot)) {
            prefetch(&record.segments_played);
            prefetch(&record.frames_played);
            prefetch(&record.latency_total);
            prefetch(&record.latency_max);
        }
    }

    /// One arm per input a cohort takes (joins, departures, timers, replies, DNS
    /// answers): a match over message kinds, longer than 150 lines, kept whole so that
    /// how each reaches the viewer it is for reads side by side.
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        match input {
            Input::Start => {
                if let Some(squads) = &mut self.squads {
                    for (&viewer, join) in squads.ids.iter().zip(std::mem::take(&mut squads.joins)) {
                        ctx.timer_at(join, Msg::ViewerJoin { viewer });
                    }
                }
                let joins: Vec<SimTime> = match &self.config.joins {
                    Joins::Uniform { .. } if self.squads.is_some() => Vec::new(),
                    &Joins::Uniform { at, over } => (self.config.viewers.iter())
                        .map(|_| uniform_join(at, over, self.config.join_step, &mut self.rng))
                        .collect(),
                    Joins::Planned(plan) if self.squads.is_none() => plan.iter().map(|&(join, _)| join).collect(),
                    Joins::Planned(_) => Vec::new(),
                };
                for member in squad_order(&self.config, &joins) {
                    let viewer = self.config.viewers[member];
                    ctx.timer_at(joins[member], Msg::ViewerJoin { viewer });
                }
                if let Joins::Planned(plan) = &self.config.joins {
                    for (&viewer, &(_, leave)) in self.config.viewers.iter().zip(plan) {
                        if let Some(leave) = leave {
                            ctx.timer_at(leave, Msg::ViewerLeave { viewer });
                        }
                    }
                }
            }
            Input::Timer(Msg::ViewerLeave { viewer }) => {
                let slot = self.slot_of(viewer);
                self.leave(slot, viewer, now);
                // Behind a load balancer the device holds the viewer's connection.
                if let EdgeChoice::Balanced { vip } = self.config.edge_choice {
                    let closed = Msg::ConnectionClosed {
                        client: ctx.me(),
                        viewer,
                    };
                    ctx.send(Dest::Vip(vip), closed, CONTROL_MESSAGE_BYTES);
                }
            }
            Input::Timer(Msg::ViewerJoin { viewer }) => {
                let slot = self.slot_of(viewer);
                self.records[slot].joined_at = Some(now);
                self.viewers[slot].player.handle_join(now);
                self.set_state(slot, now, ViewerState::Starting);
                self.drive(slot, ctx);
            }
            Input::Timer(Msg::ViewerTimer { viewer, party }) => {
                for slot in self.slots_for(viewer, party.as_ref()) {
                    if self.viewers[slot].timer.fire(now) && !self.viewers[slot].left {
                        let may_draw = self.viewers[slot].player.timed_out_by(now);
                        for slot in self.run_drawing(slot, may_draw, |player, rng| player.handle_timeout(now, rng)) {
                            self.drive(slot, ctx);
                        }
                    }
                }
            }
            Input::Msg {
                msg:
                    Msg::PlaylistReply {
                        edge,
                        viewer,
                        party,
                        req,
                        playlist,
                    },
                ..
            } => {
                for slot in self.slots_for(viewer, party.as_ref()) {
                    if self.viewers[slot].left {
                        continue;
                    }
                    self.answered_by(slot, edge, now);
                    self.viewers[slot].player.handle_playlist(now, req, &playlist);
                    self.drive(slot, ctx);
                }
            }
            Input::Msg {
                msg:
                    Msg::SegmentReply {
                        edge,
                        viewer,
                        party,
                        req,
                        index,
                        frames,
                    },
                ..
            } => {
                let entry = self.segment_entry(index, frames);
                let loaded_at = now + self.transfer_time(u64::from(frames));
                for slot in self.slots_for(viewer, party.as_ref()) {
                    // A late answer to a request the player gave up must not displace
                    // the download it is waiting for.
                    if self.viewers[slot].left || self.viewers[slot].player.segment_request() != Some(req) {
                        continue;
                    }
                    self.answered_by(slot, edge, now);
                    self.viewers[slot]
                        .player
                        .handle_segment_arriving(now, req, entry, loaded_at);
                    self.drive(slot, ctx);
                }
            }
            Input::Msg {
                msg:
                    Msg::FetchFailed {
                        viewer,
                        party,
                        req,
                        status,
                    },
                ..
            } => {
                let error = if (400..500).contains(&status) {
                    FetchError::NotFound
                } else {
                    FetchError::ServerError
                };
                for slot in self.slots_for(viewer, party.as_ref()) {
                    if self.viewers[slot].left {
                        continue;
                    }
                    for slot in self.run_drawing(slot, true, |player, rng| player.handle_error(now, req, error, rng)) {
                        self.drive(slot, ctx);
                    }
                }
            }
            Input::Msg {
                msg:
                    Msg::DnsAnswer {
                        id,
                        target,
                        ttl_ns,
                        party,
                    },
                ..
            } => self.resolved(id, target, SimDuration::from_nanos(ttl_ns), party, ctx),
            Input::Msg {
                from,
                msg: Msg::Scrape { round },
            } => {
                for slot in 0..self.viewers.len() {
                    if !self.viewers[slot].left {
                        self.catch_up(slot, now);
                    }
                }
                let in_state = |state| {
                    (0..self.viewers.len())
                        .filter(|&slot| self.viewers[slot].state == Some(state))
                        .map(|slot| self.members(slot).len())
                        .sum::<usize>()
                };
                let stalled = in_state(ViewerState::Stalled);
                let playing = in_state(ViewerState::Playing);
                let reply = Msg::ScrapeReply {
                    round,
                    a: stalled as u64,
                    b: (stalled + playing) as u64,
                };
                ctx.send(from, reply, super::CONTROL_MESSAGE_BYTES);
            }
            Input::Finish => self.finish(now),
            _ => {}
        }
    }
}

/// The viewer an input to a cohort is for, if it is for one.
pub(super) fn viewer_of(input: &Input<Msg>) -> Option<u32> {
    match input {
        Input::Timer(Msg::ViewerTimer { viewer, .. } | Msg::ViewerJoin { viewer } | Msg::ViewerLeave { viewer })
        | Input::Msg {
            msg: Msg::PlaylistReply { viewer, .. } | Msg::SegmentReply { viewer, .. } | Msg::FetchFailed { viewer, .. },
            ..
        } => Some(*viewer),
        _ => None,
    }
}
