//! The whole recursion engine: carving at any offset, every format, nesting.
#![no_main]

use fwaudit::unpack::limits::Limits;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total_bytes: 64 << 20,
        max_file_size: 16 << 20,
        max_entries: 10_000,
        max_memory: 256 << 20,
        ..Limits::default()
    };
    let _ = fwaudit::unpack::unpack_bytes("fuzz", data.to_vec(), &limits);
});
