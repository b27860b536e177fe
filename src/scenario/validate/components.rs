//! Checks of the components' settings: the run, encoders, ingest and DNS, managers,
//! the CDN and its load balancer.

use super::*;

/// The run's name, length and dispatch mode.
pub(super) fn check_run(c: &mut Checker<'_>, s: &Scenario) {
    let name_ok = !s.scenario.name.is_empty()
        && s.scenario
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        && !s.scenario.name.starts_with('.');
    if !name_ok {
        c.error(
            "scenario.name",
            format!("scenario.name `{}` cannot be used as a folder name", s.scenario.name),
            "use letters, digits, `-`, `_` and `.` only, e.g. \"quickstart\"",
        );
    }
    let duration = s.scenario.duration.0;
    if duration.is_zero() || duration > MAX_DURATION {
        c.error(
            "scenario.duration",
            format!("scenario.duration = \"{duration}\" must be greater than zero and at most {MAX_DURATION}"),
            "e.g. duration = \"30m\"; split longer studies into several runs",
        );
    }
    c.one_of("scenario.dispatch", &s.scenario.dispatch, DispatchMode::NAMES, &[]);
}

/// Encoders: frame rate, GOP and segment alignment, bitrate, reconnects, timeouts.
pub(super) fn check_encoders(c: &mut Checker<'_>, s: &Scenario) {
    let e = &s.encoders;
    if !(1..=240).contains(&e.fps) {
        c.error(
            "encoders.fps",
            format!("encoders.fps = {} is out of range", e.fps),
            "use 1 to 240 frames per second",
        );
    }
    let fps = e.fps.clamp(1, 240);
    let gop_frames = frames_in(e.gop.0, fps).filter(|&f| f > 0);
    if gop_frames.is_none() {
        c.error(
            "encoders.gop",
            format!(
                "encoders.gop = \"{}\" is not a whole number of frames at {fps} fps",
                e.gop.0
            ),
            "use a GOP such as \"2s\" (Apple's HLS authoring spec recommends 2 s)",
        );
    }
    if let Some(gop_frames) = gop_frames {
        if e.chunk_frames == 0 || gop_frames % u64::from(e.chunk_frames) != 0 {
            c.error(
                "encoders.chunk_frames",
                format!(
                    "encoders.chunk_frames = {} does not divide the GOP of {gop_frames} frames",
                    e.chunk_frames
                ),
                "use 1, or a divisor of the GOP length in frames",
            );
        }
        match frames_in(s.cdn.segment.0, fps) {
            Some(seg) if seg > 0 && seg % gop_frames == 0 => {}
            _ => c.error(
                "cdn.segment",
                format!(
                    "cdn.segment = \"{}\" is not a whole number of GOPs (\"{}\")",
                    s.cdn.segment.0, e.gop.0
                ),
                "every segment starts with a keyframe: make the segment a multiple of encoders.gop",
            ),
        }
    }
    if e.bitrate_kbps == 0 {
        c.error(
            "encoders.bitrate_kbps",
            "encoders.bitrate_kbps must be at least 1",
            "e.g. bitrate_kbps = 4000",
        );
    }
    let r = &e.reconnect;
    if r.multiplier.is_nan() || r.multiplier < 1.0 || r.max_attempts == 0 || r.max_delay < r.first_delay {
        c.error(
            "encoders.reconnect",
            "encoders.reconnect needs multiplier ≥ 1, max_attempts ≥ 1 and max_delay ≥ first_delay",
            "OBS Studio uses first_delay = \"2s\", multiplier = 1.5, max_attempts = 25",
        );
    }
    if r.first_delay.0 < MIN_RECONNECT_DELAY {
        c.error(
            "encoders.reconnect.first_delay",
            format!(
                "encoders.reconnect.first_delay = \"{}\" is shorter than {MIN_RECONNECT_DELAY}",
                r.first_delay.0
            ),
            "OBS Studio retries after 1 to 30 s (2 s by default): reconnecting faster would be a storm no encoder makes",
        );
    }
    if r.max_attempts > MAX_RECONNECT_ATTEMPTS {
        c.error(
            "encoders.reconnect.max_attempts",
            format!(
                "encoders.reconnect.max_attempts = {} is more than {MAX_RECONNECT_ATTEMPTS}",
                r.max_attempts
            ),
            "OBS Studio allows 1 to 10000 retries (25 by default)",
        );
    }
    // The ingest acknowledges every second of media, but no more often than the
    // encoder sends: a healthy connection must outlive one chunk and a round trip.
    let chunk = SimDuration::from_nanos(u64::from(e.chunk_frames) * 1_000_000_000 / u64::from(fps));
    let min_ack_timeout = chunk.max(SimDuration::from_secs(1)) + SimDuration::from_secs(1);
    if e.ack_timeout.0 < min_ack_timeout {
        c.error(
            "encoders.ack_timeout",
            format!(
                "encoders.ack_timeout = \"{}\" is too short: acknowledgements come every {} of media",
                e.ack_timeout.0,
                chunk.max(SimDuration::from_secs(1))
            ),
            format!("make it at least {min_ack_timeout} (SRT's peer idle timeout is \"5s\")"),
        );
    }
    if e.connect_timeout.0.is_zero() {
        c.error(
            "encoders.connect_timeout",
            "encoders.connect_timeout must be greater than zero",
            "e.g. \"3s\"",
        );
    }
}

/// The ingest tier: capacity, redundancy, health checks, switch-over.
pub(super) fn check_ingest(c: &mut Checker<'_>, s: &Scenario) {
    let i = &s.ingest;
    if i.capacity > 0 && u64::from(i.capacity) * u64::from(i.servers) < u64::from(s.encoders.count) {
        c.error(
            "ingest.capacity",
            format!(
                "ingest.capacity = {} on {} servers cannot package {} streams",
                i.capacity, i.servers, s.encoders.count
            ),
            format!(
                "raise ingest.capacity to at least {} or add servers (0: unlimited)",
                s.encoders.count.div_ceil(i.servers.max(1))
            ),
        );
    }
    if i.capacity > 0 && s.redundancy() == Some(Redundancy::ActiveActive) && i.capacity < s.encoders.count {
        c.error(
            "ingest.capacity",
            format!(
                "ingest.capacity = {} with active-active: every server packages every one of the {} streams",
                i.capacity, s.encoders.count
            ),
            format!(
                "raise ingest.capacity to at least {} (or 0: unlimited), or use active-passive, where streams are spread",
                s.encoders.count
            ),
        );
    }
    c.one_of(
        "ingest.redundancy",
        &i.redundancy,
        &["active-passive", "active-active", "dns"],
        &[],
    );
    c.one_of("ingest.output_locking", &i.output_locking, OutputLocking::NAMES, &[]);
    c.one_of(
        "ingest.input_loss_action",
        &i.input_loss_action,
        InputLossAction::NAMES,
        &[],
    );
    check_dns(c, s);
    if i.input_loss.0 < SimDuration::from_millis(100) {
        c.error(
            "ingest.input_loss",
            format!(
                "ingest.input_loss = \"{}\" is below MediaLive's 100 ms minimum",
                i.input_loss.0
            ),
            "MediaLive's typical input-loss threshold is \"1s\"",
        );
    }
    if i.health.interval.0 < MIN_HEALTH_INTERVAL {
        c.error(
            "ingest.health.interval",
            format!(
                "ingest.health.interval = \"{}\" is shorter than {MIN_HEALTH_INTERVAL}",
                i.health.interval.0
            ),
            "real checkers probe every 1–30 s (HAProxy 2 s, Route 53 30 s)",
        );
    }
    if let Err(message) = i.health.to_config().validate() {
        c.error(
            "ingest.health",
            format!("ingest.{message}"),
            "HAProxy's defaults are interval 2s, fall 3, rise 2",
        );
    }
    c.one_of("ingest.failback", &i.failback, FailbackSetting::NAMES, &[]);
    if i.idle_timeout.0.is_zero() {
        c.error(
            "ingest.idle_timeout",
            "ingest.idle_timeout must be greater than zero",
            "SRS and SRT drop a silent publisher after \"5s\"",
        );
    }

    let min_latency = [
        &s.network.encoder_ingest,
        &s.network.control,
        &s.network.ingest_origin,
        &s.network.origin_edge,
        &s.network.edge_viewer,
    ]
    .iter()
    .map(|l| l.latency.0)
    .min()
    .unwrap_or(SimDuration::ZERO);
    if i.switch_delay.0 < min_latency {
        c.error(
            "ingest.switch_delay",
            format!(
                "ingest.switch_delay = \"{}\" is shorter than the smallest link latency ({min_latency})",
                i.switch_delay.0
            ),
            "the switch travels over the network: make it at least the smallest network latency",
        );
    }
}

/// DNS failover settings, when DNS steers the ingest or the edges.
fn check_dns(c: &mut Checker<'_>, s: &Scenario) {
    if s.redundancy() == Some(Redundancy::Dns) || s.balancing() == Some(Balancing::RoundRobinDns) {
        let d = &s.dns;
        if d.health.interval.0 < MIN_DNS_HEALTH_INTERVAL {
            c.error(
                "dns.health.interval",
                format!(
                    "dns.health.interval = \"{}\" is shorter than {MIN_DNS_HEALTH_INTERVAL}",
                    d.health.interval.0
                ),
                "Route 53 checks every 30 s, or every 10 s with fast health checks",
            );
        }
        if let Err(message) = d.health.to_config().validate() {
            c.error(
                "dns.health",
                format!("dns.{message}"),
                "Route 53 checks every 30 s with threshold 3",
            );
        }
        if !(1..=MAX_DNS_CHECKERS).contains(&d.health.checkers) {
            c.error(
                "dns.health.checkers",
                format!(
                    "dns.health.checkers = {} is outside 1 … {MAX_DNS_CHECKERS}",
                    d.health.checkers
                ),
                "Route 53 checks from 8 regions when none are named; 1 is a single checker",
            );
        }
        if !(0.0..1.0).contains(&d.health.healthy_above) {
            c.error(
                "dns.health.healthy_above",
                format!(
                    "dns.health.healthy_above = {} is outside [0, 1): no endpoint could be healthy",
                    d.health.healthy_above
                ),
                "Route 53 counts an endpoint healthy while more than 0.18 of its checkers say so",
            );
        }
        if d.ttl.0.is_zero() {
            c.error(
                "dns.ttl",
                "dns.ttl must be greater than zero",
                "Route 53 recommends at most \"60s\"",
            );
        }
        if !(0.0..=1.0).contains(&d.violator_share) {
            c.error(
                "dns.violator_share",
                format!("dns.violator_share = {} is not a probability", d.violator_share),
                "about 0.087 of resolvers stretch TTLs (PAM 2023)",
            );
        }
        if d.query_timeout.0.is_zero() {
            c.error(
                "dns.query_timeout",
                "dns.query_timeout must be greater than zero",
                "resolv.conf uses \"5s\"",
            );
        }
    }
}

/// The stream managers' leader lease (client-go's leader election).
pub(super) fn check_managers(c: &mut Checker<'_>, s: &Scenario) {
    let lease = LeaseConfig {
        duration: s.managers.lease.0,
        renew_deadline: s.managers.renew_deadline.0,
        retry_period: s.managers.retry_period.0,
    };
    if let Err(message) = lease.validate() {
        c.error(
            "managers.lease",
            message,
            "client-go uses lease 15s, renew_deadline 10s, retry_period 2s",
        );
    }
    if s.managers.lease.0 < MIN_LEASE {
        c.error(
            "managers.lease",
            format!(
                "managers.lease = \"{}\" is shorter than {MIN_LEASE}",
                s.managers.lease.0
            ),
            "a Kubernetes Lease holds its duration in whole seconds (leaseDurationSeconds); client-go uses 15s",
        );
    }
    if s.managers.retry_period.0 < MIN_HEALTH_INTERVAL {
        c.error(
            "managers.retry_period",
            format!(
                "managers.retry_period = \"{}\" is shorter than {MIN_HEALTH_INTERVAL}",
                s.managers.retry_period.0
            ),
            "every retry is a write to the lease store; client-go uses 2s",
        );
    }
}

/// The CDN: shields, balancing, weights, playlist window, edge capacity.
pub(super) fn check_cdn(c: &mut Checker<'_>, s: &Scenario, counts_ok: bool) {
    let cdn = &s.cdn;
    if cdn.shields > 0 {
        let after = cdn.shield_fallback_after.0;
        if !after.is_zero() && after < MIN_SHIELD_FALLBACK {
            c.error(
                "cdn.shield_fallback_after",
                format!("cdn.shield_fallback_after = \"{after}\" is shorter than {MIN_SHIELD_FALLBACK}: a live shield would be left for a slow probe answer"),
                "allow a few probe round trips (6 s is the default), or \"0s\" to never fall back",
            );
        }
        // With edges placed in regions, a shield outside every region would be in none:
        // no inter-region distance, no region partition, a bridge between regions.
        if counts_ok && !s.regions.is_empty() {
            let nodes = NodeTable::of(s).selectable();
            let universe = s.selectors(&nodes);
            // A set: regions may list thousands of edges.
            let placed: std::collections::BTreeSet<String> = (s.regions.keys())
                .flat_map(|r| {
                    universe
                        .resolve::<crate::sim::SimRng>(&format!("region:{r}"), None)
                        .unwrap_or_default()
                })
                .collect();
            let edges_placed = (0..cdn.edges).any(|i| placed.contains(&Scenario::edge_name(i)));
            let unplaced: Vec<String> = (1..=cdn.shields)
                .map(|i| format!("shield-{i}"))
                .filter(|name| !placed.contains(name))
                .collect();
            if edges_placed && !unplaced.is_empty() {
                c.error(
                    "regions",
                    format!("{} in no region, while [regions] places the edges", unplaced.join(", ")),
                    "list every shield in the region it serves (its edges are fed by the shields of their region)",
                );
            }
        }
    }
    c.one_of(
        "cdn.balancing",
        &cdn.balancing,
        &["software", "round-robin-dns", "hardware"],
        &[],
    );
    check_lb(c, s);
    if cdn.backup_edges > 0 && s.balancing() != Some(Balancing::Software) {
        c.error(
            "cdn.backup_edges",
            format!(
                "cdn.backup_edges applies to software balancing, not `{}`",
                cdn.balancing
            ),
            "with DNS or a load balancer, viewers reach another edge through it: remove backup_edges",
        );
    }
    c.one_of("cdn.algorithm", &cdn.algorithm, Algorithm::NAMES, &[]);
    if !cdn.weights.is_empty() && (cdn.weights.len() != cdn.edges as usize || cdn.weights.iter().all(|&w| w == 0)) {
        c.error(
            "cdn.weights",
            format!(
                "cdn.weights lists {} weights for {} edges",
                cdn.weights.len(),
                cdn.edges
            ),
            "give one weight per edge (not all zero), or leave it out for equal weights",
        );
    }
    if cdn.hash_balance_factor.is_nan() || cdn.hash_balance_factor < 1.0 {
        c.error(
            "cdn.hash_balance_factor",
            format!("cdn.hash_balance_factor = {} is below 1", cdn.hash_balance_factor),
            "HAProxy's hash-balance-factor 125 is 1.25; 1 means perfectly even",
        );
    }
    if cdn.playlist_window > 10_000 {
        c.error(
            "cdn.playlist_window",
            "cdn.playlist_window is more than 10000 segments",
            "10 is common",
        );
    }
    if cdn.playlist_window < 3 {
        c.error(
            "cdn.playlist_window",
            "cdn.playlist_window must list at least 3 segments",
            "RFC 8216 §6.2.2: keep at least three target durations; 10 is common",
        );
    }

    if !(cdn.edge_capacity_mbps.is_finite() && cdn.edge_capacity_mbps >= 0.0) {
        c.error(
            "cdn.edge_capacity_mbps",
            format!("cdn.edge_capacity_mbps = {} is not a capacity", cdn.edge_capacity_mbps),
            "give Mbit/s per edge, or 0 for unlimited",
        );
    }
    if cdn.backup_edges >= cdn.edges.max(1) || cdn.backup_edges > 7 {
        c.error(
            "cdn.backup_edges",
            format!(
                "cdn.backup_edges = {} needs more than {} edges (at most 7 backups)",
                cdn.backup_edges, cdn.edges
            ),
            "each viewer's backups are other edges: use fewer backups than edges",
        );
    }
}

/// The hardware load balancer's devices and checks.
fn check_lb(c: &mut Checker<'_>, s: &Scenario) {
    let cdn = &s.cdn;
    if s.balancing() == Some(Balancing::Hardware) {
        let lb = &s.lb;
        if lb.advert_interval.0 < MIN_HEALTH_INTERVAL {
            c.error(
                "lb.advert_interval",
                format!("lb.advert_interval is shorter than {MIN_HEALTH_INTERVAL}"),
                "keepalived advertises every 1s",
            );
        }
        if lb.health.interval.0 < MIN_HEALTH_INTERVAL {
            c.error(
                "lb.health.interval",
                format!(
                    "lb.health.interval = \"{}\" is shorter than {MIN_HEALTH_INTERVAL}",
                    lb.health.interval.0
                ),
                "real checkers probe every 1–30 s (HAProxy inter 2s)",
            );
        }
        if let Err(message) = lb.health.to_config().validate() {
            c.error(
                "lb.health",
                format!("lb.{message}"),
                "HAProxy: inter 2s, fall 3, rise 2",
            );
        }
        c.one_of("lb.passive", &lb.passive, PassiveChecks::NAMES, &[]);
        c.one_of("lb.check", &lb.check, LbCheck::NAMES, &[]);
        if LbCheck::by_name(&lb.check) == Some(LbCheck::Playlist) && lb.playlist_stale_after.0 <= cdn.segment.0 {
            c.error(
                "lb.playlist_stale_after",
                format!(
                    "lb.playlist_stale_after = {} is not longer than cdn.segment = {}: a healthy edge's playlist stays the same for a whole segment, so every edge would fail",
                    lb.playlist_stale_after.0, cdn.segment.0
                ),
                format!(
                    "use at least 1.5 × cdn.segment (RFC 8216 §6.2.1 allows a playlist that long without a new segment); 3 × is {}",
                    cdn.segment.0 * 3
                ),
            );
        }
        if lb.proxy_timeout.0.is_zero() {
            c.error(
                "lb.proxy_timeout",
                "lb.proxy_timeout must be greater than zero",
                "nginx waits 60s (proxy_connect_timeout / proxy_read_timeout)",
            );
        }
        if !lb.active_checks && PassiveChecks::by_name(&lb.passive) == Some(PassiveChecks::None) {
            c.error(
                "lb.active_checks",
                "with neither active nor passive checks the devices never notice a dead edge",
                "keep active_checks = true, or set lb.passive = \"nginx\" or \"envoy\"",
            );
        }
        if lb.max_connections == 0 {
            c.error(
                "lb.max_connections",
                "lb.max_connections must be at least 1",
                "a device tracks up to millions of connections; 1000000 is the default",
            );
        }
    }
}

fn frames_in(span: SimDuration, fps: u32) -> Option<u64> {
    let product = u128::from(span.as_nanos()) * u128::from(fps);
    (product % 1_000_000_000 == 0).then_some((product / 1_000_000_000) as u64)
}
