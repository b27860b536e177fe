//! The player's live-edge rules: where it joins in a spliced or gapped playlist,
//! hls.js's stall-raised target latency, and media3's fatal stuck-playlist and
//! behind-live-window errors.

use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SEG: SimDuration = SimDuration::from_secs(2);

fn t(ms: u64) -> SimTime {
    SimTime::from_millis(ms)
}

fn listed(indices: &[u64]) -> Vec<PlaylistEntry> {
    indices.iter().map(|&index| PlaylistEntry::media(index, SEG)).collect()
}

fn gap(index: u64) -> PlaylistEntry {
    PlaylistEntry {
        gap: true,
        ..PlaylistEntry::media(index, SEG)
    }
}

fn drain(p: &mut Player) -> (Vec<PlayerAction>, Vec<PlayerEvent>) {
    (
        std::iter::from_fn(|| p.poll_action()).collect(),
        std::iter::from_fn(|| p.poll_event()).collect(),
    )
}

fn requests(actions: &[PlayerAction]) -> (Option<u32>, Vec<(u32, u64)>) {
    let playlist = actions.iter().rev().find_map(|a| match *a {
        PlayerAction::LoadPlaylist { req, .. } => Some(req),
        _ => None,
    });
    let segments = (actions.iter())
        .filter_map(|a| match *a {
            PlayerAction::LoadSegment { req, index, .. } => Some((req, index)),
            _ => None,
        })
        .collect();
    (playlist, segments)
}

/// A player of `config` that joined at 0 and got `entries` at 10 ms; the segment it
/// asked for.
fn joined(config: PlayerConfig, entries: &[PlaylistEntry]) -> (Player, u32, u64) {
    let mut p = Player::new(config, SEG, 1);
    p.handle_join(t(0));
    drain(&mut p);
    p.handle_playlist(t(10), 0, entries);
    let (_, segments) = requests(&drain(&mut p).0);
    (p, segments[0].0, segments[0].1)
}

#[test]
fn joins_three_entries_back_across_a_splice() {
    // 4..=7 were spliced out: the playlist lists 8 right after 3. Three target
    // durations back from its end is segment 2, as a real (contiguous) playlist says,
    // not 6 by index arithmetic.
    let (p, _, index) = joined(PlayerConfig::HLS_JS, &listed(&[0, 1, 2, 3, 8]));
    assert_eq!(index, 2);
    assert_eq!(p.first_index(), Some(2));
}

#[test]
fn gap_entries_are_never_requested_and_count_toward_the_hold_back() {
    let entries = [
        PlaylistEntry::media(0, SEG),
        PlaylistEntry::media(1, SEG),
        gap(2),
        gap(3),
        PlaylistEntry::media(4, SEG),
    ];
    // Three entries back is the gap at 2: the player passes it and 3 without a request.
    let mut p = Player::new(PlayerConfig::SHAKA, SEG, 1);
    p.handle_join(t(0));
    drain(&mut p);
    p.handle_playlist(t(10), 0, &entries);
    let (actions, events) = drain(&mut p);
    assert_eq!(requests(&actions).1, [(1, 4)]);
    assert_eq!(p.first_index(), Some(2));
    assert_eq!(
        events,
        [PlayerEvent::Skipped {
            at: t(10),
            from: 2,
            to: 4
        }]
    );
}

#[test]
fn hls_js_resyncs_a_target_duration_further_back_after_stalls() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut p, req, index) = joined(PlayerConfig::HLS_JS, &listed(&[0]));
    assert_eq!(index, 0);
    p.handle_segment_loaded(t(100), req, PlaylistEntry::media(0, SEG));
    drain(&mut p);
    // Nothing new for a while: two stalls' worth would add 2 s, capped at one target
    // duration; one stall adds 1 s. The player stalls once (at 2.1 s) and is then
    // left behind a window that moved on to [20, 29].
    p.handle_timeout(t(2_010), &mut rng);
    let (playlist, _) = requests(&drain(&mut p).0);
    p.handle_playlist(t(2_020), playlist.expect("a reload"), &listed(&[0]));
    p.handle_timeout(t(3_010), &mut rng);
    let (playlist, _) = requests(&drain(&mut p).0);
    let window: Vec<u64> = (20..30).collect();
    p.handle_playlist(t(3_020), playlist.expect("a reload"), &listed(&window));
    let (actions, events) = drain(&mut p);
    // Target latency 3 × 2 s + 1 s = 7 s before the window's end falls in the 4th
    // entry from the end, 26 (Shaka's, below, is the 3rd).
    assert_eq!(requests(&actions).1.first().map(|r| r.1), Some(26));
    assert!(events.contains(&PlayerEvent::Skipped {
        at: t(3_020),
        from: 1,
        to: 26
    }));
}

#[test]
fn shaka_resyncs_three_entries_back_whatever_its_stalls() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut p, req, _) = joined(PlayerConfig::SHAKA, &listed(&[0]));
    p.handle_segment_loaded(t(100), req, PlaylistEntry::media(0, SEG));
    p.handle_timeout(t(3_010), &mut rng);
    let (playlist, _) = requests(&drain(&mut p).0);
    assert_eq!(p.phase(), Phase::Stalled);
    let window: Vec<u64> = (20..30).collect();
    p.handle_playlist(t(3_020), playlist.expect("a reload"), &listed(&window));
    assert_eq!(requests(&drain(&mut p).0).1[0].1, 27);
}

/// An ExoPlayer that joined a playlist of 0..=3 at 10 ms, has loaded all of it (the
/// loader waits on the playlist) and played from 1.01 s.
fn exoplayer_at_the_edge() -> (Player, ChaCha8Rng) {
    let rng = ChaCha8Rng::seed_from_u64(1);
    let (mut p, mut req, mut index) = joined(PlayerConfig::EXOPLAYER, &listed(&[0, 1, 2, 3]));
    assert_eq!(index, 1);
    for at in [500, 1_000, 1_010] {
        p.handle_segment_loaded(t(at), req, PlaylistEntry::media(index, SEG));
        if let Some(&(r, i)) = requests(&drain(&mut p).0).1.first() {
            (req, index) = (r, i);
        }
    }
    assert_eq!(p.phase(), Phase::Playing);
    (p, rng)
}

#[test]
fn exoplayer_stops_on_a_playlist_stuck_for_more_than_3_5_target_durations() {
    let (mut p, mut rng) = exoplayer_at_the_edge();
    // The playlist last changed at 10 ms. Unchanged reloads come every 1 s (half a
    // target duration); the first answer more than 7 s after the change is fatal.
    let mut failed = None;
    for second in 1..=8u64 {
        let now = t(second * 1_000 + 10);
        p.handle_timeout(now, &mut rng);
        let (actions, events) = drain(&mut p);
        failed = failed.or(events.into_iter().find(|e| matches!(e, PlayerEvent::Failed { .. })));
        if let (Some(req), _) = requests(&actions) {
            p.handle_playlist(now + SimDuration::from_millis(5), req, &listed(&[0, 1, 2, 3]));
            let (_, events) = drain(&mut p);
            failed = failed.or(events.into_iter().find(|e| matches!(e, PlayerEvent::Failed { .. })));
        }
    }
    assert_eq!(
        failed,
        Some(PlayerEvent::Failed {
            at: t(7_015),
            error: FatalError::PlaylistStuck,
            until: Some(t(12_015))
        })
    );
    // Halted: no request until the host prepares it again, then a playlist load.
    assert_eq!(p.poll_timeout(), Some(t(12_015)));
    p.handle_timeout(t(12_015), &mut rng);
    let (playlist, segments) = requests(&drain(&mut p).0);
    assert!(playlist.is_some() && segments.is_empty());
}

#[test]
fn a_playlist_that_moves_on_in_time_is_not_stuck() {
    let (mut p, mut rng) = exoplayer_at_the_edge();
    for second in 1..=20u64 {
        let now = t(second * 1_000 + 10);
        p.handle_timeout(now, &mut rng);
        let (actions, events) = drain(&mut p);
        assert!(!events.iter().any(|e| matches!(e, PlayerEvent::Failed { .. })));
        // A new segment every 6 s: never 7 s unchanged.
        let newest = 3 + second / 6;
        if let (Some(req), _) = requests(&actions) {
            p.handle_playlist(now, req, &listed(&(0..=newest).collect::<Vec<_>>()));
            assert!(!drain(&mut p).1.iter().any(|e| matches!(e, PlayerEvent::Failed { .. })));
        }
    }
}

#[test]
fn hls_js_never_calls_a_stale_playlist_stuck() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut p, req, _) = joined(PlayerConfig::HLS_JS, &listed(&[0, 1, 2, 3]));
    p.handle_segment_loaded(t(100), req, PlaylistEntry::media(1, SEG));
    for second in 1..=30u64 {
        let now = t(second * 1_000 + 10);
        p.handle_timeout(now, &mut rng);
        let (actions, _) = drain(&mut p);
        for (req, index) in requests(&actions).1 {
            p.handle_segment_loaded(now, req, PlaylistEntry::media(index, SEG));
        }
        if let (Some(req), _) = requests(&actions) {
            p.handle_playlist(now, req, &listed(&[0, 1, 2, 3]));
        }
        assert!(!drain(&mut p).1.iter().any(|e| matches!(e, PlayerEvent::Failed { .. })));
    }
}

/// What an ExoPlayer whose next segment (1) left a window of 20..=29 at 2.02 s
/// reports: the skip to the live edge, and the fatal error its host recovers from at
/// 7.02 s.
fn left_behind_at_2_020() -> [PlayerEvent; 2] {
    [
        PlayerEvent::Skipped {
            at: t(2_020),
            from: 1,
            to: 27,
        },
        PlayerEvent::Failed {
            at: t(2_020),
            error: FatalError::BehindLiveWindow,
            until: Some(t(7_020)),
        },
    ]
}

/// The first segment a halted player asks for once its host prepared it again at
/// 7.02 s and the playlist `window` came back.
fn first_load_after_prepare(p: &mut Player, rng: &mut ChaCha8Rng, window: &[u64]) -> Option<u64> {
    p.handle_timeout(t(7_020), rng);
    let (playlist, _) = requests(&drain(p).0);
    p.handle_playlist(t(7_030), playlist.expect("prepared again"), &listed(window));
    let (actions, events) = drain(p);
    assert!(!events
        .iter()
        .any(|e| matches!(e, PlayerEvent::Skipped { .. } | PlayerEvent::Failed { .. })));
    requests(&actions).1.first().map(|r| r.1)
}

#[test]
fn exoplayer_behind_the_window_stops_and_restarts_at_the_live_edge() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut p, req, _) = joined(PlayerConfig::EXOPLAYER, &listed(&[0]));
    p.handle_segment_loaded(t(100), req, PlaylistEntry::media(0, SEG));
    drain(&mut p);
    p.handle_timeout(t(2_010), &mut rng);
    let (playlist, _) = requests(&drain(&mut p).0);
    let window: Vec<u64> = (20..30).collect();
    p.handle_playlist(t(2_020), playlist.expect("a reload"), &listed(&window));
    let (actions, events) = drain(&mut p);
    assert!(requests(&actions).1.is_empty());
    assert_eq!(events, left_behind_at_2_020());
    assert_eq!(first_load_after_prepare(&mut p, &mut rng, &window), Some(27));
}

fn spliced(index: u64, lost: SimDuration) -> PlaylistEntry {
    PlaylistEntry {
        spliced: lost,
        ..PlaylistEntry::media(index, SEG)
    }
}

/// A player of `config` that joined `0..=3`, loaded 1 to 3, then reloaded a playlist
/// where 4..=7 were spliced out before 8.
fn across_a_splice(config: PlayerConfig, lost: SimDuration) -> (Vec<PlayerAction>, Vec<PlayerEvent>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut p, mut req, mut index) = joined(config, &listed(&[0, 1, 2, 3]));
    for at in [100, 200, 300] {
        p.handle_segment_loaded(t(at), req, PlaylistEntry::media(index, SEG));
        if let Some(&(r, i)) = requests(&drain(&mut p).0).1.first() {
            (req, index) = (r, i);
        }
    }
    p.handle_timeout(t(2_010), &mut rng);
    let (playlist, _) = requests(&drain(&mut p).0);
    let mut after = listed(&[2, 3]);
    after.push(spliced(8, lost));
    p.handle_playlist(t(2_020), playlist.expect("a reload"), &after);
    drain(&mut p)
}

#[test]
fn shaka_empties_its_live_window_after_a_splice_of_a_target_duration() {
    let (actions, events) = across_a_splice(PlayerConfig::SHAKA, SimDuration::from_secs(8));
    assert!(requests(&actions).1.is_empty(), "nothing is fetched again");
    assert_eq!(
        events,
        [PlayerEvent::Failed {
            at: t(2_020),
            error: FatalError::LiveWindowEmptied,
            until: None
        }]
    );
    // Under a target duration the window survives (the cut-off Shaka showed near one
    // segment duration).
    let (actions, events) = across_a_splice(PlayerConfig::SHAKA, SimDuration::from_millis(1_999));
    assert_eq!(requests(&actions).1.first().map(|r| r.1), Some(8));
    assert!(!events.iter().any(|e| matches!(e, PlayerEvent::Failed { .. })));
}

#[test]
fn hls_js_and_media3_play_on_across_a_splice() {
    for config in [PlayerConfig::HLS_JS, PlayerConfig::EXOPLAYER] {
        let (actions, events) = across_a_splice(config, SimDuration::from_secs(8));
        assert_eq!(requests(&actions).1.first().map(|r| r.1), Some(8));
        assert!(!events.iter().any(|e| matches!(e, PlayerEvent::Failed { .. })));
    }
}

#[test]
fn a_splice_before_shaka_joined_does_not_count() {
    let entries = [
        PlaylistEntry::media(0, SEG),
        spliced(5, SimDuration::from_secs(8)),
        PlaylistEntry::media(6, SEG),
        PlaylistEntry::media(7, SEG),
    ];
    let mut p = Player::new(PlayerConfig::SHAKA, SEG, 1);
    p.handle_join(t(0));
    drain(&mut p);
    p.handle_playlist(t(10), 0, &entries);
    let (actions, events) = drain(&mut p);
    assert_eq!(requests(&actions).1.first().map(|r| r.1), Some(5));
    assert!(events.is_empty());
}

#[test]
fn exoplayer_behind_the_window_drops_its_buffer_and_resumes_at_the_live_edge() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // Loaded 0 and 1, playing 0 from 100 ms to 2.1 s; its next (2) leaves a window
    // of 20..=29 at the reload, 2 s after the first request.
    let (mut p, req, _) = joined(PlayerConfig::EXOPLAYER, &listed(&[0, 1]));
    p.handle_segment_loaded(t(100), req, PlaylistEntry::media(0, SEG));
    let (_, segments) = requests(&drain(&mut p).0);
    p.handle_segment_loaded(t(200), segments[0].0, PlaylistEntry::media(1, SEG));
    drain(&mut p);
    p.handle_timeout(t(2_010), &mut rng);
    let (playlist, _) = requests(&drain(&mut p).0);
    let window: Vec<u64> = (20..30).collect();
    p.handle_playlist(t(2_020), playlist.expect("a reload"), &listed(&window));
    let (_, events) = drain(&mut p);
    // Segment 1, buffered, goes with the seek: skipped once, from 1 to the live edge.
    assert_eq!(events, left_behind_at_2_020());
    assert_eq!(p.frontier(), Some(27));
    assert_eq!(first_load_after_prepare(&mut p, &mut rng, &window), Some(27));
}

#[test]
fn a_stranded_shaka_player_never_jumps_again() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut p, req, _) = joined(PlayerConfig::SHAKA, &listed(&[0, 1, 2, 3]));
    p.handle_segment_loaded(t(100), req, PlaylistEntry::media(1, SEG));
    drain(&mut p);
    p.handle_timeout(t(2_010), &mut rng);
    let (playlist, _) = requests(&drain(&mut p).0);
    let mut after = listed(&[2, 3]);
    after.push(spliced(8, SimDuration::from_secs(8)));
    p.handle_playlist(t(2_020), playlist.expect("a reload"), &after);
    drain(&mut p);
    let frontier = p.frontier();
    // The window moves far past it: no re-sync, no load, the frontier stays.
    for (k, second) in (3..=40u64).enumerate() {
        let now = t(second * 1_000 + 10);
        p.handle_timeout(now, &mut rng);
        let (actions, events) = drain(&mut p);
        assert!(requests(&actions).1.is_empty());
        assert!(!events.iter().any(|e| matches!(e, PlayerEvent::Skipped { .. })));
        if let (Some(req), _) = requests(&actions) {
            let newest = 9 + k as u64;
            p.handle_playlist(now, req, &listed(&(newest - 5..=newest).collect::<Vec<_>>()));
            assert!(!drain(&mut p).1.iter().any(|e| matches!(e, PlayerEvent::Skipped { .. })));
        }
    }
    assert_eq!(p.frontier(), frontier);
}
