//! The origin actor. The origin publishes each segment index once and pushes
//! it to every edge. With one live pipeline (active-passive) the first copy wins; with
//! several (active-active) `control::failover::InputSelector` chooses among the copies
//! and switches inputs when the active one stops delivering.

use std::collections::BTreeMap;

use crate::control::failover::InputSelector;
use crate::metrics::SegmentRecord;
use crate::sim::{Behavior, Ctx, Input, NodeId};
use crate::time::SimTime;

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

/// One stream at the origin.
pub struct OriginStream {
    pub inputs: Inputs,
    last_index: Option<u64>,
    last_published_at: Option<SimTime>,
    /// Copies waiting for the selector: (index, input) → segment.
    held: BTreeMap<(u64, usize), SegmentInfo>,
}

impl OriginStream {
    pub fn new(inputs: Inputs) -> Self {
        OriginStream {
            inputs,
            last_index: None,
            last_published_at: None,
            held: BTreeMap::new(),
        }
    }
}

pub struct Origin {
    edges: Vec<NodeId>,
    /// Node names, indexed by node id, to name pipelines in records.
    names: Vec<String>,
    frame_bytes: u64,
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
        frame_bytes: u64,
        streams: Vec<OriginStream>,
        recorder: SharedRecorder,
    ) -> Self {
        let load = recorder.borrow_mut().register_load(name);
        Origin {
            load,
            edges,
            names,
            frame_bytes,
            streams,
            timer: Deadline::default(),
            recorder,
        }
    }

    fn publish(&mut self, ctx: &mut Ctx<'_, Msg>, info: SegmentInfo) {
        let stream = info.stream as usize;
        let own = &mut self.streams[stream];
        // A live playlist only grows: late or duplicate copies are dropped.
        if own.last_index.is_some_and(|last| info.index <= last) {
            return;
        }
        own.last_index = Some(info.index);
        own.last_published_at = Some(ctx.now());
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
            },
        );
        let bytes = u64::from(info.frames) * self.frame_bytes;
        let pushed = bytes * self.edges.len() as u64;
        {
            let mut recorder = self.recorder.borrow_mut();
            recorder.node_load(self.load, ctx.now(), pushed, false);
            for &edge in &self.edges {
                recorder.node_client(self.load, ctx.now(), u64::from(edge));
            }
        }
        for &edge in &self.edges {
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
                ready.push((publish.index, publish.pipeline));
            }
            for (from, to) in switches {
                let (from, to) = (&self.names[from as usize], &self.names[to as usize]);
                tracing::info!(stream, %from, %to, "origin input switch");
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
            if let Some(last) = own.last_index {
                own.held.retain(|&(index, _), _| index > last);
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
                match &mut own.inputs {
                    Inputs::FirstCopy => self.publish(ctx, info),
                    Inputs::Selector { selector, pipelines } => {
                        if let Some(input) = pipelines.iter().position(|&p| p == info.pipeline) {
                            own.held.insert((info.index, input), info);
                            selector.handle_segment(now, input, info.index);
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
            Input::Restart => {
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
