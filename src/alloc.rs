//! The process's allocator, chosen once from the command line: jemalloc for the
//! long-running service (`serve`, `web`, `worker`), the platform allocator for the
//! one-shot commands (`compare`, `inspect`, `merge`, `submit`, `migrate`).
//!
//! Why two (figures in docs/service.md, "Measured"): under the 100-session load glibc's
//! malloc/free took ~16 % of the server's CPU and its per-thread arenas let RSS creep up
//! by ~18 % over 10,000 uploads; jemalloc cut CPU per upload→comparison pair by about a
//! quarter and kept RSS within +6 %. For a one-shot decode the platform allocator is the
//! better fit: growing a large table is an in-place `mremap` there, while jemalloc
//! copies, so a refused hostile dump peaked at 55 MB instead of 28 MB and needed twice
//! the address space.
//!
//! Written by hand because the choice has to be made at the first allocation, before
//! `main`: it reads `/proc/self/cmdline` with plain syscalls into a stack buffer (no heap
//! use), and every later call goes to the same allocator, so memory is always freed by
//! the allocator that gave it out.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

use tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options (the `_RJEM_MALLOC_CONF` variable still overrides them).
///
/// Two arenas instead of four per core: measured back to back under the 100-session load,
/// server RSS fell from 200–205 MiB to 141–150 MiB at the same CPU per pair, and over
/// 10,000 uploads RSS stayed within 116–131 MiB (+0.8 % first to last thousand) where
/// the default wandered between 122 and 141 MiB.
#[used]
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_CONF: &[u8; 10] = b"narenas:2\0";

const UNDECIDED: u8 = 0;
const PLATFORM: u8 = 1;
const JEMALLOC: u8 = 2;

static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// Routes every allocation to the allocator chosen for this process.
pub struct ByCommand;

/// Whether a NUL-separated command line (as in `/proc/self/cmdline`) runs the service.
fn runs_service(cmdline: &[u8]) -> bool {
    matches!(
        cmdline.split(|&b| b == 0).nth(1),
        Some(b"serve" | b"web" | b"worker")
    )
}

/// Reads this process's command line without touching the heap.
fn own_cmdline(buf: &mut [u8; 256]) -> &[u8] {
    // SAFETY: plain syscalls on a NUL-terminated path and a buffer we own; the length
    // passed to read never exceeds the buffer's remaining space.
    unsafe {
        let fd = libc::open(
            c"/proc/self/cmdline".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return &[];
        }
        let mut len = 0usize;
        while len < buf.len() {
            let n = libc::read(fd, buf[len..].as_mut_ptr().cast(), buf.len() - len);
            if n <= 0 {
                break;
            }
            len += n as usize;
        }
        libc::close(fd);
        &buf[..len]
    }
}

fn choice() -> u8 {
    let c = CHOICE.load(Ordering::Acquire);
    if c != UNDECIDED {
        return c;
    }
    let mut buf = [0u8; 256];
    let decided = if runs_service(own_cmdline(&mut buf)) {
        JEMALLOC
    } else {
        PLATFORM
    };
    // Racing first allocations compute the same answer; the first store wins either way.
    match CHOICE.compare_exchange(UNDECIDED, decided, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => decided,
        Err(other) => other,
    }
}

/// The allocator this process uses, for the ops figures.
pub fn name() -> &'static str {
    if choice() == JEMALLOC {
        "jemalloc"
    } else {
        "system"
    }
}

// SAFETY: each call forwards to one of two correct allocators, and `choice()` is fixed
// from the first allocation on, so a block is always freed or resized by its own.
unsafe impl GlobalAlloc for ByCommand {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if choice() == JEMALLOC {
            unsafe { Jemalloc.alloc(layout) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if choice() == JEMALLOC {
            unsafe { Jemalloc.alloc_zeroed(layout) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if choice() == JEMALLOC {
            unsafe { Jemalloc.dealloc(ptr, layout) }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if choice() == JEMALLOC {
            unsafe { Jemalloc.realloc(ptr, layout, new_size) }
        } else {
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_commands_get_jemalloc_others_the_platform_allocator() {
        for cmd in ["serve", "web", "worker"] {
            let line = format!("/usr/bin/profdiff\0{cmd}\0--bind\0127.0.0.1:0\0");
            assert!(runs_service(line.as_bytes()), "{cmd}");
        }
        for line in [
            "profdiff\0compare\0a.prof\0b.prof\0",
            "profdiff\0inspect\0serve\0",
            "profdiff\0migrate\0",
            "profdiff\0",
            "",
            "serve\0",
        ] {
            assert!(!runs_service(line.as_bytes()), "{line:?}");
        }
    }

    #[test]
    fn reads_its_own_command_line() {
        let mut buf = [0u8; 256];
        let line = own_cmdline(&mut buf);
        assert!(!line.is_empty());
        // A test binary is not the service.
        assert!(!runs_service(line));
    }
}
