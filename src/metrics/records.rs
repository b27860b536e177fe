//! What the recorder keeps per segment, fault, failover episode, alert, viewer, node
//! and stream: the plain records the summary and the reports are made from.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::time::{SimDuration, SimTime};

/// How a viewer's request failed, by [`ViewerRecord::failures`] code.
pub const FAILURE_NAMES: [&str; 3] = ["request timeout", "server error", "not found"];

/// [`Episode::stream`] of a switch that carries every stream.
pub const ALL_STREAMS: usize = usize::MAX;

/// A segment as the origin published it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRecord {
    pub first_frame: u64,
    /// Frames the segment actually holds.
    pub frames: u32,
    /// Frames of the segment's nominal range that never reached the packager.
    pub missing: u32,
    /// The ingest pipeline (node name) that packaged it.
    pub pipeline: String,
    /// The origin that published it.
    pub origin: String,
    pub published_at: SimTime,
    pub first_edge_at: Option<SimTime>,
    pub first_play_at: Option<SimTime>,
    /// Frames of media between the end of the segment published before it and its
    /// first frame (0: the media is continuous; more: a discontinuity, the frames
    /// lost in a failover, or a switch between misaligned pipelines).
    pub gap_frames: u64,
    /// Frames at its start that a segment published before it already held: media
    /// published again (a new origin whose pipeline cuts at another phase).
    pub overlap_frames: u64,
    /// The first frame of its nominal range (`index × per + phase`).
    pub start: u64,
}

/// An injected fault, as the scenario scheduled it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRecord {
    pub id: String,
    pub kind: String,
    pub target: String,
    pub onset: SimTime,
    pub end: Option<SimTime>,
}

named_enum! {
    /// A point a failover or its surroundings reach that a fault can be triggered by
    /// (`on`), in the order a failover goes through them.
    pub enum Milestone {
        FailureDetected = "failure.detected",
        FailoverStarted = "failover.started",
        FailoverSwitched = "failover.switched",
        FailoverCompleted = "failover.completed",
        FailbackStarted = "failback.started",
        AlertFired = "alert.fired",
        LeaderElected = "leader.elected",
    }
}

/// Hears the milestones the recorder recognises, as it recognises them (the recorder
/// knows when a failover completed; what to do about it is not its business).
pub trait MilestoneListener: std::fmt::Debug {
    fn reached(&mut self, milestone: Milestone, at: SimTime);
}

/// One switch between pipelines: fault onset → detected → switched → first frame on the
/// new path (its ingest took the first keyframe) → first segment from it at the origin.
/// A failback (return to a recovered primary) has no fault: its onset is the decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Episode {
    /// The stream that switched (0 for the first), or [`ALL_STREAMS`] for a switch
    /// every stream's viewers go through (a load balancer taking over).
    pub stream: usize,
    pub failback: bool,
    pub fault: Option<String>,
    pub from: String,
    pub to: String,
    pub onset: SimTime,
    pub detected: SimTime,
    /// The check that detected it, with its node (`manager-1 health check`).
    pub detected_by: String,
    pub switched: SimTime,
    pub first_frame: Option<SimTime>,
    pub first_segment: Option<SimTime>,
    /// The media skipped before the new path's first segment
    /// ([`SegmentRecord::gap_frames`]; negative: media published again,
    /// [`SegmentRecord::overlap_frames`]): 0 for a seamless switch.
    pub gap_frames: Option<i64>,
}

/// One alert: its condition held from `since`, it fired, was notified, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRecord {
    pub rule: String,
    pub since: SimTime,
    pub fired: SimTime,
    pub notified: Option<SimTime>,
    pub resolved: Option<SimTime>,
}

/// Viewers of one squad (`viewers.squads`) that a message stands for: every member
/// asks, is answered, or is woken alike. Shared, not copied, by the messages of a squad.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The squad as formed: its first member's global id. Parts of a split squad keep it.
    pub root: u32,
    /// Whether this is the squad as formed (less members who left) rather than a part
    /// split from it: its members then count as clients under `root`.
    pub whole: bool,
    /// Global ids of the members, ascending.
    pub members: Box<[u32]>,
}

impl Party {
    /// The viewers a message for `party` stands for: its members, or `viewer` alone.
    pub fn members_of<'a>(party: &'a Option<Arc<Party>>, viewer: &'a u32) -> &'a [u32] {
        party.as_deref().map_or(std::slice::from_ref(viewer), |p| &p.members)
    }

    /// How many viewers a message for `party` stands for (one without a party).
    pub fn count(party: &Option<Arc<Party>>) -> u64 {
        party.as_ref().map_or(1, |p| p.members.len() as u64)
    }

    /// The members `range` of this party as a part of its own.
    pub fn part(&self, range: std::ops::Range<usize>) -> Arc<Party> {
        self.part_of(self.members[range].into())
    }

    /// `members` (some of this party's, ascending) as a part of it.
    pub fn part_of(&self, members: Box<[u32]>) -> Arc<Party> {
        Arc::new(Party {
            root: self.root,
            whole: false,
            members,
        })
    }
}

/// What a viewer's player lived through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewerRecord {
    /// The stream the viewer watches (0 for the first).
    pub stream: u32,
    pub edge: String,
    pub joined_at: Option<SimTime>,
    pub startup: Option<SimDuration>,
    pub stalls: u32,
    pub stall_time: SimDuration,
    pub play_time: SimDuration,
    pub segments_played: u64,
    pub segments_skipped: u64,
    pub first_index: Option<u64>,
    pub frontier: Option<u64>,
    /// Requests that failed (timed out or answered with an error).
    pub request_errors: u32,
    /// Moves from one route (edge) to another, and when the first one happened.
    pub route_switches: u32,
    /// Time spent watching slate segments (after the warmup).
    pub slate_time: SimDuration,
    /// Fatal player errors (media3's stuck playlist or behind-live-window), each
    /// followed by the host preparing the player again.
    pub fatal_errors: u32,
    /// When its player stopped for good (Shaka's live window emptied after a splice).
    pub stranded_at: Option<SimTime>,
    pub first_switch_at: Option<SimTime>,
    /// Every move to another edge: when, and to which (an index into
    /// [`Recorder::edge_names`]).
    pub switches: Vec<(SimTime, u16)>,
    /// Every failed request: when, and how it failed (`FAILURE_NAMES` index).
    pub failures: Vec<(SimTime, u8)>,
    /// The viewer's resolver stretches TTLs (DNS-based balancing only).
    pub ttl_violator: bool,
    /// Frames of the segments it played, and of the published segments it passed over.
    pub frames_played: u64,
    pub frames_skipped: u64,
    /// Live latency (capture of a segment's first frame → it starts playing), summed
    /// over the segments played, and its largest value.
    pub latency_total: SimDuration,
    pub latency_max: SimDuration,
    /// When the stall still under way at the end of the run began.
    pub stalled_at_end: Option<SimTime>,
    /// When the viewer left (`viewers.session`); `None`: it watched to the end.
    pub left_at: Option<SimTime>,
}

impl ViewerRecord {
    /// Mean live latency over the segments it played.
    pub fn latency_mean(&self) -> Option<SimDuration> {
        (self.segments_played > 0)
            .then(|| SimDuration::from_nanos(self.latency_total.as_nanos() / self.segments_played))
    }
}

/// Requests an edge answered within one [`NODE_BIN_S`]-second bin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeLoad {
    /// Distinct clients served (viewers for an edge or load balancer, edges for the
    /// origin, publishers for an ingest server).
    pub connections: u64,
    pub requests: u64,
    /// Answered 503 (at capacity).
    pub refused: u64,
    pub egress_bytes: u64,
}

/// The width of `nodes.csv` bins, in seconds.
pub const NODE_BIN_S: u64 = 10;

/// A viewer's state, for the per-second counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewerState {
    Starting = 0,
    Playing = 1,
    Stalled = 2,
}

/// Static facts the recorder needs to interpret what it is told.
#[derive(Clone, Debug)]
pub struct StreamShape {
    pub fps: u32,
    pub frames_per_segment: u64,
    pub segment: SimDuration,
    pub end: SimTime,
    pub viewers: usize,
    /// Streams in the run (at least one).
    pub streams: usize,
    /// The longest a segment can take from packager to origin (latency, capped jitter,
    /// serialisation): a segment packaged later than this before the end may still arrive.
    pub max_ingest_to_origin: SimDuration,
}

/// What happened to one stream's frames and segments.
#[derive(Clone, Debug, Default)]
pub struct StreamLedger {
    pub frames_produced: u64,
    /// What the origins published in place of lost input, by slot: slate segments and
    /// `EXT-X-GAP` entries (`ingest.input_loss_action`). Not media: no frame of the
    /// ledger is in them.
    pub fillers: BTreeMap<u64, Fill>,
    /// The frames the encoder captured, as index ranges `[first, end)` in order: one
    /// range, or one more per restart (capture resumes at the stream clock's next
    /// frame, so the indices of a crash's downtime were never produced).
    pub produced_ranges: Vec<(u64, u64)>,
    pub segments: BTreeMap<u64, SegmentRecord>,
    /// Segments the packagers cut: index → (frames, when), whether or not they reached the origin.
    pub packaged: BTreeMap<u64, (u32, SimTime)>,
    /// The frames the packagers cut, as ranges: first frame → (end, exclusive; when
    /// first cut).
    pub packaged_ranges: BTreeMap<u64, (u64, SimTime)>,
    /// Where the media published by any origin ends (nominal; it only moves forward).
    pub published_end: Option<u64>,
    /// First frame index the live packager will still publish (see [`Recorder::set_ingest_floor`]).
    pub ingest_floor: Option<u64>,
    /// When frame 0 was captured.
    pub stream_start: Option<SimTime>,
}

/// What stands in for lost input in a packager's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fill {
    /// Slate (or black) frames: a whole segment that shows no content.
    Slate,
    /// An `EXT-X-GAP` entry: listed with its duration, holding no media.
    Gap,
}

/// How fresh one edge's copy of one stream was: stale once no segment arrived for 1.5
/// segment durations (a crashed or cut-off edge receives none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EdgeFreshness {
    /// The first segment's arrival.
    pub first: Option<SimTime>,
    /// The latest arrival.
    pub last: SimTime,
    /// Stale time between arrivals so far (the stretch after `last` is added at the end).
    pub stale: SimDuration,
}

/// An ingest server's content check failed for a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentFailure {
    pub ingest: String,
    pub stream: usize,
    /// What failed (`input loss`, `black`, `silence`).
    pub what: &'static str,
    /// When it crossed its threshold.
    pub at: SimTime,
}
