//! Seed derivation: one master seed, one independent ChaCha stream per stable component id.
//!
//! Streams are keyed by names (`"encoder-1"`, `"link:3->7"`), never by creation order,
//! so adding a component does not shift the draws of any other.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::trace::fnv1a64;

/// The generator every model component draws from.
pub type SimRng = ChaCha8Rng;

/// splitmix64: a fixed, well-mixed expansion of one 64-bit value into a stream.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 32-byte ChaCha key for `stable_id` under `master_seed`.
pub fn derive_key(master_seed: u64, stable_id: &str) -> [u8; 32] {
    let mut state = master_seed ^ fnv1a64(stable_id.as_bytes()).rotate_left(17);
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    key
}

/// A generator for the component named `stable_id`.
pub fn rng_for(master_seed: u64, stable_id: &str) -> SimRng {
    SimRng::from_seed(derive_key(master_seed, stable_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn streams_depend_on_seed_and_id_only() {
        let a1 = rng_for(1, "ingest-1").next_u64();
        let a2 = rng_for(1, "ingest-1").next_u64();
        let b = rng_for(1, "ingest-2").next_u64();
        let c = rng_for(2, "ingest-1").next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn derivation_is_pinned() {
        // A change here silently changes every result ever published: keep it fixed.
        assert_eq!(rng_for(1, "encoder-1").next_u64(), PINNED_FIRST_DRAW);
    }
    const PINNED_FIRST_DRAW: u64 = 1_842_175_500_868_575_862;
}
