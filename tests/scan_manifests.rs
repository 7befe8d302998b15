//! Manifests and package databases, through the built binary: every fixture
//! under tests/fixtures/manifests was written by the real tool (see its
//! README), and each test asserts the exact component list.

mod common;

use common::{fwaudit, json, s};
use serde_json::Value;
use std::process::Command;

const FIX: &str = "tests/fixtures/manifests";

/// `purl ecosystem dependency[ unpinned] path: evidence[ [package P]]` per
/// component, paths relative to `base`.
fn rows(report: &Value, base: &str) -> Vec<String> {
    report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let src = &c["sources"][0];
            let path = s(&src["path"]);
            format!(
                "{} {} {}{} {}: {}{}",
                s(&c["purl"]),
                s(&c["ecosystem"]),
                s(&c["dependency"]),
                if c["unpinned"] == true {
                    " unpinned"
                } else {
                    ""
                },
                path.strip_prefix(&format!("{base}/")).unwrap_or(&path),
                s(&src["evidence"]),
                match &src["package"] {
                    Value::String(p) => format!(" [package {p}]"),
                    _ => String::new(),
                }
            )
        })
        .collect()
}

/// `path: message` per note.
fn notes(report: &Value) -> Vec<String> {
    report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{}: {}", s(&n["path"]), s(&n["message"])))
        .collect()
}

fn scan(target: &str) -> (i32, Value) {
    json(&["scan", target, "--format", "json"])
}

#[test]
fn cargo_lock_given_alone_is_a_manifest() {
    let target = format!("{FIX}/cargo-lock/Cargo.lock");
    let (code, r) = scan(&target);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["target"]["kind"], "manifest");
    assert_eq!(r["target"]["size"], 1715);
    assert_eq!(
        rows(&r, &format!("{FIX}/cargo-lock")),
        [
            "pkg:cargo/libc@0.2.191 cargo transitive Cargo.lock: line 6: libc 0.2.191",
            "pkg:cargo/smallvec@1.6.0 cargo direct Cargo.lock: line 12: smallvec 1.6.0",
            "pkg:cargo/time@0.1.44 cargo direct Cargo.lock: line 18: time 0.1.44",
            "pkg:cargo/wasi@0.10.0%2Bwasi-snapshot-preview1 cargo transitive Cargo.lock: line 37: wasi 0.10.0+wasi-snapshot-preview1",
            "pkg:cargo/winapi@0.3.9 cargo transitive Cargo.lock: line 43: winapi 0.3.9",
            "pkg:cargo/winapi-i686-pc-windows-gnu@0.4.0 cargo transitive Cargo.lock: line 53: winapi-i686-pc-windows-gnu 0.4.0",
            "pkg:cargo/winapi-x86_64-pc-windows-gnu@0.4.0 cargo transitive Cargo.lock: line 59: winapi-x86_64-pc-windows-gnu 0.4.0",
        ]
    );
    assert_eq!(r["components"][1]["ecosystem_osv"], "crates.io");
    assert_eq!(r["layers"], Value::Array(vec![]));
}

#[test]
fn cargo_workspace_through_cargo_metadata() {
    let target = format!("{FIX}/cargo-workspace");
    let (code, r) = scan(&target);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["target"]["kind"], "project");
    assert_eq!(
        rows(&r, &target),
        [
            "pkg:cargo/leftpad@1.0.0 cargo direct Cargo.toml: cargo metadata: leftpad 1.0.0",
            "pkg:cargo/padding@0.3.1 cargo transitive Cargo.toml: cargo metadata: padding 0.3.1",
        ]
    );
    // Path crates are not crates.io releases: no OSV ecosystem to match in.
    assert!(r["components"][0]["ecosystem_osv"].is_null());
}

#[test]
fn missing_cargo_is_a_clear_error_and_the_rest_is_scanned() {
    let out = Command::new(env!("CARGO_BIN_EXE_fwaudit"))
        .args([
            "scan",
            &format!("{FIX}/cargo-workspace"),
            "--format",
            "json",
        ])
        .current_dir(common::root())
        .env("CARGO", "/nonexistent/cargo")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        notes(&r),
        [format!(
            "{FIX}/cargo-workspace/Cargo.toml: cannot run `cargo metadata`: cargo not found (install Rust's cargo or set CARGO to its path); dependencies were read from Cargo.lock instead where present"
        )]
    );
    // Its Cargo.lock holds only path crates, which a lockfile cannot tell from the project.
    assert_eq!(rows(&r, ""), Vec::<String>::new());
}

/// The tiny package.json locked by npm 11 (v1, v2, v3), yarn 1 and pnpm 10.
fn js_names() -> Vec<&'static str> {
    vec![
        "pkg:npm/%40babel/code-frame@7.12.13",
        "pkg:npm/%40babel/helper-validator-identifier@7.29.7",
        "pkg:npm/%40babel/highlight@7.25.9",
        "pkg:npm/ansi-styles@3.2.1",
        "pkg:npm/chalk@2.4.2",
        "pkg:npm/color-convert@1.9.3",
        "pkg:npm/color-name@1.1.3",
        "pkg:npm/escape-string-regexp@1.0.5",
        "pkg:npm/has-flag@3.0.0",
        "pkg:npm/js-tokens@4.0.0",
        "pkg:npm/lodash@4.17.20",
        "pkg:npm/ms@2.0.0",
        "pkg:npm/picocolors@1.1.1",
        "pkg:npm/supports-color@5.5.0",
    ]
}

/// "from -> to" for every `depends_on` edge of a report.
fn edges(r: &Value) -> Vec<String> {
    let mut out: Vec<String> = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            let from = s(&c["purl"]);
            c["depends_on"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |to| format!("{from} -> {}", s(to)))
        })
        .collect();
    out.sort();
    out
}

/// The same JavaScript project locked by npm (v1, v2, v3), yarn (classic,
/// berry) and pnpm: every lockfile gives the same dependency graph, and
/// the Python project's poetry and uv locks agree with each other.
#[test]
fn lockfiles_of_one_project_give_one_dependency_graph() {
    let js = [
        "pkg:npm/%40babel/code-frame@7.12.13 -> pkg:npm/%40babel/highlight@7.25.9",
        "pkg:npm/%40babel/highlight@7.25.9 -> pkg:npm/%40babel/helper-validator-identifier@7.29.7",
        "pkg:npm/%40babel/highlight@7.25.9 -> pkg:npm/chalk@2.4.2",
        "pkg:npm/%40babel/highlight@7.25.9 -> pkg:npm/js-tokens@4.0.0",
        "pkg:npm/%40babel/highlight@7.25.9 -> pkg:npm/picocolors@1.1.1",
        "pkg:npm/ansi-styles@3.2.1 -> pkg:npm/color-convert@1.9.3",
        "pkg:npm/chalk@2.4.2 -> pkg:npm/ansi-styles@3.2.1",
        "pkg:npm/chalk@2.4.2 -> pkg:npm/escape-string-regexp@1.0.5",
        "pkg:npm/chalk@2.4.2 -> pkg:npm/supports-color@5.5.0",
        "pkg:npm/color-convert@1.9.3 -> pkg:npm/color-name@1.1.3",
        "pkg:npm/supports-color@5.5.0 -> pkg:npm/has-flag@3.0.0",
    ];
    for dir in [
        "npm-v1",
        "npm-v2",
        "npm-v3",
        "yarn-v1",
        "yarn-berry",
        "pnpm-v9",
    ] {
        let (code, r) = scan(&format!("{FIX}/{dir}"));
        assert_eq!(code, 0);
        assert_eq!(edges(&r), js, "{dir}");
    }
    let (_, poetry) = scan(&format!("{FIX}/python-poetry"));
    let (_, uv) = scan(&format!("{FIX}/python-uv"));
    assert_eq!(
        edges(&poetry),
        [
            "pkg:pypi/jinja2@2.10 -> pkg:pypi/markupsafe@3.0.4",
            "pkg:pypi/requests@2.19.0 -> pkg:pypi/certifi@2026.10.19.post1",
            "pkg:pypi/requests@2.19.0 -> pkg:pypi/chardet@3.0.4",
            "pkg:pypi/requests@2.19.0 -> pkg:pypi/idna@2.7",
            "pkg:pypi/requests@2.19.0 -> pkg:pypi/urllib3@1.23",
        ]
    );
    assert_eq!(edges(&poetry), edges(&uv));
}

#[test]
fn package_lock_v1_v2_v3_agree() {
    let direct = ["@babel/code-frame", "lodash", "ms"];
    for (version, lines) in [
        ("1", [7, 14, 18, 28, 35, 44, 51, 55, 59, 63, 67, 71, 76, 80]),
        (
            "2",
            [18, 26, 34, 48, 59, 72, 80, 85, 93, 101, 106, 111, 117, 122],
        ),
        (
            "3",
            [18, 26, 34, 48, 59, 72, 80, 85, 93, 101, 106, 111, 117, 122],
        ),
    ] {
        let target = format!("{FIX}/npm-v{version}");
        let (code, r) = scan(&target);
        assert_eq!(code, 0);
        let expected: Vec<String> = js_names()
            .iter()
            .zip(lines)
            .map(|(purl, line)| {
                let (name, v) = purl["pkg:npm/".len()..].rsplit_once('@').unwrap();
                let name = name.replace("%40", "@");
                let relation = if direct.contains(&name.as_str()) {
                    "direct"
                } else {
                    "transitive"
                };
                format!("{purl} npm {relation} package-lock.json: line {line}: {name} {v}")
            })
            .collect();
        assert_eq!(rows(&r, &target), expected, "lockfile v{version}");
    }
}

#[test]
fn yarn_berry_lockfile() {
    // Yarn 4 (`@yarnpkg/cli-dist`), `yarn install --mode=update-lockfile`.
    let target = format!("{FIX}/yarn-berry");
    let (code, r) = scan(&target);
    assert_eq!(code, 0, "{}", r["notes"]);
    let purls: Vec<String> = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| s(&c["purl"]))
        .collect();
    assert_eq!(purls, js_names());
    let direct: Vec<String> = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["dependency"] == "direct")
        .map(|c| s(&c["name"]))
        .collect();
    assert_eq!(direct, ["@babel/code-frame", "lodash", "ms"]);
    assert_eq!(
        rows(&r, &target)[0],
        "pkg:npm/%40babel/code-frame@7.12.13 npm direct yarn.lock: line 8: @babel/code-frame 7.12.13"
    );
}

#[test]
fn yarn_and_pnpm_lockfiles() {
    let (_, yarn) = scan(&format!("{FIX}/yarn-v1"));
    let (_, pnpm) = scan(&format!("{FIX}/pnpm-v9"));
    let purls = |r: &Value| -> Vec<String> {
        r["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| s(&c["purl"]))
            .collect()
    };
    assert_eq!(purls(&yarn), js_names());
    assert_eq!(purls(&pnpm), js_names());
    assert_eq!(
        rows(&yarn, &format!("{FIX}/yarn-v1"))[10],
        "pkg:npm/lodash@4.17.20 npm direct yarn.lock: line 70: lodash 4.17.20"
    );
    assert_eq!(
        rows(&pnpm, &format!("{FIX}/pnpm-v9"))[..2],
        [
            "pkg:npm/%40babel/code-frame@7.12.13 npm direct pnpm-lock.yaml: line 24: @babel/code-frame 7.12.13",
            "pkg:npm/%40babel/helper-validator-identifier@7.29.7 npm transitive pnpm-lock.yaml: line 27: @babel/helper-validator-identifier 7.29.7",
        ]
    );
}

#[test]
fn requirements_with_hashes_includes_and_unpinned_lines() {
    let target = format!("{FIX}/python-req");
    let (code, r) = scan(&target);
    assert_eq!(code, 0);
    // requirements-dev.txt includes requirements.txt: each pin is listed once.
    assert_eq!(
        rows(&r, &target),
        [
            "pkg:pypi/certifi@2026.10.19.post1 pypi - requirements.txt: line 3: certifi 2026.10.19.post1",
            "pkg:pypi/chardet@3.0.4 pypi - requirements.txt: line 6: chardet 3.0.4",
            "pkg:pypi/idna@2.7 pypi - requirements.txt: line 10: idna 2.7",
            "pkg:pypi/jinja2@2.10 pypi - requirements.txt: line 14: jinja2 2.10",
            "pkg:pypi/markupsafe@3.0.4 pypi - requirements.txt: line 18: markupsafe 3.0.4",
            "pkg:pypi/requests@2.19.0 pypi - requirements.txt: line 171: requests 2.19.0",
            "pkg:pypi/urllib3@1.23 pypi - requirements.txt: line 175: urllib3 1.23",
            "pkg:pypi/pytest pypi - unpinned requirements-dev.txt: line 2: pytest >=7.0",
            "pkg:pypi/flake8 pypi - unpinned requirements-dev.txt: line 3: flake8 *",
        ]
    );
}

#[test]
fn uv_poetry_and_pipenv_locks() {
    let expected = |file: &str, lines: [usize; 7]| -> Vec<String> {
        [
            ("certifi", "2026.10.19.post1"),
            ("chardet", "3.0.4"),
            ("idna", "2.7"),
            ("jinja2", "2.10"),
            ("markupsafe", "3.0.4"),
            ("requests", "2.19.0"),
            ("urllib3", "1.23"),
        ]
        .iter()
        .zip(lines)
        .map(|((n, v), l)| format!("pkg:pypi/{n}@{v} pypi - {file}: line {l}: {n} {v}"))
        .collect()
    };
    let (_, uv) = scan(&format!("{FIX}/python-uv"));
    assert_eq!(
        rows(&uv, &format!("{FIX}/python-uv")),
        expected("uv.lock", [6, 14, 23, 32, 44, 202, 232])
    );
    let (_, poetry) = scan(&format!("{FIX}/python-poetry"));
    assert_eq!(
        rows(&poetry, &format!("{FIX}/python-poetry")),
        expected("poetry.lock", [4, 20, 37, 54, 77, 243, 270])
    );
    let (_, pipenv) = scan(&format!("{FIX}/python-pipenv"));
    assert_eq!(
        rows(&pipenv, &format!("{FIX}/python-pipenv")),
        expected("Pipfile.lock", [19, 26, 33, 40, 48, 205, 214])
    );
}

#[test]
fn rootfs_package_databases_files_lists_and_attribution() {
    let target = format!("{FIX}/rootfs-mixed");
    let (code, r) = scan(&target);
    assert_eq!(code, 0, "{}", r["notes"]);
    assert_eq!(r["target"]["kind"], "rootfs");
    assert_eq!(
        rows(&r, &target),
        [
            "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all deb - var/lib/dpkg/status.d/tzdata: line 1: Package: tzdata, Version: 2024a-0+deb12u1",
            "pkg:pypi/requests@2.19.0 pypi - usr/lib/python3/site-packages/requests-2.19.0.dist-info/METADATA: line 2: requests 2.19.0",
            "pkg:opkg/openwrt/busybox@1.35.0-6?arch=mipsel_24kc opkg - usr/lib/opkg/info/busybox.control: line 1: Package: busybox, Version: 1.35.0-6",
            "pkg:opkg/openwrt/dropbear@2022.82-6?arch=mipsel_24kc opkg - usr/lib/opkg/info/dropbear.control: line 1: Package: dropbear, Version: 2022.82-6",
            "pkg:apk/alpine/zlib@1.2.13-r1?arch=x86_64 apk - lib/apk/db/installed: line 1: P:zlib V:1.2.13-r1",
        ]
    );
    let files = |i: usize| -> Vec<String> {
        r["components"][i]["files"]
            .as_array()
            .map_or(vec![], |a| a.iter().map(s).collect())
    };
    assert_eq!(files(2), ["/bin/busybox", "/bin/sh"]);
    assert_eq!(files(4), ["/lib/libz.so.1", "/lib/libz.so.1.2.13"]);
    assert_eq!(files(1).len(), 45);
    assert!(files(1).contains(&"/usr/lib/python3/site-packages/requests/__init__.py".into()));
    assert_eq!(files(0), ["/usr/share/zoneinfo/UTC"]);
    assert_eq!(
        r["components"][4]["cpe"],
        "cpe:2.3:a:zlib:zlib:1.2.13:*:*:*:*:*:*:*"
    );
    // The busybox binary's version joined the opkg package that installed
    // it (its files list names /bin/busybox): one component, two sources.
    let busybox: Vec<String> = r["components"][2]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", s(&e["method"]), s(&e["package"])))
        .collect();
    assert_eq!(busybox, ["opkg-status -", "signature busybox"]);
    assert_eq!(r["components"][2]["upstream"]["version"], "1.35.0");
    // dropbear's `Depends` names busybox, whose stanza is in another file;
    // `libc` is not installed and gives no edge.
    assert_eq!(
        r["components"][3]["depends_on"],
        serde_json::json!(["pkg:opkg/openwrt/busybox@1.35.0-6?arch=mipsel_24kc"])
    );
}

#[test]
fn rpmdb_sqlite_written_by_rpm() {
    let target = format!("{FIX}/rootfs-rpm");
    let (code, r) = scan(&target);
    assert_eq!(code, 0, "{}", r["notes"]);
    assert_eq!(r["target"]["kind"], "rootfs");
    assert_eq!(
        rows(&r, &target),
        [
            "pkg:rpm/redhat/zlib@1.2.11-40.el9?arch=noarch rpm - var/lib/rpm/rpmdb.sqlite: package 1: zlib-1.2.11-40.el9",
            "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=noarch&epoch=1 rpm - var/lib/rpm/rpmdb.sqlite: package 2: openssl-libs-1:3.0.7-27.el9",
        ]
    );
    assert_eq!(r["components"][1]["version"], "1:3.0.7-27.el9");
    assert_eq!(
        r["components"][1]["files"],
        serde_json::json!(["/etc/pki/tls/openssl.cnf", "/usr/lib64/libssl.so.3"])
    );
    assert_eq!(r["components"][0]["upstream"]["name"], "zlib");
}

#[test]
fn malformed_lockfiles_name_file_and_line_and_the_rest_completes() {
    let target = format!("{FIX}/malformed");
    let run = fwaudit(&["scan", &target, "--format", "json"]);
    assert_eq!(run.code, 2);
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        notes(&r),
        [
            format!(
                "{target}/wrong-version/Cargo.lock: malformed Cargo.lock: line 3: unsupported Cargo.lock version 99 (fwaudit reads v1 to v4)"
            ),
            format!(
                "{target}/truncated/package-lock.json: malformed package-lock.json: line 50: EOF while parsing a string"
            ),
            format!(
                "{target}/duplicate-keys/package-lock.json: malformed package-lock.json: line 7: duplicate field `packages`"
            ),
        ]
    );
    // Printed once: in the report, not again on stderr.
    assert!(
        !run.stderr
            .contains("duplicate-keys/package-lock.json: malformed package-lock.json: line 7")
    );
    let purls: Vec<String> = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| s(&c["purl"]))
        .collect();
    assert_eq!(purls, js_names());
}

#[test]
fn huge_lockfiles_are_bounded_and_large_ones_still_read() {
    let dir = tempfile::tempdir().unwrap();
    // Over the 32 MiB manifest bound: refused with a note, not parsed.
    let huge = dir.path().join("huge");
    std::fs::create_dir(&huge).unwrap();
    let mut text = String::from("{\"lockfileVersion\": 3, \"packages\": {");
    text.push_str(&" ".repeat(33 << 20));
    text.push_str("}}");
    std::fs::write(huge.join("package-lock.json"), &text).unwrap();
    let huge_len = text.len();
    // 20,000 packages (about 1.3 MB) are read in full.
    let large = dir.path().join("large");
    std::fs::create_dir(&large).unwrap();
    let mut text = String::from("{\n\"lockfileVersion\": 3,\n\"packages\": {\n\"\": {}");
    for i in 0..20_000 {
        text.push_str(&format!(
            ",\n\"node_modules/p{i}\": {{\"version\": \"1.0.{i}\"}}"
        ));
    }
    text.push_str("\n}}\n");
    std::fs::write(large.join("package-lock.json"), &text).unwrap();
    let (h, l) = (huge.to_str().unwrap(), large.to_str().unwrap());
    let run = fwaudit(&["scan", h, l, "--format", "json"]);
    assert_eq!(run.code, 2);
    // JSON Lines: one report object per target, one per line.
    let reports: Vec<Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(reports.len(), 2);
    // The same reports as one array with --json-array.
    let (_, array) = json(&["scan", h, l, "--format", "json", "--json-array"]);
    assert_eq!(array, Value::Array(reports.clone()));
    assert_eq!(
        notes(&reports[0]),
        [format!(
            "{h}/package-lock.json: malformed package-lock.json: {} bytes, over the 32 MiB manifest limit; not read",
            huge_len
        )]
    );
    assert_eq!(reports[1]["components"].as_array().unwrap().len(), 20_000);
    assert_eq!(
        reports[1]["components"][0]["sources"][0]["evidence"],
        "line 5: p0 1.0.0"
    );
}

#[test]
fn several_targets_one_report_each_saying_what_it_was_taken_for() {
    let (code, r) = json(&[
        "scan",
        "samples/openwrt-mipsel.bin",
        &format!("{FIX}/rootfs-rpm"),
        &format!("{FIX}/npm-v3"),
        &format!("{FIX}/npm-v3/package-lock.json"),
        "--format",
        "json",
        "--json-array",
    ]);
    assert_eq!(code, 0);
    let kinds: Vec<String> = r
        .as_array()
        .unwrap()
        .iter()
        .map(|t| s(&t["target"]["kind"]))
        .collect();
    assert_eq!(kinds, ["image", "rootfs", "project", "manifest"]);
    let table = fwaudit(&["scan", &format!("{FIX}/npm-v3/package-lock.json")]);
    assert!(
        table.stdout.starts_with(&format!(
            "== {FIX}/npm-v3/package-lock.json (manifest, 4244 bytes, sha256 "
        )),
        "{}",
        table.stdout
    );
}

#[test]
fn sbom_input_from_npm_sbom() {
    // `npm sbom --package-lock-only` of the npm-v3 project: SPDX 2.3 and CycloneDX 1.5.
    let target = format!("{FIX}/sbom");
    let (code, r) = scan(&target);
    assert_eq!(code, 0);
    let rows = rows(&r, &target);
    let (spdx, cdx) = rows.split_at(14);
    let lines = |file: &str, lines: [usize; 14]| -> Vec<String> {
        js_names()
            .iter()
            .zip(lines)
            .map(|(purl, line)| {
                let (name, v) = purl["pkg:npm/".len()..].rsplit_once('@').unwrap();
                let name = name.replace("%40", "@");
                format!("{purl} npm - {file}: line {line}: {name} {v}")
            })
            .collect()
    };
    assert_eq!(
        spdx,
        lines(
            "app.spdx.json",
            [
                36, 59, 82, 105, 128, 151, 174, 197, 220, 243, 266, 289, 312, 335
            ]
        )
    );
    assert_eq!(
        cdx,
        lines(
            "bom.json",
            [
                41, 64, 87, 110, 133, 156, 179, 202, 225, 248, 271, 294, 322, 345
            ]
        )
    );
    assert_eq!(r["components"][10]["ecosystem_osv"], "npm");
}

#[test]
fn deb_and_ipk_files_shipped_in_a_tree() {
    // Built by dpkg-deb (control.tar.xz; control.tar.zst with -Zzstd,
    // Ubuntu's default) and by tar/gzip the way opkg-build does.
    let target = format!("{FIX}/package-files");
    let (_, r) = scan(&target);
    assert_eq!(
        rows(&r, &target),
        [
            "pkg:deb/debian/dnsmasq-base@2.80-1%2Bdeb10u1?arch=armhf deb - dnsmasq-base_2.80-1+deb10u1_armhf.deb: control line 1: Package: dnsmasq-base, Version: 2.80-1+deb10u1",
            "pkg:opkg/openwrt/dropbear@2022.82-6?arch=mipsel_24kc opkg - dropbear_2022.82-6_mipsel_24kc.ipk: control line 1: Package: dropbear, Version: 2022.82-6",
            "pkg:deb/debian/zstd-demo@1.2.3-1?arch=amd64 deb - zstd-demo_1.2.3-1_amd64.deb: control line 1: Package: zstd-demo, Version: 1.2.3-1",
        ]
    );
    assert!(
        common::findings(&r)
            .contains(&"high vulnerable dnsmasq@2.80 CVE-2020-25681 2.83".to_string())
    );
}

#[test]
fn wheel_given_alone() {
    // `pip download six==1.16.0`.
    let target = format!("{FIX}/wheels/six-1.16.0-py2.py3-none-any.whl");
    let (code, r) = scan(&target);
    assert_eq!(code, 0, "{}", r["notes"]);
    assert_eq!(r["target"]["kind"], "manifest");
    assert_eq!(
        rows(&r, &format!("{FIX}/wheels")),
        [
            "pkg:pypi/six@1.16.0 pypi - six-1.16.0-py2.py3-none-any.whl: six-1.16.0.dist-info/METADATA line 2: six 1.16.0"
        ]
    );
}

#[test]
fn manifests_read_from_inside_an_image() {
    // build.sh: rootfs-mixed + a Cargo.lock + a wheel in a squashfs at 0x1000.
    let target = format!("{FIX}/image/manifests-image.bin");
    let (code, r) = scan(&target);
    assert_eq!(code, 0, "{}", r["notes"]);
    assert_eq!(r["target"]["kind"], "image");
    let fs = format!("{target}@0x1000:squashfs");
    assert_eq!(
        rows(&r, &fs),
        [
            "pkg:apk/alpine/zlib@1.2.13-r1?arch=x86_64 apk - lib/apk/db/installed: line 1: P:zlib V:1.2.13-r1",
            "pkg:cargo/libc@0.2.191 cargo transitive srv/app/Cargo.lock: line 6: libc 0.2.191",
            "pkg:cargo/smallvec@1.6.0 cargo direct srv/app/Cargo.lock: line 12: smallvec 1.6.0",
            "pkg:cargo/time@0.1.44 cargo direct srv/app/Cargo.lock: line 18: time 0.1.44",
            "pkg:cargo/wasi@0.10.0%2Bwasi-snapshot-preview1 cargo transitive srv/app/Cargo.lock: line 37: wasi 0.10.0+wasi-snapshot-preview1",
            "pkg:cargo/winapi@0.3.9 cargo transitive srv/app/Cargo.lock: line 43: winapi 0.3.9",
            "pkg:cargo/winapi-i686-pc-windows-gnu@0.4.0 cargo transitive srv/app/Cargo.lock: line 53: winapi-i686-pc-windows-gnu 0.4.0",
            "pkg:cargo/winapi-x86_64-pc-windows-gnu@0.4.0 cargo transitive srv/app/Cargo.lock: line 59: winapi-x86_64-pc-windows-gnu 0.4.0",
            "pkg:pypi/six@1.16.0 pypi - srv/six-1.16.0-py2.py3-none-any.whl: six-1.16.0.dist-info/METADATA line 2: six 1.16.0",
            "pkg:opkg/openwrt/busybox@1.35.0-6?arch=mipsel_24kc opkg - usr/lib/opkg/info/busybox.control: line 1: Package: busybox, Version: 1.35.0-6",
            "pkg:opkg/openwrt/dropbear@2022.82-6?arch=mipsel_24kc opkg - usr/lib/opkg/info/dropbear.control: line 1: Package: dropbear, Version: 2022.82-6",
            "pkg:pypi/requests@2.19.0 pypi - usr/lib/python3/site-packages/requests-2.19.0.dist-info/METADATA: line 2: requests 2.19.0",
            "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all deb - var/lib/dpkg/status.d/tzdata: line 1: Package: tzdata, Version: 2024a-0+deb12u1",
        ]
    );
}

#[test]
fn a_scanned_project_cannot_make_cargo_run_its_programs() {
    // Without the command-line pins, `cargo metadata` runs a project's
    // configured rustc (checked by hand: the marker file appears).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = common::root().join(FIX).join("cargo-workspace");
    for rel in [
        "Cargo.toml",
        "Cargo.lock",
        "app/Cargo.toml",
        "app/src/main.rs",
        "vendor/leftpad/Cargo.toml",
        "vendor/leftpad/src/lib.rs",
        "vendor/padding/Cargo.toml",
        "vendor/padding/src/lib.rs",
    ] {
        std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(src.join(rel), root.join(rel)).unwrap();
    }
    let marker = root.join("PWNED");
    let script = root.join("pwn.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch {}\nexit 1\n", marker.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(root.join(".cargo")).unwrap();
    std::fs::write(
        root.join(".cargo/config.toml"),
        format!(
            "[build]\nrustc = \"{0}\"\nrustc-wrapper = \"{0}\"\n",
            script.display()
        ),
    )
    .unwrap();
    let (code, r) = scan(root.to_str().unwrap());
    assert_eq!(code, 0, "{}", r["notes"]);
    assert!(!marker.exists(), "cargo ran the project's rustc");
    assert_eq!(r["components"].as_array().unwrap().len(), 2);
}
