//! `fwaudit serve` through HTTP on loopback: the OpenAPI document against
//! the router and every answer, the authorization matrix (every endpoint ×
//! every kind of caller), tag scoping, triage with its audit log, device
//! check-in, bad input, limits, the browser session's cookie and CSRF
//! rules, TLS, and webhooks (signature, retries, delivery log).

mod service;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};
use service::*;
use std::collections::BTreeSet;

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The OpenAPI document as the server serves it.
fn openapi(server: &Server) -> Value {
    let r = client()
        .get(format!("{}/api/v1/openapi.json", server.url))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.text().unwrap()).unwrap()
}

/// Every `(METHOD, path)` the router registers, read from the router's
/// source (`.route("/api/v1/...", get(..).post(..))`).
fn routes_in_source() -> BTreeSet<(String, String)> {
    let src = std::fs::read_to_string(root().join("src/serve/api.rs")).unwrap();
    let mut out = BTreeSet::new();
    let mut rest = src.as_str();
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + 7..];
        let end = rest.find("\n        )").map_or(rest.len(), |e| e);
        let call = &rest[..end.min(rest.find(".route(").unwrap_or(rest.len()))];
        let path = call.split('"').nth(1).unwrap().to_string();
        for m in ["get", "post", "delete", "put", "patch"] {
            if call.contains(&format!("{m}(")) {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn routes_in_document(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in item.as_object().unwrap().keys() {
            out.insert((m.to_uppercase(), path.clone()));
        }
    }
    out
}

/// Checks `body` against the schema the document gives for this
/// operation and status (or its `default`).
fn validate(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let op = &doc["paths"][path][method.to_lowercase()];
    assert!(op.is_object(), "{method} {path} is not in the document");
    let resp = match &op["responses"][status.to_string()] {
        Value::Null => &op["responses"]["default"],
        r => r,
    };
    assert!(
        !resp.is_null(),
        "{method} {path}: status {status} is not documented"
    );
    let resp = match resp.get("$ref").and_then(Value::as_str) {
        Some(r) => &doc["components"]["responses"][r.rsplit('/').next().unwrap()],
        None => resp,
    };
    let Some(schema) = resp["content"]["application/json"].get("schema") else {
        assert!(
            body.is_null(),
            "{method} {path} {status}: undocumented body"
        );
        return;
    };
    let mut schema = schema.clone();
    schema["components"] = doc["components"].clone();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: answer does not match the document: {errors:?}\n{body}"
    );
}

/// Sends one request; returns status and JSON body (Null when empty).
fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let c = client();
    let url = format!("{}{path}", server.url);
    let mut req = match method {
        "GET" => c.get(&url),
        "POST" => c.post(&url),
        "DELETE" => c.delete(&url),
        other => panic!("{other}"),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r: Response = req.send().unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    };
    (status, value)
}

/// The documented path a concrete one matches (`{id}` segments).
fn template_of(doc: &Value, path: &str) -> String {
    let path = path.split('?').next().unwrap();
    let segs: Vec<&str> = path.split('/').collect();
    for t in doc["paths"].as_object().unwrap().keys() {
        let ts: Vec<&str> = t.split('/').collect();
        if ts.len() == segs.len()
            && ts
                .iter()
                .zip(&segs)
                .all(|(a, b)| a == b || (a.starts_with('{') && a.ends_with('}')))
        {
            return t.clone();
        }
    }
    panic!("{path} matches no documented path")
}

#[test]
fn the_document_covers_every_route_and_every_answer_matches_it() {
    let (home, t) = fixture();
    let server = Server::start(home.path(), &["--rate-limit", "0"]);
    let doc = openapi(&server);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        routes_in_source(),
        routes_in_document(&doc),
        "the router and openapi.yaml list the same operations"
    );
    assert!(routes_in_source().len() >= 28);
    // Every GET in the document answers, and its answer matches.
    let gets = [
        "/api/v1/overview".to_string(),
        "/api/v1/devices?limit=2".into(),
        "/api/v1/devices/rt-001".into(),
        "/api/v1/images".into(),
        format!("/api/v1/images/{ROUTER}"),
        format!("/api/v1/images/{ROUTER}/devices"),
        "/api/v1/findings?severity=critical".into(),
        "/api/v1/audit".into(),
        "/api/v1/needs-patch?min_severity=high".into(),
        "/api/v1/where?component=openssl&version=%3E%3D3.0".into(),
        format!("/api/v1/diff?a={OPENWRT}&b={ROUTER}"),
        "/api/v1/advisories/CVE-2022-48174".into(),
        "/api/v1/advisories/CVE-2022-48174/devices?limit=3".into(),
        "/api/v1/jobs".into(),
        "/api/v1/keys".into(),
        "/api/v1/webhooks".into(),
    ];
    for path in &gets {
        let (status, body) = call(&server, "GET", path, Some(&t.admin), None);
        assert_eq!(status, 200, "{path}: {body}");
        validate(&doc, "GET", &template_of(&doc, path), status, &body);
    }
    // Errors match the error schema and name the field.
    let (status, body) = call(
        &server,
        "GET",
        "/api/v1/devices?limit=5000",
        Some(&t.read),
        None,
    );
    assert_eq!((status, body["field"].as_str()), (400, Some("limit")));
    validate(&doc, "GET", "/api/v1/devices", status, &body);
}

#[test]
fn the_authorization_matrix() {
    let (home, t) = fixture();
    let server = Server::start(home.path(), &["--rate-limit", "0"]);
    let doc = openapi(&server);
    // Things the requests refer to.
    let (_, job) = call(&server, "POST", "/api/v1/rematch", Some(&t.admin), None);
    let job = job["id"].as_str().unwrap().to_string();
    let (_, hook) = call(
        &server,
        "POST",
        "/api/v1/webhooks",
        Some(&t.admin),
        Some(&json!({"url": "http://127.0.0.1:9/kept", "events": ["resolved"]})),
    );
    let kept_hook = hook["hook"]["id"].as_str().unwrap().to_string();
    let (_, hook) = call(
        &server,
        "POST",
        "/api/v1/webhooks",
        Some(&t.admin),
        Some(&json!({"url": "http://127.0.0.1:9/gone", "events": ["resolved"]})),
    );
    let gone_hook = hook["hook"]["id"].as_str().unwrap().to_string();
    let (_, key) = call(
        &server,
        "POST",
        "/api/v1/keys",
        Some(&t.admin),
        Some(&json!({"name": "to-revoke", "scope": "read"})),
    );
    let key_id = key["key"]["id"].as_str().unwrap().to_string();
    let (_, rows) = call(
        &server,
        "GET",
        &format!("/api/v1/findings?image={ROUTER}&advisory=CVE-2023-38545"),
        Some(&t.admin),
        None,
    );
    let finding = rows["items"][0]["key"].as_str().unwrap().to_string();
    let triage =
        json!({"image": ROUTER, "finding": finding, "action": "suppress", "reason": "matrix"});

    // Columns: anonymous, read, triage, write, admin, admin bound to `us`
    // (the requests name `eu` things), revoked key, rt-001's device token.
    // Check-in rows are on rt-001 (own) and ow-1 (rt-001's token there:
    // another device).
    let columns: [(&str, Option<&str>); 8] = [
        ("anonymous", None),
        ("read", Some(&t.read)),
        ("triage", Some(&t.triage)),
        ("write", Some(&t.write)),
        ("admin", Some(&t.admin)),
        ("wrong tag", Some(&t.us_admin)),
        ("revoked", Some(&t.revoked)),
        ("device token", Some(&t.rt_001)),
    ];
    let import = json!([{"id": "rt-009", "model": "RT-AX", "firmware": "4.2.0", "tags": ["eu"]}]);
    let checkin = json!({"version": "4.2.0", "facts": {"uptime": 12}});
    let new_key = json!({"name": "matrix", "scope": "read"});
    let new_hook = json!({"url": "http://127.0.0.1:9/m", "events": ["new-finding"]});
    #[rustfmt::skip]
    let matrix: Vec<(&str, String, Option<&Value>, [u16; 8])> = vec![
        //                                                                 anon read tri  wri  adm  tag  rev  dev
        ("GET", "/api/v1/openapi.json".into(), None,                       [200, 200, 200, 200, 200, 200, 200, 200]),
        ("GET", "/api/v1/overview".into(), None,                           [401, 200, 200, 200, 200, 200, 401, 401]),
        ("GET", "/api/v1/devices".into(), None,                            [401, 200, 200, 200, 200, 200, 401, 401]),
        ("POST", "/api/v1/devices".into(), Some(&import),                  [401, 403, 403, 200, 200, 403, 401, 401]),
        ("GET", "/api/v1/devices/rt-001".into(), None,                     [401, 200, 200, 200, 200, 404, 401, 401]),
        ("POST", "/api/v1/devices/rt-001/checkin".into(), Some(&checkin),  [401, 401, 401, 401, 401, 401, 401, 200]),
        ("POST", "/api/v1/devices/ow-1/checkin".into(), Some(&checkin),    [401, 401, 401, 401, 401, 401, 401, 403]),
        ("POST", "/api/v1/devices/rt-002/token".into(), None,              [401, 403, 403, 403, 201, 404, 401, 401]),
        ("GET", "/api/v1/images".into(), None,                             [401, 200, 200, 200, 200, 200, 401, 401]),
        ("GET", format!("/api/v1/images/{ROUTER}"), None,                  [401, 200, 200, 200, 200, 404, 401, 401]),
        ("GET", format!("/api/v1/images/{ROUTER}/devices"), None,          [401, 200, 200, 200, 200, 404, 401, 401]),
        ("GET", "/api/v1/findings".into(), None,                           [401, 200, 200, 200, 200, 200, 401, 401]),
        ("POST", "/api/v1/findings/triage".into(), Some(&triage),          [401, 403, 200, 200, 200, 404, 401, 401]),
        ("GET", "/api/v1/audit".into(), None,                              [401, 200, 200, 200, 200, 200, 401, 401]),
        ("GET", "/api/v1/needs-patch".into(), None,                        [401, 200, 200, 200, 200, 200, 401, 401]),
        ("GET", "/api/v1/where?component=busybox".into(), None,            [401, 200, 200, 200, 200, 200, 401, 401]),
        ("GET", format!("/api/v1/diff?a={OPENWRT}&b={ROUTER}"), None,      [401, 200, 200, 200, 200, 404, 401, 401]),
        ("GET", "/api/v1/advisories/CVE-2023-38546".into(), None,          [401, 200, 200, 200, 200, 404, 401, 401]),
        ("GET", "/api/v1/advisories/CVE-2023-38546/devices".into(), None,  [401, 200, 200, 200, 200, 200, 401, 401]),
        ("POST", "/api/v1/rematch".into(), None,                           [401, 403, 403, 202, 202, 403, 401, 401]),
        ("POST", "/api/v1/scans".into(), None,                             [401, 403, 403, 400, 400, 400, 401, 401]),
        ("GET", "/api/v1/jobs".into(), None,                               [401, 403, 403, 200, 200, 200, 401, 401]),
        ("GET", format!("/api/v1/jobs/{job}"), None,                       [401, 403, 403, 200, 200, 200, 401, 401]),
        ("GET", "/api/v1/keys".into(), None,                               [401, 403, 403, 403, 200, 403, 401, 401]),
        ("POST", "/api/v1/keys".into(), Some(&new_key),                    [401, 403, 403, 403, 201, 403, 401, 401]),
        ("DELETE", format!("/api/v1/keys/{key_id}"), None,                 [401, 403, 403, 403, 200, 403, 401, 401]),
        ("GET", "/api/v1/webhooks".into(), None,                           [401, 403, 403, 403, 200, 403, 401, 401]),
        ("POST", "/api/v1/webhooks".into(), Some(&new_hook),               [401, 403, 403, 403, 201, 403, 401, 401]),
        ("DELETE", format!("/api/v1/webhooks/{gone_hook}"), None,          [401, 403, 403, 403, 204, 403, 401, 401]),
        ("GET", format!("/api/v1/webhooks/{kept_hook}/deliveries"), None,  [401, 403, 403, 403, 200, 403, 401, 401]),
    ];
    // The table names every operation of the document.
    let covered: BTreeSet<(String, String)> = matrix
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), template_of(&doc, p)))
        .collect();
    assert_eq!(covered, routes_in_document(&doc));
    let mut wrong = Vec::new();
    for (method, path, body, expected) in &matrix {
        for ((who, token), want) in columns.iter().zip(expected) {
            let (status, answer) = call(&server, method, path, *token, *body);
            if status != *want {
                wrong.push(format!(
                    "{method} {path} as {who}: {status}, expected {want}: {answer}"
                ));
            }
            if status != 204 {
                validate(&doc, method, &template_of(&doc, path), status, &answer);
            }
            if status >= 400 {
                assert!(answer["message"].is_string(), "{method} {path}: {answer}");
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // No token or password ever reaches the log.
    let log = server.log();
    for secret in [&t.read, &t.admin, &t.rt_001, &t.revoked] {
        assert!(!log.contains(secret.as_str()), "a token in the log: {log}");
        assert!(!log.contains(&secret[secret.len() - 20..]));
    }
}

#[test]
fn a_tag_bound_key_sees_only_its_devices_everywhere() {
    let (home, t) = fixture();
    let server = Server::start(home.path(), &["--rate-limit", "0"]);
    let get = |path: &str, token: &str| {
        let (s, v) = call(&server, "GET", path, Some(token), None);
        assert_eq!(s, 200, "{path}: {v}");
        v
    };
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&get("/api/v1/devices", &t.eu_read)),
        ["rt-001", "rt-002"]
    );
    assert_eq!(
        ids(&get("/api/v1/devices", &t.read)),
        ["ow-1", "ow-2", "rt-001", "rt-002"]
    );
    let images = get("/api/v1/images", &t.eu_read);
    assert_eq!(images["items"].as_array().unwrap().len(), 1);
    assert_eq!(images["items"][0]["image"], ROUTER);
    // The dashboard's numbers: the eu key counts the router and its two devices only.
    let all = get("/api/v1/overview", &t.read);
    let eu = get("/api/v1/overview", &t.eu_read);
    assert_eq!(
        (all["images"].as_u64(), all["devices"].as_u64()),
        (Some(2), Some(4))
    );
    assert_eq!(
        (eu["images"].as_u64(), eu["devices"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(eu["devices_needing_patch"], 2);
    assert_eq!(
        eu["patch_by_model"],
        json!([{"model": "RT-AX", "devices": 2}])
    );
    let router_only = get(
        &format!("/api/v1/findings?image={ROUTER}&state=active&limit=1000"),
        &t.read,
    );
    let critical_router = router_only["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "critical")
        .count() as u64;
    assert_eq!(
        eu["by_severity"][0],
        json!({"severity": "critical", "findings": critical_router})
    );
    let busybox = eu["top_vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["advisory"] == "CVE-2022-48174")
        .unwrap();
    assert_eq!(
        (busybox["devices"].as_u64(), busybox["images"].as_u64()),
        (Some(2), Some(1))
    );
    // Findings, needs-patch, where and advisories likewise.
    let findings = get("/api/v1/findings?limit=1000", &t.eu_read);
    assert!(
        findings["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["image"] == ROUTER)
    );
    let groups = get("/api/v1/needs-patch", &t.eu_read);
    assert_eq!(groups["items"].as_array().unwrap().len(), 1);
    assert_eq!(groups["items"][0]["devices"], 2);
    let hits = get("/api/v1/where?component=busybox&version=1.35.0", &t.eu_read);
    // (One line per image and version, as `fleet where` gives it.)
    assert_eq!(
        hits,
        json!([{"image": ROUTER, "version": "1.35.0", "ecosystem": "upstream", "devices": 2}])
    );
    let adv = get("/api/v1/advisories/CVE-2022-48174", &t.eu_read);
    assert_eq!(adv["devices"], 2);
    let devs = get("/api/v1/advisories/CVE-2022-48174/devices", &t.eu_read);
    let names: Vec<&str> = devs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rt-001", "rt-002"]);
    let all_devs = get("/api/v1/advisories/CVE-2022-48174/devices?limit=3", &t.read);
    assert_eq!(all_devs["items"].as_array().unwrap().len(), 3);
    let rest = get(
        &format!(
            "/api/v1/advisories/CVE-2022-48174/devices?limit=3&cursor={}",
            all_devs["next_cursor"].as_str().unwrap()
        ),
        &t.read,
    );
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest.get("next_cursor").is_none());
}

#[test]
fn triage_changes_state_survives_a_rematch_and_is_audited() {
    let (home, t) = fixture();
    let server = Server::start(home.path(), &["--rate-limit", "0"]);
    let (_, rows) = call(
        &server,
        "GET",
        &format!("/api/v1/findings?image={ROUTER}&advisory=CVE-2023-38545"),
        Some(&t.read),
        None,
    );
    let key = rows["items"][0]["key"].as_str().unwrap().to_string();
    assert_eq!(rows["items"][0]["state"], "active");
    let (status, entry) = call(
        &server,
        "POST",
        "/api/v1/findings/triage",
        Some(&t.triage),
        Some(
            &json!({"image": ROUTER, "finding": key, "action": "suppress",
                     "reason": "curl is built without SOCKS5", "expires": "2027-06-01"}),
        ),
    );
    assert_eq!(status, 200, "{entry}");
    assert_eq!(
        (
            entry["from_state"].as_str(),
            entry["to_state"].as_str(),
            entry["by"].as_str()
        ),
        (
            Some("active"),
            Some("suppressed"),
            Some(format!("key triager ({})", t.triage.split('_').nth(1).unwrap()).as_str())
        )
    );
    // Only active findings count: needs-patch no longer lists the advisory.
    let (_, adv) = call(
        &server,
        "GET",
        "/api/v1/advisories/CVE-2023-38545",
        Some(&t.read),
        None,
    );
    assert_eq!(adv["error"], "not_found");
    // A rematch re-judges the image and keeps the decision.
    let (_, job) = call(&server, "POST", "/api/v1/rematch", Some(&t.write), None);
    let id = job["id"].as_str().unwrap().to_string();
    wait_for(60, "the rematch job", || {
        call(
            &server,
            "GET",
            &format!("/api/v1/jobs/{id}"),
            Some(&t.write),
            None,
        )
        .1["state"]
            == "done"
    });
    let (_, image) = call(
        &server,
        "GET",
        &format!("/api/v1/images/{ROUTER}"),
        Some(&t.read),
        None,
    );
    let f = image["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key.as_str())
        .unwrap();
    assert_eq!(f["state"], "suppressed");
    assert_eq!(
        f["finding"]["suppressed"],
        json!({"reason": "curl is built without SOCKS5", "expires": "2027-06-01"})
    );
    // Reopened: active again, and the log has both entries in order.
    let (status, _) = call(
        &server,
        "POST",
        "/api/v1/findings/triage",
        Some(&t.admin),
        Some(&json!({"image": ROUTER, "finding": key, "action": "reopen"})),
    );
    assert_eq!(status, 200);
    let (_, rows) = call(
        &server,
        "GET",
        &format!("/api/v1/findings?image={ROUTER}&advisory=CVE-2023-38545"),
        Some(&t.read),
        None,
    );
    assert_eq!(rows["items"][0]["state"], "active");
    let (_, log) = call(&server, "GET", "/api/v1/audit", Some(&t.read), None);
    let steps: Vec<String> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}->{}",
                e["action"].as_str().unwrap(),
                e["from_state"].as_str().unwrap(),
                e["to_state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        steps,
        ["suppress active->suppressed", "reopen suppressed->active"]
    );
    // Bad triage input names the field.
    for (body, field) in [
        (
            json!({"image": ROUTER, "finding": key, "action": "suppress"}),
            "reason",
        ),
        (
            json!({"image": ROUTER, "finding": key, "action": "mute", "reason": "x"}),
            "action",
        ),
        (
            json!({"image": ROUTER, "finding": key, "action": "suppress", "reason": "x", "expires": "2026-02-30"}),
            "expires",
        ),
        (
            json!({"image": ROUTER, "finding": key, "action": "suppress", "reason": "x", "expires": "2020-01-01"}),
            "expires",
        ),
        (
            json!({"image": "xyz", "finding": key, "action": "suppress", "reason": "x"}),
            "image",
        ),
        (
            json!({"image": ROUTER, "finding": key, "action": "suppress", "reason": "x", "extra": 1}),
            "extra",
        ),
    ] {
        let (status, e) = call(
            &server,
            "POST",
            "/api/v1/findings/triage",
            Some(&t.admin),
            Some(&body),
        );
        assert_eq!(
            (status, e["field"].as_str()),
            (400, Some(field)),
            "{body}: {e}"
        );
    }
    let (status, e) = call(
        &server,
        "POST",
        "/api/v1/findings/triage",
        Some(&t.admin),
        Some(&json!({"image": ROUTER, "finding": "vulnerable|CVE-0|x|-", "action": "reopen"})),
    );
    assert_eq!(status, 404, "{e}");
}

#[test]
fn check_ins_keep_last_seen_and_firmware_history() {
    let (home, t) = fixture();
    let server = Server::start(home.path(), &["--rate-limit", "0"]);
    let checkin = |body: Value| {
        call(
            &server,
            "POST",
            "/api/v1/devices/rt-001/checkin",
            Some(&t.rt_001),
            Some(&body),
        )
    };
    // where's answer is reused until a write: asked before the device moves,
    // it must not be the answer after.
    let router_devices = || {
        let (_, hits) = call(
            &server,
            "GET",
            "/api/v1/where?component=busybox&version=1.35.0",
            Some(&t.read),
            None,
        );
        hits.as_array()
            .unwrap()
            .iter()
            .find(|h| h["image"] == ROUTER)
            .map(|h| h["devices"].clone())
    };
    assert_eq!(router_devices(), Some(json!(2)));
    assert_eq!(router_devices(), Some(json!(2)));
    let (s, a) = checkin(json!({"version": "4.2.0", "facts": {"uptime": 3600}}));
    assert_eq!(
        (s, a),
        (
            200,
            json!({"device": "rt-001", "image": ROUTER, "known": true, "changed": false})
        )
    );
    let (s, a) = checkin(
        json!({"sha256": OPENWRT.to_uppercase(), "facts": {"uptime": 5, "model": "RT-AX2"}}),
    );
    assert_eq!(
        (s, a),
        (
            200,
            json!({"device": "rt-001", "image": OPENWRT, "known": true, "changed": true})
        )
    );
    let (s, a) = checkin(json!({"version": "9.9.9"}));
    assert_eq!(
        (s, a["known"].as_bool(), a["changed"].as_bool()),
        (200, Some(false), Some(true))
    );
    let (_, d) = call(
        &server,
        "GET",
        "/api/v1/devices/rt-001",
        Some(&t.read),
        None,
    );
    assert_eq!(d["device"]["firmware"], "9.9.9");
    assert_eq!(d["device"]["image"], Value::Null);
    assert_eq!(d["device"]["model"], "RT-AX2");
    let history: Vec<&str> = d["firmware_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["firmware"].as_str().unwrap())
        .collect();
    assert_eq!(history, [OPENWRT, "9.9.9"]);
    // The device moved off the router: where counts one device fewer there.
    assert_eq!(router_devices(), Some(json!(1)));
    // The device moved off the router: its table has one device left.
    let (_, devs) = call(
        &server,
        "GET",
        &format!("/api/v1/images/{ROUTER}/devices"),
        Some(&t.read),
        None,
    );
    assert_eq!(
        devs["items"],
        json!([{"id": "rt-002", "model": "RT-AX", "tags": ["eu", "lab"]}])
    );
    for (body, field) in [
        (json!({}), "sha256"),
        (json!({"sha256": "abc"}), "sha256"),
        (json!({"version": "1", "sha256": OPENWRT}), "sha256"),
        (json!({"version": 3}), "version"),
        (json!({"version": "1", "uptime": 3}), "uptime"),
    ] {
        let (s, e) = checkin(body.clone());
        assert_eq!((s, e["field"].as_str()), (400, Some(field)), "{body}: {e}");
    }
    // After the server stops, the store agrees with itself.
    drop(server);
    let (code, out, err) = fwaudit(home.path(), &["fleet", "verify"], None);
    assert_eq!((code, out.as_str()), (0, "0 problems\n"), "{err}");
}

#[test]
fn limits_bad_input_and_rate() {
    let (home, t) = fixture();
    let server = Server::start(home.path(), &["--rate-limit", "5", "--max-upload", "1000"]);
    let c = client();
    // JSON bodies over 64 KiB, uploads over --max-upload.
    let big = json!([{"id": "x".repeat(70_000), "model": "m", "firmware": "f"}]);
    let (s, e) = call(
        &server,
        "POST",
        "/api/v1/findings/triage",
        Some(&t.admin),
        Some(&big),
    );
    assert_eq!((s, e["field"].as_str()), (413, Some("body")));
    let r = c
        .post(format!("{}/api/v1/scans", server.url))
        .bearer_auth(&t.write)
        .body(vec![0u8; 5000])
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(
        std::fs::read_dir(home.path().join("uploads"))
            .unwrap()
            .next()
            .is_none(),
        "a refused upload is removed"
    );
    let r = c
        .post(format!("{}/api/v1/findings/triage", server.url))
        .bearer_auth(&t.admin)
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    assert_eq!(e["field"], "content-type");
    // Five a second, bursts of ten: the eleventh request in a row waits.
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let r = c
            .get(format!("{}/api/v1/images", server.url))
            .bearer_auth(&t.read)
            .send()
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );
    // Another key has its own budget.
    let (s, _) = call(&server, "GET", "/api/v1/images", Some(&t.admin), None);
    assert_eq!(s, 200);
}

#[test]
fn dashboard_sessions_cookies_csrf_and_headers() {
    let (home, t) = fixture();
    let (code, out, err) = fwaudit(
        home.path(),
        &["users", "add", "alice", "--scope", "triage", "--tag", "eu"],
        Some("correct horse battery staple\n"),
    );
    assert_eq!((code, out.as_str()), (0, "user alice saved\n"), "{err}");
    let (code, _, err) = fwaudit(
        home.path(),
        &["users", "add", "bob", "--scope", "read"],
        Some("short\n"),
    );
    assert_eq!(code, 2);
    assert!(err.contains("at least 12 characters"), "{err}");
    let server = Server::start(home.path(), &["--rate-limit", "0"]);
    let c = client();
    let r = c.get(format!("{}/", server.url)).send().unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let r = c.get(format!("{}/login", server.url)).send().unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    let pre = cookie.split(';').next().unwrap().to_string();
    let html = r.text().unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "no inline script or style"
    );
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    // Without the CSRF token, or with a wrong password: refused.
    let r = c
        .post(format!("{}/login", server.url))
        .header("cookie", &pre)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user=alice&password=correct+horse+battery+staple")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(format!("{}/login", server.url))
        .header("cookie", &pre)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&user=alice&password=wrong"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(format!("{}/login", server.url))
        .header("cookie", &pre)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&user=alice&password=correct+horse+battery+staple"
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("fwaudit_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    let session = session.split(';').next().unwrap().to_string();
    let page = c
        .get(format!("{}/", server.url))
        .header("cookie", &session)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("user alice · triage"));
    // Alice is bound to `eu`: the page counts 2 devices on 1 image.
    assert!(
        html.contains(
            "<span id=\"device-count\">2</span> devices on <span id=\"image-count\">1</span>"
        ),
        "{html}"
    );
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    // A triage form post needs the session's token.
    let (_, rows) = call(
        &server,
        "GET",
        &format!("/api/v1/findings?image={ROUTER}&advisory=CVE-2023-38545"),
        Some(&t.read),
        None,
    );
    let key = rows["items"][0]["key"].as_str().unwrap().to_string();
    let form = |token: &str| {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", token)
            .append_pair("image", ROUTER)
            .append_pair("finding", &key)
            .append_pair("action", "not_affected")
            .append_pair("reason", "SOCKS5 disabled")
            .append_pair("back", "/findings")
            .finish();
        c.post(format!("{}/findings/triage", server.url))
            .header("cookie", &session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap()
    };
    assert_eq!(form("0000").status(), 403);
    let r = form(&csrf);
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/findings");
    let (_, rows) = call(
        &server,
        "GET",
        &format!("/api/v1/findings?image={ROUTER}&advisory=CVE-2023-38545"),
        Some(&t.read),
        None,
    );
    assert_eq!(rows["items"][0]["state"], "not_affected");
    // Alice cannot open the OpenWrt image (not within eu).
    let r = c
        .get(format!("{}/images/{OPENWRT}", server.url))
        .header("cookie", &session)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    // The script and style sheet come from the binary.
    let js = c
        .get(format!("{}/assets/app.js", server.url))
        .send()
        .unwrap();
    assert_eq!(js.headers()["content-type"], "text/javascript");
}

#[test]
fn tls_serves_https_and_marks_cookies_secure() {
    let (home, _) = fixture();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (c, k) = (home.path().join("cert.pem"), home.path().join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    let server = Server::start(
        home.path(),
        &[
            "--tls-cert",
            c.to_str().unwrap(),
            "--tls-key",
            k.to_str().unwrap(),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let url = server.url.replace("127.0.0.1", "localhost");
    let client = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = client.get(format!("{url}/login")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
    assert!(r.headers().get("strict-transport-security").is_some());
    // Plain HTTP to the TLS port gets no answer.
    let plain = client
        .get(server.url.replace("https", "http") + "/login")
        .send();
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

#[test]
fn webhooks_are_signed_retried_and_logged() {
    let (home, t) = fixture();
    let (good_url, good) = receiver(vec![200]);
    let (flaky_url, flaky) = receiver(vec![500, 500, 200]);
    let (code, out, err) = fwaudit(
        home.path(),
        &[
            "webhooks",
            "add",
            &good_url,
            "--events",
            "new-finding,new-device-firmware",
            "--min-severity",
            "high",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let secret = out
        .lines()
        .nth(1)
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    let hook_id = out.split_whitespace().nth(1).unwrap().to_string();
    let (code, _, err) = fwaudit(
        home.path(),
        &[
            "webhooks",
            "add",
            &flaky_url,
            "--events",
            "new-device-firmware",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let server = Server::start(
        home.path(),
        &["--rate-limit", "0", "--webhook-backoff", "1"],
    );
    // A device moves to other firmware: both hooks hear of it.
    let (s, _) = call(
        &server,
        "POST",
        "/api/v1/devices/rt-001/checkin",
        Some(&t.rt_001),
        Some(&json!({"version": "23.05.0"})),
    );
    assert_eq!(s, 200);
    wait_for(30, "the flaky receiver's third attempt", || {
        flaky.lock().unwrap().len() == 3
    });
    wait_for(10, "the good receiver", || !good.lock().unwrap().is_empty());
    let first = good.lock().unwrap()[0].clone();
    // The signature is HMAC-SHA256 of the body under the hook's secret,
    // checked here with an independent implementation (hmac + sha2).
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&first.body);
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(first.header("x-fwaudit-signature"), Some(want.as_str()));
    let body: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(
        body["events"],
        json!([{"type": "new-device-firmware", "image": OPENWRT, "device": "rt-001",
                "firmware": "23.05.0", "previous_firmware": "4.2.0"}])
    );
    let flaky_bodies: Vec<Vec<u8>> = flaky
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.body.clone())
        .collect();
    assert!(
        flaky_bodies.windows(2).all(|w| w[0] == w[1]),
        "a retry sends the same batch"
    );
    // An uploaded image's new findings: only high and critical reach the first hook.
    let bytes = std::fs::read(root().join("samples/openwrt-mipsel.bin")).unwrap();
    let mut patched = bytes.clone();
    patched.extend_from_slice(b"fwaudit webhook test trailer");
    let r = client()
        .post(format!(
            "{}/api/v1/scans?firmware_version=23.05.0-t",
            server.url
        ))
        .bearer_auth(&t.write)
        .body(patched)
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let job: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    wait_for(60, "the scan job", || {
        call(
            &server,
            "GET",
            &format!("/api/v1/jobs/{id}"),
            Some(&t.write),
            None,
        )
        .1["state"]
            == "done"
    });
    wait_for(10, "the finding batch", || good.lock().unwrap().len() == 2);
    let batch: Value = serde_json::from_slice(&good.lock().unwrap()[1].body).unwrap();
    let events = batch["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e["type"] == "new-finding"
            && (e["severity"] == "high" || e["severity"] == "critical")),
        "{batch}"
    );
    assert_eq!(
        flaky.lock().unwrap().len(),
        3,
        "the second hook wants no finding events"
    );
    // The delivery log: one attempt for the good hook's batches; three for the flaky one.
    let (_, log) = call(
        &server,
        "GET",
        &format!("/api/v1/webhooks/{hook_id}/deliveries"),
        Some(&t.admin),
        None,
    );
    assert_eq!(log.as_array().unwrap().len(), 2);
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|d| d["delivered"] == true && d["status"] == 200)
    );
    drop(server);
    let (_, hooks, _) = fwaudit(home.path(), &["webhooks", "list", "--json"], None);
    let hooks: Value = serde_json::from_str(&hooks).unwrap();
    let flaky_id = hooks
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["url"] == flaky_url.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, log, _) = fwaudit(home.path(), &["webhooks", "deliveries", &flaky_id], None);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(lines[0].contains("attempt 3: delivered"), "{log}");
    assert!(
        lines[2].contains("attempt 1: failed") && lines[2].contains("answered 500"),
        "{log}"
    );
}

#[test]
fn fleet_commands_say_when_serve_holds_the_store() {
    let (home, _) = fixture();
    let server = Server::start(home.path(), &[]);
    let (code, _, err) = fwaudit(home.path(), &["fleet", "needs-patch"], None);
    assert_eq!(code, 2);
    assert!(
        err.contains("fleet store busy")
            && err.contains(&format!(
                "`fwaudit serve` (pid {}) holds it: use its API at {}",
                server.child.id(),
                server.url
            )),
        "{err}"
    );
    drop(server);
    let (code, _, err) = fwaudit(home.path(), &["fleet", "verify"], None);
    assert_eq!(code, 0, "{err}");
    assert!(!home.path().join("serve.json").exists());
}
