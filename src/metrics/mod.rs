//! Measurement in virtual time: the frame ledger (every frame produced is played,
//! dropped at a named stage, or still in flight), failover episodes, per-viewer
//! quality of experience, and the per-second timeline.
//!
//! Actors write into one [`Recorder`] while the run goes on. Every update is either made
//! by a single actor (so it arrives in that actor's deterministic order) or commutative
//! (sums, minima, per-slot writes), so the result does not depend on how actors were
//! scheduled within a dispatch window. Nothing here writes files: see `report/`.

pub mod quantile;
mod records;
pub mod summary;
pub mod units;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use crate::time::{SimDuration, SimTime};

pub use records::*;
pub use summary::{
    alert_rows, alert_scores, fault_rows, node_rows, outages, summarize, viewer_rows, AlertRow, FailoverRow, FaultRow,
    NodeRow, StallBand, StallBands, StallRow, Summary, TimelineRow, ViewerRow,
};

/// Everything measured during one run.
#[derive(Clone, Debug)]
pub struct Recorder {
    pub shape: StreamShape,
    /// Per stream, in stream order.
    pub streams: Vec<StreamLedger>,
    /// Frames captured per second, all streams together.
    produced_per_s: Vec<u64>,
    state_deltas: Vec<[i64; 3]>,
    pub viewers: Vec<ViewerRecord>,
    pub faults: Vec<FaultRecord>,
    pub episodes: Vec<Episode>,
    /// Detections of a node's failure: (node, the check that saw it, when).
    pub detections: Vec<(String, String, SimTime)>,
    /// Who hears the milestones (`None`: nobody listens, as when no fault waits for one).
    pub listener: Option<Rc<RefCell<dyn MilestoneListener>>>,
    pub alerts: Vec<AlertRecord>,
    pub content_failures: Vec<ContentFailure>,
    /// Manager leadership changes: (manager, leader?, when).
    pub leadership: Vec<(String, bool, SimTime)>,
    /// Nodes whose load is recorded (edges first), and per node the load in each
    /// [`NODE_BIN_S`] bin.
    pub load_names: Vec<String>,
    pub load: Vec<Vec<NodeLoad>>,
    /// Per load node, indexed by client id (viewer or node ids, dense from 0): one
    /// more than the last bin the client was counted in, 0 if never. Four bytes per
    /// client, and no hashing on every request.
    load_clients: Vec<Vec<u32>>,
    /// The same marks, per load node, for viewers of split squads counted one by one
    /// (by viewer id), and for the roots of squads a part of which was (by root): a
    /// squad counted whole in a bin has counted every member there. Grown on first use.
    split_clients: Vec<Vec<u32>>,
    split_roots: Vec<Vec<u32>>,
    /// And by the key of a part: the last part counted under it, and in which bin
    /// (held, so that the same part asking again in the bin is known by its address).
    split_parts: Vec<Vec<Option<CountedPart>>>,
    /// Requests reaching any edge, per second.
    pub edge_requests_per_s: Vec<u64>,
    /// The edges' names, by edge index (as viewer switches name them).
    pub edge_names: Vec<String>,
    /// Where viewer time and availability start counting (`scenario.warmup`).
    pub measure_from: SimTime,
    /// Per stream, by edge load index: how fresh the edge's live edge was (`first` is
    /// `None` for an edge that never listed the stream). A table, not a map: every
    /// edge looks itself up once per segment.
    pub edge_freshness: Vec<Vec<EdgeFreshness>>,
    /// Stalls viewers recovered from: (viewer, when playback resumed, how long it
    /// stalled), in order of recovery.
    pub stall_durations: Vec<(u32, SimTime, SimDuration)>,
}

/// A part of a split squad counted in a bin: one more than the bin, and the part.
type CountedPart = (u32, Arc<Party>);

/// Marks `client` as counted in `bin` in a per-client table of one-more-than-the-last-bin
/// marks; whether it was not yet.
fn mark(seen: &mut Vec<u32>, client: u32, bin: usize) -> bool {
    let client = client as usize;
    if client >= seen.len() {
        seen.resize(client + 1, 0);
    }
    let mark = bin as u32 + 1;
    let new = seen[client] != mark;
    seen[client] = mark;
    new
}

fn bin_of(time: SimTime) -> usize {
    (time.as_nanos() / 1_000_000_000) as usize
}

impl Recorder {
    pub fn new(shape: StreamShape, faults: Vec<FaultRecord>) -> Self {
        let bins = shape.end.as_nanos().div_ceil(1_000_000_000) as usize;
        Recorder {
            produced_per_s: vec![0; bins],
            state_deltas: vec![[0; 3]; bins],
            viewers: vec![ViewerRecord::default(); shape.viewers],
            streams: vec![StreamLedger::default(); shape.streams.max(1)],
            shape,
            faults,
            episodes: Vec::new(),
            detections: Vec::new(),
            listener: None,
            content_failures: Vec::new(),
            alerts: Vec::new(),
            leadership: Vec::new(),
            load_names: Vec::new(),
            load: Vec::new(),
            load_clients: Vec::new(),
            split_clients: Vec::new(),
            split_roots: Vec::new(),
            split_parts: Vec::new(),
            edge_requests_per_s: vec![0; bins],
            stall_durations: Vec::new(),
            measure_from: SimTime::ZERO,
            edge_freshness: Vec::new(),
            edge_names: Vec::new(),
        }
    }

    /// Starts recording the load of node `name`; returns its index for
    /// [`Recorder::node_load`].
    pub fn register_load(&mut self, name: &str) -> usize {
        let bins = self.shape.end.as_nanos().div_ceil(NODE_BIN_S * 1_000_000_000) as usize;
        self.load.push(vec![NodeLoad::default(); bins]);
        self.load_clients.push(Vec::new());
        self.split_clients.push(Vec::new());
        self.split_roots.push(Vec::new());
        self.split_parts.push(Vec::new());
        self.load_names.push(name.to_string());
        self.load.len() - 1
    }

    /// Node `node` handled one request (or message) at `at`, sending `bytes`, or
    /// refused it.
    pub fn node_load(&mut self, node: usize, at: SimTime, bytes: u64, refused: bool) {
        self.node_loads(node, at, bytes, refused, 1);
    }

    /// `requests` alike, each of `bytes` (a squad asking together).
    pub fn node_loads(&mut self, node: usize, at: SimTime, bytes: u64, refused: bool, requests: u64) {
        let bin = (at.as_nanos() / (NODE_BIN_S * 1_000_000_000)) as usize;
        if let Some(load) = self.load.get_mut(node).and_then(|bins| bins.get_mut(bin)) {
            load.requests += requests;
            load.refused += if refused { requests } else { 0 };
            load.egress_bytes += bytes * requests;
        }
    }

    /// Node `node` sent `bytes` at `at` on behalf of a request already counted (a proxy
    /// passing an answer on).
    pub fn node_egress(&mut self, node: usize, at: SimTime, bytes: u64) {
        let bin = (at.as_nanos() / (NODE_BIN_S * 1_000_000_000)) as usize;
        if let Some(load) = self.load.get_mut(node).and_then(|bins| bins.get_mut(bin)) {
            load.egress_bytes += bytes;
        }
    }

    /// Node `node` served `client` (a stable key: a node id, or a cohort and viewer)
    /// at `at`; each client counts once per bin towards `connections`.
    pub fn node_client(&mut self, node: usize, at: SimTime, client: u32) {
        self.node_clients(node, at, client, 1);
    }

    /// Like [`Recorder::node_client`] for a squad of `members` viewers under one key:
    /// they count once per bin, as `members` clients.
    fn node_clients(&mut self, node: usize, at: SimTime, client: u32, members: u32) {
        let bin = (at.as_nanos() / (NODE_BIN_S * 1_000_000_000)) as usize;
        let (Some(bins), Some(seen)) = (self.load.get_mut(node), self.load_clients.get_mut(node)) else {
            return;
        };
        if mark(seen, client, bin) {
            if let Some(load) = bins.get_mut(bin) {
                load.connections += u64::from(members);
            }
        }
    }

    /// Node `node` (a load index: an edge, a load balancer) was asked by viewer
    /// `viewer` at `at`, or by the squad `party` under that key: each viewer counts once per bin towards
    /// `connections`, across the parts a squad splits into.
    pub fn party_clients(&mut self, node: usize, viewer: u32, party: Option<&Arc<Party>>, at: SimTime) {
        let Some(party) = party else {
            return self.node_clients(node, at, viewer, 1);
        };
        let bin = (at.as_nanos() / (NODE_BIN_S * 1_000_000_000)) as usize;
        let root = party.root as usize;
        let split = (self.split_roots.get(node)).is_some_and(|roots| roots.get(root) == Some(&(bin as u32 + 1)));
        if party.whole && !split {
            return self.node_clients(node, at, party.root, party.members.len() as u32);
        }
        let (Some(bins), Some(seen)) = (self.load.get_mut(node), self.load_clients.get_mut(node)) else {
            return;
        };
        if seen.get(root) == Some(&(bin as u32 + 1)) {
            // The whole squad was counted in this bin already, these members with it.
            return;
        }
        if party.whole {
            mark(seen, party.root, bin);
        } else {
            let parts = &mut self.split_parts[node];
            if viewer as usize >= parts.len() {
                parts.resize(viewer as usize + 1, None);
            }
            let last = &mut parts[viewer as usize];
            let mark = bin as u32 + 1;
            if last
                .as_ref()
                .is_some_and(|(at, seen)| *at == mark && Arc::ptr_eq(seen, party))
            {
                return;
            }
            *last = Some((mark, Arc::clone(party)));
        }
        mark(&mut self.split_roots[node], party.root, bin);
        let members = &mut self.split_clients[node];
        let new = (party.members.iter()).filter(|&&m| mark(members, m, bin)).count();
        if let Some(load) = bins.get_mut(bin) {
            load.connections += new as u64;
        }
    }

    /// Where [`Recorder::node_client`] will look for `client` of `node`: starts loading
    /// it (see [`crate::sim::prefetch`]).
    pub fn prefetch_client(&self, node: usize, client: u32) {
        if let Some(entry) = self.load_clients.get(node).and_then(|seen| seen.get(client as usize)) {
            crate::sim::prefetch(entry);
        }
    }

    /// Edge `node` (a load index) answered `requests` alike at `at`, each with `bytes`
    /// (a squad's members asking together).
    pub fn edge_answered(&mut self, node: usize, at: SimTime, bytes: u64, refused: bool, requests: u64) {
        if let Some(slot) = self.edge_requests_per_s.get_mut(bin_of(at)) {
            *slot += requests;
        }
        self.node_loads(node, at, bytes, refused, requests);
    }

    /// Frames captured, all streams together.
    pub fn frames_produced(&self) -> u64 {
        self.streams.iter().map(|s| s.frames_produced).sum()
    }

    /// When frame `frame` of `stream` was captured (once the stream has started).
    pub fn capture_time(&self, stream: usize, frame: u64) -> Option<SimTime> {
        let start = self.streams[stream].stream_start?;
        Some(start + SimDuration::from_nanos(frame * 1_000_000_000 / u64::from(self.shape.fps)))
    }

    pub fn bins(&self) -> usize {
        self.produced_per_s.len()
    }

    /// Frame `frame` of `stream` was captured at `at` (frames come in index order).
    pub fn frame_produced(&mut self, stream: usize, frame: u64, at: SimTime) {
        let ledger = &mut self.streams[stream];
        ledger.stream_start.get_or_insert(at);
        ledger.frames_produced += 1;
        match ledger.produced_ranges.last_mut() {
            Some(last) if last.1 == frame => last.1 += 1,
            _ => ledger.produced_ranges.push((frame, frame + 1)),
        }
        self.produced_per_s[bin_of(at)] += 1;
    }

    pub fn frames_produced_in(&self, bin: usize) -> u64 {
        self.produced_per_s[bin]
    }

    /// A packager cut segment `index` with `frames` frames at `at`. Two packagers
    /// cutting the same index keep the earliest (a commutative choice).
    pub fn segment_packaged(&mut self, stream: usize, index: u64, first_frame: u64, frames: u32, at: SimTime) {
        let ledger = &mut self.streams[stream];
        let entry = ledger.packaged.entry(index).or_insert((frames, at));
        if (at, frames) < (entry.1, entry.0) {
            *entry = (frames, at);
        }
        let end = first_frame + u64::from(frames);
        let range = ledger.packaged_ranges.entry(first_frame).or_insert((end, at));
        range.0 = range.0.max(end);
        range.1 = range.1.min(at);
    }

    /// The origin accepted segment `index` of `stream` from `pipeline`.
    pub fn segment_published(&mut self, stream: usize, index: u64, record: SegmentRecord) {
        let (pipeline, origin) = (record.pipeline.clone(), record.origin.clone());
        if self.streams[stream].segments.contains_key(&index) {
            return;
        }
        // Measured against what every origin published: the stream's media as viewers
        // see it.
        let mut record = record;
        if let Some(end) = self.streams[stream].published_end {
            record.gap_frames = record.first_frame.saturating_sub(end);
            record.overlap_frames = end.saturating_sub(record.first_frame).min(u64::from(record.frames));
        }
        let end = record.start + self.shape.frames_per_segment;
        let ledger = &mut self.streams[stream];
        ledger.published_end = Some(ledger.published_end.map_or(end, |e| e.max(end)));
        let at = record.published_at;
        let gap_frames = record.gap_frames as i64 - record.overlap_frames as i64;
        self.streams[stream].segments.insert(index, record);
        let mut completed = false;
        for episode in self
            .episodes
            .iter_mut()
            .filter(|e| e.stream == stream && e.switched <= at)
        {
            if episode.first_segment.is_none() && episode.to == pipeline {
                episode.first_segment = Some(at);
                episode.gap_frames = Some(gap_frames);
            }
            // A switch of origin: the new origin's first publication of the stream is
            // both the first frame and the first segment on the new path.
            if episode.first_segment.is_none() && episode.to == origin {
                episode.first_segment = Some(at);
                episode.gap_frames = Some(gap_frames);
                episode.first_frame = Some(at);
                completed |= !episode.failback;
            }
        }
        if completed {
            self.note(Milestone::FailoverCompleted, at);
        }
    }

    /// The node `to` that a switch moved traffic to served its first request at `at`:
    /// the first frame (and segment) on the new path of an episode that switched to it
    /// and has none yet.
    pub fn path_served(&mut self, to: &str, at: SimTime) {
        let mut completed = false;
        for episode in self.episodes.iter_mut().filter(|e| e.to == to && e.switched <= at) {
            if episode.first_frame.is_none() {
                episode.first_frame = Some(at);
                episode.first_segment = Some(at);
                completed |= !episode.failback;
            }
        }
        if completed {
            self.note(Milestone::FailoverCompleted, at);
        }
    }

    /// Ingest `pipeline` took the first keyframe of a new publisher connection of
    /// `stream` at `at`.
    pub fn pipeline_first_frame(&mut self, stream: usize, pipeline: &str, at: SimTime) {
        let mut completed = false;
        for episode in self.episodes.iter_mut().filter(|e| e.stream == stream) {
            if episode.first_frame.is_none() && episode.to == pipeline && episode.switched <= at {
                episode.first_frame = Some(at);
                completed |= !episode.failback;
            }
        }
        if completed {
            self.note(Milestone::FailoverCompleted, at);
        }
    }

    /// A component decided to switch a stream (or every stream) to another path: a
    /// manager's promotion, a DNS record's flip, a VRRP takeover, an origin's input
    /// switch. The switch itself is [`Recorder::switched`].
    pub fn failover_started(&mut self, failback: bool, at: SimTime) {
        self.note(
            if failback {
                Milestone::FailbackStarted
            } else {
                Milestone::FailoverStarted
            },
            at,
        );
    }

    /// A milestone a fault may be triggered by.
    fn note(&mut self, milestone: Milestone, at: SimTime) {
        if let Some(listener) = &self.listener {
            listener.borrow_mut().reached(milestone, at);
        }
    }

    /// Edge `edge` (its load index) listed a new segment of `stream` at `at`.
    pub fn edge_refreshed(&mut self, stream: usize, edge: usize, at: SimTime) {
        let stale_after = self.shape.segment.mul_f64(1.5);
        let measure_from = self.measure_from;
        if stream >= self.edge_freshness.len() {
            self.edge_freshness.resize_with(stream + 1, Vec::new);
        }
        let by_edge = &mut self.edge_freshness[stream];
        if edge >= by_edge.len() {
            by_edge.resize(edge + 1, EdgeFreshness::default());
        }
        let fresh = &mut by_edge[edge];
        match fresh.first {
            None => fresh.first = Some(at),
            Some(_) => {
                let stale_from = (fresh.last + stale_after).max(measure_from);
                if at > stale_from {
                    fresh.stale += at - stale_from;
                }
            }
        }
        fresh.last = fresh.last.max(at);
    }

    /// Segment `index` of `stream` reached an edge at `at`.
    /// An origin published `fill` for slot `index` of `stream` (the first one counts).
    pub fn filler_published(&mut self, stream: usize, index: u64, fill: Fill) {
        self.streams[stream].fillers.entry(index).or_insert(fill);
    }

    pub fn segment_at_edge(&mut self, stream: usize, index: u64, at: SimTime) {
        if let Some(segment) = self.streams[stream].segments.get_mut(&index) {
            segment.first_edge_at = Some(segment.first_edge_at.map_or(at, |t| t.min(at)));
        }
    }

    pub fn segment_played(&mut self, stream: usize, index: u64, at: SimTime) {
        if let Some(segment) = self.streams[stream].segments.get_mut(&index) {
            segment.first_play_at = Some(segment.first_play_at.map_or(at, |t| t.min(at)));
        }
    }

    /// At the end of the run: frames from `floor` on will still be packaged by the live
    /// ingest; unpublished frames before it are lost at ingest. Several live packagers
    /// keep the smallest floor.
    pub fn set_ingest_floor(&mut self, stream: usize, floor: u64) {
        let ledger = &mut self.streams[stream];
        ledger.ingest_floor = Some(ledger.ingest_floor.map_or(floor, |f| f.min(floor)));
    }

    /// `viewers` viewers (a squad, or one) went from `from` to `to` at `at`.
    pub fn viewer_transition(&mut self, at: SimTime, from: Option<ViewerState>, to: ViewerState, viewers: u32) {
        let bin = bin_of(at).min(self.state_deltas.len().saturating_sub(1));
        let viewers = i64::from(viewers);
        if let Some(from) = from {
            self.state_deltas[bin][from as usize] -= viewers;
        }
        self.state_deltas[bin][to as usize] += viewers;
    }

    /// A viewer in state `from` left at `at`.
    pub fn viewer_left(&mut self, at: SimTime, from: ViewerState) {
        let bin = bin_of(at).min(self.state_deltas.len().saturating_sub(1));
        self.state_deltas[bin][from as usize] -= 1;
    }

    /// Viewers in each state at the end of every second.
    pub fn viewer_counts(&self) -> Vec<[i64; 3]> {
        let mut running = [0i64; 3];
        self.state_deltas
            .iter()
            .map(|delta| {
                for (total, d) in running.iter_mut().zip(delta) {
                    *total += d;
                }
                running
            })
            .collect()
    }

    /// Manager `manager` became leader (`true`) or stopped being one at `at`. Managers
    /// write in their own windows; the order is settled by sorting when read.
    pub fn leadership(&mut self, manager: &str, leader: bool, at: SimTime) {
        self.leadership.push((manager.to_string(), leader, at));
        if leader {
            self.note(Milestone::LeaderElected, at);
        }
    }

    /// Total time during which more than one manager believed it was the leader (a
    /// split brain), up to `end`.
    pub fn split_brain(&self) -> SimDuration {
        let mut changes = self.leadership.clone();
        // Step-downs before take-overs at the same instant: a hand-over is not a split.
        changes.sort_by(|a, b| (a.2, a.1, &a.0).cmp(&(b.2, b.1, &b.0)));
        let mut leaders: BTreeMap<String, bool> = BTreeMap::new();
        let mut total = SimDuration::ZERO;
        let mut since: Option<SimTime> = None;
        for (manager, leader, at) in changes {
            leaders.insert(manager, leader);
            let count = leaders.values().filter(|&&l| l).count();
            match (since, count > 1) {
                (None, true) => since = Some(at),
                (Some(start), false) => {
                    total += at - start;
                    since = None;
                }
                _ => {}
            }
        }
        if let Some(start) = since {
            total += self.shape.end.saturating_since(start);
        }
        total
    }

    /// An ingest's content check failed (`what`: input-loss, black, silence) at `at`.
    pub fn content_failed(&mut self, ingest: &str, stream: usize, what: &'static str, at: SimTime) {
        self.content_failures.push(ContentFailure {
            ingest: ingest.to_string(),
            stream,
            what,
            at,
        });
    }

    /// Alerts come from the one monitor, in its order.
    pub fn alert_fired(&mut self, rule: &str, since: SimTime, at: SimTime) {
        self.note(Milestone::AlertFired, at);
        self.alerts.push(AlertRecord {
            rule: rule.to_string(),
            since,
            fired: at,
            notified: None,
            resolved: None,
        });
    }

    pub fn alert_notified(&mut self, rule: &str, at: SimTime) {
        if let Some(alert) = self.alerts.iter_mut().find(|a| a.rule == rule && a.notified.is_none()) {
            alert.notified = Some(at);
        }
    }

    pub fn alert_resolved(&mut self, rule: &str, at: SimTime) {
        if let Some(alert) = self
            .alerts
            .iter_mut()
            .rev()
            .find(|a| a.rule == rule && a.resolved.is_none())
        {
            alert.resolved = Some(at);
        }
    }

    /// `by` (a check, named with its node: `lb-1 health check`) saw `node` fail at `at`.
    pub fn detected(&mut self, node: &str, by: &str, at: SimTime) {
        self.note(Milestone::FailureDetected, at);
        self.detections.push((node.to_string(), by.to_string(), at));
    }

    /// The origin's input selector switched from `from` to `to` at `at` (active-active):
    /// detection, switch and first frame on the new path coincide, because the new path
    /// was live all along and its frames become available the moment they are taken.
    pub fn input_switched(&mut self, stream: usize, from: &str, to: &str, by: &str, at: SimTime) {
        self.failover_started(false, at);
        self.switched(stream, from, to, false, (by, at), at);
        let episode = self.episodes.last_mut().expect("just pushed");
        episode.first_frame = Some(at);
        self.note(Milestone::FailoverCompleted, at);
    }

    /// The policy moved the stream from `from` to `to` (taking effect at `at`), acting on
    /// a detection by check `detected.0` at `detected.1`. The fault blamed is the latest one on `from` that began
    /// by the detection; failing that, the latest fault still active at the detection
    /// (a fault elsewhere, such as in the manager or the network, can cause a failover).
    pub fn switched(
        &mut self,
        stream: usize,
        from: &str,
        to: &str,
        failback: bool,
        detected: (&str, SimTime),
        at: SimTime,
    ) {
        let (detected_by, detected) = detected;
        let active_at = |f: &&FaultRecord| f.onset <= detected && f.end.is_none_or(|end| end >= detected);
        let fault = if failback {
            None
        } else {
            let began = |f: &&FaultRecord| f.onset <= detected;
            let on_source = self
                .faults
                .iter()
                .filter(|f| f.target == from)
                .filter(began)
                .max_by_key(|f| f.onset);
            on_source.or_else(|| self.faults.iter().filter(active_at).max_by_key(|f| f.onset))
        };
        let fault = fault.map(|f| (f.id.clone(), f.onset));
        self.episodes.push(Episode {
            stream,
            failback,
            fault: fault.as_ref().map(|f| f.0.clone()),
            from: from.to_string(),
            to: to.to_string(),
            onset: fault.map_or(detected, |f| f.1),
            detected,
            detected_by: detected_by.to_string(),
            switched: at,
            first_frame: None,
            first_segment: None,
            gap_frames: None,
        });
        if !failback {
            self.note(Milestone::FailoverSwitched, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge_recorder() -> Recorder {
        let shape = StreamShape {
            fps: 30,
            frames_per_segment: 60,
            segment: SimDuration::from_secs(2),
            end: SimTime::from_secs(60),
            viewers: 10,
            streams: 1,
            max_ingest_to_origin: SimDuration::from_millis(10),
        };
        let mut rec = Recorder::new(shape, Vec::new());
        rec.register_load("edge-1");
        rec
    }

    fn party(whole: bool, members: &[u32]) -> Arc<Party> {
        Arc::new(Party {
            root: 2,
            whole,
            members: members.into(),
        })
    }

    /// Connections in each of the first two 10 s bins.
    fn connections(rec: &Recorder) -> [u64; 2] {
        [rec.load[0][0].connections, rec.load[0][1].connections]
    }

    #[test]
    fn a_squad_counts_each_member_once_per_bin_across_its_split() {
        let mut rec = edge_recorder();
        let at = SimTime::from_secs;
        // Squad 2 = {2, 5, 7} asks whole, then splits into {2, 7} and {5}: still three.
        rec.party_clients(0, 2, Some(&party(true, &[2, 5, 7])), at(1));
        rec.party_clients(0, 2, Some(&party(true, &[2, 5, 7])), at(2));
        rec.party_clients(0, 2, Some(&party(false, &[2, 7])), at(3));
        rec.party_clients(0, 5, Some(&party(false, &[5])), at(4));
        // A lone viewer under its own key.
        rec.party_clients(0, 9, None, at(5));
        assert_eq!(connections(&rec), [4, 0]);
        // Next bin: the parts first, then a whole request that was still in flight.
        rec.party_clients(0, 5, Some(&party(false, &[5])), at(11));
        rec.party_clients(0, 2, Some(&party(false, &[2, 7])), at(12));
        rec.party_clients(0, 2, Some(&party(true, &[2, 5, 7])), at(13));
        rec.party_clients(0, 2, Some(&party(false, &[7])), at(14));
        assert_eq!(connections(&rec), [4, 3]);
        // Next bin: a part keyed 2 splits again, and its newer request overtakes the older.
        let older = party(false, &[2, 5, 7]);
        let newer = party(false, &[2, 7]);
        rec.party_clients(0, 2, Some(&newer), at(21));
        rec.party_clients(0, 2, Some(&newer), at(22));
        rec.party_clients(0, 2, Some(&older), at(23));
        assert_eq!(rec.load[0][2].connections, 3);
    }

    #[test]
    fn a_squad_that_never_splits_counts_its_members_under_its_key() {
        let mut rec = edge_recorder();
        rec.party_clients(0, 2, Some(&party(true, &[2, 5, 7])), SimTime::from_secs(1));
        rec.party_clients(0, 2, Some(&party(true, &[2, 7])), SimTime::from_secs(2));
        rec.party_clients(0, 2, Some(&party(true, &[2, 7])), SimTime::from_secs(12));
        assert_eq!(connections(&rec), [3, 2]);
        assert!(rec.split_clients[0].is_empty(), "no member is counted one by one");
    }
}
