//! The wasm32 global allocator: dlmalloc (the allocator std itself uses on wasm32), over a memory that grows in
//! large steps.
//!
//! std's copy asks for 64 KiB more memory at a time, and each `memory.grow` costs the engine far more than the
//! pages: V8 replaces the memory's `ArrayBuffer` and accounts for the new size, which can start a garbage
//! collection. A 100,000-write benchmark grew memory about 2,200 times and spent more time growing than simulating
//! (4.9 s of CPU instead of 2.0 s for the same run on a warm heap). Here memory grows by a quarter of its size
//! (at least 1 MiB, at most 64 MiB) at a time, so that run grows it about 40 times. Pages that are never touched
//! cost no real memory. Nothing here changes what the program computes: allocation addresses are invisible to
//! the simulation (no `HashMap`, no pointer ordering), so traces and their hashes are unchanged.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr;

const PAGE: usize = 64 * 1024;
const MIN_STEP: usize = 1 << 20;
const MAX_STEP: usize = 64 << 20;

/// Where dlmalloc gets memory from: `memory.grow`, in steps proportional to the memory already there.
struct Memory;

// SAFETY: `alloc` returns fresh pages from `memory.grow` (zeroed, never handed out before) or null; memory is
// never released, which the other methods report.
unsafe impl dlmalloc::Allocator for Memory {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let have = wasm32::memory_size(0) * PAGE;
        let step = (have / 4).clamp(MIN_STEP, MAX_STEP).max(size);
        // Near the engine's memory limit a big step can fail where the exact request still fits.
        for bytes in [step, size] {
            let pages = bytes.div_ceil(PAGE);
            let prev = wasm32::memory_grow(0, pages);
            if prev != usize::MAX {
                return ((prev * PAGE) as *mut u8, pages * PAGE, 0);
            }
        }
        (ptr::null_mut(), 0, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

struct Global(UnsafeCell<dlmalloc::Dlmalloc<Memory>>);

// SAFETY: wasm32-unknown-unknown without the `atomics` target feature runs one thread, so the allocator is never
// entered twice at once (the same reasoning as std's wasm32 allocator).
#[cfg(not(target_feature = "atomics"))]
unsafe impl Sync for Global {}

// SAFETY: every method forwards to dlmalloc, which upholds the `GlobalAlloc` contract for the layouts it is given.
unsafe impl GlobalAlloc for Global {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).malloc(layout.size(), layout.align())
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).calloc(layout.size(), layout.align())
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        (*self.0.get()).free(ptr, layout.size(), layout.align())
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Global = Global(UnsafeCell::new(dlmalloc::Dlmalloc::new_with_allocator(Memory)));
