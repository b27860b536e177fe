//! The binary's allocator: the system's, asking Linux to back large blocks with 2 MB
//! pages, and counting allocation calls per thread for `failcast bench`. A large
//! audience touches its viewers, events and tables at random; with 4 KB pages nearly
//! every touch also misses the TLB. Only a hint: where transparent huge pages are off,
//! or on other systems, nothing changes, and no result ever depends on it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct HugePageHint;

thread_local! {
    // Per thread, not one atomic: sweep workers allocate at once, and a shared counter's
    // cache line would bounce between them on every allocation.
    static ALLOCATION_CALLS: Cell<u64> = const { Cell::new(0) };
}

/// Calls to `alloc`, `alloc_zeroed` and `realloc` made on this thread so far (a run
/// happens on the thread that starts it, so the difference across a run is the run's).
pub fn allocation_calls_on_this_thread() -> u64 {
    ALLOCATION_CALLS.with(Cell::get)
}

fn count_call() {
    ALLOCATION_CALLS.with(|calls| calls.set(calls.get() + 1));
}

const HUGE_PAGE: usize = 2 << 20;
/// Smaller blocks are not worth a system call (and would split the heap's mappings).
const HINTED_FROM_BYTES: usize = 4 * HUGE_PAGE;

// SAFETY: every block comes from and goes back to `System` unchanged; `advise` only
// marks whole pages inside a block the caller now owns.
unsafe impl GlobalAlloc for HugePageHint {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_call();
        let block = unsafe { System.alloc(layout) };
        advise(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_call();
        let block = unsafe { System.alloc_zeroed(layout) };
        advise(block, layout.size());
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        unsafe { System.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_call();
        let block = unsafe { System.realloc(block, layout, new_size) };
        if new_size > layout.size() {
            advise(block, new_size);
        }
        block
    }
}

/// Asks for huge pages on the 2 MB-aligned part of a large block (before its pages are
/// first touched, where it is fresh, so they are huge from the start).
fn advise(block: *mut u8, size: usize) {
    if block.is_null() || size < HINTED_FROM_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let start = (block as usize).next_multiple_of(HUGE_PAGE);
        let end = (block as usize + size) & !(HUGE_PAGE - 1);
        if end > start {
            // SAFETY: [start, end) lies inside the block just allocated; MADV_HUGEPAGE
            // changes how its pages are backed, never their contents. A failure (THP
            // not built in) leaves the block as it was.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
}
