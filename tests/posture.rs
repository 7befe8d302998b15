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
    // Git keeps no file modes but the executable bit: a copy with the modes
    // the tools gave the keys (private keys 0600, three planted readable).
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("keys")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    for line in std::fs::read_to_string(fixture("keys.modes"))
        .unwrap()
        .lines()
    {
        let Some((mode, file)) = line.split_once(' ').filter(|_| !line.starts_with('#')) else {
            continue;
        };
        use std::os::unix::fs::PermissionsExt;
        let mode = u32::from_str_radix(mode, 8).unwrap();
        std::fs::set_permissions(
            copy.path().join(file),
            std::fs::Permissions::from_mode(mode),
        )
        .unwrap();
    }
    let keys = copy.path().to_str().unwrap();
    let (code, report) = json(&[
        "scan",
        keys,
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
                && s(&a["bits"]) == *bits
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

/// `RULE severity /path[:line]` of every posture finding (path inside the file system).
fn placed(report: &Value) -> Vec<String> {
    let mut v: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].is_string())
        .map(|f| {
            let path = s(&f["path"]);
            let inner = path
                .rsplit_once(':')
                .map_or(path.as_str(), |(_, p)| &p[p.find('/').unwrap_or(0)..])
                .to_string();
            let line = f["evidence"][0]["line"]
                .as_u64()
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            format!("{} {} {inner}{line}", s(&f["rule"]), s(&f["severity"]))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn openwrt_style_root_every_planted_problem_and_nothing_else() {
    let (code, report) = json(&[
        "scan",
        &fixture("openwrt.sqfs"),
        "--format",
        "json",
        "--checks",
        "hardening,secrets,accounts,services",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(code, 1, "critical findings reach --fail-on");
    assert_eq!(
        placed(&report),
        [
            "FW-ACC-002 critical /etc/mosquitto/passwd:1",
            "FW-ACC-002 critical /etc/shadow:1",
            "FW-ACC-002 critical /etc/shadow:6",
            "FW-ACC-002 critical /etc/shadow:7",
            "FW-ACC-002 critical /www/.htpasswd:1",
            "FW-ACC-002 critical /www/.htpasswd:2",
            "FW-ACC-003 high /etc/passwd:6",
            "FW-ACC-004 medium /etc/shadow:7",
            "FW-ACC-004 medium /www/.htpasswd:1",
            "FW-ACC-004 medium /www/.htpasswd:2",
            "FW-ACC-005 low /etc/passwd:9",
            "FW-HARD-001 high /usr/bin/gdbserver",
            "FW-HARD-001 high /usr/sbin/diagd",
            "FW-HARD-002 medium /usr/sbin/diagd",
            "FW-HARD-003 medium /usr/sbin/diagd",
            "FW-HARD-004 low /usr/sbin/diagd",
            "FW-KEY-001 critical /etc/dropbear/dropbear_ed25519_host_key",
            "FW-KEY-001 critical /etc/ssl/private/uhttpd.key",
            "FW-MODE-001 high /usr/sbin/diagd",
            "FW-MODE-002 medium /etc/config/network",
            "FW-MODE-002 medium /var/log",
            "FW-MODE-003 high /etc/ssl/private/uhttpd.key",
            "FW-MSG-001 high /etc/mosquitto/mosquitto.conf:3",
            "FW-MSG-002 medium /etc/mosquitto/mosquitto.conf:2",
            "FW-MSG-003 high /etc/config/cloud:3",
            "FW-MSG-003 high /usr/sbin/fw_update.sh:4",
            "FW-MSG-003 high /usr/sbin/fw_update.sh:5",
            "FW-MSG-004 high /usr/sbin/fw_update.sh:3",
            "FW-SSH-001 medium /etc/config/dropbear:3",
            "FW-SSH-002 low /etc/config/dropbear:2",
            "FW-SVC-001 high /etc/init.d/telnet:6",
            "FW-SVC-005 critical /etc/inittab:4",
            "FW-SVC-006 medium /usr/bin/gdbserver",
        ]
    );
    // The password that matched is named by its list entry, never printed.
    let text = report.to_string();
    assert!(
        text.contains("matches default credential #16 root (mirai)"),
        "{text}"
    );
    assert!(!text.contains("xc3511"));
    let (_, shown) = json(&[
        "scan",
        &fixture("openwrt.sqfs"),
        "--format",
        "json",
        "--checks",
        "accounts",
        "--show-secrets",
    ]);
    assert!(shown.to_string().contains("password \\\"xc3511\\\""));
}

#[test]
fn busybox_style_root_every_planted_problem_and_nothing_else() {
    let (_, report) = json(&[
        "scan",
        &fixture("busybox.cpio.gz"),
        "--format",
        "json",
        "--checks",
        "accounts,services",
    ]);
    assert_eq!(
        placed(&report),
        [
            "FW-ACC-001 critical /etc/passwd:2",
            "FW-ACC-002 critical /etc/passwd:1",
            "FW-ACC-002 critical /etc/passwd:3",
            "FW-ACC-003 high /etc/passwd:2",
            "FW-ACC-004 medium /etc/passwd:1",
            "FW-ACC-004 medium /etc/passwd:3",
            "FW-ACC-006 medium /etc/passwd:1",
            "FW-ACC-006 medium /etc/passwd:3",
            "FW-ACC-007 high /etc/httpd.conf:2",
            "FW-ACC-007 high /etc/lighttpd/users:1",
            "FW-MODE-001 high /bin/busybox",
            "FW-SSH-001 medium /etc/ssh/sshd_config:2",
            "FW-SSH-002 low /etc/ssh/sshd_config.d/10-local.conf:1",
            "FW-SSH-003 high /etc/ssh/sshd_config.d/10-local.conf:2",
            "FW-SVC-001 high /etc/init.d/S50telnet:3",
            "FW-SVC-003 high /etc/inetd.conf:1",
            "FW-SVC-004 high /etc/xinetd.d/rlogin:6",
            "FW-SVC-005 critical /etc/inittab:3",
            "FW-SVC-006 medium /lib/systemd/system/gdbserver.service:2",
            "FW-SVC-006 medium /usr/bin/strace",
        ]
    );
    // --checks chooses: components only gives no posture finding at all.
    let (_, none) = json(&[
        "scan",
        &fixture("busybox.cpio.gz"),
        "--format",
        "json",
        "--checks",
        "components",
    ]);
    assert!(placed(&none).is_empty());
}

#[test]
fn modes_and_owners_survive_every_format_that_stores_them() {
    for (file, owner_kept) in [
        ("modes.sqfs", true),
        ("modes.newc.cpio", true),
        ("modes.odc.cpio", true),
        ("modes.tar", true),
        ("modes.ext2", true),
        ("modes.cramfs", true),
        ("modes.jffs2", true),
        ("modes.zip", false),
    ] {
        let (code, listing) = json(&["unpack", &fixture(file), "--json"]);
        assert_eq!(code, 0, "{file}");
        let facts: BTreeSet<String> = listing["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| ["su-helper", "notes", "shared"].contains(&name(&s(&f["path"]))))
            .map(|f| {
                format!(
                    "{} {} {}:{}",
                    name(&s(&f["path"])),
                    s(&f["mode"]),
                    f["uid"],
                    f["gid"]
                )
            })
            .collect();
        let notes_owner = if owner_kept { "1000:100" } else { "0:0" };
        let want: BTreeSet<String> = [
            "su-helper 4755 0:0".to_string(),
            format!("notes 0600 {notes_owner}"),
            "shared 0777 0:0".to_string(),
        ]
        .into_iter()
        .collect();
        assert_eq!(facts, want, "{file}");
    }
    // And the check reads them: the setuid helper and the shared directory.
    let (_, report) = json(&[
        "scan",
        &fixture("modes.tar"),
        "--format",
        "json",
        "--checks",
        "services",
    ]);
    assert_eq!(
        placed(&report),
        [
            "FW-MODE-001 high /bin/su-helper",
            "FW-MODE-002 medium /shared"
        ]
    );
}

#[test]
fn triage_suppresses_posture_findings_by_rule_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let triage = dir.path().join("triage.toml");
    std::fs::write(
        &triage,
        "[[ignore]]\nid = \"FW-MODE-001\"\npath = \"/bin/su-helper\"\nreason = \"vendor tool, reviewed\"\n",
    )
    .unwrap();
    let triage = triage.to_str().unwrap();
    let args = [
        "scan",
        &fixture("modes.tar"),
        "--checks",
        "services",
        "--ignore",
        triage,
        "--fail-on",
        "high",
    ];
    let run = fwaudit(&args);
    assert_eq!(
        run.code, 0,
        "the only high finding is suppressed: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("[suppressed: vendor tool, reviewed]"),
        "{}",
        run.stdout
    );
    let (_, report) = json(&[&args[..], &["--format", "json"]].concat());
    let states: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(&f["state"]))
        .collect();
    assert_eq!(states, ["suppressed", "active"]);
}

#[test]
fn fleet_keys_lists_private_keys_two_images_share() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    // Two releases: the same root file system, padded differently (two SHA-256s).
    let a = dir.path().join("rt-1.0.bin");
    let b = dir.path().join("rt-1.1.bin");
    let root_fs = std::fs::read(root().join(fixture("openwrt.sqfs"))).unwrap();
    std::fs::write(&a, &root_fs).unwrap();
    let mut padded = root_fs.clone();
    padded.extend_from_slice(&[0xff; 4096]);
    std::fs::write(&b, &padded).unwrap();
    for image in [&a, &b] {
        let run = fwaudit(&[
            "--data-dir",
            data,
            "scan",
            image.to_str().unwrap(),
            "--store",
            "--checks",
            "secrets",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let (code, keys) = json(&["--data-dir", data, "fleet", "keys", "--shared", "--json"]);
    assert_eq!(code, 0);
    let keys = keys.as_array().unwrap();
    // The dropbear host key and the TLS key, each in both images.
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut found: Vec<String> = keys
        .iter()
        .map(|k| {
            format!(
                "{} {} {}",
                s(&k["algorithm"]),
                k["images"].as_array().unwrap().len(),
                name(&s(&k["paths"][0]))
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        ["ed25519 2 dropbear_ed25519_host_key", "rsa 2 uhttpd.key"]
    );
    let host = keys
        .iter()
        .find(|k| s(&k["algorithm"]) == "ed25519")
        .unwrap();
    assert!(s(&host["fingerprint"]).starts_with("sha256:"));
    let text = fwaudit(&["--data-dir", data, "fleet", "keys"]);
    assert!(text.stdout.ends_with("2 private keys\n"), "{}", text.stdout);
    assert!(
        text.stdout
            .contains("in 2 images, 0 models (0 devices)  SHARED"),
        "{}",
        text.stdout
    );
}
