//! docs/scenarios.md documents every scenario key, fault setting, fault kind and the
//! names a key accepts: a key added to the schema without a line in the reference fails here.
//! docs/annotated-scenario.toml loads and spells out the defaults.
//!
//! Convention: a key appears in the reference as its backticked dotted path, e.g.
//! `` `ingest.health.interval` ``; keys of arrays of tables without an index:
//! `` `alert.for` ``, `` `fault.capacity_mbps` ``, `` `expect.metric` ``. Fault kinds and
//! enumerated values appear backticked too: `` `node.crash` ``, `` `hls.js` ``.

use std::collections::BTreeSet;

use failcast::control::alert::MonitorMetric;
use failcast::control::balance::Algorithm;
use failcast::control::player::PlayerConfig;
use failcast::metrics::summary::METRICS;
use failcast::scenario::chaos::{RandomFaults, RandomKind};
use failcast::scenario::settings::{
    AlertOp, Balancing, DispatchMode, Distribution, ExpectOp, FailbackSetting, LbCheck, OutputLocking, PassiveChecks,
    PlayerPreset, Redundancy, SessionDistribution,
};
use failcast::scenario::{load, load_str, Dur, Expect, Fault, FaultKind, Scenario};
use failcast::time::SimDuration;

const MINIMAL: &str = "[scenario]\nname = \"t\"\nduration = \"1m\"\n";

fn reference() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scenarios.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// A fault with every setting set (its kind does not matter).
fn fault_with_every_setting() -> Fault {
    let d = Dur(SimDuration::from_secs(1));
    Fault {
        id: Some("f".into()),
        at: d,
        kind: "net.degrade".into(),
        target: "encoder-1".into(),
        duration: Some(d),
        capacity_mbps: Some(1.0),
        capacity_streams: Some(1),
        latency: Some(d),
        jitter: Some(d),
        loss: Some(0.1),
        loss_burst: Some(d),
        bandwidth_mbps: Some(1.0),
        delay: Some(d),
        drift: Some(0.5),
        on: Some("alert.fired".into()),
        after: Some(d),
        other: Some("encoder-1".into()),
        one_way: Some(true),
    }
}

/// Every dotted key under `prefix`: tables recursively; the entries of an array of
/// tables under the array's own key (`alert.name`); any other value is a key.
fn collect_keys(prefix: &str, value: &toml::Value, out: &mut BTreeSet<String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, child) in table {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                collect_keys(&path, child, out);
            }
        }
        toml::Value::Array(items) if !items.is_empty() && items.iter().all(toml::Value::is_table) => {
            for item in items {
                collect_keys(prefix, item, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

/// The scenario's keys: the minimal scenario with every default, plus one fault with
/// every setting and one expectation, so that their keys are listed too.
fn scenario_keys() -> BTreeSet<String> {
    let mut scenario: Scenario = load_str("t.toml", MINIMAL, &[]).expect("the minimal scenario loads");
    scenario.faults.push(fault_with_every_setting());
    let d = Dur(SimDuration::from_secs(60));
    scenario.random_faults = Some(RandomFaults {
        from: Some(d),
        until: Some(d),
        mtbf: Some(d),
        protected: vec!["encoder-1".into()],
        kinds: vec![RandomKind {
            kind: "net.degrade".into(),
            target: Some("role:edge".into()),
            weight: Some(1.0),
            mtbf: Some(d),
            mttr: d,
            capacity_mbps: Some(1.0),
            capacity_streams: Some(1),
            latency: Some(d),
            jitter: Some(d),
            loss: Some(0.1),
            loss_burst: Some(d),
            bandwidth_mbps: Some(1.0),
            delay: Some(d),
            drift: Some(0.5),
            ..RandomKind::default()
        }],
        ..RandomFaults::default()
    });
    let expect: Expect =
        toml::from_str("metric = \"events\"\nop = \"gt\"\nvalue = 0\n").expect("an expectation parses");
    scenario.expects.push(expect);
    let value = toml::Value::try_from(&scenario).expect("a scenario serialises");
    let mut keys = BTreeSet::new();
    collect_keys("", &value, &mut keys);
    keys
}

/// Those of `names` that the reference does not mention as `` `name` ``.
fn missing<'a>(doc: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names
        .into_iter()
        .filter(|name| !doc.contains(&format!("`{name}`")))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_scenario_key_is_documented() {
    let keys = scenario_keys();
    // The walk must reach nested tables, arrays of tables and plain arrays.
    for key in [
        "ingest.health.interval",
        "encoders.reconnect.max_attempts",
        "network.edge_viewer.bandwidth_mbps",
        "alert.for",
        "expect.metric",
        "fault.loss_burst",
        "cdn.weights",
    ] {
        assert!(
            keys.contains(key),
            "the walk over the scenario missed `{key}`: {keys:?}"
        );
    }
    let undocumented = missing(&reference(), keys.iter().map(String::as_str));
    assert!(
        undocumented.is_empty(),
        "docs/scenarios.md does not document these keys (write each as `key`): {undocumented:?}"
    );
}

#[test]
fn every_fault_key_and_setting_is_documented() {
    let fault = fault_with_every_setting();
    let mut keys: Vec<String> = ["id", "at", "kind", "target", "duration", "on", "after"]
        .into_iter()
        .chain(fault.settings_given())
        .map(|key| format!("fault.{key}"))
        .collect();
    // Every setting a kind names is a key of its own.
    for kind in FaultKind::ALL {
        let spec = kind.spec();
        keys.extend((spec.required.iter().chain(spec.optional)).map(|key| format!("fault.{key}")));
    }
    keys.sort();
    keys.dedup();
    let undocumented = missing(&reference(), keys.iter().map(String::as_str));
    assert!(
        undocumented.is_empty(),
        "docs/scenarios.md does not document these fault keys (write each as `fault.KEY`): {undocumented:?}"
    );
}

#[test]
fn every_fault_kind_is_documented() {
    let undocumented = missing(&reference(), FaultKind::NAMES.iter().copied());
    assert!(
        undocumented.is_empty(),
        "docs/scenarios.md does not document these fault kinds: {undocumented:?}"
    );
}

#[test]
fn every_accepted_name_is_documented() {
    let doc = reference();
    let lists: [(&str, &[&str]); 16] = [
        ("viewers.player", PlayerConfig::PRESETS),
        ("viewers.player", PlayerPreset::NAMES),
        ("cdn.algorithm", Algorithm::NAMES),
        ("alert.metric", MonitorMetric::NAMES),
        ("alert.op", AlertOp::NAMES),
        ("expect.metric", METRICS),
        ("expect.op", ExpectOp::NAMES),
        ("ingest.redundancy", Redundancy::NAMES),
        ("ingest.output_locking", OutputLocking::NAMES),
        ("ingest.failback", FailbackSetting::NAMES),
        ("cdn.balancing", Balancing::NAMES),
        ("scenario.dispatch", DispatchMode::NAMES),
        ("lb.check", LbCheck::NAMES),
        ("lb.passive", PassiveChecks::NAMES),
        ("random_faults.kind.interval_distribution", Distribution::NAMES),
        ("viewers.session.distribution", SessionDistribution::NAMES),
    ];
    for (key, names) in lists {
        let undocumented = missing(&doc, names.iter().copied());
        assert!(
            undocumented.is_empty(),
            "docs/scenarios.md does not list these values of `{key}`: {undocumented:?}"
        );
    }
}

#[test]
fn the_schema_command_prints_a_json_schema_of_every_table() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_failcast"))
        .arg("schema")
        .output()
        .expect("failcast runs");
    assert!(output.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).expect("the schema is JSON");
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["additionalProperties"], false, "unknown keys are refused");
    let tables: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let scenario: Scenario = load_str("t.toml", MINIMAL, &[]).unwrap();
    let written = toml::Value::try_from(&scenario).unwrap();
    for key in written.as_table().unwrap().keys() {
        assert!(tables.contains(key.as_str()), "the schema lacks `{key}`");
    }
    for key in ["fault", "expect", "groups", "regions", "random_faults"] {
        assert!(tables.contains(key), "the schema lacks `{key}`");
    }
    // Durations are strings with units, defaults are given, and docs come through.
    let duration = &schema["$defs"]["Duration"];
    assert_eq!(duration["type"], "string");
    assert!(duration["pattern"].as_str().unwrap().contains("ms"));
    let capacity = &schema["$defs"]["Ingest"]["properties"]["capacity"];
    assert_eq!(capacity["default"], 0);
    assert!(capacity["description"].as_str().unwrap().contains("transcoder"));
}

/// The annotated scenario the README points to is a valid scenario file, read the way
/// `failcast run` reads one, and every table it spells out holds the defaults: it must
/// equal a minimal file with its name and duration, plus its fault and expectation.
#[test]
fn the_annotated_scenario_loads_and_shows_the_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/annotated-scenario.toml");
    let s = load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
    let minimal = load_str("t.toml", "[scenario]\nname = \"annotated\"\nduration = \"30m\"\n", &[])
        .expect("the minimal scenario loads");
    assert_eq!(s.scenario, minimal.scenario);
    assert_eq!(s.encoders, minimal.encoders);
    assert_eq!(s.managers, minimal.managers);
    assert_eq!(s.ingest, minimal.ingest);
    assert_eq!(s.dns, minimal.dns);
    assert_eq!(s.cdn, minimal.cdn);
    assert_eq!(s.lb, minimal.lb);
    assert_eq!(s.viewers, minimal.viewers);
    assert_eq!(s.network, minimal.network);
    assert_eq!(s.monitor, minimal.monitor);
    assert_eq!(s.alerts, minimal.alerts);
    // The quickstart's fault and expectation.
    assert_eq!(s.faults.len(), 1);
    assert_eq!(s.faults[0].kind, "node.crash");
    assert_eq!(s.faults[0].target, "ingest-1");
    assert_eq!(s.expects.len(), 1);
    assert_eq!(s.expects[0].metric, "failover_latency_ms.p99");
}
