//! SARIF 2.1.0 and CycloneDX 1.6 output, validated against the official
//! schemas (shipped in npm packages, see tests/schema/package.json), SPDX 2.3
//! output validated by the SPDX project's spdx-tools, and
//! triage: suppressed findings, VEX states, `--fail-on`.

mod common;
use common::*;
use serde_json::Value;
use std::process::Command;

/// Validates `doc` with tests/schema/validate.mjs; `None` when the schema
/// packages are not installed (`npm ci --prefix tests/schema`) and CI did not
/// ask for them.
fn schema_check(kind: &str, doc: &Value) -> Option<(bool, String)> {
    let schema_dir = root().join("tests/schema");
    if !schema_dir.join("node_modules").is_dir() {
        assert!(
            std::env::var_os("FWAUDIT_REQUIRE_SCHEMAS").is_none(),
            "schema packages missing: run `npm ci --prefix tests/schema`"
        );
        eprintln!("SKIPPED schema validation: run `npm ci --prefix tests/schema` to enable it");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.json");
    std::fs::write(&file, serde_json::to_string(doc).unwrap()).unwrap();
    let out = Command::new("node")
        .arg(schema_dir.join("validate.mjs"))
        .arg(kind)
        .arg(&file)
        .output()
        .expect("node runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success(), text))
}

/// Validates an SPDX document with the SPDX project's validator
/// (`pyspdxtools` from tests/schema/.venv); `None` when it is not installed
/// and CI did not ask for it.
fn spdx_check(doc: &Value) -> Option<(bool, String)> {
    let tool = root().join("tests/schema/.venv/bin/pyspdxtools");
    if !tool.is_file() {
        assert!(
            std::env::var_os("FWAUDIT_REQUIRE_SCHEMAS").is_none(),
            "spdx-tools missing: python3 -m venv tests/schema/.venv && tests/schema/.venv/bin/pip install -r tests/schema/requirements-spdx.txt"
        );
        eprintln!(
            "SKIPPED SPDX validation: install spdx-tools into tests/schema/.venv to enable it"
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.spdx.json");
    std::fs::write(&file, serde_json::to_string(doc).unwrap()).unwrap();
    let out = Command::new(tool)
        .arg("-i")
        .arg(&file)
        .output()
        .expect("pyspdxtools runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success() && !text.contains("invalid"), text))
}

#[test]
fn sarif_is_valid_and_complete() {
    let (code, sarif) = json(&[
        "scan",
        "samples/router-armhf.bin",
        "samples/openwrt-mipsel.bin",
        "--format",
        "sarif",
    ]);
    assert_eq!(code, 0);
    if let Some((ok, text)) = schema_check("sarif", &sarif) {
        assert!(ok, "{text}");
        let mut broken = sarif.clone();
        broken["runs"][0]["results"][0]["level"] = Value::from("catastrophic");
        let (ok, text) = schema_check("sarif", &broken).unwrap();
        assert!(!ok, "the validator must reject a bad level: {text}");
    }
    let run = &sarif["runs"][0];
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["name"], "fwaudit");
    // router 29 + 2 posture (dropbear), OpenWrt 15 + 4 posture (root's empty
    // password, three MIPS daemons without NX)
    assert_eq!(run["results"].as_array().unwrap().len(), 31 + 19);
    let first = &run["results"][0];
    assert_eq!(first["ruleId"], "CVE-2022-48174");
    assert_eq!(first["level"], "error");
    assert_eq!(
        first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "samples/router-armhf.bin"
    );
    assert_eq!(
        first["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "samples/router-armhf.bin@0x90000:squashfs/bin/busybox"
    );
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let rule = rules.iter().find(|r| r["id"] == "CVE-2022-48174").unwrap();
    assert_eq!(rule["properties"]["security-severity"], "9.8");
    assert!(rules.iter().any(|r| r["id"] == "fwaudit/unused"));
    assert!(rules.iter().any(|r| r["id"] == "fwaudit/outdated"));
}

#[test]
fn cyclonedx_is_valid_with_graph_and_vulnerabilities() {
    let (code, bom) = json(&["scan", "samples/router-armhf.bin", "--format", "cyclonedx"]);
    assert_eq!(code, 0);
    if let Some((ok, text)) = schema_check("cyclonedx", &bom) {
        assert!(ok, "{text}");
        let mut broken = bom.clone();
        broken["components"][0]["type"] = Value::from("gadget");
        let (ok, _) = schema_check("cyclonedx", &broken).unwrap();
        assert!(!ok, "the validator must reject an unknown component type");
    }
    assert_eq!(bom["specVersion"], "1.6");
    assert_eq!(
        bom["serialNumber"],
        "urn:uuid:1bf096bc-28f3-8dac-b820-ead2bc863e1a"
    );
    assert_eq!(
        bom["metadata"]["component"]["hashes"][0]["content"],
        "868e0e80a421efc7885af9f9577ec462ec91c9a5f8aa50ad5a061dbeaf65836b"
    );
    let (crypto, software): (Vec<&Value>, Vec<&Value>) = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .partition(|c| c["type"] == "cryptographic-asset");
    // One component per thing on the device: every binary's version joined
    // the package that installed it; the kernel and U-Boot are in none.
    assert_eq!(software.len(), 17);
    // The CBOM: the test keys and certificates mbed TLS and OpenSSL carry
    // (inventory, known test data), and the algorithms they use.
    assert!(
        crypto
            .iter()
            .any(|c| c["cryptoProperties"]["assetType"] == "certificate")
    );
    assert!(crypto.iter().any(
        |c| c["cryptoProperties"]["relatedCryptoMaterialProperties"]["type"] == "private-key"
    ));
    let curl_deps = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["ref"] == "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15?arch=armhf&distro=debian-12"
        })
        .unwrap();
    // /usr/bin/curl's DT_NEEDED and the curl package's Depends.
    assert_eq!(
        curl_deps["dependsOn"],
        serde_json::json!([
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=armhf&distro=debian-12",
            "pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u15?arch=armhf&distro=debian-12",
            "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=armhf&distro=debian-12"
        ])
    );
    // Package edges come from the dpkg database's `Depends`.
    let libcurl_deps = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["ref"] == "pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u15?arch=armhf&distro=debian-12"
        })
        .unwrap();
    assert_eq!(
        libcurl_deps["dependsOn"],
        serde_json::json!([
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=armhf&distro=debian-12",
            "pkg:deb/debian/libssl3@3.0.20-1~deb12u2?arch=armhf&distro=debian-12",
            "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=armhf&distro=debian-12"
        ])
    );
    let vulns = bom["vulnerabilities"].as_array().unwrap();
    // 25 advisories and the two posture rules the sample's dropbear options break.
    assert_eq!(vulns.len(), 27);
    let bb = vulns.iter().find(|v| v["id"] == "CVE-2022-48174").unwrap();
    assert_eq!(
        bb["affects"],
        serde_json::json!([
            {"ref": "pkg:deb/debian/busybox@1:1.35.0-4%2Bdeb12u1%2Bb1?arch=armhf&distro=debian-12"}
        ])
    );
    assert_eq!(bb["analysis"]["state"], "in_triage");
    assert_eq!(
        bb["recommendation"],
        "Upgrade busybox@1.35.0 to 1.37.0 or later"
    );
}

#[test]
fn cyclonedx_graph_from_a_lockfile() {
    let (code, bom) = json(&[
        "scan",
        "tests/fixtures/manifests/cargo-lock/Cargo.lock",
        "--format",
        "cyclonedx",
    ]);
    assert_eq!(code, 0);
    if let Some((ok, text)) = schema_check("cyclonedx", &bom) {
        assert!(ok, "{text}");
    }
    let edges: Vec<String> = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| !d["dependsOn"].as_array().unwrap().is_empty())
        .map(|d| {
            let on: Vec<&str> = d["dependsOn"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            format!("{} -> {}", s(&d["ref"]), on.join(" "))
        })
        .collect();
    // The workspace member's direct dependencies hang off the subject.
    assert_eq!(
        edges,
        [
            "target -> pkg:cargo/smallvec@1.6.0 pkg:cargo/time@0.1.44",
            "pkg:cargo/time@0.1.44 -> pkg:cargo/libc@0.2.191 pkg:cargo/wasi@0.10.0%2Bwasi-snapshot-preview1 pkg:cargo/winapi@0.3.9",
            "pkg:cargo/winapi@0.3.9 -> pkg:cargo/winapi-i686-pc-windows-gnu@0.4.0 pkg:cargo/winapi-x86_64-pc-windows-gnu@0.4.0",
        ]
    );
}

#[test]
fn spdx_is_valid_with_references_and_graph() {
    let (code, doc) = json(&["scan", "samples/router-armhf.bin", "--format", "spdx"]);
    assert_eq!(code, 0);
    if let Some((ok, text)) = spdx_check(&doc) {
        assert!(ok, "{text}");
        let mut broken = doc.clone();
        broken["relationships"][1]["relatedSpdxElement"] = Value::from("SPDXRef-nowhere");
        let (ok, _) = spdx_check(&broken).unwrap();
        assert!(!ok, "the validator must reject a dangling relationship");
    }
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["creationInfo"]["created"], "2026-11-25T00:00:00Z");
    assert_eq!(
        doc["documentNamespace"],
        "https://spdx.org/spdxdocs/fwaudit/router-armhf.bin-d4e56055-8bee-8115-814f-237599015375"
    );
    let packages = doc["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 18, "the target and 17 components");
    assert_eq!(
        packages[0]["checksums"][0]["checksumValue"],
        "868e0e80a421efc7885af9f9577ec462ec91c9a5f8aa50ad5a061dbeaf65836b"
    );
    let by_purl = |purl: &str| -> &Value {
        packages
            .iter()
            .find(|p| p["externalRefs"][0]["referenceLocator"] == purl)
            .unwrap()
    };
    let busybox =
        by_purl("pkg:deb/debian/busybox@1:1.35.0-4%2Bdeb12u1%2Bb1?arch=armhf&distro=debian-12");
    let refs: Vec<String> = busybox["externalRefs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", s(&r["referenceType"]), s(&r["referenceLocator"])))
        .collect();
    assert_eq!(
        refs,
        [
            "purl pkg:deb/debian/busybox@1:1.35.0-4%2Bdeb12u1%2Bb1?arch=armhf&distro=debian-12",
            "cpe23Type cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*",
            "advisory https://nvd.nist.gov/vuln/detail/CVE-2022-48174",
        ]
    );
    assert_eq!(
        busybox["sourceInfo"],
        "found by fwaudit: dpkg-status samples/router-armhf.bin@0x90000:squashfs/var/lib/dpkg/status: line 1: Package: busybox, Version: 1:1.35.0-4+deb12u1+b1; \
         signature samples/router-armhf.bin@0x90000:squashfs/bin/busybox at 0x82ca4: BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)"
    );
    let id = |purl: &str| s(&by_purl(purl)["SPDXID"]);
    let rel = |kind: &str| -> Vec<(String, String)> {
        doc["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["relationshipType"] == kind)
            .map(|r| (s(&r["spdxElementId"]), s(&r["relatedSpdxElement"])))
            .collect()
    };
    assert_eq!(
        rel("DESCRIBES"),
        [("SPDXRef-DOCUMENT".to_string(), "SPDXRef-target".to_string())]
    );
    assert_eq!(rel("CONTAINS").len(), 17);
    let curl = id("pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15?arch=armhf&distro=debian-12");
    let curl_on: Vec<String> = rel("DEPENDS_ON")
        .into_iter()
        .filter(|(from, _)| *from == curl)
        .map(|(_, to)| to)
        .collect();
    assert_eq!(
        curl_on,
        [
            id("pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=armhf&distro=debian-12"),
            id("pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u15?arch=armhf&distro=debian-12"),
            id("pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=armhf&distro=debian-12")
        ]
    );
}

#[test]
fn triage_suppresses_until_expiry_and_fail_on_honours_it() {
    let dir = tempfile::tempdir().unwrap();
    let triage = dir.path().join("triage.toml");
    std::fs::write(
        &triage,
        r#"
[[ignore]]
id = "CVE-2022-48174"
component = "busybox"
reason = "ash is not reachable from the network on this product"
expires = "2027-06-30"

[[ignore]]
id = "CVE-2023-38545"
reason = "no SOCKS5 proxy configured"
expires = "2026-01-01"
"#,
    )
    .unwrap();
    let t = triage.to_str().unwrap();
    // The curl entry has expired, so a critical finding remains.
    let (code, r) = json(&[
        "scan",
        "samples/router-armhf.bin",
        "--format",
        "json",
        "--ignore",
        t,
        "--fail-on",
        "critical",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        r["findings"][0]["suppressed"]["reason"],
        "ash is not reachable from the network on this product"
    );
    assert!(r["findings"][1]["suppressed"].is_null());
    std::fs::write(
        &triage,
        std::fs::read_to_string(&triage)
            .unwrap()
            .replace("2026-01-01", "2027-01-01"),
    )
    .unwrap();
    let run = fwaudit(&[
        "scan",
        "samples/router-armhf.bin",
        "--ignore",
        t,
        "--fail-on",
        "critical",
    ]);
    assert_eq!(run.code, 0, "both criticals accepted: {}", run.stderr);
    assert!(
        run.stdout
            .contains("[suppressed: no SOCKS5 proxy configured]")
    );
    let (_, bom) = json(&[
        "scan",
        "samples/router-armhf.bin",
        "--format",
        "cyclonedx",
        "--ignore",
        t,
    ]);
    let v = bom["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "CVE-2023-38545")
        .unwrap();
    assert_eq!(v["analysis"]["state"], "not_affected");
    assert_eq!(v["analysis"]["detail"], "no SOCKS5 proxy configured");
    let (_, sarif) = json(&[
        "scan",
        "samples/router-armhf.bin",
        "--format",
        "sarif",
        "--ignore",
        t,
    ]);
    assert_eq!(
        sarif["runs"][0]["results"][1]["suppressions"][0]["kind"],
        "external"
    );

    std::fs::write(
        &triage,
        "[[ignore]]\nid = \"X\"\nreason = \"r\"\nexpires = \"someday\"\n",
    )
    .unwrap();
    let run = fwaudit(&["scan", "samples/router-armhf.bin", "--ignore", t]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("expires \"someday\" is not a YYYY-MM-DD date"),
        "{}",
        run.stderr
    );
}
