//! Posture checks through the binary, on fixtures made by the real tools
//! (tests/fixtures/posture/make-*.sh): keys and certificates, accounts,
//! services and messaging, file modes, binary hardening.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

fn fixture(rel: &str) -> String {
    format!("tests/fixtures/posture/{rel}")
}

fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `RULE file` of every finding, sorted.
fn rule_findings(report: &Value) -> Vec<String> {
    let mut v: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].is_string())
        .map(|f| {
            format!(
                "{} {} {}",
                s(&f["rule"]),
                s(&f["severity"]),
                name(&s(&f["path"]))
            )
        })
        .collect();
    v.sort();
    v
}

fn tsv(path: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(root().join(path))
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn keys_and_certificates_agree_with_openssl_and_ssh_keygen() {
    let (code, report) = json(&[
        "scan",
        &fixture("keys"),
        "--format",
        "json",
        "--checks",
        "secrets",
        "--now",
        "2027-06-01",
    ]);
    assert_eq!(code, 0);
    let crypto = report["crypto"].as_array().unwrap();
    // Every fact OpenSSL states about a file is in the inventory.
    for row in tsv(&fixture("keys/expected.tsv")) {
        let [asset, file, alg, bits, fp] = &row[..] else {
            panic!("{row:?}")
        };
        let hit = crypto.iter().find(|a| {
            s(&a["asset"]) == *asset
                && name(&s(&a["path"])) == file
                && s(&a["algorithm"]) == *alg
                && a["bits"].to_string() == *bits
                && s(&a["fingerprint"]) == *fp
        });
        assert!(hit.is_some(), "missing {row:?}");
    }
    // OpenSSH's fingerprints, and the SPKI form of the same SSH key.
    for row in tsv(&fixture("keys/expected-ssh.tsv")) {
        let [file, bits, ssh, spki] = &row[..] else {
            panic!("{row:?}")
        };
        let a = crypto
            .iter()
            .find(|a| name(&s(&a["path"])) == file && s(&a["asset"]) == "private-key")
            .unwrap_or_else(|| panic!("no key in {file}"));
        assert_eq!(s(&a["ssh_fingerprint"]), *ssh, "{file}");
        assert_eq!(a["bits"].to_string(), *bits, "{file}");
        if spki != "-" {
            assert_eq!(s(&a["fingerprint"]), *spki, "{file}");
        }
    }
    // Public keys and certificates alone are inventory; the negatives are nothing.
    let by_file: BTreeSet<String> = crypto
        .iter()
        .map(|a| format!("{} {}", name(&s(&a["path"])), s(&a["asset"])))
        .collect();
    for inventory in [
        "authorized_keys public-key",
        "ssh_host_ed25519_key.pub public-key",
        "ec-p256.pub.pem public-key",
        "server-cert.der certificate",
        "ca.crt certificate",
    ] {
        assert!(by_file.contains(inventory), "{inventory}: {by_file:?}");
    }
    assert!(
        !by_file
            .iter()
            .any(|f| f.starts_with("not-a-key") || f.starts_with("not-der")),
        "{by_file:?}"
    );
    assert_eq!(
        rule_findings(&report),
        [
            "FW-CERT-001 medium expired-sha1.crt",
            "FW-CERT-002 medium expired-sha1.crt",
            "FW-CERT-003 low not-yet-valid.crt",
            "FW-CERT-004 high expired-bundle.pem",
            "FW-KEY-001 critical dropbear_ecdsa_host_key",
            "FW-KEY-001 critical dropbear_ed25519_host_key",
            "FW-KEY-001 critical dropbear_rsa_host_key",
            "FW-KEY-001 critical embedded-der.bin",
            "FW-KEY-001 critical plain.p12",
            "FW-KEY-001 critical server-key.der",
            "FW-KEY-001 critical server.pem",
            "FW-KEY-001 critical ssh_host_ed25519_key",
            "FW-KEY-001 high dsa1024.key",
            "FW-KEY-001 high ec-p192.key",
            "FW-KEY-001 high ec-p256.key",
            "FW-KEY-001 high ed25519.key",
            "FW-KEY-001 high embedded-pem.elf",
            "FW-KEY-001 high putty.ppk",
            "FW-KEY-001 high weak-rsa1024.key",
            "FW-KEY-002 medium encrypted-legacy.key",
            "FW-KEY-002 medium encrypted-pkcs8.key",
            "FW-KEY-002 medium id_rsa",
            "FW-KEY-002 medium shrouded.p12",
            "FW-KEY-003 medium dsa1024.key",
            "FW-KEY-003 medium ec-p192.key",
            "FW-KEY-003 medium expired-sha1.crt",
            "FW-KEY-003 medium weak-rsa1024.key",
            "FW-MODE-003 high embedded-der.bin",
            "FW-MODE-003 high embedded-pem.elf",
            "FW-MODE-003 high server.pem",
        ]
    );
}

#[test]
fn certificates_are_judged_at_now() {
    // Before the expired certificate's end and before the bundle's: neither is expired.
    let (_, report) = json(&[
        "scan",
        &fixture("keys/expired-sha1.crt"),
        "--format",
        "json",
        "--checks",
        "secrets",
        "--now",
        "2019-06-01T12:00:00Z",
    ]);
    assert_eq!(
        rule_findings(&report),
        [
            "FW-CERT-001 medium expired-sha1.crt",
            "FW-KEY-003 medium expired-sha1.crt"
        ]
    );
    let run = fwaudit(&["scan", &fixture("keys"), "--now", "soon"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--now \"soon\""), "{}", run.stderr);
}

/// checksec's verdicts (tests/fixtures/posture/checksec.csv, written by
/// make-binaries.sh with Debian's checksec 2.5) against fwaudit's, on the
/// compiled echo daemons and every ELF file of both samples. FORTIFY counts
/// agree wherever checksec's host libc is the image's libc (glibc 2.36);
/// the one disagreement is musl's libc.so, judged by checksec against the
/// host's glibc.
#[test]
fn hardening_agrees_with_checksec() {
    let mut reports = Vec::new();
    for target in [
        &fixture("bin"),
        "samples/router-armhf.bin",
        "samples/openwrt-mipsel.bin",
    ] {
        let (_, r) = json(&["scan", target, "--format", "json", "--checks", "hardening"]);
        reports.push(r);
    }
    let rows = tsv(&fixture("checksec.csv"));
    assert_eq!(rows.len(), 41);
    let mut compared = 0;
    for row in rows {
        let row: Vec<&str> = row[0].split(',').collect();
        let (
            file,
            relro,
            canary,
            nx,
            pie,
            _rpath,
            runpath,
            symbols,
            fortify,
            fortified,
            fortifiable,
        ) = (
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10],
        );
        let (report, suffix) = match file.split_once(':') {
            Some(("router-armhf", p)) => (&reports[1], format!(":squashfs/{p}")),
            Some(("openwrt-mipsel", p)) => (&reports[2], format!(":squashfs/{p}")),
            _ => (&reports[0], format!("/{file}")),
        };
        let b = report["binaries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| s(&b["path"]).ends_with(&suffix))
            .unwrap_or_else(|| panic!("{file} not among the binaries"));
        let h = &b["hardening"];
        let ours_relro = match relro {
            "Full RELRO" => "full",
            "Partial RELRO" => "partial",
            _ => "none",
        };
        assert_eq!(s(&h["relro"]), ours_relro, "{file} RELRO");
        assert_eq!(h["canary"], canary == "Canary found", "{file} canary");
        assert_eq!(h["nx"], nx == "NX enabled", "{file} NX");
        let ours_pie = match pie {
            "PIE enabled" => "pie",
            "DSO" => "dso",
            _ => "no",
        };
        assert_eq!(s(&h["pie"]), ours_pie, "{file} PIE");
        assert_eq!(
            b["runpath"].is_array(),
            runpath == "RUNPATH",
            "{file} RUNPATH"
        );
        assert_eq!(h["stripped"], symbols == "No Symbols", "{file} symbols");
        let n = |v: &Value| v.as_array().map_or(0, Vec::len);
        if file.ends_with("/libc.so.6") {
            // checksec counts the _chk functions glibc defines as its own
            // fortified calls; to fwaudit they are the image's FORTIFY
            // functions, against which every other file is judged.
            assert_eq!(n(&h["fortified"]), 0, "{file}");
            assert_eq!(
                report["hardening"]["libc_chk_functions"].to_string(),
                fortified
            );
            compared += 1;
            continue;
        }
        assert_eq!(fortify == "Yes", n(&h["fortified"]) > 0, "{file} FORTIFY");
        assert_eq!(
            fortified,
            n(&h["fortified"]).to_string(),
            "{file} fortified"
        );
        // checksec counts every call with a _chk form in the host's glibc,
        // fortified or not; fwaudit the unfortified ones in the image's libc.
        if matches!(
            file,
            "openwrt-mipsel:lib/libc.so" | "openwrt-mipsel:usr/bin/sysinfo"
        ) {
            // musl and what links it: checksec judges them against the
            // host's glibc; musl has no _chk functions to call.
            let want = if file.ends_with("libc.so") {
                "none"
            } else {
                "n/a"
            };
            assert_eq!(s(&h["fortify"]), want, "{file}");
            assert_ne!(fortifiable, "0");
        } else if !file.starts_with("echod-") {
            assert_eq!(
                fortifiable,
                (n(&h["fortified"]) + n(&h["fortifiable"])).to_string(),
                "{file} fortifiable"
            );
        }
        compared += 1;
    }
    assert_eq!(compared, 41);
    // Alone, the daemons have no libc to be judged against.
    let plain = reports[0]["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| s(&b["path"]).ends_with("echod-plain-x86_64"))
        .unwrap();
    assert_eq!(s(&plain["hardening"]["fortify"]), "unknown");
    assert_eq!(
        rule_findings(&reports[0]),
        [
            "FW-HARD-001 high echod-hardened-mipsel",
            "FW-HARD-001 high echod-plain-armhf",
            "FW-HARD-001 high echod-plain-mipsel",
            "FW-HARD-001 high echod-plain-x86_64",
            "FW-HARD-001 high echod-runpath-mipsel",
            "FW-HARD-002 medium echod-plain-armhf",
            "FW-HARD-002 medium echod-plain-mipsel",
            "FW-HARD-002 medium echod-plain-x86_64",
            "FW-HARD-003 medium echod-plain-armhf",
            "FW-HARD-003 medium echod-plain-mipsel",
            "FW-HARD-003 medium echod-plain-x86_64",
            "FW-HARD-004 low echod-plain-armhf",
            "FW-HARD-004 low echod-plain-mipsel",
            "FW-HARD-004 low echod-plain-x86_64",
            "FW-HARD-005 high echod-runpath-armhf",
            "FW-HARD-005 high echod-runpath-armhf",
            "FW-HARD-005 high echod-runpath-mipsel",
            "FW-HARD-005 high echod-runpath-mipsel",
            "FW-HARD-005 high echod-runpath-x86_64",
            "FW-HARD-005 high echod-runpath-x86_64",
        ]
    );
}
