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
