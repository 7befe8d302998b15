//! `fwaudit unpack`: the layers and files inside an image, without auditing.

mod common;
use common::*;

#[test]
fn json_lists_layers_and_files_with_kinds_and_hashes() {
    let (code, v) = json(&["unpack", "samples/router-armhf.bin", "--json"]);
    assert_eq!(code, 0);
    // The first layer is U-Boot's control DTB, the last the manual curl
    // holds gzip-compressed.
    assert_eq!(layers(&v).len(), 4);
    assert_eq!(
        layers(&v)[0],
        "samples/router-armhf.bin@0x69e90:dtb dtb 433808 19576"
    );
    assert_eq!(
        layers(&v)[3],
        "samples/router-armhf.bin@0x90000:squashfs/usr/bin/curl@0x1809c:gzip gzip 98460 64968"
    );
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
    // Notes are printed once: in the JSON with --json, else on stderr.
    let run = fwaudit(&["unpack", "samples/bad/truncated.bin", "--json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout
            .contains("superblock says 21278 bytes, only 12288 present")
    );
    assert!(!run.stderr.contains("superblock says"), "{}", run.stderr);
    let run = fwaudit(&["unpack", "samples/bad/truncated.bin"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "fwaudit: error: samples/bad/truncated.bin at offset 0x20000: squashfs at 0x20000: \
         squashfs superblock: image is truncated: superblock says 21278 bytes, only 12288 present\n\
         fwaudit: error: samples/bad/truncated.bin@0x20060:xz: xz stream is truncated or corrupt \
         after 21538 output bytes (12192 input bytes): unexpected end of compressed data\n"
    );
}

/// `path size kind` of every file below `layer` (relative to it), sorted.
fn files_below(v: &serde_json::Value, layer: &str) -> Vec<String> {
    let mut out: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let rest = s(&f["path"]).strip_prefix(layer)?.to_string();
            Some(format!("{rest} {} {}", f["size"], s(&f["kind"])))
        })
        .collect();
    out.sort();
    out
}

/// What every file system fixture of `tests/fixtures/make.sh` holds (one
/// source tree), as `files_below` lists it; ext adds `lost+found` and two
/// sparse files. `fragments` is ext's fragments.bin size (None: not ext).
fn fs_tree(fragments: Option<u64>) -> Vec<String> {
    let initramfs = "/boot/initramfs.cpio.gz@0x0:gzip/data";
    let mut v: Vec<String> = [
        "/a 0 dir",
        "/a/b 0 dir",
        "/a/b/c 0 dir",
        "/a/b/c/d 0 dir",
        "/a/b/c/d/e 0 dir",
        "/a/b/c/d/e/f 0 dir",
        "/a/b/c/d/e/f/g 0 dir",
        "/a/b/c/d/e/f/g/h 0 dir",
        "/a/b/c/d/e/f/g/h/deep.txt 5 text",
        "/bin 0 dir",
        "/bin/ash 17 elf",
        "/bin/busybox 17 elf",
        "/bin/sh 0 symlink",
        "/boot 0 dir",
        "/boot/initramfs.cpio.gz 187 data",
        "/dev 0 dir",
        "/dev/console 0 special",
        "/etc 0 dir",
        "/etc/hostname 7 text",
        "/etc/motd 3720 text",
        "/usr 0 dir",
        "/usr/lib 0 dir",
        "/usr/lib/libdemo.so.1 0 symlink",
        "/usr/lib/libdemo.so.1.0 21 elf",
        "/usr/share 0 dir",
        "/usr/share/big.txt 11160 text",
        "/usr/share/long-link 0 symlink",
        "/usr/share/many 0 dir",
    ]
    .map(String::from)
    .into();
    v.extend((1..=60).map(|i| format!("/usr/share/many/entry-with-a-longish-name-{i:02} 3 text")));
    v.push(format!("{initramfs} 1024 data"));
    for f in [
        "/bin 0 dir",
        "/bin/busybox 17 elf",
        "/bin/sh 0 symlink",
        "/etc 0 dir",
        "/etc/hostname 7 text",
    ] {
        v.push(format!("{initramfs}@0x0:cpio{f}"));
    }
    if let Some(fragments) = fragments {
        v.push("/lost+found 0 dir".into());
        v.push(format!("/usr/share/fragments.bin {fragments} data"));
        v.push("/usr/share/sparse.bin 309248 data".into());
    }
    v.sort();
    v
}

fn file<'a>(v: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not listed"))
}

#[test]
fn file_system_images_list_exact_layers_and_files() {
    const HOSTNAME: &str = "7b963fcf6a28cc7374c867c5b9025526e9383098617c48ac0f5adc6e1f3df3a8";
    const BIG: &str = "e95943c8830566f0f08dee3a557114b0aa5b710c06a974a599bc8f49069c4ae0";
    const BUSYBOX: &str = "7d84e9e93472201750f6768f4238549931fd76c0fddb9ec95a33087d75322c99";
    // 302 KiB: 'A' x 1 KiB at block 0, 'B' at 12, 'C' at 300, 'D' at 301, zeros elsewhere.
    const SPARSE: &str = "48533c0da3ec460c3b6a72d9f9df7f0ba71f3de0fceafd9413aa26a237c54687";
    let ext = |variant: &str, size: u64| {
        format!(
            "ext {size} {variant}, {} blocks of 1024 bytes, 128 inodes, label \"fwaudit\"",
            size / 1024
        )
    };
    let cases = [
        ("ext2.img", "", "ext", ext("ext2", 655360), Some(12288)),
        ("ext3.img.gz", "@0x0:gzip/data", "ext", ext("ext3", 3145728), Some(12288)),
        ("ext4.img", "", "ext", ext("ext4", 655360), Some(12288)),
        // mke2fs -O inline_data leaves fragments.bin's trailing hole out of its size.
        ("ext4-inline.img", "", "ext", ext("ext4", 655360), Some(11264)),
        (
            "cramfs-pad.img",
            "",
            "cramfs",
            "cramfs 7680 cramfs little-endian, 7680 bytes, name \"fwaudit\", after a 512-byte boot block pad".into(),
            None,
        ),
        (
            "cramfs-le.img",
            "",
            "cramfs",
            "cramfs 8192 cramfs little-endian, 8192 bytes, name \"fwaudit\"".into(),
            None,
        ),
        (
            "cramfs-be.img",
            "",
            "cramfs",
            "cramfs 8192 cramfs big-endian, 8192 bytes, name \"fwaudit\"".into(),
            None,
        ),
        (
            "romfs.img",
            "",
            "romfs",
            "romfs 21184 romfs, volume \"fwaudit\", 21184 bytes".into(),
            None,
        ),
    ];
    for (name, outer, format, layer, fragments) in cases {
        let image = format!("tests/fixtures/{name}");
        let (code, v) = json(&["unpack", &image, "--json"]);
        assert_eq!(code, 0, "{name}: {}", v["notes"]);
        // mkfs.cramfs -p puts the superblock after a 512-byte pad.
        let at = if name == "cramfs-pad.img" {
            "0x200"
        } else {
            "0x0"
        };
        let fs = format!("{image}{outer}@{at}:{format}");
        let described: Vec<String> = v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                format!(
                    "{} {} {} {}",
                    s(&l["path"]),
                    s(&l["format"]),
                    l["size"],
                    s(&l["detail"])
                )
            })
            .collect();
        let gzip = format!("{fs}/boot/initramfs.cpio.gz@0x0:gzip");
        let mut expected = vec![
            format!("{fs} {layer}"),
            format!("{gzip} gzip 187 -"),
            format!("{gzip}/data@0x0:cpio cpio 760 cpio newc"),
        ];
        if !outer.is_empty() {
            expected.insert(0, format!("{image}@0x0:gzip gzip 7999 -"));
        }
        assert_eq!(described, expected, "{name}");
        assert_eq!(files_below(&v, &fs), fs_tree(fragments), "{name}");
        assert_eq!(
            file(&v, &format!("{fs}/etc/hostname"))["sha256"],
            HOSTNAME,
            "{name}"
        );
        assert_eq!(
            file(&v, &format!("{fs}/usr/share/big.txt"))["sha256"],
            BIG,
            "{name}"
        );
        assert_eq!(
            file(&v, &format!("{fs}/bin/busybox"))["sha256"],
            BUSYBOX,
            "{name}"
        );
        assert_eq!(
            file(&v, &format!("{fs}/bin/ash"))["sha256"],
            BUSYBOX,
            "{name}"
        );
        assert_eq!(
            file(&v, &format!("{fs}/bin/sh"))["target"],
            "busybox",
            "{name}"
        );
        let long = file(&v, &format!("{fs}/usr/share/long-link"));
        assert_eq!(
            long["target"],
            format!("../lib/{}/target", "x".repeat(80)),
            "{name}"
        );
        if fragments.is_some() {
            assert_eq!(
                file(&v, &format!("{fs}/usr/share/sparse.bin"))["sha256"],
                SPARSE,
                "{name}"
            );
        }
    }
}

#[test]
fn an_ext4_inside_a_tarball_nests_down_to_its_initramfs() {
    // tar.gz > ext4 > cpio.gz > cpio, all made by the real tools (make.sh).
    let (code, v) = json(&["unpack", "tests/fixtures/rootfs-ext4.tar.gz", "--json"]);
    assert_eq!(code, 0);
    let tar = "tests/fixtures/rootfs-ext4.tar.gz@0x0:gzip/data@0x0:tar";
    let ext = format!("{tar}/ext4.img@0x0:ext");
    let cpio = format!("{ext}/boot/initramfs.cpio.gz@0x0:gzip/data@0x0:cpio");
    assert_eq!(
        layers(&v),
        [
            "tests/fixtures/rootfs-ext4.tar.gz@0x0:gzip gzip 0 4720".to_string(),
            format!("{tar} tar 0 656896"),
            format!("{ext} ext 0 655360"),
            format!("{ext}/boot/initramfs.cpio.gz@0x0:gzip gzip 0 187"),
            format!("{cpio} cpio 0 760"),
        ]
    );
    let busybox = file(&v, &format!("{cpio}/bin/busybox"));
    assert_eq!(busybox["kind"], "elf");
    assert_eq!(
        busybox["sha256"],
        "7d84e9e93472201750f6768f4238549931fd76c0fddb9ec95a33087d75322c99"
    );
    assert_eq!(file(&v, &format!("{ext}/etc/motd"))["size"], 3720);
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

/// `path size kind` (and `-> target` for symlinks) of every file under `prefix`, sorted.
fn listing(v: &serde_json::Value, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let path = s(&f["path"]);
            let rest = path.strip_prefix(prefix)?;
            let mut line = format!("{rest} {} {}", f["size"], s(&f["kind"]));
            if f["kind"] == "symlink" {
                line.push_str(&format!(" -> {}", s(&f["target"])));
            }
            Some(line)
        })
        .collect();
    out.sort();
    out
}

fn sha256_of(v: &serde_json::Value, path: &str) -> String {
    let files = v["files"].as_array().unwrap();
    let file = files.iter().find(|f| f["path"] == path);
    s(&file.unwrap_or_else(|| panic!("{path} not listed"))["sha256"])
}

/// The tree `make.sh` puts in both UBIFS fixtures.
const UBIFS_TREE: [&str; 15] = [
    "/bin 0 dir",
    "/bin/ash 17 elf",
    "/bin/busybox 17 elf",
    "/bin/sh 0 symlink -> busybox",
    "/dev 0 dir",
    "/dev/console 0 special",
    "/etc 0 dir",
    "/etc/empty 0 data",
    "/etc/hostname 7 text",
    "/usr 0 dir",
    "/usr/lib 0 dir",
    "/usr/lib/libdemo.so 18000 data",
    "/usr/lib/random.bin 6000 data",
    "/usr/share 0 dir",
    "/usr/share/text.txt 14880 text",
];

/// SHA-256 of the files whose blocks are zlib (text.txt), LZO (libdemo.so)
/// and stored (random.bin) in the UBI fixture, zstd in the bare one.
const UBIFS_HASHES: [(&str, &str); 4] = [
    (
        "/usr/share/text.txt",
        "eb76ee1efbd99023822a8d892c44325a40bdd4285385d1e40e85bd227b7f9adf",
    ),
    (
        "/usr/lib/libdemo.so",
        "f75b2153d29a407571d9b74bc8a03e1b4343db5326a6707888490fb2989af9cf",
    ),
    (
        "/usr/lib/random.bin",
        "d43edaf3db4858fb7b59a9cc3445b9ec24957815b7cd3ca19b3ab5be8dc73df9",
    ),
    (
        "/bin/ash",
        "7d84e9e93472201750f6768f4238549931fd76c0fddb9ec95a33087d75322c99",
    ),
];

#[test]
fn ubi_volumes_hold_ubifs_and_a_static_kernel() {
    let image = "tests/fixtures/rootfs.ubi";
    let (code, v) = json(&["unpack", image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    assert_eq!(
        layers(&v),
        [
            format!("{image}@0x0:ubi ubi 0 245760"),
            format!("{image}@0x0:ubi/rootfs@0x0:ubifs ubifs 0 184320"),
            format!("{image}@0x0:ubi/kernel@0x0:gzip gzip 0 231"),
        ]
    );
    assert_eq!(
        v["layers"][0]["detail"],
        "UBI, PEB size 16384, LEB size 15360, image sequence 0x1d2c3b4a, \
         volumes: rootfs (dynamic, 12 LEBs), kernel (static, 1 LEB)"
    );
    assert_eq!(
        v["layers"][1]["detail"],
        "UBIFS format 4, LEB size 15360, 12 LEBs, default compression lzo, read through the index"
    );
    let volumes = format!("{image}@0x0:ubi");
    assert_eq!(
        listing(&v, &volumes)
            .iter()
            .filter(|l| !l.contains('@'))
            .collect::<Vec<_>>(),
        ["/kernel 231 data", "/rootfs 184320 data"]
    );
    let fs = format!("{image}@0x0:ubi/rootfs@0x0:ubifs");
    assert_eq!(listing(&v, &fs), UBIFS_TREE);
    for (path, hash) in UBIFS_HASHES {
        assert_eq!(sha256_of(&v, &format!("{fs}{path}")), hash, "{path}");
    }
    // The static volume is the gzip'd text.txt, nothing more.
    assert_eq!(
        listing(&v, &format!("{image}@0x0:ubi/kernel@0x0:gzip")),
        ["/data 3720 text"]
    );
    assert_eq!(
        sha256_of(&v, &format!("{image}@0x0:ubi/kernel")),
        "adf1964b345d834322cc1c4a9eb99e7ab2b897ed74b2e778c5b301a7cf221ec3"
    );
}

#[test]
fn a_bare_zstd_ubifs_image_is_unpacked() {
    let image = "tests/fixtures/rootfs-zstd.ubifs";
    let (code, v) = json(&["unpack", image, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    assert_eq!(layers(&v), [format!("{image}@0x0:ubifs ubifs 0 184320")]);
    assert_eq!(
        v["layers"][0]["detail"],
        "UBIFS format 4, LEB size 15360, 12 LEBs, default compression zstd, read through the index"
    );
    let fs = format!("{image}@0x0:ubifs");
    assert_eq!(listing(&v, &fs), UBIFS_TREE);
    for (path, hash) in UBIFS_HASHES {
        assert_eq!(sha256_of(&v, &format!("{fs}{path}")), hash, "{path}");
    }
}

#[test]
fn a_ubi_image_is_carved_from_inside_a_flash_dump() {
    // Bootloader-like bytes before the UBI partition, erased flash after it.
    let tmp = tempfile::tempdir().unwrap();
    let mut image: Vec<u8> = (0..0x20000u32).map(|i| (i * 31 % 251) as u8).collect();
    image.extend(std::fs::read(root().join("tests/fixtures/rootfs.ubi")).unwrap());
    image.extend(vec![0xffu8; 0x8000]);
    let path = tmp.path().join("flash.bin");
    std::fs::write(&path, &image).unwrap();
    let path = path.to_str().unwrap();
    let (code, v) = json(&["unpack", path, "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    assert_eq!(
        layers(&v),
        [
            format!("{path}@0x20000:ubi ubi 131072 245760"),
            format!("{path}@0x20000:ubi/rootfs@0x0:ubifs ubifs 0 184320"),
            format!("{path}@0x20000:ubi/kernel@0x0:gzip gzip 0 231"),
        ]
    );
    let fs = format!("{path}@0x20000:ubi/rootfs@0x0:ubifs");
    assert_eq!(listing(&v, &fs), UBIFS_TREE);
}

#[test]
fn an_executable_yields_only_gzip_members_whose_trailer_checks_out() {
    // make.sh: a member the way curl holds its manual, then a chance magic, a
    // member with a wrong CRC-32, squashfs and cpio magics and a truncated
    // member, none of which may be taken from an executable.
    let (code, v) = json(&["unpack", "tests/fixtures/elf-gzip.elf", "--json"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        v,
        serde_json::json!({
            "layers": [{
                "path": "tests/fixtures/elf-gzip.elf@0x80:gzip",
                "format": "gzip",
                "offset": 128,
                "size": 251
            }],
            "files": [{
                "path": "tests/fixtures/elf-gzip.elf@0x80:gzip/data",
                "size": 3360,
                "kind": "text",
                "sha256": "510e3dbb63d71bedf05ed324419d76826247f1b5bfe20354f1d5313cd2645381"
            }],
            "notes": []
        })
    );
}
