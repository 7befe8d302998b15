//! Feeds arbitrary bytes to the ARJ reader at offset 0, as the carver would
//! (headers, the LZ77/Huffman and method 4 decoders).
#![no_main]

use fwaudit::unpack::formats::{Format, arj::Arj};
use fwaudit::unpack::limits::{Budget, Limits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total_bytes: 64 << 20,
        max_file_size: 16 << 20,
        max_entries: 10_000,
        max_memory: 256 << 20,
        ..Limits::default()
    };
    let _ = Arj.extract(data, &mut Budget::new(limits));
});
