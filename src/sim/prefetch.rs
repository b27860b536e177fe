//! A cache hint: start loading a value's memory now because it is needed a few events
//! from now. Large audiences are bound by memory latency, not by instructions: each
//! event's first touch of its viewer's state misses the cache, and the events of a
//! dispatch window are known before any is handled.

/// Asks the CPU to bring `value`'s first cache line in. Only a hint: it changes no
/// state and cannot fault, so results never depend on it.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    prefetch_line(value as *const T as usize);
}

/// [`prefetch`] for every cache line `value` spans.
#[inline(always)]
pub fn prefetch_all<T>(value: &T) {
    let start = value as *const T as usize;
    let end = start + std::mem::size_of::<T>();
    let mut line = start & !(CACHE_LINE - 1);
    while line < end {
        prefetch_line(line);
        line += CACHE_LINE;
    }
}

const CACHE_LINE: usize = 64;

#[inline(always)]
fn prefetch_line(address: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 never faults, whatever the address, and reads nothing into
    // the program; callers pass addresses within or next to a live reference.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
