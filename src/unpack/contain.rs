//! Panic containment: the second line of defence around every format
//! reader. Readers must not panic on any input (they are fuzzed for it), but
//! if one does, the panic costs the layer that raised it, reported as a note
//! naming the layer and the panic, and the rest of the target is still read.
//!
//! A contained panic prints nothing: the panic hook stays quiet on threads
//! inside [`contain`] and keeps the message for the note; a panic on a
//! rayon worker while some thread is inside [`contain`] is kept too (a
//! reader's parallel part unwinds to the thread that called it). Panics
//! anywhere else still reach the previous hook. This needs
//! `panic = "unwind"` (the default; never set `abort` in a profile).

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

thread_local! {
    /// How many [`contain`] calls this thread is inside.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The message and place of the last contained panic on this thread.
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();
/// Threads inside [`contain`] right now.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// The last panic of a rayon worker while [`ACTIVE`] was not zero.
static WORKER_PANIC: Mutex<Option<String>> = Mutex::new(None);

fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let here = DEPTH.with(Cell::get) > 0;
            let worker =
                ACTIVE.load(Ordering::SeqCst) > 0 && rayon::current_thread_index().is_some();
            if !here && !worker {
                previous(info);
                return;
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic without a message".to_string());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let text = format!("{message}{at}");
            if here {
                LAST.with(|last| *last.borrow_mut() = Some(text));
            } else if let Ok(mut slot) = WORKER_PANIC.lock() {
                *slot = Some(text);
            }
        }));
    });
}

/// Runs `f`; a panic inside it becomes `Err` with the panic's message and
/// source location, instead of unwinding further.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    DEPTH.with(|d| d.set(d.get() + 1));
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    let result = catch_unwind(AssertUnwindSafe(f));
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
    DEPTH.with(|d| d.set(d.get() - 1));
    result.map_err(|_| {
        LAST.with(|last| last.borrow_mut().take())
            .or_else(|| WORKER_PANIC.lock().ok().and_then(|mut w| w.take()))
            .unwrap_or_else(|| "panic without a message".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_place() {
        let err = contain(|| -> u8 { panic!("bad table {}", 7) }).unwrap_err();
        assert!(
            err.starts_with("bad table 7 at src/unpack/contain.rs:"),
            "{err}"
        );
        assert_eq!(contain(|| 5), Ok(5));
        // Nested: the inner one is caught where it happens.
        let outer = contain(|| contain(|| -> u8 { panic!("inner") }).unwrap_err());
        assert!(outer.unwrap().starts_with("inner at "));
    }

    #[test]
    fn a_panic_on_a_rayon_worker_is_kept_for_the_caller() {
        use rayon::prelude::*;
        let err = contain(|| {
            (0..64u32)
                .into_par_iter()
                .map(|i| if i == 37 { panic!("worker {i}") } else { i })
                .sum::<u32>()
        })
        .unwrap_err();
        assert!(err.starts_with("worker 37 at "), "{err}");
    }
}
