//! Carries out the plan's faults: each [`PlannedFault`]'s action on its targets at its
//! start, undone at its end, as kernel actions or messages to the nodes. A fault that
//! waits for an event is scheduled by the kernel's window hook once the event happens.

use std::cell::RefCell;
use std::rc::Rc;

use crate::metrics::{Milestone, MilestoneListener};
use crate::plan::{ContentFault, FaultAction, FaultStart, Impairment, NodeFault, PlannedFault};
use crate::sim::{Degradation, Kernel, KernelAction, NodeId, Partition, Scheduled};
use crate::time::{SimDuration, SimTime};

use super::super::{content, impair, Msg, SharedRecorder};

/// Where scheduled faults go: the kernel before the run, or a triggered fault's list
/// for the kernel's window hook during it.
trait FaultSink {
    fn action(&mut self, at: SimTime, action: KernelAction);
    fn message(&mut self, at: SimTime, node: NodeId, msg: Msg);
}

impl FaultSink for Kernel<Msg> {
    fn action(&mut self, at: SimTime, action: KernelAction) {
        self.schedule_action(at, action);
    }
    fn message(&mut self, at: SimTime, node: NodeId, msg: Msg) {
        self.schedule_message(at, node, msg);
    }
}

impl FaultSink for Vec<Scheduled<Msg>> {
    fn action(&mut self, at: SimTime, action: KernelAction) {
        self.push(Scheduled::Action(at, action));
    }
    fn message(&mut self, at: SimTime, node: NodeId, msg: Msg) {
        self.push(Scheduled::Message(at, node, msg));
    }
}

/// The milestones reached in the current window, each stamped with the instant the
/// kernel was handling when it was reached: the times events carry can be earlier (a
/// health check's probe deadline), and a trigger must fire after it was seen, the same
/// whatever the dispatch mode.
#[derive(Debug, Default)]
struct Heard(Vec<(Milestone, SimTime)>);

impl MilestoneListener for Heard {
    fn reached(&mut self, milestone: Milestone, _at: SimTime) {
        self.0.push((milestone, crate::sim::current_time()));
    }
}

/// Schedules every fault of the plan: those with a start now, those waiting for an
/// event through the kernel's window hook.
pub(super) fn schedule_faults(
    kernel: &mut Kernel<Msg>,
    faults: &[PlannedFault],
    lookahead: SimDuration,
    recorder: &SharedRecorder,
) {
    let mut waiting: Vec<(PlannedFault, bool)> = Vec::new();
    for fault in faults {
        match fault.start {
            FaultStart::At(at) => schedule(kernel, fault, at),
            FaultStart::On { .. } => waiting.push((fault.clone(), false)),
        }
    }
    if waiting.is_empty() {
        return;
    }
    let heard = Rc::new(RefCell::new(Heard::default()));
    recorder.borrow_mut().listener = Some(heard.clone());
    let recorder = recorder.clone();
    // A triggered fault starts `after` its milestone, and no sooner than a lookahead
    // after it: the kernel hears of it at the end of the window it happened in.
    kernel.set_window_hook(Box::new(move || {
        let mut events = std::mem::take(&mut heard.borrow_mut().0);
        // In the order they happened: a window's actors are handled in no time order.
        events.sort_by_key(|&(_, at)| at);
        let mut scheduled: Vec<Scheduled<Msg>> = Vec::new();
        for (event, at) in events {
            for (fault, fired) in waiting.iter_mut().filter(|(_, fired)| !fired) {
                let FaultStart::On {
                    event: wanted,
                    not_before,
                    after,
                } = &fault.start
                else {
                    continue;
                };
                if *wanted != event || at < *not_before {
                    continue;
                }
                *fired = true;
                let onset = at + (*after).max(lookahead);
                tracing::info!(fault = %fault.id, %event, %onset, "triggered fault");
                schedule(&mut scheduled, fault, onset);
                recorder.borrow_mut().faults.extend(fault.records(onset));
            }
        }
        scheduled
    }));
}

/// Schedules `fault` from `at` on every node it names: one action per target (a
/// partition: one for all). Its network changes are named by its place among the
/// run's faults and the target's place among its targets.
fn schedule(sink: &mut impl FaultSink, fault: &PlannedFault, at: SimTime) {
    let until = fault.duration.map(|d| at + d);
    match fault.action {
        FaultAction::Partition { one_way } => {
            let id = (fault.index as u64) << 16;
            let partition = Partition {
                side_a: fault.targets.iter().map(|&(_, id)| id).collect(),
                side_b: fault.other.iter().copied().collect(),
                one_way,
            };
            sink.action(at, KernelAction::Partition { id, partition });
            if let Some(until) = until {
                sink.action(until, KernelAction::Heal { id });
            }
        }
        FaultAction::OnEachTarget(change) => {
            for (t, &(_, target)) in fault.targets.iter().enumerate() {
                let id = (fault.index as u64) << 16 | t as u64;
                apply(sink, change, id, target, at, until);
            }
        }
    }
}

/// Schedules `change` on `target`; `id` names its network degradation.
fn apply(sink: &mut impl FaultSink, change: NodeFault, id: u64, target: NodeId, at: SimTime, until: Option<SimTime>) {
    let mut both = |start: Msg, end: Msg| {
        sink.message(at, target, start);
        if let Some(until) = until {
            sink.message(until, target, end);
        }
    };
    match change {
        NodeFault::Content(what) => {
            let bits = match what {
                ContentFault::Black => content::BLACK,
                ContentFault::Silent => content::SILENT,
                ContentFault::Stall => content::STALL,
            };
            both(Msg::SetContent { bits, on: true }, Msg::SetContent { bits, on: false });
        }
        NodeFault::EdgeCapacity { during_bps, normal_bps } => {
            both(
                Msg::SetCapacity { bps: during_bps },
                Msg::SetCapacity { bps: normal_bps },
            );
        }
        NodeFault::StreamCapacity { during, normal } => {
            both(
                Msg::SetStreamCapacity { streams: during },
                Msg::SetStreamCapacity { streams: normal },
            );
        }
        NodeFault::Impair { what, delay } => {
            let what = match what {
                Impairment::DnsOutage => impair::DNS_OUTAGE,
                Impairment::DnsStale => impair::DNS_STALE,
                Impairment::LbDataPlane => impair::LB_DATA_PLANE,
                Impairment::MonitorDelay => impair::MONITOR_DELAY,
                Impairment::MonitorBlind => impair::MONITOR_BLIND,
            };
            let delay_ns = delay.as_nanos();
            both(
                Msg::Impair {
                    what,
                    on: true,
                    delay_ns,
                },
                Msg::Impair {
                    what,
                    on: false,
                    delay_ns,
                },
            );
        }
        NodeFault::ClockDrift { ppm } => {
            both(
                Msg::SetClockDrift { drift_ppm: ppm },
                Msg::SetClockDrift { drift_ppm: 0 },
            );
        }
        NodeFault::Crash => actions(
            sink,
            at,
            until,
            KernelAction::Crash(target),
            KernelAction::Restart(target),
        ),
        NodeFault::Pause => actions(
            sink,
            at,
            until,
            KernelAction::Pause(target),
            KernelAction::Resume(target),
        ),
        NodeFault::Degrade(d) => {
            let degradation = Degradation {
                node: target,
                extra_latency: d.extra_latency,
                extra_jitter: d.extra_jitter,
                loss: d.loss,
                burst: d.burst,
                bandwidth_bps: d.bandwidth_bps,
                outbound_only: d.outbound_only,
            };
            actions(
                sink,
                at,
                until,
                KernelAction::Degrade { id, degradation },
                KernelAction::Restore { id },
            );
        }
    }
}

/// `start` at `at`, `end` at `until` if the fault ends.
fn actions(sink: &mut impl FaultSink, at: SimTime, until: Option<SimTime>, start: KernelAction, end: KernelAction) {
    sink.action(at, start);
    if let Some(until) = until {
        sink.action(until, end);
    }
}
