//! The stream manager actor: probes the ingest servers with `control::health`, feeds
//! health changes to `control::failover`, and carries out each switch by moving the
//! ingest address (a floating IP) to the promoted server.

use crate::control::failover::ActivePassive;
use crate::control::health::{Health, HealthChecker};
use crate::sim::{Behavior, Ctx, Input, KernelAction, NodeId};
use crate::time::{SimDuration, SimTime};

use super::{Msg, SharedRecorder, CONTROL_MESSAGE_BYTES};

pub struct Manager {
    targets: Vec<NodeId>,
    names: Vec<String>,
    vip: u32,
    switch_delay: SimDuration,
    health: HealthChecker,
    policy: ActivePassive,
    detected_at: Vec<Option<SimTime>>,
    timer: Option<SimTime>,
    recorder: SharedRecorder,
}

impl Manager {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        targets: Vec<NodeId>,
        names: Vec<String>,
        vip: u32,
        switch_delay: SimDuration,
        health: HealthChecker,
        policy: ActivePassive,
        recorder: SharedRecorder,
    ) -> Self {
        let n = targets.len();
        Manager {
            targets,
            names,
            vip,
            switch_delay,
            health,
            policy,
            detected_at: vec![None; n],
            timer: None,
            recorder,
        }
    }

    /// Carries out whatever the control logic now wants, and re-arms the timer.
    fn pump(&mut self, ctx: &mut Ctx<'_, Msg>) {
        while let Some(probe) = self.health.poll_probe() {
            ctx.send(
                self.targets[probe.target],
                Msg::Probe { id: probe.probe_id },
                CONTROL_MESSAGE_BYTES,
            );
        }
        while let Some(event) = self.health.poll_event() {
            tracing::debug!(target_node = %self.names[event.target], health = ?event.health, "health changed");
            if event.health == Health::Down {
                self.detected_at[event.target] = Some(event.at);
                self.recorder.borrow_mut().detected(&self.names[event.target], event.at);
            }
            self.policy.handle_health(ctx.now(), event.target, event.health);
        }
        while let Some(switch) = self.policy.poll_switch() {
            let effective = ctx.now() + self.switch_delay;
            tracing::info!(from = %self.names[switch.from], to = %self.names[switch.to], "ingest failover");
            ctx.kernel_action(
                self.switch_delay,
                KernelAction::MoveVip {
                    vip: self.vip,
                    to: Some(self.targets[switch.to]),
                },
            );
            let detected = self.detected_at[switch.from].unwrap_or(ctx.now());
            self.recorder
                .borrow_mut()
                .switched(&self.names[switch.from], &self.names[switch.to], detected, effective);
        }
        let next = [self.health.poll_timeout(), self.policy.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        if let Some(next) = next {
            if self.timer != Some(next) {
                ctx.timer_at(next.max(ctx.now()), Msg::ControlTimer);
                self.timer = Some(next);
            }
        }
    }
}

impl Behavior for Manager {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        match input {
            Input::Start => {}
            Input::Timer(Msg::ControlTimer) => {
                if self.timer.is_some_and(|t| t <= ctx.now()) {
                    self.timer = None;
                    self.health.handle_timeout(ctx.now());
                    self.policy.handle_timeout(ctx.now());
                }
            }
            Input::Msg {
                from,
                msg: Msg::ProbeAck { id },
            } => {
                if let Some(target) = self.targets.iter().position(|&t| t == from) {
                    self.health.handle_response(ctx.now(), target, id);
                }
            }
            _ => return,
        }
        self.pump(ctx);
    }
}
