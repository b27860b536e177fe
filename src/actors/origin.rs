//! The origin and edge actors. The origin accepts each segment once (the first copy
//! wins), records which pipeline it came from, and pushes it to every edge; an edge
//! records its arrival and announces it to the viewers it serves.

use crate::metrics::SegmentRecord;
use crate::sim::{Behavior, Ctx, Input, NodeId};

use super::{Msg, SharedRecorder, CONTROL_MESSAGE_BYTES};

pub struct Origin {
    edges: Vec<NodeId>,
    /// Node names, indexed by node id, to name pipelines in records.
    names: Vec<String>,
    frame_bytes: u64,
    last_index: Option<u64>,
    recorder: SharedRecorder,
}

impl Origin {
    pub fn new(edges: Vec<NodeId>, names: Vec<String>, frame_bytes: u64, recorder: SharedRecorder) -> Self {
        Origin {
            edges,
            names,
            frame_bytes,
            last_index: None,
            recorder,
        }
    }
}

impl Behavior for Origin {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        let Input::Msg {
            msg: Msg::Segment(info),
            ..
        } = input
        else {
            return;
        };
        // A live playlist only grows: late or duplicate copies are dropped.
        if self.last_index.is_some_and(|last| info.index <= last) {
            return;
        }
        self.last_index = Some(info.index);
        self.recorder.borrow_mut().segment_published(
            info.index,
            SegmentRecord {
                first_frame: info.first_frame,
                frames: info.frames,
                missing: info.missing,
                pipeline: self.names[info.pipeline as usize].clone(),
                published_at: ctx.now(),
                first_edge_at: None,
                first_play_at: None,
            },
        );
        let bytes = u64::from(info.frames) * self.frame_bytes;
        for &edge in &self.edges {
            ctx.send(edge, Msg::Segment(info), bytes);
        }
    }
}

pub struct Edge {
    cohort: NodeId,
    recorder: SharedRecorder,
}

impl Edge {
    pub fn new(cohort: NodeId, recorder: SharedRecorder) -> Self {
        Edge { cohort, recorder }
    }
}

impl Behavior for Edge {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        if let Input::Msg {
            msg: Msg::Segment(info),
            ..
        } = input
        {
            self.recorder.borrow_mut().segment_at_edge(info.index, ctx.now());
            ctx.send(self.cohort, Msg::Segment(info), CONTROL_MESSAGE_BYTES);
        }
    }
}
