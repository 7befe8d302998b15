//! Findings a user can trust: one component per thing on the device, one
//! finding per real problem, and none the vendor already fixed. Real data
//! throughout: a Debian 12 root file system made of current packages with
//! their dpkg database and changelogs, a tracker document derived
//! mechanically from those changelogs (tests/fixtures/debian12/), NVD's CPE
//! ranges for the same products (tests/data/nvd/), an OpenWrt-style image
//! whose opkg versions carry Debian epochs (tests/fixtures/opkg-epoch/), and
//! the bundled router sample.

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const DEBIAN: &str = "tests/data/debian12-rootfs.tar.xz";
const TRACKER: &str = "tests/data/debian12-tracker.json";
const OPKG: &str = "tests/data/opkg-epoch.tar.xz";
const ROUTER: &str = "samples/router-armhf.bin";
/// NVD's CPE ranges of every product the Debian rootfs carries.
const NVD: &[&str] = &[
    "tests/data/nvd/busybox.json",
    "tests/data/nvd/curl.json",
    "tests/data/nvd/dnsmasq.json",
    "tests/data/nvd/glibc.json",
    "tests/data/nvd/libexpat.json",
    "tests/data/nvd/zlib.json",
];

/// `fwaudit --data-dir DIR ARGS...`.
fn in_home(home: &str, args: &[&str]) -> Run {
    let mut all = vec!["--data-dir", home];
    all.extend_from_slice(args);
    fwaudit(&all)
}

fn scan_json(home: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let run = in_home(home, &all);
    let value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (run.code, value)
}

/// `advisory state [analysis source: fixed_in]` of every vulnerable finding.
fn vulnerable(r: &Value) -> Vec<String> {
    let mut out: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "vulnerable")
        .map(|f| {
            let a = &f["analysis"];
            format!(
                "{} {} {} [{}: {}]",
                s(&f["component"]),
                s(&f["advisory"]),
                s(&f["state"]),
                s(&a["source"]),
                s(&a["fixed_in"])
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn debian_rootfs_is_one_component_per_package_with_its_binaries() {
    let home = tempfile::tempdir().unwrap();
    let (code, r) = scan_json(home.path().to_str().unwrap(), &[DEBIAN]);
    assert_eq!(code, 0, "{}", r["notes"]);
    assert_eq!(
        r["target"]["distro"],
        json!({"id": "debian", "version_id": "12", "codename": "bookworm",
               "name": "Debian GNU/Linux 12 (bookworm)", "path": "/etc/os-release"})
    );
    // Every version found in a binary joined the package that installed it
    // (dpkg lists /lib/... and /bin/...; the files are reached through the
    // merged-/usr links): nothing is reported twice.
    let components: Vec<String> = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let binaries: Vec<String> = c["sources"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| !e["package"].is_null())
                .map(|e| s(&e["path"]).rsplit('/').next().unwrap().to_string())
                .collect();
            format!(
                "{} {} -> {}@{} {:?}",
                s(&c["purl"]),
                s(&c["source_package"]),
                s(&c["upstream"]["name"]),
                s(&c["upstream"]["version"]),
                binaries
            )
        })
        .collect();
    assert_eq!(
        components,
        [
            "pkg:deb/debian/base-files@12.4%2Bdeb12u15?arch=amd64&distro=debian-12 base-files -> -@- []",
            "pkg:deb/debian/busybox@1:1.35.0-4%2Bdeb12u1%2Bb1?arch=amd64&distro=debian-12 busybox -> busybox@1.35.0 [\"busybox\"]",
            "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15?arch=amd64&distro=debian-12 curl -> curl@7.88.1 [\"curl\"]",
            "pkg:deb/debian/dnsmasq-base@2.90-4~deb12u2?arch=amd64&distro=debian-12 dnsmasq -> dnsmasq@2.90 [\"dnsmasq\"]",
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12 glibc -> glibc@2.36 [\"libc.so.6\"]",
            "pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u15?arch=amd64&distro=debian-12 curl -> curl@7.88.1 [\"libcurl.so.4.8.0\"]",
            "pkg:deb/debian/libexpat1@2.5.0-1%2Bdeb12u5?arch=amd64&distro=debian-12 expat -> expat@2.5.0 [\"libexpat.so.1.8.10\", \"libexpatw.so.1.8.10\"]",
            "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1%2Bdeb12u1?arch=amd64&distro=debian-12 zlib -> zlib@1.2.13 [\"libz.so.1.2.13\", \"libz.so.1.2.13\"]",
        ]
    );
    let curl = &r["components"][2];
    assert_eq!(curl["cpe"], "cpe:2.3:a:haxx:curl:7.88.1:*:*:*:*:*:*:*");
    assert_eq!(curl["ecosystem_osv"], "Debian:12");
}

#[test]
fn changelogs_in_the_image_mark_what_debian_fixed() {
    // No distribution feed imported: the packages' own changelog.Debian.gz
    // says which revision fixed each CVE.
    let home = tempfile::tempdir().unwrap();
    let (code, r) = scan_json(home.path().to_str().unwrap(), &[DEBIAN, "--fail-on", "low"]);
    assert_eq!(code, 0, "every vulnerable finding is fixed");
    assert_eq!(
        vulnerable(&r),
        [
            "busybox@1.35.0 CVE-2022-48174 fixed [changelog: 1:1.35.0-4+deb12u1]",
            "curl@7.88.1 CVE-2023-27533 fixed [changelog: 7.88.1-7]",
            "curl@7.88.1 CVE-2023-27534 fixed [changelog: 7.88.1-7]",
            "curl@7.88.1 CVE-2023-27535 fixed [changelog: 7.88.1-7]",
            "curl@7.88.1 CVE-2023-27536 fixed [changelog: 7.88.1-7]",
            "curl@7.88.1 CVE-2023-27537 fixed [changelog: 7.88.1-7]",
            "curl@7.88.1 CVE-2023-27538 fixed [changelog: 7.88.1-7]",
            "curl@7.88.1 CVE-2023-28319 fixed [changelog: 7.88.1-10]",
            "curl@7.88.1 CVE-2023-38039 fixed [changelog: 7.88.1-10+deb12u3]",
            "curl@7.88.1 CVE-2023-38545 fixed [changelog: 7.88.1-10+deb12u4]",
            "curl@7.88.1 CVE-2023-38546 fixed [changelog: 7.88.1-10+deb12u4]",
            "curl@7.88.1 CVE-2023-46218 fixed [changelog: 7.88.1-10+deb12u5]",
            "curl@7.88.1 CVE-2024-2398 fixed [changelog: 7.88.1-10+deb12u6]",
            "curl@7.88.1 CVE-2024-7264 fixed [changelog: 7.88.1-10+deb12u7]",
            "curl@7.88.1 CVE-2024-8096 fixed [changelog: 7.88.1-10+deb12u8]",
            "glibc@2.36 CVE-2023-4911 fixed [changelog: 2.36-9+deb12u3]",
            "glibc@2.36 CVE-2024-2961 fixed [changelog: 2.36-9+deb12u6]",
            "glibc@2.36 CVE-2024-33601 fixed [changelog: 2.36-9+deb12u7]",
            "glibc@2.36 CVE-2024-33602 fixed [changelog: 2.36-9+deb12u7]",
        ]
    );
    // The proof is the changelog line, and curl's two packages are one finding.
    let socks = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["advisory"] == "CVE-2023-38545")
        .unwrap();
    let evidence = &socks["analysis"]["evidence"];
    assert!(s(&evidence["path"]).ends_with("/usr/share/doc/curl/changelog.Debian.gz"));
    assert!(
        s(&evidence["evidence"]).contains("CVE-2023-38545"),
        "{evidence}"
    );
    assert_eq!(socks["purls"].as_array().unwrap().len(), 2);
    assert!(socks.get("upgrade").is_none(), "nothing to upgrade");
}

/// The resolved (package, CVE) -> fixed revision pairs of the tracker
/// fixture, read here independently of fwaudit's reader.
fn tracker_fixes() -> BTreeMap<(String, String), String> {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(TRACKER)).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for (package, cves) in doc.as_object().unwrap() {
        for (cve, entry) in cves.as_object().unwrap() {
            let r = &entry["releases"]["bookworm"];
            if r["status"] == "resolved" {
                out.insert((package.clone(), cve.clone()), s(&r["fixed_version"]));
            }
        }
    }
    out
}

#[test]
fn debian_tracker_decides_and_what_debian_has_not_fixed_stays_active() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap();
    // Named like the tracker's own URL (`.../tracker/data/json`): recognised by content.
    let tracker = dir.path().join("json");
    std::fs::copy(root().join(TRACKER), &tracker).unwrap();
    let mut args = vec!["db", "import", tracker.to_str().unwrap()];
    args.extend_from_slice(NVD);
    let import = in_home(home, &args);
    assert_eq!(import.code, 0, "{}", import.stderr);
    assert!(
        import.stdout.contains("distro:debian-tracker"),
        "{}",
        import.stdout
    );
    let (_, r) = scan_json(home, &[DEBIAN]);
    let fixes = tracker_fixes();
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut active = BTreeSet::new();
    for f in r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "vulnerable")
    {
        *by_state.entry(s(&f["state"])).or_default() += 1;
        let id = s(&f["advisory"]);
        let c = r["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["purl"] == f["purls"][0])
            .unwrap();
        let key = (s(&c["source_package"]), id.clone());
        match f["state"].as_str().unwrap() {
            // Zero active findings for CVEs the installed revisions fix.
            "active" => {
                assert!(!fixes.contains_key(&key), "{key:?} is fixed in Debian");
                active.insert(format!("{}@{}", key.0, id));
            }
            "fixed" => {
                assert_eq!(f["analysis"]["source"], "debian-tracker", "{f}");
                assert_eq!(s(&f["analysis"]["fixed_in"]), fixes[&key], "{key:?}");
            }
            other => panic!("unexpected state {other}: {f}"),
        }
    }
    // 43 of the upstream matches Debian fixed in these revisions; what its
    // changelogs never name is still reported (here: NVD records newer than
    // the packages, and the busybox applets Debian has not patched).
    assert_eq!(by_state["fixed"], 43, "{by_state:?}");
    assert_eq!(by_state["active"], 28, "{by_state:?}");
    assert!(active.contains("busybox@CVE-2024-58251"), "{active:?}");
    assert!(active.contains("glibc@CVE-2026-6368"), "{active:?}");
    // Active findings count for --fail-on; fixed ones never do.
    let run = in_home(home, &["scan", DEBIAN, "--fail-on", "critical"]);
    assert_eq!(run.code, 0, "the criticals are fixed: {}", run.stdout);
}

#[test]
fn opkg_versions_with_debian_epochs_are_read_as_their_upstream_release() {
    let home = tempfile::tempdir().unwrap();
    let (code, r) = scan_json(home.path().to_str().unwrap(), &[OPKG]);
    assert_eq!(code, 0, "{}", r["notes"]);
    let components: Vec<String> = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} -> {}@{} ({} sources)",
                s(&c["purl"]),
                s(&c["upstream"]["name"]),
                s(&c["upstream"]["version"]),
                c["sources"].as_array().unwrap().len()
            )
        })
        .collect();
    assert_eq!(
        components,
        [
            "pkg:opkg/openwrt/busybox@1:1.35.0-4%2Bdeb12u1%2Bb1?arch=amd64&distro=openwrt-23.05.3 -> busybox@1.35.0 (2 sources)",
            "pkg:opkg/openwrt/curl@7.88.1-10%2Bdeb12u15?arch=amd64&distro=openwrt-23.05.3 -> curl@7.88.1 (2 sources)",
            "pkg:opkg/openwrt/zlib1g@1:1.2.13.dfsg-1%2Bdeb12u1?arch=amd64&distro=openwrt-23.05.3 -> zlib@1.2.13 (3 sources)",
        ]
    );
    let ids: Vec<String> = vulnerable(&r);
    // Not zlib's CVE-2022-37434 "fixed in 1.2.13", not busybox bugs fixed in
    // 1.25.0 or 1.29.0, and each curl CVE once (not again for the binary).
    assert!(ids.iter().all(|f| !f.starts_with("zlib")), "{ids:?}");
    let busybox: Vec<&String> = ids.iter().filter(|f| f.starts_with("busybox")).collect();
    assert_eq!(busybox, ["busybox@1.35.0 CVE-2022-48174 active [-: -]"]);
    let curl: BTreeSet<&String> = ids.iter().filter(|f| f.starts_with("curl")).collect();
    assert_eq!(curl.len(), 14);
    assert_eq!(ids.len(), 15);
}

#[test]
fn vex_statements_set_states_and_the_cyclonedx_output_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap();
    assert_eq!(
        in_home(home, &["scan", ROUTER, "--fail-on", "critical"]).code,
        1
    );
    // The vendor's OpenVEX: busybox's ash is not reachable (not affected),
    // its curl build carries the SOCKS5 fix (fixed).
    let vex = dir.path().join("vendor.openvex.json");
    std::fs::write(
        &vex,
        serde_json::to_string_pretty(&json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.net/vex/rt-3200-2.3.1",
            "author": "ExampleNet PSIRT",
            "timestamp": "2026-11-01T00:00:00Z",
            "version": 1,
            "statements": [
                {"vulnerability": {"name": "CVE-2022-48174"},
                 "products": [{"@id": "pkg:deb/debian/busybox@1:1.35.0-4%2Bdeb12u1%2Bb1"}],
                 "status": "not_affected",
                 "justification": "vulnerable_code_not_in_execute_path",
                 "impact_statement": "ash is not reachable from any interface"},
                {"vulnerability": {"name": "CVE-2023-38545"},
                 "products": [{"@id": "pkg:generic/curl",
                               "identifiers": {"cpe23": "cpe:2.3:a:haxx:curl:7.88.1:*:*:*:*:*:*:*"}}],
                 "status": "fixed"}
            ]
        }))
        .unwrap(),
    )
    .unwrap();
    let v = vex.to_str().unwrap();
    let (code, r) = scan_json(home, &[ROUTER, "--vex", v, "--fail-on", "critical"]);
    assert_eq!(code, 0, "both criticals are answered by the vendor");
    let state = |r: &Value, id: &str| -> (String, String) {
        let f = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["advisory"] == id)
            .unwrap();
        (s(&f["state"]), s(&f["analysis"]["justification"]))
    };
    assert_eq!(
        state(&r, "CVE-2022-48174"),
        (
            "not_affected".into(),
            "vulnerable_code_not_in_execute_path".into()
        )
    );
    assert_eq!(state(&r, "CVE-2023-38545"), ("fixed".into(), "-".into()));
    assert_eq!(state(&r, "CVE-2023-38039"), ("active".into(), "-".into()));

    // The CycloneDX report says the same, and read back as VEX gives the
    // same state to every finding.
    let bom_run = in_home(home, &["scan", ROUTER, "--vex", v, "--format", "cyclonedx"]);
    let bom: Value = serde_json::from_str(&bom_run.stdout).unwrap();
    let analysis = |id: &str| {
        bom["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()["analysis"]
            .clone()
    };
    assert_eq!(analysis("CVE-2022-48174")["state"], "not_affected");
    assert_eq!(
        analysis("CVE-2022-48174")["justification"],
        "code_not_reachable"
    );
    assert_eq!(analysis("CVE-2023-38545")["state"], "resolved");
    assert_eq!(analysis("CVE-2023-38039")["state"], "in_triage");
    let back = dir.path().join("report.cdx.json");
    std::fs::write(&back, &bom_run.stdout).unwrap();
    let (_, again) = scan_json(home, &[ROUTER, "--vex", back.to_str().unwrap()]);
    let states = |r: &Value| -> Vec<String> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "vulnerable")
            .map(|f| {
                format!(
                    "{} {} {}",
                    s(&f["advisory"]),
                    s(&f["purls"][0]),
                    s(&f["state"])
                )
            })
            .collect()
    };
    assert_eq!(states(&again), states(&r));

    // The same list in .fwaudit.toml is read with every scan.
    let config = dir.path().join("fwaudit.toml");
    std::fs::write(&config, "vex = [\"vendor.openvex.json\"]\n").unwrap();
    let run = in_home(
        home,
        &[
            "scan",
            ROUTER,
            "--ignore",
            config.to_str().unwrap(),
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A VEX file that is not one is an input error naming it.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"statements\": []}").unwrap();
    let run = in_home(home, &["scan", ROUTER, "--vex", bad.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("bad.json: neither OpenVEX"),
        "{}",
        run.stderr
    );
}

/// No active finding anywhere cites only fixes its component is already at
/// or past: compared in the package's own scheme where the distribution
/// decided, upstream otherwise.
#[test]
fn no_active_finding_is_past_every_fix_it_cites() {
    use fwaudit::version::{Scheme, compare};
    use std::cmp::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap();
    let mut args = vec!["db", "import", TRACKER];
    args.extend_from_slice(NVD);
    assert_eq!(in_home(home, &args).code, 0);
    let mut checked = 0;
    for target in [
        DEBIAN,
        OPKG,
        ROUTER,
        "samples/openwrt-mipsel.bin",
        "tests/fixtures/manifests/rootfs-mixed",
    ] {
        let (_, r) = scan_json(home, &[target]);
        for f in r["findings"].as_array().unwrap() {
            if f["kind"] != "vulnerable" || f["state"] != "active" {
                continue;
            }
            let fixes: Vec<String> = f["fixed_versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(s)
                .collect();
            if fixes.is_empty() {
                continue;
            }
            let by_distro = !f["analysis"]["fixed_in"].is_null();
            let c = r["components"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["purl"] == f["purls"][0])
                .unwrap();
            let below_a_fix = if by_distro {
                let scheme = Scheme::for_ecosystem(&s(&c["ecosystem"]));
                fixes
                    .iter()
                    .any(|x| scheme.compare(&s(&c["version"]), x) == Ordering::Less)
            } else {
                let (_, version) = s(&f["component"])
                    .split_once('@')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap();
                fixes.iter().any(|x| compare(&version, x) == Ordering::Less)
            };
            assert!(below_a_fix, "{target}: {f}");
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} active findings checked");
}

#[test]
fn a_kernel_configuration_leaves_out_the_code_of_some_kernel_cves() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap();
    let import = in_home(home, &["db", "import", "tests/data/kernel-cve5.json"]);
    assert_eq!(import.code, 0, "{}", import.stderr);
    assert_eq!(import.stdout, "imported 36 cve5 advisories\n");
    let (code, r) = scan_json(home, &["tests/data/kernel-armmp.tar.xz"]);
    assert_eq!(code, 0, "{}", r["notes"]);
    // Debian's armmp kernel: upstream 6.1.192 (not the 6.1.0 ABI), and the
    // /boot/config of the same release joined to it.
    let kernel = &r["components"][0];
    assert_eq!(s(&kernel["name"]), "linux");
    assert_eq!(s(&kernel["version"]), "6.1.192");
    let config = &kernel["kernel_config"];
    assert!(s(&config["path"]).ends_with(":tar/boot/config-6.1.0-57-armmp"));
    assert_eq!(config["arch"], "arm");
    let vuln: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "vulnerable")
        .collect();
    let states: BTreeMap<String, usize> = vuln.iter().fold(BTreeMap::new(), |mut m, f| {
        *m.entry(s(&f["state"])).or_default() += 1;
        m
    });
    assert_eq!(
        states,
        BTreeMap::from([("active".to_string(), 12), ("not_affected".to_string(), 24)])
    );
    let find = |id: &str| *vuln.iter().find(|f| f["advisory"] == id).unwrap();
    // NTFS3 is not built: the config's own line says so.
    let ntfs = find("CVE-2024-27407");
    assert_eq!(ntfs["state"], "not_affected");
    assert_eq!(ntfs["analysis"]["source"], "kernel-config");
    assert_eq!(
        ntfs["analysis"]["justification"],
        "vulnerable_code_not_present"
    );
    assert_eq!(ntfs["analysis"]["evidence"]["line"], 9884);
    assert_eq!(
        ntfs["analysis"]["evidence"]["evidence"],
        "# CONFIG_NTFS3_FS is not set"
    );
    // SuperH code is not in an ARM kernel.
    assert!(
        s(&find("CVE-2023-52629")["analysis"]["detail"])
            .contains("arch/sh/drivers/push-switch.c is sh code; this kernel is arm")
    );
    // A CVE in code this kernel builds stays active, with the fix on its line.
    let of = find("CVE-2023-52485");
    assert_eq!(of["state"], "active", "{of}");
    assert!(!of["fixed_versions"].as_array().unwrap().is_empty());
}

#[test]
fn apk_versions_are_read_as_their_upstream_release() {
    let home = tempfile::tempdir().unwrap();
    let (_, r) = scan_json(
        home.path().to_str().unwrap(),
        &["tests/fixtures/manifests/rootfs-mixed"],
    );
    let zlib = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ecosystem"] == "apk")
        .unwrap();
    assert_eq!(s(&zlib["version"]), "1.2.13-r1");
    assert_eq!(s(&zlib["upstream"]["version"]), "1.2.13");
    assert_eq!(s(&zlib["source_package"]), "zlib");
    // CVE-2022-37434 was fixed in 1.2.13 itself: not a finding.
    assert!(
        !r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["advisory"] == "CVE-2022-37434"),
        "{}",
        r["findings"]
    );
}
