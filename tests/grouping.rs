//! One component per thing on the device: copies of a library in several
//! directories that no package installed are one component whose evidence
//! lists every location; the copy a package installed joins that package's
//! component (its binary evidence beside the package entry), so that the
//! package's distribution verdicts decide for it and for no other copy.
//! (The JSON contract has no separate `locations` list: the locations are the
//! `path`s of `sources`.)

mod common;

use common::{json, s};

/// Not an ELF file (no parse errors to report), but binary: scanned.
fn library(version: &str) -> Vec<u8> {
    let mut data = b"\x00\xff\xfe\x01lib\x00".to_vec();
    data.extend_from_slice(format!("OpenSSL {version} 11 Nov 2025\x00\x02\x03").as_bytes());
    data
}

#[test]
fn copies_in_three_directories_are_one_component_with_three_locations() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for sub in ["usr/lib", "lib", "opt/app/lib", "etc", "usr/lib/opkg/info"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    for copy in ["usr/lib", "lib", "opt/app/lib"] {
        std::fs::write(root.join(copy).join("libcrypto.so.3"), library("3.0.20")).unwrap();
    }
    // A different release elsewhere is a component of its own.
    std::fs::write(root.join("opt/app/lib/libcrypto.so.1.1"), library("1.1.1w")).unwrap();
    std::fs::write(
        root.join("usr/lib/opkg/status"),
        "Package: libopenssl3\nVersion: 3.0.20-1\nArchitecture: mipsel_24kc\n\
         Status: install user installed\n\n",
    )
    .unwrap();
    std::fs::write(
        root.join("usr/lib/opkg/info/libopenssl3.list"),
        "/usr/lib/libcrypto.so.3\n",
    )
    .unwrap();
    let target = root.to_str().unwrap();
    let (code, r) = json(&["scan", target, "--format", "json"]);
    assert_eq!(code, 0, "{r}");
    let components = r["components"].as_array().unwrap();
    let summary: Vec<String> = components
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                s(&c["name"]),
                s(&c["version"]),
                s(&c["ecosystem"])
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "openssl 1.1.1w generic",
            "openssl 3.0.20 generic",
            "libopenssl3 3.0.20-1 opkg"
        ]
    );
    let sources = |c: &serde_json::Value| -> Vec<String> {
        c["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} {}",
                    s(&e["method"]),
                    s(&e["path"]).replacen(target, "", 1),
                    s(&e["package"]),
                    s(&e["evidence"])
                )
            })
            .collect()
    };
    assert_eq!(
        sources(&components[1]),
        [
            "signature /lib/libcrypto.so.3 - OpenSSL 3.0.20 11 Nov 2025",
            "signature /opt/app/lib/libcrypto.so.3 - OpenSSL 3.0.20 11 Nov 2025",
        ]
    );
    assert_eq!(
        sources(&components[2]),
        [
            "opkg-status /usr/lib/opkg/status - line 1: Package: libopenssl3, Version: 3.0.20-1",
            "signature /usr/lib/libcrypto.so.3 libopenssl3 OpenSSL 3.0.20 11 Nov 2025",
        ]
    );
    assert_eq!(components[2]["upstream"]["name"], "openssl");
    assert_eq!(components[2]["upstream"]["version"], "3.0.20");
    // The same bytes in three places: one file hash.
    let hashes: std::collections::BTreeSet<String> = components[1]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["method"] == "signature")
        .map(|e| s(&e["sha256"]))
        .collect();
    assert_eq!(hashes.len(), 1);
}
