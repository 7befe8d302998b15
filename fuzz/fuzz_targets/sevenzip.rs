//! Feeds arbitrary bytes to the 7z reader at offset 0, as the carver would.
#![no_main]

use fwaudit::unpack::formats::{sevenzip::SevenZip, Format};
use fwaudit::unpack::limits::{Budget, Limits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total_bytes: 64 << 20,
        max_file_size: 16 << 20,
        max_entries: 10_000,
        // As the other targets: the default 1 GiB lets an archive declare a
        // dictionary that large, which is allowed but makes each run slow
        // (peak RSS 1.3 GB in the first 300 s run).
        max_memory: 256 << 20,
        ..Limits::default()
    };
    let _ = SevenZip.extract(data, &mut Budget::new(limits));
});
