//! The frame ledger: where each stream's frames went (played, dropped at ingest, in
//! distribution or at the player, or still in flight), counted per stage.

use super::*;

/// The frame ledger: produced = played + dropped.total + in flight + unwatched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Frames counted downstream beyond what was produced (a bookkeeping error; zero
    /// in every correct run).
    pub overcounted: u64,
    pub produced: u64,
    pub played: u64,
    pub dropped: FramesDropped,
    pub in_flight: u64,
    pub unwatched: u64,
}

impl Ledger {
    pub fn balances(&self) -> bool {
        self.overcounted == 0 && self.produced == self.played + self.dropped.total + self.in_flight + self.unwatched
    }
}

pub(super) fn display_time(first: SimTime, frame: u64, fps: u32) -> SimTime {
    first + SimDuration::from_nanos(frame * 1_000_000_000 / u64::from(fps))
}

/// Settles the fate of every produced frame at the end of the run, all streams
/// together.
pub fn ledger(rec: &Recorder) -> Ledger {
    let mut total = Ledger::default();
    for stream in 0..rec.streams.len() {
        let l = stream_ledger(rec, stream);
        total.produced += l.produced;
        total.overcounted += l.overcounted;
        total.played += l.played;
        total.in_flight += l.in_flight;
        total.unwatched += l.unwatched;
        total.dropped += l.dropped;
    }
    total
}

/// The union of the viewers' ranges `[first_index, frontier)`, as sorted disjoint
/// intervals.
pub(super) fn owed_ranges(viewers: &[&ViewerRecord]) -> Vec<(u64, u64)> {
    merged_ranges((viewers.iter()).filter_map(|v| Some((v.first_index?, v.frontier.unwrap_or(u64::MAX)))))
}

pub(super) fn is_owed(owed: &[(u64, u64)], index: u64) -> bool {
    let after = owed.partition_point(|&(first, _)| first <= index);
    after > 0 && index < owed[after - 1].1
}

/// `ranges` (in any order) as sorted disjoint intervals.
pub(super) fn merged_ranges(ranges: impl Iterator<Item = (u64, u64)>) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = ranges.filter(|(first, end)| first < end).collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (first, end) in ranges {
        match merged.last_mut() {
            Some(last) if first <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((first, end)),
        }
    }
    merged
}

/// How much of `[from, to)` the sorted disjoint `ranges` cover.
pub(super) fn covered(ranges: &[(u64, u64)], from: u64, to: u64) -> u64 {
    let start = ranges.partition_point(|&(_, end)| end <= from);
    (ranges[start..].iter())
        .take_while(|&&(first, _)| first < to)
        .map(|&(first, end)| end.min(to).saturating_sub(first.max(from)))
        .sum()
}

/// How much of `[from, to)` both sorted disjoint range lists cover.
fn covered_in_both(a: &[(u64, u64)], b: &[(u64, u64)], from: u64, to: u64) -> u64 {
    let start = a.partition_point(|&(_, end)| end <= from);
    (a[start..].iter())
        .take_while(|&&(first, _)| first < to)
        .map(|&(first, end)| covered(b, first.max(from), end.min(to)))
        .sum()
}

/// Settles the fate of every frame `stream` produced, against its own viewers.
pub(super) fn stream_ledger(rec: &Recorder, stream: usize) -> Ledger {
    let end = rec.shape.end;
    let own = &rec.streams[stream];
    let started: Vec<_> = (rec.viewers.iter())
        .filter(|v| v.stream as usize == stream && v.first_index.is_some())
        .collect();
    // A segment nobody played is in flight if a viewer still watching may yet reach
    // it; lost if it lay in some viewer's range (first segment to frontier); else
    // nobody was owed it (before anyone joined, or while nobody watched).
    let still_watching_frontier = (started.iter())
        .filter(|v| v.left_at.is_none())
        .map(|v| v.frontier.unwrap_or(u64::MAX))
        .min();
    let owed = owed_ranges(&started);
    let mut ledger = Ledger {
        produced: own.frames_produced,
        ..Ledger::default()
    };
    // Published media, each frame once: a segment's frames that an earlier one
    // already held (`overlap_frames`) are not new.
    let published: u64 = (own.segments.values())
        .map(|segment| u64::from(segment.frames) - segment.overlap_frames)
        .sum();
    // Cut by a packager but never published (as frame ranges, so copies cut at other
    // phases count only for media no published segment holds): lost between ingest
    // and origin, or passed over by a switch to a misaligned pipeline, unless it may
    // still arrive.
    let published_ranges = merged_ranges(
        (own.segments.values()).map(|segment| (segment.first_frame, segment.first_frame + u64::from(segment.frames))),
    );
    // From here on a live packager will still publish every frame (never media before
    // the published end, which only moves forward: a standby cutting at another phase
    // holds some); without one, nothing more comes.
    let produced_ranges = &own.produced_ranges;
    let production_end = produced_ranges.last().map_or(0, |&(_, end)| end);
    let floor = (own.ingest_floor)
        .map_or(production_end, |floor| floor.max(own.published_end.unwrap_or(0)))
        .min(production_end);
    let mut packaged_unpublished = 0u64;
    let mut cursor = 0u64;
    for (&first, &(end, at)) in &own.packaged_ranges {
        let (from, end) = (first.max(cursor), end.min(floor));
        if from >= end {
            continue;
        }
        cursor = end;
        let frames = (end - from) - covered(&published_ranges, from, end);
        packaged_unpublished += frames;
        if at + rec.shape.max_ingest_to_origin >= rec.shape.end {
            ledger.in_flight += frames;
        } else {
            ledger.dropped.distribution += frames;
        }
    }
    for (&index, segment) in &own.segments {
        let frames = u64::from(segment.frames) - segment.overlap_frames;
        if let Some(first_play) = segment.first_play_at {
            let shown = (segment.overlap_frames..u64::from(segment.frames))
                .take_while(|&i| display_time(first_play, i, rec.shape.fps) < end)
                .count() as u64;
            ledger.played += shown;
            ledger.in_flight += frames - shown;
        } else if still_watching_frontier.is_some_and(|frontier| index >= frontier) {
            ledger.in_flight += frames;
        } else if is_owed(&owed, index) {
            if segment.first_edge_at.is_none() {
                ledger.dropped.distribution += frames;
            } else {
                ledger.dropped.player += frames;
            }
        } else {
            ledger.unwatched += frames;
        }
    }
    // Each stage counted where it happens: frames captured before the floor that
    // reached no packager are lost at ingest; from the floor on, captured frames not
    // yet published are still on their way through the live ingest. Neither is a
    // remainder, so the ledger balancing is a check, not an identity.
    let reached_packager = merged_ranges(
        (own.packaged_ranges.iter())
            .map(|(&first, &(end, _))| (first, end))
            .chain(published_ranges.iter().copied()),
    );
    let captured = |from: u64, to: u64| covered(produced_ranges, from, to);
    ledger.dropped.ingest = captured(0, floor) - covered_in_both(produced_ranges, &reached_packager, 0, floor);
    ledger.in_flight +=
        captured(floor, u64::MAX) - covered_in_both(produced_ranges, &published_ranges, floor, u64::MAX);
    let downstream = published + packaged_unpublished;
    ledger.overcounted += downstream.saturating_sub(ledger.produced);
    ledger.dropped.total = ledger.dropped.ingest + ledger.dropped.distribution + ledger.dropped.player;
    ledger
}

/// Viewer-frames lost, by stage. Each viewer is owed every frame of its stream's
/// nominal segments from its start position to where it got (`first_index` to
/// `frontier`). Of those it did not play: frames no packager received are lost at
/// ingest (whole segments never cut, and the gaps of segments cut short); frames of
/// segments cut but never published, or published but never at any edge, are lost in
/// distribution; the rest of what it skipped (reached an edge, passed over) is lost
/// by the player. So for each viewer, owed = played + these three.
pub fn viewer_frames_dropped(rec: &Recorder) -> FramesDropped {
    // Running sums over each stream's segments make a viewer two lookups instead of a
    // walk over every segment it was owed: a million viewers of an hour would
    // otherwise take a minute here.
    let mut spans: Vec<Option<(u64, u64)>> = vec![None; rec.streams.len()];
    for v in &rec.viewers {
        if let (Some(first), Some(frontier)) = (v.first_index, v.frontier) {
            let frontier = frontier.max(first);
            let span = &mut spans[v.stream as usize];
            *span = Some(span.map_or((first, frontier), |(lo, hi)| (lo.min(first), hi.max(frontier))));
        }
    }
    let sums: Vec<Option<DropSums>> = (spans.iter().enumerate())
        .map(|(stream, span)| span.map(|(lo, hi)| DropSums::new(rec, stream, lo, hi)))
        .collect();
    let mut total = FramesDropped::default();
    for v in &rec.viewers {
        if let (Some(first), Some(frontier), Some(sums)) = (v.first_index, v.frontier, &sums[v.stream as usize]) {
            total += sums.for_viewer(v, first, frontier);
        }
    }
    total
}

/// Per segment index of one stream from `from` on, the frames owed but not played so
/// far, by cause, summed over the indices before it.
pub(super) struct DropSums {
    from: u64,
    /// `(ingest, distribution, never at an edge)` over indices `from..from + i`.
    before: Vec<[u64; 3]>,
}

impl DropSums {
    fn new(rec: &Recorder, stream: usize, from: u64, until: u64) -> DropSums {
        let per_segment = rec.shape.frames_per_segment;
        let own = &rec.streams[stream];
        let mut running = [0u64; 3];
        let mut before = Vec::with_capacity((until - from) as usize + 1);
        before.push(running);
        for index in from..until {
            let (received, lost_in_distribution, never_at_edge) =
                match (own.segments.get(&index), own.packaged.get(&index)) {
                    (Some(published), _) => {
                        let lost = if published.first_edge_at.is_none() {
                            u64::from(published.frames)
                        } else {
                            0
                        };
                        (u64::from(published.frames), lost, lost)
                    }
                    (None, Some(&(frames, _))) => (u64::from(frames), u64::from(frames), 0),
                    (None, None) => (0, 0, 0),
                };
            running[0] += per_segment.saturating_sub(received);
            running[1] += lost_in_distribution;
            running[2] += never_at_edge;
            before.push(running);
        }
        DropSums { from, before }
    }

    /// One viewer's share of [`viewer_frames_dropped`], owed segments `first..frontier`.
    fn for_viewer(&self, v: &ViewerRecord, first: u64, frontier: u64) -> FramesDropped {
        let frontier = frontier.max(first);
        let (a, b) = (
            &self.before[(first - self.from) as usize],
            &self.before[(frontier - self.from) as usize],
        );
        let mut dropped = FramesDropped {
            ingest: b[0] - a[0],
            distribution: b[1] - a[1],
            ..FramesDropped::default()
        };
        // What never reached an edge was necessarily skipped; the rest of the skips are
        // the player's.
        dropped.player = v.frames_skipped.saturating_sub(b[2] - a[2]);
        dropped.total = dropped.ingest + dropped.distribution + dropped.player;
        dropped
    }
}
