//! The ingest actor: accepts one publishing session, waits for a keyframe, cuts the
//! frame stream into segments on keyframe-aligned boundaries and publishes each to the
//! origin. Answers health probes. A crash loses the session and the open segment.

use crate::sim::{Behavior, Ctx, Input, NodeId};

use super::{Msg, SegmentInfo, SharedRecorder, CONTROL_MESSAGE_BYTES};

#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub gop_frames: u64,
    pub frames_per_segment: u64,
    pub frame_bytes: u64,
}

#[derive(Clone, Copy, Debug)]
struct OpenSegment {
    index: u64,
    first_frame: u64,
    received: u32,
}

pub struct Ingest {
    config: IngestConfig,
    origin: NodeId,
    recorder: SharedRecorder,
    session: Option<NodeId>,
    waiting_for_keyframe: bool,
    open: Option<OpenSegment>,
    last_received: Option<u64>,
}

impl Ingest {
    pub fn new(config: IngestConfig, origin: NodeId, recorder: SharedRecorder) -> Self {
        Ingest {
            config,
            origin,
            recorder,
            session: None,
            waiting_for_keyframe: true,
            open: None,
            last_received: None,
        }
    }

    fn reset(&mut self) {
        self.session = None;
        self.waiting_for_keyframe = true;
        self.open = None;
        self.last_received = None;
    }

    fn publish(&mut self, ctx: &mut Ctx<'_, Msg>, segment: OpenSegment) {
        let info = SegmentInfo {
            index: segment.index,
            first_frame: segment.first_frame,
            frames: segment.received,
            missing: (self.config.frames_per_segment as u32).saturating_sub(segment.received),
            pipeline: ctx.me(),
        };
        let bytes = u64::from(segment.received) * self.config.frame_bytes;
        ctx.send(self.origin, Msg::Segment(info), bytes);
    }

    fn receive(&mut self, ctx: &mut Ctx<'_, Msg>, first: u64, count: u32) {
        let per_segment = self.config.frames_per_segment;
        for frame in first..first + u64::from(count) {
            self.last_received = Some(frame);
            if self.waiting_for_keyframe {
                if frame % self.config.gop_frames != 0 {
                    continue;
                }
                self.waiting_for_keyframe = false;
            }
            let index = frame / per_segment;
            if self.open.is_some_and(|open| open.index != index) {
                let done = self.open.take().expect("checked");
                self.publish(ctx, done);
            }
            let open = self.open.get_or_insert(OpenSegment {
                index,
                first_frame: frame,
                received: 0,
            });
            open.received += 1;
            if frame == (index + 1) * per_segment - 1 {
                let done = self.open.take().expect("just filled");
                self.publish(ctx, done);
            }
        }
    }

    /// The first frame this packager will still publish if the run went on.
    fn floor(&self) -> u64 {
        if let Some(open) = self.open {
            return open.first_frame;
        }
        let next = self.last_received.map_or(0, |f| f + 1);
        if self.waiting_for_keyframe {
            next.div_ceil(self.config.gop_frames) * self.config.gop_frames
        } else {
            next
        }
    }
}

impl Behavior for Ingest {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        match input {
            Input::Start | Input::Restart => self.reset(),
            Input::Msg { from, msg } => match msg {
                Msg::Probe { id } => ctx.send(from, Msg::ProbeAck { id }, CONTROL_MESSAGE_BYTES),
                Msg::Connect => {
                    self.reset();
                    self.session = Some(from);
                    ctx.send(from, Msg::Accepted, CONTROL_MESSAGE_BYTES);
                }
                Msg::Frames { first, count } => {
                    if self.session == Some(from) {
                        self.receive(ctx, first, count);
                    } else {
                        ctx.send(from, Msg::Reset, CONTROL_MESSAGE_BYTES);
                    }
                }
                _ => {}
            },
            Input::Finish => {
                if self.session.is_some() {
                    self.recorder.borrow_mut().set_ingest_floor(self.floor());
                }
            }
            Input::Timer(_) | Input::Crash => {}
        }
    }
}
