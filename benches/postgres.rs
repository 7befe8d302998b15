//! The fleet on PostgreSQL and on the embedded store, side by side
//! (`cargo bench --bench postgres`): the benchmark fleet (FLEET_IMAGES
//! images x FLEET_COMPONENTS components, FLEET_DEVICES devices; default
//! 20,000 x 150 and 1,000,000) built on each back end in turn, then: the
//! time to store the images, import the devices and rematch; each query
//! in-process (median of 5, nothing cached); needs-patch / where / an
//! image / an advisory's devices through a real `fwaudit serve` at 1 and
//! 16 concurrent clients (p50, p99); the store's size. Then scan
//! throughput of 1, 2 and 4 `fwaudit worker` processes on real images.
//! The PostgreSQL server is started by the bench (initdb into a
//! temporary directory under BENCH_DIR or the system's, durable settings:
//! fsync on) and removed after. BENCH_BACKENDS=postgres (or sled) runs
//! one. Prints a Markdown table with the load average.

#[path = "common/fleet_data.rs"]
mod fleet_data;
#[path = "common/measure.rs"]
mod measure;
use measure::{dir_size, env, loadavg, ms, percentile};
#[path = "../tests/common/pg.rs"]
mod pg;

use fleet_data::image;
use fwaudit::advisory::Database;
use fwaudit::fleet::access::{Job, JobKind, JobState, Role};
use fwaudit::fleet::open::Store;
use fwaudit::fleet::queries::{PatchFilter, Scope, VersionReq};
use fwaudit::fleet::{Device, FleetOps, FleetStore, PgStore, SledStore};
use fwaudit::model::Severity;
use fwaudit::scan::Options;
use fwaudit::serve::auth;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / 1048576.0)
}

/// Seconds each load step runs.
const STEP: Duration = Duration::from_secs(8);

type MakeRequest = Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;

/// `clients` tasks sending requests one after another for [`STEP`]:
/// p50, p99 (ms), requests a second, errors.
async fn load(
    client: &reqwest::Client,
    clients: usize,
    make: MakeRequest,
) -> (f64, f64, f64, usize) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            while start.elapsed() < STEP {
                let t = Instant::now();
                match make(&client).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => errors += 1,
                }
                lat.push(ms(t.elapsed()));
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
    let per_sec = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    (
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        per_sec,
        errors,
    )
}

struct Sizes {
    images: usize,
    devices: usize,
    per_image: usize,
}

/// Builds the fleet on `store`, times its operations and queries.
fn build(
    store: &dyn FleetStore,
    size: &Sizes,
    rows: &mut Vec<(String, String)>,
    label: &str,
) -> Vec<String> {
    let db = Database::bundled().unwrap();
    let options = Options {
        today: "2026-11-25".into(),
        ..Options::default()
    };
    let now = "2026-11-25T00:00:00Z";
    let t = Instant::now();
    let mut shas = Vec::new();
    let mut judging = Duration::ZERO;
    for i in 0..size.images {
        let j = Instant::now();
        let mut report = image(i, size.per_image);
        report.findings =
            fwaudit::scan::findings(&report.components, &report.libraries, &[], &db, &options);
        judging += j.elapsed();
        store
            .store_image(&report, Some(&format!("fw-{i}")), now)
            .unwrap();
        shas.push(report.target.sha256.unwrap());
        if i % 2000 == 1999 {
            eprintln!("{label}: {} images stored ({})", i + 1, secs(t.elapsed()));
        }
    }
    store.flush().unwrap();
    rows.push((
        format!(
            "{label}: store {} images x {} components",
            size.images, size.per_image
        ),
        format!(
            "{} (of which {} judging findings, the same on both)",
            secs(t.elapsed()),
            secs(judging)
        ),
    ));
    let t = Instant::now();
    let mut batch = Vec::with_capacity(256);
    for d in 0..size.devices {
        batch.push(Device {
            id: format!("dev-{d:07}"),
            model: format!("M-{}", d % 20),
            tags: vec![if d % 3 == 0 { "eu".into() } else { "us".into() }],
            firmware: format!("fw-{}", d % size.images),
            image: Some(shas[d % size.images].clone()),
            last_seen: now.into(),
            facts: Default::default(),
        });
        if batch.len() == 256 {
            store.upsert_devices(&batch).unwrap();
            batch.clear();
        }
        if d % 200_000 == 199_999 {
            eprintln!("{label}: {} devices ({})", d + 1, secs(t.elapsed()));
        }
    }
    store.upsert_devices(&batch).unwrap();
    store.flush().unwrap();
    rows.push((
        format!("{label}: import {} devices (batches of 256)", size.devices),
        secs(t.elapsed()),
    ));
    let t = Instant::now();
    let summary = store.rematch(&db, &options, now).unwrap();
    rows.push((
        format!("{label}: rematch {} images", summary.images),
        secs(t.elapsed()),
    ));
    eprintln!("{label}: rematch done ({})", secs(t.elapsed()));

    // In-process, nothing cached: median of 5.
    let time = |f: &mut dyn FnMut() -> usize| -> String {
        let mut walls = Vec::new();
        let mut n = 0;
        for _ in 0..5 {
            let t = Instant::now();
            n = f();
            walls.push(ms(t.elapsed()));
        }
        walls.sort_by(f64::total_cmp);
        format!("{:.0} ms ({n})", walls[2])
    };
    let critical_eu = PatchFilter {
        min_severity: Some(Severity::Critical),
        tag: Some("eu".into()),
        count_only: true,
        ..PatchFilter::default()
    };
    let count = |g: &[fwaudit::fleet::queries::PatchGroup]| g.iter().map(|g| g.device_count).sum();
    rows.push((
        format!("{label}: needs-patch, every image, counts (in-process, uncached; devices)"),
        time(&mut || {
            count(
                &store
                    .needs_patch(&PatchFilter {
                        count_only: true,
                        ..PatchFilter::default()
                    })
                    .unwrap(),
            )
        }),
    ));
    rows.push((
        format!("{label}: needs-patch --min-severity critical --tag eu, counts (devices)"),
        time(&mut || count(&store.needs_patch(&critical_eu).unwrap())),
    ));
    rows.push((
        format!("{label}: needs-patch --advisory CVE-2023-38545 with device lists (devices)"),
        time(&mut || {
            store
                .needs_patch(&PatchFilter {
                    advisory: Some("CVE-2023-38545".into()),
                    ..PatchFilter::default()
                })
                .unwrap()
                .iter()
                .map(|g| g.devices.len())
                .sum()
        }),
    ));
    let req = VersionReq::parse("<1.1.1x").unwrap();
    rows.push((
        format!("{label}: where openssl@<1.1.1x, counts (devices)"),
        time(&mut || {
            store
                .where_component("openssl", Some(&req), &Scope::All, true)
                .unwrap()
                .iter()
                .map(|h| h.device_count)
                .sum()
        }),
    ));
    rows.push((
        format!("{label}: devices of one image (ids)"),
        time(&mut || store.device_ids_on(&shas[7], &|_, _| true).unwrap().len()),
    ));
    shas
}

/// `fwaudit serve` on loopback over the store; API latency at 1 and 16 clients.
fn api(
    data_dir: &Path,
    database: Option<&str>,
    token: &str,
    shas: &[String],
    rows: &mut Vec<(String, String)>,
    label: &str,
) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fwaudit"));
    cmd.arg("--data-dir").arg(data_dir);
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    let mut child = cmd
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
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        let bearer = format!("Bearer {token}");
        let queries = [
            ("needs-patch, first page", "/api/v1/needs-patch".to_string()),
            ("needs-patch critical + tag eu, first page", "/api/v1/needs-patch?min_severity=critical&tag=eu".to_string()),
            ("where openssl@<1.1.1x", "/api/v1/where?component=openssl&version=%3C1.1.1x".to_string()),
            ("one image", format!("/api/v1/images/{}", shas[7])),
            ("advisory CVE-2023-38545 devices, first page", "/api/v1/advisories/CVE-2023-38545/devices".to_string()),
        ];
        for (name, path) in &queries {
            let t = Instant::now();
            let r = client.get(format!("{url}{path}")).header("authorization", &bearer).send().await.unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            let _ = r.bytes().await;
            let first = ms(t.elapsed());
            for clients in [1, 16] {
                let u = format!("{url}{path}");
                let b = bearer.clone();
                let (p50, p99, per_sec, errors) =
                    load(&client, clients, Arc::new(move |c| c.get(&u).header("authorization", &b))).await;
                rows.push((
                    format!("{label}: API {name}, {clients} client(s)"),
                    format!("p50 {p50:.1} ms, p99 {p99:.1} ms, {per_sec:.0} req/s, {errors} errors (first request {first:.0} ms)"),
                ));
            }
        }
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn admin_key(store: &dyn FleetStore) -> String {
    let (key, token) = auth::new_key("bench", Role::Admin, &[], "2026-11-25T00:00:00Z").unwrap();
    store.put_key(&key).unwrap();
    token
}

/// Scan throughput: `jobs` real images queued, `n` worker processes.
fn workers(
    pg: &PgStore,
    url: &str,
    home: &Path,
    n: usize,
    jobs: usize,
    rows: &mut Vec<(String, String)>,
) {
    let dir = home.join(format!("scan-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let samples = [
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/router-armhf.bin"))
            .unwrap(),
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/openwrt-mipsel.bin"))
            .unwrap(),
    ];
    let now = fwaudit::date::now_utc();
    let mut list = Vec::new();
    for i in 0..jobs {
        let path = dir.join(format!("img-{i}.bin"));
        let mut data = samples[i % 2].clone();
        data.extend_from_slice(format!("workers {n} image {i}").as_bytes());
        std::fs::write(&path, data).unwrap();
        list.push(Job {
            id: format!("w{n}-{i:04}"),
            kind: JobKind::Scan,
            state: JobState::Queued,
            created: now.clone(),
            started: None,
            finished: None,
            file: Some(path.display().to_string()),
            size: None,
            firmware_version: None,
            error: None,
            result: None,
            attempts: 0,
            worker: None,
        });
    }
    let ids: Vec<String> = list.iter().map(|j| j.id.clone()).collect();
    let t = Instant::now();
    let children: Vec<Child> = (0..n)
        .map(|w| {
            Command::new(env!("CARGO_BIN_EXE_fwaudit"))
                .arg("--data-dir")
                .arg(home)
                .args([
                    "--database",
                    url,
                    "worker",
                    "--poll",
                    "50",
                    "--name",
                    &format!("bench-{n}-{w}"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    pg.run(|| pg.enqueue(&list)).unwrap();
    loop {
        let states = pg.run(|| pg.jobs_by_id(&ids)).unwrap();
        if states
            .iter()
            .all(|j| matches!(j.state, JobState::Done | JobState::Failed))
        {
            assert!(states.iter().all(|j| j.state == JobState::Done));
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = t.elapsed();
    for c in &children {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
    }
    for mut c in children {
        let _ = c.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    rows.push((
        format!(
            "scan throughput, {n} worker(s), {jobs} images of 3-4 MB (sample router / OpenWrt)"
        ),
        format!(
            "{} ({:.1} images/min; includes each worker's start)",
            secs(took),
            jobs as f64 * 60.0 / took.as_secs_f64()
        ),
    ));
}

fn main() {
    let size = Sizes {
        images: env("FLEET_IMAGES", 20_000),
        devices: env("FLEET_DEVICES", 1_000_000),
        per_image: env("FLEET_COMPONENTS", 150),
    };
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "postgres,sled".into());
    let scan_jobs = env("BENCH_SCAN_JOBS", 24);
    let parent = std::env::var_os("BENCH_DIR").map(std::path::PathBuf::from);
    let load_start = loadavg();
    let mut rows: Vec<(String, String)> = Vec::new();
    let bench_start = Instant::now();

    if backends.contains("postgres") {
        // A durable server (fsync on), sized for a 24 GiB machine shared
        // with the benchmark itself.
        let server = pg::Postgres::start_with(
            "-c shared_buffers=2GB -c work_mem=64MB -c maintenance_work_mem=512MB \
             -c max_wal_size=2GB -c checkpoint_timeout=15min -c effective_cache_size=12GB",
            parent.as_deref(),
        );
        let url = server.database("fleet");
        let home = tempfile::tempdir().unwrap();
        let store = PgStore::open(&url).unwrap();
        let shas = build(&store, &size, &mut rows, "postgres");
        server.sql("fleet", "VACUUM ANALYZE");
        let token = admin_key(&store);
        api(
            home.path(),
            Some(&url),
            &token,
            &shas,
            &mut rows,
            "postgres",
        );
        rows.push((
            "postgres: database size (tables + indexes, after VACUUM)".into(),
            mib(server
                .sql("fleet", "SELECT pg_database_size('fleet')")
                .parse()
                .unwrap()),
        ));
        for (table, what) in [
            ("images", "images"),
            ("components", "components"),
            ("findings", "findings"),
            ("devices", "devices"),
        ] {
            rows.push((
                format!("postgres: {what} table with its indexes"),
                format!(
                    "{} ({} rows)",
                    mib(server
                        .sql(
                            "fleet",
                            &format!("SELECT pg_total_relation_size('{table}')")
                        )
                        .parse()
                        .unwrap()),
                    server.sql("fleet", &format!("SELECT count(*) FROM {table}"))
                ),
            ));
        }
        rows.push((
            "postgres: data directory on disk (with WAL)".into(),
            mib(dir_size(&server.data())),
        ));
        for n in [1, 2, 4] {
            workers(&store, &url, home.path(), n, scan_jobs, &mut rows);
        }
        drop(store);
    }
    if backends.contains("sled") {
        let home = tempfile::Builder::new()
            .prefix("fwaudit-bench-sled-")
            .tempdir_in(parent.clone().unwrap_or_else(std::env::temp_dir))
            .unwrap();
        let store = SledStore::open(home.path()).unwrap();
        let shas = build(&store, &size, &mut rows, "sled");
        let token = admin_key(&store);
        rows.push((
            "sled: store size on disk".into(),
            mib(dir_size(home.path())),
        ));
        Store::Sled(store).close(true).unwrap();
        api(home.path(), None, &token, &shas, &mut rows, "sled");
    }

    println!(
        "load average (1/5/15 min) at start: {load_start}, at end: {}; the whole run took {}",
        loadavg(),
        secs(bench_start.elapsed())
    );
    println!(
        "| fleet on PostgreSQL and sled ({} images x {} components, {} devices) | result |\n|---|---|",
        size.images, size.per_image, size.devices
    );
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
