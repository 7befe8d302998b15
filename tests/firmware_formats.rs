//! Firmware formats (issue 18) through the built binary: real UEFI images and
//! option ROMs from Debian's packages (tests/data/firmware, see its README)
//! and fixtures made by tests/fixtures/make.sh, with exact layers and files.

mod common;
use common::*;
use serde_json::Value;

/// The executable modules of a UEFI unpack: the directory of every `.efi`
/// and `.te` file, less the `-<GUID>` that tells two modules of one name apart.
fn modules(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(&f["path"]))
        .filter(|p| p.contains(":uefi-fv/") && (p.ends_with(".efi") || p.ends_with(".te")))
        .map(|p| {
            let dir = p.rsplit('/').nth(1).unwrap().to_string();
            match dir.split_at_checked(dir.len().saturating_sub(37)) {
                Some((name, guid)) if guid.starts_with('-') && !name.is_empty() => name.into(),
                _ => dir,
            }
        })
        .collect();
    out.sort();
    out
}

fn expected_modules(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("tests/data/firmware").join(file)).unwrap();
    text.lines().map(String::from).collect()
}

#[test]
fn ovmf_from_debian_opens_into_its_volumes_and_modules() {
    let (code, v) = json(&["unpack", "tests/data/firmware/OVMF.fd.xz", "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let base = "tests/data/firmware/OVMF.fd.xz@0x0:xz/data";
    assert_eq!(
        layers_with_detail(&v),
        [
            "tests/data/firmware/OVMF.fd.xz@0x0:xz xz 0 1533056 | -".to_string(),
            format!(
                "{base}@0x0:uefi-fv uefi-fv 0 131072 | UEFI firmware volume, NV variable store"
            ),
            format!(
                "{base}@0x20000:uefi-fv uefi-fv 131072 1753088 | UEFI firmware volume \
                 48db5e17-707c-472d-91cd-1613e7ef51b0, FFS v2, 129 files, 2 nested volumes, LZMA compressed sections, \
                 module versions: 1.0 (122 modules), 4.0 (PcdPeim, PcdDxe), 2.0 (SetupBrowser), 0.0 (VirtioFsDxe)"
            ),
            format!(
                "{base}@0x1cc000:uefi-fv uefi-fv 1884160 212992 | UEFI firmware volume \
                 763bed0d-de9f-48f5-81f1-3e90e1b1a015, FFS v2, 2 files, module versions: 1.0 (SecMain)"
            ),
        ]
    );
    // Every module uefi-firmware-parser finds with an executable, by name.
    assert_eq!(modules(&v), expected_modules("OVMF.fd.modules.txt"));
    let listed = files(&v);
    let dxe = format!(
        "{base}@0x20000:uefi-fv/9e21fd93-9c72-4c15-8c4b-e77f1db2d792/7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1"
    );
    for want in [
        format!("{base}@0x0:uefi-fv/nvram.bin 131000"),
        format!("{dxe}/DxeCore/DxeCore.efi 136960"),
        // The module that links OpenSSL (CryptoPkg's OpensslLib).
        format!("{dxe}/SecureBootConfigDxe/SecureBootConfigDxe.efi 378944"),
        format!(
            "{base}@0x20000:uefi-fv/9e21fd93-9c72-4c15-8c4b-e77f1db2d792/6938079b-b503-4e3d-9d24-b28337a25806/PeiCore/PeiCore.efi 24768"
        ),
        format!("{base}@0x1cc000:uefi-fv/SecMain/SecMain.efi 36672"),
    ] {
        assert!(listed.contains(&want), "{want} not in {listed:#?}");
    }
}

#[test]
fn aavmf_from_debian_opens_with_terse_executables() {
    let (code, v) = json(&["unpack", "tests/data/firmware/QEMU_EFI.fd.xz", "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let base = "tests/data/firmware/QEMU_EFI.fd.xz@0x0:xz/data";
    assert_eq!(
        layers_with_detail(&v),
        [
            "tests/data/firmware/QEMU_EFI.fd.xz@0x0:xz xz 0 1236328 | -".to_string(),
            format!(
                "{base}@0x1000:uefi-fv uefi-fv 4096 2093056 | UEFI firmware volume, FFS v2, \
                 107 files, 1 nested volumes, LZMA compressed sections"
            ),
        ]
    );
    assert_eq!(modules(&v), expected_modules("QEMU_EFI.fd.modules.txt"));
    let listed = files(&v);
    let want = format!("{base}@0x1000:uefi-fv/PeiCore/PeiCore.te 26400");
    assert!(listed.contains(&want), "{want} not in {listed:#?}");
}

#[test]
fn ipxe_and_seabios_option_roms() {
    let (code, v) = json(&["unpack", "tests/data/firmware/efi-e1000.rom.xz", "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let base = "tests/data/firmware/efi-e1000.rom.xz@0x0:xz/data";
    assert_eq!(
        layers_with_detail(&v),
        [
            "tests/data/firmware/efi-e1000.rom.xz@0x0:xz xz 0 163416 | -".to_string(),
            format!(
                "{base}@0x0:option-rom option-rom 0 75264 | PCI option ROM 8086:100e, class 020000, \
                 x86 image \"http://ipxe.org iPXE\", code revision 0x1; more images follow"
            ),
            format!(
                "{base}@0x12600:option-rom option-rom 75264 174592 | PCI option ROM 8086:100e, \
                 class 020000, EFI x64 boot service driver, code revision 0x0"
            ),
        ]
    );
    assert_eq!(
        files(&v),
        [
            format!("{base} 249856"),
            format!("{base}@0x12600:option-rom/efi-x64.efi 174536"),
        ]
    );
    let (code, v) = json(&["unpack", "tests/data/firmware/vgabios-stdvga.bin", "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    assert_eq!(
        layers_with_detail(&v),
        [
            "tests/data/firmware/vgabios-stdvga.bin@0x0:option-rom option-rom 0 39936 | \
          PCI option ROM 1234:1111, class 030000, x86 image, code revision 0x1"
        ]
    );
    assert!(files(&v).is_empty());
}

#[test]
fn fixture_volume_and_compressed_option_rom() {
    let (code, v) = json(&["unpack", "tests/fixtures/uefi.fv", "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    let fv = "tests/fixtures/uefi.fv@0x0:uefi-fv";
    assert_eq!(
        files(&v),
        [
            format!("{fv}/HelloDxe/HelloDxe.efi 129"),
            format!("{fv}/PackedDxe/PackedDxe.efi 130"),
            format!("{fv}/TianoPei/TianoPei.te 60"),
            format!(
                "{fv}/44444444-2222-4333-8444-555555555555/a5a5a5a5-0000-4000-8000-000000000001/InnerDxe/InnerDxe.efi 129"
            ),
            format!("{fv}/55555555-2222-4333-8444-555555555555/raw.bin 15"),
            format!("{fv}/Logo/77777777-2222-4333-8444-555555555555.bin 17"),
        ]
    );
    let (code, v) = json(&["unpack", "tests/fixtures/optionrom-efi.rom", "--json"]);
    assert_eq!(code, 0, "{}", v["notes"]);
    assert_eq!(
        layers(&v),
        [
            "tests/fixtures/optionrom-efi.rom@0x0:option-rom option-rom 0 1024",
            "tests/fixtures/optionrom-efi.rom@0x400:option-rom option-rom 1024 512",
        ]
    );
    assert_eq!(
        files(&v),
        ["tests/fixtures/optionrom-efi.rom@0x400:option-rom/efi-x64.efi 2175",]
    );
}

#[test]
fn every_new_fixture_names_its_format_as_a_layer() {
    // Layers of each fixture made by tests/fixtures/make.sh, as a user runs
    // `fwaudit unpack` on it: the format named, and what is inside reached.
    let cases: [(&str, &[&str]); 13] = [
        ("mcu.hex", &["mcu.hex@0x0:ihex ihex 0 1900"]),
        ("mcu.srec", &["mcu.srec@0x0:srec srec 0 2002"]),
        (
            "disk-mbr.img.gz",
            &[
                "disk-mbr.img.gz@0x0:gzip gzip 0 327",
                "disk-mbr.img.gz@0x0:gzip/data@0x0:mbr mbr 0 131072",
            ],
        ),
        (
            "disk-gpt.img.gz",
            &[
                "disk-gpt.img.gz@0x0:gzip gzip 0 2827",
                "disk-gpt.img.gz@0x0:gzip/data@0x0:gpt gpt 0 131072",
                "disk-gpt.img.gz@0x0:gzip/data@0x0:gpt/p2-rootfs@0x0:romfs romfs 0 21184",
                "disk-gpt.img.gz@0x0:gzip/data@0x0:gpt/p2-rootfs@0x0:romfs/boot/initramfs.cpio.gz@0x0:gzip gzip 0 187",
                "disk-gpt.img.gz@0x0:gzip/data@0x0:gpt/p2-rootfs@0x0:romfs/boot/initramfs.cpio.gz@0x0:gzip/data@0x0:cpio cpio 0 760",
            ],
        ),
        ("plain.dtb", &["plain.dtb@0x0:dtb dtb 0 202"]),
        ("control.dtb", &["control.dtb@0x0:dtb dtb 0 2146"]),
        ("image-signed.fit", &["image-signed.fit@0x0:fit fit 0 2054"]),
        (
            "android-boot-v0.img",
            &[
                "android-boot-v0.img@0x0:android-boot android-boot 0 6144",
                "android-boot-v0.img@0x0:android-boot/kernel@0x0:gzip gzip 0 231",
                "android-boot-v0.img@0x0:android-boot/ramdisk@0x0:gzip gzip 0 187",
                "android-boot-v0.img@0x0:android-boot/ramdisk@0x0:gzip/data@0x0:cpio cpio 0 760",
            ],
        ),
        (
            "android-boot-v2.img",
            &[
                "android-boot-v2.img@0x0:android-boot android-boot 0 8192",
                "android-boot-v2.img@0x0:android-boot/kernel@0x0:gzip gzip 0 231",
                "android-boot-v2.img@0x0:android-boot/ramdisk@0x0:gzip gzip 0 187",
                "android-boot-v2.img@0x0:android-boot/ramdisk@0x0:gzip/data@0x0:cpio cpio 0 760",
                "android-boot-v2.img@0x0:android-boot/dtb@0x0:dtb dtb 0 202",
            ],
        ),
        (
            "android-boot-v3.img",
            &[
                "android-boot-v3.img@0x0:android-boot android-boot 0 12288",
                "android-boot-v3.img@0x0:android-boot/kernel@0x0:gzip gzip 0 231",
                "android-boot-v3.img@0x0:android-boot/ramdisk@0x0:gzip gzip 0 187",
                "android-boot-v3.img@0x0:android-boot/ramdisk@0x0:gzip/data@0x0:cpio cpio 0 760",
            ],
        ),
        (
            "android-boot-v4.img",
            &[
                "android-boot-v4.img@0x0:android-boot android-boot 0 16384",
                "android-boot-v4.img@0x0:android-boot/kernel@0x0:gzip gzip 0 231",
                "android-boot-v4.img@0x0:android-boot/ramdisk@0x0:gzip gzip 0 187",
                "android-boot-v4.img@0x0:android-boot/ramdisk@0x0:gzip/data@0x0:cpio cpio 0 760",
            ],
        ),
        (
            "android-vendor-boot-v3.img",
            &[
                "android-vendor-boot-v3.img@0x0:android-vendor-boot android-vendor-boot 0 8192",
                "android-vendor-boot-v3.img@0x0:android-vendor-boot/vendor_ramdisk@0x0:gzip gzip 0 187",
                "android-vendor-boot-v3.img@0x0:android-vendor-boot/vendor_ramdisk@0x0:gzip/data@0x0:cpio cpio 0 760",
                "android-vendor-boot-v3.img@0x0:android-vendor-boot/dtb@0x0:dtb dtb 0 202",
            ],
        ),
        (
            "android-vendor-boot-v4.img",
            &[
                "android-vendor-boot-v4.img@0x0:android-vendor-boot android-vendor-boot 0 12288",
                "android-vendor-boot-v4.img@0x0:android-vendor-boot/dtb@0x0:dtb dtb 0 202",
                "android-vendor-boot-v4.img@0x0:android-vendor-boot/vendor_ramdisk/platform@0x0:gzip gzip 0 187",
                "android-vendor-boot-v4.img@0x0:android-vendor-boot/vendor_ramdisk/platform@0x0:gzip/data@0x0:cpio cpio 0 760",
            ],
        ),
    ];
    for (fixture, expected) in cases {
        let path = format!("tests/fixtures/{fixture}");
        let (code, v) = json(&["unpack", &path, "--json"]);
        assert_eq!(code, 0, "{fixture}: {}", v["notes"]);
        let got: Vec<String> = layers(&v)
            .iter()
            .map(|l| l.trim_start_matches("tests/fixtures/").to_string())
            .collect();
        assert_eq!(got, expected, "{fixture}");
    }
}

#[test]
fn disk_file_system_and_android_fixtures_name_their_formats() {
    // lzop, qcow2, EROFS, ISO 9660, FAT and a sparse Android super image
    // (tests/fixtures/make.sh), through the binary: every layer down to the
    // initramfs each file system tree carries.
    let cases: [(&str, &[&str]); 9] = [
        ("text.txt.lzo", &["text.txt.lzo@0x0:lzop lzop 0 424"]),
        (
            "disk-compressed.qcow2",
            &[
                "disk-compressed.qcow2@0x0:qcow2 qcow2 0 24064",
                "disk-compressed.qcow2@0x0:qcow2/disk.raw@0x0:gpt gpt 0 131072",
                "disk-compressed.qcow2@0x0:qcow2/disk.raw@0x0:gpt/p2-rootfs@0x0:romfs romfs 0 21184",
                "disk-compressed.qcow2@0x0:qcow2/disk.raw@0x0:gpt/p2-rootfs@0x0:romfs/boot/initramfs.cpio.gz@0x0:gzip gzip 0 187",
                "disk-compressed.qcow2@0x0:qcow2/disk.raw@0x0:gpt/p2-rootfs@0x0:romfs/boot/initramfs.cpio.gz@0x0:gzip/data@0x0:cpio cpio 0 760",
            ],
        ),
        (
            "erofs.img",
            &[
                "erofs.img@0x0:erofs erofs 0 28672",
                "erofs.img@0x0:erofs/boot/initramfs.cpio.gz@0x0:gzip gzip 0 187",
                "erofs.img@0x0:erofs/boot/initramfs.cpio.gz@0x0:gzip/data@0x0:cpio cpio 0 760",
            ],
        ),
        (
            "erofs-chunked.img",
            &["erofs-chunked.img@0x0:erofs erofs 0 28672"],
        ),
        (
            "tree-rr.iso.gz",
            &[
                "tree-rr.iso.gz@0x0:gzip gzip 0 5720",
                "tree-rr.iso.gz@0x0:gzip/data@0x0:iso9660 iso9660 0 589824",
                "tree-rr.iso.gz@0x0:gzip/data@0x0:iso9660/boot/initramfs.cpio.gz@0x0:gzip gzip 0 187",
                "tree-rr.iso.gz@0x0:gzip/data@0x0:iso9660/boot/initramfs.cpio.gz@0x0:gzip/data@0x0:cpio cpio 0 760",
            ],
        ),
        (
            "tree-joliet.iso.gz",
            &[
                "tree-joliet.iso.gz@0x0:gzip gzip 0 4664",
                "tree-joliet.iso.gz@0x0:gzip/data@0x0:iso9660 iso9660 0 581632",
                "tree-joliet.iso.gz@0x0:gzip/data@0x0:iso9660/boot/initramfs.cpio.gz@0x0:gzip gzip 0 187",
                "tree-joliet.iso.gz@0x0:gzip/data@0x0:iso9660/boot/initramfs.cpio.gz@0x0:gzip/data@0x0:cpio cpio 0 760",
            ],
        ),
        (
            "fat12.img.gz",
            &[
                "fat12.img.gz@0x0:gzip gzip 0 3617",
                "fat12.img.gz@0x0:gzip/data@0x0:fat fat 0 1048576",
            ],
        ),
        (
            "fat32.img.gz",
            &[
                "fat32.img.gz@0x0:gzip gzip 0 37395",
                "fat32.img.gz@0x0:gzip/data@0x0:fat fat 0 35651584",
            ],
        ),
        (
            "android-super.simg",
            &[
                "android-super.simg@0x0:sparse sparse 0 77880",
                "android-super.simg@0x0:sparse/image.raw@0x0:android-super android-super 0 78848",
                "android-super.simg@0x0:sparse/image.raw@0x0:android-super/system_a@0x0:erofs erofs 0 28672",
                "android-super.simg@0x0:sparse/image.raw@0x0:android-super/system_a@0x0:erofs/boot/initramfs.cpio.gz@0x0:gzip gzip 0 187",
                "android-super.simg@0x0:sparse/image.raw@0x0:android-super/system_a@0x0:erofs/boot/initramfs.cpio.gz@0x0:gzip/data@0x0:cpio cpio 0 760",
                "android-super.simg@0x0:sparse/image.raw@0x0:android-super/vendor_a@0x0:romfs romfs 0 21184",
                "android-super.simg@0x0:sparse/image.raw@0x0:android-super/vendor_a@0x0:romfs/boot/initramfs.cpio.gz@0x0:gzip gzip 0 187",
                "android-super.simg@0x0:sparse/image.raw@0x0:android-super/vendor_a@0x0:romfs/boot/initramfs.cpio.gz@0x0:gzip/data@0x0:cpio cpio 0 760",
            ],
        ),
    ];
    for (fixture, expected) in cases {
        let path = format!("tests/fixtures/{fixture}");
        let (code, v) = json(&["unpack", &path, "--json"]);
        assert_eq!(code, 0, "{fixture}: {}", v["notes"]);
        let got: Vec<String> = layers(&v)
            .iter()
            .map(|l| l.trim_start_matches("tests/fixtures/").to_string())
            .collect();
        assert_eq!(got, expected, "{fixture}");
    }
}
