//! `db update` against a small HTTP server on 127.0.0.1 started by the test:
//! conditional requests, paging, retries, and failures (500, truncated body,
//! wrong content type, slow answer) that must leave the old store in place.

mod common;
use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server answers for one path.
#[derive(Clone, Default)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    etag: Option<&'static str>,
    /// Declare this Content-Length instead of the body's (to cut it short).
    claim_length: Option<usize>,
    delay: Duration,
    retry_after: Option<u64>,
    /// Sent as `x-goog-hash: md5=...` (base64), as Cloud Storage does.
    goog_md5: Option<String>,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Vec<Reply>>,
    /// (path, If-None-Match) of every request.
    seen: Vec<(String, Option<String>)>,
}

struct Server {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Server { port, state }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Replies for `path`, used in order; the last one repeats.
    fn route(&self, path: &str, replies: Vec<Reply>) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), replies);
    }

    fn seen(&self) -> Vec<(String, Option<String>)> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut if_none_match = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("if-none-match")
        {
            if_none_match = Some(v.trim().to_string());
        }
    }
    let reply = {
        let mut st = state.lock().unwrap();
        st.seen.push((path.clone(), if_none_match.clone()));
        let key = path.split('?').next().unwrap().to_string();
        // NVD pages are routed by `path?startIndex=N`, everything else by path.
        let page = path
            .split("startIndex=")
            .nth(1)
            .map(|s| format!("{key}?startIndex={s}"));
        let key = page.filter(|p| st.routes.contains_key(p)).unwrap_or(key);
        match st.routes.get_mut(&key) {
            Some(list) if list.len() > 1 => list.remove(0),
            Some(list) => list[0].clone(),
            None => Reply {
                status: 404,
                content_type: "text/plain",
                body: b"not found".to_vec(),
                ..Reply::default()
            },
        }
    };
    std::thread::sleep(reply.delay);
    let mut out = stream;
    if reply.etag.is_some() && if_none_match.as_deref() == reply.etag {
        let _ = out.write_all(
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.content_type,
        reply.claim_length.unwrap_or(reply.body.len())
    );
    if let Some(e) = reply.etag {
        head.push_str(&format!("ETag: {e}\r\n"));
    }
    if let Some(s) = reply.retry_after {
        head.push_str(&format!("Retry-After: {s}\r\n"));
    }
    if let Some(m) = &reply.goog_md5 {
        head.push_str(&format!("x-goog-hash: crc32c=AAAAAA==,md5={m}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&reply.body);
    let _ = out.flush();
    let mut drain = [0u8; 1];
    let _ = out.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = out.read(&mut drain);
}

fn osv_zip(records: &[(&str, &str)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    for (id, package) in records {
        zip.start_file(
            format!("{id}.json"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        let record = serde_json::json!({
            "schema_version": "1.6.0", "id": id, "modified": "2026-01-01T00:00:00Z",
            "summary": format!("test advisory {id}"),
            "affected": [{"package": {"ecosystem": "crates.io", "name": package},
                          "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.0"}]}]}]
        });
        zip.write_all(record.to_string().as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    buf.into_inner()
}

fn ok(content_type: &'static str, body: Vec<u8>) -> Reply {
    Reply {
        status: 200,
        content_type,
        body,
        ..Reply::default()
    }
}

fn update(home: &str, args: &[&str]) -> Run {
    let mut all = vec!["--data-dir", home, "db", "update"];
    all.extend_from_slice(args);
    fwaudit(&all)
}

#[test]
fn osv_export_then_not_modified() {
    let server = Server::start();
    let zip = osv_zip(&[
        ("RUSTSEC-2099-0001", "demo"),
        ("GHSA-aaaa-bbbb-cccc", "other"),
    ]);
    let md5 = {
        use base64::Engine;
        use md5::Digest;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&zip))
    };
    server.route(
        "/crates.io/all.zip",
        vec![Reply {
            etag: Some("\"v1\""),
            goog_md5: Some(md5),
            ..ok("application/zip", zip)
        }],
    );
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let url = server.url();
    let run = update(
        h,
        &["--source", "osv", "--ecosystem", "crates.io", "--url", &url],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "updated osv:crates.io: 2 records\n");
    let run = update(h, &["--source", "rustsec", "--url", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout, "updated rustsec: 1 records\n",
        "only RUSTSEC ids come from the rustsec source"
    );
    let run = update(
        h,
        &["--source", "osv", "--ecosystem", "crates.io", "--url", &url],
    );
    assert_eq!(
        run.stdout,
        "unchanged osv:crates.io: not modified since the last update\n"
    );
    let seen = server.seen();
    assert_eq!(
        seen.last().unwrap().1.as_deref(),
        Some("\"v1\""),
        "conditional request sent"
    );
    let (_, status) = json(&["--data-dir", h, "db", "status", "--json"]);
    assert_eq!(status["sources"]["osv:crates.io"]["count"], 2);
    assert_eq!(status["sources"]["rustsec"]["count"], 1);
    assert_eq!(status["total"], 106 + 3);
}

#[test]
fn failures_name_the_source_and_keep_the_old_store() {
    let server = Server::start();
    server.route(
        "/crates.io/all.zip",
        vec![ok(
            "application/zip",
            osv_zip(&[("RUSTSEC-2099-0002", "demo")]),
        )],
    );
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let url = server.url();
    assert_eq!(
        update(
            h,
            &["--source", "osv", "--ecosystem", "crates.io", "--url", &url]
        )
        .code,
        0
    );
    let store = home.path().join("advisories.json");
    let before = std::fs::read(&store).unwrap();

    let cases: Vec<(&str, Reply, &str)> = vec![
        (
            "/PyPI/all.zip",
            Reply {
                status: 500,
                content_type: "text/plain",
                body: b"boom".to_vec(),
                ..Reply::default()
            },
            "HTTP 500",
        ),
        (
            "/PyPI/all.zip",
            Reply {
                claim_length: Some(5000),
                ..ok("application/zip", osv_zip(&[("X-1", "x")])[..100].to_vec())
            },
            "/PyPI/all.zip: ",
        ),
        (
            "/PyPI/all.zip",
            ok("text/html", b"<html>login</html>".to_vec()),
            "unexpected content type \"text/html\"",
        ),
        (
            "/PyPI/all.zip",
            Reply {
                delay: Duration::from_secs(4),
                ..ok("application/zip", Vec::new())
            },
            "timed out",
        ),
        (
            "/PyPI/all.zip",
            ok("application/zip", b"PK\x03\x04 not really a zip".to_vec()),
            "not a readable zip",
        ),
        (
            "/PyPI/all.zip",
            Reply {
                goog_md5: Some("1B2M2Y8AsgTpgAmY7PhCfg==".to_string()),
                ..ok("application/zip", osv_zip(&[("X-2", "x")]))
            },
            "MD5 checksum mismatch",
        ),
    ];
    for (path, reply, message) in cases {
        server.route(path, vec![reply]);
        let run = update(
            h,
            &[
                "--source",
                "osv",
                "--ecosystem",
                "crates.io",
                "--ecosystem",
                "PyPI",
                "--url",
                &url,
                "--timeout",
                "2",
            ],
        );
        assert_eq!(run.code, 2, "{message}: {}", run.stdout);
        assert!(run.stderr.contains("source osv failed: "), "{}", run.stderr);
        assert!(
            run.stderr.contains(message),
            "expected {message:?} in {}",
            run.stderr
        );
        assert_eq!(
            std::fs::read(&store).unwrap(),
            before,
            "store untouched after: {message}"
        );
    }
}

#[test]
fn nvd_pages_and_retry_after() {
    let server = Server::start();
    let cve = |id: &str| {
        serde_json::json!({"cve": {"id": id, "descriptions": [{"lang": "en", "value": "Test flaw."}],
            "configurations": [{"nodes": [{"operator": "OR", "cpeMatch": [{"vulnerable": true,
                "criteria": "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*", "versionEndExcluding": "1.99.0"}]}]}]}})
    };
    let page = |start: u64, ids: &[&str]| {
        serde_json::json!({"resultsPerPage": 2, "startIndex": start, "totalResults": 3,
            "vulnerabilities": ids.iter().map(|i| cve(i)).collect::<Vec<_>>()})
        .to_string()
        .into_bytes()
    };
    server.route(
        "/nvd?startIndex=0",
        vec![
            Reply {
                status: 429,
                content_type: "text/plain",
                retry_after: Some(1),
                ..Reply::default()
            },
            ok(
                "application/json",
                page(0, &["CVE-2099-0001", "CVE-2099-0002"]),
            ),
        ],
    );
    server.route(
        "/nvd?startIndex=2",
        vec![ok("application/json", page(2, &["CVE-2099-0003"]))],
    );
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let url = format!("{}/nvd", server.url());
    let run = update(
        h,
        &["--source", "nvd", "--url", &url, "--nvd-page-delay", "0"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "updated nvd: 3 records\n");
    let pages: Vec<String> = server.seen().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        pages,
        [
            "/nvd?resultsPerPage=2000&startIndex=0",
            "/nvd?resultsPerPage=2000&startIndex=0",
            "/nvd?resultsPerPage=2000&startIndex=2"
        ]
    );
    let (_, r) = json(&[
        "--data-dir",
        h,
        "scan",
        "samples/openwrt-mipsel.bin",
        "--format",
        "json",
    ]);
    let f = findings(&r);
    for id in ["CVE-2099-0001", "CVE-2099-0002", "CVE-2099-0003"] {
        assert!(
            f.contains(&format!("unknown vulnerable busybox@1.35.0 {id} 1.99.0")),
            "{id}: {f:?}"
        );
    }
}

/// An NVD record for busybox below `fixed`, with an optional `vulnStatus`.
fn busybox_cve(id: &str, fixed: &str, status: &str) -> Value {
    serde_json::json!({"cve": {"id": id, "vulnStatus": status,
        "descriptions": [{"lang": "en", "value": "Test flaw."}],
        "configurations": [{"nodes": [{"operator": "OR", "cpeMatch": [{"vulnerable": true,
            "criteria": "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*", "versionEndExcluding": fixed}]}]}]}})
}

fn nvd_page(records: Vec<Value>) -> Vec<u8> {
    serde_json::json!({"resultsPerPage": records.len(), "startIndex": 0,
        "totalResults": records.len(), "vulnerabilities": records})
    .to_string()
    .into_bytes()
}

#[test]
fn nvd_incremental_update_merges_changes_and_drops_rejected() {
    let server = Server::start();
    let url = format!("{}/nvd", server.url());
    server.route(
        "/nvd",
        vec![ok(
            "application/json",
            nvd_page(vec![
                busybox_cve("CVE-2099-0001", "1.99.0", "Analyzed"),
                busybox_cve("CVE-2099-0002", "1.99.0", "Analyzed"),
                busybox_cve("CVE-2099-0003", "1.99.0", "Analyzed"),
            ]),
        )],
    );
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let args = ["--source", "nvd", "--url", &url, "--nvd-page-delay", "0"];
    let run = update(h, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "updated nvd: 3 records\n");
    let (_, status) = json(&["--data-dir", h, "db", "status", "--json"]);
    let since = s(&status["sources"]["nvd"]["updated"]);

    // Since then NVD changed 0002's fix, rejected 0003 and published 0004.
    server.route(
        "/nvd",
        vec![ok(
            "application/json",
            nvd_page(vec![
                busybox_cve("CVE-2099-0002", "1.36.0", "Modified"),
                busybox_cve("CVE-2099-0003", "1.99.0", "Rejected"),
                busybox_cve("CVE-2099-0004", "1.37.0", "Received"),
            ]),
        )],
    );
    let run = update(h, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("updated nvd incrementally since {since}: 2 changed, 1 removed, 3 records\n")
    );
    let (second, _) = server.seen().last().cloned().unwrap();
    let stamp = |t: &str| format!("{}.000%2B00:00", t.trim_end_matches('Z'));
    assert!(
        second.starts_with(&format!(
            "/nvd?lastModStartDate={}&lastModEndDate=",
            stamp(&since)
        )),
        "{second}"
    );
    assert!(
        second.ends_with("&resultsPerPage=2000&startIndex=0"),
        "{second}"
    );
    let (_, r) = json(&[
        "--data-dir",
        h,
        "scan",
        "samples/openwrt-mipsel.bin",
        "--format",
        "json",
    ]);
    let nvd: Vec<String> = findings(&r)
        .into_iter()
        .filter(|f| f.contains("CVE-2099-"))
        .collect();
    assert_eq!(
        nvd,
        [
            "unknown vulnerable busybox@1.35.0 CVE-2099-0001 1.99.0",
            "unknown vulnerable busybox@1.35.0 CVE-2099-0002 1.36.0",
            "unknown vulnerable busybox@1.35.0 CVE-2099-0004 1.37.0",
        ]
    );

    // --full downloads everything again and replaces the source.
    server.route(
        "/nvd",
        vec![ok(
            "application/json",
            nvd_page(vec![busybox_cve("CVE-2099-0005", "1.99.0", "Analyzed")]),
        )],
    );
    let mut full = args.to_vec();
    full.push("--full");
    let run = update(h, &full);
    assert_eq!(run.stdout, "updated nvd: 1 records\n");
    let (last, _) = server.seen().last().cloned().unwrap();
    assert_eq!(last, "/nvd?resultsPerPage=2000&startIndex=0");
}

#[test]
fn end_of_life_data_replaces_the_bundled_lines() {
    let server = Server::start();
    let supported = br#"[{"cycle":"3.0","eol":false,"latest":"3.0.20"},{"cycle":"1.1.1","eol":"2023-09-11","latest":"1.1.1w"}]"#;
    for (_, theirs) in fwaudit::advisory::update::EOL_PRODUCTS {
        server.route(
            &format!("/{theirs}.json"),
            vec![ok("application/json", supported.to_vec())],
        );
    }
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let (_, before) = json(&[
        "--data-dir",
        h,
        "scan",
        "samples/router-armhf.bin",
        "--format",
        "json",
    ]);
    assert!(findings(&before).contains(&"medium outdated openssl@3.0.20 - 3.0.21".to_string()));
    let run = update(h, &["--source", "eol", "--url", &server.url()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("updated eol:openssl: 2 records\n"),
        "{}",
        run.stdout
    );
    let (_, after) = json(&[
        "--data-dir",
        h,
        "scan",
        "samples/router-armhf.bin",
        "--format",
        "json",
    ]);
    assert!(
        !findings(&after)
            .iter()
            .any(|f| f.contains("outdated openssl")),
        "3.0.20 is the latest of a supported line now"
    );
    // db status warns (without failing) about old sources.
    let run = fwaudit(&["--data-dir", h, "db", "status", "--max-age-days", "0"]);
    assert_eq!(run.code, 0);
    assert!(
        !run.stderr.contains("warning"),
        "updated today: {}",
        run.stderr
    );
}

#[test]
fn debian_tracker_is_downloaded_checked_and_kept_per_release() {
    let server = Server::start();
    let tracker = std::fs::read(root().join("tests/data/debian12-tracker.json")).unwrap();
    server.route(
        "/tracker/data/json",
        vec![
            Reply {
                etag: Some("\"t1\""),
                ..ok("application/json", tracker.clone())
            },
            Reply {
                etag: Some("\"t1\""),
                ..ok("application/json", tracker)
            },
        ],
    );
    server.route(
        "/other/json",
        vec![ok(
            "application/json",
            br#"{"id": "CVE-1", "affected": []}"#.to_vec(),
        )],
    );
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let url = format!("{}/tracker/data/json", server.url());
    let run = update(h, &["--source", "debian", "--url", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "updated distro:debian-tracker: 194 records\n");
    assert!(
        home.path()
            .join("distro/debian-tracker.Debian_12.json")
            .is_file()
    );
    // Unchanged: the validator is sent and the stored data stays.
    let run = update(h, &["--source", "debian", "--url", &url]);
    assert_eq!(
        run.stdout,
        "unchanged distro:debian-tracker: not modified since the last update\n"
    );
    assert_eq!(server.seen().last().unwrap().1.as_deref(), Some("\"t1\""));
    // A document that is not the tracker's fails the source and keeps the old data.
    let other = format!("{}/other/json", server.url());
    let run = update(h, &["--source", "debian", "--url", &other]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("source debian failed: ")
            && run
                .stderr
                .contains("not the Debian Security Tracker's JSON"),
        "{}",
        run.stderr
    );
    assert!(
        home.path()
            .join("distro/debian-tracker.Debian_12.json")
            .is_file()
    );
    // And the scan uses it.
    let (_, r) = json(&[
        "--data-dir",
        h,
        "scan",
        "tests/data/debian12-rootfs.tar.xz",
        "--format",
        "json",
    ]);
    let by_tracker = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["analysis"]["source"] == "debian-tracker")
        .count();
    assert_eq!(by_tracker, 19);
}
