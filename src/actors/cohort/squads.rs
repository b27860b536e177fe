//! Squads in the cohort: the slots that stand for one viewer or for a squad of them,
//! how a squad forms, splits and loses members, and the order squads take turns in.

use super::*;

impl Cohort {
    /// The slot of viewer `viewer`: its own, or its squad's (a squad's key is the
    /// global id of its first member, so it finds the squad too).
    pub(super) fn slot_of(&self, viewer: u32) -> usize {
        let member = self.config.slot_of_viewer[viewer as usize] as usize;
        debug_assert_eq!(self.config.viewers[member], viewer, "viewer belongs to this cohort");
        self.slot_of_member(member).expect("every member has a slot")
    }

    /// The slot of the member at `member` in `CohortConfig::viewers`.
    pub(super) fn slot_of_member(&self, member: usize) -> Option<usize> {
        match &self.squads {
            Some(squads) => squads.slot_of_member.get(member).map(|&slot| slot as usize),
            None => Some(member),
        }
    }

    /// The key of slot `slot` in messages and load records.
    pub(super) fn id(&self, slot: usize) -> u32 {
        match &self.squads {
            Some(squads) => squads.ids[slot],
            None => self.config.viewers[slot],
        }
    }

    /// The viewers slot `slot` stands for: its squad's members still watching, or the
    /// one viewer (who may have left).
    pub(super) fn members(&self, slot: usize) -> &[u32] {
        match &self.squads {
            Some(squads) => &squads.parties[slot].members,
            None => std::slice::from_ref(&self.config.viewers[slot]),
        }
    }

    /// What slot `slot`'s messages stand for: its squad's members (none without squads).
    pub(super) fn party(&self, slot: usize) -> Option<Arc<Party>> {
        self.squads.as_ref().map(|squads| Arc::clone(&squads.parties[slot]))
    }

    /// The slots an input for `viewer` (a key) and `party` is for. Without squads, or
    /// for the party a squad holds now, that is the key's slot. A party of the past (a
    /// reply or a timer from before its squad split, or before a member left) is for
    /// every slot holding a member of it still watching, in member order; a slot that
    /// holds some of its members and others besides is split first, since the input
    /// treats them apart (an edge serving some members of a squad and refusing others).
    pub(super) fn slots_for(&mut self, viewer: u32, party: Option<&Arc<Party>>) -> SmallVec<[usize; 2]> {
        let slot = self.slot_of(viewer);
        let (Some(party), Some(squads)) = (party, &self.squads) else {
            return smallvec![slot];
        };
        if Arc::ptr_eq(&squads.parties[slot], party) {
            return smallvec![slot];
        }
        let mut slots: SmallVec<[usize; 2]> = SmallVec::new();
        for &member in party.members.iter() {
            let slot = self.slot_of(member);
            if slots.contains(&slot) || self.members(slot).binary_search(&member).is_err() {
                continue;
            }
            let inside = |m: &u32| party.members.binary_search(m).is_ok();
            let slot = if self.members(slot).iter().all(inside) {
                slot
            } else {
                self.split(slot, party)
            };
            slots.push(slot);
        }
        slots
    }

    /// Splits squad `slot` into its members in `party` and the others: the part with
    /// the slot's key stays, the other takes a new slot, each with a copy of the
    /// player, timer and record. Returns the slot of the members in `party`.
    pub(super) fn split(&mut self, slot: usize, party: &Party) -> usize {
        let squads = self.squads.as_mut().expect("only squads split");
        let whole = Arc::clone(&squads.parties[slot]);
        let (inside, outside): (Vec<u32>, Vec<u32>) =
            (whole.members.iter()).partition(|m| party.members.binary_search(m).is_ok());
        let key_inside = inside.binary_search(&squads.ids[slot]).is_ok();
        let (staying, moving) = if key_inside {
            (inside, outside)
        } else {
            (outside, inside)
        };
        let new = self.viewers.len();
        for &member in &moving {
            squads.slot_of_member[self.config.slot_of_viewer[member as usize] as usize] = new as u32;
        }
        squads.ids.push(moving[0]);
        let part = |members: Vec<u32>| {
            Arc::new(Party {
                root: whole.root,
                whole: false,
                members: members.into(),
            })
        };
        squads.parties[slot] = part(staying);
        squads.parties.push(part(moving));
        self.viewers.push(self.viewers[slot].clone());
        self.records.push(self.records[slot].clone());
        if key_inside {
            slot
        } else {
            new
        }
    }

    /// Runs `event` on slot `slot`'s player, its retry jitter drawn from the viewer's
    /// own stream. A squad's members would draw apart: when the event draws (found by
    /// running it on a copy, unless `may_draw` rules it out), the squad splits into its
    /// members first, and each runs it with its own stream. Returns the slots that ran
    /// it.
    pub(super) fn run_drawing(
        &mut self,
        slot: usize,
        may_draw: bool,
        event: impl Fn(&mut Player, &mut SimRng),
    ) -> SmallVec<[usize; 2]> {
        if !self.config.player.draws_jitter() || !may_draw {
            // Nothing to draw: the cohort's stream is passed and left untouched.
            let before = self.rng.get_word_pos();
            event(&mut self.viewers[slot].player, &mut self.rng);
            debug_assert_eq!(self.rng.get_word_pos(), before, "the event was not to draw");
            return smallvec![slot];
        }
        if self.members(slot).len() > 1 {
            let mut probe = self.viewer_rng(0, 0);
            let mut player = self.viewers[slot].player.clone();
            event(&mut player, &mut probe);
            if probe.get_word_pos() == 0 {
                self.viewers[slot].player = player;
                return smallvec![slot];
            }
            let singles = self.split_into_members(slot);
            for &single in &singles {
                self.draw_for(single, &event);
            }
            return singles;
        }
        self.draw_for(slot, &event);
        smallvec![slot]
    }

    /// Runs `event` on the player of slot `slot`, one viewer, with its own stream.
    pub(super) fn draw_for(&mut self, slot: usize, event: &impl Fn(&mut Player, &mut SimRng)) {
        let viewer = self.members(slot).first().copied().unwrap_or(self.id(slot));
        let mut rng = self.viewer_rng(viewer, self.viewers[slot].retry_words);
        event(&mut self.viewers[slot].player, &mut rng);
        self.viewers[slot].retry_words = u32::try_from(rng.get_word_pos()).unwrap_or(u32::MAX);
    }

    /// Viewer `viewer`'s retry stream, `words` into it.
    pub(super) fn viewer_rng(&self, viewer: u32, words: u32) -> SimRng {
        let mut rng = SimRng::from_seed(self.config.retry_key);
        rng.set_stream(u64::from(viewer));
        rng.set_word_pos(u128::from(words));
        rng
    }

    /// Splits squad `slot` into one slot per member, in member order (the first keeps
    /// the slot). Returns them.
    pub(super) fn split_into_members(&mut self, slot: usize) -> SmallVec<[usize; 2]> {
        let members = self.members(slot).to_vec();
        let root = self.squads.as_ref().map_or(0, |squads| squads.parties[slot].root);
        let mut singles: SmallVec<[usize; 2]> = smallvec![slot];
        for &member in &members[1..] {
            let alone = Party {
                root,
                whole: false,
                members: Box::new([member]),
            };
            singles.push(self.split(slot, &alone));
        }
        singles
    }

    /// Viewer `viewer` of slot `slot` leaves at `now`: its time is booked and its
    /// record final. The rest of its squad, if any, watches on.
    pub(super) fn leave(&mut self, slot: usize, viewer: u32, now: SimTime) {
        if self.viewers[slot].left || !self.members(slot).contains(&viewer) {
            return;
        }
        self.catch_up(slot, now);
        let last = self.members(slot).len() == 1;
        let mut record = if last {
            std::mem::take(&mut self.records[slot])
        } else {
            self.records[slot].clone()
        };
        let viewer_state = &mut self.viewers[slot];
        if let Some(state) = viewer_state.state {
            let elapsed = now.saturating_since(viewer_state.since.max(self.config.measure_from));
            let mut recorder = self.recorder.borrow_mut();
            match state {
                ViewerState::Playing => record.play_time += elapsed,
                ViewerState::Stalled => {
                    record.stall_time += elapsed;
                    // Leaving ends the stall: it is listed like one the viewer got over.
                    if viewer_state.since >= self.config.measure_from {
                        recorder.stall_durations.push((viewer, now, now - viewer_state.since));
                    }
                }
                ViewerState::Starting => {}
            }
            recorder.viewer_left(now, state);
        }
        record.left_at = Some(now);
        if let Some(squads) = &self.squads {
            record.ttl_violator = squads.violator(&self.config, viewer);
        }
        let viewer_state = &mut self.viewers[slot];
        record.first_index = viewer_state.player.first_index();
        record.frontier = viewer_state.player.frontier();
        if last {
            viewer_state.left = true;
            viewer_state.state = None;
            if let Some(id) = viewer_state.connection.as_mut().and_then(|conn| conn.query.take()) {
                self.queries.remove(&id);
            }
        }
        if let Some(squads) = &mut self.squads {
            let party = &squads.parties[slot];
            let members = (party.members.iter())
                .copied()
                .filter(|&member| member != viewer)
                .collect();
            squads.parties[slot] = Arc::new(Party {
                root: party.root,
                whole: party.whole,
                members,
            });
        }
        self.recorder.borrow_mut().viewers[viewer as usize] = record;
    }
}

impl Squads {
    /// Groups the cohort's viewers by join instant and stream, squads in the order of
    /// their first members. Uniform joins are drawn here, in member order, as the
    /// cohort would draw them at the start without squads.
    pub(super) fn form(config: &CohortConfig, rng: &mut SimRng) -> Squads {
        // Drawn as the cohort draws them without squads: resolvers when it is built,
        // then the joins at the start.
        let violators: Vec<bool> = match config.edge_choice {
            EdgeChoice::Resolved { violator_share, .. } => (0..config.viewers.len())
                .map(|_| rng.gen_bool(violator_share.clamp(0.0, 1.0)))
                .collect(),
            _ => vec![false; config.viewers.len()],
        };
        let joins: Vec<SimTime> = match &config.joins {
            Joins::Uniform { at, over } => (0..config.viewers.len())
                .map(|_| uniform_join(*at, *over, config.join_step, rng))
                .collect(),
            Joins::Planned(plan) => plan.iter().map(|&(join, _)| join).collect(),
        };
        let mut members: Vec<Vec<u32>> = Vec::new();
        let mut squads = Squads {
            ids: Vec::new(),
            parties: Vec::new(),
            slot_of_member: Vec::with_capacity(config.viewers.len()),
            joins: Vec::new(),
            violators,
        };
        let mut slot_of_key: BTreeMap<(SimTime, u32), u32> = BTreeMap::new();
        for (&viewer, &join) in config.viewers.iter().zip(&joins) {
            let stream = viewer % config.streams.max(1);
            let slot = *slot_of_key.entry((join, stream)).or_insert_with(|| {
                squads.ids.push(viewer);
                members.push(Vec::new());
                squads.joins.push(join);
                squads.ids.len() as u32 - 1
            });
            members[slot as usize].push(viewer);
            squads.slot_of_member.push(slot);
        }
        squads.parties = (squads.ids.iter().zip(members))
            .map(|(&root, members)| {
                Arc::new(Party {
                    root,
                    whole: true,
                    members: members.into(),
                })
            })
            .collect();
        squads
    }
}

impl Squads {
    /// Whether squad `slot` has members with an honest resolver, and with one that
    /// stretches TTLs.
    pub(super) fn resolver_kinds(&self, config: &CohortConfig, slot: usize) -> (bool, bool) {
        (self.parties[slot].members.iter()).fold((false, false), |(honest, violating), &member| {
            let violator = self.violator(config, member);
            (honest || !violator, violating || violator)
        })
    }

    pub(super) fn violator(&self, config: &CohortConfig, viewer: u32) -> bool {
        let member = config.slot_of_viewer[viewer as usize] as usize;
        self.violators.get(member).copied().unwrap_or(false)
    }
}

/// The cohort's members (places in `CohortConfig::viewers`) in the order their joins
/// are scheduled without squads: those who join at one instant grouped by stream, the
/// groups in the order of their first members, as squads take turns. Same-instant
/// requests then reach a round-robin DNS or an edge at capacity in the order squads
/// send them, with several streams too.
pub(super) fn squad_order(config: &CohortConfig, joins: &[SimTime]) -> Vec<usize> {
    let mut first_of_key: BTreeMap<(SimTime, u32), usize> = BTreeMap::new();
    let mut order: Vec<(usize, usize)> = (joins.iter().zip(&config.viewers).enumerate())
        .map(|(member, (&join, &viewer))| {
            let stream = viewer % config.streams.max(1);
            (*first_of_key.entry((join, stream)).or_insert(member), member)
        })
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, member)| member).collect()
}

/// A join drawn uniformly in `[at, at + over)`, snapped down onto the `step` grid from `at`.
pub(super) fn uniform_join(at: SimDuration, over: SimDuration, step: SimDuration, rng: &mut SimRng) -> SimTime {
    let span = over.as_nanos();
    let offset = if span == 0 { 0 } else { rng.gen_range(0..span) };
    let start = SimTime::ZERO + at;
    crate::scenario::workload::snap_join(start, start + SimDuration::from_nanos(offset), step)
}
