//! Embedded metadata in real binaries built by `tests/fixtures/build.sh`:
//! cargo-auditable, Go build info and the systemd package note.

mod common;

use common::{json, s};

/// `(name, version, purl, ecosystem, method)` of every component.
fn components(path: &str) -> Vec<String> {
    let (_, r) = json(&["scan", path, "--format", "json"]);
    r["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {} {}",
                s(&c["name"]),
                s(&c["version"]),
                s(&c["purl"]),
                s(&c["ecosystem"]),
                s(&c["sources"][0]["method"])
            )
        })
        .collect()
}

#[test]
fn cargo_auditable_crates() {
    assert_eq!(
        components("tests/fixtures/rust-auditable"),
        ["itoa 1.0.11 pkg:cargo/itoa@1.0.11 crates.io cargo-auditable"]
    );
}

#[test]
fn go_build_info_toolchain_and_modules() {
    assert_eq!(
        components("tests/fixtures/go-hello"),
        [
            "go 1.19.8 pkg:generic/go@1.19.8 generic go-buildinfo",
            // Replaced by a local directory: the declared version, evidence says so.
            "example.com/greet v1.2.3 pkg:golang/example.com/greet@v1.2.3 Go go-buildinfo",
        ]
    );
}

#[test]
fn package_note() {
    assert_eq!(
        components("tests/fixtures/c-package-note"),
        ["hello-note 1.2-3 pkg:deb/debian/hello-note@1.2-3?arch=amd64 deb package-note"]
    );
}

#[test]
fn pe_version_resources() {
    // Built by tests/fixtures/pe/build.sh from the .rc files beside them.
    assert_eq!(
        components("tests/fixtures/pe/zlib1.dll"),
        ["zlib 1.3.1 pkg:generic/zlib@1.3.1 generic pe-version"]
    );
    assert_eq!(
        components("tests/fixtures/pe/updater.exe"),
        [
            "example-firmware-updater 2.4.1 pkg:generic/example-firmware-updater@2.4.1 generic pe-version"
        ]
    );
    let (_, r) = json(&["scan", "tests/fixtures/pe/zlib1.dll", "--format", "json"]);
    let zlib = &r["components"][0];
    assert_eq!(s(&zlib["cpe"]), "cpe:2.3:a:zlib:zlib:1.3.1:*:*:*:*:*:*:*");
    assert_eq!(
        s(&zlib["sources"][0]["evidence"]),
        "ProductName \"zlib\", FileDescription \"zlib data compression library\", \
         ProductVersion \"1.3.1\", FileVersion \"1.3.1\", OriginalFilename \"zlib1.dll\""
    );
}

#[test]
fn pe_tools_inside_an_update_bundle() {
    use std::io::Write;
    // A firmware update bundle (zip) carrying the Windows tools.
    let mut bundle = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for name in ["updater.exe", "zlib1.dll"] {
        bundle
            .start_file(format!("tools/win64/{name}"), stored)
            .unwrap();
        bundle
            .write_all(&std::fs::read(format!("tests/fixtures/pe/{name}")).unwrap())
            .unwrap();
    }
    let data = bundle.finish().unwrap().into_inner();
    let unpacked = fwaudit::unpack::unpack_bytes(
        "bundle.zip",
        data,
        &fwaudit::unpack::limits::Limits::default(),
    );
    let found: Vec<String> = fwaudit::identify::components(&unpacked, &[])
        .iter()
        .map(|c| format!("{} {} {}", c.name, c.version, c.sources[0].path))
        .collect();
    assert_eq!(
        found,
        [
            "zlib 1.3.1 bundle.zip@0x0:zip/tools/win64/zlib1.dll",
            "example-firmware-updater 2.4.1 bundle.zip@0x0:zip/tools/win64/updater.exe",
        ]
    );
}
