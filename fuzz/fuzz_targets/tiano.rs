//! Feeds arbitrary bytes to the EFI and Tiano decompressors.
#![no_main]

use fwaudit::unpack::tiano::{Variant, decompress};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for variant in [Variant::Efi, Variant::Tiano] {
        let d = decompress(data, variant, 16 << 20);
        assert!(d.data.len() <= 16 << 20);
    }
});
