//! `db update`: download advisory sources over HTTPS and swap them into the
//! store only when every download and parse succeeded, so a failed update
//! leaves the previous database in use and says which source failed.
//!
//! Sources and their default locations (each overridable with `--url`):
//! - `osv`: OSV per-ecosystem exports, `{base}/{ecosystem}/all.zip`
//! - `rustsec`: RustSec through its OSV export, `{base}/crates.io/all.zip`
//! - `nvd`: the NVD CVE API 2.0, paged, `{base}?startIndex=N&resultsPerPage=2000`;
//!   once the store holds a full NVD download from the same URL less than 120
//!   days old (the API's longest window), only the records modified since then
//!   (`lastModStartDate`/`lastModEndDate`) are fetched and merged in, and
//!   records NVD has since rejected are removed
//! - `eol`: endoflife.date, `{base}/{product}.json`
//! - `debian`: the Debian Security Tracker's JSON, `{url}` (one document of
//!   tens of MB with every source package, CVE and release), kept per
//!   release as distribution fix data ([`super::distro`])
//!
//! Conditional requests (`If-None-Match` / `If-Modified-Since`) make a
//! nightly update cheap: an unchanged export is not downloaded again.

use super::eol::{Cycle, Product};
use super::import::{self, Imported};
use super::store::{self, CacheEntry};
use reqwest::blocking::{Client, Response};
use reqwest::header::{
    CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    RETRY_AFTER,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

pub const OSV_BASE: &str = "https://osv-vulnerabilities.storage.googleapis.com";
pub const NVD_BASE: &str = "https://services.nvd.nist.gov/rest/json/cves/2.0";
pub const EOL_BASE: &str = "https://endoflife.date/api";
pub const DEBIAN_TRACKER: &str = "https://security-tracker.debian.org/tracker/data/json";

/// OSV ecosystems fetched by default: the language ecosystems of device
/// back-ends and OSS-Fuzz (C libraries).
pub const DEFAULT_ECOSYSTEMS: &[&str] = &["crates.io", "PyPI", "npm", "Go", "OSS-Fuzz"];

/// (fwaudit product, endoflife.date product) pairs fetched for `eol`.
pub const EOL_PRODUCTS: &[(&str, &str)] = &[
    ("openssl", "openssl"),
    ("linux", "linux"),
    ("sqlite", "sqlite"),
    ("nginx", "nginx"),
    ("python", "python"),
    ("php", "php"),
    ("nodejs", "nodejs"),
];

/// Largest body accepted from any source.
const MAX_BODY: u64 = 2 << 30;
/// How often a 429/503 answer is retried, and the longest `Retry-After` honoured.
const RETRIES: usize = 3;
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Osv,
    Rustsec,
    Nvd,
    Eol,
    Debian,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Osv => "osv",
            Source::Rustsec => "rustsec",
            Source::Nvd => "nvd",
            Source::Eol => "eol",
            Source::Debian => "debian",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub sources: Vec<Source>,
    /// Replaces the default base URL of the (single) chosen source.
    pub url: Option<String>,
    pub ecosystems: Vec<String>,
    pub timeout: Duration,
    /// Pause between NVD pages: the API allows 5 requests per 30 s without
    /// a key and 50 with one.
    pub nvd_page_delay: Duration,
    pub nvd_api_key: Option<String>,
    /// Download all of NVD even when an incremental update is possible.
    pub nvd_full: bool,
}

impl Default for Options {
    fn default() -> Self {
        let key = std::env::var("NVD_API_KEY").ok().filter(|k| !k.is_empty());
        Options {
            sources: vec![
                Source::Osv,
                Source::Rustsec,
                Source::Nvd,
                Source::Eol,
                Source::Debian,
            ],
            url: None,
            ecosystems: DEFAULT_ECOSYSTEMS.iter().map(|e| e.to_string()).collect(),
            timeout: Duration::from_secs(300),
            nvd_page_delay: if key.is_some() {
                Duration::from_millis(700)
            } else {
                Duration::from_secs(6)
            },
            nvd_api_key: key,
            nvd_full: false,
        }
    }
}

/// What one update did, per store source key (`osv:PyPI`, `nvd`, `eol:openssl`).
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub updated: BTreeMap<String, usize>,
    pub unchanged: Vec<String>,
    /// Sources updated incrementally: records changed, records removed and
    /// the time the previous update reached.
    pub incremental: BTreeMap<String, Incremental>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Incremental {
    pub changed: usize,
    pub removed: usize,
    pub since: String,
    /// Records the source holds after the merge.
    pub total: usize,
}

/// An incremental download staged for merging into the store.
struct Delta {
    key: String,
    changed: Vec<super::Advisory>,
    removed: Vec<String>,
    origin: String,
    since: String,
}

/// The longest `lastModStartDate`..`lastModEndDate` window the NVD API accepts.
const NVD_MAX_WINDOW_DAYS: i64 = 120;

/// A downloaded body, or the server's word that ours is current.
enum Fetched {
    NotModified,
    Body { bytes: Vec<u8>, cache: CacheEntry },
}

struct Http<'a> {
    client: Client,
    cache: &'a BTreeMap<String, CacheEntry>,
    progress: &'a dyn Fn(&str),
}

impl Http<'_> {
    /// GET `url`; `expect` is a content-type fragment the answer must carry.
    /// `cache_key` names the validators to send (`None`: unconditional).
    fn get(
        &self,
        url: &str,
        expect: &[&str],
        cache_key: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Fetched, String> {
        for attempt in 0..=RETRIES {
            let mut request = self.client.get(url);
            if let Some(c) = cache_key.and_then(|k| self.cache.get(k)) {
                if let Some(etag) = &c.etag {
                    request = request.header(IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &c.last_modified {
                    request = request.header(IF_MODIFIED_SINCE, lm);
                }
            }
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            (self.progress)(&format!("GET {url}"));
            let response = request
                .send()
                .map_err(|e| format!("{url}: {}", describe(&e)))?;
            let status = response.status();
            if status.as_u16() == 304 {
                return Ok(Fetched::NotModified);
            }
            if (status.as_u16() == 429 || status.as_u16() == 503) && attempt < RETRIES {
                let wait = retry_after(&response).unwrap_or(Duration::from_secs(2 << attempt));
                (self.progress)(&format!(
                    "{url}: HTTP {status}, retrying in {}s",
                    wait.as_secs()
                ));
                std::thread::sleep(wait.min(MAX_RETRY_AFTER));
                continue;
            }
            if !status.is_success() {
                return Err(format!("{url}: HTTP {status}"));
            }
            return read_body(url, response, expect)
                .map(|(bytes, cache)| Fetched::Body { bytes, cache });
        }
        Err(format!("{url}: still refused after {RETRIES} retries"))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    }
}

fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn read_body(
    url: &str,
    response: Response,
    expect: &[&str],
) -> Result<(Vec<u8>, CacheEntry), String> {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    if !expect.iter().any(|e| content_type.contains(e)) {
        return Err(format!(
            "{url}: unexpected content type {content_type:?} (expected {})",
            expect.join(" or ")
        ));
    }
    let declared: Option<u64> = header(CONTENT_LENGTH).and_then(|l| l.parse().ok());
    // Google Cloud Storage (where OSV publishes its exports) sends
    // `x-goog-hash: crc32c=...,md5=...`; the MD5 is checked when present.
    let published_md5 =
        header(reqwest::header::HeaderName::from_static("x-goog-hash")).and_then(|h| {
            h.split(',')
                .find_map(|part| part.trim().strip_prefix("md5=").map(str::to_string))
        });
    let cache = CacheEntry {
        etag: header(ETAG),
        last_modified: header(LAST_MODIFIED),
    };
    let mut bytes = Vec::new();
    response
        .take(MAX_BODY + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{url}: body cut short after {} bytes: {e}", bytes.len()))?;
    if bytes.len() as u64 > MAX_BODY {
        return Err(format!("{url}: body larger than {MAX_BODY} bytes"));
    }
    if let Some(n) = declared
        && n != bytes.len() as u64
    {
        return Err(format!(
            "{url}: body is {} bytes, Content-Length said {n}",
            bytes.len()
        ));
    }
    if let Some(want) = published_md5.as_deref() {
        use base64::Engine;
        use md5::Digest;
        let got = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&bytes));
        if got != want {
            return Err(format!(
                "{url}: MD5 checksum mismatch (x-goog-hash says {want}, body has {got})"
            ));
        }
    }
    Ok((bytes, cache))
}

/// Why `db update` changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("--url needs exactly one --source")]
    UrlNeedsOneSource,
    #[error("HTTP client: {0}")]
    Client(String),
    /// One source could not be fetched or read; the store was not touched.
    #[error("source {name} failed: {message}")]
    Source { name: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Other(String),
}

impl From<String> for UpdateError {
    fn from(message: String) -> Self {
        UpdateError::Other(message)
    }
}

/// Runs the update; the store is written only if every source succeeded.
pub fn update(
    data_dir: &Path,
    options: &Options,
    progress: &dyn Fn(&str),
) -> Result<Summary, UpdateError> {
    if options.url.is_some() && options.sources.len() != 1 {
        return Err(UpdateError::UrlNeedsOneSource);
    }
    let mut store = store::load(data_dir)?.unwrap_or_default();
    let client = Client::builder()
        .timeout(options.timeout)
        .user_agent(concat!("fwaudit/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| UpdateError::Client(e.to_string()))?;
    let cache = store.http_cache.clone();
    let http = Http {
        client,
        cache: &cache,
        progress,
    };
    let now = crate::date::now_utc();
    let mut summary = Summary::default();
    let mut new_cache = BTreeMap::new();
    // Everything is fetched and parsed before the store is touched.
    let mut staged: Vec<(String, Vec<super::Advisory>, String)> = Vec::new();
    let mut staged_eol: Vec<(String, Product, String)> = Vec::new();
    let mut staged_delta: Vec<Delta> = Vec::new();
    let mut staged_feeds: Vec<(String, Vec<super::distro::ReleaseFeed>, String)> = Vec::new();
    for &source in &options.sources {
        let base = options.url.clone();
        let fail = |message: String| UpdateError::Source {
            name: source.name(),
            message,
        };
        match source {
            Source::Osv | Source::Rustsec => {
                let base = base.unwrap_or_else(|| OSV_BASE.to_string());
                let ecosystems: Vec<String> = match source {
                    Source::Rustsec => vec!["crates.io".to_string()],
                    _ => options.ecosystems.clone(),
                };
                for ecosystem in ecosystems {
                    let key = match source {
                        Source::Rustsec => "rustsec".to_string(),
                        _ => format!("osv:{ecosystem}"),
                    };
                    let url = format!("{}/{}/all.zip", base.trim_end_matches('/'), ecosystem);
                    // The same export can feed two sources (osv:crates.io, rustsec).
                    let cache_key = format!("{key} {url}");
                    match http
                        .get(&url, &["zip", "octet-stream"], Some(&cache_key), &[])
                        .map_err(fail)?
                    {
                        Fetched::NotModified => summary.unchanged.push(key),
                        Fetched::Body { bytes, cache } => {
                            let mut imported = Imported::default();
                            import::import_zip_reader(
                                &url,
                                std::io::Cursor::new(bytes),
                                &mut imported,
                            );
                            if let Some(e) = imported.errors.first() {
                                return Err(fail(e.clone()));
                            }
                            let mut list: Vec<super::Advisory> =
                                imported.by_source.into_values().flatten().collect();
                            if source == Source::Rustsec {
                                list.retain(|a| a.id.starts_with("RUSTSEC-"));
                            }
                            for a in &mut list {
                                a.source = key.clone();
                            }
                            new_cache.insert(cache_key, cache);
                            staged.push((key, list, url));
                        }
                    }
                }
            }
            Source::Nvd => {
                let base = base.unwrap_or_else(|| NVD_BASE.to_string());
                match nvd_since(&store, &base, &now).filter(|_| !options.nvd_full) {
                    Some(since) => {
                        let sep = if base.contains('?') { '&' } else { '?' };
                        let url = format!(
                            "{base}{sep}lastModStartDate={}&lastModEndDate={}",
                            nvd_date(&since),
                            nvd_date(&now)
                        );
                        let (list, rejected) = fetch_nvd(&http, &url, options).map_err(fail)?;
                        staged_delta.push(Delta {
                            key: "nvd".to_string(),
                            changed: list,
                            removed: rejected,
                            origin: base,
                            since,
                        });
                    }
                    None => {
                        let (list, _) = fetch_nvd(&http, &base, options).map_err(fail)?;
                        staged.push(("nvd".to_string(), list, base));
                    }
                }
            }
            Source::Debian => {
                let url = base.unwrap_or_else(|| DEBIAN_TRACKER.to_string());
                let key = "distro:debian-tracker".to_string();
                let cache_key = format!("{key} {url}");
                match http
                    .get(&url, &["json"], Some(&cache_key), &[])
                    .map_err(fail)?
                {
                    Fetched::NotModified => summary.unchanged.push(key),
                    Fetched::Body { bytes, cache } => {
                        let text = std::str::from_utf8(&bytes)
                            .map_err(|e| fail(format!("{url}: not UTF-8: {e}")))?;
                        if !super::debian_tracker::looks_like_tracker(text) {
                            return Err(fail(format!(
                                "{url}: not the Debian Security Tracker's JSON"
                            )));
                        }
                        let feeds = super::debian_tracker::parse(text)
                            .map_err(|e| fail(format!("{url}: {e}")))?;
                        new_cache.insert(cache_key, cache);
                        staged_feeds.push((key, feeds, url));
                    }
                }
            }
            Source::Eol => {
                let base = base.unwrap_or_else(|| EOL_BASE.to_string());
                for (ours, theirs) in EOL_PRODUCTS {
                    let url = format!("{}/{theirs}.json", base.trim_end_matches('/'));
                    let cache_key = format!("eol:{ours} {url}");
                    match http
                        .get(&url, &["json"], Some(&cache_key), &[])
                        .map_err(fail)?
                    {
                        Fetched::NotModified => summary.unchanged.push(format!("eol:{ours}")),
                        Fetched::Body { bytes, cache } => {
                            let product =
                                parse_eol(&bytes).map_err(|e| fail(format!("{url}: {e}")))?;
                            new_cache.insert(cache_key, cache);
                            staged_eol.push((ours.to_string(), product, url));
                        }
                    }
                }
            }
        }
    }
    for (key, list, origin) in staged {
        summary.updated.insert(key.clone(), list.len());
        store.replace_source(&key, list, vec![origin], now.clone());
    }
    for Delta {
        key,
        changed: list,
        removed,
        origin,
        since,
    } in staged_delta
    {
        let changed = list.len();
        let removed = store.merge_source(&key, list, &removed, vec![origin], now.clone());
        let total = store.sources.get(&key).map_or(0, |i| i.count);
        summary.incremental.insert(
            key,
            Incremental {
                changed,
                removed,
                since,
                total,
            },
        );
    }
    for (name, product, origin) in staged_eol {
        summary
            .updated
            .insert(format!("eol:{name}"), product.cycles.len());
        store.replace_source(
            &format!("eol:{name}"),
            Vec::new(),
            vec![origin],
            now.clone(),
        );
        if let Some(info) = store.sources.get_mut(&format!("eol:{name}")) {
            info.count = product.cycles.len();
        }
        store.eol.products.insert(name, product);
    }
    for (key, feeds, origin) in staged_feeds {
        let source = key.trim_start_matches("distro:");
        let count = super::distro::save(data_dir, source, &feeds)?;
        summary.updated.insert(key.clone(), count);
        store.record_source(&key, vec![origin], now.clone(), count);
    }
    store.http_cache.extend(new_cache);
    store.save(data_dir)?;
    Ok(summary)
}

/// When the store's NVD data came from `base` recently enough for one
/// incremental window, the time that download reached.
fn nvd_since(store: &store::Store, base: &str, now: &str) -> Option<String> {
    let info = store.sources.get("nvd")?;
    if !info.origins.iter().any(|o| o == base) {
        return None;
    }
    let age = crate::date::days_between(&info.updated, now)?;
    (0..NVD_MAX_WINDOW_DAYS)
        .contains(&age)
        .then(|| info.updated.clone())
}

/// `2026-11-25T06:00:00Z` as the NVD API wants it, with an explicit UTC
/// offset (`+` encoded): `2026-11-25T06:00:00.000%2B00:00`.
fn nvd_date(stamp: &str) -> String {
    format!("{}.000%2B00:00", stamp.trim_end_matches('Z'))
}

/// Every record of every page at `base`, and the ids of the records NVD
/// marks `Rejected` (left out of the list).
fn fetch_nvd(
    http: &Http,
    base: &str,
    options: &Options,
) -> Result<(Vec<super::Advisory>, Vec<String>), String> {
    const PAGE: u64 = 2000;
    let mut start = 0u64;
    let mut out = Vec::new();
    let mut rejected = Vec::new();
    let key_header: Vec<(&str, &str)> = options
        .nvd_api_key
        .as_deref()
        .map(|k| ("apiKey", k))
        .into_iter()
        .collect();
    loop {
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}resultsPerPage={PAGE}&startIndex={start}");
        let Fetched::Body { bytes, .. } = http.get(&url, &["json"], None, &key_header)? else {
            return Err(format!("{url}: unexpected 304 to an unconditional request"));
        };
        let text = String::from_utf8(bytes).map_err(|e| format!("{url}: not UTF-8: {e}"))?;
        let page: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{url}: invalid JSON at line {}: {e}", e.line()))?;
        let total = page["totalResults"]
            .as_u64()
            .ok_or_else(|| format!("{url}: no totalResults"))?;
        rejected.extend(
            page["vulnerabilities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["cve"]["vulnStatus"] == "Rejected")
                .filter_map(|v| v["cve"]["id"].as_str().map(str::to_string)),
        );
        let mut imported = Imported::default();
        import::import_json(&url, &text, &mut imported);
        if let Some(e) = imported.errors.first() {
            // An empty last page has no records; anything else is an error.
            if total > start {
                return Err(e.clone());
            }
        }
        out.extend(imported.by_source.into_values().flatten());
        let per_page = page["resultsPerPage"].as_u64().unwrap_or(PAGE).max(1);
        start += per_page;
        if start >= total {
            break;
        }
        std::thread::sleep(options.nvd_page_delay);
    }
    out.retain(|a| !rejected.contains(&a.id));
    Ok((out, rejected))
}

/// endoflife.date's product JSON: `[{cycle, eol, latest, ...}]`.
fn parse_eol(bytes: &[u8]) -> Result<Product, String> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("invalid JSON at line {}: {e}", e.line()))?;
    let cycles = value
        .as_array()
        .ok_or("expected a JSON array of release cycles")?;
    let cycles = cycles
        .iter()
        .map(|c| {
            let cycle = match &c["cycle"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err("release cycle without `cycle`".to_string()),
            };
            Ok(Cycle {
                cycle,
                eol: c["eol"].clone(),
                latest: c["latest"].as_str().map(str::to_string),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Product { cycles })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_nvd_only_from_the_same_url_within_120_days() {
        let mut store = store::Store::default();
        assert_eq!(nvd_since(&store, NVD_BASE, "2026-11-25T00:00:00Z"), None);
        store.replace_source(
            "nvd",
            Vec::new(),
            vec![NVD_BASE.to_string()],
            "2026-08-01T06:30:00Z".to_string(),
        );
        let since = |now: &str| nvd_since(&store, NVD_BASE, now);
        assert_eq!(
            since("2026-11-25T00:00:00Z").as_deref(),
            Some("2026-08-01T06:30:00Z")
        );
        assert_eq!(since("2026-11-29T00:00:00Z"), None, "120 days later");
        assert_eq!(since("2026-07-01T00:00:00Z"), None, "clock went back");
        assert_eq!(
            nvd_since(&store, "http://mirror/nvd", "2026-11-25T00:00:00Z"),
            None
        );
        assert_eq!(
            nvd_date("2026-08-01T06:30:00Z"),
            "2026-08-01T06:30:00.000%2B00:00"
        );
    }

    #[test]
    fn eol_json_cycles() {
        let p = parse_eol(br#"[{"cycle":"3.0","eol":"2026-09-07","latest":"3.0.18"},{"cycle":6.1,"eol":false,"latest":"6.1.100"}]"#).unwrap();
        assert_eq!(p.cycles[0].eol_date(), Some("2026-09-07"));
        assert_eq!(p.cycles[1].cycle, "6.1");
        assert!(parse_eol(b"{}").is_err());
    }
}
