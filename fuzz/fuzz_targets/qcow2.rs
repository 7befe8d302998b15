//! Feeds arbitrary bytes to the qcow2 reader at offset 0, as the carver would.
#![no_main]

use fwaudit::unpack::formats::{Format, qcow2::Qcow2};
use fwaudit::unpack::limits::{Budget, Limits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total_bytes: 64 << 20,
        max_file_size: 16 << 20,
        max_entries: 10_000,
        max_memory: 256 << 20,
        ..Limits::default()
    };
    let _ = Qcow2.extract(data, &mut Budget::new(limits));
});
