//! The encoder actor: captures frames at a fixed rate once its first connection is up,
//! pushes them to the ingest address on that connection, and reconnects with the
//! publisher backoff from `control::reconnect` when the connection breaks. Frame
//! indices follow the stream clock, so keyframes stay aligned across reconnects and
//! restarts; frames captured while disconnected are lost at ingest.

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
    Connecting,
    Connected,
    WaitingToRetry,
    GaveUp,
}

pub struct Encoder {
    config: EncoderConfig,
    ingest: Dest,
    recorder: SharedRecorder,
    /// When frame 0 was captured: the stream starts with the first connection.
    stream_start: Option<SimTime>,
    capturing: bool,
    next_frame: u64,
    session: Session,
    reconnector: Reconnector,
    /// The current connection's id (one per attempt).
    conn: u64,
}

impl Encoder {
    pub fn new(config: EncoderConfig, ingest: Dest, recorder: SharedRecorder) -> Self {
        let reconnector = Reconnector::new(config.backoff);
        Encoder {
            config,
            ingest,
            recorder,
            stream_start: None,
            capturing: false,
            next_frame: 0,
            session: Session::WaitingToRetry,
            reconnector,
            conn: 0,
        }
    }

    fn capture_time(&self, frame: u64) -> SimTime {
        let start = self.stream_start.expect("capturing implies a stream start");
        start + SimDuration::from_nanos(frame * 1_000_000_000 / u64::from(self.config.fps))
    }

    fn connect(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.conn += 1;
        self.session = Session::Connecting;
        ctx.send(self.ingest, Msg::Connect { conn: self.conn }, CONTROL_MESSAGE_BYTES);
        let deadline = ctx.now() + self.config.connect_timeout;
        ctx.timer_at(deadline, Msg::ConnectTimeout { attempt: self.conn });
    }

    fn connection_failed(&mut self, ctx: &mut Ctx<'_, Msg>) {
        match self.reconnector.failed() {
            Some(delay) => {
                tracing::debug!(%delay, "encoder connection lost; reconnecting after backoff");
                self.session = Session::WaitingToRetry;
                ctx.timer_at(ctx.now() + delay, Msg::RetryConnect);
            }
            None => {
                tracing::warn!("encoder gave up reconnecting");
                self.session = Session::GaveUp;
            }
        }
    }

    /// Starts (or, after a restart, resumes) capture at the next frame on the stream clock.
    fn start_capture(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        let start = *self.stream_start.get_or_insert(now);
        let chunk = u64::from(self.config.chunk_frames);
        let elapsed_ns = u128::from((now - start).as_nanos());
        let due = (elapsed_ns * u128::from(self.config.fps)).div_ceil(1_000_000_000) as u64;
        self.next_frame = self.next_frame.max(due.div_ceil(chunk) * chunk);
        self.capturing = true;
        let first_chunk_ready = self.capture_time(self.next_frame + chunk - 1);
        ctx.timer_at(first_chunk_ready, Msg::CaptureTick);
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
            let frames = Msg::Frames {
                conn: self.conn,
                first,
                count,
            };
            ctx.send(self.ingest, frames, u64::from(count) * self.config.frame_bytes);
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
            Input::Start | Input::Restart => {
                self.reconnector.connected();
                self.connect(ctx);
            }
            Input::Crash => {
                self.capturing = false;
                self.session = Session::WaitingToRetry;
            }
            Input::Timer(Msg::CaptureTick) if self.capturing => self.capture(ctx),
            Input::Timer(Msg::RetryConnect) if self.session == Session::WaitingToRetry => self.connect(ctx),
            Input::Timer(Msg::ConnectTimeout { attempt })
                if self.session == Session::Connecting && attempt == self.conn =>
            {
                self.connection_failed(ctx)
            }
            Input::Msg {
                msg: Msg::Accepted { conn },
                ..
            } if self.session == Session::Connecting && conn == self.conn => {
                self.session = Session::Connected;
                self.reconnector.connected();
                if !self.capturing {
                    self.start_capture(ctx);
                }
            }
            Input::Msg {
                msg: Msg::Reset { conn },
                ..
            } if self.session == Session::Connected && conn == self.conn => self.connection_failed(ctx),
            _ => {}
        }
    }
}
