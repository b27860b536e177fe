//! Checks of the audience and the network: viewers, their arrival curve and sessions,
//! warmup and join windows, links.

use super::*;

/// The viewers' count, player and downlink.
pub(super) fn check_viewers(c: &mut Checker<'_>, s: &Scenario) {
    let v = &s.viewers;
    if v.count == 0 {
        c.error(
            "viewers.count",
            "viewers.count must be at least 1",
            "set a positive number of viewers",
        );
    }
    c.one_of("viewers.player", &v.player, PlayerPreset::NAMES, &[]);
    if v.downlink_mbps.is_nan() || v.downlink_mbps <= 0.0 {
        c.error(
            "viewers.downlink_mbps",
            "viewers.downlink_mbps must be greater than zero",
            "e.g. downlink_mbps = 20",
        );
    }
}

/// The viewers' arrival curve, sessions and regions.
pub(super) fn check_workload(c: &mut Checker<'_>, s: &Scenario, duration: SimDuration, counts_ok: bool) {
    let v = &s.viewers;
    if !v.arrivals.is_empty() {
        if v.arrivals.len() < 2 {
            c.error(
                "viewers.arrivals",
                "an arrival curve needs at least two points",
                "give the rate at the start and at the end, e.g. arrivals = [{ at = \"0s\", rate = 1 }, { at = \"1h\", rate = 1 }]",
            );
        }
        for (i, point) in v.arrivals.iter().enumerate() {
            if i > 0 && point.at.0 < v.arrivals[i - 1].at.0 {
                c.error(
                    &format!("viewers.arrivals[{i}].at"),
                    format!(
                        "arrival point at {} comes before the one above it ({})",
                        point.at.0,
                        v.arrivals[i - 1].at.0
                    ),
                    "list the points in time order (two at the same instant make a step)",
                );
            }
            if !point.rate.is_finite() || !(0.0..=MAX_ARRIVAL_RATE).contains(&point.rate) {
                c.error(
                    &format!("viewers.arrivals[{i}].rate"),
                    format!("arrival rate {:e} is not a number in 0 ..= {MAX_ARRIVAL_RATE:e}", point.rate),
                    "rates are relative intensities: only their ratios matter, e.g. 1 at the start and 15 for a flash crowd",
                );
            }
        }
        let valid = (v.arrivals.iter()).all(|p| p.rate.is_finite() && (0.0..=MAX_ARRIVAL_RATE).contains(&p.rate));
        let ordered = v.arrivals.windows(2).all(|w| w[0].at.0 <= w[1].at.0);
        if v.arrivals.len() >= 2
            && valid
            && ordered
            && crate::scenario::workload::curve_area(&v.arrivals, duration) <= 0.0
        {
            c.error(
                "viewers.arrivals",
                format!("the arrival curve has no arrivals before the end of the run ({duration})"),
                "give some point within the run a positive rate",
            );
        }
        let defaults = crate::scenario::Viewers::default();
        let written = ["viewers.join_at", "viewers.join_over"]
            .into_iter()
            .find(|path| c.sources.writes(path));
        if written.is_some() || v.join_at != defaults.join_at || v.join_over != defaults.join_over {
            c.error(
                written.unwrap_or("viewers.join_at"),
                "viewers.join_at / join_over and viewers.arrivals both say when viewers join",
                "drop join_at and join_over: the arrival curve decides",
            );
        }
    }
    if let Some(session) = &v.session {
        c.one_of(
            "viewers.session.distribution",
            &session.distribution,
            SessionDistribution::NAMES,
            &[],
        );
        if session.mean.0.is_zero() {
            c.error(
                "viewers.session.mean",
                "viewers.session.mean must be greater than zero",
                "e.g. mean = \"20m\"",
            );
        }
        if !(session.sigma > 0.0 && session.sigma <= 4.0) {
            c.error(
                "viewers.session.sigma",
                format!("viewers.session.sigma = {} is outside (0, 4]", session.sigma),
                "1.0 gives a long tail; larger values put almost every viewer far below the mean",
            );
        }
    }
    if counts_ok && !v.regions.is_empty() {
        if s.balancing() != Some(Balancing::Software) {
            c.error(
                "viewers.regions",
                format!(
                    "viewers.regions with cdn.balancing = \"{}\": only the software balancer places viewers by region (no GeoDNS is modelled)",
                    s.cdn.balancing
                ),
                "set cdn.balancing = \"software\", or drop viewers.regions",
            );
        }
        let nodes = NodeTable::of(s).selectable();
        let universe = s.selectors(&nodes);
        for (name, &weight) in &v.regions {
            let path = format!("viewers.regions.{name}");
            if !s.regions.contains_key(name) {
                let help = match did_you_mean(name, s.regions.keys().map(String::as_str)) {
                    Some(close) => format!("did you mean `{close}`? Regions are defined under [regions]"),
                    None => "define the region under [regions] first".to_string(),
                };
                c.error(&path, format!("unknown region `{name}`"), help);
                continue;
            }
            if !weight.is_finite() || weight < 0.0 {
                c.error(
                    &path,
                    format!("region weight {weight} is not a non-negative number"),
                    "use a share such as 0.4",
                );
                continue;
            }
            let edges: Vec<usize> = (universe.resolve::<rand_chacha::ChaCha20Rng>(&format!("region:{name}"), None))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|node| node.strip_prefix("edge-")?.parse::<usize>().ok())
                .collect();
            if weight > 0.0 && edges.is_empty() {
                c.error(
                    &path,
                    format!("region `{name}` has viewers but no edge"),
                    format!("add an edge to regions.{name}, or give it weight 0"),
                );
            }
            // The balancer never picks an edge of weight 0.
            let weights = &s.cdn.weights;
            let weighted = !weights.is_empty();
            if weight > 0.0 && weighted && edges.iter().all(|&e| weights.get(e - 1).is_none_or(|&w| w == 0)) {
                c.error(
                    &path,
                    format!("region `{name}` has viewers but every edge of it has weight 0 in cdn.weights"),
                    format!("give an edge of regions.{name} a positive weight, or give the region share 0"),
                );
            }
        }
        if v.regions.values().all(|&w| w.is_finite() && w <= 0.0) {
            c.error(
                "viewers.regions",
                "every region's share is 0: no viewer has a region",
                "give some region a positive share",
            );
        }
    }
}

/// The warmup, faults inside it, the inter-region gap and the join window.
pub(super) fn check_timing(c: &mut Checker<'_>, s: &Scenario) {
    let v = &s.viewers;
    let duration = s.scenario.duration.0;
    let warmup = s.scenario.warmup.0;
    if warmup >= duration && !warmup.is_zero() {
        c.error(
            "scenario.warmup",
            format!("scenario.warmup = {warmup} leaves nothing of the {duration} run to measure"),
            "make the warmup shorter than scenario.duration",
        );
    }
    for (i, fault) in s.faults.iter().enumerate() {
        if fault.on.is_none() && fault.at.0 < warmup {
            c.error(
                &format!("fault[{i}].at"),
                format!(
                    "fault at {} starts inside the warmup ({warmup}): what it does would not be measured",
                    fault.at.0
                ),
                format!("move it to {warmup} or later, or shorten scenario.warmup"),
            );
        }
    }
    let gap = &s.network.inter_region;
    if s.regions.is_empty() && !(gap.latency.0.is_zero() && gap.jitter.0.is_zero()) {
        c.error(
            "network.inter_region",
            "network.inter_region applies between regions, and this scenario has none",
            "define [regions] (e.g. eu = [\"edge-1\", \"edge-2\"]), or drop network.inter_region",
        );
    }
    if v.join_at.0 + v.join_over.0 > duration {
        // Blame what the file wrote: the join window, else the run's length.
        let written = ["viewers.join_at", "viewers.join_over"]
            .into_iter()
            .find(|path| c.sources.writes(path));
        c.error(
            written.unwrap_or("scenario.duration"),
            format!(
                "viewers join until {} but the run ends at {duration}",
                v.join_at.0 + v.join_over.0
            ),
            "make viewers.join_at + viewers.join_over at most scenario.duration",
        );
    }
}

/// Every link's latency, loss and bandwidth.
pub(super) fn check_links(c: &mut Checker<'_>, s: &Scenario) {
    for (name, link) in [
        ("encoder_ingest", &s.network.encoder_ingest),
        ("control", &s.network.control),
        ("ingest_origin", &s.network.ingest_origin),
        ("origin_edge", &s.network.origin_edge),
        ("edge_viewer", &s.network.edge_viewer),
    ] {
        if link.latency.0.is_zero() {
            c.error(
                &format!("network.{name}.latency"),
                format!("network.{name}.latency must be greater than zero"),
                "every link has some propagation delay; the kernel's lookahead is the smallest one",
            );
        }
        if !(0.0..=1.0).contains(&link.loss) {
            c.error(
                &format!("network.{name}.loss"),
                format!("network.{name}.loss = {} is not a probability", link.loss),
                "use a value between 0 and 1",
            );
        }
        if link.bandwidth_mbps.is_nan() || link.bandwidth_mbps < 0.0 {
            c.error(
                &format!("network.{name}.bandwidth_mbps"),
                "bandwidth cannot be negative",
                "use 0 for unlimited",
            );
        }
    }
}
