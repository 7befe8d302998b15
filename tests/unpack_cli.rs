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
