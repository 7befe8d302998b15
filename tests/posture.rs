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
