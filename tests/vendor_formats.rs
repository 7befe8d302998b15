//! Vendor formats (issue 18, second part) through the built binary: squashfs
//! 2.x/3.x images made by the old mksquashfs builds (tests/fixtures/squashfs-old.sh)
//! and encrypted containers made with openssl, gpg and cryptsetup
//! (tests/fixtures/encrypted.sh), with exact layers and files.

mod common;
use common::*;

#[test]
fn a_ddwrt_squashfs_opens_with_modes() {
    let image = "tests/fixtures/sqfs-old/sq30-ddwrt.sqfs";
    let (code, v) = json(&["unpack", image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let l = layers_with_detail(&v);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(
        l[0].starts_with(&format!("{image}@0x0:squashfs squashfs 0 ")),
        "{l:?}"
    );
    assert!(
        l[0].ends_with(
            "| squashfs 3.0 little-endian, lzma (pb/lc/lp header) compression (DD-WRT magic `hsqt`), block size 4096"
        ),
        "{l:?}"
    );
    let f = files(&v);
    for want in [
        "/bin/busybox 9004",
        "/etc/banner 6100",
        "/etc/shadow 22",
        "/usr/lib/zeros.bin 8192",
        "/www/cgi/page-with-a-longer-name-40.cgi 3",
    ] {
        assert!(
            f.contains(&format!("{image}@0x0:squashfs{want}")),
            "{want} not in {f:?}"
        );
    }
}

#[test]
fn dlink_shrs_is_decrypted_and_its_payload_opened() {
    let image = "tests/fixtures/encrypted/dlink-shrs.bin";
    let (code, v) = json(&["unpack", image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let enc = format!("{image}@0x0:encrypted");
    assert_eq!(
        layers_with_detail(&v),
        [
            format!(
                "{enc} encrypted 0 1996 | D-Link SHRS, AES-128-CBC, decrypted, SHA-512 digests checked"
            ),
            format!("{enc}/decrypted.bin@0x0:gzip gzip 0 231 | -"),
        ]
    );
    assert_eq!(
        files(&v),
        [
            format!("{enc}/decrypted.bin 231"),
            format!("{enc}/decrypted.bin@0x0:gzip/data 3720")
        ]
    );
}

#[test]
fn dlink_encrpted_img_is_decrypted_per_eraseblock() {
    let image = "tests/fixtures/encrypted/dlink-encrpted.img";
    let (code, v) = json(&["unpack", image, "--json"]);
    let l = layers_with_detail(&v);
    let enc = format!("{image}@0x0:encrypted");
    assert_eq!(
        l[0],
        format!(
            "{enc} encrypted 0 147472 | D-Link encrpted_img, AES-256-CBC (each eraseblock on its own), decrypted"
        ),
        "{l:?}"
    );
    // The plaintext is the fixture's: the gzip stream after the EC header.
    assert!(
        l.contains(&format!("{enc}/decrypted.ubi@0x10:gzip gzip 16 231 | -")),
        "{l:?}"
    );
    assert!(
        files(&v).contains(&format!("{enc}/decrypted.ubi@0x10:gzip/data 3720")),
        "{:?}",
        files(&v)
    );
    // The fixture's eraseblocks carry only the first 16 bytes of a UBI EC
    // header (no CRC): the UBI reader's notes about them are the only ones.
    assert_eq!(code, 2);
    for n in v["notes"].as_array().unwrap() {
        assert!(
            s(&n["message"]).contains("UBI erase counter header CRC mismatch"),
            "{n}"
        );
    }
}

#[test]
fn containers_without_a_key_are_named_layers_of_kind_encrypted() {
    let tmp = tempfile::tempdir().unwrap();
    let luks2 = {
        let gz = std::fs::read(root().join("tests/fixtures/encrypted/luks2-head.bin.gz")).unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw).unwrap();
        let path = tmp.path().join("luks2-head.bin");
        std::fs::write(&path, &raw).unwrap();
        path.to_str().unwrap().to_string()
    };
    let cases = [
        (
            "tests/fixtures/encrypted/openssl-salted.bin".to_string(),
            "encrypted 0 3744 | OpenSSL `enc` ciphertext (salt ",
        ),
        (
            "tests/fixtures/encrypted/pgp-message.asc".to_string(),
            "encrypted 0 ",
        ),
        (
            "tests/fixtures/encrypted/luks1-head.bin".to_string(),
            "encrypted 0 4096 | LUKS1 encrypted volume, aes-xts-plain64, 512-bit key, sha256; no key to open it",
        ),
        (
            luks2,
            "encrypted 0 16384 | LUKS2 encrypted volume, aes-xts-plain64; no key to open it",
        ),
    ];
    for (image, want) in cases {
        let (code, v) = json(&["unpack", &image, "--json"]);
        assert_eq!(code, 0, "{image}: {}", v["notes"]);
        let l = layers_with_detail(&v);
        assert_eq!(l.len(), 1, "{image}: {l:?}");
        let head = format!("{image}@0x0:encrypted {want}");
        assert!(l[0].starts_with(&head), "{l:?} does not start with {head}");
        assert!(v["files"].as_array().unwrap().is_empty(), "{image}");
    }
    let (_, v) = json(&[
        "unpack",
        "tests/fixtures/encrypted/pgp-message.asc",
        "--json",
    ]);
    assert!(
        layers_with_detail(&v)[0].ends_with("| OpenPGP message (ASCII armour); no key to open it"),
        "{:?}",
        layers_with_detail(&v)
    );
}

/// A zip, cpio or tar cut at two thirds keeps the members that are whole,
/// and the note names where it was cut (exit 2: the scan is incomplete).
#[test]
fn truncated_archives_keep_their_whole_members() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "tree.zip",
            &[
                "bin 0",
                "bin/sh 7",
                "bin/busybox 17",
                "etc 0",
                "etc/hostname 7",
            ],
            "zip is truncated: no end-of-central-directory record; cut in the central directory at 0xda; 5 whole members kept",
        ),
        (
            "tree.newc.cpio",
            &[
                "bin 0",
                "bin/busybox 17",
                "bin/sh 0",
                "etc 0",
                "etc/hostname 7",
            ],
            "cpio: no valid entry header at 0x27c; archive truncated or corrupt",
        ),
        (
            "tree.ustar.tar",
            &[
                "bin 0",
                "bin/ash 17",
                "bin/busybox 17",
                "bin/sh 0",
                "etc 0",
                "etc/hostname 7",
            ],
            "tar: no end-of-archive marker at 0x1800; archive truncated",
        ),
    ];
    for (name, want_files, want_note) in cases {
        let data = std::fs::read(root().join("tests/fixtures").join(name)).unwrap();
        let path = tmp.path().join(format!("cut-{name}"));
        std::fs::write(&path, &data[..data.len() * 2 / 3]).unwrap();
        let image = path.to_str().unwrap();
        let (code, v) = json(&["unpack", image, "--json"]);
        assert_eq!(code, 2, "{name}");
        let format = name.rsplit('.').next().unwrap();
        let prefix = format!("{image}@0x0:{format}/");
        let got: Vec<String> = files(&v)
            .into_iter()
            .filter_map(|f| f.strip_prefix(&prefix).map(String::from))
            .filter(|f| !f.starts_with("ddd"))
            .collect();
        assert_eq!(got, want_files, "{name}");
        let notes: Vec<String> = v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| s(&n["message"]))
            .collect();
        assert!(
            notes.iter().any(|n| n.ends_with(want_note)),
            "{name}: {notes:?}"
        );
    }
}

#[test]
fn a_matter_ota_image_gives_its_header_facts_and_payload() {
    let image = "tests/fixtures/matter-ota.bin";
    let (code, v) = json(&["unpack", image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let ota = format!("{image}@0x0:matter-ota");
    assert_eq!(
        layers_with_detail(&v),
        [
            format!(
                "{ota} matter-ota 0 361 | Matter OTA image, vendor 0xfff1, product 0x8000, software version 2 (\"2.0\"), \
                 applies from version 1, up to version 1, release notes https://example.com/notes/2.0, SHA-256 digest checked"
            ),
            format!("{ota}/payload.bin@0x0:gzip gzip 0 231 | -"),
        ]
    );
    assert_eq!(
        files(&v),
        [
            format!("{ota}/payload.bin 231"),
            format!("{ota}/payload.bin@0x0:gzip/data 3720")
        ]
    );
    // A changed payload byte: the digest no longer matches, which is a note.
    let mut data = std::fs::read(root().join(image)).unwrap();
    let last = data.len() - 1;
    data[last] ^= 1;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.ota");
    std::fs::write(&path, &data).unwrap();
    let (code, v) = json(&["unpack", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 2);
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| s(&n["message"])
                .contains("Matter OTA payload does not match its SHA-256 digest")),
        "{}",
        v["notes"]
    );
}

/// A full OTA's partitions rebuilt from REPLACE, REPLACE_XZ, ZERO and
/// REPLACE_BZ operations equal what PyPI's payload-dumper 0.3.0 writes for
/// the same file (SHA-256 below, see tests/fixtures/android-payload.py); the
/// delta partition is named in a note.
#[test]
fn an_android_ota_payload_gives_its_full_partitions() {
    let image = "tests/fixtures/android-payload.bin";
    let (code, v) = json(&["unpack", image, "--json"]);
    assert_eq!(code, 2);
    let ota = format!("{image}@0x0:android-ota");
    assert_eq!(
        layers_with_detail(&v),
        [format!(
            "{ota} android-ota 0 9549 | Android OTA payload v2, delta update, minor version 0, block size 4096, \
             max timestamp 1700000000, partitions: boot, system 14, vendor"
        )]
    );
    let got: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {} {}", s(&f["path"]), f["size"], s(&f["sha256"])))
        .collect();
    assert_eq!(
        got,
        [
            format!(
                "{ota}/boot.img 8192 cfcc26e49db378f8af621b0352bf2bcd4169fac33e0b14a0786cdb1750babdc5"
            ),
            format!(
                "{ota}/system.img 20480 1c567a934e2f63fadbc0b763f660656318a7d020d100d765c35008ba35dff053"
            ),
        ]
    );
    let notes: Vec<String> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| s(&n["message"]))
        .collect();
    assert_eq!(
        notes,
        [
            "Android OTA: vendor is a delta update (2 of 2 operations are SOURCE_BSDIFF, SOURCE_COPY); it needs the old image and is not rebuilt"
        ]
    );
}

fn fw_section(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = ((4 + body.len()) as u32 | u32::from(kind) << 24)
        .to_le_bytes()
        .to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

/// A one-file FFS2 volume (PI specification headers and checksums; the same
/// builder as tests/hostile.rs's firmware block).
fn fw_volume(file_type: u8, sections: &[u8]) -> Vec<u8> {
    let mut file = vec![0x5a; 16];
    file.extend_from_slice(&[0, 0xaa, file_type, 0]);
    file.extend_from_slice(&((24 + sections.len()) as u32).to_le_bytes()[..3]);
    file.push(0);
    let sum = file
        .iter()
        .fold(0u8, |s, &b| s.wrapping_add(b))
        .wrapping_sub(0xaa);
    file[16] = sum.wrapping_neg();
    file[23] = 0xf8;
    file.extend_from_slice(sections);
    let len = (0x48 + file.len()).next_multiple_of(0x200);
    let mut fv = vec![0u8; 16];
    fv.extend_from_slice(&[
        0x78, 0xe5, 0x8c, 0x8c, 0x3d, 0x8a, 0x1c, 0x4f, 0x99, 0x35, 0x89, 0x61, 0x85, 0xc3, 0x2d,
        0xd3,
    ]);
    fv.extend_from_slice(&(len as u64).to_le_bytes());
    fv.extend_from_slice(b"_FVH");
    fv.extend_from_slice(&0x0004_feffu32.to_le_bytes());
    fv.extend_from_slice(&[0x48, 0, 0, 0, 0, 0, 0, 2]);
    fv.extend_from_slice(&((len / 0x200) as u32).to_le_bytes());
    fv.extend_from_slice(&0x200u32.to_le_bytes());
    fv.extend_from_slice(&[0; 8]);
    let sum = fv.chunks(2).fold(0u16, |s, w| {
        s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    });
    fv[0x32..0x34].copy_from_slice(&sum.wrapping_neg().to_le_bytes());
    fv.extend_from_slice(&file);
    fv.resize(len, 0xff);
    fv
}

/// A DXE driver whose PE32 and UI sections sit in an LZMA-F86 GUID-defined
/// section (EDK II's `LzmaF86Compress`: x86 BCJ, then LZMA; the stream from
/// tests/fixtures/bcj/make.py) comes out as the original code.
#[test]
fn a_uefi_lzma_f86_section_gives_the_original_code() {
    let code = std::fs::read(root().join("tests/fixtures/bcj/text.orig")).unwrap();
    let stream = std::fs::read(root().join("tests/fixtures/bcj/lzma-f86.bin")).unwrap();
    let mut guided = vec![
        0xbd, 0xe6, 0x2a, 0xd4, 0x52, 0x13, 0xfb, 0x4b, 0x90, 0x9a, 0xca, 0x72, 0xa6, 0xea, 0xe8,
        0x89,
    ];
    guided.extend_from_slice(&24u16.to_le_bytes()); // data offset from the section start
    guided.extend_from_slice(&1u16.to_le_bytes()); // PROCESSING_REQUIRED
    guided.extend_from_slice(&stream);
    let fv = fw_volume(0x07, &fw_section(0x02, &guided));
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("f86.fv");
    std::fs::write(&path, &fv).unwrap();
    let (code_rc, v) = json(&["unpack", path.to_str().unwrap(), "--json"]);
    assert_eq!(code_rc, 0, "{}", v["notes"]);
    assert_eq!(
        layers_with_detail(&v)[0],
        format!(
            "{}@0x0:uefi-fv uefi-fv 0 6144 | UEFI firmware volume, FFS v2, 1 files, LZMA (x86 BCJ) compressed sections",
            path.display()
        )
    );
    let efi = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| s(&f["path"]).ends_with("/BcjDriver/BcjDriver.efi"))
        .unwrap_or_else(|| panic!("{}", v["files"]));
    use sha2::Digest;
    assert_eq!(s(&efi["sha256"]), hex::encode(sha2::Sha256::digest(&code)));
}
