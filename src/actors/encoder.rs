//! The encoder actor: captures frames at a fixed rate once its first session is up,
//! pushes them to the ingest address, and reconnects with the publisher backoff from
//! `control::reconnect` when the session breaks.

use crate::control::reconnect::{Backoff, Reconnector};
use crate::sim::{Behavior, Ctx, Dest, Input};
use crate::time::{SimDuration, SimTime};

use super::{Msg, SharedRecorder, CONTROL_MESSAGE_BYTES};

#[derive(Clone, Debug)]
pub struct EncoderConfig {
    pub fps: u32,
    pub chunk_frames: u32,
    pub frame_bytes: u64,
    pub connect_timeout: SimDuration,
    pub backoff: Backoff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Session {
    Connecting { attempt: u64 },
    Connected,
    WaitingToRetry,
    GaveUp,
}

pub struct Encoder {
    config: EncoderConfig,
    ingest: Dest,
    recorder: SharedRecorder,
    /// When frame 0 was captured: the stream starts with the first session.
    stream_start: Option<SimTime>,
    next_frame: u64,
    session: Session,
    reconnector: Reconnector,
    attempts: u64,
}

impl Encoder {
    pub fn new(config: EncoderConfig, ingest: Dest, recorder: SharedRecorder) -> Self {
        let reconnector = Reconnector::new(config.backoff);
        Encoder {
            config,
            ingest,
            recorder,
            stream_start: None,
            next_frame: 0,
            session: Session::WaitingToRetry,
            reconnector,
            attempts: 0,
        }
    }

    fn capture_time(&self, frame: u64) -> SimTime {
        let start = self.stream_start.expect("capturing implies a stream start");
        start + SimDuration::from_nanos(frame * 1_000_000_000 / u64::from(self.config.fps))
    }

    fn connect(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.attempts += 1;
        self.session = Session::Connecting { attempt: self.attempts };
        ctx.send(self.ingest, Msg::Connect, CONTROL_MESSAGE_BYTES);
        let deadline = ctx.now() + self.config.connect_timeout;
        ctx.timer_at(deadline, Msg::ConnectTimeout { attempt: self.attempts });
    }

    fn connection_failed(&mut self, ctx: &mut Ctx<'_, Msg>) {
        match self.reconnector.failed() {
            Some(delay) => {
                tracing::debug!(%delay, "encoder session lost; reconnecting after backoff");
                self.session = Session::WaitingToRetry;
                ctx.timer_at(ctx.now() + delay, Msg::RetryConnect);
            }
            None => {
                tracing::warn!("encoder gave up reconnecting");
                self.session = Session::GaveUp;
            }
        }
    }

    fn capture(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let first = self.next_frame;
        let count = self.config.chunk_frames;
        {
            let mut recorder = self.recorder.borrow_mut();
            for frame in first..first + u64::from(count) {
                recorder.frame_produced(self.capture_time(frame));
            }
        }
        if self.session == Session::Connected {
            ctx.send(
                self.ingest,
                Msg::Frames { first, count },
                u64::from(count) * self.config.frame_bytes,
            );
        }
        self.next_frame += u64::from(count);
        let next_chunk_ready = self.capture_time(self.next_frame + u64::from(count) - 1);
        ctx.timer_at(next_chunk_ready, Msg::CaptureTick);
    }
}

impl Behavior for Encoder {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        match input {
            Input::Start | Input::Restart => self.connect(ctx),
            Input::Timer(Msg::CaptureTick) => self.capture(ctx),
            Input::Timer(Msg::RetryConnect) if self.session == Session::WaitingToRetry => self.connect(ctx),
            Input::Timer(Msg::ConnectTimeout { attempt }) if self.session == (Session::Connecting { attempt }) => {
                self.connection_failed(ctx)
            }
            Input::Msg { msg: Msg::Accepted, .. } if matches!(self.session, Session::Connecting { .. }) => {
                self.session = Session::Connected;
                self.reconnector.connected();
                if self.stream_start.is_none() {
                    self.stream_start = Some(ctx.now());
                    let first_chunk_ready = self.capture_time(u64::from(self.config.chunk_frames) - 1);
                    ctx.timer_at(first_chunk_ready, Msg::CaptureTick);
                }
            }
            Input::Msg { msg: Msg::Reset, .. } if self.session == Session::Connected => self.connection_failed(ctx),
            _ => {}
        }
    }
}
