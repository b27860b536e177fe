//! The ingest actor: per stream it carries, accepts one publisher connection at a time, waits for a keyframe,
//! cuts the frame stream into keyframe-aligned segments and publishes each to the
//! origin. Answers health probes. Frames on any other connection are answered with a
//! reset; a publisher silent for `idle_timeout` is dropped (SRS and SRT use 5 s). A
//! crash loses the connection and the open segment. A content check
//! (`control::content`) judges what arrives: input lost, black or silent for longer
//! than its threshold is a content failure, recorded and reported to the monitor,
//! though the server answers its probes all along.
//!
//! Capacity: a server can package `capacity_streams` streams (a transcoder's slots;
//! 0 is unlimited). Publishers beyond that, in the order they connected, are starved:
//! their frames are acknowledged but not packaged, and the server's probe answers name
//! them, so that the manager moves them to a server with room.

use crate::control::content::{ContentCheck, ContentConfig};
use crate::control::failover::SwitchReason;
use crate::names::StreamName;
use crate::scenario::settings::InputLossAction;
use crate::sim::{Behavior, Ctx, Input, KernelAction, NodeId};
use crate::time::{SimDuration, SimTime};

use super::{content, Deadline, Fill, Msg, SegmentInfo, SharedRecorder, CONTROL_MESSAGE_BYTES};

#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub gop_frames: u64,
    pub frames_per_segment: u64,
    pub frame_bytes: u64,
    pub idle_timeout: SimDuration,
    /// Acknowledge every this many frames (RTMP window acknowledgements; here 1 s of media).
    pub ack_every_frames: u64,
    /// Each stream's floating ingest address (active-passive), and how long taking
    /// one takes.
    pub vips: Vec<u32>,
    pub switch_delay: SimDuration,
    /// Each stream's encoder, in stream order: a connection's stream is its publisher's.
    pub encoders: Vec<NodeId>,
    /// Names of the ingest servers by node id, to name the server that lost the address.
    pub pipelines: Vec<(NodeId, String)>,
    /// Names of the managers by node id, to name the check behind a promotion.
    pub managers: Vec<(NodeId, String)>,
    pub content: ContentConfig,
    /// Streams the server can package at once (0: unlimited).
    pub capacity_streams: u32,
    /// Cut segments from each session's first keyframe (`ingest.output_locking =
    /// "none"`) rather than on the stream clock.
    pub unlocked: bool,
    /// What the server publishes for a slot whose input never came.
    pub input_loss_action: InputLossAction,
    pub fps: u32,
    /// Streams have a floating address that one server holds at a time; otherwise
    /// every server that published a stream packages it (active-active, DNS).
    pub active_passive: bool,
}

#[derive(Clone, Copy, Debug)]
struct OpenSegment {
    index: u64,
    phase: u64,
    first_frame: u64,
    received: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Session {
    publisher: NodeId,
    conn: u64,
    last_heard: SimTime,
}

/// What the server does for one stream: its publisher's connection, the packager, the
/// stream's floating address and its content check.
struct Lane {
    session: Option<Session>,
    waiting_for_keyframe: bool,
    /// Where this session's segments start relative to the stream clock's (frames).
    phase: u64,
    open: Option<OpenSegment>,
    last_received: Option<u64>,
    /// Whether this server holds the stream's floating address (network state:
    /// survives a crash).
    holds_vip: bool,
    /// A promotion under way: (the check that detected the failure, when, why).
    promotion: Option<(String, SimTime, SwitchReason)>,
    content: ContentCheck,
    /// When the content failure last recorded began.
    content_reported: Option<SimTime>,
    /// The origin the stream's segments go to (as the manager last placed it; kept in
    /// its configuration store, so a restart keeps it).
    origin: NodeId,
    /// When the session took a packaging slot (the server's connection count then):
    /// the latest connected are the first starved when the server is over capacity.
    slot: u64,
    /// The stream clock (when its frame 0 was captured), as the frames carry it.
    stream_start: Option<SimTime>,
    /// How long after its capture the latest frame arrived: the delay at which the
    /// server's output runs behind the stream clock.
    input_delay: SimDuration,
    /// The last slot this server published for the stream, media or filler, since it
    /// last started or took the stream: the slots after it are filled once their
    /// input is overdue by [`FILL_MARGIN`].
    published_through: Option<u64>,
}

impl Lane {
    fn reset(&mut self) {
        self.session = None;
        self.waiting_for_keyframe = true;
        self.open = None;
        self.last_received = None;
    }

    /// The first frame this packager will still publish if the run went on.
    fn floor(&self, gop_frames: u64) -> u64 {
        if let Some(open) = self.open {
            return open.first_frame;
        }
        let next = self.last_received.map_or(0, |f| f + 1);
        if self.waiting_for_keyframe {
            next.div_ceil(gop_frames) * gop_frames
        } else {
            next
        }
    }
}

/// How late a slot's frames may be before the server fills it: MediaLive's input-loss
/// threshold cannot be set below 100 ms (AWS MediaLive user guide, automatic input
/// failover), so input jitter within that never counts as loss. It stays well under
/// the origin's own input-loss threshold (`ingest.input_loss`, 1 s), so an
/// active-active origin sees a filling pipeline as delivering.
const FILL_MARGIN: SimDuration = SimDuration::from_millis(100);

pub struct Ingest {
    config: IngestConfig,
    name: String,
    recorder: SharedRecorder,
    /// One per stream, in stream order (most idle on a server that carries few).
    lanes: Vec<Lane>,
    /// This server's row in `nodes.csv`.
    load: usize,
    /// When the next slot of a stream it fills is due.
    fill_timer: Deadline,
    /// Streams it can package now (0: unlimited); an overload fault lowers it.
    capacity: u32,
    connections: u64,
}

impl Ingest {
    /// Per stream: whether this server holds its floating address at start, and the
    /// origin its segments go to.
    pub fn new(config: IngestConfig, name: String, streams: Vec<(bool, NodeId)>, recorder: SharedRecorder) -> Self {
        let load = recorder.borrow_mut().register_load(&name);
        let lanes = streams
            .into_iter()
            .map(|(holds_vip, origin)| Lane {
                origin,
                session: None,
                waiting_for_keyframe: true,
                phase: 0,
                open: None,
                last_received: None,
                holds_vip,
                promotion: None,
                content: ContentCheck::new(config.content),
                content_reported: None,
                slot: 0,
                stream_start: None,
                input_delay: SimDuration::ZERO,
                published_through: None,
            })
            .collect();
        Ingest {
            capacity: config.capacity_streams,
            connections: 0,
            load,
            name,
            recorder,
            lanes,
            fill_timer: Deadline::default(),
            config,
        }
    }

    /// The stream an encoder publishes.
    fn stream_of(&self, encoder: NodeId) -> Option<usize> {
        self.config.encoders.iter().position(|&e| e == encoder)
    }

    /// Whether stream `stream`'s content has failed at `now`; records each failure
    /// once, at the instant it crossed its threshold.
    fn content_failed(&mut self, stream: usize, now: SimTime) -> bool {
        let lane = &mut self.lanes[stream];
        let Some((fault, at)) = lane.content.failure(now) else {
            return false;
        };
        if lane.content_reported != Some(at) {
            lane.content_reported = Some(at);
            tracing::info!(ingest = %self.name, stream = %StreamName(stream), fault = fault.name(), %at, "content check failed");
            self.recorder
                .borrow_mut()
                .content_failed(&self.name, stream, fault.name(), at);
        }
        true
    }

    /// Whether any stream's content has failed (every lane is judged and recorded).
    fn any_content_failed(&mut self, now: SimTime) -> bool {
        // Not short-circuiting: each lane's failure is recorded when it happens.
        let mut any = false;
        for stream in 0..self.lanes.len() {
            any |= self.content_failed(stream, now);
        }
        any
    }

    fn publish(&mut self, ctx: &mut Ctx<'_, Msg>, stream: usize, segment: OpenSegment) {
        let lane = &mut self.lanes[stream];
        lane.published_through = Some(lane.published_through.map_or(segment.index, |p| p.max(segment.index)));
        let info = SegmentInfo {
            index: segment.index,
            first_frame: segment.first_frame,
            frames: segment.received,
            missing: (self.config.frames_per_segment as u32).saturating_sub(segment.received),
            pipeline: ctx.me(),
            stream: stream as u32,
            phase: segment.phase as u32,
            fill: None,
            spliced_frames: None,
        };
        let bytes = u64::from(segment.received) * self.config.frame_bytes;
        {
            let mut recorder = self.recorder.borrow_mut();
            recorder.segment_packaged(stream, segment.index, segment.first_frame, segment.received, ctx.now());
            recorder.node_load(self.load, ctx.now(), bytes, false);
            if let Some(session) = &self.lanes[stream].session {
                recorder.node_client(self.load, ctx.now(), session.publisher);
            }
        }
        ctx.send(self.lanes[stream].origin, Msg::Segment(info), bytes);
    }

    /// Whether this server fills `stream`'s slots that get no input: it fills
    /// (`ingest.input_loss_action`), has published the stream since it started or took
    /// it, has a transcoder slot for it, knows its clock, and holds its address where
    /// streams have one.
    fn fills(&self, stream: usize) -> bool {
        self.fills_unless(stream, || self.starved())
    }

    /// [`Ingest::fills`], with the starved streams computed (once) only if needed.
    fn fills_unless(&self, stream: usize, starved: impl FnOnce() -> u64) -> bool {
        let lane = &self.lanes[stream];
        self.config.input_loss_action != InputLossAction::Splice
            && lane.published_through.is_some()
            && lane.stream_start.is_some()
            && (lane.holds_vip || !self.config.active_passive)
            && starved() & 1 << stream == 0
    }

    /// When the slot after the last one `stream` published is filled if no input has
    /// come for it: [`FILL_MARGIN`] after its last frame would have arrived (its end on
    /// the stream clock, plus the input's delay). MediaLive's input-loss handling
    /// starts once expected frames are missing, and its output keeps its schedule
    /// (AWS MediaLive user guide, "Handling loss of video input").
    fn fill_due(&self, stream: usize) -> Option<SimTime> {
        let lane = &self.lanes[stream];
        let (start, last) = (lane.stream_start?, lane.published_through?);
        let end_frame = (last + 2) * self.config.frames_per_segment + lane.phase;
        Some(start + self.frames_to_time(end_frame) + lane.input_delay + FILL_MARGIN)
    }

    /// When frame `frame` is captured, from the stream's start.
    fn frames_to_time(&self, frame: u64) -> SimDuration {
        SimDuration::from_nanos(frame * 1_000_000_000 / u64::from(self.config.fps))
    }

    /// Publishes what stands in for every slot due by now, and arms the timer for the
    /// next one.
    fn fill_due_slots(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        for stream in 0..self.lanes.len() {
            while self.fills(stream) && self.fill_due(stream).is_some_and(|due| due <= now) {
                let lane = &mut self.lanes[stream];
                let slot = lane.published_through.expect("a filling lane has published") + 1;
                match lane.open {
                    // Input stopped inside the slot: what came goes out as it is.
                    Some(open) if open.index == slot => {
                        lane.open = None;
                        self.publish(ctx, stream, open);
                    }
                    _ => self.publish_filler(ctx, stream, slot),
                }
            }
        }
        self.arm_fill_timer(ctx);
    }

    /// Arms the timer for the next slot due, unless one is armed no later.
    fn arm_fill_timer_if_sooner(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let armed = self.fill_timer.at();
        let next = self.next_fill_due();
        if next.is_some_and(|next| armed.is_none_or(|armed| next < armed)) {
            self.fill_timer.arm(next, ctx, Msg::FillTimer);
        }
    }

    fn next_fill_due(&self) -> Option<SimTime> {
        let starved = std::cell::OnceCell::new();
        (0..self.lanes.len())
            .filter(|&stream| self.fills_unless(stream, || *starved.get_or_init(|| self.starved())))
            .filter_map(|stream| self.fill_due(stream))
            .min()
    }

    fn arm_fill_timer(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let next = self.next_fill_due();
        self.fill_timer.arm(next, ctx, Msg::FillTimer);
    }

    /// A slate segment or an `EXT-X-GAP` entry for `slot` of `stream`.
    fn publish_filler(&mut self, ctx: &mut Ctx<'_, Msg>, stream: usize, slot: u64) {
        let per = self.config.frames_per_segment;
        let lane = &mut self.lanes[stream];
        lane.published_through = Some(slot);
        let fill = match self.config.input_loss_action {
            InputLossAction::Gap => Fill::Gap,
            InputLossAction::Slate | InputLossAction::Splice => Fill::Slate,
        };
        let info = SegmentInfo {
            index: slot,
            first_frame: slot * per + lane.phase,
            frames: per as u32,
            missing: 0,
            pipeline: ctx.me(),
            stream: stream as u32,
            phase: lane.phase as u32,
            fill: Some(fill),
            spliced_frames: None,
        };
        let bytes = info.wire_bytes(self.config.frame_bytes);
        self.recorder.borrow_mut().node_load(self.load, ctx.now(), bytes, false);
        ctx.send(lane.origin, Msg::Segment(info), bytes);
    }

    fn receive(&mut self, ctx: &mut Ctx<'_, Msg>, stream: usize, first: u64, count: u32) {
        let per_segment = self.config.frames_per_segment;
        let filling = self.config.input_loss_action != InputLossAction::Splice;
        for frame in first..first + u64::from(count) {
            let lane = &mut self.lanes[stream];
            lane.last_received = Some(frame);
            let slot = frame.saturating_sub(lane.phase) / per_segment;
            if filling && lane.published_through.is_some_and(|last| slot <= last) {
                // Its slot went out already, as filler: too late (and no first frame).
                continue;
            }
            if lane.waiting_for_keyframe {
                if frame % self.config.gop_frames != 0 {
                    continue;
                }
                lane.waiting_for_keyframe = false;
                lane.phase = if self.config.unlocked { frame % per_segment } else { 0 };
                self.recorder
                    .borrow_mut()
                    .pipeline_first_frame(stream, &self.name, ctx.now());
            }
            let lane = &mut self.lanes[stream];
            let phase = lane.phase;
            let index = (frame - phase) / per_segment;
            if lane.open.is_some_and(|open| open.index != index) {
                let done = lane.open.take().expect("checked");
                self.publish(ctx, stream, done);
            }
            let lane = &mut self.lanes[stream];
            let open = lane.open.get_or_insert(OpenSegment {
                index,
                phase,
                first_frame: frame,
                received: 0,
            });
            open.received += 1;
            if frame == (index + 1) * per_segment + phase - 1 {
                let done = lane.open.take().expect("just filled");
                self.publish(ctx, stream, done);
            }
        }
    }

    /// Bit `k` set: stream `k` has a publisher but no packaging slot.
    fn starved(&self) -> u64 {
        if self.capacity == 0 {
            return 0;
        }
        let mut publishing: Vec<(u64, usize)> = (self.lanes.iter().enumerate())
            .filter(|(_, lane)| lane.session.is_some())
            .map(|(k, lane)| (lane.slot, k))
            .collect();
        publishing.sort_unstable();
        (publishing.iter().skip(self.capacity as usize)).fold(0, |bits, &(_, k)| bits | 1 << k)
    }

    /// How many more streams the server could package (`u32::MAX`: no limit).
    fn room(&self) -> u32 {
        if self.capacity == 0 {
            return u32::MAX;
        }
        let publishing = self.lanes.iter().filter(|lane| lane.session.is_some()).count();
        self.capacity.saturating_sub(publishing as u32)
    }

    /// Bit `k` set: this server holds stream `k`'s floating address.
    fn holds(&self) -> u64 {
        (self.lanes.iter().enumerate())
            .filter(|(_, lane)| lane.holds_vip)
            .fold(0, |bits, (k, _)| bits | 1 << k)
    }
}

impl Behavior for Ingest {
    type Msg = Msg;

    /// One arm per message an ingest server takes (frames, handshakes, probes, switch
    /// orders, faults): a match over message kinds, longer than 150 lines, kept whole
    /// because each arm is a few lines that hand off to a method, and reading them
    /// side by side is how one sees what the server answers to.
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        match input {
            Input::Start => self.lanes.iter_mut().for_each(Lane::reset),
            Input::Restart => {
                for lane in &mut self.lanes {
                    lane.reset();
                    lane.promotion = None;
                    lane.content.reset();
                    lane.published_through = None;
                }
                self.fill_timer.clear();
            }
            // Late too (a paused server gets its timers when it resumes).
            Input::Timer(Msg::FillTimer) if self.fill_timer.due(now) => {
                self.fill_timer.clear();
                self.fill_due_slots(ctx);
            }
            Input::Vip { vip, held, other } => {
                let Some(stream) = self.config.vips.iter().position(|&v| v == vip) else {
                    return;
                };
                let lane = &mut self.lanes[stream];
                lane.holds_vip = held;
                if !held {
                    // No input is expected here any more: the publisher's frames now
                    // reach the new holder, and its packaging slot is free.
                    lane.content.reset();
                    lane.reset();
                    lane.published_through = None;
                }
                if let (true, Some((by, detected, reason))) = (held, lane.promotion.take()) {
                    let failback = reason == SwitchReason::Failback;
                    let from = self
                        .config
                        .pipelines
                        .iter()
                        .find(|(id, _)| *id == other)
                        .map_or("none", |(_, name)| name.as_str());
                    self.recorder
                        .borrow_mut()
                        .switched(stream, from, &self.name, failback, (&by, detected), now);
                }
            }
            Input::Msg { from, msg } => match msg {
                Msg::Probe { id } => {
                    self.any_content_failed(now);
                    let ack = Msg::ProbeAck {
                        id,
                        holds: self.holds(),
                        starved: self.starved(),
                        room: self.room(),
                    };
                    ctx.send(from, ack, CONTROL_MESSAGE_BYTES);
                }
                // Taking the address is idempotent: a reconciling manager asks again and
                // again, and only a real move makes a failover episode.
                Msg::Promote {
                    stream,
                    detected_ns,
                    reason,
                } => {
                    let stream = stream as usize;
                    let Some(lane) = self.lanes.get_mut(stream) else { return };
                    if lane.holds_vip || lane.promotion.is_some() {
                        return;
                    }
                    let detected = if detected_ns == 0 {
                        now
                    } else {
                        SimTime::from_nanos(detected_ns)
                    };
                    let manager = (self.config.managers.iter())
                        .find(|(id, _)| *id == from)
                        .map_or("a manager", |(_, name)| name.as_str());
                    let check = match reason {
                        SwitchReason::Overload => "load report",
                        SwitchReason::ActiveDown | SwitchReason::Failback => "health check",
                    };
                    lane.promotion = Some((format!("{manager} {check}"), detected, reason));
                    let action = KernelAction::MoveVip {
                        vip: self.config.vips[stream],
                        to: Some(ctx.me()),
                    };
                    ctx.kernel_action(self.config.switch_delay, action);
                }
                Msg::SetStreamCapacity { streams } => self.capacity = streams,
                Msg::SetOrigin { stream, origin } => {
                    if let Some(lane) = self.lanes.get_mut(stream as usize) {
                        lane.origin = origin;
                    }
                }
                Msg::Scrape { round } => {
                    let bad = u64::from(self.any_content_failed(now));
                    ctx.send(from, Msg::ScrapeReply { round, a: 0, b: bad }, CONTROL_MESSAGE_BYTES);
                }
                Msg::Connect { conn } => {
                    let Some(stream) = self.stream_of(from) else { return };
                    self.connections += 1;
                    let lane = &mut self.lanes[stream];
                    lane.reset();
                    lane.slot = self.connections;
                    lane.session = Some(Session {
                        publisher: from,
                        conn,
                        last_heard: now,
                    });
                    ctx.send(from, Msg::Accepted { conn }, CONTROL_MESSAGE_BYTES);
                    ctx.timer_at(now + self.config.idle_timeout, Msg::IdleCheck { conn });
                }
                Msg::Frames {
                    conn,
                    first,
                    count,
                    content: carried,
                    stream_start,
                } => {
                    let stream = self.stream_of(from);
                    let live = stream.filter(|&k| {
                        self.lanes[k]
                            .session
                            .is_some_and(|session| session.publisher == from && session.conn == conn)
                    });
                    let Some(stream) = live else {
                        ctx.send(from, Msg::Reset { conn }, CONTROL_MESSAGE_BYTES);
                        return;
                    };
                    if let Some(session) = &mut self.lanes[stream].session {
                        session.last_heard = now;
                    }
                    let captured = stream_start + self.frames_to_time(first + u64::from(count) - 1);
                    let lane = &mut self.lanes[stream];
                    lane.stream_start = Some(stream_start);
                    lane.input_delay = now.saturating_since(captured);
                    let (black, silent) = (carried & content::BLACK != 0, carried & content::SILENT != 0);
                    // A gap that ends now may have crossed the loss threshold: judge it
                    // before these frames close it.
                    self.content_failed(stream, now);
                    self.lanes[stream].content.handle_frames(now, black, silent);
                    self.content_failed(stream, now);
                    if self.starved() & 1 << stream == 0 {
                        self.receive(ctx, stream, first, count);
                        if self.fills(stream) {
                            self.arm_fill_timer_if_sooner(ctx);
                        }
                    } else {
                        // No slot: the frames are lost, the open segment with them.
                        let lane = &mut self.lanes[stream];
                        lane.last_received = Some(first + u64::from(count) - 1);
                        lane.open = None;
                        lane.waiting_for_keyframe = true;
                    }
                    let last = first + u64::from(count) - 1;
                    let every = self.config.ack_every_frames;
                    if last / every != first.saturating_sub(1) / every || first == 0 {
                        ctx.send(from, Msg::Ack { conn, frame: last }, CONTROL_MESSAGE_BYTES);
                    }
                }
                _ => {}
            },
            Input::Timer(Msg::IdleCheck { conn }) => {
                let lane = self
                    .lanes
                    .iter_mut()
                    .find(|lane| lane.session.is_some_and(|s| s.conn == conn));
                if let Some(lane) = lane {
                    let session = lane.session.expect("found by its session");
                    let idle_until = session.last_heard + self.config.idle_timeout;
                    if idle_until <= now {
                        tracing::debug!(ingest = %self.name, "publisher idle; dropping its connection");
                        lane.reset();
                    } else {
                        ctx.timer_at(idle_until, Msg::IdleCheck { conn });
                    }
                }
            }
            Input::Finish => {
                for (stream, lane) in self.lanes.iter().enumerate() {
                    if lane.session.is_some() {
                        // Slots that went out as filler will never carry media.
                        let filled = (lane.published_through)
                            .filter(|_| self.config.input_loss_action != InputLossAction::Splice)
                            .map_or(0, |last| (last + 1) * self.config.frames_per_segment + lane.phase);
                        let floor = lane.floor(self.config.gop_frames).max(filled);
                        self.recorder.borrow_mut().set_ingest_floor(stream, floor);
                    }
                }
            }
            // A promotion under way dies with the process; its address move is cancelled
            // by the kernel, and the manager's reconciliation asks again after a restart.
            Input::Crash => self.lanes.iter_mut().for_each(|lane| lane.promotion = None),
            Input::Timer(_) => {}
        }
    }
}
