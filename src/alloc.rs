//! Allocator settings for a training process.
//!
//! exp runs with mimalloc as its global allocator (set in `main.rs`): candle allocates a
//! few small tensors per operation, and mimalloc makes that several times cheaper than
//! glibc's allocator. By default mimalloc hands freed pages back to the OS after 10 ms;
//! a training loop then faults them in again at the next batch, and with transparent huge
//! pages each fault zeroes 2 MiB — 12–16% of a biased-MF epoch in a profile. A training
//! process reuses the same memory batch after batch, so keeping it is the better trade.

/// `mi_option_purge_delay` in mimalloc 2's `mi_option_t` (`include/mimalloc.h`; the Rust
/// bindings only name its deprecated alias's neighbours).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to return freed pages to the OS. Call once at start-up; harmless
/// in a process whose global allocator is not mimalloc.
pub fn keep_freed_pages() {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table; it is
    // thread-safe and valid at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}
