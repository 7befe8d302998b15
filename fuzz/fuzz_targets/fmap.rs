//! Feeds arbitrary bytes to the Fmap reader at offset 0, as the carver would.
#![no_main]

use fwaudit::unpack::formats::{Format, fmap::Fmap};
use fwaudit::unpack::limits::{Budget, Limits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Small bounds keep libFuzzer's memory limit out of the way of real bugs.
    let limits = Limits {
        max_total_bytes: 64 << 20,
        max_file_size: 16 << 20,
        max_entries: 10_000,
        max_memory: 256 << 20,
        ..Limits::default()
    };
    let _ = Fmap.extract(data, &mut Budget::new(limits));
});
