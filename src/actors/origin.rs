//! The origin actor. The origin publishes each segment index once and pushes
//! it to every edge. With one live pipeline (active-passive) the first copy wins; with
//! several (active-active) `control::failover::InputSelector` chooses among the copies
//! and switches inputs when the active one stops delivering. Segments are compared by
//! the media they cover, so copies cut at another phase (a misaligned server) are
//! published only where they do not overlap what went before, and a jump in the
//! media is recorded as a discontinuity.

use std::collections::BTreeMap;

use crate::control::failover::InputSelector;
use crate::metrics::SegmentRecord;
use crate::names::StreamName;
use crate::sim::{Behavior, Ctx, Input, NodeId};
use crate::time::{SimDuration, SimTime};

use super::{Deadline, Msg, SegmentInfo, SharedRecorder, CONTROL_MESSAGE_BYTES};

/// How the origin chooses among ingest pipelines.
pub enum Inputs {
    /// Any copy, first come first served (one live pipeline at a time).
    FirstCopy,
    /// Active-active: the selector decides; `pipelines[i]` is input `i`.
    Selector {
        selector: InputSelector,
        pipelines: Vec<NodeId>,
    },
}

/// The media the origin handles: bytes per frame, frames and time per segment.
#[derive(Clone, Copy, Debug)]
pub struct OriginMedia {
    pub frame_bytes: u64,
    pub frames_per_segment: u64,
    pub segment: SimDuration,
}

/// One stream at the origin.
pub struct OriginStream {
    pub inputs: Inputs,
    /// Where the published media ends (frames, nominal).
    published_end: Option<u64>,
    last_published_at: Option<SimTime>,
    /// The last segment slot published, media or filler; unlike `published_end`, kept
    /// when the stream comes back after an absence: a gap since then was spliced out
    /// unless another origin published it, which the edges, who list both, tell.
    last_index: Option<u64>,
    /// Copies waiting for the selector: (start frame, input) → segment.
    held: BTreeMap<(u64, usize), SegmentInfo>,
    /// When the last copy of the stream arrived: a stream that comes back after an
    /// absence (it was placed on another origin meanwhile) starts afresh here.
    last_copy_at: Option<SimTime>,
}

impl OriginStream {
    pub fn new(inputs: Inputs) -> Self {
        OriginStream {
            inputs,
            published_end: None,
            last_published_at: None,
            last_index: None,
            held: BTreeMap::new(),
            last_copy_at: None,
        }
    }
}

pub struct Origin {
    /// Who it pushes every segment to: the shields, or the edges when there are none.
    edges: Vec<NodeId>,
    /// Edges whose shield went quiet and that asked for segments directly, in id order.
    /// Volatile: such an edge asks again while its shield stays quiet.
    direct: Vec<NodeId>,
    /// Node names, indexed by node id, to name pipelines in records.
    names: Vec<String>,
    media: OriginMedia,
    /// Per stream, in stream order.
    streams: Vec<OriginStream>,
    /// The earliest deadline of any stream's input selector.
    timer: Deadline,
    recorder: SharedRecorder,
    /// This node's row in `nodes.csv`.
    load: usize,
}

impl Origin {
    pub fn new(
        name: &str,
        edges: Vec<NodeId>,
        names: Vec<String>,
        media: OriginMedia,
        streams: Vec<OriginStream>,
        recorder: SharedRecorder,
    ) -> Self {
        let load = recorder.borrow_mut().register_load(name);
        Origin {
            load,
            edges,
            direct: Vec::new(),
            names,
            media,
            streams,
            timer: Deadline::default(),
            recorder,
        }
    }

    /// The media a segment covers: `[start, end)` in frames.
    fn span(media: OriginMedia, info: &SegmentInfo) -> (u64, u64) {
        let start = info.index * media.frames_per_segment + u64::from(info.phase);
        (start, start + media.frames_per_segment)
    }

    fn publish(&mut self, ctx: &mut Ctx<'_, Msg>, mut info: SegmentInfo) {
        let stream = info.stream as usize;
        let (start, end) = Self::span(self.media, &info);
        let own = &mut self.streams[stream];
        // A live playlist's media only moves forward: late, duplicate or overlapping
        // copies are dropped.
        if own.published_end.is_some_and(|published| start < published) {
            return;
        }
        own.published_end = Some(end);
        own.last_published_at = Some(ctx.now());
        info.spliced_frames =
            (own.last_index).map(|last| info.index.saturating_sub(last + 1) * self.media.frames_per_segment);
        own.last_index = Some(own.last_index.map_or(info.index, |last| last.max(info.index)));
        if let Some(fill) = info.fill {
            self.recorder.borrow_mut().filler_published(stream, info.index, fill);
            self.push(ctx, info);
            return;
        }
        self.recorder.borrow_mut().segment_published(
            stream,
            info.index,
            SegmentRecord {
                first_frame: info.first_frame,
                frames: info.frames,
                missing: info.missing,
                pipeline: self.names[info.pipeline as usize].clone(),
                origin: self.names[ctx.me() as usize].clone(),
                published_at: ctx.now(),
                first_edge_at: None,
                first_play_at: None,
                start,
                // The recorder measures these against what any origin published.
                gap_frames: 0,
                overlap_frames: 0,
            },
        );
        self.push(ctx, info);
    }

    /// Sends a published segment (or filler) to every shield or edge it feeds.
    fn push(&mut self, ctx: &mut Ctx<'_, Msg>, info: SegmentInfo) {
        let bytes = info.wire_bytes(self.media.frame_bytes);
        let pushed = bytes * (self.edges.len() + self.direct.len()) as u64;
        {
            let mut recorder = self.recorder.borrow_mut();
            recorder.node_load(self.load, ctx.now(), pushed, false);
            for &edge in self.edges.iter().chain(&self.direct) {
                recorder.node_client(self.load, ctx.now(), edge);
            }
        }
        for &edge in self.edges.iter().chain(&self.direct) {
            ctx.send(edge, Msg::Segment(info), bytes);
        }
    }

    /// Carries out the selectors' decisions and re-arms the timer.
    fn pump(&mut self, ctx: &mut Ctx<'_, Msg>) {
        for stream in 0..self.streams.len() {
            let Inputs::Selector { selector, pipelines } = &mut self.streams[stream].inputs else {
                continue;
            };
            let mut switches = Vec::new();
            while let Some(switch) = selector.poll_switch() {
                switches.push((pipelines[switch.from], pipelines[switch.to]));
            }
            let mut ready = Vec::new();
            while let Some(publish) = selector.poll_publish() {
                ready.push((publish.start, publish.pipeline));
            }
            for (from, to) in switches {
                let (from, to) = (&self.names[from as usize], &self.names[to as usize]);
                tracing::info!(stream = %StreamName(stream), %from, %to, "origin input switch");
                let by = format!("{} input selector", self.names[ctx.me() as usize]);
                self.recorder
                    .borrow_mut()
                    .input_switched(stream, from, to, &by, ctx.now());
            }
            for key in ready {
                if let Some(info) = self.streams[stream].held.remove(&key) {
                    self.publish(ctx, info);
                }
            }
            let own = &mut self.streams[stream];
            if let Some(published) = own.published_end {
                own.held.retain(|&(start, _), _| start >= published);
            }
        }
        let next = (self.streams.iter())
            .filter_map(|s| match &s.inputs {
                Inputs::Selector { selector, .. } => selector.poll_timeout(),
                Inputs::FirstCopy => None,
            })
            .min();
        self.timer.arm(next, ctx, Msg::SelectorTimer);
    }
}

impl Behavior for Origin {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        match input {
            Input::Msg {
                msg: Msg::Segment(info),
                ..
            } => {
                let Some(own) = self.streams.get_mut(info.stream as usize) else {
                    return;
                };
                // Three segment durations without a copy: the stream was elsewhere (or
                // down); what this origin published before says nothing about now.
                if own
                    .last_copy_at
                    .is_some_and(|last| now.saturating_since(last) > self.media.segment * 3)
                {
                    own.published_end = None;
                    own.held.clear();
                    if let Inputs::Selector { selector, .. } = &mut own.inputs {
                        *selector = InputSelector::new(selector.input_loss());
                    }
                }
                own.last_copy_at = Some(now);
                match &mut own.inputs {
                    Inputs::FirstCopy => self.publish(ctx, info),
                    Inputs::Selector { selector, pipelines } => {
                        if let Some(input) = pipelines.iter().position(|&p| p == info.pipeline) {
                            let (start, end) = Self::span(self.media, &info);
                            own.held.insert((start, input), info);
                            selector.handle_segment(now, input, start, end);
                            self.pump(ctx);
                        }
                    }
                }
            }
            Input::Timer(Msg::SelectorTimer) if self.timer.fire(now) => {
                for own in &mut self.streams {
                    if let Inputs::Selector { selector, .. } = &mut own.inputs {
                        if selector.poll_timeout().is_some_and(|at| at <= now) {
                            selector.handle_timeout(now);
                        }
                    }
                }
                self.pump(ctx);
            }
            // One answer per stream: its staleness here (`a`), and the stream (`b`).
            Input::Msg {
                from,
                msg: Msg::Scrape { round },
            } => {
                for (stream, own) in self.streams.iter().enumerate() {
                    let stale = now.saturating_since(own.last_published_at.unwrap_or(SimTime::ZERO));
                    let reply = Msg::ScrapeReply {
                        round,
                        a: stale.as_nanos(),
                        b: stream as u64,
                    };
                    ctx.send(from, reply, CONTROL_MESSAGE_BYTES);
                }
            }
            // Health checks of a manager that places streams on origins.
            Input::Msg {
                from,
                msg: Msg::Probe { id },
            } => ctx.send(from, Msg::probe_ack(id), CONTROL_MESSAGE_BYTES),
            Input::Msg {
                from,
                msg: Msg::DirectFeed { on },
            } => match (self.direct.binary_search(&from), on) {
                (Err(at), true) => self.direct.insert(at, from),
                (Ok(at), false) => {
                    self.direct.remove(at);
                }
                _ => {}
            },
            Input::Restart => {
                self.direct.clear();
                for own in &mut self.streams {
                    own.held.clear();
                    if let Inputs::Selector { selector, .. } = &mut own.inputs {
                        selector.forget_held();
                    }
                }
                self.timer.clear();
            }
            _ => {}
        }
    }
}
