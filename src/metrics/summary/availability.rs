//! Availability: of the stream, of the edges, per window, and the outages behind it.

use super::*;

/// Share of the time since its first segment during which a stream's live edge at the
/// origin was fresh (it is stale once no new segment has arrived for 1.5 target
/// durations), averaged over the streams.
pub fn availability(rec: &Recorder) -> f64 {
    let streams = rec.streams.len();
    (0..streams).map(|stream| stream_availability(rec, stream)).sum::<f64>() / streams as f64
}

/// Availability where viewers fetch: over every (stream, edge) pair, the share of the
/// time since the edge's first segment of the stream during which it held a fresh
/// one (a new segment within 1.5 segment durations). A crashed or cut-off edge
/// receives nothing and goes stale; one that restarts is fresh from its next segment.
pub fn edge_availability(rec: &Recorder) -> f64 {
    let stale_after = rec.shape.segment.mul_f64(1.5);
    let end = rec.shape.end;
    let (mut stale, mut span) = (SimDuration::ZERO, SimDuration::ZERO);
    for fresh in rec.edge_freshness.iter().flatten() {
        let Some(first) = fresh
            .first
            .map(|first| first.max(rec.measure_from))
            .filter(|&first| first < end)
        else {
            continue;
        };
        span += end - first;
        stale += fresh.stale + end.saturating_since((fresh.last + stale_after).max(rec.measure_from));
    }
    if span == SimDuration::ZERO {
        return 0.0;
    }
    1.0 - stale.as_secs_f64() / span.as_secs_f64()
}

/// [`availability`] over `[from, to)`: each stream counts from its first segment (and
/// `scenario.warmup`) as over the whole run, a stream that never published is down
/// throughout, and a window that ends before any stream began has no value. Over the
/// whole run it is exactly [`availability`].
pub(super) fn windowed_availability(rec: &Recorder, from: SimTime, to: SimTime) -> Option<f64> {
    let mut ratios = Vec::with_capacity(rec.streams.len());
    for stream in 0..rec.streams.len() {
        let Some(first) = rec.streams[stream].segments.values().map(|s| s.published_at).min() else {
            ratios.push(0.0);
            continue;
        };
        let start = first.max(rec.measure_from).max(from);
        let end = to.min(rec.shape.end);
        if end <= start {
            continue;
        }
        let unavailable = (outages(rec, stream).iter()).fold(SimDuration::ZERO, |total, &(a, b)| {
            total + b.min(end).saturating_since(a.max(start))
        });
        ratios.push(1.0 - unavailable.as_secs_f64() / (end - start).as_secs_f64());
    }
    (!ratios.is_empty()).then(|| ratios.iter().sum::<f64>() / ratios.len() as f64)
}

pub(super) fn stream_availability(rec: &Recorder, stream: usize) -> f64 {
    let Some(first) = rec.streams[stream].segments.values().map(|s| s.published_at).min() else {
        return 0.0;
    };
    let first = first.max(rec.measure_from);
    let end = rec.shape.end;
    if end <= first {
        return 1.0;
    }
    let unavailable = outages(rec, stream)
        .iter()
        .fold(SimDuration::ZERO, |total, &(from, to)| {
            total + to.saturating_since(from.max(first))
        });
    1.0 - unavailable.as_secs_f64() / (end - first).as_secs_f64()
}

/// The intervals during which `stream` was not playable at the origin: from 1.5 × the
/// segment duration after a publication until the next one (or the end).
pub fn outages(rec: &Recorder, stream: usize) -> Vec<(SimTime, SimTime)> {
    let mut publishes: Vec<SimTime> = (rec.streams[stream].segments.values())
        .map(|s| s.published_at)
        .collect();
    publishes.sort_unstable();
    let stale_after = rec.shape.segment.mul_f64(1.5);
    let end = rec.shape.end;
    let boundaries = publishes.iter().skip(1).copied().chain(std::iter::once(end));
    publishes
        .iter()
        .zip(boundaries)
        .filter_map(|(&previous, next)| {
            let stale = previous + stale_after;
            (next > stale).then_some((stale, next))
        })
        .collect()
}
