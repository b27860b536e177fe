//! Faults as a scenario writes them: a `[[fault]]` entry, and the kinds with the
//! roles they apply to and the settings they take.

use super::*;

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

named_enum! {
    /// The kinds of fault this version injects.
    pub enum FaultKind {
        NodeCrash = "node.crash",
        NodePause = "node.pause",
        NodeSlow = "node.slow",
        RegionOutage = "region.outage",
        NetPartition = "net.partition",
        NetDegrade = "net.degrade",
        CdnOverload = "cdn.overload",
        IngestOverload = "ingest.overload",
        DnsOutage = "dns.outage",
        DnsStale = "dns.stale",
        LbFail = "lb.fail",
        MonitorDelay = "monitor.delay",
        MonitorBlind = "monitor.blind",
        ClockSkew = "clock.skew",
        EncoderBlack = "encoder.black",
        EncoderSilent = "encoder.silent",
        EncoderStall = "encoder.stall",
    }
}

/// What a fault kind can target and which settings it takes.
pub struct FaultSpec {
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

impl FaultKind {
    /// Its targets and settings.
    pub fn spec(self) -> FaultSpec {
        match self {
            FaultKind::NodeCrash => FaultSpec {
                targets: &[],
                required: &[],
                any_of: false,
                optional: &[],
                example: "",
            },
            FaultKind::NodePause => FaultSpec {
                targets: &[],
                required: &[],
                any_of: false,
                optional: &[],
                example: "",
            },
            FaultKind::NodeSlow => FaultSpec {
                targets: &[],
                required: &["delay"],
                any_of: false,
                optional: &["jitter"],
                example: "`delay = \"500ms\"`: how much later everything the node sends leaves",
            },
            FaultKind::RegionOutage => FaultSpec {
                targets: &[],
                required: &[],
                any_of: false,
                optional: &[],
                example: "",
            },
            FaultKind::NetPartition => FaultSpec {
                targets: &[],
                required: &[],
                any_of: false,
                optional: &["other", "one_way"],
                example: "",
            },
            FaultKind::NetDegrade => FaultSpec {
                targets: &[],
                required: &["latency", "jitter", "loss", "bandwidth_mbps"],
                any_of: true,
                optional: &["loss_burst"],
                example: "`latency = \"200ms\"` or `loss = 0.05` with `loss_burst = \"400ms\"`",
            },
            FaultKind::CdnOverload => FaultSpec {
                targets: &["edge-"],
                required: &["capacity_mbps"],
                any_of: false,
                optional: &[],
                example: "`capacity_mbps = 50`: the edge's egress capacity during the fault",
            },
            FaultKind::IngestOverload => FaultSpec {
                targets: &["ingest-"],
                required: &["capacity_streams"],
                any_of: false,
                optional: &[],
                example: "`capacity_streams = 1`: streams the server can package during the fault",
            },
            FaultKind::DnsOutage => FaultSpec {
                targets: &["dns-", "cdn-dns"],
                required: &[],
                any_of: false,
                optional: &[],
                example: "",
            },
            FaultKind::DnsStale => FaultSpec {
                targets: &["dns-", "cdn-dns"],
                required: &[],
                any_of: false,
                optional: &[],
                example: "",
            },
            FaultKind::LbFail => FaultSpec {
                targets: &["lb-"],
                required: &[],
                any_of: false,
                optional: &[],
                example: "",
            },
            FaultKind::MonitorDelay => FaultSpec {
                targets: &["monitor-"],
                required: &["delay"],
                any_of: false,
                optional: &[],
                example: "`delay = \"2m\"`: how late the monitor's detections and alerts are",
            },
            FaultKind::MonitorBlind => FaultSpec {
                targets: &["monitor-"],
                required: &[],
                any_of: false,
                optional: &[],
                example: "",
            },
            FaultKind::ClockSkew => FaultSpec {
                targets: &["manager-"],
                required: &["drift"],
                any_of: false,
                optional: &[],
                example: "`drift = -0.5`: the manager's clock runs at half speed",
            },
            FaultKind::EncoderBlack => FaultSpec {
                targets: &["encoder-"],
                required: &[],
                any_of: false,
                optional: &[],
                example: "",
            },
            FaultKind::EncoderSilent => FaultSpec {
                targets: &["encoder-"],
                required: &[],
                any_of: false,
                optional: &[],
                example: "",
            },
            FaultKind::EncoderStall => FaultSpec {
                targets: &["encoder-"],
                required: &[],
                any_of: false,
                optional: &[],
                example: "",
            },
        }
    }

    pub fn accepts(self, setting: &str) -> bool {
        let spec = self.spec();
        spec.required.contains(&setting) || spec.optional.contains(&setting)
    }
}
