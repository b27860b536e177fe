//! Scenario files: the TOML schema with its defaults, loading with `--set` overrides,
//! and validation that reports every problem with file, line, column and a fix.
//!
//! Defaults are published ones (OBS reconnect, hls.js, HLS authoring spec), listed with
//! their sources in docs/model.md, "Published facts and sources";
//! every one can be overridden in the file or with `--set`.
pub mod chaos;
pub mod diag;
mod expect;
mod fault;
mod include;
mod load;
mod nodes;
mod overrides;
pub mod select;
pub mod settings;
pub mod source;
mod validate;
pub mod workload;

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use diag::{Diagnostic, Diagnostics};
pub use expect::*;
pub use fault::*;
use include::Sources;
pub use load::{json_schema, load, load_str, load_with};
pub use nodes::NodeTable;
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
    /// What a running server publishes for a stream whose input is lost (no frames
    /// 100 ms after its last frame was due): `splice` (nothing; the media is
    /// spliced out), `slate` (slate segments on schedule) or `gap` (`EXT-X-GAP`
    /// entries on schedule). A server that is down publishes nothing either way.
    pub input_loss_action: String,
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
            input_loss_action: "splice".into(),
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

/// Route 53 health checks (`dns.health`): each of `checkers` checker regions probes on
/// its own schedule and applies the thresholds itself; the endpoint is healthy while
/// more than `healthy_above` of the checkers report it healthy (`control::quorum`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DnsHealthCfg {
    pub interval: Dur,
    pub timeout: Dur,
    pub fall: u32,
    pub rise: u32,
    /// Checker regions probing each endpoint (Route 53: all 8 when none are named).
    pub checkers: u32,
    /// Healthy while more than this share of the checkers say so (Route 53: 0.18).
    pub healthy_above: f64,
}

impl DnsHealthCfg {
    /// One checker's settings: those of any other health check.
    pub fn to_config(&self) -> crate::control::health::HealthConfig {
        let (interval, timeout, fall, rise) = (self.interval, self.timeout, self.fall, self.rise);
        HealthCfg {
            interval,
            timeout,
            fall,
            rise,
        }
        .to_config()
    }
}

impl Default for DnsHealthCfg {
    fn default() -> Self {
        DnsHealthCfg {
            interval: dur("30s"),
            timeout: dur("4s"),
            fall: 3,
            rise: 3,
            checkers: crate::control::quorum::ROUTE53_CHECKERS,
            healthy_above: crate::control::quorum::ROUTE53_HEALTHY_ABOVE,
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
    /// Route 53 health checks: every 30 s, failure threshold 3 both ways, 4 s to answer,
    /// from 8 checker regions, healthy while more than 18% of them say so.
    pub health: DnsHealthCfg,
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
            health: DnsHealthCfg::default(),
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

impl Scenario {
    pub fn ingest_name(i: u32) -> String {
        format!("ingest-{}", i + 1)
    }
    pub fn edge_name(i: u32) -> String {
        format!("edge-{}", i + 1)
    }

    /// What a selector can name in this scenario: `nodes` (its [`NodeTable::selectable`]),
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
