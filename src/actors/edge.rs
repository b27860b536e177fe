//! The edge actor: a CDN edge server that holds the segments the origin pushes to it
//! and answers viewers' playlist and segment requests over HTTP semantics (200, or 404
//! for what it does not hold, or 503 when its egress is at capacity:
//! `control::admission`; behind a hardware balancer, the requests of one instant in
//! viewer order). A crashed edge answers nothing, so players time out; a
//! restarted one has lost its cache and lists only what arrives after.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::control::admission::TokenBucket;
use crate::control::player::PlaylistEntry;
use crate::sim::{Behavior, Ctx, Input, NodeId};
use crate::time::{SimDuration, SimTime};

use smallvec::SmallVec;

use super::{part_of, Fill, Msg, Party, SegmentInfo, SharedRecorder, ViewerOrder, CONTROL_MESSAGE_BYTES};

#[derive(Clone, Copy, Debug)]
pub struct EdgeConfig {
    /// Segments listed in the live playlist.
    pub playlist_window: usize,
    pub fps: u32,
    pub frame_bytes: u64,
    /// Egress capacity (0: unlimited); segment requests beyond it get 503.
    pub capacity_bps: u64,
    /// This edge's index among the edges (for load records).
    pub index: usize,
    /// Serve the segment requests of one instant together, in viewer order, when the
    /// egress may run short: set behind a hardware load balancer, which hands an edge
    /// the members of several squads interleaved, so that who is served and who is
    /// refused never hangs on the order same-instant requests arrived in.
    pub serve_in_viewer_order: bool,
}

/// A segment request the edge holds, waiting for the rest of its instant.
struct Asked {
    client: NodeId,
    viewer: u32,
    party: Option<Arc<Party>>,
    req: u32,
    index: u64,
    frames: u32,
}

impl Asked {
    /// The viewers it asks for: the squad's members, or the viewer alone.
    fn members(&self) -> &[u32] {
        Party::members_of(&self.party, &self.viewer)
    }
}

/// What an edge holds of one stream.
struct Cached {
    /// Segments held, oldest first: the playlist window and as many again, since a
    /// segment must stay available for the playlist's duration after it leaves the
    /// playlist (RFC 8216 §6.2.2), so players a little behind can still fetch it.
    held: VecDeque<(PlaylistEntry, u32)>,
    /// The playlist as served, rebuilt once per new segment and shared by every answer.
    playlist: Arc<[PlaylistEntry]>,
}

impl Cached {
    fn empty() -> Self {
        Cached {
            held: VecDeque::new(),
            playlist: Arc::from(Vec::new()),
        }
    }
}

/// An edge behind a shield: who feeds it, and when it asks the origins directly.
#[derive(Clone, Debug)]
pub struct ShieldFeed {
    pub shield: NodeId,
    /// Every origin (a stream may be on any of them).
    pub origins: Vec<NodeId>,
    /// Its shield silent this long (no segment, no answer to a probe), the edge asks
    /// the origins to push to it directly; `None`: it waits for its shield.
    pub fallback_after: Option<SimDuration>,
    /// How often it probes its shield and checks (and, while the shield stays silent,
    /// asks the origins again).
    pub check_every: SimDuration,
    /// The shield's name and this edge's, for detection records.
    pub shield_name: String,
    pub edge_name: String,
}

/// How an edge behind a shield is doing.
struct Upstream {
    feed: ShieldFeed,
    /// When the shield last showed it is alive: a segment, or an answer to a probe.
    /// Liveness, not freshness: a shield with nothing to relay (the encoder stalled,
    /// the run just began) is no reason to go around it.
    last_from_shield: SimTime,
    direct: bool,
    probes_sent: u64,
}

pub struct Edge {
    config: EdgeConfig,
    upstream: Option<Upstream>,
    /// Per stream, in stream order.
    streams: Vec<Cached>,
    egress: Option<TokenBucket>,
    /// Segment requests of this instant, served together (`serve_in_viewer_order`).
    asked: Vec<Asked>,
    /// Serves [`Edge::asked`]'s viewers in viewer order.
    order: ViewerOrder<bool>,
    recorder: SharedRecorder,
}

impl Edge {
    pub fn new(config: EdgeConfig, streams: usize, recorder: SharedRecorder) -> Self {
        Edge {
            config,
            upstream: None,
            streams: (0..streams).map(|_| Cached::empty()).collect(),
            egress: (config.capacity_bps > 0).then(|| TokenBucket::new(config.capacity_bps, SimTime::ZERO)),
            asked: Vec::new(),
            order: ViewerOrder::default(),
            recorder,
        }
    }

    /// Puts the edge behind a shield.
    pub fn behind_shield(mut self, feed: ShieldFeed) -> Self {
        self.upstream = Some(Upstream {
            feed,
            last_from_shield: SimTime::ZERO,
            direct: false,
            probes_sent: 0,
        });
        self
    }

    /// Starts (or after a restart, restarts) watching the shield.
    fn watch_shield(&mut self, ctx: &mut Ctx<'_, Msg>, restarted: bool) {
        let Some(up) = &mut self.upstream else { return };
        up.last_from_shield = ctx.now();
        // A restarted edge may have been fed directly before it died: stop that.
        if restarted {
            for &origin in &up.feed.origins {
                ctx.send(origin, Msg::DirectFeed { on: false }, CONTROL_MESSAGE_BYTES);
            }
        }
        up.direct = false;
        if up.feed.fallback_after.is_some() {
            ctx.timer_at(ctx.now() + up.feed.check_every, Msg::ShieldCheck);
        }
    }

    /// A segment (or a probe's answer) arrived from `from`. From the shield: it is
    /// alive, so stop any direct feed. From an origin while the shield feeds this edge:
    /// the origin missed an earlier "stop" (lost, or the origin was down), so say it again.
    fn heard_from(&mut self, from: NodeId, ctx: &mut Ctx<'_, Msg>) {
        let Some(up) = &mut self.upstream else { return };
        if from == up.feed.shield {
            up.last_from_shield = ctx.now();
            if up.direct {
                up.direct = false;
                for &origin in &up.feed.origins {
                    ctx.send(origin, Msg::DirectFeed { on: false }, CONTROL_MESSAGE_BYTES);
                }
            }
        } else if !up.direct && up.feed.origins.contains(&from) {
            ctx.send(from, Msg::DirectFeed { on: false }, CONTROL_MESSAGE_BYTES);
        }
    }

    fn check_shield(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let Some(up) = &mut self.upstream else { return };
        let Some(after) = up.feed.fallback_after else { return };
        let now = ctx.now();
        // A probe every check: a live shield answers even with nothing to relay.
        up.probes_sent += 1;
        ctx.send(up.feed.shield, Msg::Probe { id: up.probes_sent }, CONTROL_MESSAGE_BYTES);
        if now.saturating_since(up.last_from_shield) >= after {
            if !up.direct {
                up.direct = true;
                let by = format!("{} shield fallback", up.feed.edge_name);
                self.recorder.borrow_mut().detected(&up.feed.shield_name, &by, now);
            }
            // Again at every check while the shield stays quiet: an origin that
            // restarted has forgotten.
            for &origin in &up.feed.origins {
                ctx.send(origin, Msg::DirectFeed { on: true }, CONTROL_MESSAGE_BYTES);
            }
        }
        ctx.timer_at(ctx.now() + up.feed.check_every, Msg::ShieldCheck);
    }

    /// Lists a new segment; `false` for a late or repeated copy (a live playlist only
    /// grows, so it is not listed again).
    fn store(&mut self, stream: usize, info: &SegmentInfo) -> bool {
        let (index, frames) = (info.index, info.frames);
        let Some(cached) = self.streams.get_mut(stream) else {
            return false;
        };
        if cached.held.back().is_some_and(|(last, _)| index <= last.index) {
            return false;
        }
        let duration = SimDuration::from_nanos(u64::from(frames) * 1_000_000_000 / u64::from(self.config.fps));
        // What the origin spliced out, as far as this playlist missed it too (after a
        // stream came back to an origin, what another origin published meanwhile is
        // listed here); all this playlist missed when the origin cannot know (its
        // first segment of the stream, after the stream moved to it).
        let nominal = u64::from(info.frames + info.missing);
        let unlisted = cached.held.back().map_or(0, |(last, _)| index - last.index - 1) * nominal;
        let spliced_frames = info.spliced_frames.map_or(unlisted, |claimed| claimed.min(unlisted));
        let entry = PlaylistEntry {
            gap: info.fill == Some(Fill::Gap),
            spliced: SimDuration::from_nanos(spliced_frames * 1_000_000_000 / u64::from(self.config.fps)),
            ..PlaylistEntry::media(index, duration)
        };
        cached.held.push_back((entry, frames));
        while cached.held.len() > 2 * self.config.playlist_window {
            cached.held.pop_front();
        }
        let listed = cached.held.len().min(self.config.playlist_window);
        let first = cached.held.len() - listed;
        cached.playlist = cached.held.range(first..).map(|&(entry, _)| entry).collect();
        true
    }

    /// Serves the segment requests of this instant, each member in viewer order (a
    /// viewer's own requests in the order they came): at capacity, the first are served
    /// and the rest refused, however the requests were grouped and whichever came first.
    fn serve_asked(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        let mut asked = std::mem::take(&mut self.asked);
        let mut order = std::mem::take(&mut self.order);
        order.decide(&asked, Asked::members, false, |_, at| {
            self.admits(now, asked[at].frames)
        });
        for (at, one) in asked.iter().enumerate() {
            self.answer(one, order.of(at), ctx);
        }
        asked.clear();
        // Kept, emptied, for the next instant.
        (self.asked, self.order) = (asked, order);
    }

    /// Whether the egress has room at `now` for one answer of `frames` frames (and takes
    /// it). Once refused at an instant, an answer as large is refused again.
    fn admits(&mut self, now: SimTime, frames: u32) -> bool {
        let bits = u64::from(frames) * self.config.frame_bytes * 8;
        self.egress.as_mut().is_none_or(|bucket| bucket.try_take(now, bits))
    }

    /// Answers `asked`: the segment to the members `served` marks (in member order), 503
    /// to the rest.
    fn answer(&mut self, asked: &Asked, served: &[bool], ctx: &mut Ctx<'_, Msg>) {
        let members = Party::members_of(&asked.party, &asked.viewer);
        if served.iter().all(|&s| s) {
            return self.reply(asked, members, &[], ctx);
        }
        if !served.contains(&true) {
            return self.reply(asked, &[], members, ctx);
        }
        let (mut taken, mut refused) = (SmallVec::<[u32; 8]>::new(), SmallVec::<[u32; 8]>::new());
        for (&member, &served) in members.iter().zip(served) {
            if served {
                taken.push(member);
            } else {
                refused.push(member);
            }
        }
        self.reply(asked, &taken, &refused, ctx);
    }

    /// The segment to `taken`, 503 to `refused` (members of `asked`): one message each
    /// way, for the whole request when either is all of it.
    fn reply(&mut self, asked: &Asked, taken: &[u32], refused: &[u32], ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        let &Asked {
            client,
            viewer,
            ref party,
            req,
            index,
            frames,
        } = asked;
        let bytes = u64::from(frames) * self.config.frame_bytes;
        if !taken.is_empty() {
            self.recorder
                .borrow_mut()
                .edge_answered(self.config.index, now, bytes, false, taken.len() as u64);
            let reply = Msg::SegmentReply {
                edge: ctx.me(),
                viewer,
                party: part_of(party, taken),
                req,
                index,
                frames,
            };
            ctx.send(client, reply, CONTROL_MESSAGE_BYTES);
        }
        if !refused.is_empty() {
            self.recorder.borrow_mut().edge_answered(
                self.config.index,
                now,
                CONTROL_MESSAGE_BYTES,
                true,
                refused.len() as u64,
            );
            let refused = Msg::FetchFailed {
                viewer,
                party: part_of(party, refused),
                req,
                status: 503,
            };
            ctx.send(client, refused, CONTROL_MESSAGE_BYTES);
        }
    }
}

impl Behavior for Edge {
    type Msg = Msg;

    /// A request's viewer: its entry in the per-bin client table is a miss in a
    /// large audience.
    fn prefetch(&self, input: &Input<Msg>) {
        if let Input::Msg {
            msg: Msg::PlaylistRequest { viewer, .. } | Msg::SegmentRequest { viewer, .. },
            ..
        } = input
        {
            if let Ok(recorder) = self.recorder.try_borrow() {
                recorder.prefetch_client(self.config.index, *viewer);
            }
        }
    }

    /// One arm per message an edge takes (segments, playlist and segment requests,
    /// probes, capacity changes): a match over message kinds, longer than 150 lines,
    /// kept whole so that what an edge answers to reads side by side.
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        if super::answer_liveness_scrape(&input, ctx) {
            return;
        }
        match input {
            Input::Start => self.watch_shield(ctx, false),
            Input::Timer(Msg::ShieldCheck) => self.check_shield(ctx),
            Input::Msg {
                from,
                msg: Msg::ProbeAck { .. },
            } => self.heard_from(from, ctx),
            Input::Msg {
                msg: Msg::Segment(info),
                from,
            } => {
                self.heard_from(from, ctx);
                let stream = info.stream as usize;
                self.recorder
                    .borrow_mut()
                    .segment_at_edge(stream, info.index, ctx.now());
                if self.store(stream, &info) {
                    (self.recorder.borrow_mut()).edge_refreshed(stream, self.config.index, ctx.now());
                }
            }
            Input::Msg {
                msg:
                    Msg::PlaylistRequest {
                        client,
                        viewer,
                        party,
                        stream,
                        req,
                    },
                ..
            } => {
                let playlist = (self.streams.get(stream as usize))
                    .map_or_else(|| Arc::from(Vec::new()), |cached| Arc::clone(&cached.playlist));
                let bytes = CONTROL_MESSAGE_BYTES + 60 * playlist.len() as u64;
                let now = ctx.now();
                {
                    let mut recorder = self.recorder.borrow_mut();
                    recorder.party_clients(self.config.index, viewer, party.as_ref(), now);
                    recorder.edge_answered(self.config.index, now, bytes, false, Party::count(&party));
                }
                let reply = Msg::PlaylistReply {
                    edge: ctx.me(),
                    viewer,
                    party,
                    req,
                    playlist,
                };
                ctx.send(client, reply, CONTROL_MESSAGE_BYTES);
            }
            Input::Msg {
                msg:
                    Msg::SegmentRequest {
                        client,
                        viewer,
                        party,
                        stream,
                        req,
                        index,
                    },
                ..
            } => {
                let found = self.streams.get(stream as usize).and_then(|cached| {
                    (cached.held.binary_search_by_key(&index, |(entry, _)| entry.index).ok())
                        .map(|at| cached.held[at].1)
                });
                let now = ctx.now();
                let asking = Party::count(&party);
                self.recorder
                    .borrow_mut()
                    .party_clients(self.config.index, viewer, party.as_ref(), now);
                let Some(frames) = found else {
                    self.recorder.borrow_mut().edge_answered(
                        self.config.index,
                        now,
                        CONTROL_MESSAGE_BYTES,
                        false,
                        asking,
                    );
                    let not_found = Msg::FetchFailed {
                        viewer,
                        party,
                        req,
                        status: 404,
                    };
                    return ctx.send(client, not_found, CONTROL_MESSAGE_BYTES);
                };
                let asked = Asked {
                    client,
                    viewer,
                    party,
                    req,
                    index,
                    frames,
                };
                if !self.config.serve_in_viewer_order {
                    // A squad's members take the bucket one after another, as they
                    // would asking apart, so the first are served and the rest refused
                    // (once `admits` refuses at an instant, it refuses the rest too).
                    let members = Party::members_of(&asked.party, &asked.viewer);
                    let served = members.iter().take_while(|_| self.admits(now, frames)).count();
                    let (taken, refused) = members.split_at(served);
                    return self.reply(&asked, taken, refused, ctx);
                }
                if self.asked.is_empty() {
                    ctx.timer_at(now, Msg::PlaceTimer);
                }
                self.asked.push(asked);
            }
            Input::Timer(Msg::PlaceTimer) => self.serve_asked(ctx),
            // Health checks (of a health-checked DNS record or a load balancer).
            Input::Msg {
                from,
                msg: Msg::Probe { id },
            } => ctx.send(from, Msg::probe_ack(id), CONTROL_MESSAGE_BYTES),
            Input::Msg {
                from,
                msg: Msg::PlaylistProbe { id },
            } => {
                // A health endpoint over every stream's playlist: the figure changes
                // whenever any stream gains a segment (or the cache starts over), so
                // the check fails only when the edge receives nothing at all; one stream
                // stopping upstream does not take every edge out for the others.
                let newest = (self.streams.iter())
                    .map(|cached| cached.playlist.last().map_or(0, |entry| entry.index + 1))
                    .fold(0u64, u64::wrapping_add);
                ctx.send(from, Msg::PlaylistProbeAck { id, newest }, CONTROL_MESSAGE_BYTES);
            }
            Input::Msg {
                msg: Msg::SetCapacity { bps },
                ..
            } => {
                let now = ctx.now();
                self.egress = match (self.egress.take(), bps) {
                    (_, 0) => None,
                    (Some(mut bucket), bps) => {
                        bucket.set_rate(now, bps);
                        Some(bucket)
                    }
                    (None, bps) => Some(TokenBucket::new(bps, now)),
                };
            }
            Input::Restart => {
                // The cache lived in memory.
                self.streams.iter_mut().for_each(|cached| *cached = Cached::empty());
                self.asked.clear();
                self.watch_shield(ctx, true);
            }
            _ => {}
        }
    }
}
