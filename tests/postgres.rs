//! The fleet on PostgreSQL answers exactly as on the embedded store: the
//! same commands run against both back ends (each PostgreSQL a private
//! server this test starts, see common/pg.rs) and every answer compared
//! byte for byte; schema migrations and their refusal of a newer schema;
//! `fleet migrate` both ways, verified on both sides.

mod common;
use common::pg::Postgres;
use common::*;
use fwaudit::fleet::access::{
    Delivery, Hook, Job, JobKind, JobState, TriageAction, TriageDecision,
};
use fwaudit::fleet::queries::{PatchFilter, Scope, VersionReq};
use fwaudit::fleet::record::FirmwareSeen;
use fwaudit::fleet::{FleetOps, FleetStore, Page, PgStore, SledStore};
use fwaudit::model::Severity;
use std::path::Path;

const ROUTER_SHA: &str = "868e0e80a421efc7885af9f9577ec462ec91c9a5f8aa50ad5a061dbeaf65836b";
const OPENWRT_SHA: &str = "c574200730615c43033b03c6544fe5e1b34401cb31ec160e9248c44dea6f7461";

/// One back end: a data directory, and the database URL when it is PostgreSQL.
struct Side {
    home: tempfile::TempDir,
    database: Option<String>,
}

impl Side {
    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--data-dir", self.home.path().to_str().unwrap()];
        if let Some(db) = &self.database {
            all.extend_from_slice(&["--database", db]);
        }
        all.extend_from_slice(args);
        fwaudit(&all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert!(
            run.code == 0,
            "{args:?} on {}: exit {}: {}",
            self.name(),
            run.code,
            run.stderr
        );
        run.stdout
    }

    fn name(&self) -> &'static str {
        if self.database.is_some() {
            "postgres"
        } else {
            "sled"
        }
    }
}

/// The busybox NVD records (trimmed, in tests/data), a new advisory
/// source for the rematch.
fn nvd_busybox() -> String {
    let path = root().join("tests/data/nvd/busybox.json");
    assert!(path.is_file(), "{} is missing", path.display());
    path.to_str().unwrap().to_string()
}

/// The same fleet built on both sides; every answer of both, in order.
fn build_and_ask(side: &Side) -> Vec<(String, String)> {
    let mut answers = Vec::new();
    let mut ask = |label: &str, args: &[&str]| {
        let out = side.ok(args);
        answers.push((label.to_string(), out));
    };
    ask(
        "scan router",
        &[
            "scan",
            "samples/router-armhf.bin",
            "--store",
            "--device",
            "rt-001",
            "--firmware-version",
            "4.2.0",
            "--format",
            "json",
        ],
    );
    ask(
        "scan router again (reused)",
        &[
            "scan",
            "samples/router-armhf.bin",
            "--store",
            "--device",
            "rt-002",
            "--format",
            "json",
        ],
    );
    ask(
        "scan openwrt",
        &[
            "scan",
            "samples/openwrt-mipsel.bin",
            "--store",
            "--firmware-version",
            "23.05.0",
            "--format",
            "json",
        ],
    );
    let csv = side.home.path().join("devices.csv");
    let mut rows = String::from("id,model,firmware,tags\n");
    rows.push_str("rt-003,RT-AX,4.2.0,lab;eu\now-1,OW-1,23.05.0,eu\n");
    rows.push_str(&format!("ow-2,OW-1,{OPENWRT_SHA},us\nx-1,OW-9,9.9.9,\n"));
    for i in 0..40 {
        let fw = if i % 3 == 0 { OPENWRT_SHA } else { ROUTER_SHA };
        rows.push_str(&format!(
            "bulk-{i:02},M-{},{fw},{}\n",
            i % 4,
            ["eu", "us;lab", ""][i % 3]
        ));
    }
    std::fs::write(&csv, rows).unwrap();
    let csv = csv.to_str().unwrap().to_string();
    ask("import", &["fleet", "import", &csv, "--json"]);
    // A device moves between images and loses a tag.
    let moved = side.home.path().join("moved.csv");
    std::fs::write(
        &moved,
        format!(
            "id,model,firmware,tags\nbulk-03,M-3,{ROUTER_SHA},us\nbulk-04,M-0,{OPENWRT_SHA},\n"
        ),
    )
    .unwrap();
    ask(
        "import moves",
        &["fleet", "import", moved.to_str().unwrap(), "--json"],
    );
    let queries: &[(&str, &[&str])] = &[
        ("needs-patch", &["fleet", "needs-patch", "--json"]),
        ("needs-patch text", &["fleet", "needs-patch"]),
        (
            "needs-patch advisory",
            &[
                "fleet",
                "needs-patch",
                "--advisory",
                "CVE-2022-48174",
                "--json",
            ],
        ),
        (
            "needs-patch critical eu",
            &[
                "fleet",
                "needs-patch",
                "--min-severity",
                "critical",
                "--tag",
                "eu",
                "--json",
            ],
        ),
        (
            "needs-patch high model",
            &[
                "fleet",
                "needs-patch",
                "--min-severity",
                "high",
                "--model",
                "OW-1",
                "--json",
            ],
        ),
        (
            "where openssl range",
            &["fleet", "where", "openssl@>=3.0,<3.0.21", "--json"],
        ),
        ("where busybox", &["fleet", "where", "BusyBox", "--json"]),
        ("where busybox text", &["fleet", "where", "busybox@1.35.0"]),
        ("where none", &["fleet", "where", "busybox@<1.30", "--json"]),
        (
            "diff",
            &["fleet", "diff", ROUTER_SHA, OPENWRT_SHA, "--json"],
        ),
        ("diff back", &["fleet", "diff", OPENWRT_SHA, ROUTER_SHA]),
        ("keys", &["fleet", "keys", "--json"]),
        ("keys shared", &["fleet", "keys", "--shared"]),
        ("rematch quiet", &["fleet", "rematch", "--json"]),
        ("verify", &["fleet", "verify"]),
    ];
    for (label, args) in queries {
        ask(label, args);
    }
    let nvd = nvd_busybox();
    ask("db import", &["db", "import", &nvd]);
    ask(
        "rematch after new advisories",
        &["fleet", "rematch", "--json"],
    );
    ask(
        "needs-patch new advisory",
        &[
            "fleet",
            "needs-patch",
            "--advisory",
            "CVE-2024-58251",
            "--json",
        ],
    );
    ask("rematch again", &["fleet", "rematch"]);
    ask("verify after rematch", &["fleet", "verify"]);
    answers
}

/// What the service keeps, driven through the library on both stores:
/// triage with its audit log, check-ins, webhooks state, jobs, and the
/// answers that depend on them. Random parts (audit and delivery sequence
/// numbers, which each store numbers its own way) are left out.
fn service_state(store: &dyn FleetStore) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut put = |label: &str, mut value: serde_json::Value| {
        mask_clock(&mut value);
        out.push((
            label.to_string(),
            serde_json::to_string_pretty(&value).unwrap(),
        ));
    };
    let findings = store
        .findings(
            Some(ROUTER_SHA),
            &Page {
                after: None,
                limit: 1000,
            },
            &mut |_| true,
        )
        .unwrap();
    let vulnerable: Vec<_> = findings
        .iter()
        .filter(|f| f.advisory.is_some() && f.state == fwaudit::fleet::FindingState::Active)
        .collect();
    assert!(vulnerable.len() >= 3, "{}", vulnerable.len());
    let decide = |key: &str, action: TriageAction, at: &str| TriageDecision {
        image: ROUTER_SHA.into(),
        finding: key.into(),
        action,
        reason: "not reachable on this build".into(),
        expires: None,
        by: "key ops".into(),
        at: at.into(),
    };
    let mut audit = Vec::new();
    for (i, (f, action)) in vulnerable
        .iter()
        .zip([
            TriageAction::Suppress,
            TriageAction::NotAffected,
            TriageAction::Suppress,
        ])
        .enumerate()
    {
        audit.push(
            store
                .triage(&decide(&f.key, action, &format!("2026-11-25T10:00:0{i}Z")))
                .unwrap(),
        );
    }
    audit.push(
        store
            .triage(&decide(
                &vulnerable[2].key,
                TriageAction::Reopen,
                "2026-11-25T11:00:00Z",
            ))
            .unwrap(),
    );
    let no_seq = |mut v: serde_json::Value| {
        if let Some(list) = v.as_array_mut() {
            for e in list {
                e.as_object_mut().unwrap().remove("seq");
            }
        }
        v
    };
    put(
        "triage answers",
        no_seq(serde_json::to_value(&audit).unwrap()),
    );
    put(
        "audit log",
        no_seq(serde_json::to_value(store.audit_log(None, 100).unwrap()).unwrap()),
    );
    put(
        "decisions",
        serde_json::to_value(store.decisions(ROUTER_SHA).unwrap()).unwrap(),
    );
    // A rematch keeps the decisions.
    let db = fwaudit::advisory::Database::bundled().unwrap();
    let options = fwaudit::scan::Options {
        today: "2026-11-25".into(),
        ..Default::default()
    };
    let summary = store
        .rematch(&db, &options, "2026-11-26T00:00:00Z")
        .unwrap();
    put("rematch", serde_json::to_value(&summary).unwrap());
    put(
        "image record",
        serde_json::to_value(store.image(ROUTER_SHA).unwrap().unwrap()).unwrap(),
    );
    put(
        "findings page",
        serde_json::to_value(
            store
                .findings(
                    None,
                    &Page {
                        after: Some((ROUTER_SHA, vulnerable[0].key.as_str())),
                        limit: 7,
                    },
                    &mut |f| f.severity >= Severity::Medium,
                )
                .unwrap(),
        )
        .unwrap(),
    );
    put(
        "advisory images",
        serde_json::to_value(store.advisory_images("CVE-2022-48174").unwrap()).unwrap(),
    );
    put(
        "trends",
        serde_json::to_value(store.image_trends().unwrap()).unwrap(),
    );
    // Check-ins: one stays, one moves to the other image.
    let mut device = store.device("bulk-01").unwrap().unwrap();
    device.last_seen = "2026-11-26T01:00:00Z".into();
    device
        .facts
        .insert("uptime".into(), serde_json::json!(3600));
    store.check_in(&device, None).unwrap();
    device.image = Some(OPENWRT_SHA.into());
    device.firmware = "23.05.0".into();
    store
        .check_in(
            &device,
            Some(&FirmwareSeen {
                at: "2026-11-26T02:00:00Z".into(),
                firmware: "23.05.0".into(),
                image: Some(OPENWRT_SHA.into()),
            }),
        )
        .unwrap();
    put(
        "device",
        serde_json::to_value(store.device("bulk-01").unwrap()).unwrap(),
    );
    put(
        "history",
        serde_json::to_value(store.firmware_history("bulk-01").unwrap()).unwrap(),
    );
    put(
        "devices page",
        serde_json::to_value(
            store
                .devices_after(Some("bulk-05"), 6, &mut |d| d.model != "M-2")
                .unwrap(),
        )
        .unwrap(),
    );
    put(
        "tag images",
        serde_json::to_value(store.tag_images("eu").unwrap()).unwrap(),
    );
    let scope = Scope::Tags(vec!["us".into(), "lab".into()]);
    for count_only in [true, false] {
        let groups = store
            .needs_patch(&PatchFilter {
                scope: scope.clone(),
                count_only,
                ..PatchFilter::default()
            })
            .unwrap();
        let counts: Vec<_> = groups
            .iter()
            .map(|g| (g.image.clone(), g.device_count))
            .collect();
        put("needs-patch scoped", serde_json::json!([groups, counts]));
        let hits = store
            .where_component(
                "busybox",
                Some(&VersionReq::parse(">=1.0").unwrap()),
                &scope,
                count_only,
            )
            .unwrap();
        let counts: Vec<_> = hits.iter().map(|h| h.device_count).collect();
        put("where scoped", serde_json::json!([hits, counts]));
    }
    // Webhooks and their deliveries, jobs.
    let hook = Hook {
        id: "h1".into(),
        url: "http://127.0.0.1:9/".into(),
        events: vec![fwaudit::fleet::access::EventKind::NewFinding],
        min_severity: Some(Severity::High),
        secret: "s".into(),
        created: "2026-11-25T00:00:00Z".into(),
    };
    store.put_hook(&hook).unwrap();
    store
        .put_hook(&Hook {
            id: "h0".into(),
            ..hook.clone()
        })
        .unwrap();
    for attempt in 1..=3 {
        store
            .log_delivery(&Delivery {
                seq: 0,
                hook: "h1".into(),
                batch: "b1".into(),
                attempt,
                at: format!("2026-11-25T00:00:0{attempt}Z"),
                events: 2,
                status: Some(500),
                error: None,
                delivered: attempt == 3,
                duration_ms: 5,
            })
            .unwrap();
    }
    assert!(store.remove_hook("h0").unwrap() && !store.remove_hook("h0").unwrap());
    put(
        "hooks",
        serde_json::to_value(store.hooks().unwrap()).unwrap(),
    );
    put(
        "deliveries",
        no_seq(serde_json::to_value(store.deliveries("h1", 2).unwrap()).unwrap()),
    );
    for (id, created) in [
        ("j2", "2026-11-25T00:00:02Z"),
        ("j1", "2026-11-25T00:00:01Z"),
        ("j3", "2026-11-25T00:00:02Z"),
    ] {
        store
            .put_job(&Job {
                id: id.into(),
                kind: JobKind::Rematch,
                state: JobState::Queued,
                created: created.into(),
                started: None,
                finished: None,
                file: None,
                size: None,
                firmware_version: None,
                error: None,
                result: None,
                attempts: 0,
                worker: None,
            })
            .unwrap();
    }
    put(
        "jobs",
        serde_json::to_value(store.jobs(2).unwrap()).unwrap(),
    );
    put(
        "job",
        serde_json::to_value(store.job("j1").unwrap()).unwrap(),
    );
    assert_eq!(store.verify().unwrap(), Vec::<String>::new(), "verify");
    out
}

/// The times the command line's runs stamped (each side ran them at its
/// own moment) are not compared; the ones this test gives are.
fn mask_clock(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if matches!(
                    k.as_str(),
                    "first_seen" | "last_seen" | "scanned_at" | "day"
                ) && x.as_str().is_some_and(|t| !t.starts_with("2026-11-2"))
                {
                    *x = "<clock>".into();
                } else {
                    mask_clock(x);
                }
            }
        }
        serde_json::Value::Array(list) => list.iter_mut().for_each(mask_clock),
        _ => {}
    }
}

fn compare(sled: &[(String, String)], pg: &[(String, String)]) {
    assert_eq!(sled.len(), pg.len());
    for ((label, a), (_, b)) in sled.iter().zip(pg) {
        assert!(
            a == b,
            "{label}: the back ends differ\n--- sled\n{a}\n--- postgres\n{b}"
        );
    }
}

#[test]
fn both_back_ends_give_the_same_answers() {
    let server = Postgres::start();
    let sled = Side {
        home: tempfile::tempdir().unwrap(),
        database: None,
    };
    let pg = Side {
        home: tempfile::tempdir().unwrap(),
        database: Some(server.database("fleet")),
    };
    let a = build_and_ask(&sled);
    let b = build_and_ask(&pg);
    // The answers are the ones the embedded store gives, which tests/fleet.rs checks.
    assert!(
        a[5].1.contains("\"devices\": [\n      \"bulk-01\""),
        "{}",
        a[5].1
    );
    assert!(
        a.iter()
            .any(|(l, o)| l == "rematch after new advisories" && o.contains("CVE-2024-58251"))
    );
    compare(&a, &b);
    // No store in the PostgreSQL side's data directory: only the database.
    assert!(!pg.home.path().join("fleet").exists());

    let sled_store = SledStore::open(sled.home.path()).unwrap();
    let pg_store = PgStore::open(pg.database.as_deref().unwrap()).unwrap();
    let a = service_state(&sled_store);
    let b = service_state(&pg_store);
    compare(&a, &b);
}

#[test]
fn schema_is_migrated_once_and_a_newer_one_refused() {
    let server = Postgres::start();
    let url = server.database("fleet");
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let run = fwaudit(&["--data-dir", h, "--database", &url, "fleet", "verify"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "0 problems\n"),
        "{}",
        run.stderr
    );
    assert_eq!(
        server.sql(
            "fleet",
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM fwaudit_schema"
        ),
        "1"
    );
    // Two processes opening a new database at once migrate it once.
    let other = server.database("fleet2");
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_fwaudit"))
                .args(["--data-dir", h, "--database", &other, "fleet", "verify"])
                .output()
                .unwrap()
        })
        .collect();
    for c in &children {
        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    }
    assert_eq!(
        server.sql("fleet2", "SELECT count(*) FROM fwaudit_schema"),
        "1"
    );
    // A newer fwaudit migrated it further: refused, naming both schemas.
    server.sql(
        "fleet",
        "INSERT INTO fwaudit_schema (version, fwaudit) VALUES (7, '9.0.0')",
    );
    let run = fwaudit(&["--data-dir", h, "--database", &url, "fleet", "needs-patch"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "schema 7 was written by a newer fwaudit (this one knows up to 1): upgrade fwaudit"
        ),
        "{}",
        run.stderr
    );
    // A database that is not there: a clear error, no panic.
    let gone = server.url("no_such_db");
    let run = fwaudit(&["--data-dir", h, "--database", &gone, "fleet", "verify"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot open the fleet database postgresql://postgres@")
            && run.stderr.contains("no_such_db"),
        "{}",
        run.stderr
    );
    let run = fwaudit(&[
        "--data-dir",
        h,
        "--database",
        "mysql://x",
        "fleet",
        "verify",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not a postgres:// URL"),
        "{}",
        run.stderr
    );
}

/// `fleet verify` on PostgreSQL finds rows that disagree with the records.
#[test]
fn verify_finds_damaged_rows() {
    let server = Postgres::start();
    let url = server.database("fleet");
    let side = Side {
        home: tempfile::tempdir().unwrap(),
        database: Some(url),
    };
    side.ok(&[
        "scan",
        "samples/router-armhf.bin",
        "--store",
        "--device",
        "rt-1",
    ]);
    assert_eq!(side.ok(&["fleet", "verify"]), "0 problems\n");
    server.sql(
        "fleet",
        "DELETE FROM components WHERE ctid = (SELECT ctid FROM components LIMIT 1); \
         UPDATE findings SET state = 'resolved' WHERE ctid = (SELECT ctid FROM findings WHERE state = 'active' LIMIT 1); \
         UPDATE image_counts SET n = n + 2",
    );
    let run = side.run(&["fleet", "verify"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "3 problems\n");
    assert!(
        run.stderr.contains("components: missing row")
            && run.stderr.contains("findings: row")
            && run.stderr.contains("disagrees")
            && run
                .stderr
                .contains(&format!("image_counts: {ROUTER_SHA}: 1 devices, counted 3")),
        "{}",
        run.stderr
    );
}

/// Everything a store keeps, read through the trait, as comparable text
/// (sequence numbers included: a copy keeps them).
fn everything(store: &dyn FleetStore) -> String {
    let mut out = String::new();
    fwaudit::fleet::transfer::dump(store, &mut |item| {
        out.push_str(&serde_json::to_string(&item).unwrap());
        out.push('\n');
        Ok(())
    })
    .unwrap();
    out
}

const QUERIES: &[&[&str]] = &[
    &["fleet", "needs-patch", "--json"],
    &[
        "fleet",
        "needs-patch",
        "--min-severity",
        "critical",
        "--tag",
        "eu",
        "--json",
    ],
    &["fleet", "needs-patch", "--advisory", "CVE-2022-48174"],
    &["fleet", "where", "openssl", "--json"],
    &["fleet", "diff", ROUTER_SHA, OPENWRT_SHA, "--json"],
    &["fleet", "keys", "--json"],
];

#[test]
fn migrate_to_postgres_and_back_keeps_everything() {
    let server = Postgres::start();
    let sled = Side {
        home: tempfile::tempdir().unwrap(),
        database: None,
    };
    build_and_ask(&sled);
    {
        let store = SledStore::open(sled.home.path()).unwrap();
        service_state(&store);
        store
            .put_user(&fwaudit::fleet::access::User {
                name: "alice".into(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                scope: fwaudit::fleet::access::Role::Triage,
                tags: vec!["eu".into()],
                created: "2026-11-25T00:00:00Z".into(),
            })
            .unwrap();
        store.close().unwrap();
    }
    let answers = |side: &Side| -> Vec<String> { QUERIES.iter().map(|q| side.ok(q)).collect() };
    let before = answers(&sled);
    let everything_before = everything(&SledStore::open_to_read(sled.home.path()).unwrap());
    assert!(
        everything_before.contains("\"type\":\"audit\"")
            && everything_before.contains("\"type\":\"user\"")
    );

    // sled -> PostgreSQL
    let url = server.database("fleet");
    let out = sled.ok(&["fleet", "migrate", "--to", &url]);
    assert!(
        out.contains("to postgresql://postgres@")
            && out.ends_with("verify: 0 problems in the source, 0 in the copy; counts agree\n"),
        "{out}"
    );
    assert!(out.starts_with("copied 4 audit entries, 3 deliveries, 46 devices, 1 firmware histories, 2 images, 3 jobs, 2 triage decisions, 1 users, 1 webhooks to"), "{out}");
    let pg = Side {
        home: tempfile::tempdir().unwrap(),
        database: Some(url.clone()),
    };
    assert_eq!(answers(&pg), before);
    assert_eq!(everything(&PgStore::open(&url).unwrap()), everything_before);
    // Copying into it again is refused: it is not empty.
    let again = sled.run(&["fleet", "migrate", "--to", &url]);
    assert_eq!(again.code, 2);
    assert!(
        again
            .stderr
            .contains("already holds a fleet: copy only into an empty store"),
        "{}",
        again.stderr
    );

    // PostgreSQL -> a new embedded store.
    let back = Side {
        home: tempfile::tempdir().unwrap(),
        database: None,
    };
    let out = pg.ok(&[
        "fleet",
        "migrate",
        "--to",
        back.home.path().to_str().unwrap(),
    ]);
    assert!(out.ends_with("counts agree\n"), "{out}");
    assert_eq!(answers(&back), before);
    assert_eq!(back.ok(&["fleet", "verify"]), "0 problems\n");
    let everything_back = everything(&SledStore::open_to_read(back.home.path()).unwrap());
    assert_eq!(everything_back, everything_before);

    // Export and import-store: the same through a file.
    let file = sled.home.path().join("fleet.jsonl");
    let out = sled.ok(&["fleet", "export", file.to_str().unwrap()]);
    assert!(out.starts_with("exported 4 audit entries,"), "{out}");
    let url2 = server.database("fleet2");
    let pg2 = Side {
        home: tempfile::tempdir().unwrap(),
        database: Some(url2.clone()),
    };
    let out = pg2.ok(&["fleet", "import-store", file.to_str().unwrap()]);
    assert!(out.ends_with("verify: 0 problems\n"), "{out}");
    assert_eq!(answers(&pg2), before);
    assert_eq!(
        everything(&PgStore::open(&url2).unwrap()),
        everything_before
    );

    // New entries on the copies never reuse a copied sequence number.
    for store in [
        Box::new(PgStore::open(&url).unwrap()) as Box<dyn FleetStore>,
        Box::new(SledStore::open(back.home.path()).unwrap()),
    ] {
        let top = store.audit_log(None, 1000).unwrap().last().unwrap().seq;
        let row = store
            .findings(
                Some(OPENWRT_SHA),
                &Page {
                    after: None,
                    limit: 1,
                },
                &mut |f| f.state == fwaudit::fleet::FindingState::Active,
            )
            .unwrap();
        let entry = store
            .triage(&TriageDecision {
                image: OPENWRT_SHA.into(),
                finding: row[0].key.clone(),
                action: TriageAction::Suppress,
                reason: "copied".into(),
                expires: None,
                by: "test".into(),
                at: "2026-11-27T00:00:00Z".into(),
            })
            .unwrap();
        assert!(entry.seq > top, "{} after {top}", entry.seq);
        assert_eq!(store.audit_log(None, 1000).unwrap().len(), 5);
    }
}

/// TLS to the database: required by the URL, the server's certificate
/// checked against the CA of FWAUDIT_DATABASE_CA (refused without it).
#[test]
fn tls_to_the_database_is_verified() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "fwaudit test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let server = Postgres::start_tcp(&server_cert.pem(), &server_key.serialize_pem());
    server.sql("postgres", "CREATE DATABASE fleet");
    let home = tempfile::tempdir().unwrap();
    let ca = home.path().join("ca.pem");
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    let url = format!(
        "postgresql://postgres@localhost:{}/fleet?sslmode=require",
        server.port
    );
    let run = |ca: Option<&Path>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fwaudit"));
        cmd.args([
            "--data-dir",
            home.path().to_str().unwrap(),
            "--database",
            &url,
        ])
        .args(["fleet", "verify"])
        .env_remove("FWAUDIT_DATABASE_CA");
        if let Some(ca) = ca {
            cmd.env("FWAUDIT_DATABASE_CA", ca);
        }
        cmd.output().unwrap()
    };
    let refused = run(None);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("cannot open the fleet database") && err.contains("certificate"),
        "{err}"
    );
    let ok = run(Some(&ca));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "0 problems\n");
    // A worker's connections are encrypted.
    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_fwaudit"))
        .args([
            "--data-dir",
            home.path().to_str().unwrap(),
            "--database",
            &url,
            "worker",
        ])
        .env("FWAUDIT_DATABASE_CA", &ca)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let connected = "SELECT count(*) FILTER (WHERE s.ssl) || '/' || count(*) FROM pg_stat_ssl s \
                     JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'fwaudit'";
    let start = std::time::Instant::now();
    let mut seen = server.sql("postgres", connected);
    while seen == "0/0" && start.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        seen = server.sql("postgres", connected);
    }
    let _ = worker.kill();
    let _ = worker.wait();
    let (encrypted, all) = seen.split_once('/').unwrap();
    assert!(all != "0" && encrypted == all, "{seen}");
}
