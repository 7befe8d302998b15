//! A real `fwaudit serve` on loopback over a store made from the samples:
//! both sample images, four devices (two `eu` routers, two `us` OpenWrt
//! boxes), keys of every scope, a revoked key, device tokens.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ROUTER: &str = "868e0e80a421efc7885af9f9577ec462ec91c9a5f8aa50ad5a061dbeaf65836b";
pub const OPENWRT: &str = "c574200730615c43033b03c6544fe5e1b34401cb31ec160e9248c44dea6f7461";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs fwaudit with the test environment (pinned date, bundled advisories).
pub fn fwaudit(home: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fwaudit"))
        .arg("--data-dir")
        .arg(home)
        .args(args)
        .current_dir(root())
        .env("FWAUDIT_TODAY", "2026-11-25")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fwaudit");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let run = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!run.2.contains("panicked"), "fwaudit panicked: {}", run.2);
    run
}

fn ok(home: &Path, args: &[&str]) -> String {
    let (code, out, err) = fwaudit(home, args, None);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// The tokens of the fixture's keys and devices.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub read: String,
    pub triage: String,
    pub write: String,
    pub admin: String,
    /// admin scope, bound to tag `us`: sees only the OpenWrt boxes.
    pub us_admin: String,
    /// read scope, bound to tag `eu`: sees only the routers.
    pub eu_read: String,
    pub revoked: String,
    /// Check-in tokens of rt-001 and ow-1.
    pub rt_001: String,
    pub ow_1: String,
}

/// A data directory with the fixture store (no server yet).
pub fn fixture() -> (tempfile::TempDir, Tokens) {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(
        h,
        &[
            "scan",
            "samples/router-armhf.bin",
            "--store",
            "--firmware-version",
            "4.2.0",
        ],
    );
    ok(
        h,
        &[
            "scan",
            "samples/openwrt-mipsel.bin",
            "--store",
            "--firmware-version",
            "23.05.0",
        ],
    );
    let csv = h.join("devices.csv");
    std::fs::write(
        &csv,
        "id,model,firmware,tags\n\
         rt-001,RT-AX,4.2.0,eu\n\
         rt-002,RT-AX,4.2.0,eu;lab\n\
         ow-1,OW-1,23.05.0,us\n\
         ow-2,OW-1,23.05.0,us\n",
    )
    .unwrap();
    ok(h, &["fleet", "import", csv.to_str().unwrap()]);
    let key = |name: &str, scope: &str, tags: &[&str]| -> String {
        let mut args = vec!["keys", "create", "--name", name, "--scope", scope];
        for t in tags {
            args.extend(["--tag", t]);
        }
        let out = ok(h, &args);
        out.lines().next().unwrap().to_string()
    };
    let tokens = Tokens {
        read: key("reader", "read", &[]),
        triage: key("triager", "triage", &[]),
        write: key("writer", "write", &[]),
        admin: key("ops", "admin", &[]),
        us_admin: key("us-ops", "admin", &["us"]),
        eu_read: key("eu-reader", "read", &["eu"]),
        revoked: {
            let t = key("old", "admin", &[]);
            let id = t.split('_').nth(1).unwrap().to_string();
            ok(h, &["keys", "revoke", &id]);
            t
        },
        rt_001: ok(h, &["keys", "device-token", "rt-001"])
            .lines()
            .next()
            .unwrap()
            .to_string(),
        ow_1: ok(h, &["keys", "device-token", "ow-1"])
            .lines()
            .next()
            .unwrap()
            .to_string(),
    };
    (home, tokens)
}

/// A running server; stopped (SIGTERM, then waited for) when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(home: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fwaudit"))
            .arg("--data-dir")
            .arg(home)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .current_dir(root())
            .env("FWAUDIT_TODAY", "2026-11-25")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fwaudit serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split(" on ").nth(1)
                    && line.starts_with("fwaudit: serving")
                {
                    let _ = tx.send(url.to_string());
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("serve did not start: {}", log.lock().unwrap()));
        Server {
            child,
            url,
            stderr: log,
        }
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM: the server stops gracefully and flushes the store.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request a loopback receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP receiver that answers each request with the next status
/// of `statuses` (the last one repeats) and keeps what it got.
pub fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().map_while(Result::ok).enumerate() {
            let mut reader = BufReader::new(stream);
            let mut headers = Vec::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            sink.lock().unwrap().push(Received { headers, body });
            let status = statuses[n.min(statuses.len() - 1)];
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

/// Waits until `f` holds, or fails after `secs`.
pub fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}
