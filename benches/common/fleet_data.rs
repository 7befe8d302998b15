//! The generated benchmark fleet, shared by `benches/fleet.rs` and
//! `benches/serve.rs`: images with ~150 components each, the first ten
//! real products at versions some advisories match.

use fwaudit::model::{Component, Evidence};
use fwaudit::scan::{ScanReport, TargetInfo};

/// Product/version pairs drawn for components: some vulnerable, some not.
pub const PRODUCTS: &[(&str, &[&str])] = &[
    (
        "openssl",
        &["1.0.2k", "1.1.1k", "1.1.1w", "3.0.7", "3.0.13", "3.0.20"],
    ),
    ("busybox", &["1.29.3", "1.33.2", "1.35.0", "1.36.1"]),
    ("curl", &["7.64.0", "7.88.1", "8.4.0", "8.12.0"]),
    ("dnsmasq", &["2.80", "2.85", "2.89", "2.90"]),
    ("dropbear", &["2019.78", "2020.81", "2022.83", "2024.86"]),
    ("zlib", &["1.2.11", "1.2.12", "1.2.13"]),
    ("linux", &["4.14.180", "5.4.100", "5.10.176", "6.1.50"]),
    ("glibc", &["2.31", "2.36"]),
    ("mbedtls", &["2.16.0", "2.28.3", "3.6.0"]),
    ("lighttpd", &["1.4.59", "1.4.69"]),
];

/// The report of generated image `i`.
pub fn image(i: usize, components_per_image: usize) -> ScanReport {
    let sha = format!("{:064x}", i as u128 * 0x9e37_79b9_7f4a_7c15 + 1);
    let mut components = Vec::new();
    for j in 0..components_per_image {
        let (name, versions) = PRODUCTS[j % PRODUCTS.len()];
        // The first ten components are real products; the rest are other
        // packages that match no advisory, as most of a rootfs does.
        let (name, version) = if j < PRODUCTS.len() {
            (
                name.to_string(),
                versions[(i + j) % versions.len()].to_string(),
            )
        } else {
            (format!("pkg-{j}"), format!("1.{}.{}", i % 10, j % 7))
        };
        components.push(Component {
            purl: format!("pkg:generic/{name}@{version}"),
            cpe: None,
            ecosystem: "generic".into(),
            upstream: None,
            sources: vec![Evidence {
                method: "signature".into(),
                path: format!("img-{i}@0x0:squashfs/usr/lib/lib{name}.so"),
                offset: Some(0),
                evidence: format!("{name} {version}"),
                ..Evidence::default()
            }],
            name,
            version,
            ..Component::default()
        });
    }
    ScanReport {
        target: TargetInfo {
            path: format!("img-{i}.bin"),
            kind: fwaudit::scan::TargetKind::Image,
            sha256: Some(sha),
            size: 8 << 20,
            distro: None,
        },
        layers: Vec::new(),
        components,
        binaries: Vec::new(),
        libraries: Vec::new(),
        findings: Vec::new(),
        hardening: None,
        crypto: Vec::new(),
        notes: Vec::new(),
        conflicts: Vec::new(),
    }
}
