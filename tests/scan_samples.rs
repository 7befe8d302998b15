//! `fwaudit scan` on the bundled sample images: exact layers, components with
//! evidence, link graph, findings and exit codes.

mod common;
use common::*;

const ROUTER: &str = "samples/router-armhf.bin";
const OPENWRT: &str = "samples/openwrt-mipsel.bin";
const R_FS: &str = "samples/router-armhf.bin@0x90000:squashfs";
const O_FS: &str = "samples/openwrt-mipsel.bin@0x30000:squashfs";

#[test]
fn router_layers_and_target() {
    let (code, r) = json(&["scan", ROUTER, "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(r["target"]["path"], ROUTER);
    assert_eq!(r["target"]["size"], 4_325_376);
    assert_eq!(
        r["target"]["sha256"],
        "868e0e80a421efc7885af9f9577ec462ec91c9a5f8aa50ad5a061dbeaf65836b"
    );
    assert_eq!(
        layers(&r),
        [
            // U-Boot's own control DTB, appended to u-boot.bin (rpi_2).
            "samples/router-armhf.bin@0x69e90:dtb dtb 433808 19576",
            "samples/router-armhf.bin@0x80000:uimage uimage 524288 32975",
            "samples/router-armhf.bin@0x90000:squashfs squashfs 589824 3733604",
            // curl's manual, gzip-compressed inside the executable.
            "samples/router-armhf.bin@0x90000:squashfs/usr/bin/curl@0x1809c:gzip gzip 98460 64968",
        ]
    );
    assert!(r["notes"].as_array().unwrap().is_empty(), "{}", r["notes"]);
}

#[test]
fn router_components_with_evidence() {
    let (_, r) = json(&["scan", ROUTER, "--format", "json"]);
    assert_eq!(
        components(&r),
        [
            // Only what no package installed stays a component of its own:
            // every version found in a packaged file joins that package.
            "linux 4.14.180 generic",
            "u-boot 2023.01 generic",
            "busybox 1:1.35.0-4+deb12u1+b1 deb",
            "curl 7.88.1-10+deb12u15 deb",
            "dnsmasq-base 2.90-4~deb12u2 deb",
            "dropbear-bin 2022.83-1+deb12u3 deb",
            "libc6 2.36-9+deb12u14 deb",
            "libcurl4 7.88.1-10+deb12u15 deb",
            "libexpat1 2.5.0-1+deb12u2 deb",
            "libmbedcrypto7 2.28.3-1 deb",
            "libmbedtls14 2.28.3-1 deb",
            "libmbedx509-1 2.28.3-1 deb",
            "libssl3 3.0.20-1~deb12u2 deb",
            "lighttpd 1.4.69-1 deb",
            "lighttpd-mod-mbedtls 1.4.69-1 deb",
            "openssl 3.0.20-1~deb12u2 deb",
            "zlib1g 1:1.2.13.dfsg-1 deb",
        ]
    );
    let fs = |p: &str, off: u64, text: &str| format!("{R_FS}{p} {off} {text}");
    assert_eq!(
        evidence(&r, "openssl"),
        [
            fs("/usr/bin/openssl", 563060, "OpenSSL 3.0.20 7 Apr 2026"),
            fs(
                "/usr/lib/arm-linux-gnueabihf/libcrypto.so.3",
                2300224,
                "OpenSSL 3.0.20 7 Apr 2026"
            ),
        ]
    );
    assert_eq!(
        evidence(&r, "busybox"),
        [fs(
            "/bin/busybox",
            535716,
            "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)"
        )]
    );
    assert_eq!(
        evidence(&r, "curl"),
        [
            fs(
                "/usr/bin/curl",
                96368,
                "curl 7.88.1 (arm-unknown-linux-gnueabihf) %s"
            ),
            fs(
                "/usr/lib/arm-linux-gnueabihf/libcurl.so.4.8.0",
                367824,
                "CLIENT libcurl 7.88.1"
            ),
        ]
    );
    assert_eq!(
        evidence(&r, "dnsmasq"),
        [fs("/usr/sbin/dnsmasq", 254284, "dnsmasq-2.90")]
    );
    assert_eq!(
        evidence(&r, "dropbear"),
        [fs("/usr/sbin/dropbear", 86364, "dropbear_2022.83")]
    );
    assert_eq!(
        evidence(&r, "glibc"),
        [fs(
            "/lib/arm-linux-gnueabihf/libc.so.6",
            1040900,
            "GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36."
        )]
    );
    assert_eq!(
        evidence(&r, "lighttpd"),
        [fs(
            "/usr/sbin/lighttpd",
            202368,
            "lighttpd/1.4.69 (ssl) - a light and fast webserver"
        )]
    );
    assert_eq!(
        evidence(&r, "mbedtls"),
        [fs(
            "/usr/lib/arm-linux-gnueabihf/libmbedcrypto.so.2.28.3",
            292492,
            "mbed TLS 2.28.3"
        )]
    );
    // The versioned file name only corroborates the version string (weak evidence).
    assert_eq!(
        evidence(&r, "zlib"),
        [
            fs(
                "/lib/arm-linux-gnueabihf/libz.so.1.2.13",
                58061,
                "deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly and Mark Adler "
            ),
            format!("{R_FS}/lib/arm-linux-gnueabihf/libz.so.1.2.13 null libz.so.1.2.13"),
        ]
    );
    assert_eq!(
        evidence(&r, "linux"),
        [
            "samples/router-armhf.bin@0x80000:uimage/kernel 27200 Linux version 4.14.180 (builder@buildhost) \
          (gcc version 7.5.0 (OpenWrt GCC 7.5.0 r11257-5090152ae3)) #0 SMP Mon May 4 17:18:15 2020"
        ]
    );
    // U-Boot lives in the boot loader region, outside every container.
    assert_eq!(
        evidence(&r, "u-boot"),
        [
            "samples/router-armhf.bin 429258 U-Boot 2023.01+dfsg-2+deb12u3 (Jun 22 2026 - 08:38:07 +0000)"
        ]
    );
    let libssl = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "libssl3")
        .unwrap();
    // The image is a vendor build on Debian 12 (os-release ID_LIKE=debian,
    // VERSION_CODENAME=bookworm): its packages are Debian 12's.
    assert_eq!(
        libssl["purl"],
        "pkg:deb/debian/libssl3@3.0.20-1~deb12u2?arch=armhf&distro=debian-12"
    );
    assert_eq!(r["target"]["distro"]["id"], "examplenet");
    assert_eq!(libssl["ecosystem_osv"], "Debian:12");
    assert_eq!(libssl["upstream"]["name"], "openssl");
    assert_eq!(libssl["upstream"]["version"], "3.0.20");
    assert_eq!(
        libssl["cpe"],
        "cpe:2.3:a:openssl:openssl:3.0.20:*:*:*:*:*:*:*"
    );
    assert_eq!(
        libssl["sources"][0]["path"],
        format!("{R_FS}/var/lib/dpkg/status")
    );
}

#[test]
fn router_link_graph_and_elf_facts() {
    let (_, r) = json(&["scan", ROUTER, "--format", "json"]);
    let libs: Vec<String> = r["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let path = s(&l["path"]).replace(R_FS, "");
            format!("{} {} unused={}", path, s(&l["soname"]), l["unused"])
        })
        .collect();
    assert_eq!(
        libs,
        [
            "/lib/arm-linux-gnueabihf/ld-linux-armhf.so.3 ld-linux-armhf.so.3 unused=false",
            "/lib/arm-linux-gnueabihf/libc.so.6 libc.so.6 unused=false",
            "/lib/arm-linux-gnueabihf/libexpat.so.1.8.10 libexpat.so.1 unused=true",
            "/lib/arm-linux-gnueabihf/libresolv.so.2 libresolv.so.2 unused=false",
            "/lib/arm-linux-gnueabihf/libz.so.1.2.13 libz.so.1 unused=false",
            "/usr/lib/arm-linux-gnueabihf/libcrypto.so.3 libcrypto.so.3 unused=false",
            "/usr/lib/arm-linux-gnueabihf/libcurl.so.4.8.0 libcurl.so.4 unused=false",
            "/usr/lib/arm-linux-gnueabihf/libmbedcrypto.so.2.28.3 libmbedcrypto.so.7 unused=false",
            "/usr/lib/arm-linux-gnueabihf/libmbedtls.so.2.28.3 libmbedtls.so.14 unused=false",
            "/usr/lib/arm-linux-gnueabihf/libmbedx509.so.2.28.3 libmbedx509.so.1 unused=false",
            "/usr/lib/arm-linux-gnueabihf/libssl.so.3 libssl.so.3 unused=false",
        ]
    );
    let libz = r["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["soname"] == "libz.so.1")
        .unwrap();
    let needed_by: Vec<String> = libz["needed_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(
        needed_by,
        [
            format!("{R_FS}/usr/bin/curl"),
            format!("{R_FS}/usr/lib/arm-linux-gnueabihf/libcurl.so.4.8.0"),
            format!("{R_FS}/usr/sbin/dropbear"),
        ]
    );
    // The lighttpd TLS plugin is loaded by path, so what it links is in use.
    let mbedtls = r["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["soname"] == "libmbedtls.so.14")
        .unwrap();
    assert_eq!(
        mbedtls["needed_by"][0],
        format!("{R_FS}/usr/lib/lighttpd/mod_mbedtls.so")
    );
    let busybox = r["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["path"] == format!("{R_FS}/bin/busybox"))
        .unwrap();
    assert_eq!(busybox["arch"], "arm");
    assert_eq!(busybox["bits"], 32);
    assert_eq!(busybox["endian"], "little");
    assert_eq!(busybox["kind"], "executable");
    assert_eq!(busybox["interpreter"], "/lib/ld-linux-armhf.so.3");
    assert_eq!(
        busybox["needed"],
        serde_json::json!(["libresolv.so.2", "libc.so.6", "ld-linux-armhf.so.3"])
    );
    assert_eq!(r["binaries"].as_array().unwrap().len(), 18);
}

#[test]
fn router_findings() {
    let (_, r) = json(&["scan", ROUTER, "--format", "json"]);
    assert_eq!(
        findings(&r),
        [
            "critical vulnerable busybox@1.35.0 CVE-2022-48174 1.37.0",
            "critical vulnerable curl@7.88.1 CVE-2023-38545 8.4.0",
            "high vulnerable curl@7.88.1 CVE-2023-27533 8.0.0",
            "high vulnerable curl@7.88.1 CVE-2023-27534 8.0.0",
            "high vulnerable curl@7.88.1 CVE-2023-28319 8.1.0",
            "high vulnerable curl@7.88.1 CVE-2023-38039 8.3.0",
            "high vulnerable curl@7.88.1 CVE-2024-2398 8.7.0",
            "high vulnerable glibc@2.36 CVE-2023-4911 2.39",
            "high vulnerable glibc@2.36 CVE-2024-2961 2.40",
            "high vulnerable glibc@2.36 CVE-2024-33601 2.40",
            "high vulnerable glibc@2.36 CVE-2024-33602 2.40",
            "high vulnerable linux@4.14.180 CVE-2024-1086 4.19.306",
            "high vulnerable linux@4.14.180 CVE-2024-26852 4.19.310",
            "high vulnerable linux@4.14.180 CVE-2024-36971 4.19.316",
            "high vulnerable mbedtls@2.28.3 CVE-2024-28960 2.28.8",
            "medium vulnerable curl@7.88.1 CVE-2023-27535 8.0.0",
            "medium vulnerable curl@7.88.1 CVE-2023-27536 8.0.0",
            "medium vulnerable curl@7.88.1 CVE-2023-27537 8.0.0",
            "medium vulnerable curl@7.88.1 CVE-2023-27538 8.0.0",
            "medium vulnerable curl@7.88.1 CVE-2023-46218 8.5.0",
            "medium vulnerable curl@7.88.1 CVE-2024-8096 8.10.0",
            "medium vulnerable dropbear@2022.83 CVE-2023-48795 2024.84",
            "medium outdated linux@4.14.180 - 4.14.336",
            "medium outdated mbedtls@2.28.3 - -",
            "medium outdated openssl@3.0.20 - 3.0.21",
            // posture: dropbear started without -w/-g/-s in /etc/init.d/rcS
            "medium config squashfs/etc/init.d/rcS FW-SSH-001 -",
            "low vulnerable curl@7.88.1 CVE-2023-38546 8.4.0",
            "low vulnerable curl@7.88.1 CVE-2024-7264 8.9.1",
            "low config squashfs/etc/init.d/rcS FW-SSH-002 -",
            "unknown vulnerable dropbear@2022.83 CVE-2025-47203 2025.88",
            "info unused expat@2.5.0 - -",
        ]
    );
    let unused = r["findings"].as_array().unwrap().last().unwrap();
    assert_eq!(
        unused["path"],
        format!("{R_FS}/lib/arm-linux-gnueabihf/libexpat.so.1.8.10")
    );
    let curl = &r["findings"][1];
    assert_eq!(curl["cvss"], "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
    assert_eq!(curl["path"], format!("{R_FS}/usr/bin/curl"));
    // One upgrade clears every curl advisory; dropbear has an unfixed-by-line one.
    assert_eq!(curl["upgrade"], "8.10.0");
    assert_eq!(r["findings"][0]["upgrade"], "1.37.0");
}

#[test]
fn openwrt_image() {
    let (code, r) = json(&["scan", OPENWRT, "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(
        layers(&r),
        [
            "samples/openwrt-mipsel.bin@0x20000:uimage uimage 131072 33329",
            "samples/openwrt-mipsel.bin@0x30000:squashfs squashfs 196608 2777829",
        ]
    );
    assert_eq!(
        components(&r),
        [
            // The binaries' versions joined the opkg packages that installed
            // them (libjson-c.so.5's JSON_C_VERSION is in libjson-c5, musl's
            // lib/libc.so in libc); the kernel is in no package.
            "linux 5.10.176 generic",
            "busybox 1.35.0-4 opkg",
            "dnsmasq 2.90-4 opkg",
            "dropbear 2022.83-1 opkg",
            "glibc 2.36-9 opkg",
            "libc 1.2.3-1 opkg",
            "libjson-c5 0.16-2 opkg",
            "libmbedtls14 2.28.3-1 opkg",
            "sysinfo 1.0-1 opkg",
            "uhttpd 1.0-1 opkg",
            "zlib 1.2.13-1 opkg",
        ]
    );
    // The lzma-compressed kernel payload was decompressed and scanned.
    assert_eq!(
        evidence(&r, "linux")[0].split(" Linux").next().unwrap(),
        "samples/openwrt-mipsel.bin@0x20000:uimage/kernel 27200"
    );
    let unused: Vec<String> = r["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["unused"] == true)
        .map(|l| s(&l["path"]))
        .collect();
    assert_eq!(unused, [format!("{O_FS}/usr/lib/libjson-c.so.5.2.0")]);
    // musl's loader is reached through PT_INTERP and a symlink.
    let musl = r["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"] == format!("{O_FS}/lib/libc.so"))
        .unwrap();
    assert_eq!(
        musl["needed_by"],
        serde_json::json!([format!("{O_FS}/usr/bin/sysinfo")])
    );
    assert_eq!(
        findings(&r),
        [
            "critical vulnerable busybox@1.35.0 CVE-2022-48174 1.37.0",
            // OpenWrt's first-boot state: root has no password.
            "critical credential squashfs/etc/shadow FW-ACC-001 -",
            "high vulnerable glibc@2.36 CVE-2023-4911 2.39",
            "high vulnerable glibc@2.36 CVE-2024-2961 2.40",
            "high vulnerable glibc@2.36 CVE-2024-33601 2.40",
            "high vulnerable glibc@2.36 CVE-2024-33602 2.40",
            "high vulnerable linux@5.10.176 CVE-2024-1086 5.10.209",
            "high vulnerable linux@5.10.176 CVE-2024-26852 5.10.213",
            "high vulnerable linux@5.10.176 CVE-2024-36971 5.10.219",
            "high vulnerable mbedtls@2.28.3 CVE-2024-28960 2.28.8",
            // Debian's MIPS builds of these daemons have an executable stack.
            "high hardening squashfs/bin/busybox FW-HARD-001 -",
            "high hardening squashfs/usr/sbin/dnsmasq FW-HARD-001 -",
            "high hardening squashfs/usr/sbin/dropbear FW-HARD-001 -",
            "medium vulnerable dropbear@2022.83 CVE-2023-48795 2024.84",
            "medium outdated mbedtls@2.28.3 - -",
            "low outdated linux@5.10.176 - 5.10.265",
            "unknown vulnerable dropbear@2022.83 CVE-2025-47203 2025.88",
            "unknown vulnerable musl@1.2.3 CVE-2025-26519 1.2.6",
            "info unused json-c@0.16 - -",
        ]
    );
}

#[test]
fn fail_on_sets_the_exit_code() {
    assert_eq!(fwaudit(&["scan", ROUTER]).code, 0);
    assert_eq!(fwaudit(&["scan", ROUTER, "--fail-on", "critical"]).code, 1);
    assert_eq!(
        fwaudit(&["scan", OPENWRT, "--fail-on", "high", "--format", "json"]).code,
        1
    );
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    assert_eq!(fwaudit(&["scan", path, "--fail-on", "low"]).code, 0);
}

#[test]
fn table_output_reads_well() {
    let run = fwaudit(&["scan", ROUTER]);
    assert_eq!(run.code, 0);
    let out = run.stdout;
    assert!(out.starts_with(
        "== samples/router-armhf.bin (image, 4325376 bytes, sha256 868e0e80a421efc7885af9f9577ec462ec91c9a5f8aa50ad5a061dbeaf65836b)\n"
    ));
    assert!(out.contains(
        "\nLayers (4)\n  0x69e90         19576  dtb       samples/router-armhf.bin@0x69e90:dtb"
    ));
    assert!(out.contains("\nShared libraries (11, 1 unused)\n"));
    assert!(out.contains(&format!(
        "  UNUSED  libexpat.so.1                {R_FS}/lib/arm-linux-gnueabihf/libexpat.so.1.8.10\n"
    )));
    assert!(out.contains(
        "\nFindings (31 active: 2 critical, 13 high, 11 medium, 3 low, 1 unknown, 1 info)\n"
    ));
    // Findings are grouped under the component they are about: the upstream
    // product, and the packages that carry it.
    assert!(out.contains(
        "\n  busybox 1.35.0 (deb busybox 1:1.35.0-4+deb12u1+b1)\n    CRITICAL active       vulnerable CVE-2022-48174   Stack overflow"
    ));
    assert!(out.contains("\n  curl 7.88.1 (deb curl, libcurl4 7.88.1-10+deb12u15)\n"));
}

#[test]
fn several_targets_give_json_lines_or_an_array_and_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let o = out.to_str().unwrap();
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", ROUTER, OPENWRT, "--format", "json", "-o", o];
        args.extend_from_slice(extra);
        let run = fwaudit(&args);
        assert_eq!((run.code, run.stdout.as_str()), (0, ""));
        std::fs::read_to_string(&out).unwrap()
    };
    let path = |r: serde_json::Value| s(&r["target"]["path"]);
    let lines: Vec<String> = scan(&[])
        .lines()
        .map(|line| path(serde_json::from_str(line).unwrap()))
        .collect();
    assert_eq!(lines, [ROUTER, OPENWRT]);
    // The array of earlier versions, behind --json-array.
    let array: Vec<serde_json::Value> = serde_json::from_str(&scan(&["--json-array"])).unwrap();
    let array: Vec<String> = array.into_iter().map(path).collect();
    assert_eq!(array, [ROUTER, OPENWRT]);
}

#[test]
fn unpacked_root_directory_is_scanned_like_an_image() {
    // Extract the router's rootfs with the unpacker's own listing + content
    // would need --extract (issue 3); build a small tree by hand instead.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(
        root.join("bin/tool"),
        b"\0BusyBox v1.24.1 (2016-01-01 00:00:00 UTC)\0",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        "Package: dnsmasq-base\nStatus: install ok installed\nVersion: 2.80-1\nArchitecture: armhf\n",
    )
    .unwrap();
    let path = root.to_str().unwrap();
    let (code, r) = json(&["scan", path, "--format", "json", "--fail-on", "critical"]);
    assert_eq!(code, 1);
    assert!(r["target"]["sha256"].is_null());
    assert_eq!(
        components(&r),
        ["busybox 1.24.1 generic", "dnsmasq-base 2.80-1 deb"]
    );
    let f = findings(&r);
    assert!(
        f.contains(&"high vulnerable dnsmasq@2.80 CVE-2020-25681 2.83".to_string()),
        "{f:?}"
    );
    assert!(
        f.contains(&"critical vulnerable busybox@1.24.1 CVE-2018-1000517 1.29.0".to_string()),
        "{f:?}"
    );
}
