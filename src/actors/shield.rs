//! The shield actor: a mid-tier CDN cache (an origin shield, a regional parent) between
//! the origin and a set of edges. The origin pushes each segment once per shield and
//! the shield fans it out to its edges, so the origin's egress grows with the shields,
//! not the edges. It keeps nothing a restart would lose that matters: it relays.

use crate::sim::{Behavior, Ctx, Input, NodeId};

use super::{Msg, SharedRecorder};

pub struct Shield {
    /// The edges it feeds, in id order.
    edges: Vec<NodeId>,
    frame_bytes: u64,
    /// Its row in the recorder's node loads.
    load: usize,
    recorder: SharedRecorder,
}

impl Shield {
    pub fn new(edges: Vec<NodeId>, frame_bytes: u64, load: usize, recorder: SharedRecorder) -> Self {
        Shield {
            edges,
            frame_bytes,
            load,
            recorder,
        }
    }
}

impl Behavior for Shield {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        if super::answer_liveness_scrape(&input, ctx) {
            return;
        }
        // Its edges' probes: alive, whether or not there is anything to relay.
        if let Input::Msg {
            from,
            msg: Msg::Probe { id },
        } = input
        {
            ctx.send(from, Msg::probe_ack(id), super::CONTROL_MESSAGE_BYTES);
            return;
        }
        if let Input::Msg {
            msg: Msg::Segment(info),
            ..
        } = input
        {
            let bytes = info.wire_bytes(self.frame_bytes);
            {
                let mut recorder = self.recorder.borrow_mut();
                recorder.node_load(self.load, ctx.now(), bytes * self.edges.len() as u64, false);
                for &edge in &self.edges {
                    recorder.node_client(self.load, ctx.now(), edge);
                }
            }
            for &edge in &self.edges {
                ctx.send(edge, Msg::Segment(info), bytes);
            }
        }
    }
}
