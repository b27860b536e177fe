//! The kernel's contract, on small hand-built worlds: ordering (including same-instant
//! effects), crash and restart, partitions, and floating addresses.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use failcast::sim::{
    run_in_system, Behavior, Ctx, Dest, Dispatch, Input, Kernel, KernelAction, LinkSpec, Network, NodeId, Partition,
    TraceMsg,
};
use failcast::time::{SimDuration, SimTime};

#[derive(Debug, Clone, PartialEq)]
enum Note {
    Ping(u32),
    Tick(u32),
}

impl TraceMsg for Note {
    fn kind(&self) -> &'static str {
        match self {
            Note::Ping(_) => "ping",
            Note::Tick(_) => "tick",
        }
    }
    fn digest(&self) -> u64 {
        match self {
            Note::Ping(n) | Note::Tick(n) => u64::from(*n),
        }
    }
}

type Log = Rc<RefCell<Vec<(SimTime, String, String)>>>;

/// Logs every input; on a ping, answers with a same-instant tick to itself and, while
/// `fanout` lasts, pings every peer after 1 ms.
struct Probe {
    name: &'static str,
    peers: Vec<NodeId>,
    fanout: u32,
    log: Log,
}

impl Behavior for Probe {
    type Msg = Note;
    fn handle(&mut self, input: Input<Note>, ctx: &mut Ctx<'_, Note>) {
        let what = match &input {
            Input::Start => "start".to_string(),
            Input::Msg { msg, from } => format!("{msg:?} from {from}"),
            Input::Timer(msg) => format!("timer {msg:?}"),
            Input::Crash => "crash".into(),
            Input::Restart => "restart".into(),
            Input::Finish => "finish".into(),
            Input::Vip { held, .. } => format!("vip held={held}"),
        };
        self.log.borrow_mut().push((ctx.now(), self.name.to_string(), what));
        match input {
            Input::Start if self.name == "b" => {
                for &peer in &self.peers {
                    ctx.send(peer, Note::Ping(0), 100);
                }
            }
            Input::Msg { msg: Note::Ping(n), .. } => {
                ctx.timer_at(ctx.now(), Note::Tick(n));
                if n < self.fanout {
                    for &peer in &self.peers {
                        ctx.send(peer, Note::Ping(n + 1), 100);
                    }
                }
            }
            _ => {}
        }
    }
}

fn world(dispatch: Dispatch, faults: Vec<(SimTime, KernelAction)>) -> (String, Vec<(SimTime, String, String)>) {
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let log_in = log.clone();
    let digest = run_in_system(|| async move {
        let link = LinkSpec {
            latency: SimDuration::from_millis(1),
            ..LinkSpec::default()
        };
        let mut kernel: Kernel<Note> = Kernel::new(Network::new(9, link), SimTime::from_millis(10), dispatch, false);
        // a (id 1) and c (id 3) answer b (id 2): b's pings reach a and c at the same instant.
        for (name, peers) in [("a", vec![2]), ("b", vec![1, 3]), ("c", vec![2])] {
            let probe = Probe {
                name,
                peers,
                fanout: 6,
                log: log_in.clone(),
            };
            kernel.spawn(name, 0, probe);
        }
        for (at, action) in faults {
            kernel.schedule_action(at, action);
        }
        kernel.run().await.unwrap().trace_digest
    });
    let entries = log.borrow().clone();
    (digest, entries)
}

fn window() -> Dispatch {
    Dispatch::Window {
        lookahead: SimDuration::from_millis(1),
    }
}

#[test]
fn same_instant_effects_follow_their_cause_in_both_modes() {
    let (strict_digest, strict_log) = world(Dispatch::Strict, vec![]);
    let (window_digest, window_log) = world(window(), vec![]);
    assert_eq!(strict_digest, window_digest);
    let per_node = |log: &[(SimTime, String, String)], node: &str| -> Vec<(SimTime, String)> {
        log.iter()
            .filter(|(_, n, _)| n == node)
            .map(|(t, _, w)| (*t, w.clone()))
            .collect()
    };
    for node in ["a", "b", "c"] {
        assert_eq!(per_node(&strict_log, node), per_node(&window_log, node), "node {node}");
    }
    // b gets pings from a (id 1) and c (id 3) at 2 ms; each tick follows its own ping.
    let b: Vec<String> = per_node(&strict_log, "b")
        .into_iter()
        .filter(|(t, _)| *t == SimTime::from_millis(2))
        .map(|(_, w)| w)
        .collect();
    assert_eq!(
        b,
        ["Ping(1) from 1", "Ping(1) from 3", "timer Tick(1)", "timer Tick(1)"]
    );
}

#[test]
fn crash_drops_messages_and_timers_and_restart_resumes() {
    let faults = vec![
        (SimTime::from_micros_ms(1_500), KernelAction::Crash(1)),
        (SimTime::from_millis(4), KernelAction::Restart(1)),
    ];
    for dispatch in [Dispatch::Strict, window()] {
        let (_, log) = world(dispatch, faults.clone());
        let a: Vec<(SimTime, String)> = log
            .iter()
            .filter(|(_, n, _)| n == "a")
            .map(|(t, _, w)| (*t, w.clone()))
            .collect();
        assert_eq!(a[0], (SimTime::ZERO, "start".into()));
        assert_eq!(a[1].1, "Ping(0) from 2");
        assert_eq!(a[3], (SimTime::from_micros_ms(1_500), "crash".into()));
        // Nothing while down: b's ping at 3 ms is lost. Restart at 4 ms.
        assert_eq!(a[4], (SimTime::from_millis(4), "restart".into()));
        assert!(a
            .iter()
            .all(|(t, w)| !(w.starts_with("Ping") && *t == SimTime::from_millis(3))));
    }
}

#[test]
fn a_paused_node_handles_its_backlog_at_resume_and_a_crash_discards_it() {
    let pause = vec![
        (SimTime::from_micros_ms(1_500), KernelAction::Pause(2)),
        (SimTime::from_millis(4), KernelAction::Resume(2)),
    ];
    let b_log = |log: &[(SimTime, String, String)]| -> Vec<(SimTime, String)> {
        log.iter()
            .filter(|(_, n, _)| n == "b")
            .map(|(t, _, w)| (*t, w.clone()))
            .collect()
    };
    let (strict_digest, strict) = world(Dispatch::Strict, pause.clone());
    let (window_digest, windowed) = world(window(), pause);
    assert_eq!(strict_digest, window_digest);
    assert_eq!(b_log(&strict), b_log(&windowed));
    let b = b_log(&strict);
    // Nothing reaches b while it hangs; at 4 ms its backlog arrives: the pings a and c
    // sent for 2 ms (a first: sender order), then the ticks they cause.
    assert!(b
        .iter()
        .all(|(t, _)| *t <= SimTime::from_micros_ms(1_500) || *t >= SimTime::from_millis(4)));
    let at_resume: Vec<&str> = (b.iter())
        .filter(|(t, _)| *t == SimTime::from_millis(4))
        .map(|(_, w)| w.as_str())
        .collect();
    assert_eq!(
        at_resume,
        ["Ping(1) from 1", "Ping(1) from 3", "timer Tick(1)", "timer Tick(1)"]
    );
    // A crash during the pause discards the backlog: b restarts with nothing queued.
    let crash = vec![
        (SimTime::from_micros_ms(1_500), KernelAction::Pause(2)),
        (SimTime::from_millis(3), KernelAction::Crash(2)),
        (SimTime::from_millis(4), KernelAction::Restart(2)),
    ];
    let (_, log) = world(window(), crash);
    let b = b_log(&log);
    let after: Vec<&str> = (b.iter())
        .filter(|(t, _)| *t > SimTime::from_micros_ms(1_500) && *t <= SimTime::from_millis(4))
        .map(|(_, w)| w.as_str())
        .collect();
    assert_eq!(after, ["crash", "restart"]);
}

#[test]
fn partitions_cut_both_ways_until_healed() {
    let partition = Partition {
        side_a: BTreeSet::from([3]),
        side_b: BTreeSet::new(),
        one_way: false,
    };
    let faults = vec![
        (SimTime::ZERO, KernelAction::Partition { id: 1, partition }),
        (SimTime::from_millis(3), KernelAction::Heal { id: 1 }),
    ];
    let (_, log) = world(window(), faults);
    let c_pings: Vec<SimTime> = log
        .iter()
        .filter(|(_, n, w)| n == "c" && w.starts_with("Ping"))
        .map(|(t, _, _)| *t)
        .collect();
    // b's pings to c at 1 ms and 3 ms (sent at 2 ms) are cut; none gets through before the heal.
    assert!(!c_pings.is_empty(), "pings reach c after the heal");
    assert!(c_pings.iter().all(|&t| t > SimTime::from_millis(3)), "{c_pings:?}");
}

struct Sink {
    got: Rc<RefCell<Vec<(SimTime, NodeId)>>>,
}
impl Behavior for Sink {
    type Msg = Note;
    fn handle(&mut self, input: Input<Note>, ctx: &mut Ctx<'_, Note>) {
        if let Input::Msg { .. } = input {
            self.got.borrow_mut().push((ctx.now(), ctx.me()));
        }
    }
}
struct Sender {
    vip: u32,
}
impl Behavior for Sender {
    type Msg = Note;
    fn handle(&mut self, input: Input<Note>, ctx: &mut Ctx<'_, Note>) {
        if matches!(input, Input::Start | Input::Timer(_)) {
            ctx.send(Dest::Vip(self.vip), Note::Ping(0), 10);
            if ctx.now() < SimTime::from_millis(5) {
                ctx.timer_at(ctx.now() + SimDuration::from_millis(1), Note::Tick(0));
            }
        }
    }
}

#[test]
fn a_floating_address_delivers_to_its_holder_at_arrival() {
    let got = Rc::new(RefCell::new(Vec::new()));
    let got_in = got.clone();
    run_in_system(|| async move {
        let mut net = Network::new(1, LinkSpec::default());
        let vip = net.add_vip(0, Some(2));
        let mut kernel: Kernel<Note> = Kernel::new(net, SimTime::from_millis(10), window(), false);
        kernel.spawn("sender", 0, Sender { vip });
        kernel.spawn("x", 0, Sink { got: got_in.clone() });
        kernel.spawn("y", 0, Sink { got: got_in.clone() });
        kernel.schedule_action(
            SimTime::from_micros_ms(2_500),
            KernelAction::MoveVip { vip, to: Some(3) },
        );
        kernel.run().await.unwrap();
    });
    // Sent every 1 ms from 0, arriving 1 ms later: before 2.5 ms at x (2), after at y (3).
    let expected: Vec<(SimTime, NodeId)> = (1..=6)
        .map(|ms| (SimTime::from_millis(ms), if ms <= 2 { 2 } else { 3 }))
        .collect();
    assert_eq!(*got.borrow(), expected);
}

trait MicrosMs {
    fn from_micros_ms(us: u64) -> SimTime;
}
impl MicrosMs for SimTime {
    /// Microseconds, for readability in timelines given in ms (1_500 = 1.5 ms).
    fn from_micros_ms(us: u64) -> SimTime {
        SimTime::from_nanos(us * 1_000)
    }
}

struct Spinner;
impl Behavior for Spinner {
    type Msg = Note;
    fn handle(&mut self, _input: Input<Note>, ctx: &mut Ctx<'_, Note>) {
        // A bug that never lets time advance.
        ctx.timer_at(ctx.now(), Note::Tick(0));
    }
}

#[test]
fn a_livelock_is_reported_not_hung() {
    for dispatch in [Dispatch::Strict, window()] {
        let result = run_in_system(|| async move {
            let mut kernel: Kernel<Note> = Kernel::new(
                Network::new(1, LinkSpec::default()),
                SimTime::from_secs(1),
                dispatch,
                false,
            );
            kernel.spawn("spinner", 0, Spinner);
            kernel.run().await
        });
        let error = result.expect_err("a livelock must stop the run").to_string();
        assert!(error.contains("livelock") && error.contains("spinner"), "{error}");
    }
}

/// The model runs on virtual time only: a tokio timer anywhere inside a run panics
/// rather than waiting on the wall clock.
#[test]
#[should_panic(expected = "timers are disabled")]
fn a_tokio_timer_inside_a_run_panics() {
    failcast::sim::run_in_system(|| async {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    });
}

/// Sends two pings, to arrive inside one dispatch window (at 1.0 and 1.6 ms).
struct TwoPings {
    to: NodeId,
}
impl Behavior for TwoPings {
    type Msg = Note;
    fn handle(&mut self, input: Input<Note>, ctx: &mut Ctx<'_, Note>) {
        if let Input::Start = input {
            ctx.schedule(self.to, SimDuration::from_millis(1), Note::Ping(1));
            ctx.schedule(self.to, SimDuration::from_nanos(1_600_000), Note::Ping(2));
        }
    }
}

/// Logs what it gets; the first ping sets a timer 0.3 ms later, between the two.
struct TimerBetween {
    got: Rc<RefCell<Vec<(SimTime, String)>>>,
}
impl Behavior for TimerBetween {
    type Msg = Note;
    fn handle(&mut self, input: Input<Note>, ctx: &mut Ctx<'_, Note>) {
        match input {
            Input::Msg { msg, .. } => {
                self.got.borrow_mut().push((ctx.now(), format!("{msg:?}")));
                if msg == Note::Ping(1) {
                    ctx.timer_at(ctx.now() + SimDuration::from_micros(300), Note::Tick(1));
                }
            }
            Input::Timer(msg) => self.got.borrow_mut().push((ctx.now(), format!("timer {msg:?}"))),
            _ => {}
        }
    }
}

#[test]
fn a_timer_set_inside_a_window_comes_before_later_inputs_of_that_window() {
    for dispatch in [Dispatch::Strict, window()] {
        let got = Rc::new(RefCell::new(Vec::new()));
        let got_in = got.clone();
        run_in_system(|| async move {
            let mut kernel: Kernel<Note> = Kernel::new(
                Network::new(1, LinkSpec::default()),
                SimTime::from_millis(5),
                dispatch,
                false,
            );
            kernel.spawn("sender", 0, TwoPings { to: 2 });
            kernel.spawn("receiver", 0, TimerBetween { got: got_in });
            kernel.run().await.unwrap();
        });
        let expected = [
            (SimTime::from_micros_ms(1_000), "Ping(1)".to_string()),
            (SimTime::from_micros_ms(1_300), "timer Tick(1)".to_string()),
            (SimTime::from_micros_ms(1_600), "Ping(2)".to_string()),
        ];
        assert_eq!(*got.borrow(), expected, "{dispatch:?}");
    }
}
