//! The player's unit tests: joins, playback, stalls, retries and fallbacks.

use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SEG: SimDuration = SimDuration::from_secs(2);

fn entries(indices: &[u64]) -> Vec<PlaylistEntry> {
    indices.iter().map(|&index| PlaylistEntry::media(index, SEG)).collect()
}

fn seg(index: u64) -> PlaylistEntry {
    PlaylistEntry::media(index, SEG)
}

fn t(ms: u64) -> SimTime {
    SimTime::from_millis(ms)
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(7)
}

fn drain(player: &mut Player) -> (Vec<PlayerAction>, Vec<PlayerEvent>) {
    (
        std::iter::from_fn(|| player.poll_action()).collect(),
        std::iter::from_fn(|| player.poll_event()).collect(),
    )
}

/// The request id of the last playlist load among `actions`.
fn playlist_req(actions: &[PlayerAction]) -> u32 {
    actions
        .iter()
        .rev()
        .find_map(|a| match *a {
            PlayerAction::LoadPlaylist { req, .. } => Some(req),
            _ => None,
        })
        .expect("a playlist load")
}

fn segment_req(actions: &[PlayerAction]) -> (u32, u8, u64) {
    actions
        .iter()
        .rev()
        .find_map(|a| match *a {
            PlayerAction::LoadSegment { req, route, index } => Some((req, route, index)),
            _ => None,
        })
        .expect("a segment load")
}

/// A joined player that has loaded a playlist of `indices` and asked for a segment.
fn started(config: PlayerConfig, routes: u8, indices: &[u64]) -> (Player, u32, u64) {
    let mut p = Player::new(config, SEG, routes);
    p.handle_join(t(0));
    let req = playlist_req(&drain(&mut p).0);
    p.handle_playlist(t(10), req, &entries(indices));
    let (req, _, index) = segment_req(&drain(&mut p).0);
    (p, req, index)
}

#[test]
fn starts_three_segments_behind_live() {
    let mut p = Player::new(PlayerConfig::HLS_JS, SEG, 1);
    p.handle_join(t(0));
    assert_eq!(drain(&mut p).0, vec![PlayerAction::LoadPlaylist { req: 0, route: 0 }]);
    p.handle_playlist(t(10), 0, &entries(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert_eq!(
        drain(&mut p).0,
        vec![PlayerAction::LoadSegment {
            req: 1,
            route: 0,
            index: 7
        }]
    );
    assert_eq!(p.first_index(), Some(7));
    p.handle_first_byte(t(100), 1);
    p.handle_segment_loaded(t(300), 1, seg(7));
    let (actions, events) = drain(&mut p);
    assert_eq!(
        actions,
        vec![PlayerAction::LoadSegment {
            req: 2,
            route: 0,
            index: 8
        }]
    );
    assert_eq!(
        events,
        vec![
            PlayerEvent::Started {
                at: t(300),
                startup: SimDuration::from_millis(300)
            },
            PlayerEvent::SegmentStarted {
                index: 7,
                at: t(300),
                duration: SEG
            }
        ]
    );
    // Reload one target duration after the request for a changed playlist went out
    // (at 0, answered at 10 ms); playback ends at 2.3 s.
    assert_eq!(p.poll_timeout(), Some(t(2_000)));
}

#[test]
fn playlist_reloads_keep_their_cadence_however_slow_the_answers() {
    // Each answer takes 700 ms; reloads still go out every 2 s from the first
    // request (RFC 8216 §6.3.4), not 2 s after each answer. An answer later than
    // the whole wait is followed by an immediate reload.
    let mut p = Player::new(PlayerConfig::HLS_JS, SEG, 1);
    p.handle_join(t(0));
    let mut rng = rng();
    let mut req = playlist_req(&drain(&mut p).0);
    let mut sent = Vec::new();
    for (k, answer_ms) in [700, 700, 700, 2_500].into_iter().enumerate() {
        let asked = p.playlist.sent_at;
        sent.push(asked);
        let newest = k as u64 + 3;
        p.handle_playlist(asked + SimDuration::from_millis(answer_ms), req, &entries(&[newest]));
        let next = p.reload_at.expect("a live playlist is reloaded");
        p.handle_timeout(next, &mut rng);
        req = playlist_req(&drain(&mut p).0);
    }
    assert_eq!(sent, [t(0), t(2_000), t(4_000), t(6_000)]);
    assert_eq!(p.playlist.sent_at, t(8_500));
}

#[test]
fn stalls_when_dry_and_resumes_with_exact_stall_time() {
    let (mut p, req, _) = started(PlayerConfig::HLS_JS, 1, &[0]);
    p.handle_segment_loaded(t(100), req, seg(0));
    drain(&mut p);
    let mut rng = rng();
    // Nothing new: playback of segment 0 ends at 2.1 s and the player stalls.
    p.handle_timeout(t(2_010), &mut rng);
    let req = playlist_req(&drain(&mut p).0);
    // An unchanged playlist is reloaded half a target duration after its request
    // went out (2.01 s), however late the answer (2.02 s).
    p.handle_playlist(t(2_020), req, &entries(&[0]));
    // Running dry asks for no wake: the next is the reload, and the stall is
    // reported then, at its own instant.
    assert_eq!(p.poll_timeout(), Some(t(3_010)));
    assert_eq!(p.phase(), Phase::Playing);
    p.handle_timeout(t(3_010), &mut rng);
    assert_eq!(p.phase(), Phase::Stalled);
    let (actions, events) = drain(&mut p);
    assert_eq!(events, [PlayerEvent::Stalled { at: t(2_100) }]);
    let req = playlist_req(&actions);
    p.handle_playlist(t(3_020), req, &entries(&[0, 1]));
    let (req, _, index) = segment_req(&drain(&mut p).0);
    assert_eq!(index, 1);
    p.handle_segment_loaded(t(3_400), req, seg(1));
    let (_, events) = drain(&mut p);
    assert_eq!(
        events[0],
        PlayerEvent::Resumed {
            at: t(3_400),
            stalled: SimDuration::from_millis(1_300)
        }
    );
}

#[test]
fn skips_gaps_that_will_never_be_filled() {
    let (mut p, mut req, _) = started(PlayerConfig::HLS_JS, 1, &[0, 1, 2]);
    for index in 0..3 {
        p.handle_segment_loaded(t(10 + 10 * index), req, seg(index));
        if index < 2 {
            req = segment_req(&drain(&mut p).0).0;
        }
    }
    drain(&mut p);
    // Segments 3..=5 were never published (ingest outage): the player moves to 6.
    p.handle_timeout(t(2_010), &mut rng());
    let req = playlist_req(&drain(&mut p).0);
    p.handle_playlist(t(2_020), req, &entries(&[0, 1, 2, 6]));
    let (actions, events) = drain(&mut p);
    assert_eq!(segment_req(&actions).2, 6);
    // It reports passing over them; its driver knows whether they were published.
    assert_eq!(
        events,
        vec![PlayerEvent::Skipped {
            at: t(2_020),
            from: 3,
            to: 6
        }]
    );
}

#[test]
fn jumps_to_live_when_it_falls_out_of_the_window() {
    let (mut p, req, _) = started(PlayerConfig::HLS_JS, 1, &[0]);
    p.handle_segment_loaded(t(10), req, seg(0));
    drain(&mut p);
    // The player's next segment (1) has left a 3-segment window [10, 12].
    p.handle_timeout(t(2_010), &mut rng());
    let req = playlist_req(&drain(&mut p).0);
    p.handle_playlist(t(2_020), req, &entries(&[10, 11, 12]));
    let (actions, events) = drain(&mut p);
    assert_eq!(
        events,
        vec![PlayerEvent::Skipped {
            at: t(2_020),
            from: 1,
            to: 10
        }]
    );
    assert_eq!(segment_req(&actions).2, 10);
}

#[test]
fn exoplayer_waits_for_its_start_buffer() {
    let half = SimDuration::from_millis(500);
    let mut p = Player::new(PlayerConfig::EXOPLAYER, half, 1);
    p.handle_join(t(0));
    let listed = [PlaylistEntry::media(0, half), PlaylistEntry::media(1, half)];
    p.handle_playlist(t(0), 0, &listed);
    let (req, _, _) = segment_req(&drain(&mut p).0);
    p.handle_segment_loaded(t(50), req, listed[0]);
    assert_eq!(p.phase(), Phase::Starting);
    let (req, _, _) = segment_req(&drain(&mut p).0);
    p.handle_segment_loaded(t(90), req, listed[1]);
    assert_eq!(p.phase(), Phase::Playing);
}

/// Times at which `p` sends segment requests while every request goes unanswered
/// (but playlists are answered), until `until`.
fn unanswered_segment_requests(p: &mut Player, until: SimTime) -> Vec<(SimTime, u8, u64)> {
    let mut rng = rng();
    let mut sent = Vec::new();
    while let Some(now) = p.poll_timeout().filter(|&at| at <= until) {
        p.handle_timeout(now, &mut rng);
        for action in drain(p).0 {
            match action {
                PlayerAction::LoadSegment { route, index, .. } => sent.push((now, route, index)),
                PlayerAction::LoadPlaylist { req, .. } => p.handle_playlist(now, req, &entries(&[0, 1, 2, 3])),
            }
        }
    }
    sent
}

#[test]
fn hls_js_retries_a_silent_server_four_times_then_moves_to_the_backup() {
    let (mut p, _, index) = started(PlayerConfig::HLS_JS, 2, &[0, 1, 2, 3]);
    assert_eq!(index, 1);
    let sent = unanswered_segment_requests(&mut p, t(60_000));
    // First byte due within 10 s; 4 immediate retries; then the next route.
    let expected: Vec<(SimTime, u8, u64)> = vec![
        (t(10_010), 0, 1),
        (t(20_010), 0, 1),
        (t(30_010), 0, 1),
        (t(40_010), 0, 1),
        (t(50_010), 1, 1),
    ];
    assert_eq!(sent, expected);
    assert_eq!(p.route(), 1);
}

/// Fails segment request `req` at `now` with `error`, then runs the player (answering
/// its playlist reloads) until it asks for a segment again: when, and the request.
fn fail_and_wait(p: &mut Player, now: SimTime, req: u32, error: FetchError) -> (SimTime, u32) {
    let mut rng = rng();
    p.handle_error(now, req, error, &mut rng);
    let mut at = now;
    loop {
        for action in drain(p).0 {
            match action {
                PlayerAction::LoadSegment { req, .. } => return (at, req),
                PlayerAction::LoadPlaylist { req, .. } => p.handle_playlist(at, req, &entries(&[0, 1, 2, 3])),
            }
        }
        at = p.poll_timeout().expect("the player waits for something");
        p.handle_timeout(at, &mut rng);
    }
}

#[test]
fn hls_js_backs_off_1_2_4_8_8_8_seconds_on_server_errors() {
    let (mut p, mut req, index) = started(PlayerConfig::HLS_JS, 1, &[0, 1, 2, 3]);
    let mut rng = rng();
    let mut now = t(10);
    let mut retries = Vec::new();
    for _ in 0..6 {
        let (at, retry) = fail_and_wait(&mut p, now, req, FetchError::ServerError);
        retries.push((at - now).as_nanos() / 1_000_000);
        (now, req) = (at, retry);
    }
    assert_eq!(retries, vec![1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    // The seventh failure exhausts the retries: with no backup, the segment is lost.
    p.handle_error(now, req, FetchError::ServerError, &mut rng);
    let (actions, events) = drain(&mut p);
    assert!(events.contains(&PlayerEvent::Skipped {
        at: now,
        from: index,
        to: index + 1
    }));
    assert_eq!(segment_req(&actions).2, index + 1);
}

#[test]
fn hls_js_moves_on_a_404_at_once_and_ignores_the_late_answer() {
    let (mut p, req, index) = started(PlayerConfig::HLS_JS, 2, &[0, 1, 2, 3]);
    p.handle_error(t(50), req, FetchError::NotFound, &mut rng());
    let (actions, events) = drain(&mut p);
    assert!(events.contains(&PlayerEvent::RouteSwitched {
        at: t(50),
        from: 0,
        to: 1
    }));
    let (retry, route, again) = segment_req(&actions);
    assert_eq!((route, again), (1, index));
    // The playlist moves along with it.
    assert!(actions
        .iter()
        .any(|a| matches!(a, PlayerAction::LoadPlaylist { route: 1, .. })));
    // An answer to the abandoned request changes nothing.
    p.handle_segment_loaded(t(60), req, seg(index));
    assert_eq!(p.phase(), Phase::Starting);
    p.handle_segment_loaded(t(70), retry, seg(index));
    assert_eq!(p.phase(), Phase::Playing);
}

#[test]
fn a_segment_missing_on_every_route_is_passed_over() {
    let (mut p, req, index) = started(PlayerConfig::HLS_JS, 2, &[0, 1, 2, 3]);
    let mut rng = rng();
    p.handle_error(t(50), req, FetchError::NotFound, &mut rng);
    let (retry, _, _) = segment_req(&drain(&mut p).0);
    p.handle_error(t(90), retry, FetchError::NotFound, &mut rng);
    let (actions, events) = drain(&mut p);
    assert!(events.contains(&PlayerEvent::Skipped {
        at: t(90),
        from: index,
        to: index + 1
    }));
    let (_, route, next) = segment_req(&actions);
    assert_eq!((route, next), (1, index + 1));
}

#[test]
fn shaka_retries_once_on_the_next_uri_after_a_fuzzed_second() {
    let mut rng = rng();
    for _ in 0..50 {
        let (mut p, req, index) = started(PlayerConfig::SHAKA, 2, &[0, 1, 2, 3]);
        p.handle_error(t(10), req, FetchError::ServerError, &mut rng);
        drain(&mut p);
        assert_eq!(p.route(), 1);
        let at = p.poll_timeout().unwrap();
        let waited = (at - t(10)).as_millis_f64();
        assert!((500.0..=1_500.0).contains(&waited), "{waited} ms");
        p.handle_timeout(at, &mut rng);
        let (req, route, again) = segment_req(&drain(&mut p).0);
        assert_eq!((route, again), (1, index));
        // The second attempt was the last.
        p.handle_error(at, req, FetchError::ServerError, &mut rng);
        assert!(drain(&mut p).1.contains(&PlayerEvent::Skipped {
            at,
            from: index,
            to: index + 1
        }));
    }
}

#[test]
fn exoplayer_avoids_a_failed_location_for_five_minutes() {
    let (mut p, req, _) = started(PlayerConfig::EXOPLAYER, 3, &[0, 1, 2, 3]);
    let mut rng = rng();
    p.handle_error(t(10), req, FetchError::ServerError, &mut rng);
    assert_eq!(p.route(), 1);
    let (req, _, _) = segment_req(&drain(&mut p).0);
    p.handle_error(t(20), req, FetchError::ServerError, &mut rng);
    assert_eq!(p.route(), 2, "route 0 is still excluded");
    let (req, _, _) = segment_req(&drain(&mut p).0);
    // All three tried for this segment: it is passed over; the next one fails on 2.
    p.handle_error(t(30), req, FetchError::ServerError, &mut rng);
    let (req, _, _) = segment_req(&drain(&mut p).0);
    p.handle_error(t(40), req, FetchError::ServerError, &mut rng);
    assert_eq!(p.route(), 0, "every route excluded: the one excluded longest ago");
    let mut p = started(PlayerConfig::EXOPLAYER, 2, &[0, 1, 2, 3]).0;
    p.excluded_until = smallvec::smallvec![SimTime::ZERO, t(300_010)];
    let (req, _, _) = segment_req(&[PlayerAction::LoadSegment {
        req: 1,
        route: 0,
        index: 1,
    }]);
    p.handle_error(t(300_010), req, FetchError::ServerError, &mut rng);
    assert_eq!(p.route(), 1, "an exclusion ends after 5 min");
}

#[test]
fn exoplayer_retries_at_0_1_2_seconds() {
    let (mut p, mut req, _) = started(PlayerConfig::EXOPLAYER, 1, &[0, 1, 2, 3]);
    let mut now = t(10);
    let mut waits = Vec::new();
    for _ in 0..3 {
        let (at, retry) = fail_and_wait(&mut p, now, req, FetchError::ServerError);
        waits.push((at - now).as_nanos() / 1_000_000);
        (now, req) = (at, retry);
    }
    assert_eq!(waits, vec![0, 1_000, 2_000]);
}

/// The player starts at t = 0 with segments 0–2 (6 s) buffered; segment 3 appears
/// (is listed, and downloads instantly) at `available_ms`. Returns the events.
fn outage_events(available_ms: u64) -> Vec<PlayerEvent> {
    let mut p = Player::new(PlayerConfig::HLS_JS, SEG, 1);
    let mut rng = rng();
    let mut events = Vec::new();
    let mut now = t(0);
    p.handle_join(now);
    while now <= t(60_000) {
        while let Some(action) = p.poll_action() {
            match action {
                PlayerAction::LoadPlaylist { req, .. } => {
                    let listed: &[u64] = if now >= t(available_ms) {
                        &[0, 1, 2, 3]
                    } else {
                        &[0, 1, 2]
                    };
                    p.handle_playlist(now, req, &entries(listed));
                }
                PlayerAction::LoadSegment { req, index, .. } => p.handle_segment_loaded(now, req, seg(index)),
            }
        }
        events.extend(std::iter::from_fn(|| p.poll_event()));
        if events
            .iter()
            .any(|e| matches!(e, PlayerEvent::SegmentStarted { index: 3, .. }))
        {
            break;
        }
        now = p.poll_timeout().expect("a live player always waits for something");
        p.handle_timeout(now, &mut rng);
    }
    events
}

#[test]
fn a_buffer_hides_a_shorter_outage_and_a_longer_one_costs_exactly_the_uncovered_gap() {
    for available_ms in (0..20_000).step_by(250) {
        let events = outage_events(available_ms);
        assert!(!events.iter().any(|e| matches!(e, PlayerEvent::Skipped { .. })));
        // Unchanged playlists are reloaded every 1 s from 2 s on: the player sees
        // segment 3 at the first reload at or after it appears.
        let seen_ms = available_ms.max(2_000).div_ceil(1_000) * 1_000;
        let stall = events.iter().find_map(|e| match *e {
            PlayerEvent::Resumed { stalled, .. } => Some(stalled),
            _ => None,
        });
        // (Seen exactly as the buffer runs out is a zero-length stall: the boundary.)
        if seen_ms < 6_000 {
            assert_eq!(stall, None, "segment 3 seen at {seen_ms} ms, within the 6 s buffer");
            assert!(!events.iter().any(|e| matches!(e, PlayerEvent::Stalled { .. })));
        } else {
            assert_eq!(
                stall,
                Some(SimDuration::from_millis(seen_ms - 6_000)),
                "appears at {available_ms} ms"
            );
        }
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        Wait(u16),
        Answer { first: bool, ok: bool, error: u8 },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1u16..15_000).prop_map(Step::Wait),
            (any::<bool>(), any::<bool>(), 0u8..3).prop_map(|(first, ok, error)| Step::Answer { first, ok, error }),
        ]
    }

    /// How the network answers the k-th request: first byte after `first_ns`, the
    /// rest `transfer_ns` later; `outcome` 0 never answers, 1 and 2 are 404 and 503.
    type Answer = (u64, u64, u8);

    /// Drives a player through a scripted network for 120 s and logs every request
    /// with its instant, and every event. `eager` wakes the player at every segment
    /// end and tells it each load's first and last byte in calls of their own, as
    /// drivers did before playback ran without wakes; otherwise it is woken only at
    /// `poll_timeout` (as a cohort's `Deadline` does) and told the whole load at its
    /// first byte. At one instant, loads complete first, then the player is woken,
    /// then answers arrive: the order in which `advance` catches up.
    fn script_run(
        preset: usize,
        routes: u8,
        script: &[Answer],
        eager: bool,
    ) -> (Vec<(SimTime, PlayerAction)>, Vec<PlayerEvent>) {
        #[derive(Debug)]
        enum Item {
            Answer(PlayerAction, Answer),
            Loaded(u32, PlaylistEntry),
            Wake,
        }
        let config = PlayerConfig::preset(PlayerConfig::PRESETS[preset]).unwrap();
        let mut p = Player::new(config, SEG, routes);
        let mut rng = rng();
        let mut queue: std::collections::BTreeMap<(SimTime, u8, u64), Item> = std::collections::BTreeMap::new();
        let (mut seq, mut next_answer) = (0u64, 0usize);
        let (mut actions, mut events) = (Vec::new(), Vec::new());
        let mut armed: Option<SimTime> = None;
        let end = t(120_000);
        let mut now = t(0);
        p.handle_join(now);
        loop {
            while let Some(action) = p.poll_action() {
                actions.push((now, action));
                let answer = script[next_answer % script.len()];
                next_answer += 1;
                if answer.2 != 0 {
                    seq += 1;
                    queue.insert(
                        (now + SimDuration::from_nanos(answer.0), 2, seq),
                        Item::Answer(action, answer),
                    );
                }
            }
            events.extend(std::iter::from_fn(|| p.poll_event()));
            let ends = p.playing.map(|(_, ends_at)| ends_at).filter(|_| eager);
            let wake = [p.poll_timeout(), ends]
                .into_iter()
                .flatten()
                .min()
                .map(|at| at.max(now));
            if let Some(at) = wake.filter(|_| wake != armed) {
                armed = wake;
                seq += 1;
                queue.insert((at, 1, seq), Item::Wake);
            }
            let Some(((at, ..), item)) = queue.pop_first() else {
                break;
            };
            if at > end {
                break;
            }
            now = at;
            match item {
                Item::Wake if armed == Some(at) => {
                    armed = None;
                    p.handle_timeout(now, &mut rng);
                }
                Item::Wake => {}
                Item::Loaded(req, entry) => p.handle_segment_loaded(now, req, entry),
                Item::Answer(PlayerAction::LoadPlaylist { req, .. }, (_, _, outcome)) if outcome >= 3 => {
                    // A long window: a player that fell behind fills its buffer to
                    // the top and waits for room (a segment end is then a wake).
                    let newest = 3 + now.as_nanos() / 2_000_000_000;
                    let listed: Vec<u64> = (newest.saturating_sub(40)..=newest).collect();
                    p.handle_playlist(now, req, &entries(&listed));
                }
                Item::Answer(PlayerAction::LoadSegment { req, index, .. }, (_, transfer_ns, outcome))
                    if outcome >= 3 =>
                {
                    let loaded_at = now + SimDuration::from_nanos(transfer_ns);
                    if eager {
                        p.handle_first_byte(now, req);
                        seq += 1;
                        queue.insert((loaded_at, 0, seq), Item::Loaded(req, seg(index)));
                    } else {
                        p.handle_segment_arriving(now, req, seg(index), loaded_at);
                    }
                }
                Item::Answer(
                    PlayerAction::LoadPlaylist { req, .. } | PlayerAction::LoadSegment { req, .. },
                    (_, _, outcome),
                ) => {
                    let error = if outcome == 1 {
                        FetchError::NotFound
                    } else {
                        FetchError::ServerError
                    };
                    p.handle_error(now, req, error, &mut rng);
                }
            }
        }
        p.advance(end);
        events.extend(std::iter::from_fn(|| p.poll_event()));
        (actions, events)
    }

    fn answer() -> impl Strategy<Value = Answer> {
        // Fast answers on the whole: a player that fell behind fills its buffer.
        (
            1_000_000u64..1_500_000_000,
            1_000_000u64..1_000_000_000,
            prop_oneof![1 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 12 => Just(3u8)],
        )
    }

    proptest! {
        /// Playback without wakes and loads told at their first byte change nothing
        /// a viewer sees: the same requests at the same instants, the same events
        /// at the same instants, as a player woken at every segment end and load.
        #[test]
        fn a_player_left_alone_tells_the_same_story(preset in 0usize..3, routes in 1u8..4, script in proptest::collection::vec(answer(), 1..60)) {
            let eager = script_run(preset, routes, &script, true);
            let lazy = script_run(preset, routes, &script, false);
            prop_assert!(eager.0.len() > 1);
            prop_assert_eq!(eager, lazy);
        }
    }

    proptest! {
        /// Whatever the network does, a player keeps at most one request of each
        /// kind in flight, never asks for a route it does not have, never schedules
        /// into the past, and every stall ends before the next one starts.
        #[test]
        fn players_stay_consistent(preset in 0usize..3, routes in 1u8..4, steps in proptest::collection::vec(step(), 1..200)) {
            let config = PlayerConfig::preset(PlayerConfig::PRESETS[preset]).unwrap();
            let mut p = Player::new(config, SEG, routes);
            let mut rng = rng();
            let mut now = t(0);
            let mut newest = 3u64;
            p.handle_join(now);
            let mut open: Vec<PlayerAction> = Vec::new();
            let mut stalled = false;
            for step in steps {
                match step {
                    Step::Wait(ms) => {
                        now += SimDuration::from_millis(u64::from(ms));
                        newest += u64::from(ms) / 2_000;
                        while let Some(at) = p.poll_timeout().filter(|&at| at <= now) {
                            p.handle_timeout(at, &mut rng);
                        }
                    }
                    Step::Answer { first, ok, error } => {
                        if open.is_empty() { continue; }
                        let action = if first { open.remove(0) } else { open.pop().unwrap() };
                        let error = [FetchError::NotFound, FetchError::ServerError, FetchError::Timeout][usize::from(error)];
                        match (action, ok) {
                            (PlayerAction::LoadPlaylist { req, .. }, true) => {
                                let listed: Vec<u64> = (newest.saturating_sub(5)..=newest).collect();
                                p.handle_playlist(now, req, &entries(&listed));
                            }
                            (PlayerAction::LoadSegment { req, index, .. }, true) => {
                                p.handle_first_byte(now, req);
                                p.handle_segment_loaded(now, req, seg(index));
                            }
                            (PlayerAction::LoadPlaylist { req, .. } | PlayerAction::LoadSegment { req, .. }, false) => {
                                if error != FetchError::Timeout {
                                    p.handle_error(now, req, error, &mut rng);
                                }
                            }
                        }
                    }
                }
                while let Some(action) = p.poll_action() {
                    let route = match action {
                        PlayerAction::LoadPlaylist { route, .. } | PlayerAction::LoadSegment { route, .. } => route,
                    };
                    prop_assert!(route < routes);
                    open.push(action);
                }
                while let Some(event) = p.poll_event() {
                    match event {
                        PlayerEvent::Stalled { .. } => { prop_assert!(!stalled); stalled = true; }
                        PlayerEvent::Resumed { .. } => { prop_assert!(stalled); stalled = false; }
                        _ => {}
                    }
                }
                prop_assert!(p.playlist.in_flight.is_none() || p.reload_at.is_none() || p.playlist.deadline.is_some());
                prop_assert_eq!(p.segment.in_flight.is_some(), p.segment.deadline.is_some());
                prop_assert!(p.segment.in_flight.is_none() || p.loading.is_some());
                prop_assert!(!(p.segment.in_flight.is_some() && p.segment_retry_at.is_some()));
                prop_assert!(p.route() < routes);
                if let Some(at) = p.poll_timeout() {
                    prop_assert!(at >= now || p.phase() == Phase::Playing, "deadline {at} before {now}");
                }
            }
        }
    }
}
