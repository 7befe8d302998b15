//! Feeds arbitrary bytes to the lzop reader at offset 0, as the carver would.
#![no_main]

use fwaudit::unpack::formats::{Format, lzop::Lzop};
use fwaudit::unpack::limits::{Budget, Limits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total_bytes: 64 << 20,
        max_file_size: 16 << 20,
        max_entries: 10_000,
        max_memory: 256 << 20,
        ..Limits::default()
    };
    let _ = Lzop.extract(data, &mut Budget::new(limits));
});
