//! `fwaudit unpack`: the layers and files inside an image, without auditing.

mod common;
use common::*;

#[test]
fn json_lists_layers_and_files_with_kinds_and_hashes() {
    let (code, v) = json(&["unpack", "samples/router-armhf.bin", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(layers(&v).len(), 2);
    let files = v["files"].as_array().unwrap();
    let find = |p: &str| {
        files
            .iter()
            .find(|f| f["path"] == format!("samples/router-armhf.bin@0x90000:squashfs{p}"))
            .unwrap_or_else(|| panic!("{p} not listed"))
    };
    let kernel = files
        .iter()
        .find(|f| f["path"] == "samples/router-armhf.bin@0x80000:uimage/kernel")
        .unwrap();
    assert_eq!(kernel["size"], 65536);
    assert_eq!(kernel["kind"], "data");
    assert_eq!(find("/bin/busybox")["kind"], "elf");
    assert_eq!(find("/etc/init.d/rcS")["kind"], "script");
    assert_eq!(find("/etc/os-release")["kind"], "text");
    assert_eq!(find("/usr/lib")["kind"], "dir");
    let link = find("/lib/ld-linux-armhf.so.3");
    assert_eq!(link["kind"], "symlink");
    assert_eq!(link["target"], "arm-linux-gnueabihf/ld-linux-armhf.so.3");
    let libz = find("/lib/arm-linux-gnueabihf/libz.so.1.2.13");
    assert_eq!(libz["size"], 132_760);
    assert_eq!(
        libz["sha256"],
        "3d2a253e968b09d59fe4efb0f5bad8565f43680431040e044205b96dfd290093"
    );
}

#[test]
fn text_listing_and_errors() {
    let run = fwaudit(&["unpack", "samples/openwrt-mipsel.bin"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with(
        "layer uimage         33329 bytes  samples/openwrt-mipsel.bin@0x20000:uimage\n\
         layer squashfs     2777829 bytes  samples/openwrt-mipsel.bin@0x30000:squashfs\n"
    ));
    let run = fwaudit(&["unpack", "samples/bad/truncated.bin", "--json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("superblock says 21278 bytes, only 12288 present")
    );
}

/// `path kind size [sha256 | -> target]` of every file under `layer`, sorted,
/// with the layer path cut off.
fn tree_under(v: &serde_json::Value, layer: &str) -> Vec<String> {
    let mut out: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let rest = s(&f["path"]).strip_prefix(layer)?.to_string();
            let tail = match s(&f["kind"]).as_str() {
                "symlink" => format!(" -> {}", s(&f["target"])),
                "dir" | "special" => String::new(),
                _ => format!(" {}", &s(&f["sha256"])[..16]),
            };
            Some(format!("{rest} {} {}{tail}", s(&f["kind"]), f["size"]))
        })
        .collect();
    out.sort();
    out
}

/// The root tree every flash file system fixture holds (tests/fixtures/make.sh),
/// with the first 16 hex digits of each regular file's SHA-256.
const FLASH_TREE: &[&str] = &[
    "/bin dir 0",
    "/bin/ash elf 17 7d84e9e934722017",
    "/bin/busybox elf 17 7d84e9e934722017",
    "/bin/sh symlink 0 -> busybox",
    "/dev dir 0",
    "/dev/console special 0",
    "/etc dir 0",
    "/etc/banner text 4880 7d7ebf86249e98cd",
    "/etc/hostname text 7 7b963fcf6a28cc73",
    "/etc/init.d dir 0",
    "/etc/init.d/rcS script 21 bdd721eb0b2bed9c",
    "/lib dir 0",
    "/lib/banner-link symlink 0 -> ../etc/banner",
    "/lib/zeros.bin data 3000 c81ca5eda5947c78",
];

fn expected_tree() -> Vec<String> {
    FLASH_TREE.iter().map(|l| l.to_string()).collect()
}

#[test]
fn jffs2_of_every_endianness_and_codec_lists_the_exact_tree() {
    for (fixture, size, detail) in [
        (
            "jffs2-le-zlib.img",
            2099,
            "jffs2 little-endian, 29 nodes, data nodes by compression: none 6, zlib 3",
        ),
        (
            "jffs2-be-rtime.img",
            2272,
            "jffs2 big-endian, 29 nodes, data nodes by compression: none 6, rtime 3",
        ),
        (
            "jffs2-le-lzo.img",
            2231,
            "jffs2 little-endian, 29 nodes, data nodes by compression: lzo 2, none 6, rtime 1",
        ),
        (
            "jffs2-le-lzma.img",
            2116,
            "jffs2 little-endian, 29 nodes, data nodes by compression: lzma 10",
        ),
    ] {
        let path = format!("tests/fixtures/{fixture}");
        let (code, v) = json(&["unpack", &path, "--json"]);
        assert_eq!(code, 0, "{fixture}: {v}");
        let layer = format!("{path}@0x0:jffs2");
        assert_eq!(layers(&v), [format!("{layer} jffs2 0 {size}")], "{fixture}");
        assert_eq!(v["layers"][0]["detail"], detail, "{fixture}");
        assert_eq!(tree_under(&v, &layer), expected_tree(), "{fixture}");
        assert_eq!(v["notes"].as_array().unwrap().len(), 0, "{fixture}");
    }
}

#[test]
fn squashfs_with_lzo_and_lzma_blocks_lists_the_exact_tree() {
    for (comp, size) in [("lzo", 1101), ("lzma", 793)] {
        let path = format!("tests/fixtures/tree-{comp}.sqfs");
        let (code, v) = json(&["unpack", &path, "--json"]);
        assert_eq!(code, 0, "{comp}: {v}");
        let layer = format!("{path}@0x0:squashfs");
        assert_eq!(layers(&v), [format!("{layer} squashfs 0 {size}")]);
        assert_eq!(
            v["layers"][0]["detail"],
            format!("squashfs 4.0 little-endian, {comp} compression, block size 131072")
        );
        assert_eq!(tree_under(&v, &layer), expected_tree(), "{comp}");
    }
}

#[test]
fn lz4_legacy_and_bare_zlib_streams() {
    let text_sha = "bcd239d0bdbf5fdb";
    for (fixture, format, size) in [
        ("text.lz4-legacy", "lz4-legacy", 373),
        ("text.zlib", "zlib", 219),
    ] {
        let path = format!("tests/fixtures/{fixture}");
        let (code, v) = json(&["unpack", &path, "--json"]);
        assert_eq!(code, 0, "{fixture}");
        let layer = format!("{path}@0x0:{format}");
        assert_eq!(layers(&v), [format!("{layer} {format} 0 {size}")]);
        assert_eq!(
            tree_under(&v, &layer),
            [format!("/data text 3720 {text_sha}")]
        );
    }
}

#[test]
fn trx_with_an_lzma_kernel_and_a_jffs2_root_recurses() {
    let path = "tests/fixtures/trx-jffs2.trx";
    let (code, v) = json(&["unpack", path, "--json"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        layers(&v),
        [
            format!("{path}@0x0:trx trx 0 2312"),
            format!("{path}@0x0:trx/partition-0@0x0:lzma lzma 0 181"),
            format!("{path}@0x0:trx/partition-1@0x0:jffs2 jffs2 0 2099"),
        ]
    );
    let kernel = tree_under(&v, &format!("{path}@0x0:trx/partition-0@0x0:lzma"));
    assert_eq!(kernel, ["/data text 3720 bcd239d0bdbf5fdb"]);
    let root = tree_under(&v, &format!("{path}@0x0:trx/partition-1@0x0:jffs2"));
    assert_eq!(root, expected_tree());
    // The uImage case: an LZMA payload codec, then a big-endian JFFS2 at 0x2000.
    let path = "tests/fixtures/uimage-jffs2.bin";
    let (code, v) = json(&["unpack", path, "--json"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        layers(&v),
        [
            format!("{path}@0x0:uimage uimage 0 245"),
            format!("{path}@0x2000:jffs2 jffs2 8192 2099"),
        ]
    );
    assert_eq!(
        tree_under(&v, &format!("{path}@0x0:uimage")),
        ["/kernel text 3720 bcd239d0bdbf5fdb"]
    );
    assert_eq!(
        tree_under(&v, &format!("{path}@0x2000:jffs2")),
        expected_tree()
    );
}
