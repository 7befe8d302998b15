//! Fleet service benchmark (`cargo bench --bench serve`): the benchmark
//! fleet (2,000 images x ~150 components, 100,000 devices; scale with
//! FLEET_IMAGES / FLEET_DEVICES) behind a real `fwaudit serve` on
//! loopback. Prints, as a Markdown table: API latency p50 / p99 and
//! throughput for needs-patch, where, one image and an advisory's
//! affected devices (first page) at 1 and 16 concurrent clients;
//! check-ins a second from 64 concurrent devices (same firmware, and
//! every check-in a firmware change); the dashboard overview's
//! computation and page. The client runs on the same 2 cores as the
//! server, so the numbers are for both together. Load average is
//! printed with them.

#[path = "common/fleet_data.rs"]
mod fleet_data;
#[path = "common/measure.rs"]
mod measure;
use measure::{env, loadavg, ms, percentile};

use fleet_data::image;
use fwaudit::advisory::Database;
use fwaudit::fleet::access::{DeviceToken, Role};
use fwaudit::fleet::queries::Scope;
use fwaudit::fleet::{Device, Fleet, FleetStore};
use fwaudit::scan::Options;
use fwaudit::serve::auth;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Builds request `i` of client `c`.
type MakeRequest =
    Arc<dyn Fn(&reqwest::Client, usize, usize) -> reqwest::RequestBuilder + Send + Sync>;

/// Seconds each load step runs.
const STEP: Duration = Duration::from_secs(6);

struct Load {
    p50: f64,
    p99: f64,
    per_sec: f64,
    n: usize,
    errors: usize,
}

/// `clients` tasks, each sending the requests `make` builds one after
/// another for [`STEP`]; latencies of every request.
async fn load(client: &reqwest::Client, clients: usize, make: MakeRequest) -> Load {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut i = 0;
            while start.elapsed() < STEP {
                let t = Instant::now();
                match make(&client, c, i).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => errors += 1,
                }
                lat.push(ms(t.elapsed()));
                i += 1;
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Load {
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        per_sec: all.len() as f64 / secs,
        n: all.len(),
        errors,
    }
}

fn main() {
    let images = env("FLEET_IMAGES", 2_000);
    let devices = env("FLEET_DEVICES", 100_000);
    let per_image = env("FLEET_COMPONENTS", 150);
    let load_start = loadavg();
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<(String, String)> = Vec::new();

    // The fleet, written in-process.
    let t = Instant::now();
    let fleet = Fleet::open(dir.path()).unwrap();
    let db = Database::bundled().unwrap();
    let options = Options {
        today: "2026-11-25".into(),
        ..Options::default()
    };
    let now = fwaudit::date::now_utc();
    let mut shas = Vec::new();
    for i in 0..images {
        let mut report = image(i, per_image);
        report.findings =
            fwaudit::scan::findings(&report.components, &report.libraries, &[], &db, &options);
        fleet
            .store_image(&report, Some(&format!("fw-{i}")), &now)
            .unwrap();
        shas.push(report.target.sha256.unwrap());
    }
    let list: Vec<Device> = (0..devices)
        .map(|d| Device {
            id: format!("dev-{d:06}"),
            model: format!("M-{}", d % 20),
            tags: vec![if d % 3 == 0 { "eu".into() } else { "us".into() }],
            firmware: format!("fw-{}", d % images),
            image: Some(shas[d % images].clone()),
            last_seen: now.clone(),
            facts: Default::default(),
        })
        .collect();
    for batch in list.chunks(256) {
        fleet.upsert_devices(batch).unwrap();
    }
    let (admin, admin_token) = auth::new_key("bench", Role::Admin, &[], &now).unwrap();
    fleet.put_key(&admin).unwrap();
    let mut device_tokens = Vec::new();
    for d in 0..64 {
        let id = format!("dev-{:06}", d * 997 % devices);
        let (hash, token) = auth::new_device_token().unwrap();
        fleet
            .put_device_token(&DeviceToken {
                device: id.clone(),
                hash,
                created: now.clone(),
            })
            .unwrap();
        device_tokens.push((id, token, d * 997 % devices));
    }
    rows.push((
        format!("build the fleet ({images} images x {per_image} components, {devices} devices)"),
        format!("{:.1} s", t.elapsed().as_secs_f64()),
    ));

    // The overview's computation, in-process, nothing cached.
    let today = &now[..10];
    for (label, scope) in [
        ("all devices", Scope::All),
        ("a key bound to tag eu", Scope::Tags(vec!["eu".into()])),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let o = fwaudit::serve::overview::compute(&fleet, &scope, today).unwrap();
            times.push(ms(t.elapsed()));
            assert!(o.devices > 0);
        }
        times.sort_by(f64::total_cmp);
        rows.push((
            format!("dashboard overview numbers computed ({label}), median of 5"),
            format!("{:.0} ms", times[2]),
        ));
    }
    fleet.close().unwrap();

    // The service.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fwaudit"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(u) = line.split(" on ").nth(1) {
            break u.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(128)
            .build()
            .unwrap();
        let bearer = format!("Bearer {admin_token}");
        let get = |path: String| -> MakeRequest {
            let url = format!("{url}{path}");
            let bearer = bearer.clone();
            Arc::new(move |c: &reqwest::Client, _, _| c.get(&url).header("authorization", &bearer))
        };
        let queries = [
            ("needs-patch (first page of 100 images)", "/api/v1/needs-patch".to_string()),
            (
                "needs-patch --min-severity critical --tag eu (first page)",
                "/api/v1/needs-patch?min_severity=critical&tag=eu".to_string(),
            ),
            ("where openssl@<1.1.1x", "/api/v1/where?component=openssl&version=%3C1.1.1x".to_string()),
            ("one image (150 components, its findings)", format!("/api/v1/images/{}", shas[7])),
            (
                "advisory CVE-2023-38545: affected devices, first page of 100",
                "/api/v1/advisories/CVE-2023-38545/devices".to_string(),
            ),
        ];
        for (label, path) in &queries {
            // One warm-up request, then the timed steps.
            let _ = client.get(format!("{url}{path}")).header("authorization", &bearer).send().await.unwrap().bytes().await;
            for clients in [1, 16] {
                let l = load(&client, clients, get(path.clone())).await;
                rows.push((
                    format!("API {label}, {clients} client(s)"),
                    format!(
                        "p50 {:.1} ms, p99 {:.1} ms, {:.0} req/s ({} requests, {} errors)",
                        l.p50, l.p99, l.per_sec, l.n, l.errors
                    ),
                ));
            }
        }
        // Check-ins: 64 devices at once, each as fast as it is answered.
        let tokens = Arc::new(device_tokens);
        for (label, moving) in [("same firmware", false), ("every check-in a firmware change", true)] {
            let url = url.clone();
            let tokens = tokens.clone();
            let shas = Arc::new(shas.clone());
            let make: MakeRequest =
                Arc::new(move |c: &reqwest::Client, who: usize, i: usize| {
                    let (id, token, d) = &tokens[who];
                    let firmware = if moving {
                        format!("fw-{}", (d + i + 1) % shas.len())
                    } else {
                        format!("fw-{}", d % shas.len())
                    };
                    c.post(format!("{url}/api/v1/devices/{id}/checkin"))
                        .header("authorization", format!("Bearer {token}"))
                        .header("content-type", "application/json")
                        .body(format!("{{\"version\":\"{firmware}\",\"facts\":{{\"uptime\":{i}}}}}"))
                });
            let l = load(&client, 64, make).await;
            rows.push((
                format!("check-ins, 64 devices at once ({label})"),
                format!(
                    "{:.0} check-ins/s; p50 {:.1} ms, p99 {:.1} ms ({} errors)",
                    l.per_sec, l.p50, l.p99, l.errors
                ),
            ));
        }
        // The dashboard's overview page, logged in with the key.
        let page = client.get(format!("{url}/login")).send().await.unwrap();
        let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let html = page.text().await.unwrap();
        let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let r = no_redirect
            .post(format!("{url}/login"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}&token={admin_token}"))
            .send()
            .await
            .unwrap();
        let session = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).find(|v| v.starts_with("fwaudit_session=")).unwrap();
        let session = session.split(';').next().unwrap().to_string();
        let t = Instant::now();
        let first = client.get(format!("{url}/")).header("cookie", &session).send().await.unwrap();
        assert_eq!(first.status(), 200);
        let _ = first.text().await;
        rows.push((
            "dashboard overview page, first request (numbers computed; check-ins above changed placements)".into(),
            format!("{:.0} ms", ms(t.elapsed())),
        ));
        let s2 = session.clone();
        let u2 = url.clone();
        let l = load(
            &client,
            1,
            Arc::new(move |c: &reqwest::Client, _, _| c.get(format!("{u2}/")).header("cookie", &s2)),
        )
        .await;
        rows.push((
            "dashboard overview page, later requests (numbers reused while nothing changes, at most 30 s)".into(),
            format!("p50 {:.1} ms, p99 {:.1} ms", l.p50, l.p99),
        ));
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    println!(
        "load average (1/5/15 min) at start: {load_start}, at end: {}",
        loadavg()
    );
    println!(
        "| fleet service benchmark ({images} images, {devices} devices) | result |\n|---|---|"
    );
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
