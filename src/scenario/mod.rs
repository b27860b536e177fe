//! Scenario files: the TOML schema with its defaults, loading with `--set` overrides,
//! and validation that reports every problem with file, line, column and a fix.
//!
//! Defaults are published ones (OBS reconnect, hls.js, HLS authoring spec), listed with
//! their sources in docs/model.md, "Published facts and sources";
//! every one can be overridden in the file or with `--set`.

pub mod chaos;
pub mod diag;
mod include;
mod overrides;
pub mod select;
pub mod source;
mod validate;
pub mod workload;

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use diag::{Diagnostic, Diagnostics};
use include::Sources;
pub use source::{LoadOptions, MAX_SCENARIO_BYTES};

use crate::time::SimDuration;

/// A duration written with its unit in a scenario (`"500ms"`, `"2s"`, `"30m"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Dur(pub SimDuration);

impl JsonSchema for Dur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration with its unit: \"500ms\", \"2s\", \"10m\", \"1h\", or a sum such as \"1h30m\" (units ns, us, ms, s, m or min, h, d).",
            "pattern": "^\\s*([0-9]*\\.?[0-9]+\\s*(ns|us|µs|ms|s|min|m|h|d)\\s*)+$"
        })
    }
}

impl TryFrom<String> for Dur {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        SimDuration::parse(&text).map(Dur)
    }
}

impl From<Dur> for String {
    fn from(d: Dur) -> String {
        d.0.to_string()
    }
}

fn dur(text: &str) -> Dur {
    Dur(SimDuration::parse(text).expect("valid default"))
}

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub scenario: Meta,
    #[serde(default)]
    pub encoders: Encoders,
    #[serde(default)]
    pub ingest: Ingest,
    #[serde(default)]
    pub cdn: Cdn,
    #[serde(default)]
    pub viewers: Viewers,
    #[serde(default)]
    pub managers: Managers,
    #[serde(default)]
    pub dns: DnsCfg,
    #[serde(default)]
    pub lb: LbCfg,
    #[serde(default)]
    pub network: NetworkLinks,
    #[serde(default, rename = "fault")]
    pub faults: Vec<Fault>,
    /// Named sets of node selectors, for fault targets `group:NAME`.
    #[serde(default)]
    pub groups: chaos::Groups,
    /// Where nodes run: region name → selectors. A node is in at most one region;
    /// `region:NAME` targets it, and `region.outage` takes it all down at once.
    #[serde(default)]
    pub regions: chaos::Groups,
    /// Seeded chaos drawn over a window.
    #[serde(default)]
    pub random_faults: Option<chaos::RandomFaults>,
    #[serde(default, rename = "expect")]
    pub expects: Vec<Expect>,
    #[serde(default)]
    pub monitor: MonitorCfg,
    /// Alerting rules; when none are given, the defaults of [`default_alerts`].
    #[serde(default = "default_alerts", rename = "alert")]
    pub alerts: Vec<AlertCfg>,
    /// Experiment axes: a dotted key (as `--set` takes it) → the values to try. Every
    /// value is checked when the file loads; `failcast sweep` runs every combination.
    #[serde(default, deserialize_with = "sweep_axes")]
    pub sweep: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
}

/// The `[sweep]` table, refusing a value JSON cannot hold (a nan or inf float, read
/// as null), which could then be written neither as a `--set` nor as TOML.
fn sweep_axes<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<std::collections::BTreeMap<String, Vec<serde_json::Value>>, D::Error> {
    fn has_null(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::Null => true,
            serde_json::Value::Array(items) => items.iter().any(has_null),
            serde_json::Value::Object(map) => map.values().any(has_null),
            _ => false,
        }
    }
    let axes = std::collections::BTreeMap::<String, Vec<serde_json::Value>>::deserialize(deserializer)?;
    match axes.iter().find(|(_, values)| values.iter().any(has_null)) {
        Some((key, _)) => Err(serde::de::Error::custom(format!(
            "sweep `{key}` holds a number that is not finite (nan or inf)"
        ))),
        None => Ok(axes),
    }
}

/// Most combinations a `[sweep]` may have.
pub const MAX_SWEEP_CELLS: usize = 10_000;

/// The monitor: how often it scrapes and how long notifications take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorCfg {
    /// Prometheus scrape and rule-evaluation interval (15 s is the common setting).
    pub scrape_interval: Dur,
    /// Alertmanager `group_wait`: 30 s by default.
    pub notify_delay: Dur,
}

impl Default for MonitorCfg {
    fn default() -> Self {
        MonitorCfg {
            scrape_interval: dur("15s"),
            notify_delay: dur("30s"),
        }
    }
}

/// One alerting rule: `metric op threshold` held `for`, cleared after `clear_for`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertCfg {
    pub name: String,
    /// `stream_stale_s`, `viewers_stalled_ratio` or `ingest_down`.
    pub metric: String,
    /// `gt` or `lt`.
    pub op: String,
    pub threshold: f64,
    #[serde(rename = "for", default = "zero")]
    pub hold: Dur,
    #[serde(default = "zero")]
    pub clear_for: Dur,
}

fn zero() -> Dur {
    dur("0s")
}

/// The rules a monitor watches unless the scenario lists its own.
pub fn default_alerts() -> Vec<AlertCfg> {
    let rule = |name: &str, metric: &str, threshold: f64, hold: &str| AlertCfg {
        name: name.into(),
        metric: metric.into(),
        op: "gt".into(),
        threshold,
        hold: dur(hold),
        clear_for: dur("30s"),
    };
    vec![
        rule("stream-stale", "stream_stale_s", 10.0, "15s"),
        rule("viewers-stalling", "viewers_stalled_ratio", 0.05, "30s"),
        rule("ingest-down", "ingest_down", 0.0, "30s"),
        rule("input-content", "input_content_bad", 0.0, "15s"),
    ]
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub duration: Dur,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// `window` (default) or `strict`: results are identical, window is faster.
    #[serde(default = "default_dispatch")]
    pub dispatch: String,
    /// The first part of the run, left out of the viewers' stalls, stall and play time
    /// and of availability: joins and startup transients settle in it. No fault of
    /// the file may start in it.
    #[serde(default = "no_warmup")]
    pub warmup: Dur,
    /// Files merged under this one, in order (paths relative to this file's folder):
    /// shared topology, workload or faults. Tables merge key by key, this file's keys
    /// win, and `[[fault]]`, `[[expect]]` and `[[alert]]` entries of every file are kept
    /// (the included files' first). An included file has no `[scenario]` or `[sweep]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
}

fn no_warmup() -> Dur {
    dur("0s")
}

fn default_seed() -> u64 {
    1
}
fn default_dispatch() -> String {
    "window".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Encoders {
    pub count: u32,
    pub fps: u32,
    /// Keyframe (IDR) interval; Apple's HLS authoring spec recommends 2 s.
    pub gop: Dur,
    pub bitrate_kbps: u64,
    /// Frames sent to ingest per message (1 = per frame).
    pub chunk_frames: u32,
    pub connect_timeout: Dur,
    /// A connection unacknowledged this long is broken (SRT peer idle timeout: 5 s).
    pub ack_timeout: Dur,
    pub reconnect: ReconnectCfg,
}

impl Default for Encoders {
    fn default() -> Self {
        Encoders {
            count: 1,
            fps: 30,
            gop: dur("2s"),
            bitrate_kbps: 4_000,
            chunk_frames: 1,
            connect_timeout: dur("3s"),
            ack_timeout: dur("5s"),
            reconnect: ReconnectCfg::default(),
        }
    }
}

/// Publisher reconnect backoff; defaults are OBS Studio's (2 s, ×1.5, 25 tries).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReconnectCfg {
    pub first_delay: Dur,
    pub multiplier: f64,
    pub max_delay: Dur,
    pub max_attempts: u32,
}

impl Default for ReconnectCfg {
    fn default() -> Self {
        ReconnectCfg {
            first_delay: dur("2s"),
            multiplier: 1.5,
            max_delay: dur("15m"),
            max_attempts: 25,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Ingest {
    pub redundancy: String,
    pub servers: u32,
    pub health: HealthCfg,
    /// Time to move the ingest address to the promoted server (gratuitous ARP).
    pub switch_delay: Dur,
    /// Active-active: how long the origin waits for the active pipeline's copy of a
    /// segment before switching to another (MediaLive input-loss threshold: 1000 ms
    /// typical, 100 ms minimum).
    pub input_loss: Dur,
    /// Content checks at every ingest server (MediaLive: 1 s each): black video or
    /// silent audio for this long is a content failure; so is `input_loss` without
    /// frames.
    pub black_after: Dur,
    pub silence_after: Dur,
    /// A publisher connection silent this long is dropped (SRS publisher timeout and
    /// SRT peer idle timeout: 5 s).
    pub idle_timeout: Dur,
    /// `none` or `prefer-primary`.
    pub failback: String,
    /// With `prefer-primary`: how long the primary must be healthy before failback.
    pub failback_hold: Dur,
    /// Streams one server can package at once (transcoder slots; 0: unlimited). A
    /// server over it starves the streams that came last, and the manager moves them
    /// to a server with room.
    pub capacity: u32,
    /// How the servers cut segments: `epoch` (on the stream clock, so every server
    /// cuts the same segments, as MediaLive's epoch locking) or `none` (each
    /// publisher session from its first keyframe, so a server that restarted or
    /// reconnected mid-segment is misaligned and a switch to it costs a discontinuity).
    pub output_locking: String,
}

impl Default for Ingest {
    fn default() -> Self {
        Ingest {
            redundancy: "active-passive".into(),
            servers: 2,
            health: HealthCfg::default(),
            switch_delay: dur("100ms"),
            input_loss: dur("1s"),
            black_after: dur("1s"),
            silence_after: dur("1s"),
            idle_timeout: dur("5s"),
            failback: "none".into(),
            failback_hold: dur("30s"),
            capacity: 0,
            output_locking: "epoch".into(),
        }
    }
}

/// The hardware load balancer in front of the edges (`cdn.balancing = "hardware"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LbCfg {
    /// 1, or 2 for an active-standby pair sharing the address by VRRP.
    pub devices: u32,
    /// VRRP advertisement interval (keepalived: 1 s).
    pub advert_interval: Dur,
    /// From taking over to traffic arriving (gratuitous ARP).
    pub takeover_delay: Dur,
    /// The device's checks of the edges (HAProxy: inter 2 s, fall 3, rise 2).
    pub health: HealthCfg,
    /// Connections one device can track; beyond that it answers 503.
    pub max_connections: u64,
    /// Whether the devices probe the edges (`health`); nginx open source does not.
    pub active_checks: bool,
    /// What an active check asks: `liveness` (the edge answers) or `playlist` (the
    /// edge's live playlists, one of which has gained a segment within
    /// `playlist_stale_after`).
    pub check: String,
    /// With `check = "playlist"`: how long the newest segment may stay the same before
    /// the check fails.
    pub playlist_stale_after: Dur,
    /// Passive checks on real traffic: `none`, `nginx` (max_fails 1, fail_timeout
    /// 10 s; counts timeouts) or `envoy` (5 consecutive 5xx or timeouts; ejection
    /// 30 s × count, at most 10% of edges). With them the devices proxy answers.
    pub passive: String,
    /// A proxied request with no answer by then fails with 504 (nginx: 60 s).
    pub proxy_timeout: Dur,
}

impl Default for LbCfg {
    fn default() -> Self {
        LbCfg {
            devices: 2,
            advert_interval: dur("1s"),
            takeover_delay: dur("100ms"),
            health: HealthCfg {
                interval: dur("2s"),
                timeout: dur("1s"),
                fall: 3,
                rise: 2,
            },
            max_connections: 1_000_000,
            active_checks: true,
            check: "liveness".into(),
            playlist_stale_after: dur("6s"),
            passive: "none".into(),
            proxy_timeout: dur("60s"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCfg {
    pub interval: Dur,
    pub timeout: Dur,
    pub fall: u32,
    pub rise: u32,
}

impl HealthCfg {
    /// The control-logic settings these scenario values stand for.
    pub fn to_config(&self) -> crate::control::health::HealthConfig {
        crate::control::health::HealthConfig {
            interval: self.interval.0,
            timeout: self.timeout.0,
            fall: self.fall,
            rise: self.rise,
        }
    }
}

impl Default for HealthCfg {
    fn default() -> Self {
        HealthCfg {
            interval: dur("1s"),
            timeout: dur("500ms"),
            fall: 3,
            rise: 2,
        }
    }
}

/// Stream managers: one, or an active/standby pair elected by lease (timing from
/// Kubernetes client-go leader election).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Managers {
    pub count: u32,
    pub lease: Dur,
    pub renew_deadline: Dur,
    pub retry_period: Dur,
}

impl Default for Managers {
    fn default() -> Self {
        Managers {
            count: 1,
            lease: dur("15s"),
            renew_deadline: dur("10s"),
            retry_period: dur("2s"),
        }
    }
}

/// DNS-based ingest failover (`ingest.redundancy = "dns"`), Route 53 style.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DnsCfg {
    /// Record TTL; Route 53 recommends at most 60 s.
    pub ttl: Dur,
    /// Route 53 health checks: every 30 s, failure threshold 3 both ways, 4 s to answer.
    pub health: HealthCfg,
    /// Share of resolvers that stretch TTLs (≈8.7%, "TTL Violation of DNS Resolvers in
    /// the Wild", PAM 2023); the encoder's resolver is one with this probability.
    pub violator_share: f64,
    /// How long a violating resolver keeps an answer at least (an assumption: the
    /// measured amount of stretching is not published; docs/model.md).
    pub stretched_ttl: Dur,
    /// A query unanswered this long fails the connection attempt (resolv.conf: 5 s).
    pub query_timeout: Dur,
    /// `cdn.balancing = "round-robin-dns"`: whether health checks remove dead edges
    /// from the answers (Route 53 multivalue answers); a plain zone serves them all.
    pub health_checked: bool,
}

impl Default for DnsCfg {
    fn default() -> Self {
        DnsCfg {
            ttl: dur("60s"),
            health: HealthCfg {
                interval: dur("30s"),
                timeout: dur("4s"),
                fall: 3,
                rise: 3,
            },
            violator_share: 0.087,
            stretched_ttl: dur("10m"),
            query_timeout: dur("5s"),
            health_checked: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Cdn {
    pub origins: u32,
    pub edges: u32,
    /// Segment (target) duration: a whole number of GOPs.
    pub segment: Dur,
    pub balancing: String,
    /// `round-robin`, `least-connections`, `weighted`, `consistent-hash`, `power-of-two`.
    pub algorithm: String,
    /// Per-edge weights for `weighted` (empty: equal).
    pub weights: Vec<u64>,
    /// `consistent-hash`: no edge takes more than this × the average load (HAProxy's
    /// `hash-balance-factor`, 125 = 1.25).
    pub hash_balance_factor: f64,
    /// Segments listed in the live playlist.
    pub playlist_window: u32,
    /// Each edge's egress capacity; beyond it the edge answers segment requests with
    /// 503 (0: unlimited).
    pub edge_capacity_mbps: f64,
    /// Backup edges each viewer's player may move to (redundant stream URLs or
    /// pathways): route 0 is the viewer's edge, route k the k-th next edge.
    pub backup_edges: u32,
    /// Mid-tier caches between the origins and the edges (`shield-1` …; 0: the origins
    /// push to every edge). Each edge is fed by one shield: round-robin among the
    /// shields of its `[regions]` region, or among all of them.
    pub shields: u32,
    /// An edge whose shield has sent nothing for this long asks the origins to push to
    /// it directly until the shield feeds it again; `"0s"`: it waits for its shield.
    pub shield_fallback_after: Dur,
}

impl Default for Cdn {
    fn default() -> Self {
        Cdn {
            origins: 1,
            edges: 4,
            segment: dur("2s"),
            balancing: "software".into(),
            algorithm: "round-robin".into(),
            weights: Vec::new(),
            hash_balance_factor: 1.25,
            playlist_window: 10,
            backup_edges: 0,
            edge_capacity_mbps: 0.0,
            shields: 0,
            shield_fallback_after: dur("6s"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Viewers {
    pub count: u32,
    pub player: String,
    /// When the first viewers arrive (a 24/7 stream is already running when people join).
    pub join_at: Dur,
    /// Viewers join uniformly at random within this span after `join_at`.
    pub join_over: Dur,
    pub downlink_mbps: f64,
    /// The arrival curve: relative arrival intensity at points in time, linear in
    /// between (a step where two points share an instant); the `count` viewers join
    /// over it instead of over `join_at` + `join_over`.
    pub arrivals: Vec<workload::ArrivalPoint>,
    /// How long each viewer stays (absent: to the end of the run).
    pub session: Option<workload::Session>,
    /// Share of viewers per region of `[regions]`: each watches from an edge of its
    /// region (software balancing).
    pub regions: std::collections::BTreeMap<String, f64>,
    /// Joins snap down to a multiple of this (`"0s"`: every viewer joins at its own
    /// drawn instant). A model change that lets viewers share work (`squads`).
    pub join_step: Dur,
    /// Viewers of one edge and stream who join at the same instant share one player,
    /// one message per request and one record while nothing sets them apart.
    pub squads: bool,
}

impl Default for Viewers {
    fn default() -> Self {
        Viewers {
            count: 1000,
            player: "hls.js".into(),
            join_at: dur("10s"),
            join_over: dur("5s"),
            downlink_mbps: 20.0,
            arrivals: Vec::new(),
            session: None,
            regions: std::collections::BTreeMap::new(),
            join_step: dur("0s"),
            squads: false,
        }
    }
}

/// One kind of link: latency is the minimum one-way delay, jitter the mean extra delay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LinkCfg {
    pub latency: Dur,
    pub jitter: Dur,
    pub loss: f64,
    /// `0` means unlimited.
    pub bandwidth_mbps: f64,
}

impl LinkCfg {
    fn new(latency: &str, jitter: &str, bandwidth_mbps: f64) -> Self {
        LinkCfg {
            latency: dur(latency),
            jitter: dur(jitter),
            loss: 0.0,
            bandwidth_mbps,
        }
    }
}

impl Default for LinkCfg {
    fn default() -> Self {
        LinkCfg::new("1ms", "0ms", 0.0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkLinks {
    pub encoder_ingest: LinkCfg,
    /// Between the manager and the servers it checks.
    pub control: LinkCfg,
    pub ingest_origin: LinkCfg,
    pub origin_edge: LinkCfg,
    /// The viewers' last mile (segment downloads).
    pub edge_viewer: LinkCfg,
    /// Added to every link between nodes of two different `[regions]`.
    pub inter_region: InterRegion,
}

/// The extra distance between regions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct InterRegion {
    pub latency: Dur,
    /// Mean of an extra exponential delay (capped at 10×, as on every link).
    pub jitter: Dur,
}

impl Default for InterRegion {
    fn default() -> Self {
        InterRegion {
            latency: dur("0s"),
            jitter: dur("0s"),
        }
    }
}

impl Default for NetworkLinks {
    fn default() -> Self {
        NetworkLinks {
            encoder_ingest: LinkCfg::new("20ms", "2ms", 0.0),
            control: LinkCfg::new("1ms", "100us", 0.0),
            ingest_origin: LinkCfg::new("5ms", "500us", 1000.0),
            origin_edge: LinkCfg::new("15ms", "2ms", 1000.0),
            edge_viewer: LinkCfg::new("20ms", "5ms", 0.0),
            inter_region: InterRegion::default(),
        }
    }
}

/// A fault on the timeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    #[serde(default)]
    pub id: Option<String>,
    pub at: Dur,
    pub kind: String,
    pub target: String,
    #[serde(default)]
    pub duration: Option<Dur>,
    /// `cdn.overload`: the edge's egress capacity while the fault lasts.
    #[serde(default)]
    pub capacity_mbps: Option<f64>,
    /// `ingest.overload`: streams the server can package while the fault lasts.
    #[serde(default)]
    pub capacity_streams: Option<u32>,
    /// `net.degrade`: extra one-way delay on every link of the target.
    #[serde(default)]
    pub latency: Option<Dur>,
    /// `net.degrade`: mean of an extra exponential delay (capped at 10×).
    #[serde(default)]
    pub jitter: Option<Dur>,
    /// `net.degrade`: long-run share of messages lost, in [0, 1).
    #[serde(default)]
    pub loss: Option<f64>,
    /// `net.degrade`: mean length of a loss burst (Gilbert–Elliott; default 100 ms).
    #[serde(default)]
    pub loss_burst: Option<Dur>,
    /// `net.degrade`: a bandwidth cap on every link of the target, in Mbit/s.
    #[serde(default)]
    pub bandwidth_mbps: Option<f64>,
    /// `node.slow`: how much later everything the node sends leaves; `monitor.delay`:
    /// how late the monitor's records are.
    #[serde(default)]
    pub delay: Option<Dur>,
    /// `clock.skew`: how much fast (positive) or slow (negative) the clock runs, as a
    /// share of true time: -0.5 runs at half speed.
    #[serde(default)]
    pub drift: Option<f64>,
    /// A state change that starts the fault (`failover.started`, …): the first such
    /// event at or after `at`, plus `after`.
    #[serde(default)]
    pub on: Option<String>,
    /// With `on`: how long after the event the fault starts (at least the smallest
    /// link latency).
    #[serde(default)]
    pub after: Option<Dur>,
    /// `net.partition`: the other side, a selector (default: every other node).
    #[serde(default)]
    pub other: Option<String>,
    /// `net.partition`: cut only what the target side sends to the other.
    #[serde(default)]
    pub one_way: Option<bool>,
}

impl Fault {
    /// The kind-specific settings given, by key.
    pub fn settings_given(&self) -> Vec<&'static str> {
        [
            ("capacity_mbps", self.capacity_mbps.is_some()),
            ("capacity_streams", self.capacity_streams.is_some()),
            ("latency", self.latency.is_some()),
            ("jitter", self.jitter.is_some()),
            ("loss", self.loss.is_some()),
            ("loss_burst", self.loss_burst.is_some()),
            ("bandwidth_mbps", self.bandwidth_mbps.is_some()),
            ("delay", self.delay.is_some()),
            ("drift", self.drift.is_some()),
            ("other", self.other.is_some()),
            ("one_way", self.one_way.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect()
    }
}

/// What a fault kind does, what it can target and which settings it takes.
pub struct FaultKind {
    pub name: &'static str,
    /// Name prefixes of the nodes it applies to (`encoder-`, `edge-`); empty: any node.
    pub targets: &'static [&'static str],
    /// Settings it needs: at least one of them when `any_of`, else all.
    pub required: &'static [&'static str],
    pub any_of: bool,
    /// Further settings it accepts.
    pub optional: &'static [&'static str],
    /// An example of its settings, for error messages.
    pub example: &'static str,
}

/// Fault kinds this version understands, with their settings.
pub const FAULT_KIND_SPECS: &[FaultKind] = &[
    FaultKind {
        name: "node.crash",
        targets: &[],
        required: &[],
        any_of: false,
        optional: &[],
        example: "",
    },
    FaultKind {
        name: "node.pause",
        targets: &[],
        required: &[],
        any_of: false,
        optional: &[],
        example: "",
    },
    FaultKind {
        name: "node.slow",
        targets: &[],
        required: &["delay"],
        any_of: false,
        optional: &["jitter"],
        example: "`delay = \"500ms\"`: how much later everything the node sends leaves",
    },
    FaultKind {
        name: "region.outage",
        targets: &[],
        required: &[],
        any_of: false,
        optional: &[],
        example: "",
    },
    FaultKind {
        name: "net.partition",
        targets: &[],
        required: &[],
        any_of: false,
        optional: &["other", "one_way"],
        example: "",
    },
    FaultKind {
        name: "net.degrade",
        targets: &[],
        required: &["latency", "jitter", "loss", "bandwidth_mbps"],
        any_of: true,
        optional: &["loss_burst"],
        example: "`latency = \"200ms\"` or `loss = 0.05` with `loss_burst = \"400ms\"`",
    },
    FaultKind {
        name: "cdn.overload",
        targets: &["edge-"],
        required: &["capacity_mbps"],
        any_of: false,
        optional: &[],
        example: "`capacity_mbps = 50`: the edge's egress capacity during the fault",
    },
    FaultKind {
        name: "ingest.overload",
        targets: &["ingest-"],
        required: &["capacity_streams"],
        any_of: false,
        optional: &[],
        example: "`capacity_streams = 1`: streams the server can package during the fault",
    },
    FaultKind {
        name: "dns.outage",
        targets: &["dns-", "cdn-dns"],
        required: &[],
        any_of: false,
        optional: &[],
        example: "",
    },
    FaultKind {
        name: "dns.stale",
        targets: &["dns-", "cdn-dns"],
        required: &[],
        any_of: false,
        optional: &[],
        example: "",
    },
    FaultKind {
        name: "lb.fail",
        targets: &["lb-"],
        required: &[],
        any_of: false,
        optional: &[],
        example: "",
    },
    FaultKind {
        name: "monitor.delay",
        targets: &["monitor-"],
        required: &["delay"],
        any_of: false,
        optional: &[],
        example: "`delay = \"2m\"`: how late the monitor's detections and alerts are",
    },
    FaultKind {
        name: "monitor.blind",
        targets: &["monitor-"],
        required: &[],
        any_of: false,
        optional: &[],
        example: "",
    },
    FaultKind {
        name: "clock.skew",
        targets: &["manager-"],
        required: &["drift"],
        any_of: false,
        optional: &[],
        example: "`drift = -0.5`: the manager's clock runs at half speed",
    },
    FaultKind {
        name: "encoder.black",
        targets: &["encoder-"],
        required: &[],
        any_of: false,
        optional: &[],
        example: "",
    },
    FaultKind {
        name: "encoder.silent",
        targets: &["encoder-"],
        required: &[],
        any_of: false,
        optional: &[],
        example: "",
    },
    FaultKind {
        name: "encoder.stall",
        targets: &["encoder-"],
        required: &[],
        any_of: false,
        optional: &[],
        example: "",
    },
];

impl FaultKind {
    pub fn by_name(name: &str) -> Option<&'static FaultKind> {
        FAULT_KIND_SPECS.iter().find(|k| k.name == name)
    }

    pub fn accepts(&self, setting: &str) -> bool {
        self.required.contains(&setting) || self.optional.contains(&setting)
    }
}

/// An assertion on the run's summary, checked after the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// A dotted `summary.json` key, e.g. `failover_latency_ms.p99`.
    pub metric: String,
    /// `lt`, `le`, `gt`, `ge`, `eq` or `between` (inclusive).
    pub op: String,
    /// A number in the metric's unit, a duration (`"3s"`) for a metric in `_ms` or
    /// `_s`, a percentage (`"2%"`) for a ratio; for `between`, two of them.
    pub value: Threshold,
    /// Measure over a window only: `fault:ID` (the fault's onset to its end),
    /// `fault:ID+60s` (to 60 s after its end) or `5m..10m`.
    #[serde(default)]
    pub during: Option<String>,
}

/// The window of an expectation (`during`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Window {
    /// From the onset of fault `id` (on any node it hits) to `after` past its end.
    Fault { id: String, after: SimDuration },
    /// A fixed span of the run.
    Span { from: SimDuration, to: SimDuration },
}

impl Window {
    /// Reads `fault:ID`, `fault:ID+DURATION` or `FROM..TO`.
    pub fn parse(text: &str) -> Result<Window, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("fault:") {
            let (id, after) = match rest.rsplit_once('+') {
                Some((id, after)) => (
                    id,
                    SimDuration::parse(after.trim()).map_err(|e| format!("`{after}`: {e}"))?,
                ),
                None => (rest, SimDuration::ZERO),
            };
            if id.trim().is_empty() {
                return Err("`fault:` names no fault".into());
            }
            return Ok(Window::Fault {
                id: id.trim().to_string(),
                after,
            });
        }
        if let Some((from, to)) = text.split_once("..") {
            let from = SimDuration::parse(from.trim()).map_err(|e| format!("`{from}`: {e}"))?;
            let to = SimDuration::parse(to.trim()).map_err(|e| format!("`{to}`: {e}"))?;
            if to <= from {
                return Err(format!("the window {from}..{to} is empty"));
            }
            return Ok(Window::Span { from, to });
        }
        Err(format!("`{text}` is not a window"))
    }
}

/// An expectation's threshold as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Threshold {
    Number(f64),
    Text(String),
    Range(Vec<Threshold>),
}

impl Threshold {
    /// The threshold in the unit of `metric` (its name says it: `_ms`, `_s`).
    pub fn in_unit_of(&self, metric: &str) -> Result<f64, String> {
        match self {
            // A number that is not finite is refused with every other value of the file.
            Threshold::Number(n) => Ok(*n),
            Threshold::Text(text) => {
                let text = text.trim();
                if let Some(percent) = text.strip_suffix('%') {
                    return (percent.trim().parse::<f64>().ok())
                        .filter(|p| p.is_finite())
                        .map(|p| p / 100.0)
                        .ok_or_else(|| format!("`{text}` is not a percentage"));
                }
                let duration = SimDuration::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
                let unit = metric.split('.').find_map(|part| {
                    if part.ends_with("_ms") || part.contains("_ms_") {
                        Some(1e3)
                    } else if part.ends_with("_s") || part.contains("_s_") {
                        Some(1.0)
                    } else {
                        None
                    }
                });
                match unit {
                    Some(per_second) => Ok(duration.as_secs_f64() * per_second),
                    None => Err(format!("`{metric}` is not a time: give a plain number")),
                }
            }
            Threshold::Range(_) => Err("a pair of values goes with `between` only".into()),
        }
    }
}

impl Expect {
    /// The inclusive bounds the metric must lie in: one value, or `between`'s two.
    pub fn bounds(&self) -> Result<(f64, f64), String> {
        match (&self.value, self.op.as_str()) {
            (Threshold::Range(pair), "between") => match pair.as_slice() {
                [low, high] => Ok((low.in_unit_of(&self.metric)?, high.in_unit_of(&self.metric)?)),
                _ => Err("`between` takes two values: `value = [low, high]`".into()),
            },
            (_, "between") => Err("`between` takes two values: `value = [low, high]`".into()),
            (value, _) => value.in_unit_of(&self.metric).map(|v| (v, v)),
        }
    }

    /// The threshold as the reports show it.
    pub fn describe(&self) -> String {
        match self.bounds() {
            Ok((low, high)) if self.op == "between" => format!("{low} and {high}"),
            Ok((value, _)) => value.to_string(),
            Err(_) => "?".into(),
        }
    }

    /// The key of its measurement: the metric, and its window if it has one (the
    /// key of `summary.json`'s `windowed`).
    pub fn measured_as(&self) -> String {
        match &self.during {
            Some(during) => format!("{} during {}", self.metric, during.trim()),
            None => self.metric.clone(),
        }
    }
}

impl Scenario {
    pub fn ingest_name(i: u32) -> String {
        format!("ingest-{}", i + 1)
    }
    pub fn edge_name(i: u32) -> String {
        format!("edge-{}", i + 1)
    }

    /// Stable ids of every node faults and metrics can refer to.
    pub fn node_names(&self) -> Vec<String> {
        let mut names: Vec<String> = (0..self.encoders.count).map(|i| format!("encoder-{}", i + 1)).collect();
        names.extend((0..self.ingest.servers).map(Self::ingest_name));
        names.extend((0..self.managers.count).map(|i| format!("manager-{}", i + 1)));
        names.extend((0..self.cdn.origins).map(|i| format!("origin-{}", i + 1)));
        names.extend((0..self.cdn.shields).map(|i| format!("shield-{}", i + 1)));
        names.extend((0..self.cdn.edges).map(Self::edge_name));
        if self.ingest.redundancy == "dns" {
            names.push("dns-1".into());
        }
        names.push("monitor-1".into());
        if self.managers.count > 1 {
            names.push("lease-1".into());
        }
        if self.cdn.balancing == "round-robin-dns" {
            names.push("cdn-dns".into());
        }
        if self.cdn.balancing == "hardware" {
            names.extend((0..self.lb.devices).map(|i| format!("lb-{}", i + 1)));
        }
        names
    }

    /// What a selector can name in this scenario: `nodes` (its [`Scenario::node_names`]),
    /// its groups and its regions.
    pub fn selectors<'a>(&'a self, nodes: &'a [String]) -> select::Universe<'a> {
        select::Universe::new(nodes, &self.groups, &self.regions)
    }

    /// The scenario as TOML that loads back to itself: every default written out, and
    /// nothing validation refuses to see beside another key (`viewers.join_at` and
    /// `join_over` beside an arrival curve, which replaces them).
    pub fn to_toml(&self) -> Result<String, String> {
        if self.viewers.arrivals.is_empty() {
            return toml::to_string(self).map_err(|e| e.to_string());
        }
        let mut doc = toml_edit::ser::to_document(self).map_err(|e| e.to_string())?;
        if let Some(viewers) = doc.get_mut("viewers").and_then(|v| v.as_table_like_mut()) {
            viewers.remove("join_at");
            viewers.remove("join_over");
        }
        Ok(doc.to_string())
    }

    /// The fault's id, or `fault-N` (1-based, in file order).
    pub fn fault_id(&self, index: usize) -> String {
        self.faults[index]
            .id
            .clone()
            .unwrap_or_else(|| format!("fault-{}", index + 1))
    }
}

/// The JSON Schema of scenario files (for editors: TOML language servers such as
/// Taplo and Even Better TOML read it).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).expect("a schema serialises")
}

/// Reads, overrides and validates a scenario file (includes confined to its folder).
pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, Diagnostics> {
    load_with(path, overrides, LoadOptions::default())
}

/// As [`load`], with `options` saying what the file may include.
pub fn load_with(path: &Path, overrides: &[String], options: LoadOptions) -> Result<Scenario, Diagnostics> {
    let file = path.display().to_string();
    let mut budget = MAX_SCENARIO_BYTES;
    let source = source::read(path, &mut budget).map_err(|refusal| {
        Diagnostics(vec![
            Diagnostic::at(&file, "", None, refusal.message).with_help(refusal.help)
        ])
    })?;
    let reading = Reading { options, budget };
    load_text(&file, &source, overrides, reading)
}

/// As [`load`], from text; `file` names it in diagnostics (and its folder is where
/// includes are found).
pub fn load_str(file: &str, source: &str, overrides: &[String]) -> Result<Scenario, Diagnostics> {
    let budget = MAX_SCENARIO_BYTES.saturating_sub(source.len() as u64);
    let reading = Reading {
        options: LoadOptions::default(),
        budget,
    };
    load_text(file, source, overrides, reading)
}

/// What loading one scenario may still read: its options and the bytes left for includes.
#[derive(Clone, Copy, Debug)]
struct Reading {
    options: LoadOptions,
    budget: u64,
}

fn load_text(file: &str, source: &str, overrides: &[String], reading: Reading) -> Result<Scenario, Diagnostics> {
    if source.len() as u64 > MAX_SCENARIO_BYTES {
        let message = format!("the scenario is {} bytes, more than {MAX_SCENARIO_BYTES}", source.len());
        return Err(Diagnostics(vec![Diagnostic::at(file, "", None, message)]));
    }
    source::check_plain_text(file, source)?;
    let scenario = load_without_sweep_check(file, source, overrides, reading)?;
    if !scenario.sweep.is_empty() {
        check_sweep(file, source, &scenario, reading)?;
    }
    Ok(scenario)
}

/// Every `[sweep]` value must make a valid scenario on its own (on the file as
/// written); an error names the value's place in the file. Combinations are checked
/// when they run. Each value costs a load of the file, so a sweep too large to run
/// ([`MAX_SWEEP_CELLS`]) or to check ([`SWEEP_CHECK_BUDGET_BYTES`]) is refused first.
fn check_sweep(file: &str, source: &str, scenario: &Scenario, reading: Reading) -> Result<(), Diagnostics> {
    let doc = toml_edit::ImDocument::parse(source).ok();
    let place = |key: &str, i: Option<usize>| {
        let values = doc.as_ref()?.get("sweep")?.get(key)?;
        match i {
            Some(i) => values.as_array()?.get(i)?.span(),
            None => values.span(),
        }
    };
    let sweep_span = || doc.as_ref().and_then(|d| d.get("sweep")).and_then(|s| s.span());
    let cells = (scenario.sweep.values()).fold(1usize, |cells, values| cells.saturating_mul(values.len().max(1)));
    if cells > MAX_SWEEP_CELLS {
        return Err(Diagnostics(vec![Diagnostic::at(
            file,
            source,
            sweep_span(),
            format!("[sweep] has {cells} combinations, more than {MAX_SWEEP_CELLS}"),
        )
        .with_help("sweep fewer values per key, or split the experiment")]));
    }
    // The values are checked against the file without its [sweep] table: they do not
    // depend on it, and a long one would be read again for every value.
    let plain = match source.parse::<toml_edit::DocumentMut>() {
        Ok(mut without_sweep) => {
            without_sweep.remove("sweep");
            without_sweep.to_string()
        }
        Err(_) => source.to_string(),
    };
    let values: usize = scenario.sweep.values().map(Vec::len).sum();
    if values > MAX_SWEEP_VALUES {
        return Err(Diagnostics(vec![Diagnostic::at(
            file,
            source,
            sweep_span(),
            format!("[sweep] lists {values} values, more than {MAX_SWEEP_VALUES}"),
        )
        .with_help(
            "sweep fewer values (each is checked as a scenario of its own), or give them with `failcast sweep --grid`",
        )]));
    }
    let work = (values as u64).saturating_mul(plain.len() as u64);
    if work > SWEEP_CHECK_BUDGET_BYTES {
        return Err(Diagnostics(vec![Diagnostic::at(
            file,
            source,
            sweep_span(),
            format!(
                "[sweep] lists {values} values over a scenario of {} bytes: checking each on the whole file reads more than {} MB",
                plain.len(),
                SWEEP_CHECK_BUDGET_BYTES >> 20
            ),
        )
        .with_help("sweep fewer values, or give them with `failcast sweep --grid KEY=V1,V2,...`")]));
    }
    let mut errors = Vec::new();
    for (key, values) in &scenario.sweep {
        if values.is_empty() {
            errors.push(
                Diagnostic::at(file, source, place(key, None), format!("sweep `{key}` has no values"))
                    .with_help("list the values to try, e.g. \"ingest.health.interval\" = [\"1s\", \"2s\"]"),
            );
            continue;
        }
        for (i, value) in values.iter().enumerate() {
            let Some(literal) = sweep_literal(value) else {
                errors.push(
                    Diagnostic::at(
                        file,
                        source,
                        place(key, Some(i)),
                        format!("sweep `{key}`: value {value} is a table"),
                    )
                    .with_help("sweep values are numbers, strings, booleans or arrays"),
                );
                continue;
            };
            // Against the file alone: with the caller's overrides (a cell being run)
            // the key's other values would be judged on top of that cell.
            if let Err(found) = load_without_sweep_check(file, &plain, &[format!("{key}={literal}")], reading) {
                for inner in found.0 {
                    let message = format!("sweep `{key}` = {literal}: {}", inner.message);
                    let mut d = Diagnostic::at(file, source, place(key, Some(i)), message);
                    d.help = inner.help;
                    errors.push(d);
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(errors))
    }
}

/// Most values a `[sweep]` may list, all keys together (each is loaded as a scenario
/// of its own: 0.1 to 0.3 ms for a small file), and most bytes of scenario text
/// checking them may read (values times the file): together, a fraction of a second.
const MAX_SWEEP_VALUES: usize = 1_000;
const SWEEP_CHECK_BUDGET_BYTES: u64 = 8 << 20;

/// A value inside a TOML array (`None` for a table).
fn toml_literal(value: &serde_json::Value) -> Option<String> {
    Some(match value {
        serde_json::Value::String(s) => toml_edit::Value::from(s.as_str()).to_string().trim().to_string(),
        serde_json::Value::Array(items) => {
            let items: Option<Vec<String>> = items.iter().map(toml_literal).collect();
            format!("[{}]", items?.join(", "))
        }
        serde_json::Value::Object(_) => return None,
        other => other.to_string(),
    })
}

/// A sweep value as `--set` takes it (`None` for a table).
fn sweep_literal(value: &serde_json::Value) -> Option<String> {
    Some(match value {
        // `--set` takes a string key's value as it is written.
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            let items: Option<Vec<String>> = items.iter().map(toml_literal).collect();
            format!("[{}]", items?.join(", "))
        }
        serde_json::Value::Object(_) => return None,
        other => other.to_string(),
    })
}

impl Scenario {
    /// Every combination of the `[sweep]` axes, each as `--set` arguments: keys in
    /// name order, the last key varying fastest, values in the order listed.
    pub fn sweep_cells(&self) -> Vec<Vec<String>> {
        let mut cells: Vec<Vec<String>> = vec![Vec::new()];
        for (key, values) in &self.sweep {
            let literals: Vec<String> = values.iter().filter_map(sweep_literal).collect();
            cells = (cells.iter())
                .flat_map(|cell| {
                    literals.iter().map(move |literal| {
                        let mut next = cell.clone();
                        next.push(format!("{key}={literal}"));
                        next
                    })
                })
                .collect();
        }
        cells
    }
}

fn load_without_sweep_check(
    file: &str,
    source: &str,
    overrides: &[String],
    reading: Reading,
) -> Result<Scenario, Diagnostics> {
    let base: Scenario =
        toml::from_str(source).map_err(|e| Diagnostics(vec![validate::from_toml(file, source, &e)]))?;
    if !base.scenario.include.is_empty() {
        return load_with_includes(file, source, &base.scenario.include, overrides, reading);
    }
    if overrides.is_empty() {
        let base = with_context_defaults(source, base);
        return validate::validate(&Sources::single(file, source), base);
    }
    let edited = overrides::apply(file, source, &base, overrides)?;
    let scenario: Scenario = toml::from_str(&edited.text).map_err(|e| Diagnostics(vec![edited.explain(file, &e)]))?;
    let scenario = with_context_defaults(&edited.text, scenario);
    validate::validate(
        &Sources::single(file, &edited.text).with_overrides(edited.applied()),
        scenario,
    )
}

/// A scenario file with `include`: each fragment is checked on its own, then the merged
/// document is overridden and validated; an error points into the file that wrote the
/// key (an override's value is blamed on its `--set`).
fn load_with_includes(
    file: &str,
    source: &str,
    include: &[String],
    overrides: &[String],
    reading: Reading,
) -> Result<Scenario, Diagnostics> {
    let included = include::resolve(file, source, include, reading.options, reading.budget)?;
    let merged_error = |e: toml::de::Error| {
        let mut d = Diagnostic::at(
            file,
            source,
            None,
            format!("the merged scenario: {}", diag::parser_message(e.message(), "", None)),
        );
        d = d.with_help("each file is valid alone, but not together: check the keys the included files share");
        Diagnostics(vec![d])
    };
    let base: Scenario = toml::from_str(&included.merged).map_err(merged_error)?;
    let (text, applied) = if overrides.is_empty() {
        (included.merged, Vec::new())
    } else {
        let edited = overrides::apply(file, &included.merged, &base, overrides)?;
        toml::from_str::<Scenario>(&edited.text).map_err(|e| Diagnostics(vec![edited.explain(file, &e)]))?;
        let applied = edited.applied();
        (edited.text, applied)
    };
    let scenario: Scenario = toml::from_str(&text).map_err(merged_error)?;
    let scenario = with_context_defaults(&text, scenario);
    validate::validate(&included.sources.with_overrides(applied), scenario)
}

/// Re-reads `text` over the defaults of every table, so that a table written in part
/// keeps the defaults of where it stands: `dns.health = { interval = "10s" }` keeps
/// Route 53's 4 s timeout and `network.encoder_ingest = { loss = 0.01 }` its 20 ms,
/// where serde alone would fill them from the type's generic defaults. `parsed` (the
/// text already read and found well-typed) is returned if anything goes wrong.
fn with_context_defaults(text: &str, parsed: Scenario) -> Scenario {
    fn merge(base: &mut toml::Table, over: toml::Table) {
        for (key, value) in over {
            match (base.get_mut(&key), value) {
                (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => merge(inner, value),
                (_, value) => {
                    base.insert(key, value);
                }
            }
        }
    }
    let minimal = "[scenario]\nname = \"defaults\"\nduration = \"1m\"\n";
    let defaults = toml::from_str::<Scenario>(minimal)
        .ok()
        .and_then(|d| toml::Table::try_from(&d).ok());
    let (Some(mut merged), Ok(user)) = (defaults, text.parse::<toml::Table>()) else {
        return parsed;
    };
    // Lists replace their defaults whole (the default alert rules, faults, expectations).
    for list in ["scenario", "fault", "expect", "alert"] {
        merged.remove(list);
    }
    merge(&mut merged, user);
    merged.try_into().unwrap_or(parsed)
}
