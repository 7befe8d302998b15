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
