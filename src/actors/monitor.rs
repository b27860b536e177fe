//! The monitoring actor (`monitor-1`): scrapes every node of the system (the viewer
//! cohorts and all infrastructure) every `scrape_interval`, evaluates `control::alert`
//! rules on what the last scrape returned, and records alerts with their times. A node
//! that misses a scrape is detected as down at the next evaluation (Prometheus's
//! `up == 0`), which gives a time to detect to faults no health check probes, such as
//! a partitioned origin or manager. Metrics:
//! - `stream_stale_s`: seconds since the origin last published a segment; while the
//!   origin does not answer, its last answer plus the time since (the stream is not
//!   known to be fresh, and a partitioned origin feeds no edge);
//! - `viewers_stalled_ratio`: stalled ÷ watching viewers, over all cohorts;
//! - `ingest_down`: ingest servers that did not answer the previous scrape (`up == 0`);
//! - `input_content_bad`: ingest servers whose content check had failed (input lost,
//!   black or silent beyond its threshold) when they answered;
//! - `nodes_down`: infrastructure nodes (every node but the viewers and the monitor)
//!   that did not answer the previous scrape.
//!
//! Faults of the monitoring itself: `monitor.blind` (no scrape answers reach it: it
//! scrapes and evaluates nothing, so alerts neither fire nor resolve; the first round
//! after is not evaluated, as after a restart) and `monitor.delay` (a lagging pipeline:
//! every detection, firing, notification and resolution it records happens `delay`
//! later).

use crate::control::alert::{AlertEngine, AlertEvent};
use crate::sim::{Behavior, Ctx, Input, NodeId, Places};
use crate::time::{SimDuration, SimTime};

use super::{impair, Deadline, Msg, SharedRecorder, CONTROL_MESSAGE_BYTES};
pub use crate::control::alert::MonitorMetric;

/// The nodes a monitor scrapes.
pub struct ScrapeTargets {
    /// The origins, each answering with one staleness per stream.
    pub origins: Vec<NodeId>,
    pub streams: usize,
    pub cohorts: Vec<NodeId>,
    pub ingests: Vec<NodeId>,
    /// Every infrastructure node (the origin and ingests included) with its name.
    pub nodes: Vec<(NodeId, String)>,
}

pub struct Monitor {
    origins: Vec<NodeId>,
    cohorts: Vec<NodeId>,
    nodes: Vec<(NodeId, String)>,
    /// Where a scrape answer's sender stands among the nodes, origins, cohorts and
    /// ingests: a round brings one answer per edge and per cohort, each found in one step.
    node_places: Places,
    origin_places: Places,
    cohort_places: Places,
    ingest_places: Places,
    /// Per node: the last round it answered, and whether it is currently seen down.
    node_answered: Vec<u64>,
    node_down: Vec<bool>,
    scrape_interval: SimDuration,
    engine: AlertEngine,
    metrics: Vec<MonitorMetric>,
    round: u64,
    /// Per origin and stream: the staleness it last reported, and when that arrived.
    stale: Vec<Vec<(u64, SimTime)>>,
    stalled: Vec<(u64, u64)>,
    ingest_answered: Vec<u64>,
    /// Per ingest server: whether its last answer reported a content failure.
    ingest_content_bad: Vec<bool>,
    notify: Deadline,
    /// Evaluations to skip: after a restart the previous round's answers were lost.
    skip_evaluations: u32,
    recorder: SharedRecorder,
    blind: bool,
    /// The lags of the `monitor.delay` faults in force; the longest applies.
    lags: Vec<SimDuration>,
    /// Per rule, the lag its current alert fired with: its notification and
    /// resolution keep it, so they never come before the firing.
    alert_lag: Vec<SimDuration>,
}

impl Monitor {
    pub fn new(
        targets: ScrapeTargets,
        scrape_interval: SimDuration,
        engine: AlertEngine,
        metrics: Vec<MonitorMetric>,
        recorder: SharedRecorder,
    ) -> Self {
        let ScrapeTargets {
            origins,
            streams,
            cohorts,
            ingests,
            nodes,
        } = targets;
        let (n_cohorts, n_ingests, n_nodes) = (cohorts.len(), ingests.len(), nodes.len());
        let node_ids: Vec<NodeId> = nodes.iter().map(|&(id, _)| id).collect();
        Monitor {
            node_places: Places::of(&node_ids),
            origin_places: Places::of(&origins),
            cohort_places: Places::of(&cohorts),
            ingest_places: Places::of(&ingests),
            stale: vec![vec![(0, SimTime::ZERO); streams.max(1)]; origins.len()],
            origins,
            cohorts,
            nodes,
            node_answered: vec![0; n_nodes],
            node_down: vec![false; n_nodes],
            scrape_interval,
            engine,
            metrics,
            round: 0,
            stalled: vec![(0, 0); n_cohorts],
            ingest_answered: vec![0; n_ingests],
            ingest_content_bad: vec![false; n_ingests],
            notify: Deadline::default(),
            skip_evaluations: 0,
            recorder,
            blind: false,
            lags: Vec::new(),
            alert_lag: Vec::new(),
        }
    }

    /// Whether node `i` of `nodes` missed the scrape of the round before this one.
    fn missed(&self, i: usize) -> bool {
        self.node_answered[i] < self.round
    }

    fn value(&self, metric: MonitorMetric, now: SimTime) -> f64 {
        match metric {
            // The stalest stream, each as fresh as its freshest origin. An origin that
            // missed the last scrape ages by the time since its last answer.
            MonitorMetric::StreamStale => {
                let aged = |o: usize, stream: usize| {
                    let (stale_ns, reported_at) = self.stale[o][stream];
                    let missed = (self.node_places.get(self.origins[o])).is_some_and(|i| self.missed(i));
                    let unanswered = if missed {
                        now.saturating_since(reported_at).as_nanos()
                    } else {
                        0
                    };
                    stale_ns + unanswered
                };
                let streams = self.stale.first().map_or(0, Vec::len);
                let stalest = (0..streams)
                    .map(|k| (0..self.origins.len()).map(|o| aged(o, k)).min().unwrap_or(0))
                    .max()
                    .unwrap_or(0);
                stalest as f64 / 1e9
            }
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
            MonitorMetric::NodesDown => (0..self.nodes.len()).filter(|&i| self.missed(i)).count() as f64,
        }
    }

    /// How late the monitoring pipeline is now.
    fn lag(&self) -> SimDuration {
        self.lags.iter().copied().max().unwrap_or(SimDuration::ZERO)
    }

    fn record_events(&mut self) {
        let lag = self.lag();
        if self.alert_lag.len() < self.engine.rules().len() {
            self.alert_lag.resize(self.engine.rules().len(), SimDuration::ZERO);
        }
        while let Some(event) = self.engine.poll_event() {
            let mut recorder = self.recorder.borrow_mut();
            match event {
                AlertEvent::Fired { rule, since, at } => {
                    let name = &self.engine.rules()[rule].name;
                    tracing::info!(alert = %name, "alert fired");
                    self.alert_lag[rule] = lag;
                    recorder.alert_fired(name, since, at + lag);
                }
                AlertEvent::Notified { rule, at } => {
                    recorder.alert_notified(&self.engine.rules()[rule].name, at + self.alert_lag[rule])
                }
                AlertEvent::Resolved { rule, at } => {
                    recorder.alert_resolved(&self.engine.rules()[rule].name, at + self.alert_lag[rule])
                }
            }
        }
    }

    /// Records a detection for each node that has just gone silent.
    fn detect_silent_nodes(&mut self, now: SimTime) {
        for i in 0..self.nodes.len() {
            let missed = self.missed(i);
            if missed && !self.node_down[i] {
                let name = &self.nodes[i].1;
                tracing::info!(node = %name, "monitor: node missed its scrape");
                self.recorder.borrow_mut().detected(
                    name,
                    "monitor-1 scrape",
                    now + self.lags.iter().copied().max().unwrap_or_default(),
                );
            }
            self.node_down[i] = missed;
        }
    }

    fn scrape(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        if self.blind {
            ctx.timer_at(now + self.scrape_interval, Msg::ScrapeTick);
            return;
        }
        // Rules see what the previous round returned (no answer counts as down).
        if self.skip_evaluations > 0 {
            self.skip_evaluations -= 1;
        } else if self.round > 0 {
            self.detect_silent_nodes(now);
            for rule in 0..self.metrics.len() {
                let value = self.value(self.metrics[rule], now);
                self.engine.handle_sample(now, rule, value);
            }
        }
        self.round += 1;
        let round = self.round;
        let targets = (self.cohorts.iter().copied()).chain(self.nodes.iter().map(|&(id, _)| id));
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
            Input::Msg {
                msg: Msg::Impair { what, on, delay_ns },
                ..
            } => match what {
                impair::MONITOR_BLIND => {
                    self.blind = on;
                    if !on {
                        // The round in flight when it went blind is lost.
                        self.skip_evaluations = 1;
                    }
                }
                impair::MONITOR_DELAY => {
                    let lag = SimDuration::from_nanos(delay_ns);
                    if on {
                        self.lags.push(lag);
                    } else if let Some(i) = self.lags.iter().position(|&l| l == lag) {
                        self.lags.remove(i);
                    }
                }
                _ => {}
            },
            Input::Msg {
                msg: Msg::ScrapeReply { .. },
                ..
            } if self.blind => return,
            Input::Timer(Msg::ControlTimer) => {
                if self.notify.fire(ctx.now()) {
                    self.engine.handle_timeout(ctx.now());
                }
            }
            Input::Msg {
                from,
                msg: Msg::ScrapeReply { round, a, b },
            } => {
                if let Some(i) = self.node_places.get(from) {
                    self.node_answered[i] = self.node_answered[i].max(round);
                }
                if let Some(o) = self.origin_places.get(from) {
                    // `b` names the stream the staleness is for.
                    if let Some(slot) = self.stale[o].get_mut(b as usize) {
                        *slot = (a, ctx.now());
                    }
                } else if let Some(i) = self.cohort_places.get(from) {
                    self.stalled[i] = (a, b);
                } else if let Some(i) = self.ingest_places.get(from) {
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
