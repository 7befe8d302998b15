//! Firmware formats of issue 18's second UEFI part through the built binary:
//! UEFI capsules made by EDK II's GenerateCapsule, Brotli sections, Intel
//! microcode from Debian's intel-microcode, coreboot CBFS images made by
//! cbfstool (tests/fixtures/fwuefi/make.sh), with exact layers and files.

mod common;
use common::*;

const FX: &str = "tests/fixtures/fwuefi";

/// The files of `uefi.fv` (tests/fixtures), under the layer `fv`.
fn fixture_volume_files(fv: &str) -> Vec<String> {
    vec![
        format!("{fv}/HelloDxe/HelloDxe.efi 129"),
        format!("{fv}/PackedDxe/PackedDxe.efi 130"),
        format!("{fv}/TianoPei/TianoPei.te 60"),
        format!(
            "{fv}/44444444-2222-4333-8444-555555555555/a5a5a5a5-0000-4000-8000-000000000001/InnerDxe/InnerDxe.efi 129"
        ),
        format!("{fv}/55555555-2222-4333-8444-555555555555/raw.bin 15"),
        format!("{fv}/Logo/77777777-2222-4333-8444-555555555555.bin 17"),
    ]
}

const FIXTURE_VOLUME: &str = "UEFI firmware volume 5a5a5a5a-0000-4000-8000-000000000002, FFS v2, \
     7 files, 1 nested volumes, EFI and LZMA and Tiano compressed sections, \
     module versions: 1.0 build 1 (HelloDxe), 2.5 build 7 (PackedDxe)";

#[test]
fn an_fmp_capsule_opens_into_its_payload_volume() {
    let image = format!("{FX}/fmp.cap");
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let cap = format!("{image}@0x0:uefi-capsule");
    let payload = format!("{cap}/payload1-11111111-2222-4333-8444-666666666666.bin");
    assert_eq!(
        layers_with_detail(&v),
        [
            format!(
                "{cap} uefi-capsule 0 1136 | UEFI FMP capsule, flags PersistAcrossReset; \
                 0 embedded drivers, 1 payloads; payload 1: image type \
                 11111111-2222-4333-8444-666666666666, index 1, firmware version 0x00010203 \
                 (lowest supported 0x00010000)"
            ),
            format!("{payload}@0x0:uefi-fv uefi-fv 0 1024 | {FIXTURE_VOLUME}"),
        ]
    );
    let mut want = vec![format!("{payload} 1024")];
    want.extend(fixture_volume_files(&format!("{payload}@0x0:uefi-fv")));
    assert_eq!(files(&v), want);
}

#[test]
fn a_signed_capsule_with_drivers_and_payloads() {
    let image = format!("{FX}/fmp-signed.cap");
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let listed = layers_with_detail(&v);
    assert_eq!(
        listed[0],
        format!(
            "{image}@0x0:uefi-capsule uefi-capsule 0 3941 | UEFI FMP capsule; 0 embedded \
             drivers, 1 payloads; payload 1: image type 11111111-2222-4333-8444-777777777777, \
             index 1, signed (PKCS7, 2773 certificate bytes), monotonic count 7, firmware \
             version 0x00020001 (lowest supported 0x00020000)"
        )
    );
    assert_eq!(listed.len(), 2, "{listed:#?}");

    let image = format!("{FX}/fmp-multi.cap");
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let cap = format!("{image}@0x0:uefi-capsule");
    let payload = format!("{cap}/payload1-11111111-2222-4333-8444-888888888888.bin");
    assert_eq!(
        layers(&v),
        [
            format!("{cap} uefi-capsule 0 1499"),
            format!("{payload}@0x0:uefi-fv uefi-fv 0 1024"),
        ]
    );
    let mut want = vec![
        format!("{cap}/driver1.efi 127"),
        format!("{payload} 1024"),
        format!("{cap}/payload2-11111111-2222-4333-8444-999999999999.bin 156"),
    ];
    want.extend(fixture_volume_files(&format!("{payload}@0x0:uefi-fv")));
    let mut got = files(&v);
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_ux_capsule_yields_its_bitmap() {
    let image = format!("{FX}/ux.cap");
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    assert_eq!(
        layers_with_detail(&v),
        [format!(
            "{image}@0x0:uefi-capsule uefi-capsule 0 122 | UEFI UX capsule, flags \
             PersistAcrossReset InitiateReset; display payload version 1, BMP image, mode 0, at (16, 32)"
        )]
    );
    assert_eq!(
        files(&v),
        [format!("{image}@0x0:uefi-capsule/image.bmp 78")]
    );
}

#[test]
fn brotli_sections_open_and_a_short_stream_is_an_error() {
    let image = format!("{FX}/uefi-brotli.fv");
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert_eq!(code, 2, "{}", v["notes"]);
    let fv = format!("{image}@0x0:uefi-fv");
    assert_eq!(
        layers_with_detail(&v),
        [format!(
            "{fv} uefi-fv 0 512 | UEFI firmware volume, FFS v2, 2 files, Brotli compressed \
             sections, module versions: 3.1 build 42 (BrotliDxe)"
        )]
    );
    assert_eq!(
        files(&v),
        [
            format!("{fv}/BrotliDxe/BrotliDxe.efi 450"),
            format!("{fv}/ShortBrotli/raw.bin 28"),
        ]
    );
    assert_eq!(
        v["notes"][0]["message"],
        "abababab-0000-4000-8000-000000000002: Brotli section is corrupt after 60 output \
         bytes: declares 68 decoded bytes, stream ends after 60"
    );
}

#[test]
fn intel_microcode_files_from_debian_and_in_a_volume() {
    let image = "tests/data/intel-ucode/06-c5-02";
    let (code, v) = json(&["unpack", image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    // What Debian's iucode_tool -L lists (tests/data/intel-ucode/README.md).
    assert_eq!(
        layers_with_detail(&v),
        [format!(
            "{image}@0x0:intel-microcode intel-microcode 0 90112 | Intel microcode, 1 updates: \
             cpu 0x000c0662 platforms 0x82 + 0x000c0662 platforms 0x82 + 0x000c06a2 platforms \
             0x82 + 0x000c0652 platforms 0x82 + 0x000c0664 platforms 0x82 revision 0x11a \
             2025-06-30 checksum ok"
        )]
    );
    assert!(files(&v).is_empty());

    let image = format!("{FX}/uefi-microcode.fv");
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let file = format!("{image}@0x0:uefi-fv/197db236-f856-4924-90f8-cdf12fb875f3/microcode.bin");
    assert_eq!(
        layers_with_detail(&v),
        [
            format!("{image}@0x0:uefi-fv uefi-fv 0 8192 | UEFI firmware volume, FFS v2, 1 files"),
            format!(
                "{file}@0x0:intel-microcode intel-microcode 0 4096 | Intel microcode, 2 updates: \
                 cpu 0x00000f4a platforms 0x5d revision 0x2 2005-06-10 checksum ok; cpu \
                 0x00000f4a platforms 0x5c revision 0x4 2005-12-14 checksum ok"
            ),
        ]
    );
    assert_eq!(files(&v), [format!("{file} 4096")]);
}

#[test]
fn coreboot_cbfs_images_by_cbfstool() {
    // Legacy layout: the master header at the ROM's end.
    let image = format!("{FX}/cbfs-legacy.rom.gz");
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let rom = format!("{image}@0x0:gzip/data");
    let cbfs = format!("{rom}@0x0:cbfs");
    assert_eq!(
        layers_with_detail(&v),
        [
            format!("{image}@0x0:gzip gzip 0 1044 | -"),
            format!(
                "{cbfs} cbfs 0 262080 | coreboot CBFS, 8 files (3 raw, 2 simple elf, 3 stage), \
                 LZ4 and LZMA compressed, master header: ROM 262144 bytes, x86, alignment 64; \
                 fallback/romstage: load 0x100000, entry 0x100000, memlen 20192; \
                 fallback/ramstage: load 0x100000, entry 0x100000, memlen 20192; \
                 fallback/lz4stage: load 0x100000, entry 0x100000, memlen 20192; \
                 fallback/payload: payload entry 0x100000; img/lz4payload: payload entry 0x100000"
            ),
        ]
    );
    // cbfs-legacy.print: the decompressed sizes cbfstool lists.
    assert_eq!(
        files(&v),
        [
            format!("{rom} 262144"),
            format!("{cbfs}/config/raw.txt 1000"),
            format!("{cbfs}/raw-lzma 1000"),
            format!("{cbfs}/raw-lz4 1000"),
            format!("{cbfs}/fallback/romstage 3784"),
            format!("{cbfs}/fallback/ramstage 3784"),
            format!("{cbfs}/fallback/lz4stage 3784"),
            format!("{cbfs}/fallback/payload/1-code-0x100000.bin 3784"),
            format!("{cbfs}/img/lz4payload/1-code-0x100000.bin 3784"),
        ]
    );

    // FMAP layout: the flash map's facts, then the COREBOOT area's CBFS.
    let image = format!("{FX}/cbfs-fmap.rom.gz");
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let rom = format!("{image}@0x0:gzip/data");
    assert_eq!(
        layers_with_detail(&v),
        [
            format!("{image}@0x0:gzip gzip 0 683 | -"),
            format!(
                "{rom}@0x4000:fmap fmap 16384 224 | flash map 1.1 \"FLASH\", 262144 bytes at 0x0, \
                 4 areas: BIOS 0x0+0x40000, RW_MRC_CACHE 0x0+0x4000, FMAP 0x4000+0x1000, \
                 COREBOOT 0x5000+0x3b000"
            ),
            format!(
                "{rom}@0x5000:cbfs cbfs 20480 241664 | coreboot CBFS, 2 files (1 raw, 1 stage), \
                 LZ4 and LZMA compressed; fallback/romstage: load 0x100000, entry 0x100000, memlen 20192"
            ),
        ]
    );
    assert_eq!(
        files(&v),
        [
            format!("{rom} 262144"),
            format!("{rom}@0x5000:cbfs/config 1000"),
            format!("{rom}@0x5000:cbfs/fallback/romstage 3784"),
        ]
    );
}
