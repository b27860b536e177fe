//! The binary's allocator: the system's, asking Linux to back large blocks with 2 MB
//! pages, counting allocation calls per thread for `failcast bench`, and ending the
//! process with exit code 3 and a note (the replay line) when memory runs out, where
//! Rust would abort. A large audience touches its viewers, events and tables at random;
//! with 4 KB pages nearly every touch also misses the TLB. The page size is only a
//! hint: where transparent huge pages are off, or on other systems, nothing changes,
//! and no result ever depends on it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

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

/// What to print when memory runs out (set before a run: how to replay it). Kept as a
/// leaked string's pointer and length, read without locking or allocating.
static NOTE_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static NOTE_LEN: AtomicUsize = AtomicUsize::new(0);

/// Sets the line printed (after the error) if an allocation fails from now on.
pub fn set_out_of_memory_note(note: String) {
    let note: &'static str = Box::leak(note.into_boxed_str());
    NOTE_LEN.store(0, Ordering::SeqCst);
    NOTE_PTR.store(note.as_ptr().cast_mut(), Ordering::SeqCst);
    NOTE_LEN.store(note.len(), Ordering::SeqCst);
}

/// An allocation failed: say so and end with exit code 3. Nothing here allocates (the
/// heap is what failed), so the text goes straight to stderr with write(2). Rust's own
/// handler would abort (exit 134) with no way to tell what to do next.
#[cfg(target_os = "linux")]
fn out_of_memory(size: usize) -> ! {
    fn put(bytes: &[u8]) {
        // SAFETY: writes `bytes`, a valid slice, to stderr; a short write loses text only.
        unsafe {
            libc::write(2, bytes.as_ptr().cast(), bytes.len());
        }
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = size;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(b"error: out of memory: an allocation of ");
    put(&digits[at..]);
    put(b" bytes failed (failcast estimates a run's memory before starting it; this run needed more)\n");
    let len = NOTE_LEN.load(Ordering::SeqCst);
    let ptr = NOTE_PTR.load(Ordering::SeqCst);
    if !ptr.is_null() && len > 0 {
        // SAFETY: `ptr` and `len` describe a leaked `&'static str`; the length is
        // cleared before the pointer changes, so a torn read gives an empty note.
        put(unsafe { std::slice::from_raw_parts(ptr, len) });
        put(b"\n");
    }
    // SAFETY: ends the process at once; nothing is left half-written that a normal exit
    // would finish (outputs are written to temporary files and renamed).
    unsafe { libc::_exit(3) }
}

#[cfg(not(target_os = "linux"))]
fn out_of_memory(_size: usize) -> ! {
    std::process::abort()
}

/// `block`, unless the allocation failed.
fn checked(block: *mut u8, size: usize) -> *mut u8 {
    if block.is_null() && size > 0 {
        out_of_memory(size);
    }
    block
}

const HUGE_PAGE: usize = 2 << 20;
/// Smaller blocks are not worth a system call (and would split the heap's mappings).
const HINTED_FROM_BYTES: usize = 4 * HUGE_PAGE;

// SAFETY: every block comes from and goes back to `System` unchanged; `advise` only
// marks whole pages inside a block the caller now owns.
unsafe impl GlobalAlloc for HugePageHint {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_call();
        let block = checked(unsafe { System.alloc(layout) }, layout.size());
        advise(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_call();
        let block = checked(unsafe { System.alloc_zeroed(layout) }, layout.size());
        advise(block, layout.size());
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        unsafe { System.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_call();
        let block = checked(unsafe { System.realloc(block, layout, new_size) }, new_size);
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
