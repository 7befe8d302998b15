//! Hostile input, run through the built binary: path traversal, symlink
//! escape, decompression bombs, entry floods, nesting loops, truncation and
//! bit flips. Each run must end with a report (JSON still printed), exit 0
//! or 2 per the contract, and no panic; refusals and bounds are notes.

mod common;
use common::bounded::{Bounded, MIB, run_bounded};
use common::hostile_inputs::*;
use common::*;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path.to_str().unwrap().to_string()
}

fn notes(v: &Value) -> Vec<String> {
    v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{} {}: {}", s(&n["level"]), s(&n["path"]), s(&n["message"])))
        .collect()
}

/// Runs `unpack --json --extract` and checks nothing escaped `outside`.
fn extract(image: &str, dir: &Path, outside: &Path) -> (i32, Value) {
    let (code, v) = json(&[
        "unpack",
        image,
        "--json",
        "--extract",
        dir.to_str().unwrap(),
    ]);
    let leaked: Vec<_> = std::fs::read_dir(outside).unwrap().collect();
    assert!(leaked.is_empty(), "written outside DIR: {leaked:?}");
    (code, v)
}

#[test]
fn tar_path_traversal_and_symlink_escape_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let o = outside.path().to_str().unwrap();
    let mut tar = Vec::new();
    tar.extend(tar_entry("../../../evil.txt", b'0', "", b"evil\n"));
    tar.extend(tar_entry("ok/file.txt", b'0', "", b"fine\n"));
    tar.extend(tar_entry("ok/link", b'2', o, b""));
    tar.extend(tar_entry("ok/link/escaped.txt", b'0', "", b"escaped\n"));
    tar.extend(tar_entry("dev/null", b'3', "", b""));
    tar.extend([0u8; 1024]);
    let image = write(tmp.path(), "t.tar", &tar);
    let (code, v) = extract(&image, &dir, outside.path());
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(n.contains("climbs out of the container"), "{n}");
    assert!(n.contains("refusing to write through it"), "{n}");
    let base = dir.join("t.tar@0x0:tar");
    assert_eq!(std::fs::read(base.join("ok/file.txt")).unwrap(), b"fine\n");
    let link = base.join("ok/link");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), outside.path());
    assert!(!base.join("dev/null").exists(), "no device nodes");
    // Listed under its normalised path, inside the layer.
    let files: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(&f["path"]))
        .collect();
    assert!(
        files.iter().any(|p| p.ends_with("t.tar@0x0:tar/evil.txt")),
        "{files:?}"
    );
    assert!(!dir.join("evil.txt").exists() && !tmp.path().join("evil.txt").exists());
}

#[test]
fn cpio_path_traversal_and_symlink_escape_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let mut cpio = Vec::new();
    cpio.extend(cpio_entry("../../evil", 0o100644, b"evil\n"));
    cpio.extend(cpio_entry("etc", 0o040755, b""));
    cpio.extend(cpio_entry(
        "etc/up",
        0o120777,
        outside.path().to_str().unwrap().as_bytes(),
    ));
    cpio.extend(cpio_entry("etc/up/x", 0o100644, b"escaped\n"));
    cpio.extend(cpio_entry("dev/console", 0o020600, b""));
    cpio.extend(cpio_trailer());
    let image = write(tmp.path(), "i.cpio", &cpio);
    let (code, v) = extract(&image, &dir, outside.path());
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(n.contains("\"../../evil\""), "{n}");
    assert!(n.contains("etc/up/x: not extracted"), "{n}");
    let base = dir.join("i.cpio@0x0:cpio");
    assert!(
        std::fs::symlink_metadata(base.join("etc/up"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!base.join("dev/console").exists());
}

#[test]
fn zip_path_traversal_and_symlink_escape_are_refused() {
    use zip::write::SimpleFileOptions;
    let tmp = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default();
    w.start_file("../../evil.txt", opts).unwrap();
    w.write_all(b"evil\n").unwrap();
    w.add_symlink("a/out", outside.path().to_str().unwrap(), opts)
        .unwrap();
    w.start_file("a/out/x.txt", opts).unwrap();
    w.write_all(b"escaped\n").unwrap();
    w.start_file("a/ok.txt", opts).unwrap();
    w.write_all(b"fine\n").unwrap();
    let zip = w.finish().unwrap().into_inner();
    let image = write(tmp.path(), "z.zip", &zip);
    let (code, v) = extract(&image, &dir, outside.path());
    assert_eq!(code, 2, "{v}");
    let n = notes(&v).join("\n");
    assert!(n.contains("climbs out"), "{n}");
    assert!(n.contains("a/out/x.txt: not extracted"), "{n}");
    let base = dir.join("z.zip@0x0:zip");
    assert_eq!(std::fs::read(base.join("a/ok.txt")).unwrap(), b"fine\n");
}

#[test]
fn clean_extraction_exits_0_and_recreates_links() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let (code, _) = json(&[
        "unpack",
        "tests/fixtures/tree.newc.cpio",
        "--json",
        "--extract",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let base = dir.join("tree.newc.cpio@0x0:cpio");
    assert_eq!(
        std::fs::read(base.join("etc/hostname")).unwrap(),
        b"router\n"
    );
    assert_eq!(
        std::fs::read_link(base.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
}

fn bomb(codec: &str, zeros: usize) -> Vec<u8> {
    let data = vec![0u8; zeros];
    match codec {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 0);
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }
        "bzip2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }
        "zstd" => zstd::encode_all(&data[..], 1).unwrap(),
        "zlib" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }
        "lz4-legacy" => {
            // `lz4 -l`: magic, then (length, block) per 8 MiB of input.
            let mut out = vec![0x02, 0x21, 0x4c, 0x18];
            for chunk in data.chunks(8 << 20) {
                let block = lz4_flex::block::compress(chunk);
                out.extend_from_slice(&(block.len() as u32).to_le_bytes());
                out.extend_from_slice(&block);
            }
            out
        }
        "lz4" => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }
        _ => unreachable!(),
    }
}

#[test]
fn a_decompression_bomb_per_codec_is_a_limit_note() {
    let tmp = tempfile::tempdir().unwrap();
    // 64 MiB of zeros per codec (encoding 1 GiB in a debug test build takes
    // minutes), against an 8 MiB file-size bound set from the command line;
    // the 1 GiB default-bound case is the same code path with bigger numbers.
    for codec in ["gzip", "zstd", "lz4", "xz", "bzip2", "zlib", "lz4-legacy"] {
        let image = write(tmp.path(), &format!("bomb.{codec}"), &bomb(codec, 64 << 20));
        let args = [
            "unpack",
            image.as_str(),
            "--json",
            "--max-file-size",
            "8388608",
        ];
        let (code, v) = json(&args);
        assert_eq!(code, 2, "{codec}");
        let n = notes(&v).join("\n");
        assert!(
            n.contains(&format!("limit {image}@0x0:{codec}")),
            "{codec}: {n}"
        );
        let size = v["files"][0]["size"].as_u64().unwrap();
        assert!(size <= 8 << 20, "{codec}: {size} bytes kept");
    }
}

#[test]
fn an_entry_flood_hits_the_entry_bound_not_memory() {
    let tmp = tempfile::tempdir().unwrap();
    // A million tiny entries (about 120 MB), five times the default bound.
    let mut cpio = Vec::with_capacity(1_000_000 * 120);
    for i in 0..1_000_000u32 {
        cpio.extend(cpio_entry(&format!("f{i}"), 0o100644, b"x"));
    }
    cpio.extend(cpio_trailer());
    let image = write(tmp.path(), "flood.cpio", &cpio);
    let run = fwaudit(&["unpack", &image]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "cpio: the entry bound (200000 entries, --max-entries) reached; the rest of its entries were skipped"
        ),
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    // The same with a tar and a lower bound from the command line.
    let mut tar = Vec::new();
    for i in 0..3000u32 {
        tar.extend(tar_entry(&format!("f{i}"), b'0', "", b"x"));
    }
    tar.extend([0u8; 1024]);
    let image = write(tmp.path(), "flood.tar", &tar);
    let (code, v) = json(&["unpack", &image, "--json", "--max-entries", "1000"]);
    assert_eq!(code, 2);
    assert!(
        notes(&v)
            .join("\n")
            .contains("tar: the entry bound (1000 entries, --max-entries) reached")
    );
}

#[test]
fn nesting_loops_stop_at_the_depth_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let mut data = b"innermost".repeat(20);
    for _ in 0..30 {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&data).unwrap();
        data = e.finish().unwrap();
    }
    let image = write(tmp.path(), "nest.gz", &data);
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert_eq!(code, 2);
    assert_eq!(v["layers"].as_array().unwrap().len(), 8);
    assert!(
        notes(&v)
            .join("\n")
            .contains("nesting deeper than 8 layers")
    );
    // A zip that holds itself (by copy), again and again.
    let mut zip = b"core".to_vec();
    for _ in 0..12 {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("self.zip", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&zip).unwrap();
        zip = w.finish().unwrap().into_inner();
    }
    let image = write(tmp.path(), "self.zip", &zip);
    let (code, v) = json(&["unpack", &image, "--json", "--max-depth", "5"]);
    assert_eq!(code, 2);
    assert_eq!(v["layers"].as_array().unwrap().len(), 5);
    assert!(
        notes(&v)
            .join("\n")
            .contains("nesting deeper than 5 layers")
    );
}

/// Every fixture of a new container, cut at 16 points and with bit flips.
#[test]
fn every_new_container_truncated_and_flipped_ends_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = [
        "tree.newc.cpio",
        "tree.crc.cpio",
        "tree.odc.cpio",
        "tree.gnu.tar",
        "tree.pax.tar",
        "tree.zip",
        "hello.deb",
        "image.trx",
        "image.fit",
        "image-external.fit",
        "image.simg",
        "text.lzma",
        "text.bz2",
        "text.zst",
        "text.lz4",
        "ext2.img",
        "ext3.img.gz",
        "ext4.img",
        "ext4-inline.img",
        "cramfs-le.img",
        "cramfs-be.img",
        "cramfs-pad.img",
        "romfs.img",
        "text.lz4-legacy",
        "text.zlib",
        "jffs2-le-zlib.img",
        "jffs2-be-rtime.img",
        "jffs2-le-lzo.img",
        "jffs2-le-lzma.img",
        "tree-lzo.sqfs",
        "tree-lzma.sqfs",
        "trx-jffs2.trx",
        "uimage-jffs2.bin",
        "rootfs.ubi",
        "rootfs-zstd.ubifs",
    ];
    let mut errors = 0;
    let mut per_fixture = Vec::new();
    for name in fixtures {
        let before = errors;
        let mut data = std::fs::read(root().join("tests/fixtures").join(name)).unwrap();
        if name.ends_with(".img.gz") {
            // Damage the file system, not the gzip stream around it.
            let mut raw = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&data[..]), &mut raw)
                .unwrap();
            data = raw;
        }
        let mut variants: Vec<(String, Vec<u8>)> = (1..=16)
            .map(|i| (format!("cut{i}"), data[..data.len() * i / 17].to_vec()))
            .collect();
        // Deterministic pseudo-random bit flips.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..4 {
            let mut flipped = data.clone();
            for _ in 0..1 + data.len() / 64 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % data.len() as u64) as usize;
                flipped[at] ^= 1 << (state >> 59 & 7);
            }
            variants.push((format!("flip{round}"), flipped));
        }
        for (label, bytes) in variants {
            let image = write(tmp.path(), &format!("{label}-{name}"), &bytes);
            let (code, v) = json(&["unpack", &image, "--json"]);
            assert!(matches!(code, 0 | 2), "{name} {label}: exit {code}");
            assert!(v["layers"].is_array() && v["notes"].is_array());
            if code == 2 {
                assert!(
                    !notes(&v).is_empty(),
                    "{name} {label}: exit 2 without a note"
                );
                errors += 1;
            }
        }
        per_fixture.push(format!("{name} {}/20", errors - before));
    }
    // Most damaged inputs are reported as such, not silently accepted.
    assert!(
        errors > fixtures.len() * 10,
        "only {errors} damaged inputs reported: {per_fixture:?}"
    );
    eprintln!("damaged inputs reported per fixture: {per_fixture:?}");
}

#[test]
fn a_zip_entry_bomb_is_a_limit_note_and_the_rest_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file("zeros.bin", opts).unwrap();
    w.write_all(&vec![0u8; 64 << 20]).unwrap();
    w.start_file("etc/version", opts).unwrap();
    w.write_all(b"1.2.3\n").unwrap();
    let zip = w.finish().unwrap().into_inner();
    let image = write(tmp.path(), "bomb.zip", &zip);
    let (code, v) = json(&["unpack", &image, "--json", "--max-file-size", "8388608"]);
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(n.contains("/zeros.bin"), "{n}");
    let files: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(&f["path"]))
        .collect();
    assert_eq!(files, [format!("{image}@0x0:zip/etc/version")]);
}

#[test]
fn containers_nest_with_provenance_paths() {
    // A gzip'd cpio initramfs inside a tarball, carved at an offset in an image.
    let tmp = tempfile::tempdir().unwrap();
    let cpio = std::fs::read(root().join("tests/fixtures/tree.newc.cpio")).unwrap();
    let mut e = flate2::GzBuilder::new()
        .filename("initramfs.cpio")
        .write(Vec::new(), flate2::Compression::default());
    e.write_all(&cpio).unwrap();
    let gz = e.finish().unwrap();
    let mut tar = tar_entry("boot/initramfs.cpio.gz", b'0', "", &gz);
    tar.extend([0u8; 1024]);
    let mut image = vec![0xffu8; 0x1000];
    image.extend_from_slice(&tar);
    let path = write(tmp.path(), "fw.bin", &image);
    let (code, v) = json(&["unpack", &path, "--json"]);
    assert_eq!(code, 0, "{v}");
    let files: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(&f["path"]))
        .collect();
    let busybox = format!(
        "{path}@0x1000:tar/boot/initramfs.cpio.gz@0x0:gzip/initramfs.cpio@0x0:cpio/bin/busybox"
    );
    assert!(files.contains(&busybox), "{files:?}");
}

/// Replaces the one occurrence of `from` in `data` with `to` (same length).
fn patch(data: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let hits: Vec<usize> = (0..=data.len() - from.len())
        .filter(|&i| &data[i..i + from.len()] == from)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{:?} occurs {} times",
        String::from_utf8_lossy(from),
        hits.len()
    );
    data[hits[0]..hits[0] + to.len()].copy_from_slice(to);
}

#[test]
fn squashfs_dot_dot_names_and_symlink_escape_are_refused() {
    // mksquashfs writes no such names: the fixture's names are patched in place.
    let fixture = std::fs::read(root().join("tests/fixtures/squashfs-names.sqsh")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();

    // Entries named `..` and `../../evil`: the reader refuses the directory
    // table, so nothing of the image is written.
    let mut image = fixture.clone();
    patch(&mut image, b"\x01\x00xx", b"\x01\x00..");
    patch(&mut image, b"\x09\x00xxxxxxxxxx", b"\x09\x00../../evil");
    let path = write(tmp.path(), "dots.sqsh", &image);
    let dir = tmp.path().join("out-dots");
    let (code, v) = extract(&path, &dir, outside.path());
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(
        n.contains("squashfs directory entry named `.`, `..` or with a `/`; image refused"),
        "{n}"
    );
    assert!(v["files"].as_array().unwrap().is_empty(), "{v}");
    assert!(!tmp.path().join("evil").exists() && !dir.join("evil").exists());

    // A symlink to a directory outside, and a directory of the same name
    // holding a file: the link is recreated as a link, nothing is written
    // through it.
    let mut image = fixture.clone();
    patch(&mut image, b"\x01\x00uq", b"\x01\x00up");
    let target = outside.path().to_str().unwrap();
    let padded = format!("{}{target}", "/".repeat(200 - target.len()));
    patch(&mut image, &[b'T'; 200], padded.as_bytes());
    let path = write(tmp.path(), "link.sqsh", &image);
    let dir = tmp.path().join("out-link");
    let (code, v) = extract(&path, &dir, outside.path());
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(n.contains("up/x: not extracted"), "{n}");
    assert!(n.contains("refusing to write through it"), "{n}");
    let base = dir.join("link.sqsh@0x0:squashfs");
    assert_eq!(std::fs::read(base.join("ok.txt")).unwrap(), b"fine\n");
    assert_eq!(
        std::fs::read_link(base.join("up")).unwrap(),
        Path::new(&padded)
    );
    // Untouched, the fixture extracts cleanly.
    let path = write(tmp.path(), "plain.sqsh", &fixture);
    let (code, v) = extract(&path, &tmp.path().join("out-plain"), outside.path());
    assert_eq!(code, 0, "{v}");
}

#[test]
fn ext4_directory_cycle_and_huge_extent_claims_are_notes() {
    let fixture = std::fs::read(root().join("tests/fixtures/ext4.img")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let fs = |name: &str| format!("{}/{name}@0x0:ext", tmp.path().display());
    // /usr/share/many's entry made to name the root directory (inode 2).
    let mut image = fixture.clone();
    let at = image.windows(6).position(|w| w == b"\x04\x02many").unwrap() - 6;
    image[at..at + 4].copy_from_slice(&2u32.to_le_bytes());
    let path = write(tmp.path(), "cycle.img", &image);
    let (code, v) = json(&["unpack", &path, "--json"]);
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(
        n.contains(&format!(
            "error {}: ext: /usr/share/many is directory inode 2 again",
            fs("cycle.img")
        )),
        "{n}"
    );
    assert!(v["files"].as_array().unwrap().len() < 120);

    // big.txt's one extent (11 blocks) made 32767 blocks long, and its
    // size made 1 TiB + 11160 bytes.
    let extent = b"\x0a\xf3\x01\x00\x04\x00\x00\x00\0\0\0\0\0\0\0\0\x0b\x00";
    let root_at = image
        .windows(extent.len())
        .position(|w| w == extent)
        .unwrap();
    let mut image = fixture.clone();
    image[root_at + 16..root_at + 18].copy_from_slice(&32767u16.to_le_bytes());
    let path = write(tmp.path(), "extent.img", &image);
    let (code, v) = json(&["unpack", &path, "--json"]);
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(n.contains("/usr/share/big.txt (inode"), "{n}");
    assert!(n.contains("outside the file system"), "{n}");
    let mut image = fixture.clone();
    let inode = root_at - 0x28;
    image[inode + 0x6C..inode + 0x70].copy_from_slice(&256u32.to_le_bytes());
    let path = write(tmp.path(), "size.img", &image);
    let (code, v) = json(&["unpack", &path, "--json"]);
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(
        n.contains(&format!(
            "limit {}: ext: /usr/share/big.txt: 1099511638936 bytes reach the file size bound (536870912 bytes, --max-file-size); skipped",
            fs("size.img")
        )),
        "{n}"
    );
    // The rest of the file system is still listed.
    let hostname = format!("{}/etc/hostname", fs("size.img"));
    assert!(
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == hostname.as_str())
    );
}

/// A UBIFS whose index root has a branch back to itself: the walk stops, a
/// linear scan of every node recovers the tree, and the report says so.
#[test]
fn a_ubifs_index_loop_ends_in_a_report_with_every_file() {
    const LEB: usize = 15360;
    let le32 = |d: &[u8], at: usize| u32::from_le_bytes(d[at..at + 4].try_into().unwrap());
    let reseal = |d: &mut [u8], at: usize| {
        let len = le32(d, at + 16) as usize;
        let crc = !crc32fast::hash(&d[at + 8..at + len]);
        d[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
    };
    let mut data = std::fs::read(root().join("tests/fixtures/rootfs-zstd.ubifs")).unwrap();
    // The newest master node (type 7) in LEB 1 holds the root's place.
    let master = (LEB..2 * LEB)
        .step_by(8)
        .filter(|&at| data[at..at + 4] == [0x31, 0x18, 0x10, 0x06] && data[at + 20] == 7)
        .max_by_key(|&at| u64::from_le_bytes(data[at + 8..at + 16].try_into().unwrap()))
        .unwrap();
    let (lnum, offs) = (le32(&data, master + 48), le32(&data, master + 52));
    let root_at = lnum as usize * LEB + offs as usize;
    assert_eq!(data[root_at + 20], 9, "the root is an index node");
    let children = u16::from_le_bytes([data[root_at + 24], data[root_at + 25]]) as usize;
    let last = root_at + 28 + (children - 1) * 20;
    let root_len = le32(&data, root_at + 16);
    data[last..last + 4].copy_from_slice(&lnum.to_le_bytes());
    data[last + 4..last + 8].copy_from_slice(&offs.to_le_bytes());
    data[last + 8..last + 12].copy_from_slice(&root_len.to_le_bytes());
    reseal(&mut data, root_at);
    let tmp = tempfile::tempdir().unwrap();
    let image = write(tmp.path(), "loop.ubifs", &data);
    let started = std::time::Instant::now();
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert!(started.elapsed().as_secs() < 60);
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(
        n.contains(&format!(
            "error {image}@0x0:ubifs: index unreadable (index loop: LEB {lnum}:{offs:#x} is reached twice)"
        )),
        "{n}"
    );
    assert_eq!(
        v["layers"][0]["detail"],
        "UBIFS format 4, LEB size 15360, 12 LEBs, default compression zstd, read by a linear node scan"
    );
    let files: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", s(&f["path"]), f["size"]))
        .collect();
    assert_eq!(files.len(), 15, "{files:?}");
    assert!(files.contains(&format!("{image}@0x0:ubifs/usr/share/text.txt 14880")));
}

// ---------------------------------------------------------------------------
// Resource exhaustion: one crafted input per class. Each scan runs as a child
// under `--max-memory 256M`, with its address space capped far above that
// (so that a regression fails here instead of exhausting the machine) and a
// deadline; its peak resident memory, measured by the kernel, must stay
// within the bound plus 256 MiB. Before and after times and peaks are in
// `benches/hostile.rs` (`cargo bench --bench hostile`).

/// The memory bound these tests set.
const MEMORY: u64 = 256 * MIB;

/// `fwaudit ARGS --max-memory 256M` under the bounds above, killed after
/// `secs` seconds (a debug build: generous, this is a hang guard).
fn bounded(args: &[&str], secs: u64) -> Bounded {
    let mut all = args.to_vec();
    all.extend(["--max-memory", "256M"]);
    let b = run_bounded(
        env!("CARGO_BIN_EXE_fwaudit"),
        &all,
        MEMORY + 3072 * MIB,
        std::time::Duration::from_secs(secs),
    );
    assert!(
        b.peak_rss <= MEMORY + 256 * MIB,
        "{args:?}: peak resident memory {} MiB, past the {} MiB bound plus 256 MiB",
        b.peak_rss / MIB,
        MEMORY / MIB
    );
    b
}

/// Writes `data` as `name` and runs `unpack FILE --json ARGS` bounded,
/// expecting exit code 2 (a bound or an error met); the file's path and
/// the listing.
fn unpack_hostile(
    tmp: &Path,
    name: &str,
    data: &[u8],
    args: &[&str],
    secs: u64,
) -> (String, Value) {
    let path = write(tmp, name, data);
    let mut all = vec!["unpack", path.as_str(), "--json"];
    all.extend_from_slice(args);
    let b = bounded(&all, secs);
    assert_eq!(b.run.code, 2, "{}", b.run.stderr);
    let v = json_of(&b);
    (path, v)
}

fn json_of(b: &Bounded) -> Value {
    serde_json::from_str(&b.run.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            &b.run.stdout[..b.run.stdout.len().min(2000)],
            &b.run.stderr[..b.run.stderr.len().min(2000)]
        )
    })
}

#[test]
fn an_rpmdb_view_that_never_ends_is_refused() {
    for (name, setup, query) in RPMDB_VIEWS {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join(name);
        std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
        rpmdb_with_view(&root.join("var/lib/rpm/rpmdb.sqlite"), setup, query);
        let r = root.to_str().unwrap();
        let b = bounded(&["scan", r, "--format", "json"], 60);
        assert_eq!(b.run.code, 2, "{name}: {}", b.run.stderr);
        let v = json_of(&b);
        assert_eq!(v["target"]["kind"], "rootfs");
        assert_eq!(
            notes(&v),
            [format!(
                "error {r}/var/lib/rpm/rpmdb.sqlite: malformed package database: Packages is a view, not a table: refused (a view runs a query the database chose)"
            )],
            "{name}"
        );
    }
}

#[test]
fn sparse_files_in_a_directory_are_read_under_the_memory_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    std::fs::create_dir(&dir).unwrap();
    // Six 100 MiB files of holes: nothing on disk, 600 MiB to read.
    for i in 0..6 {
        let f = std::fs::File::create(dir.join(format!("disk-{i}.img"))).unwrap();
        f.set_len(100 * MIB).unwrap();
    }
    let d = dir.to_str().unwrap();
    let b = bounded(&["scan", d, "--format", "json"], 120);
    assert_eq!(b.run.code, 2, "{}", b.run.stderr);
    let v = json_of(&b);
    // Read in name order until the bound: two fit in 256 MiB, four do not.
    let want: Vec<String> = (2..6)
        .map(|i| {
            format!(
                "limit {d}/disk-{i}.img: 104857600 bytes reach the memory bound (268435456 bytes, --max-memory); not read"
            )
        })
        .collect();
    assert_eq!(notes(&v), want);
    assert_eq!(v["target"]["size"], 200 * MIB);
}

#[test]
fn a_cramfs_of_holes_is_held_to_the_ratio_bound() {
    let tmp = tempfile::tempdir().unwrap();
    // 300 files of 16 MiB, all pointing at one table of holes: 4.7 GiB
    // claimed by 21 KiB.
    let image = cramfs_of_holes(300);
    let len = image.len();
    assert!(len < 22 * 1024, "{len}");
    let (path, v) = unpack_hostile(tmp.path(), "holes.cramfs", &image, &[], 120);
    let sizes: Vec<u64> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] != "directory")
        .map(|f| f["size"].as_u64().unwrap())
        .collect();
    // One file fits in len × 1000 bytes; every other one is a note.
    assert_eq!(sizes, [16_777_215]);
    let n = notes(&v);
    assert_eq!(n.len(), 101, "{n:?}");
    assert_eq!(
        n[0],
        format!(
            "limit {path}@0x0:cramfs: cramfs: /0001: 16777215 bytes reach the layer's output/input ratio bound ({} bytes, --max-ratio); skipped",
            len * 1000
        )
    );
    assert_eq!(
        n[100],
        format!("error {path}@0x0:cramfs: cramfs: 199 more problems not listed")
    );
}

#[test]
fn gzip_bombs_side_by_side_share_one_memory_bound() {
    let tmp = tempfile::tempdir().unwrap();
    // Eight members of 256 MiB of zeros each (1.6 MiB compressed): 2 GiB
    // in all, decoded on every core at once.
    let (_, v) = unpack_hostile(
        tmp.path(),
        "bombs.tar",
        &tar_of_gzip_bombs(8, 256 * MIB),
        &[],
        180,
    );
    let kept: u64 = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with(":gzip/data"))
        .map(|f| f["size"].as_u64().unwrap())
        .sum();
    assert!(kept < MEMORY, "{kept} bytes decoded and kept");
    let n = notes(&v).join("\n");
    assert!(
        n.contains("the memory bound (268435456 bytes, --max-memory)"),
        "{n}"
    );
}

/// 141- and 411-byte archives that declare a 1 GiB or 4 GiB LZMA2 window, or
/// a 4 GiB encoded header (tests/fixtures/7z-bombs.py): before, 1.1 GB and
/// 4.2 GB resident and up to 48 s; the crate zero-fills what a header
/// declares, so the cost is asked of the budget first.
#[test]
fn a_7z_declaring_a_huge_window_or_header_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, why) in [
        (
            "dict-1g.7z",
            "7z decoders need 1073741824 bytes (their dictionaries) and reach the memory bound (268435456 bytes, --max-memory); not opened",
        ),
        (
            "dict-4g.7z",
            "7z decoders need 4294967296 bytes (their dictionaries) and reach the memory bound (268435456 bytes, --max-memory); not opened",
        ),
        (
            "header-4g.7z",
            "7z encoded header of 4294971393 bytes to decode reaches the memory bound (268435456 bytes, --max-memory); not opened",
        ),
    ] {
        let data = std::fs::read(root().join("tests/fixtures/7z").join(name)).unwrap();
        let (path, v) = unpack_hostile(tmp.path(), name, &data, &[], 60);
        assert_eq!(notes(&v), [format!("limit {path}@0x0:7z: {why}")], "{name}");
    }
}

#[test]
fn a_squashfs_listing_more_entries_than_the_bound_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    // Four million names for one empty file: 2 inodes, 64 MB of listing.
    let (path, v) = unpack_hostile(
        tmp.path(),
        "links.sqfs",
        &squashfs_of_links(4_000_000),
        &[],
        120,
    );
    assert_eq!(
        notes(&v),
        [format!(
            "limit {path}: squashfs at 0x0: squashfs: its directory table lists 4000000 entries, more than the 200000 left of the entry bound (200000 entries, --max-entries); image not read"
        )]
    );
    // Below the bound the same construction is read, every link listed.
    let small = write(tmp.path(), "few.sqfs", &squashfs_of_links(1000));
    let b = bounded(&["unpack", &small, "--json"], 120);
    assert_eq!(b.run.code, 0, "{}", b.run.stderr);
    assert_eq!(json_of(&b)["files"].as_array().unwrap().len(), 1000);
}

#[test]
fn a_cpio_carved_again_where_it_stopped_gets_no_fresh_entry_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, v) = unpack_hostile(
        tmp.path(),
        "flood.cpio",
        &cpio_flood(5000),
        &["--max-entries", "1000"],
        120,
    );
    // One layer: where it stopped, nothing more is carved.
    let l = layers(&v);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(
        l[0].starts_with(&format!("{path}@0x0:cpio cpio 0 ")),
        "{l:?}"
    );
    assert_eq!(v["files"].as_array().unwrap().len(), 1000);
    assert_eq!(
        notes(&v),
        [format!(
            "limit {path}@0x0:cpio: cpio: the entry bound (1000 entries, --max-entries) reached; the rest of its entries were skipped"
        )]
    );
}

#[test]
fn an_overlapping_zip_is_refused_before_anything_is_inflated() {
    let tmp = tempfile::tempdir().unwrap();
    // Sixteen names for one 64 MiB stream: 1 GiB from 420 KiB.
    let (path, v) = unpack_hostile(
        tmp.path(),
        "overlap.zip",
        &overlapping_zip(16, 64 * MIB),
        &[],
        120,
    );
    assert_eq!(
        notes(&v),
        [format!(
            "error {path}: zip at 0x0: zip entries 0 (local header at 0x0) and 1 (at 0x0) overlap: a zip bomb construction; archive refused"
        )]
    );
    assert_eq!(v["files"], serde_json::json!([]));
}

#[test]
fn mutually_including_ld_so_conf_files_are_read_once_each() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    // 48 files, each including all 48: 48^5 reads at the old depth bound.
    ld_so_conf_web(&root, 48);
    let b = bounded(&["scan", root.to_str().unwrap(), "--format", "json"], 60);
    assert_eq!(b.run.code, 0, "{}", b.run.stderr);
    assert_eq!(json_of(&b)["target"]["kind"], "rootfs");
}

#[test]
fn requirements_included_along_many_paths_are_read_once_each() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    std::fs::create_dir(&dir).unwrap();
    // Eight levels of eight files, each including all of the next level:
    // 8^8 reads when every path is followed.
    requirements_lattice(&dir, 8, 8);
    let b = bounded(&["scan", dir.to_str().unwrap(), "--format", "json"], 60);
    assert_eq!(b.run.code, 0, "{}", b.run.stderr);
    let mut got = components(&json_of(&b));
    got.sort();
    let want: Vec<String> = (0..8).map(|i| format!("pkg{i} 1.{i} pypi")).collect();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// Firmware formats (issue 18): UEFI volumes and their EFI/Tiano/LZMA
// sections, option ROMs, device trees, Intel HEX, S-records, MBR, GPT and
// Android boot images. Kept apart from the cases above to keep merges easy.
// ---------------------------------------------------------------------------

/// A UEFI section: 24-bit size, type.
fn fw_section(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = ((4 + body.len()) as u32 | u32::from(kind) << 24)
        .to_le_bytes()
        .to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

/// An FFS file (v2 header, checksums as the PI specification says) in a
/// one-file volume with erase polarity 1.
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
    // FFS2 file system GUID 8c8ce578-8a3d-4f1c-9935-896185c32dd3.
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

#[test]
fn a_uefi_lzma_section_bomb_and_deep_section_nesting_are_limit_notes() {
    let tmp = tempfile::tempdir().unwrap();
    // An LZMA GUID-defined section (EE4E5898-...) of 64 MiB of zeros, against
    // a 4 MiB total bound.
    let zeros = vec![0u8; 64 << 20];
    let mut stream = Vec::new();
    let options = liblzma::stream::LzmaOptions::new_preset(0).unwrap();
    let mut e = liblzma::write::XzEncoder::new_stream(
        &mut stream,
        liblzma::stream::Stream::new_lzma_encoder(&options).unwrap(),
    );
    e.write_all(&zeros).unwrap();
    e.finish().unwrap();
    let mut guided = vec![
        0x98, 0x58, 0x4e, 0xee, 0x14, 0x39, 0x59, 0x42, 0x9d, 0x6e, 0xdc, 0x7b, 0xd7, 0x94, 0x03,
        0xcf,
    ];
    guided.extend_from_slice(&[24, 0, 1, 0]);
    guided.extend_from_slice(&stream);
    let image = write(
        tmp.path(),
        "bomb.fv",
        &fw_volume(0x07, &fw_section(0x02, &guided)),
    );
    let (code, v) = json(&["unpack", &image, "--json", "--max-total-bytes", "4194304"]);
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(n.contains("limit") && n.contains("LZMA section"), "{n}");
    // 40 compression sections (type 0, stored) inside each other around a
    // PE32 section: opened to the nesting bound, then a note.
    let mut inner = fw_section(0x10, b"MZ deep driver");
    for _ in 0..40 {
        let mut body = (inner.len() as u32).to_le_bytes().to_vec();
        body.push(0);
        body.extend_from_slice(&inner);
        inner = fw_section(0x01, &body);
    }
    let image = write(tmp.path(), "deep.fv", &fw_volume(0x07, &inner));
    let (code, v) = json(&["unpack", &image, "--json"]);
    assert_eq!(code, 2);
    let n = notes(&v).join("\n");
    assert!(n.contains("sections nest deeper than 16"), "{n}");
}

/// Every firmware-format fixture and the real option ROM, cut at 16 points
/// and with bit flips, as `every_new_container_truncated_and_flipped_ends_in_a_report` does.
#[test]
fn firmware_formats_truncated_and_flipped_end_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = [
        "tests/fixtures/uefi.fv",
        "tests/fixtures/optionrom-efi.rom",
        "tests/fixtures/control.dtb",
        "tests/fixtures/image-signed.fit",
        "tests/fixtures/mcu.hex",
        "tests/fixtures/mcu.srec",
        "tests/fixtures/text.txt.lzo",
        "tests/fixtures/blocks.bin.lzo",
        "tests/fixtures/disk.qcow2",
        "tests/fixtures/disk-compressed.qcow2",
        "tests/fixtures/erofs.img",
        "tests/fixtures/erofs-chunked.img",
        "tests/fixtures/tree-rr.iso.gz",
        "tests/fixtures/tree-joliet.iso.gz",
        "tests/fixtures/fat12.img.gz",
        "tests/fixtures/android-super.img",
        "tests/fixtures/disk-mbr.img.gz",
        "tests/fixtures/disk-gpt.img.gz",
        "tests/fixtures/android-boot-v2.img",
        "tests/fixtures/android-boot-v4.img",
        "tests/fixtures/android-vendor-boot-v4.img",
        "tests/data/firmware/vgabios-stdvga.bin",
    ];
    let mut reported = Vec::new();
    for name in fixtures {
        let mut data = std::fs::read(root().join(name)).unwrap();
        if name.ends_with(".gz") {
            let mut raw = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&data[..]), &mut raw)
                .unwrap();
            data = raw;
        }
        let mut variants: Vec<(String, Vec<u8>)> = (1..=16)
            .map(|i| (format!("cut{i}"), data[..data.len() * i / 17].to_vec()))
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..4 {
            let mut flipped = data.clone();
            for _ in 0..1 + data.len() / 64 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % data.len() as u64) as usize;
                flipped[at] ^= 1 << (state >> 59 & 7);
            }
            variants.push((format!("flip{round}"), flipped));
        }
        let mut errors = 0;
        let base = name.rsplit('/').next().unwrap();
        for (label, bytes) in variants {
            let image = write(tmp.path(), &format!("{label}-{base}"), &bytes);
            let (code, v) = json(&["unpack", &image, "--json"]);
            assert!(matches!(code, 0 | 2), "{name} {label}: exit {code}");
            assert!(v["layers"].is_array() && v["notes"].is_array());
            if code == 2 {
                assert!(!notes(&v).is_empty(), "{name} {label}: exit 2, no note");
                errors += 1;
            }
        }
        reported.push(format!("{base} {errors}/20"));
    }
    eprintln!("damaged firmware inputs reported: {reported:?}");
}

// ---------------------------------------------------------------------------
// More vendor formats (issue 18, second part): squashfs 2.x/3.x with vendor
// LZMA, encrypted containers, salvaged archives. Kept apart from the cases
// above to keep merges easy.
// ---------------------------------------------------------------------------

/// `data` cut at 16 points and with 4 rounds of bit flips, each run through
/// `fwaudit unpack --json`: every run ends in exit 0 or 2 with a report, and
/// an exit 2 names a problem. Returns how many of the 20 ended in exit 2.
fn cut_and_flip(dir: &Path, base: &str, data: &[u8]) -> usize {
    let mut variants: Vec<(String, Vec<u8>)> = (1..=16)
        .map(|i| (format!("cut{i}"), data[..data.len() * i / 17].to_vec()))
        .collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..4 {
        let mut flipped = data.to_vec();
        for _ in 0..1 + data.len() / 64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % data.len() as u64) as usize;
            flipped[at] ^= 1 << (state >> 59 & 7);
        }
        variants.push((format!("flip{round}"), flipped));
    }
    let mut errors = 0;
    for (label, bytes) in variants {
        let image = write(dir, &format!("{label}-{base}"), &bytes);
        let (code, v) = json(&["unpack", &image, "--json"]);
        assert!(matches!(code, 0 | 2), "{base} {label}: exit {code}");
        assert!(v["layers"].is_array() && v["notes"].is_array());
        if code == 2 {
            assert!(!notes(&v).is_empty(), "{base} {label}: exit 2, no note");
            errors += 1;
        }
    }
    errors
}

#[test]
fn old_squashfs_images_truncated_and_flipped_end_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reported = Vec::new();
    for entry in std::fs::read_dir(root().join("tests/fixtures/sqfs-old")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("sqfs") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let base = path.file_name().unwrap().to_str().unwrap().to_string();
        let errors = cut_and_flip(tmp.path(), &base, &data);
        reported.push(format!("{base} {errors}/20"));
    }
    assert_eq!(reported.len(), 9, "{reported:?}");
    eprintln!("damaged old squashfs images reported: {reported:?}");
}

#[test]
fn encrypted_containers_and_ota_headers_truncated_and_flipped_end_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reported = Vec::new();
    for name in [
        "dlink-shrs.bin",
        "dlink-encrpted.img",
        "openssl-salted.bin",
        "pgp-message.asc",
        "luks1-head.bin",
        "../matter-ota.bin",
        "../android-payload.bin",
    ] {
        let data = std::fs::read(root().join("tests/fixtures/encrypted").join(name)).unwrap();
        let name = name.trim_start_matches("../");
        let errors = cut_and_flip(tmp.path(), name, &data);
        reported.push(format!("{name} {errors}/20"));
    }
    eprintln!("damaged encrypted containers reported: {reported:?}");
}

#[test]
fn yaffs2_images_truncated_and_flipped_end_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reported = Vec::new();
    for name in ["le-2k", "be-2k", "le-4k", "le-2k-nooob", "le-2k-rewritten"] {
        let gz =
            std::fs::read(root().join(format!("tests/fixtures/yaffs2/{name}.yaffs2.gz"))).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut data).unwrap();
        let errors = cut_and_flip(tmp.path(), &format!("{name}.yaffs2"), &data);
        reported.push(format!("{name} {errors}/20"));
    }
    eprintln!("damaged yaffs2 images reported: {reported:?}");
}

#[test]
fn sevenzip_archives_truncated_and_flipped_end_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reported = Vec::new();
    for name in ["tree.7z", "tree-bcj.7z", "tree-pass.7z", "tree-hidden.7z"] {
        let data = std::fs::read(root().join("tests/fixtures/7z").join(name)).unwrap();
        let errors = cut_and_flip(tmp.path(), name, &data);
        reported.push(format!("{name} {errors}/20"));
    }
    eprintln!("damaged 7z archives reported: {reported:?}");
}

// ---------------------------------------------------------------------------
// UEFI capsules, Brotli sections, Intel microcode and coreboot CBFS (issue 18,
// second UEFI part; fixtures by tests/fixtures/fwuefi/make.sh). Kept apart
// from the cases above to keep merges easy.
// ---------------------------------------------------------------------------

#[test]
fn capsules_microcode_and_cbfs_truncated_and_flipped_end_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reported = Vec::new();
    for name in [
        "fwuefi/fmp.cap",
        "fwuefi/fmp-signed.cap",
        "fwuefi/fmp-multi.cap",
        "fwuefi/ux.cap",
        "fwuefi/uefi-brotli.fv",
        "fwuefi/uefi-microcode.fv",
        "../data/intel-ucode/0f-04-0a",
        "../data/intel-ucode/06-c5-02",
        "fwuefi/cbfs-legacy.rom.gz",
        "fwuefi/cbfs-fmap.rom.gz",
        "fwuefi/layout.fmap",
    ] {
        let mut data = std::fs::read(root().join("tests/fixtures").join(name)).unwrap();
        if name.ends_with(".gz") {
            // The ROM, not its gzip stream, is what is cut and flipped; its
            // used part, so that the cuts fall among the files.
            let mut raw = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&data[..]), &mut raw)
                .unwrap();
            let used = raw.iter().rposition(|&b| b != 0xff).unwrap_or(0) + 1;
            let start = if name.contains("fmap") { 0x4000 } else { 0 };
            data = raw[start..used.min(start + 0x2000)].to_vec();
        }
        let base = name.rsplit('/').next().unwrap();
        let errors = cut_and_flip(tmp.path(), base, &data);
        reported.push(format!("{base} {errors}/20"));
    }
    eprintln!("damaged capsules, microcode and CBFS images reported: {reported:?}");
}

// ---------------------------------------------------------------------------
// Issue 18's remaining containers (fwmisc): EROFS compressed files, ARJ, GPT
// on 4 KiB sectors, Arcadyan, FIT under verified boot.
// ---------------------------------------------------------------------------

#[test]
fn erofs_compressed_images_truncated_and_flipped_end_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reported = Vec::new();
    for name in [
        "erofs-z-lz4.img",
        "erofs-z-lz4hc-big.img",
        "erofs-z-legacy.img",
        "erofs-z-lzma.img",
        "erofs-z-lzma-big.img",
    ] {
        let data = std::fs::read(root().join("tests/fixtures").join(name)).unwrap();
        let errors = cut_and_flip(tmp.path(), name, &data);
        reported.push(format!("{name} {errors}/20"));
    }
    eprintln!("damaged compressed EROFS images reported: {reported:?}");
}

#[test]
fn verified_boot_images_truncated_and_flipped_end_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reported = Vec::new();
    for name in ["vboot-unsigned.bin", "vboot-image.bin"] {
        let data = std::fs::read(root().join("tests/fixtures").join(name)).unwrap();
        let errors = cut_and_flip(tmp.path(), name, &data);
        reported.push(format!("{name} {errors}/20"));
        // The scan (with the verified-boot check) of a damaged image also ends in a report.
        for cut in [600, 3000, 4200, 5000] {
            let image = write(tmp.path(), &format!("scan-cut{cut}-{name}"), &data[..cut]);
            let (code, v) = json(&["scan", &image, "--format", "json", "--checks", "secrets"]);
            assert!(matches!(code, 0..=2), "{name} cut {cut}: exit {code}");
            assert!(v["findings"].is_array());
        }
    }
    eprintln!("damaged verified-boot images reported: {reported:?}");
}

#[test]
fn arj_archives_truncated_and_flipped_end_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reported = Vec::new();
    for name in ["m1.arj", "m4.arj", "m0.arj", "garbled.arj", "vol.a01"] {
        let data = std::fs::read(root().join("tests/fixtures/arj").join(name)).unwrap();
        let errors = cut_and_flip(tmp.path(), name, &data);
        reported.push(format!("{name} {errors}/20"));
    }
    eprintln!("damaged ARJ archives reported: {reported:?}");
}

#[test]
fn arcadyan_images_truncated_and_flipped_end_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let data = std::fs::read(root().join("tests/fixtures/arcadyan.bin")).unwrap();
    let errors = cut_and_flip(tmp.path(), "arcadyan.bin", &data);
    eprintln!("damaged Arcadyan images reported: {errors}/20");
}

#[test]
fn gpt_on_4k_sectors_truncated_and_flipped_ends_in_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let gz = std::fs::read(root().join("tests/fixtures/disk-gpt4k.img.gz")).unwrap();
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut data).unwrap();
    let errors = cut_and_flip(tmp.path(), "disk-gpt4k.img", &data);
    eprintln!("damaged 4 KiB-sector GPT disks reported: {errors}/20");
}
