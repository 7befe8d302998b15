//! Feeds arbitrary bytes to the Gpt reader at offset 0, as the carver would.
#![no_main]

use fwaudit::unpack::formats::{Format, gpt::Gpt, gpt::Gpt4k};
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
    let _ = Gpt.extract(data, &mut Budget::new(limits.clone()));
    let _ = Gpt4k.extract(data, &mut Budget::new(limits));
});
