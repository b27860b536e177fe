//! The encoder actor: captures frames at a fixed rate once its first connection is up
//! and pushes them over every uplink: one to the ingest address (active-passive) or one
//! per ingest server (active-active, dual push). Each uplink reconnects on its own with
//! the publisher backoff from `control::reconnect` when its connection breaks. Frame
//! indices follow the stream clock, so keyframes stay aligned across reconnects,
//! restarts and pipelines; frames captured while an uplink is down never reach it.

use crate::control::dns::{Answer, ResolverCache};
use crate::control::reconnect::{Backoff, Reconnector};
use crate::names::StreamName;
use crate::sim::{Behavior, Ctx, Dest, Input, NodeId};
use crate::time::{SimDuration, SimTime};

use super::{content, Msg, SharedRecorder, CONTROL_MESSAGE_BYTES};

#[derive(Clone, Debug)]
pub struct EncoderConfig {
    pub fps: u32,
    pub chunk_frames: u32,
    pub frame_bytes: u64,
    pub connect_timeout: SimDuration,
    /// A connection with no acknowledgement for this long is broken (SRT peer idle
    /// timeout: 5 s): the encoder reconnects.
    pub ack_timeout: SimDuration,
    pub backoff: Backoff,
    /// The stream this encoder produces (0 for the first).
    pub stream: u32,
}

/// Where an uplink connects.
pub enum UplinkTarget {
    /// A fixed address (a server, or the floating ingest address).
    Fixed(Dest),
    /// A name resolved through `dns` with a resolver cache, before every connection
    /// (an established connection never re-resolves until it breaks).
    Resolve {
        dns: NodeId,
        cache: ResolverCache,
        query_timeout: SimDuration,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Session {
    Resolving,
    Connecting,
    Connected,
    WaitingToRetry,
    GaveUp,
}

/// One publishing connection to one destination.
struct Uplink {
    target: UplinkTarget,
    session: Session,
    reconnector: Reconnector,
    /// The current connection's id; unique across uplinks.
    conn: u64,
    /// When the server last acknowledged (or accepted) this connection.
    last_ack: SimTime,
    /// Where the current connection goes.
    dest: Option<Dest>,
}

pub struct Encoder {
    config: EncoderConfig,
    uplinks: Vec<Uplink>,
    recorder: SharedRecorder,
    /// When frame 0 was captured: the stream starts with the first connection.
    stream_start: Option<SimTime>,
    capturing: bool,
    next_frame: u64,
    next_conn: u64,
    /// Content faults in effect (`super::content` bits).
    content: u8,
}

impl Encoder {
    /// This encoder's stream, as log lines name it.
    fn stream_name(&self) -> StreamName {
        StreamName(self.config.stream as usize)
    }

    pub fn new(config: EncoderConfig, targets: Vec<UplinkTarget>, recorder: SharedRecorder) -> Self {
        let uplinks = targets
            .into_iter()
            .map(|target| Uplink {
                target,
                session: Session::WaitingToRetry,
                reconnector: Reconnector::new(config.backoff),
                conn: 0,
                last_ack: SimTime::ZERO,
                dest: None,
            })
            .collect();
        let first_conn = u64::from(config.stream) << 32;
        Encoder {
            config,
            uplinks,
            recorder,
            stream_start: None,
            capturing: false,
            next_frame: 0,
            // Connection ids are unique across encoders: an ingest server carrying
            // several streams tells their connections apart.
            next_conn: first_conn,
            content: 0,
        }
    }

    fn capture_time(&self, frame: u64) -> SimTime {
        let start = self.stream_start.expect("capturing implies a stream start");
        start + SimDuration::from_nanos(frame * 1_000_000_000 / u64::from(self.config.fps))
    }

    fn connect(&mut self, uplink: usize, ctx: &mut Ctx<'_, Msg>) {
        self.next_conn += 1;
        let now = ctx.now();
        let link = &mut self.uplinks[uplink];
        link.conn = self.next_conn;
        let dest = match &link.target {
            UplinkTarget::Fixed(dest) => *dest,
            UplinkTarget::Resolve {
                dns,
                cache,
                query_timeout,
            } => match cache.lookup(now) {
                Some(node) => Dest::Node(node as NodeId),
                None => {
                    link.session = Session::Resolving;
                    let query = Msg::DnsQuery {
                        id: link.conn,
                        name: self.config.stream,
                        viewer: 0,
                        party: None,
                    };
                    ctx.send(*dns, query, CONTROL_MESSAGE_BYTES);
                    ctx.timer_at(now + *query_timeout, Msg::DnsTimeout { id: link.conn });
                    return;
                }
            },
        };
        self.open(uplink, dest, ctx);
    }

    fn open(&mut self, uplink: usize, dest: Dest, ctx: &mut Ctx<'_, Msg>) {
        let link = &mut self.uplinks[uplink];
        link.session = Session::Connecting;
        link.dest = Some(dest);
        ctx.send(dest, Msg::Connect { conn: link.conn }, CONTROL_MESSAGE_BYTES);
        let deadline = ctx.now() + self.config.connect_timeout;
        ctx.timer_at(deadline, Msg::ConnectTimeout { attempt: link.conn });
    }

    fn connection_failed(&mut self, uplink: usize, ctx: &mut Ctx<'_, Msg>) {
        let stream = self.stream_name();
        let link = &mut self.uplinks[uplink];
        match link.reconnector.failed() {
            Some(delay) => {
                tracing::debug!(%stream, uplink, %delay, "encoder connection lost; reconnecting after backoff");
                link.session = Session::WaitingToRetry;
                let retry = Msg::RetryConnect { uplink: uplink as u32 };
                ctx.timer_at(ctx.now() + delay, retry);
            }
            None => {
                tracing::warn!(%stream, uplink, "encoder gave up reconnecting");
                link.session = Session::GaveUp;
            }
        }
        // A dual-push encoder waiting for this uplink starts on the others now.
        self.maybe_start_capture(ctx);
    }

    fn uplink_of(&self, conn: u64) -> Option<usize> {
        self.uplinks.iter().position(|u| u.conn == conn)
    }

    /// Starts capture once every uplink has connected or failed its attempt, with at
    /// least one connected. A dual-push encoder that started on its first connection
    /// would send the second pipeline a stream joined mid-GOP: that pipeline waits for
    /// the next keyframe, starts one segment later, and the origin's input selector
    /// would take the late start for a dead input.
    fn maybe_start_capture(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let pending = (self.uplinks.iter()).any(|u| matches!(u.session, Session::Connecting | Session::Resolving));
        let connected = (self.uplinks.iter()).any(|u| u.session == Session::Connected);
        if !self.capturing && connected && !pending {
            self.start_capture(ctx);
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
                recorder.frame_produced(self.config.stream as usize, frame, self.capture_time(frame));
            }
        }
        let bytes = u64::from(count) * self.config.frame_bytes;
        // A stalled encoder captures (the frames are lost) but sends nothing.
        let stalled = self.content & content::STALL != 0;
        for link in self
            .uplinks
            .iter()
            .filter(|u| u.session == Session::Connected && !stalled)
        {
            let frames = Msg::Frames {
                conn: link.conn,
                first,
                count,
                content: self.content & (content::BLACK | content::SILENT),
                stream_start: self.stream_start.expect("a capturing encoder has started its stream"),
            };
            ctx.send(link.dest.expect("connected uplinks have a destination"), frames, bytes);
        }
        self.next_frame += u64::from(count);
        let next_chunk_ready = self.capture_time(self.next_frame + u64::from(count) - 1);
        ctx.timer_at(next_chunk_ready, Msg::CaptureTick);
    }
}

impl Behavior for Encoder {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        if super::answer_liveness_scrape(&input, ctx) {
            return;
        }
        match input {
            Input::Start | Input::Restart => {
                for uplink in 0..self.uplinks.len() {
                    self.uplinks[uplink].reconnector.connected();
                    self.connect(uplink, ctx);
                }
            }
            Input::Crash => {
                self.capturing = false;
                for link in &mut self.uplinks {
                    link.session = Session::WaitingToRetry;
                }
            }
            Input::Timer(Msg::CaptureTick) if self.capturing => {
                let chunk = u64::from(self.config.chunk_frames);
                if self.capture_time(self.next_frame + chunk - 1) < ctx.now() {
                    // The tick comes late: the encoder hung (node.pause). What the
                    // camera gave meanwhile was never captured; resume on the clock.
                    self.start_capture(ctx);
                } else {
                    self.capture(ctx);
                }
            }
            Input::Timer(Msg::RetryConnect { uplink }) => {
                let uplink = uplink as usize;
                if self.uplinks[uplink].session == Session::WaitingToRetry {
                    self.connect(uplink, ctx);
                }
            }
            Input::Timer(Msg::ConnectTimeout { attempt }) => {
                if let Some(uplink) = self.uplink_of(attempt) {
                    if self.uplinks[uplink].session == Session::Connecting {
                        self.connection_failed(uplink, ctx);
                    }
                }
            }
            Input::Msg {
                msg: Msg::Accepted { conn },
                ..
            } => {
                if let Some(uplink) = self.uplink_of(conn) {
                    let link = &mut self.uplinks[uplink];
                    if link.session == Session::Connecting {
                        link.session = Session::Connected;
                        link.reconnector.connected();
                        link.last_ack = ctx.now();
                        let check = ctx.now() + self.config.ack_timeout;
                        ctx.timer_at(check, Msg::AckCheck { conn });
                        self.maybe_start_capture(ctx);
                    }
                }
            }
            Input::Msg {
                msg: Msg::DnsAnswer { id, target, ttl_ns, .. },
                ..
            } => {
                if let Some(uplink) = self.uplink_of(id) {
                    let now = ctx.now();
                    let link = &mut self.uplinks[uplink];
                    if let (Session::Resolving, UplinkTarget::Resolve { cache, .. }) = (link.session, &mut link.target)
                    {
                        let ttl = SimDuration::from_nanos(ttl_ns);
                        cache.store(
                            now,
                            Answer {
                                target: target as usize,
                                ttl,
                            },
                        );
                        self.open(uplink, Dest::Node(target), ctx);
                    }
                }
            }
            Input::Timer(Msg::DnsTimeout { id }) => {
                if let Some(uplink) = self.uplink_of(id) {
                    if self.uplinks[uplink].session == Session::Resolving {
                        self.connection_failed(uplink, ctx);
                    }
                }
            }
            Input::Msg {
                msg: Msg::Ack { conn, .. },
                ..
            } => {
                if let Some(uplink) = self.uplink_of(conn) {
                    self.uplinks[uplink].last_ack = ctx.now();
                }
            }
            Input::Timer(Msg::AckCheck { conn }) => {
                if let Some(uplink) = self.uplink_of(conn) {
                    let stalled = self.content & content::STALL != 0;
                    let link = &mut self.uplinks[uplink];
                    if stalled {
                        // Nothing is outstanding while nothing is sent: the encoder
                        // believes its connection is fine.
                        link.last_ack = ctx.now();
                    }
                    if link.session == Session::Connected {
                        let silent_until = link.last_ack + self.config.ack_timeout;
                        if silent_until <= ctx.now() {
                            tracing::debug!(stream = %self.stream_name(), uplink, "no acknowledgement; the connection is broken");
                            self.connection_failed(uplink, ctx);
                        } else {
                            ctx.timer_at(silent_until, Msg::AckCheck { conn });
                        }
                    }
                }
            }
            Input::Msg {
                msg: Msg::SetContent { bits, on },
                ..
            } => {
                if on {
                    self.content |= bits;
                } else {
                    self.content &= !bits;
                }
            }
            Input::Msg {
                msg: Msg::Reset { conn },
                ..
            } => {
                if let Some(uplink) = self.uplink_of(conn) {
                    if self.uplinks[uplink].session == Session::Connected {
                        self.connection_failed(uplink, ctx);
                    }
                }
            }
            _ => {}
        }
    }
}
