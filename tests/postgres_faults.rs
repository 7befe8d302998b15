//! Many processes on one PostgreSQL fleet, and what goes wrong: scan
//! workers killed mid-job, two API nodes triaging while a rematch runs,
//! the database restarted under running workers and a running service.
//! Each test starts its own server (common/pg.rs).

mod common;
mod service;
use common::pg::Postgres;
use service::{OPENWRT, ROUTER, Server, root};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn fwaudit(home: &Path, db: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fwaudit"))
        .arg("--data-dir")
        .arg(home)
        .args(["--database", db])
        .args(args)
        .current_dir(root())
        .env("FWAUDIT_TODAY", "2026-11-25")
        .output()
        .unwrap();
    let run = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!run.2.contains("panicked"), "fwaudit panicked: {}", run.2);
    run
}

fn ok(home: &Path, db: &str, args: &[&str]) -> String {
    let (code, out, err) = fwaudit(home, db, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// A `fwaudit worker` child; its log is kept in a file.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn start(home: &Path, db: &str, name: &str, extra: &[&str]) -> Worker {
        let log = home.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_fwaudit"))
            .arg("--data-dir")
            .arg(home)
            .args(["--database", db, "worker", "--name", name, "--poll", "100"])
            .args(extra)
            .current_dir(root())
            .env("FWAUDIT_TODAY", "2026-11-25")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Worker { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and the exit status once it finished its jobs.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "worker exit: {status}: {}", self.log());
        self.log()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` distinct images: every `big_every`th a copy of the OpenWrt sample
/// (seconds to scan, real components), the rest small tar files.
fn images(dir: &Path, n: usize, big_every: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let openwrt = std::fs::read(root().join("samples/openwrt-mipsel.bin")).unwrap();
    (0..n)
        .map(|i| {
            let path = dir.join(format!("img-{i:03}.bin"));
            if i % big_every == 0 {
                // Bytes after the image make it a new image to the store.
                let mut data = openwrt.clone();
                data.extend_from_slice(format!("big image {i}").as_bytes());
                std::fs::write(&path, data).unwrap();
            } else {
                let mut tar = tar::Builder::new(Vec::new());
                let text = format!("NAME=\"Fleet {i}\"\nVERSION_ID=\"1.{i}\"\n");
                let mut header = tar::Header::new_gnu();
                header.set_size(text.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                tar.append_data(&mut header, "etc/os-release", text.as_bytes())
                    .unwrap();
                std::fs::write(&path, tar.into_inner().unwrap()).unwrap();
            }
            path
        })
        .collect()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn nightly(home: &Path, db: &str, images: &Path) -> Child {
    let devices = home.join("devices.csv");
    std::fs::write(
        &devices,
        "id,model,firmware,tags\nd-0,OW-1,images/img-000.bin,eu\nd-1,OW-1,images/img-016.bin,us\n",
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_fwaudit"))
        .arg("--data-dir")
        .arg(home)
        .args(["--database", db, "fleet", "nightly", "--json", "--devices"])
        .arg(&devices)
        .arg("--images")
        .arg(images)
        .current_dir(root())
        .env("FWAUDIT_TODAY", "2026-11-25")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The exactly-once checks: every job done once, one image per file,
/// every index consistent.
fn check_done_once(server: &Postgres, home: &Path, db: &str, jobs: usize) {
    assert_eq!(
        server.sql("fleet", "SELECT state || ' ' || completions || ' ' || count(*) FROM jobs GROUP BY state, completions ORDER BY 1"),
        format!("done 1 {jobs}")
    );
    assert_eq!(
        server.sql("fleet", "SELECT count(*) FROM images"),
        jobs.to_string()
    );
    assert_eq!(
        server.sql(
            "fleet",
            "SELECT count(DISTINCT record::jsonb->'result'->>'image') FROM jobs"
        ),
        jobs.to_string()
    );
    assert_eq!(ok(home, db, &["fleet", "verify"]), "0 problems\n");
}

#[test]
fn four_workers_one_killed_mid_job_every_job_done_once() {
    let server = Postgres::start();
    let db = server.database("fleet");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // The schema, before anything polls the queue.
    assert_eq!(ok(h, &db, &["fleet", "verify"]), "0 problems\n");
    let dir = h.join("images");
    images(&dir, 200, 16);
    let workers: Vec<Worker> = (1..=4)
        .map(|i| Worker::start(h, &db, &format!("w{i}"), &["--lease", "4"]))
        .collect();
    let run = nightly(h, &db, &dir);
    // w1 dies while it scans a big image.
    let mut victim = None;
    wait_for("w1 to scan a big image", Duration::from_secs(180), || {
        let held = server.sql(
            "fleet",
            "SELECT id FROM jobs WHERE state = 'running' AND lease_owner = 'w1' \
             AND (record::jsonb->>'size')::bigint > 1000000",
        );
        if !held.is_empty() {
            victim = Some(held);
            true
        } else {
            false
        }
    });
    let mut workers = workers.into_iter();
    let mut w1 = workers.next().unwrap();
    w1.child.kill().unwrap(); // SIGKILL
    w1.child.wait().unwrap();
    let victim = victim.unwrap();
    let out = run.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["scanned"].as_array().unwrap().len(), 200);
    assert_eq!(summary["failed"], serde_json::json!([]));
    assert_eq!(summary["devices"]["imported"], 2);
    // The killed worker's job was claimed again once its lease ran out.
    let again = server.sql(
        "fleet",
        &format!("SELECT attempts || ' ' || completions || ' ' || lease_owner FROM jobs WHERE id = '{victim}'"),
    );
    assert!(
        again.starts_with("2 1 w") && !again.ends_with("w1"),
        "{again}"
    );
    check_done_once(&server, h, &db, 200);
    for w in workers {
        let log = w.stop();
        assert!(log.contains("jobs done"), "{log}");
    }
    // Three workers did the rest, each some.
    let per_worker = server.sql(
        "fleet",
        "SELECT string_agg(lease_owner || ':' || n, ' ' ORDER BY lease_owner) \
         FROM (SELECT lease_owner, count(*) AS n FROM jobs GROUP BY 1) t",
    );
    assert!(
        per_worker.contains("w2:") && per_worker.contains("w3:") && per_worker.contains("w4:"),
        "{per_worker}"
    );
}

#[test]
fn two_api_nodes_and_a_rematch_lose_no_triage() {
    let server = Postgres::start();
    let db = server.database("fleet");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(
        h,
        &db,
        &[
            "scan",
            "samples/router-armhf.bin",
            "--store",
            "--firmware-version",
            "4.2.0",
        ],
    );
    ok(h, &db, &["scan", "samples/openwrt-mipsel.bin", "--store"]);
    let devices = h.join("devices.csv");
    std::fs::write(
        &devices,
        format!("id,model,firmware\nrt-1,RT,{ROUTER}\now-1,OW,{OPENWRT}\n"),
    )
    .unwrap();
    ok(h, &db, &["fleet", "import", devices.to_str().unwrap()]);
    let token = ok(
        h,
        &db,
        &["keys", "create", "--name", "ops", "--scope", "admin"],
    )
    .lines()
    .next()
    .unwrap()
    .to_string();
    let nodes = [
        Server::start(h, &["--database", &db, "--rate-limit", "0"]),
        Server::start(h, &["--database", &db, "--rate-limit", "0"]),
    ];
    let store = fwaudit::fleet::PgStore::open(&db).unwrap();
    use fwaudit::fleet::FleetStore;
    let mut targets = Vec::new();
    for sha in [ROUTER, OPENWRT] {
        for f in store
            .findings(
                Some(sha),
                &fwaudit::fleet::Page {
                    after: None,
                    limit: 1000,
                },
                &mut |f| f.state == fwaudit::fleet::FindingState::Active,
            )
            .unwrap()
        {
            targets.push((sha.to_string(), f.key));
        }
    }
    assert!(targets.len() >= 30, "{}", targets.len());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rematches = {
        let stop = stop.clone();
        let (h, db) = (h.to_path_buf(), db.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) || n < 2 {
                ok(&h, &db, &["fleet", "rematch"]);
                n += 1;
            }
            n
        })
    };
    let client = reqwest::blocking::Client::new();
    std::thread::scope(|s| {
        for (i, node) in nodes.iter().enumerate() {
            let (client, token, targets) = (&client, &token, &targets);
            s.spawn(move || {
                for (sha, key) in targets.iter().skip(i).step_by(2) {
                    let r = client
                        .post(format!("{}/api/v1/findings/triage", node.url))
                        .bearer_auth(token)
                        .header("content-type", "application/json")
                        .body(
                            serde_json::json!({
                                "image": sha, "finding": key, "action": "suppress",
                                "reason": format!("accepted on node {i}")
                            })
                            .to_string(),
                        )
                        .send()
                        .unwrap();
                    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
                }
            });
        }
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let rounds = rematches.join().unwrap();
    assert!(rounds >= 2);
    // Every decision holds, whatever the rematches wrote in between.
    let mut suppressed = 0;
    for (sha, key) in &targets {
        let rows = store
            .findings(
                Some(sha),
                &fwaudit::fleet::Page {
                    after: None,
                    limit: 1000,
                },
                &mut |f| &f.key == key,
            )
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].state,
            fwaudit::fleet::FindingState::Suppressed,
            "{sha} {key}"
        );
        suppressed += 1;
        let record = store.image(sha).unwrap().unwrap();
        let r = record.findings.iter().find(|r| &r.key == key).unwrap();
        assert_eq!(r.finding.state, fwaudit::model::FindingState::Suppressed);
    }
    assert_eq!(suppressed, targets.len());
    assert_eq!(store.audit_log(None, 10_000).unwrap().len(), targets.len());
    assert_eq!(
        store.decisions(ROUTER).unwrap().len() + store.decisions(OPENWRT).unwrap().len(),
        targets.len()
    );
    // Both nodes see the same answer (their caches follow the database).
    let answers: Vec<String> = nodes
        .iter()
        .map(|n| {
            client
                .get(format!(
                    "{}/api/v1/findings?image={ROUTER}&limit=500",
                    n.url
                ))
                .bearer_auth(&token)
                .send()
                .unwrap()
                .text()
                .unwrap()
        })
        .collect();
    assert_eq!(answers[0], answers[1]);
    assert!(
        !answers[0].contains("\"state\":\"active\""),
        "{}",
        answers[0]
    );
    assert_eq!(ok(h, &db, &["fleet", "verify"]), "0 problems\n");
}

#[test]
fn workers_and_serve_carry_on_after_a_database_restart() {
    let server = Postgres::start();
    let db = server.database("fleet");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let token = ok(
        h,
        &db,
        &["keys", "create", "--name", "ops", "--scope", "admin"],
    )
    .lines()
    .next()
    .unwrap()
    .to_string();
    let node = Server::start(h, &["--database", &db, "--rate-limit", "0"]);
    let workers: Vec<Worker> = (1..=2)
        .map(|i| {
            Worker::start(
                h,
                &db,
                &format!("w{i}"),
                &["--lease", "10", "--concurrency", "2"],
            )
        })
        .collect();
    let dir = h.join("images");
    images(&dir, 60, 20);
    let run = nightly(h, &db, &dir);
    // An upload through the API goes to the queue too.
    let client = reqwest::blocking::Client::new();
    let upload = client
        .post(format!("{}/api/v1/scans", node.url))
        .bearer_auth(&token)
        .body(std::fs::read(root().join("samples/router-armhf.bin")).unwrap())
        .send()
        .unwrap();
    assert_eq!(upload.status(), 202);
    let job: serde_json::Value = serde_json::from_str(&upload.text().unwrap()).unwrap();
    let job_id = job["id"].as_str().unwrap().to_string();
    wait_for("a quarter of the jobs", Duration::from_secs(120), || {
        server
            .sql("fleet", "SELECT count(*) FROM jobs WHERE state = 'done'")
            .parse::<u32>()
            .unwrap()
            >= 15
    });
    let done_before = server
        .sql("fleet", "SELECT count(*) FROM jobs WHERE state = 'done'")
        .parse::<usize>()
        .unwrap();
    server.stop();
    // A request while the database is away is answered once it is back.
    let during = std::thread::scope(|s| {
        let asked = s.spawn(|| {
            client
                .get(format!("{}/api/v1/jobs", node.url))
                .bearer_auth(&token)
                .send()
                .unwrap()
                .status()
        });
        std::thread::sleep(Duration::from_secs(3));
        server.restart();
        asked.join().unwrap()
    });
    assert_eq!(during, 200);
    let out = run.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["scanned"].as_array().unwrap().len(), 60);
    wait_for("the upload's scan", Duration::from_secs(120), || {
        let r = client
            .get(format!("{}/api/v1/jobs/{job_id}", node.url))
            .bearer_auth(&token)
            .send()
            .unwrap();
        r.status() == 200
            && serde_json::from_str::<serde_json::Value>(&r.text().unwrap()).unwrap()["state"]
                == "done"
    });
    let image = client
        .get(format!("{}/api/v1/images/{ROUTER}", node.url))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(image.status(), 200);
    assert!(
        !h.join("uploads").read_dir().unwrap().any(|_| true),
        "the upload was removed"
    );
    check_done_once(&server, h, &db, 61);
    // The workers went on after the restart (their operations waited for
    // the database and tried again), and lost nothing.
    assert!(done_before < 61, "{done_before}");
    for log in workers.into_iter().map(Worker::stop) {
        assert!(
            log.contains(", 0 failed, 0 lost to an expired lease"),
            "{log}"
        );
    }
}
