//! Bad input: a clear message naming file and offset, exit code 2, no panic,
//! and whatever else is readable is still scanned.

mod common;
use common::*;

#[test]
fn truncated_image_still_reports_the_kernel() {
    let (code, r) = json(&["scan", "samples/bad/truncated.bin", "--format", "json"]);
    assert_eq!(code, 2);
    assert_eq!(
        r["layers"][0]["path"],
        "samples/bad/truncated.bin@0x10000:uimage"
    );
    assert_eq!(components(&r), ["linux 4.14.180 generic"]);
    let note = &r["notes"][0];
    assert_eq!(note["level"], "error");
    assert_eq!(note["path"], "samples/bad/truncated.bin");
    assert_eq!(note["offset"], 0x20000);
    assert_eq!(
        note["message"],
        "squashfs at 0x20000: squashfs superblock: image is truncated: superblock says 21278 bytes, only 12288 present"
    );
}

#[test]
fn corrupt_uimage_crc_is_reported_and_the_rest_scanned() {
    let run = fwaudit(&["scan", "samples/bad/bad-uimage-crc.bin", "--format", "json"]);
    assert_eq!(run.code, 2);
    let r: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let note = &r["notes"][0];
    assert_eq!(
        (&note["level"], &note["path"], &note["offset"]),
        (
            &"error".into(),
            &"samples/bad/bad-uimage-crc.bin".into(),
            &0x10000.into()
        )
    );
    assert_eq!(
        note["message"],
        "uimage at 0x10000: uImage header CRC mismatch (stored 0x6162fb64, computed 0x57dd58c4)"
    );
    // The payload's gzip stream is still carved, and the squashfs after it read.
    assert_eq!(
        layers(&r),
        [
            "samples/bad/bad-uimage-crc.bin@0x10040:gzip gzip 65600 32911",
            "samples/bad/bad-uimage-crc.bin@0x20000:squashfs squashfs 131072 21278",
        ]
    );
    assert!(components(&r).contains(&"linux 4.14.180 generic".to_string()));
    assert_eq!(
        r["libraries"][0]["path"],
        "samples/bad/bad-uimage-crc.bin@0x20000:squashfs/lib/arm-linux-gnueabihf/libresolv.so.2"
    );
}

#[test]
fn broken_squashfs_superblocks_are_named() {
    // The table's Problems section names file, offset and fault.
    let run = fwaudit(&["scan", "samples/bad/bad-squashfs-superblock.bin"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains(
        "  error  samples/bad/bad-squashfs-superblock.bin @0x0: squashfs at 0x0: squashfs superblock: \
         block_size 3 is not a power of two between 4 KiB and 1 MiB\n"
    ), "{}", run.stdout);
    let run = fwaudit(&["scan", "samples/bad/bad-squashfs-bytes-used.bin"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout
            .contains("image is truncated: superblock says 1048576 bytes, only 4096 present"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_file_with_nothing_recognised_is_a_note_not_an_error() {
    let run = fwaudit(&["scan", "samples/bad/not-firmware.txt"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Printed once, in the report (not again on stderr).
    assert!(
        run.stdout.contains(
            "\nNote: samples/bad/not-firmware.txt: nothing recognised: tried every \
             container and file-system format, ELF and PE parsing, package databases and \
             lockfiles, and "
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("nothing recognised"), "{}", run.stderr);
}

#[test]
fn missing_target_fails_but_others_are_scanned() {
    let run = fwaudit(&[
        "scan",
        "samples/no-such.bin",
        "samples/openwrt-mipsel.bin",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("fwaudit: error: samples/no-such.bin: No such file or directory"),
        "{}",
        run.stderr
    );
    let r: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(r["target"]["path"], "samples/openwrt-mipsel.bin");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(fwaudit(&["scan"]).code, 2);
    assert_eq!(
        fwaudit(&["scan", "samples/router-armhf.bin", "--fail-on", "severe"]).code,
        2
    );
    assert_eq!(fwaudit(&["frobnicate"]).code, 2);
}

#[test]
fn every_truncation_of_a_real_image_is_handled() {
    // Cut the mini router image at 16 points and flip bytes: each run ends with
    // a report (exit 0 or 2), never a crash.
    let image = std::fs::read(root().join("samples/bad/bad-uimage-crc.bin")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for i in 1..=16 {
        let cut = image.len() * i / 17;
        let path = dir.path().join(format!("cut-{i}.bin"));
        std::fs::write(&path, &image[..cut]).unwrap();
        let run = fwaudit(&["scan", path.to_str().unwrap(), "--format", "json"]);
        assert!(
            matches!(run.code, 0 | 2),
            "cut at {cut}: exit {}: {}",
            run.code,
            run.stderr
        );
        serde_json::from_str::<serde_json::Value>(&run.stdout).expect("a JSON report");
    }
    let mut flipped = image.clone();
    for at in (0x20000..flipped.len()).step_by(997) {
        flipped[at] ^= 0x5a;
    }
    let path = dir.path().join("flipped.bin");
    std::fs::write(&path, &flipped).unwrap();
    let run = fwaudit(&["scan", path.to_str().unwrap(), "--format", "json"]);
    assert!(
        matches!(run.code, 0 | 2),
        "exit {}: {}",
        run.code,
        run.stderr
    );
}
