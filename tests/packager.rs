//! What a packager publishes while its input is lost (`ingest.input_loss_action`):
//! nothing (the lost media spliced out), slate segments, or `EXT-X-GAP` entries, and
//! what each does to viewers and to the origin's input selection.

mod common;

use common::balances;
use failcast::experiment::{run_scenario, RunOutput};
use failcast::scenario::{self, Scenario};

const VIEWERS: u64 = 100;

/// The encoder sends nothing from 10 min for 1 min, keeping its connection.
fn stalled_encoder(action: &str, player: &str) -> RunOutput {
    let action = format!("ingest.input_loss_action={action}");
    let player = format!("viewers.player={player}");
    let count = format!("viewers.count={VIEWERS}");
    let s = common::scenario(
        "scenarios/stalled-encoder.toml",
        &["scenario.duration=12m", &count, &action, &player],
    );
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(balances(&out.summary), "{action}");
    out
}

/// Slots between the first and last media segment that carry no media.
fn slots_without_media(out: &RunOutput) -> u64 {
    let indices: Vec<u64> = out.published.iter().map(|&(_, index, _)| index).collect();
    let (first, last) = (indices.iter().min().unwrap(), indices.iter().max().unwrap());
    last - first + 1 - indices.len() as u64
}

#[test]
fn slate_keeps_viewers_playing_through_an_encoder_stall_and_shows_them_slate() {
    let splice = stalled_encoder("splice", "hls.js");
    let slate = stalled_encoder("slate", "hls.js");
    let (s, sl) = (&splice.summary, &slate.summary);
    // Spliced: 33 slots never published (the one the stall began in, the minute, and
    // the wait for the encoder to reconnect once the server dropped it, then for a
    // keyframe), and every viewer stalls.
    assert_eq!(slots_without_media(&splice), 33);
    assert_eq!((s.slate_segments, s.gap_segments), (0, 0));
    assert!(s.stall_count >= VIEWERS && s.stall_s_total > 55.0 * VIEWERS as f64);
    // Slate: every slot without media went out as slate, on schedule, so nobody stalls
    // and every viewer watched every slate segment.
    assert_eq!(sl.slate_segments, slots_without_media(&slate));
    assert!(sl.slate_segments > 0);
    assert_eq!(sl.stall_count, 0);
    assert_eq!(sl.viewer_slate_s, sl.slate_segments as f64 * 2.0 * VIEWERS as f64);
    // The content is as lost as before, but for the 59 frames received in the slot the
    // stall began in: the slate packager publishes them once that slot's input is
    // late, where the splicing one loses them with the connection it drops.
    assert_eq!(sl.frames_dropped.ingest + 59, s.frames_dropped.ingest);
    // Slate is not content: the stream counts as unavailable meanwhile.
    assert!(sl.availability < 0.95, "{}", sl.availability);
}

#[test]
fn gap_entries_keep_the_playlist_moving_so_media3_does_not_call_it_stuck() {
    let splice = stalled_encoder("splice", "exoplayer");
    let gap = stalled_encoder("gap", "exoplayer");
    // A playlist frozen for a minute: media3 throws PlaylistStuckException past 7 s,
    // its host prepares it again 5 s later, and it gets stuck again, about every 12 s.
    assert_eq!(splice.summary.viewer_fatal_errors, 5 * VIEWERS);
    // EXT-X-GAP entries on schedule: the playlist never stops growing. Viewers still
    // wait for media, as they do for a splice, but no player errs.
    assert_eq!(gap.summary.viewer_fatal_errors, 0);
    assert_eq!(gap.summary.gap_segments, slots_without_media(&gap));
    assert!(gap.summary.gap_segments > 0);
    assert!(gap.summary.stall_count >= VIEWERS);
    assert_eq!(gap.summary.viewer_slate_s, 0.0);
    // hls.js never calls a playlist stuck.
    assert_eq!(stalled_encoder("splice", "hls.js").summary.viewer_fatal_errors, 0);
}

/// Active-active, with the encoder's uplink to ingest-1 cut for 30 s at 10 min:
/// ingest-1 is up, its input is lost.
fn uplink_cut(action: &str) -> RunOutput {
    uplink_cut_with(action, "", &[])
}

/// [`uplink_cut`] with more of a scenario file and more overrides.
fn uplink_cut_with(action: &str, more: &str, settings: &[&str]) -> RunOutput {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("uplink-cut.toml");
    std::fs::write(
        &path,
        r#"
[scenario]
name = "uplink-cut"
duration = "12m"
seed = 1

[ingest]
redundancy = "active-active"
servers = 2

[cdn]
edges = 2

[viewers]
count = 50

[[fault]]
id = "uplink-cut"
at = "10m"
kind = "net.partition"
target = "ingest-1"
other = "encoder-1"
duration = "30s"
"#
        .to_string()
            + more,
    )
    .unwrap();
    let mut overrides = vec![format!("ingest.input_loss_action={action}")];
    overrides.extend(settings.iter().map(|s| s.to_string()));
    let s: Scenario = scenario::load(&path, &overrides).unwrap_or_else(|e| panic!("{e}"));
    run_scenario(&s, 1, None, false).unwrap()
}

#[test]
fn slate_from_a_live_pipeline_hides_its_input_loss_from_the_origin() {
    // Spliced: ingest-1 goes quiet and the origin's selector moves to ingest-2 after
    // its input-loss threshold; nobody notices.
    let splice = uplink_cut("splice");
    assert_eq!(splice.failovers.len(), 1);
    assert_eq!(splice.summary.frames_dropped.total, 0);
    assert_eq!(splice.summary.slate_segments, 0);
    // Slate: ingest-1 keeps delivering, filler and all, so the origin never switches
    // ("MediaPackage doesn't consider filler frames to be lost content, and therefore
    // doesn't switch"): viewers watch slate while ingest-2 had every frame.
    let slate = uplink_cut("slate");
    assert!(slate.failovers.is_empty());
    // 22 slots (44 s): the 30 s cut, then the encoder's reconnection to ingest-1 and
    // the wait for its next keyframe.
    assert_eq!(slate.summary.slate_segments, 22);
    assert_eq!(slate.summary.stall_count, 0);
    assert_eq!(
        slate.summary.viewer_slate_s,
        slate.summary.slate_segments as f64 * 2.0 * 50.0
    );
    assert!(slate.summary.frames_dropped.distribution > 0);
    assert!(balances(&slate.summary));
}

#[test]
fn a_crashed_packager_fills_nothing() {
    // The quickstart crashes ingest-1: nothing is left to publish slate, and the
    // standby has not published the stream when it takes over.
    let run = |action: &str| {
        let setting = format!("ingest.input_loss_action={action}");
        run_scenario(&common::short_quickstart(&[&setting]), 1, None, false)
            .unwrap()
            .summary
    };
    let (splice, slate) = (run("splice"), run("slate"));
    assert_eq!(slate.slate_segments, 0);
    assert_eq!(slate.stall_count, splice.stall_count);
    assert_eq!(slate.frames_dropped, splice.frames_dropped);
    assert_eq!(slate.failover_latency_ms.max, splice.failover_latency_ms.max);
}

#[test]
fn shaka_viewers_are_stranded_by_a_splice_and_spared_by_gap_entries() {
    // An ingest failover splices 8 s out: every Shaka viewer's wall-clock live window
    // empties and it never loads another segment; hls.js viewers play on.
    let run = |player: &str| {
        let setting = format!("viewers.player={player}");
        run_scenario(&common::short_quickstart(&[&setting]), 1, None, false)
            .unwrap()
            .summary
    };
    let (shaka, hls) = (run("shaka"), run("hls.js"));
    assert_eq!(shaka.viewers_stranded, shaka.viewers);
    assert_eq!(hls.viewers_stranded, 0);
    // Stranded at the failover (10 min), they stall to the end of the 12 min run.
    assert!(
        shaka.stall_s_total > 100.0 * shaka.viewers as f64,
        "{}",
        shaka.stall_s_total
    );
    assert!(balances(&shaka));
    // A live packager that lists EXT-X-GAP entries (or slate) keeps the timeline.
    for action in ["gap", "slate"] {
        let out = stalled_encoder(action, "shaka");
        assert_eq!(out.summary.viewers_stranded, 0, "{action}");
    }
    assert_eq!(stalled_encoder("splice", "shaka").summary.viewers_stranded, VIEWERS);
}

#[test]
fn a_pause_does_not_stop_a_server_filling() {
    // ingest-1 pauses for 300 ms at 5 min: its fill timer comes late, and must still
    // count; the cut at 10 min is filled as without the pause.
    let pause = r#"
[[fault]]
id = "pause"
at = "5m"
kind = "node.pause"
target = "ingest-1"
duration = "300ms"
"#;
    let paused = uplink_cut_with("slate", pause, &[]);
    assert_eq!(paused.summary.slate_segments, 22);
    assert!(paused.failovers.is_empty());
}

#[test]
fn jitter_within_the_fill_margin_never_fills() {
    // 10 ms mean jitter (capped at 100 ms) on the encoder's uplinks and no input lost
    // before the cut: every segment goes out whole, and only the cut is filled.
    let jittery = uplink_cut_with("slate", "", &["network.encoder_ingest.jitter=10ms"]);
    assert_eq!(jittery.summary.slate_segments, 22);
    assert_eq!(
        jittery.summary.frames_dropped.total,
        jittery.summary.frames_dropped.distribution
    );
    let segments_short = (jittery.published.iter())
        .filter(|&&(_, index, frames)| frames < 60 && index < 290)
        .count();
    assert_eq!(segments_short, 0);
}

#[test]
fn an_origin_failover_splices_what_no_origin_published() {
    // origin-1 dies at 10 min: its streams move to origin-2, which cannot know what
    // came before; the edges list what they missed as spliced, so the Shaka viewers
    // of those streams (half of them) are stranded, the rest play on.
    let s = common::scenario(
        "scenarios/origin-failover.toml",
        &["scenario.duration=12m", "viewers.count=120", "viewers.player=shaka"],
    );
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert_eq!(out.summary.viewers_stranded, 60);
    let stranded_streams: std::collections::BTreeSet<u32> = (out.viewers.iter())
        .filter(|v| v.stranded_at.is_some())
        .map(|v| v.stream)
        .collect();
    let moved: std::collections::BTreeSet<u32> = (out.failovers.iter())
        .filter_map(|e| e.stream.strip_prefix("stream-")?.parse::<u32>().ok().map(|k| k - 1))
        .collect();
    assert_eq!(stranded_streams, moved);
}
