//! The player floor: what driving a large audience of `control::player::Player`s costs
//! with no kernel, no network and no actors around them, and what that pace means for
//! a million viewers watching for an hour. A lower bound for any simulation that keeps
//! one exact player per viewer (docs/performance.md).
//!
//! `cargo run --release --example player_floor -- [VIEWERS] [SECONDS] [SEGMENT_S]`
//! (defaults: 1,000,000 viewers, 120 simulated seconds, 2 s segments).

use std::rc::Rc;
use std::time::Instant;

use failcast::control::player::{Player, PlayerAction, PlayerConfig, PlaylistEntry};
use failcast::sim::{prefetch, prefetch_all};
use failcast::time::{SimDuration, SimTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The queue's resolution: calls due within one slot are made together.
const SLOT_MS: u64 = 1;
/// Slots in the ring; no player asks to be called further ahead (its longest wait is a
/// 20 s playlist timeout).
const RING_SLOTS: usize = 65_536;
/// How many calls ahead a player's memory is asked for, as the kernel does.
const PREFETCH_DISTANCE: usize = 8;
/// One way between a viewer and its edge.
const LATENCY_MS: u64 = 20;
/// Viewers join within this many seconds; calls are counted once all have started.
const JOIN_OVER_S: u64 = 30;
const PLAYLIST_WINDOW: usize = 5;

#[derive(Clone, Copy)]
enum Call {
    Join,
    Wake,
    Playlist { req: u32 },
    Segment { req: u32, index: u64 },
}

fn argument(position: usize, default: u64) -> u64 {
    std::env::args().nth(position).map_or(default, |text| {
        text.replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("argument {position} is not a whole number: {text}"))
    })
}

fn main() {
    let viewers = argument(1, 1_000_000) as usize;
    let seconds = argument(2, 120);
    let segment_s = argument(3, 2);
    assert!(
        seconds > JOIN_OVER_S + 10,
        "run longer than the joins ({JOIN_OVER_S} s) and a start"
    );
    let segment = SimDuration::from_secs(segment_s);
    // A 4 Mbit/s segment over a 20 Mbit/s downlink.
    let transfer_ms = segment_s * 1000 / 5;
    let config = Rc::new(PlayerConfig::preset("hls.js").expect("a bundled preset"));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut players: Vec<Player> = (0..viewers).map(|_| Player::new(config.clone(), segment, 1)).collect();
    let mut woken_at: Vec<u64> = vec![u64::MAX; viewers];
    let mut ring: Vec<Vec<(Call, u32)>> = (0..RING_SLOTS).map(|_| Vec::new()).collect();
    for viewer in 0..viewers as u32 {
        let at = rng.gen_range(0..JOIN_OVER_S * 1000);
        ring[at as usize].push((Call::Join, viewer));
    }
    let mut playlist: Vec<PlaylistEntry> = Vec::new();
    let mut published = 0u64;
    let measure_from_ms = (JOIN_OVER_S + 10) * 1000;
    let mut calls = 0u64;
    let mut started = Instant::now();
    for ms in 0..seconds * 1000 {
        if ms == measure_from_ms {
            calls = 0;
            started = Instant::now();
        }
        // The live edge: a segment every `segment_s`, already ten behind at the start.
        while published * segment_s * 1000 <= ms + 10 * segment_s * 1000 {
            playlist.push(PlaylistEntry::media(published, segment));
            if playlist.len() > PLAYLIST_WINDOW {
                playlist.remove(0);
            }
            published += 1;
        }
        let now = SimTime::from_millis(ms);
        let slot = ms as usize % RING_SLOTS;
        let due = std::mem::take(&mut ring[slot]);
        for (position, &(call, viewer)) in due.iter().enumerate() {
            if let Some(&(_, ahead)) = due.get(position + PREFETCH_DISTANCE) {
                prefetch_all(&players[ahead as usize]);
                prefetch(&woken_at[ahead as usize]);
            }
            let v = viewer as usize;
            let player = &mut players[v];
            match call {
                Call::Join => player.handle_join(now),
                Call::Wake if woken_at[v] == ms => {
                    woken_at[v] = u64::MAX;
                    player.handle_timeout(now, &mut rng);
                }
                Call::Wake => continue,
                Call::Playlist { req } => player.handle_playlist(now, req, &playlist),
                Call::Segment { req, index } => {
                    if player.segment_request() != Some(req) {
                        continue;
                    }
                    let entry = PlaylistEntry::media(index, segment);
                    player.handle_segment_arriving(now, req, entry, now + SimDuration::from_millis(transfer_ms));
                }
            }
            calls += 1;
            while let Some(action) = player.poll_action() {
                let answer = match action {
                    PlayerAction::LoadPlaylist { req, .. } => Call::Playlist { req },
                    PlayerAction::LoadSegment { req, index, .. } => Call::Segment { req, index },
                };
                ring[(ms + 2 * LATENCY_MS) as usize % RING_SLOTS].push((answer, viewer));
            }
            while player.poll_event().is_some() {}
            if let Some(at) = player.poll_timeout() {
                let at_ms = at.as_nanos().div_ceil(SLOT_MS * 1_000_000).max(ms + 1);
                assert!(at_ms - ms < RING_SLOTS as u64, "a wake beyond the ring");
                if woken_at[v] != at_ms {
                    woken_at[v] = at_ms;
                    ring[at_ms as usize % RING_SLOTS].push((Call::Wake, viewer));
                }
            }
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let measured_s = (seconds * 1000 - measure_from_ms) as f64 / 1000.0;
    let per_call_ns = wall_s * 1e9 / calls as f64;
    let calls_per_viewer_s = calls as f64 / viewers as f64 / measured_s;
    let million_hour_s = per_call_ns * 1e-9 * calls_per_viewer_s * 1e6 * 3600.0;
    println!(
        "player floor: {viewers} players ({} bytes each), {segment_s} s segments, hls.js",
        std::mem::size_of::<Player>()
    );
    println!(
        "  {calls} calls in {measured_s:.0} simulated s: {wall_s:.2} s wall, {per_call_ns:.0} ns per call, \
         {calls_per_viewer_s:.2} calls per viewer per simulated second"
    );
    println!("  a million viewers for an hour at this pace: {million_hour_s:.0} s, before any kernel, network or edge");
}
