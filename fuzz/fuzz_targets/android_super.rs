//! Feeds arbitrary bytes to the Android super (LP metadata) reader at offset 0.
#![no_main]

use fwaudit::unpack::formats::{Format, android_super::AndroidSuper};
use fwaudit::unpack::limits::{Budget, Limits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total_bytes: 64 << 20,
        max_file_size: 16 << 20,
        max_entries: 10_000,
        max_memory: 256 << 20,
        ..Limits::default()
    };
    let _ = AndroidSuper.extract(data, &mut Budget::new(limits));
});
