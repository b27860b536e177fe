//! The short human summary `failcast run` prints.

use std::fmt::Write;

use crate::metrics::{FailoverRow, Summary};

fn secs(ms: Option<f64>) -> String {
    ms.map_or_else(|| "-".to_string(), |v| format!("{:.2} s", v / 1000.0))
}

/// A few lines: what ran, what viewers lost, and where the failovers spent their time.
pub fn run_summary(s: &Summary, failovers: &[FailoverRow]) -> String {
    let mut out = String::new();
    let d = &s.frames_dropped;
    let _ = writeln!(
        out,
        "seed {} · {} · {:.0} s simulated in {:.2} s wall · {} events · trace {}",
        s.seed, s.scenario, s.sim_duration_s, s.wall_s, s.events, s.trace_digest
    );
    let _ = writeln!(
        out,
        "frames    {} produced, {} played, {} dropped (ingest {}, distribution {}, player {}), {} in flight",
        s.frames_produced, s.frames_played, d.total, d.ingest, d.distribution, d.player, s.frames_in_flight
    );
    let f = &s.failover_latency_ms;
    let _ = writeln!(
        out,
        "failover  {} failover(s), {} failback(s); latency p50 {}, p99 {}, max {}",
        s.failovers,
        s.failbacks,
        secs(f.p50),
        secs(f.p99),
        secs(f.max)
    );
    for row in failovers {
        let _ = writeln!(
            out,
            "          #{} {}{} {} → {} ({}): onset {:.3} s, detected +{:.2} s by {}, switched +{:.2} s, first frame {}, first segment {}{}",
            row.episode,
            if s.streams > 1 {
                format!("{} ", row.stream)
            } else {
                String::new()
            },
            row.kind,
            row.from,
            row.to,
            if row.fault.is_empty() {
                "no injected fault"
            } else {
                &row.fault
            },
            row.onset_ms / 1000.0,
            (row.detected_ms - row.onset_ms) / 1000.0,
            row.detected_by,
            (row.switched_ms - row.onset_ms) / 1000.0,
            row.failover_latency_ms
                .map_or("never".to_string(), |l| format!("+{:.2} s", l / 1000.0)),
            row.first_segment_ms
                .map_or("never".to_string(), |t| format!("+{:.2} s", (t - row.onset_ms) / 1000.0)),
            match row.media_gap_ms {
                Some(gap) if gap > 0.0 => format!(", media gap {:.2} s", gap / 1000.0),
                Some(gap) if gap < 0.0 => format!(", media repeated {:.2} s", -gap / 1000.0),
                Some(_) => ", seamless".to_string(),
                None => String::new(),
            },
        );
    }
    let _ = writeln!(
        out,
        "viewers   {} ({} started, startup p50 {}); {} stalls ({}), {:.1} s stalled in all; rebuffering {:.3}%",
        s.viewers,
        s.viewers_started,
        secs(s.startup_ms_p50),
        s.stall_count,
        stall_bands(&s.stall_count_by_duration),
        s.stall_s_total,
        s.rebuffer_ratio * 100.0
    );
    if s.viewer_request_errors > 0 || s.viewer_route_switches > 0 {
        let _ = writeln!(
            out,
            "requests  {} failed (timed out or answered with an error); {} moves to another edge",
            s.viewer_request_errors, s.viewer_route_switches
        );
    }
    if s.slate_segments > 0 || s.gap_segments > 0 {
        let _ = writeln!(
            out,
            "fill      {} slate segment(s), {} EXT-X-GAP entr{} in place of lost input; {:.1} s of slate watched in all",
            s.slate_segments,
            s.gap_segments,
            if s.gap_segments == 1 { "y" } else { "ies" },
            s.viewer_slate_s
        );
    }
    if s.viewer_fatal_errors > 0 {
        let _ = writeln!(
            out,
            "players   {} fatal error(s) (a stuck playlist, or behind the live window); each player was prepared again",
            s.viewer_fatal_errors
        );
    }
    if s.viewers_stranded > 0 {
        let _ = writeln!(
            out,
            "FINDING   {} viewer(s) stranded for good: Shaka's wall-clock live window emptied after media was spliced out of the playlist",
            s.viewers_stranded
        );
    }
    if s.split_brain_s > 0.0 {
        let _ = writeln!(
            out,
            "FINDING   split brain: more than one manager led for {:.3} s in all",
            s.split_brain_s
        );
    }
    let _ = write!(out, "stream    availability {:.4}%", s.availability * 100.0);
    out
}

/// Stalls by duration band, as the headline and the report's card say it.
pub fn stall_bands(bands: &crate::metrics::StallBands) -> String {
    format!(
        "{} under 0.1 s, {} of 0.1-1 s, {} of 1 s or more",
        bands.under_100ms, bands.from_100ms_to_1s, bands.from_1s
    )
}
