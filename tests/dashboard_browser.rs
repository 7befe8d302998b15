//! The dashboard in a real browser: Debian's headless Chromium driven
//! through ChromeDriver (WebDriver, via fantoccini). Logs in, reads the
//! overview, filters the device list, opens a vulnerability, triages a
//! finding and sees its state change, and checks the overview at phone
//! width. Screenshots go to `target/tmp/dashboard-screenshots/`.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them); without
//! them the test says it was skipped, and fails when
//! `FWAUDIT_REQUIRE_BROWSER=1` (as CI sets it).

mod service;
use fantoccini::{ClientBuilder, Locator};
use service::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn log_in_filter_open_a_vulnerability_and_triage() {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("FWAUDIT_REQUIRE_BROWSER").is_none(),
            "FWAUDIT_REQUIRE_BROWSER is set but {CHROMIUM} / {CHROMEDRIVER} are missing"
        );
        eprintln!(
            "SKIPPED: the browser test needs chromium and chromium-driver (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let (home, _) = fixture();
    let (code, _, err) = fwaudit(
        home.path(),
        &["users", "add", "carol", "--scope", "triage"],
        Some("a long enough password\n"),
    );
    assert_eq!(code, 0, "{err}");
    let server = Server::start(home.path(), &["--rate-limit", "0"]);
    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(20, "chromedriver", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(drive(&server.url, port, profile.path()));
    drop(driver);
}

async fn drive(url: &str, port: u16, profile: &Path) {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                     "--window-size=1280,900", format!("--user-data-dir={}", profile.display())]
        }),
    );
    let c = ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session in headless Chromium");
    let shot = |name: &'static str| {
        let c = c.clone();
        async move {
            let png = c.screenshot().await.unwrap();
            std::fs::write(shots().join(name), png).unwrap();
        }
    };
    // A form post navigates: wait until the browser is on the new page.
    let arrive = |want: &'static str| {
        let c = c.clone();
        async move {
            for _ in 0..100 {
                let u = c.current_url().await.unwrap();
                let here = format!("{}?{}", u.path(), u.query().unwrap_or(""));
                let ready = c
                    .execute("return document.readyState;", vec![])
                    .await
                    .unwrap();
                if here.starts_with(want) && ready == serde_json::json!("complete") {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the browser did not reach {want}");
        }
    };
    // Chromium may still swap the document in just after `arrive` saw the
    // new URL, which turns a found element stale: look it up again then.
    let text = |css: &'static str| {
        let c = c.clone();
        async move {
            let mut last = String::new();
            for _ in 0..50 {
                match c.find(Locator::Css(css)).await {
                    Ok(el) => match el.text().await {
                        Ok(t) => return t,
                        Err(e) => last = e.to_string(),
                    },
                    Err(e) => last = e.to_string(),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("{css}: {last}");
        }
    };
    // Every match's text, looked up again if the document was swapped meanwhile.
    let texts = |css: &'static str| {
        let c = c.clone();
        async move {
            let mut last = String::new();
            'again: for _ in 0..50 {
                let mut out = Vec::new();
                match c.find_all(Locator::Css(css)).await {
                    Ok(cells) => {
                        for cell in cells {
                            match cell.text().await {
                                Ok(t) => out.push(t),
                                Err(e) => {
                                    last = e.to_string();
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                    continue 'again;
                                }
                            }
                        }
                        return out;
                    }
                    Err(e) => last = e.to_string(),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("{css}: {last}");
        }
    };

    // Log in: the first page sends us to the login form.
    c.goto(&format!("{url}/")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    shot("01-login.png").await;
    let form = c.form(Locator::Css("#login-user")).await.unwrap();
    form.set_by_name("user", "carol").await.unwrap();
    form.set_by_name("password", "a long enough password")
        .await
        .unwrap();
    form.submit().await.unwrap();
    arrive("/?").await;
    assert_eq!(text("#who").await, "user carol · triage");
    assert_eq!(text("#device-count").await, "4");
    assert_eq!(text("#image-count").await, "2");
    assert_eq!(text("#patch-count").await, "4");
    // The trend is drawn (two lines), the model bars and top list are there.
    let lines = c.find_all(Locator::Css("#trend polyline")).await.unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        c.find_all(Locator::Css("#by-model tr"))
            .await
            .unwrap()
            .len(),
        2
    );
    shot("02-overview.png").await;

    // Filter the device list.
    c.goto(&format!("{url}/devices")).await.unwrap();
    let form = c.form(Locator::Css("#device-filters")).await.unwrap();
    form.set_by_name("model", "OW-1").await.unwrap();
    form.submit().await.unwrap();
    arrive("/devices?model=OW-1").await;
    let ids = texts("#devices tbody tr td:first-child").await;
    assert_eq!(ids, ["ow-1", "ow-2"]);
    shot("03-devices-filtered.png").await;

    // Open a vulnerability from the overview's top list.
    c.goto(&format!("{url}/")).await.unwrap();
    c.find(Locator::Css(
        "#top-vulns a[href='/vulnerabilities/CVE-2022-48174']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    arrive("/vulnerabilities/CVE-2022-48174").await;
    assert_eq!(text("#advisory").await, "CVE-2022-48174");
    assert_eq!(text("#affected").await, "4");
    assert_eq!(text("#ship li").await, "busybox 1.37.0");
    assert_eq!(
        c.find_all(Locator::Css("#affected-devices tbody tr"))
            .await
            .unwrap()
            .len(),
        4
    );
    shot("04-vulnerability.png").await;

    // Triage: suppress the curl SOCKS5 finding and see it change state.
    c.goto(&format!("{url}/findings?advisory=CVE-2023-38545"))
        .await
        .unwrap();
    let row = "#findings tbody tr[data-state='active']";
    assert_eq!(text("#findings tbody tr .state").await, "active");
    // app.js marks the reason as required unless the action is a reopen.
    let required = c
        .execute(
            "return document.querySelector('form.triage input[name=reason]').required;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(required, serde_json::json!(true));
    let form = c
        .form(Locator::Css(&format!("{row} form.triage")))
        .await
        .unwrap();
    form.set_by_name("action", "suppress").await.unwrap();
    form.set_by_name("reason", "SOCKS5 proxies are not used on this device")
        .await
        .unwrap();
    form.submit().await.unwrap();
    // Back on the list the form was on, which now shows the new state.
    // While the page is replaced the row may be missing or stale: poll
    // without failing until the new page's row reads something else.
    for _ in 0..50 {
        let state = match c.find(Locator::Css("#findings tbody tr .state")).await {
            Ok(cell) => cell.text().await.ok(),
            Err(_) => None,
        };
        if state.is_some_and(|s| s != "active") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    arrive("/findings?advisory=CVE-2023-38545").await;
    assert_eq!(text("#findings tbody tr .state").await, "suppressed");
    shot("05-triaged.png").await;
    c.goto(&format!(
        "{url}/images/868e0e80a421efc7885af9f9577ec462ec91c9a5f8aa50ad5a061dbeaf65836b"
    ))
    .await
    .unwrap();
    let state =
        text("#findings tr[data-key='vulnerable|CVE-2023-38545|curl@7.88.1|-'] .state").await;
    assert!(
        state.starts_with("suppressed") && state.contains("SOCKS5 proxies are not used"),
        "{state}"
    );
    shot("06-image.png").await;

    // Phone width: nothing wider than the screen but the scrolling tables.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{url}/")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fits = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap();
    shot("07-overview-phone.png").await;
    assert_eq!(
        fits,
        serde_json::json!(true),
        "the overview scrolls sideways at 390 px"
    );
    c.goto(&format!("{url}/findings")).await.unwrap();
    let fits = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap();
    shot("08-findings-phone.png").await;
    assert_eq!(
        fits,
        serde_json::json!(true),
        "the findings page scrolls sideways at 390 px"
    );
    c.close().await.unwrap();
}
