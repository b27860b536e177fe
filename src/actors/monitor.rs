//! The monitoring actor (`monitor-1`): scrapes the origin, the viewer cohorts and the
//! ingest servers every `scrape_interval`, evaluates `control::alert` rules on what the
//! last scrape returned, and records alerts with their times. Metrics:
//! - `stream_stale_s`: seconds since the origin last published a segment;
//! - `viewers_stalled_ratio`: stalled ÷ watching viewers, over all cohorts;
//! - `ingest_down`: ingest servers that did not answer the previous scrape (`up == 0`);
//! - `input_content_bad`: ingest servers whose content check had failed (input lost,
//!   black or silent beyond its threshold) when they answered.

use crate::control::alert::{AlertEngine, AlertEvent};
use crate::sim::{Behavior, Ctx, Input, NodeId};
use crate::time::SimDuration;

use super::{Deadline, Msg, SharedRecorder, CONTROL_MESSAGE_BYTES};

/// A metric the monitor can evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorMetric {
    StreamStale,
    ViewersStalledRatio,
    IngestDown,
    InputContentBad,
}

impl MonitorMetric {
    pub fn by_name(name: &str) -> Option<MonitorMetric> {
        match name {
            "stream_stale_s" => Some(MonitorMetric::StreamStale),
            "viewers_stalled_ratio" => Some(MonitorMetric::ViewersStalledRatio),
            "ingest_down" => Some(MonitorMetric::IngestDown),
            "input_content_bad" => Some(MonitorMetric::InputContentBad),
            _ => None,
        }
    }

    pub const NAMES: &'static [&'static str] = &[
        "stream_stale_s",
        "viewers_stalled_ratio",
        "ingest_down",
        "input_content_bad",
    ];
}

pub struct Monitor {
    origin: NodeId,
    cohorts: Vec<NodeId>,
    ingests: Vec<NodeId>,
    scrape_interval: SimDuration,
    engine: AlertEngine,
    metrics: Vec<MonitorMetric>,
    round: u64,
    stale_ns: u64,
    stalled: Vec<(u64, u64)>,
    ingest_answered: Vec<u64>,
    /// Per ingest server: whether its last answer reported a content failure.
    ingest_content_bad: Vec<bool>,
    notify: Deadline,
    /// Evaluations to skip: after a restart the previous round's answers were lost.
    skip_evaluations: u32,
    recorder: SharedRecorder,
}

impl Monitor {
    pub fn new(
        origin: NodeId,
        cohorts: Vec<NodeId>,
        ingests: Vec<NodeId>,
        scrape_interval: SimDuration,
        engine: AlertEngine,
        metrics: Vec<MonitorMetric>,
        recorder: SharedRecorder,
    ) -> Self {
        let (n_cohorts, n_ingests) = (cohorts.len(), ingests.len());
        Monitor {
            origin,
            cohorts,
            ingests,
            scrape_interval,
            engine,
            metrics,
            round: 0,
            stale_ns: 0,
            stalled: vec![(0, 0); n_cohorts],
            ingest_answered: vec![0; n_ingests],
            ingest_content_bad: vec![false; n_ingests],
            notify: Deadline::default(),
            skip_evaluations: 0,
            recorder,
        }
    }

    fn value(&self, metric: MonitorMetric) -> f64 {
        match metric {
            MonitorMetric::StreamStale => self.stale_ns as f64 / 1e9,
            MonitorMetric::ViewersStalledRatio => {
                let (stalled, watching) = self.stalled.iter().fold((0, 0), |(s, w), &(cs, cw)| (s + cs, w + cw));
                if watching == 0 {
                    0.0
                } else {
                    stalled as f64 / watching as f64
                }
            }
            MonitorMetric::IngestDown => self.ingest_answered.iter().filter(|&&r| r < self.round).count() as f64,
            MonitorMetric::InputContentBad => self.ingest_content_bad.iter().filter(|&&bad| bad).count() as f64,
        }
    }

    fn record_events(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            let mut recorder = self.recorder.borrow_mut();
            match event {
                AlertEvent::Fired { rule, since, at } => {
                    let name = &self.engine.rules()[rule].name;
                    tracing::info!(alert = %name, "alert fired");
                    recorder.alert_fired(name, since, at);
                }
                AlertEvent::Notified { rule, at } => recorder.alert_notified(&self.engine.rules()[rule].name, at),
                AlertEvent::Resolved { rule, at } => recorder.alert_resolved(&self.engine.rules()[rule].name, at),
            }
        }
    }

    fn scrape(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        // Rules see what the previous round returned (no answer counts as down).
        if self.skip_evaluations > 0 {
            self.skip_evaluations -= 1;
        } else if self.round > 0 {
            for rule in 0..self.metrics.len() {
                let value = self.value(self.metrics[rule]);
                self.engine.handle_sample(now, rule, value);
            }
        }
        self.round += 1;
        let round = self.round;
        let targets = std::iter::once(self.origin)
            .chain(self.cohorts.iter().copied())
            .chain(self.ingests.iter().copied());
        for target in targets {
            ctx.send(target, Msg::Scrape { round }, CONTROL_MESSAGE_BYTES);
        }
        ctx.timer_at(now + self.scrape_interval, Msg::ScrapeTick);
    }
}

impl Behavior for Monitor {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        match input {
            Input::Start => {
                ctx.timer_at(ctx.now() + self.scrape_interval, Msg::ScrapeTick);
            }
            // The scrape and notification timers died with the crash; the round whose
            // answers were lost is not evaluated.
            Input::Restart => {
                self.notify.clear();
                self.skip_evaluations = 1;
                ctx.timer_at(ctx.now() + self.scrape_interval, Msg::ScrapeTick);
            }
            Input::Timer(Msg::ScrapeTick) => self.scrape(ctx),
            Input::Timer(Msg::ControlTimer) => {
                if self.notify.fire(ctx.now()) {
                    self.engine.handle_timeout(ctx.now());
                }
            }
            Input::Msg {
                from,
                msg: Msg::ScrapeReply { round, a, b },
            } => {
                if from == self.origin {
                    self.stale_ns = a;
                } else if let Some(i) = self.cohorts.iter().position(|&c| c == from) {
                    self.stalled[i] = (a, b);
                } else if let Some(i) = self.ingests.iter().position(|&n| n == from) {
                    self.ingest_answered[i] = self.ingest_answered[i].max(round);
                    self.ingest_content_bad[i] = b != 0;
                }
                return;
            }
            _ => return,
        }
        self.record_events();
        let next = self.engine.poll_timeout();
        self.notify.arm(next, ctx, Msg::ControlTimer);
    }
}
