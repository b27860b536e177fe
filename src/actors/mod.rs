//! One actix actor per component kind (encoder, ingest, manager, origin, edge, viewer
//! cohort). Each translates kernel inputs into calls on the pure logic in `control/`
//! and that logic's outputs into messages; none holds a timeout or policy of its own.

pub mod cohort;
pub mod dns;
pub mod edge;
pub mod encoder;
pub mod ingest;
pub mod lb;
pub mod lease;
pub mod manager;
pub mod monitor;
pub mod origin;
pub mod shield;
pub mod world;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::control::failover::SwitchReason;
use crate::control::health::{HealthChecker, HealthConfig};
use crate::control::lease::{LeaseAnswer, LeaseCall};
use crate::control::player::PlaylistEntry;
pub use crate::metrics::Party;
use crate::metrics::Recorder;
use crate::sim::{Ctx, Input, NodeId, TraceMsg};
use crate::time::{SimDuration, SimTime};

/// The recorder every actor of one run writes to (same thread: actix runs on one).
pub type SharedRecorder = Rc<RefCell<Recorder>>;

/// Answers a monitor's scrape for a node that exports no values of its own, only its
/// liveness (Prometheus's `up`): a node that is crashed, partitioned away or hung does
/// not answer, and that silence is how the monitor detects faults no other check
/// probes. Returns whether `input` was such a scrape.
pub fn answer_liveness_scrape(input: &Input<Msg>, ctx: &mut Ctx<'_, Msg>) -> bool {
    let Input::Msg {
        from,
        msg: Msg::Scrape { round },
    } = *input
    else {
        return false;
    };
    ctx.send(from, Msg::ScrapeReply { round, a: 0, b: 0 }, CONTROL_MESSAGE_BYTES);
    true
}

/// A health checker whose first probes go out at the first instants ≥ `now` on each
/// target's phase (used at start and after a restart, which loses the checker's state).
pub fn checker_from(health: HealthConfig, phases: &[SimDuration], now: SimTime) -> HealthChecker {
    HealthChecker::new(health, &first_checks(&health, phases, now))
}

/// When each target is first probed from `now` on: the first instant on its phase.
pub fn first_checks(health: &HealthConfig, phases: &[SimDuration], now: SimTime) -> Vec<SimTime> {
    let interval = health.interval.as_nanos();
    phases
        .iter()
        .map(|phase| {
            let phase = phase.as_nanos() % interval;
            let base = now.as_nanos().saturating_sub(phase).div_ceil(interval) * interval;
            SimTime::from_nanos(base + phase)
        })
        .collect()
}

/// The one pending timer of a state machine driven through its `poll_timeout`: re-armed
/// only when the deadline moves, and recognised when it fires (older timers are stale).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadline(Option<SimTime>);

impl Deadline {
    /// Sets a timer carrying `msg` for `next` (never before now), unless one is already
    /// set for that instant.
    pub fn arm(&mut self, next: Option<SimTime>, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        if let Some(next) = next {
            let at = next.max(ctx.now());
            if self.0 != Some(at) {
                self.0 = Some(at);
                ctx.timer_at(at, msg);
            }
        }
    }

    /// Whether a timer firing at `now` is the armed one; if so it is used up.
    pub fn fire(&mut self, now: SimTime) -> bool {
        let armed = self.0 == Some(now);
        if armed {
            self.0 = None;
        }
        armed
    }

    pub fn clear(&mut self) {
        self.0 = None;
    }

    /// The instant armed, if any.
    pub fn at(&self) -> Option<SimTime> {
        self.0
    }

    /// Whether the armed instant has come (a timer delivered late still is).
    pub fn due(&self, now: SimTime) -> bool {
        self.0.is_some_and(|at| at <= now)
    }
}

pub use crate::metrics::Fill;

/// A packaged segment, as it travels from ingest to origin to edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    pub index: u64,
    pub first_frame: u64,
    /// Frames the segment holds.
    pub frames: u32,
    /// Frames of its nominal range that the packager never received.
    pub missing: u32,
    /// The ingest node that packaged it.
    pub pipeline: NodeId,
    /// The stream it belongs to (0 for the first).
    pub stream: u32,
    /// Where the packager's segments start relative to the stream's nominal ones
    /// (frames; 0 when servers cut on the stream clock): segment `index` covers
    /// frames `[index × per + phase, (index + 1) × per + phase)`.
    pub phase: u32,
    /// What a packager whose input was lost published in place of media
    /// (`ingest.input_loss_action`); `None` for media. A filler's `frames` is the
    /// nominal count it stands in for: none of them is content.
    pub fill: Option<Fill>,
    /// Set by the origin: the media (frames, whole segment slots) it never published
    /// right before this segment, spliced out of the stream's timeline (an
    /// `EXT-X-DISCONTINUITY` after lost input); `None` for an origin's first segment
    /// of the stream, which cannot know. Follows from the indices, so it adds nothing
    /// to the digest.
    pub spliced_frames: Option<u64>,
}

impl SegmentInfo {
    /// Bytes that carry it from server to server: an `EXT-X-GAP` entry is a playlist
    /// line.
    pub fn wire_bytes(&self, frame_bytes: u64) -> u64 {
        match self.fill {
            Some(Fill::Gap) => CONTROL_MESSAGE_BYTES,
            Some(Fill::Slate) | None => u64::from(self.frames) * frame_bytes,
        }
    }
}

/// Every message of the streaming world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Encoder: capture the next chunk of frames.
    CaptureTick,
    /// Encoder → ingest: frames `first .. first + count` on connection `conn`.
    Frames {
        conn: u64,
        first: u64,
        count: u32,
        /// What the frames carry: [`content::BLACK`], [`content::SILENT`] bits.
        content: u8,
        /// When frame 0 was captured: the stream clock that frames' timestamps carry,
        /// which a packager keeps its segment schedule by while input is lost.
        stream_start: SimTime,
    },
    /// Kernel → encoder: a content fault (`content` bits) starts (`on`) or ends.
    SetContent {
        bits: u8,
        on: bool,
    },
    /// Encoder → ingest: open publishing connection `conn`.
    Connect {
        conn: u64,
    },
    /// Ingest → encoder: connection `conn` is open.
    Accepted {
        conn: u64,
    },
    /// Ingest → encoder: no such connection (it broke, or went to another server).
    Reset {
        conn: u64,
    },
    /// Ingest: has publisher connection `conn` gone quiet?
    IdleCheck {
        conn: u64,
    },
    /// Ingest → encoder: frames up to `frame` arrived on connection `conn`.
    Ack {
        conn: u64,
        frame: u64,
    },
    /// Encoder: has connection `conn` stopped being acknowledged?
    AckCheck {
        conn: u64,
    },
    /// Client → DNS: resolve a name (query `id`), and the answer. `name` is the
    /// stream whose ingest name an encoder asks for (0 for the first, and for the CDN
    /// name viewers ask for). `viewer`: the viewer asking (the squad's key; 0 from an
    /// encoder). A squad's members ask together (`party`); each gets its own answer,
    /// and those given the same target are answered together.
    DnsQuery {
        id: u64,
        name: u32,
        viewer: u32,
        party: Option<Arc<Party>>,
    },
    DnsAnswer {
        id: u64,
        target: NodeId,
        ttl_ns: u64,
        party: Option<Arc<Party>>,
    },
    /// Encoder: query `id` got no answer in time.
    DnsTimeout {
        id: u64,
    },
    /// Manager → ingest: take the ingest address. `detected_ns` is when the failure that
    /// caused it was detected (0 when there was none); `reason` why the policy moved.
    Promote {
        stream: u32,
        detected_ns: u64,
        reason: SwitchReason,
    },
    /// Kernel → a service: a fault of the service itself starts (`on`) or ends; `what`
    /// is one of [`impair`]; `delay_ns` is `monitor.delay`'s lag.
    Impair {
        what: u8,
        on: bool,
        delay_ns: u64,
    },
    /// Kernel → manager: its clock runs `drift_ppm` parts per million fast from now
    /// (negative: slow); `clock.skew` and its end (0).
    SetClockDrift {
        drift_ppm: i64,
    },
    /// Kernel → ingest: the server can package `streams` streams from now on (0:
    /// unlimited); an `ingest.overload` fault and its end.
    SetStreamCapacity {
        streams: u32,
    },
    /// Manager → ingest: send stream `stream`'s segments to `origin` from now on.
    SetOrigin {
        stream: u32,
        origin: NodeId,
    },
    /// Manager → lease store: request `id` on the Lease object, from the manager's
    /// election run `incarnation`; store → manager: the answer to request `id` of that
    /// run (every run numbers its requests from 0, so the run tells them apart).
    LeaseCall {
        id: u64,
        incarnation: u32,
        call: LeaseCall,
    },
    LeaseAnswer {
        id: u64,
        incarnation: u32,
        answer: LeaseAnswer,
    },
    /// Monitor: time to evaluate rules and scrape again.
    ScrapeTick,
    /// Monitor → node: report your metrics for scrape `round`; and the answer, whose
    /// two values depend on the node (see the monitor actor).
    Scrape {
        round: u64,
    },
    ScrapeReply {
        round: u64,
        a: u64,
        b: u64,
    },
    /// Encoder: backoff elapsed, try uplink `uplink` again.
    RetryConnect {
        uplink: u32,
    },
    /// Origin: the input selector's deadline.
    SelectorTimer,
    /// Ingest: a segment slot's frames are overdue by the fill margin; fill the
    /// slots of streams whose input is lost (`ingest.input_loss_action`).
    FillTimer,
    /// Edge → origin: push segments to me directly (`on`: my shield has gone quiet),
    /// or stop (`on = false`: it feeds me again).
    DirectFeed {
        on: bool,
    },
    /// Edge: time to check that the shield still feeds it.
    ShieldCheck,
    /// Encoder: connection attempt `attempt` got no answer in time.
    ConnectTimeout {
        attempt: u64,
    },
    /// Manager → server: health probe, and its answer.
    Probe {
        id: u64,
    },
    /// Load balancer → edge: a health check of the edge's live playlists; the answer's
    /// `newest` sums each stream's newest segment (index + 1; 0 for an empty playlist),
    /// so it changes whenever any playlist advances.
    PlaylistProbe {
        id: u64,
    },
    PlaylistProbeAck {
        id: u64,
        newest: u64,
    },
    /// The answer; bit `k` of `holds` tells whether the server holds the ingest address
    /// of stream `k` (streams are limited to 64 for this). An ingest server over its
    /// capacity sets bit `k` of `starved` for a stream it has no room to package;
    /// `room` is how many more it could take (`u32::MAX`: no limit).
    ProbeAck {
        id: u64,
        holds: u64,
        starved: u64,
        room: u32,
    },
    /// Manager: the control logic's deadline.
    ControlTimer,
    /// Ingest → origin → edge → viewers: a new segment.
    Segment(SegmentInfo),
    /// Cohort: viewer joins, leaves, viewer's player deadline, viewer's download finished.
    ViewerJoin {
        viewer: u32,
    },
    ViewerLeave {
        viewer: u32,
    },
    /// Cohort → load balancer: viewer `viewer` of cohort `client` closed its
    /// connection (it left the stream).
    ConnectionClosed {
        client: NodeId,
        viewer: u32,
    },
    /// A viewer's player timer; with squads, `party` names the viewers it was armed for.
    ViewerTimer {
        viewer: u32,
        party: Option<Arc<Party>>,
    },
    /// Viewer (cohort `client`) → edge: request `req` for the media playlist, or for a
    /// segment. A load balancer forwards it unchanged; the edge answers `client`
    /// directly (direct server return). With `viewers.squads`, `viewer` is a squad's
    /// key and `party` the members asking together: the edge counts the request once
    /// per member and answers the party (or, at capacity, each part of it).
    PlaylistRequest {
        client: NodeId,
        viewer: u32,
        party: Option<Arc<Party>>,
        stream: u32,
        req: u32,
    },
    SegmentRequest {
        client: NodeId,
        viewer: u32,
        party: Option<Arc<Party>>,
        stream: u32,
        req: u32,
        index: u64,
    },
    /// Load balancer → its peer: VRRP advertisement.
    VrrpAdvert {
        priority: u8,
    },
    /// Load balancer: the VRRP deadline.
    VrrpTimer,
    /// Load balancer, round-robin DNS: every request of this instant has arrived;
    /// answer them in viewer order.
    PlaceTimer,
    /// Kernel → edge: the egress capacity is now `bps` (0: unlimited); a
    /// `cdn.overload` fault and its end.
    SetCapacity {
        bps: u64,
    },
    /// Edge → viewer: the playlist as the edge lists it now (shared, not copied).
    /// `edge` names the server that answered (a proxy passes it on).
    PlaylistReply {
        edge: NodeId,
        viewer: u32,
        party: Option<Arc<Party>>,
        req: u32,
        playlist: Arc<[PlaylistEntry]>,
    },
    /// Edge → viewer: the first byte of segment `index` (`frames` long); the rest
    /// follows at the viewer's downlink rate.
    SegmentReply {
        edge: NodeId,
        viewer: u32,
        party: Option<Arc<Party>>,
        req: u32,
        index: u64,
        frames: u32,
    },
    /// Edge → viewer: request `req` failed with HTTP status `status`.
    FetchFailed {
        viewer: u32,
        party: Option<Arc<Party>>,
        req: u32,
        status: u16,
    },
}

impl Msg {
    /// A health-probe answer from a node that carries no streams.
    pub fn probe_ack(id: u64) -> Msg {
        Msg::ProbeAck {
            id,
            holds: 0,
            starved: 0,
            room: u32::MAX,
        }
    }
}

/// [`mix`] of `words`, then of `stream` unless it is the first (0): a run of one stream
/// keeps the digests it had before streams were numbered. The stream's word is folded
/// onto the hash, not appended to a copy of `words`: this runs for every segment and
/// request in the trace digest, and must not allocate.
fn mix_stream(words: &[u64], stream: u32) -> u64 {
    let hash = mix(words);
    if stream == 0 {
        hash
    } else {
        fold(hash, u64::from(stream) << 32 | 0x5354)
    }
}

fn mix(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, &word| fold(hash, word))
}

fn fold(hash: u64, word: u64) -> u64 {
    (hash ^ word).wrapping_mul(0x0000_0100_0000_01b3)
}

impl TraceMsg for Msg {
    fn stands_for(&self) -> u64 {
        match *self {
            Msg::PlaylistRequest { ref party, .. }
            | Msg::SegmentRequest { ref party, .. }
            | Msg::DnsQuery { ref party, .. }
            | Msg::DnsAnswer { ref party, .. } => Party::count(party),
            _ => 1,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Msg::CaptureTick => "capture",
            Msg::Frames { .. } => "frames",
            Msg::SetContent { .. } => "set-content",
            Msg::Connect { .. } => "connect",
            Msg::Accepted { .. } => "accepted",
            Msg::Reset { .. } => "reset",
            Msg::IdleCheck { .. } => "idle-check",
            Msg::Ack { .. } => "ack",
            Msg::DnsQuery { .. } => "dns-query",
            Msg::ScrapeTick => "scrape-tick",
            Msg::LeaseCall { .. } => "lease-call",
            Msg::Promote { .. } => "promote",
            Msg::SetStreamCapacity { .. } => "set-stream-capacity",
            Msg::Impair { .. } => "impair",
            Msg::SetClockDrift { .. } => "set-clock-drift",
            Msg::SetOrigin { .. } => "set-origin",
            Msg::LeaseAnswer { .. } => "lease-answer",
            Msg::Scrape { .. } => "scrape",
            Msg::ScrapeReply { .. } => "scrape-reply",
            Msg::DnsAnswer { .. } => "dns-answer",
            Msg::DnsTimeout { .. } => "dns-timeout",
            Msg::AckCheck { .. } => "ack-check",
            Msg::RetryConnect { .. } => "retry-connect",
            Msg::SelectorTimer => "selector-timer",
            Msg::FillTimer => "fill-timer",
            Msg::ConnectTimeout { .. } => "connect-timeout",
            Msg::Probe { .. } => "probe",
            Msg::PlaylistProbe { .. } => "playlist-probe",
            Msg::PlaylistProbeAck { .. } => "playlist-probe-ack",
            Msg::ProbeAck { .. } => "probe-ack",
            Msg::ControlTimer => "control-timer",
            Msg::Segment(_) => "segment",
            Msg::ViewerJoin { .. } => "viewer-join",
            Msg::ViewerLeave { .. } => "viewer-leave",
            Msg::ConnectionClosed { .. } => "connection-closed",
            Msg::ViewerTimer { .. } => "viewer-timer",
            Msg::PlaylistRequest { .. } => "playlist-request",
            Msg::VrrpAdvert { .. } => "vrrp-advert",
            Msg::VrrpTimer => "vrrp-timer",
            Msg::PlaceTimer => "place-timer",
            Msg::SetCapacity { .. } => "set-capacity",
            Msg::DirectFeed { .. } => "direct-feed",
            Msg::ShieldCheck => "shield-check",
            Msg::SegmentRequest { .. } => "segment-request",
            Msg::PlaylistReply { .. } => "playlist-reply",
            Msg::SegmentReply { .. } => "segment-reply",
            Msg::FetchFailed { .. } => "fetch-failed",
        }
    }

    /// The trace digest of a message: one arm per message kind, folding the fields
    /// that make it what it is. Longer than 150 lines and kept whole: the arms are
    /// alike, and a message whose fields are not all folded would be a hole in the
    /// determinism check, which is easiest to see with every kind side by side.
    fn digest(&self) -> u64 {
        match *self {
            // Normal content adds nothing, so that runs without content faults keep
            // their digests.
            // The stream start is the same in every frame of a stream: it adds nothing.
            Msg::Frames {
                conn,
                first,
                count,
                content: 0,
                ..
            } => mix(&[conn, first, u64::from(count)]),
            Msg::Frames {
                conn,
                first,
                count,
                content,
                ..
            } => mix(&[conn, first, u64::from(count), u64::from(content)]),
            Msg::SetContent { bits, on } => mix(&[u64::from(bits), u64::from(on)]),
            Msg::ConnectTimeout { attempt: conn }
            | Msg::Connect { conn }
            | Msg::Accepted { conn }
            | Msg::Reset { conn }
            | Msg::IdleCheck { conn }
            | Msg::AckCheck { conn }
            | Msg::DnsTimeout { id: conn } => mix(&[conn]),
            Msg::DnsQuery { id, name, .. } => mix_stream(&[id], name),
            Msg::DnsAnswer { id, target, ttl_ns, .. } => mix(&[id, u64::from(target), ttl_ns]),
            Msg::Scrape { round } => mix(&[round]),
            Msg::LeaseCall { id, incarnation, call } => match call {
                LeaseCall::Get => mix(&[id, u64::from(incarnation)]),
                LeaseCall::Update {
                    expected_version,
                    duration,
                } => mix(&[id, u64::from(incarnation), expected_version, duration.as_nanos()]),
            },
            Msg::LeaseAnswer {
                id,
                incarnation,
                answer,
            } => match answer {
                LeaseAnswer::Record(record) => {
                    let holder = record
                        .holder
                        .map_or(0, |h| 1 + (u64::from(h.client) << 32 | u64::from(h.incarnation)));
                    let run = u64::from(incarnation);
                    mix(&[id, run, holder, record.duration.as_nanos(), record.version])
                }
                LeaseAnswer::Conflict => mix(&[id, u64::from(incarnation), u64::MAX]),
            },
            Msg::Promote {
                stream,
                detected_ns,
                reason,
            } => {
                let code = match reason {
                    SwitchReason::ActiveDown => 0,
                    SwitchReason::Failback => 1,
                    SwitchReason::Overload => 2,
                };
                mix_stream(&[detected_ns, code], stream)
            }
            Msg::SetStreamCapacity { streams } => mix(&[u64::from(streams)]),
            Msg::Impair { what, on, delay_ns } => mix(&[u64::from(what), u64::from(on), delay_ns]),
            Msg::SetClockDrift { drift_ppm } => mix(&[drift_ppm as u64]),
            Msg::ScrapeReply { round, a, b } => mix(&[round, a, b]),
            Msg::SetOrigin { stream, origin } => mix(&[u64::from(stream), u64::from(origin)]),
            Msg::Ack { conn, frame } => mix(&[conn, frame]),
            Msg::Probe { id } | Msg::PlaylistProbe { id } => mix(&[id]),
            Msg::PlaylistProbeAck { id, newest } => mix(&[id, newest]),
            // Load figures of a server without a capacity limit add nothing, so runs
            // without one keep their digests.
            Msg::ProbeAck {
                id,
                holds,
                starved: 0,
                room: u32::MAX,
            } => mix(&[id, holds]),
            Msg::ProbeAck {
                id,
                holds,
                starved,
                room,
            } => mix(&[id, holds, starved, u64::from(room)]),
            // A phase of 0 adds nothing, so runs of aligned servers keep their digests;
            // media adds no fill word.
            Msg::Segment(s) => {
                let mut words: smallvec::SmallVec<[u64; 7]> = smallvec::smallvec![
                    s.index,
                    s.first_frame,
                    u64::from(s.frames),
                    u64::from(s.missing),
                    u64::from(s.pipeline),
                ];
                if s.phase != 0 || s.fill.is_some() {
                    words.push(u64::from(s.phase));
                }
                if let Some(fill) = s.fill {
                    words.push(1 + fill as u64);
                }
                mix_stream(&words, s.stream)
            }
            Msg::ViewerJoin { viewer } | Msg::ViewerTimer { viewer, .. } => mix(&[u64::from(viewer)]),
            Msg::ViewerLeave { viewer } => mix(&[u64::from(viewer), 0x4c45]),
            Msg::ConnectionClosed { client, viewer } => mix(&[u64::from(client), u64::from(viewer)]),
            // A lone viewer's request folds as it did before squads existed.
            Msg::SegmentRequest {
                client,
                viewer,
                ref party,
                stream,
                req,
                index,
            } => {
                let members = Party::count(party);
                let words = [u64::from(client), u64::from(viewer), u64::from(req), index, members];
                mix_stream(&words[..if members == 1 { 4 } else { 5 }], stream)
            }
            Msg::PlaylistRequest {
                client,
                viewer,
                ref party,
                stream,
                req,
            } => {
                let members = Party::count(party);
                let words = [u64::from(client), u64::from(viewer), u64::from(req), members];
                mix_stream(&words[..if members == 1 { 3 } else { 4 }], stream)
            }
            Msg::VrrpAdvert { priority } => mix(&[u64::from(priority)]),
            Msg::SetCapacity { bps } => mix(&[bps]),
            Msg::DirectFeed { on } => mix(&[u64::from(on)]),
            Msg::PlaylistReply {
                edge,
                viewer,
                req,
                ref playlist,
                ..
            } => mix(&[
                u64::from(edge),
                u64::from(viewer),
                u64::from(req),
                playlist.len() as u64,
                playlist.first().map_or(u64::MAX, |e| e.index),
                playlist.last().map_or(u64::MAX, |e| e.index),
            ]),
            Msg::SegmentReply {
                edge,
                viewer,
                req,
                index,
                frames,
                ..
            } => mix(&[
                u64::from(edge),
                u64::from(viewer),
                u64::from(req),
                index,
                u64::from(frames),
            ]),
            Msg::FetchFailed {
                viewer, req, status, ..
            } => mix(&[u64::from(viewer), u64::from(req), u64::from(status)]),
            Msg::RetryConnect { uplink } => mix(&[u64::from(uplink)]),
            Msg::CaptureTick
            | Msg::ControlTimer
            | Msg::SelectorTimer
            | Msg::FillTimer
            | Msg::ScrapeTick
            | Msg::VrrpTimer
            | Msg::PlaceTimer
            | Msg::ShieldCheck => 0,
        }
    }
}

/// Decides for every viewer that the requests of one instant ask for, in viewer order
/// (ascending id; a viewer's own requests in the order they came), whatever order the
/// requests arrived in and however squads grouped them. Servers whose answers hang on
/// order (a load balancer placing connections, a rotating DNS record, an edge at
/// capacity) use it, so that a squad's members are answered as separate viewers would
/// be. A server keeps one between instants: once its lists have grown, deciding an
/// instant allocates nothing.
pub struct ViewerOrder<T> {
    /// (viewer, request, place among the request's members), sorted.
    order: Vec<(u32, usize, usize)>,
    /// Where each request's decisions begin in `decided`.
    starts: Vec<usize>,
    decided: Vec<T>,
}

impl<T> Default for ViewerOrder<T> {
    fn default() -> Self {
        ViewerOrder {
            order: Vec::new(),
            starts: Vec::new(),
            decided: Vec::new(),
        }
    }
}

impl<T: Clone> ViewerOrder<T> {
    /// Runs `decide(viewer, request)` once per member of each of `requests` (whose
    /// viewers `members` names), in viewer order; [`ViewerOrder::of`] then gives each
    /// request's decisions.
    pub fn decide<R>(
        &mut self,
        requests: &[R],
        members: impl Fn(&R) -> &[u32],
        undecided: T,
        mut decide: impl FnMut(u32, usize) -> T,
    ) {
        self.order.clear();
        self.starts.clear();
        self.decided.clear();
        for (at, request) in requests.iter().enumerate() {
            let members = members(request);
            self.starts.push(self.decided.len());
            self.decided
                .extend(std::iter::repeat_n(undecided.clone(), members.len()));
            (self.order).extend((members.iter().enumerate()).map(|(place, &member)| (member, at, place)));
        }
        self.order.sort_unstable();
        for &(member, at, place) in &self.order {
            self.decided[self.starts[at] + place] = decide(member, at);
        }
    }

    /// The decisions for request `at` of the last [`ViewerOrder::decide`], in member
    /// order.
    pub fn of(&self, at: usize) -> &[T] {
        let end = self.starts.get(at + 1).copied().unwrap_or(self.decided.len());
        &self.decided[self.starts[at]..end]
    }
}

/// The members `members` of `party` as the party of a message: `party` itself when
/// they are all of it, a part of it when they are some.
pub fn part_of(party: &Option<Arc<Party>>, members: &[u32]) -> Option<Arc<Party>> {
    let party = party.as_ref()?;
    if members.len() == party.members.len() {
        return Some(Arc::clone(party));
    }
    Some(party.part_of(members.into()))
}

/// Faults of a service that is up but misbehaves, carried by [`Msg::Impair`].
pub mod impair {
    /// `dns.outage`: queries go unanswered.
    pub const DNS_OUTAGE: u8 = 1;
    /// `dns.stale`: the record stops taking health results.
    pub const DNS_STALE: u8 = 2;
    /// `lb.fail`: the device forwards nothing but keeps advertising (VRRP).
    pub const LB_DATA_PLANE: u8 = 3;
    /// `monitor.delay`: detections and notifications lag.
    pub const MONITOR_DELAY: u8 = 4;
    /// `monitor.blind`: no scrape answers; nothing is evaluated.
    pub const MONITOR_BLIND: u8 = 5;
}

/// Content faults of an encoder's output, as bits.
pub mod content {
    /// Video is black.
    pub const BLACK: u8 = 1;
    /// Audio is silent.
    pub const SILENT: u8 = 2;
    /// The encoder keeps its connection but sends nothing (never carried by frames).
    pub const STALL: u8 = 4;
}

/// Link classes: which network settings a node's traffic uses.
pub mod class {
    pub const ENCODER: u16 = 1;
    pub const INGEST: u16 = 2;
    pub const MANAGER: u16 = 3;
    pub const ORIGIN: u16 = 4;
    pub const EDGE: u16 = 5;
    pub const VIEWERS: u16 = 6;
    pub const DNS: u16 = 7;
    pub const MONITOR: u16 = 8;
    pub const LEASE: u16 = 9;
    pub const LB: u16 = 10;
    pub const SHIELD: u16 = 11;
}

/// Small control messages (probes, session handshakes, playlist updates), in bytes.
pub const CONTROL_MESSAGE_BYTES: u64 = 200;
