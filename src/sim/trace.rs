//! The event log: a stable digest of every delivered event, and an optional full record
//! for naming the first event where two runs diverge.

use std::fmt;

use crate::time::SimTime;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64-bit, over bytes: a fixed-definition hash (unlike `DefaultHasher`).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// One delivered event, as the log sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TraceRecord {
    pub time: SimTime,
    /// Superdense-time microstep (see the kernel's event ordering).
    pub micro: u32,
    pub src: u32,
    pub seq: u64,
    pub dst: u32,
    pub kind: &'static str,
    /// Hash of the event's payload fields (see [`TraceMsg::digest`]).
    pub payload: u64,
}

impl TraceRecord {
    fn key(&self) -> (SimTime, u32, u32, u64) {
        (self.time, self.micro, self.src, self.seq)
    }
}

/// What a message tells the event log about itself.
pub trait TraceMsg {
    /// Short stable name of the message kind, e.g. `"frames"`.
    fn kind(&self) -> &'static str;
    /// Stable hash of the fields that matter; equal messages must give equal digests.
    fn digest(&self) -> u64;
    /// How many messages of the modelled system this one stands for (a squad's request
    /// is one per member), as `messages_lost` counts them.
    fn stands_for(&self) -> u64 {
        1
    }
}

/// Running digest of the event log: FNV-1a applied to 64-bit words
/// `(time_ns, micro, src, seq, dst, fnv1a64(kind), payload)` of each event, in the
/// canonical `(time, micro, src, seq)` order.
#[derive(Clone, Debug)]
pub struct TraceDigest {
    hash: u64,
    events: u64,
    records: Option<Vec<TraceRecord>>,
    kind_hashes: KindHashes,
}

impl TraceDigest {
    pub fn new(keep_records: bool) -> Self {
        TraceDigest {
            hash: FNV_OFFSET,
            events: 0,
            records: keep_records.then(Vec::new),
            kind_hashes: KindHashes::default(),
        }
    }

    fn mix(&mut self, word: u64) {
        self.hash ^= word;
        self.hash = self.hash.wrapping_mul(FNV_PRIME);
    }

    /// Folds a batch of delivered events, in the canonical `(time, micro, src, seq)` order.
    pub fn fold_batch(&mut self, batch: &mut [TraceRecord]) {
        // Each host hands its records over in key order (but for timers a node set
        // for itself inside the window), so the batch is a few sorted runs back to
        // back: the stable sort finds the runs and merges them. Keys are unique, so
        // any sort gives the same order.
        if batch.len() > 1 {
            batch.sort_by_key(TraceRecord::key);
        }
        for record in batch.iter() {
            self.mix(record.time.as_nanos());
            self.mix(u64::from(record.micro));
            self.mix(u64::from(record.src));
            self.mix(record.seq);
            self.mix(u64::from(record.dst));
            let kind = self.kind_hashes.get(record.kind);
            self.mix(kind);
            self.mix(record.payload);
        }
        self.events += batch.len() as u64;
        if let Some(records) = &mut self.records {
            records.extend_from_slice(batch);
        }
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn value(&self) -> u64 {
        self.hash
    }

    /// The digest as printed everywhere: 16 lowercase hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.hash)
    }

    pub fn records(&self) -> Option<&[TraceRecord]> {
        self.records.as_deref()
    }
}

/// The hashes of recently seen kind names, by where the name lives: a run has a few
/// dozen kinds, all `&'static str`, and hashing the name byte by byte for every event
/// was a serial chain as long as the rest of the record's. A name at the same address
/// with the same length is the same bytes, so a hit is always right.
#[derive(Clone, Debug)]
struct KindHashes {
    entries: [(usize, usize, u64); KIND_HASH_ENTRIES],
}

const KIND_HASH_ENTRIES: usize = 32;

impl Default for KindHashes {
    fn default() -> Self {
        // No name lives at address 0, so the empty entries never hit.
        KindHashes {
            entries: [(0, 0, 0); KIND_HASH_ENTRIES],
        }
    }
}

impl KindHashes {
    fn get(&mut self, kind: &'static str) -> u64 {
        let (address, len) = (kind.as_ptr() as usize, kind.len());
        let entry = &mut self.entries[(address ^ (address >> 5) ^ len) % KIND_HASH_ENTRIES];
        if entry.0 != address || entry.1 != len {
            *entry = (address, len, fnv1a64(kind.as_bytes()));
        }
        entry.2
    }
}

/// Where two event logs part ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    pub index: usize,
    pub first: Option<TraceRecord>,
    pub second: Option<TraceRecord>,
}

/// The first index at which two logs differ, if any.
pub fn first_divergence(first: &[TraceRecord], second: &[TraceRecord]) -> Option<Divergence> {
    let common = first.len().min(second.len());
    let index = (0..common)
        .find(|&i| first[i] != second[i])
        .or((first.len() != second.len()).then_some(common))?;
    Some(Divergence {
        index,
        first: first.get(index).copied(),
        second: second.get(index).copied(),
    })
}

impl fmt::Display for TraceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t={} {} from node {} to node {} (seq {}, payload {:016x})",
            self.time, self.kind, self.src, self.dst, self.seq, self.payload
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    fn record(t: u64, src: u32, seq: u64) -> TraceRecord {
        TraceRecord {
            time: SimTime::from_nanos(t),
            micro: 0,
            src,
            seq,
            dst: 1,
            kind: "x",
            payload: 0,
        }
    }

    #[test]
    fn batch_order_does_not_change_digest() {
        let mut a = TraceDigest::new(false);
        let mut b = TraceDigest::new(false);
        a.fold_batch(&mut [record(1, 1, 0), record(1, 2, 0), record(2, 1, 1)]);
        b.fold_batch(&mut [record(2, 1, 1), record(1, 2, 0), record(1, 1, 0)]);
        assert_eq!(a.hex(), b.hex());
        let mut c = TraceDigest::new(false);
        c.fold_batch(&mut [record(1, 1, 0), record(1, 2, 0), record(3, 1, 1)]);
        assert_ne!(a.hex(), c.hex());
    }

    #[test]
    fn divergence_names_the_first_difference() {
        let a = [record(1, 1, 0), record(2, 1, 1), record(3, 1, 2)];
        let b = [record(1, 1, 0), record(2, 2, 1), record(3, 1, 2)];
        let d = first_divergence(&a, &b).unwrap();
        assert_eq!(d.index, 1);
        assert_eq!(first_divergence(&a, &a), None);
        assert_eq!(first_divergence(&a, &a[..2]).unwrap().index, 2);
    }
}
