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
