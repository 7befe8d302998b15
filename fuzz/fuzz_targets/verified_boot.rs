//! Unpacks arbitrary bytes and runs the U-Boot verified-boot check over the
//! device trees and FITs found (key lookups, signature nodes of any shape).
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
    let unpacked = fwaudit::unpack::unpack_bytes("fuzz", data.to_vec(), &limits);
    let _ = fwaudit::analyze::verified_boot::findings(&unpacked);
});
