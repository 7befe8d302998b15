//! Issue 18's remaining containers through the built binary: EROFS
//! compressed files, ARJ, GPT on 4 KiB sectors, Arcadyan, and the FIT
//! verified-boot finding. Fixtures by tests/fixtures/fwmisc.sh, exact
//! layers, files and contents.

mod common;
use common::*;
use serde_json::Value;

/// `path size sha256` of every regular file of an unpack report, the
/// fixture's directory left off.
fn hashed_files(v: &Value) -> Vec<String> {
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] != "dir" && f["kind"] != "symlink")
        .map(|f| {
            format!("{} {} {}", s(&f["path"]), f["size"], s(&f["sha256"]))
                .trim_start_matches("tests/fixtures/")
                .to_string()
        })
        .collect()
}

#[test]
fn erofs_compressed_files_unpack_to_what_fsck_erofs_extracts() {
    // erofs-z.sha256: each file's SHA-256 as fsck.erofs --extract wrote it.
    let expected: Vec<(String, String)> =
        std::fs::read_to_string(root().join("tests/fixtures/erofs-z.sha256"))
            .unwrap()
            .lines()
            .map(|l| {
                let (hash, path) = l.split_once("  ").unwrap();
                (path.to_string(), hash.to_string())
            })
            .collect();
    let sizes = [
        ("etc/hostname", 7),
        ("etc/motd", 3720),
        ("usr/share/log.txt", 62884),
        ("var/mixed.bin", 19160),
        ("var/random.bin", 9000),
        ("var/repeat.txt", 119040),
    ];
    for (image, size) in [
        ("erofs-z-lz4.img", 65536),
        ("erofs-z-lz4hc-big.img", 40960),
        ("erofs-z-legacy.img", 69632),
        ("erofs-z-lzma.img", 32768),
        ("erofs-z-lzma-big.img", 45056),
    ] {
        let path = format!("tests/fixtures/{image}");
        let (code, v) = json(&["unpack", &path, "--json"]);
        assert_eq!(code, 0, "{image}: {}", v["notes"]);
        assert_eq!(
            layers_with_detail(&v),
            [format!(
                "{path}@0x0:erofs erofs 0 {size} | EROFS, 4096-byte blocks"
            )],
            "{image}"
        );
        let want: Vec<String> = expected
            .iter()
            .map(|(p, h)| {
                let n = sizes.iter().find(|(q, _)| q == p).unwrap().1;
                format!("{image}@0x0:erofs/{p} {n} {h}")
            })
            .collect();
        assert_eq!(hashed_files(&v), want, "{image}");
    }
}

/// `rule severity kind path | summary | evidence...` per finding of a scan.
fn boot_findings(fixture: &str) -> Vec<String> {
    let path = format!("tests/fixtures/{fixture}");
    let (code, v) = json(&["scan", &path, "--format", "json", "--checks", "secrets"]);
    assert!(matches!(code, 0 | 1), "{fixture}: exit {code}");
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let evidence: Vec<String> = f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| format!("{}: {}", s(&e["path"]), s(&e["evidence"])))
                .collect();
            format!(
                "{} {} {} {} | {} | {}",
                s(&f["rule"]),
                s(&f["severity"]),
                s(&f["kind"]),
                s(&f["path"]),
                s(&f["summary"]),
                evidence.join(" + ")
            )
        })
        .collect()
}

#[test]
fn a_fit_the_required_verified_boot_key_does_not_sign_is_a_config_finding() {
    // mkimage -K -r wrote key "dev" into the control DTB at 0; the FIT at 4 KiB.
    assert_eq!(boot_findings("vboot-signed.bin"), Vec::<String>::new());
    let t = "tests/fixtures";
    assert_eq!(
        boot_findings("vboot-unsigned.bin"),
        [format!(
            "FW-BOOT-001 high config {t}/vboot-unsigned.bin@0x1000:fit | U-Boot requires key \"dev\" \
             for every configuration, but this FIT has unsigned configurations conf-1 | \
             {t}/vboot-unsigned.bin@0x0:dtb: /signature/key-dev: required = \"conf\" + \
             {t}/vboot-unsigned.bin@0x1000:fit: unsigned configurations conf-1"
        )]
    );
    assert_eq!(
        boot_findings("vboot-other.bin"),
        [format!(
            "FW-BOOT-001 high config {t}/vboot-other.bin@0x1000:fit | U-Boot requires key \"dev\" \
             for every configuration, but this FIT has configurations not signed by it: conf-1 \
             (signed by other) | {t}/vboot-other.bin@0x0:dtb: /signature/key-dev: required = \"conf\" + \
             {t}/vboot-other.bin@0x1000:fit: configurations not signed by it: conf-1 (signed by other)"
        )]
    );
    assert_eq!(
        boot_findings("vboot-image.bin"),
        [format!(
            "FW-BOOT-001 high config {t}/vboot-image.bin@0x1000:fit | U-Boot requires key \"dev\" \
             for every image, but this FIT has unsigned images kernel-1 | \
             {t}/vboot-image.bin@0x0:dtb: /signature/key-dev: required = \"image\" + \
             {t}/vboot-image.bin@0x1000:fit: unsigned images kernel-1"
        )]
    );
    // A FIT alone (no control DTB requiring a key) is no finding.
    assert_eq!(boot_findings("image.fit"), Vec::<String>::new());
}

#[test]
fn arj_archives_of_every_method_unpack_with_exact_contents() {
    let text = sha256_hex(&std::fs::read(root().join("tests/fixtures/text.txt")).unwrap());
    for m in 1..=4 {
        let path = format!("tests/fixtures/arj/m{m}.arj");
        let (code, v) = json(&["unpack", &path, "--json"]);
        assert_eq!(code, 0, "m{m}: {}", v["notes"]);
        assert_eq!(
            layers_with_detail(&v),
            [format!(
                "{path}@0x0:arj arj 0 {} | ARJ archive \"m{m}.arj\"",
                std::fs::metadata(root().join(&path)).unwrap().len()
            )]
        );
        let files = hashed_files(&v);
        let base = format!("arj/m{m}.arj@0x0:arj");
        assert_eq!(
            files,
            [
                format!("{base}/etc/motd 3720 {text}"),
                format!("{base}/etc/hostname 7 {}", sha256_hex(b"router\n")),
                format!("{base}/usr/share/log.txt 30450 {LOG_SHA256}"),
                format!("{base}/usr/share/random.bin 3000 {RANDOM_SHA256}"),
            ],
            "m{m}"
        );
    }
    // Garbled and split members are named in notes, not decoded.
    let (code, v) = json(&["unpack", "tests/fixtures/arj/garbled.arj", "--json"]);
    assert_eq!(code, 2);
    let notes: Vec<String> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| s(&n["message"]))
        .collect();
    assert_eq!(
        notes,
        [
            "ARJ member etc/motd: garbled (password-protected); not decoded",
            "ARJ member etc/hostname: garbled (password-protected); not decoded",
        ]
    );
}

/// What ARJ's tree holds besides text.txt (fwmisc.sh), as sha256sum gave it.
const LOG_SHA256: &str = "592ac3a026acf9d0c5e3821318d106fde53c0862c6a7d3e84e56e3f014783af2";
const RANDOM_SHA256: &str = "8bc62e689df7131c1882e119660ceb0d2dfb73ce021118ced97b24bd448c0cae";

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

#[test]
fn arcadyan_obfuscated_firmware_opens_into_its_lzma_payload() {
    let (code, v) = json(&["unpack", "tests/fixtures/arcadyan.bin", "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let base = "tests/fixtures/arcadyan.bin@0x0:encrypted";
    assert_eq!(
        layers_with_detail(&v),
        [
            format!(
                "{base} encrypted 0 177 | Arcadyan obfuscated firmware (block swap, nibble and \
                 byte swap), header 41524331, deobfuscated; LZMA, 1024 bytes"
            ),
            format!("{base}/firmware.bin@0x0:cpio cpio 0 760 | cpio newc"),
        ]
    );
    let cpio = sha256_hex(&std::fs::read(root().join("tests/fixtures/tree.newc.cpio")).unwrap());
    assert_eq!(
        hashed_files(&v),
        [
            format!("arcadyan.bin@0x0:encrypted/firmware.bin 1024 {cpio}"),
            format!(
                "arcadyan.bin@0x0:encrypted/firmware.bin@0x0:cpio/bin/busybox 17 {}",
                sha256_hex(b"\x7fELF fake busybox")
            ),
            format!(
                "arcadyan.bin@0x0:encrypted/firmware.bin@0x0:cpio/etc/hostname 7 {}",
                sha256_hex(b"router\n")
            ),
        ]
    );
}

#[test]
fn a_gpt_on_4096_byte_sectors_opens_like_one_on_512() {
    let (code, v) = json(&["unpack", "tests/fixtures/disk-gpt4k.img.gz", "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let data = "tests/fixtures/disk-gpt4k.img.gz@0x0:gzip/data";
    assert_eq!(
        layers(&v),
        [
            "tests/fixtures/disk-gpt4k.img.gz@0x0:gzip gzip 0 3023".to_string(),
            format!("{data}@0x0:gpt gpt 0 262144"),
            format!("{data}@0x0:gpt/p2-rootfs@0x0:romfs romfs 0 21184"),
            format!(
                "{data}@0x0:gpt/p2-rootfs@0x0:romfs/boot/initramfs.cpio.gz@0x0:gzip gzip 0 187"
            ),
            format!(
                "{data}@0x0:gpt/p2-rootfs@0x0:romfs/boot/initramfs.cpio.gz@0x0:gzip/data@0x0:cpio cpio 0 760"
            ),
        ]
    );
    let files = files(&v);
    assert!(
        files.contains(&format!("{data}@0x0:gpt/p1-EFI system 16384")),
        "{files:?}"
    );
    assert!(
        files.contains(&format!("{data}@0x0:gpt/p2-rootfs 32768")),
        "{files:?}"
    );
    assert!(files.contains(&format!("{data}@0x0:gpt/p2-rootfs@0x0:romfs/etc/motd 3720")));
}
