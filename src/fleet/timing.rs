//! `FWAUDIT_TIMING=1`: where a fleet command spends its time, on stderr
//! (`fwaudit: timing: open 12.3 ms (+12.3)`). Off unless the variable is
//! set; it never changes a command's output.

use std::sync::OnceLock;
use std::time::Instant;

fn state() -> Option<&'static Instant> {
    static START: OnceLock<Option<Instant>> = OnceLock::new();
    START
        .get_or_init(|| std::env::var_os("FWAUDIT_TIMING").map(|_| Instant::now()))
        .as_ref()
}

/// Starts the clock (the first call, or the first [`mark`], does).
pub fn start() {
    let _ = state();
}

/// Prints the time since [`start`] with `label`, when timing is on.
pub fn mark(label: &str) {
    if let Some(start) = state() {
        eprintln!(
            "fwaudit: timing: {label} {:.1} ms",
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
}
