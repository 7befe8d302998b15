//! Messaging without authentication or encryption: mosquitto brokers that
//! accept anonymous clients or listen without TLS, commands that switch
//! certificate verification off (`curl -k`, `wget --no-check-certificate`),
//! settings that do the same (`insecure_settings.toml`), and firmware
//! fetched over plain `http://`. Read from scripts anywhere (except
//! documentation) and text files under `/etc`.

use super::rootfs::{RootFs, config_lines};
use super::rules;
use super::shell;
use crate::model::Finding;
use crate::unpack::tree::{FileClass, classify};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use std::sync::OnceLock;

#[derive(Deserialize)]
struct SettingsFile {
    setting: Vec<Setting>,
}

#[derive(Deserialize)]
struct Setting {
    pattern: String,
    what: String,
}

fn settings() -> &'static [(Regex, String)] {
    static LIST: OnceLock<Vec<(Regex, String)>> = OnceLock::new();
    LIST.get_or_init(|| {
        toml::from_str::<SettingsFile>(include_str!("insecure_settings.toml"))
            .map(|f| f.setting)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| {
                RegexBuilder::new(&s.pattern)
                    .case_insensitive(true)
                    .build()
                    .ok()
                    .map(|r| (r, s.what))
            })
            .collect()
    })
}

const DOC_DIRS: &[&str] = &[
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/locale/",
];
const FIRMWARE_EXT: &[&str] = &[
    ".bin",
    ".img",
    ".trx",
    ".itb",
    ".chk",
    ".fw",
    ".ubi",
    ".sysupgrade",
];
const UPDATE_WORDS: &[&str] = &[
    "firmware", "upgrade", "update", "ota", "fw_", "fwurl", "fw-url",
];

pub fn findings(fs: &RootFs) -> Vec<Finding> {
    let mut out = Vec::new();
    mosquitto(fs, &mut out);
    for (path, f) in fs.iter() {
        if !f.is_regular() || f.data.len() > 1 << 20 || DOC_DIRS.iter().any(|d| path.starts_with(d))
        {
            continue;
        }
        let class = classify(&f.data);
        let is_script = class == FileClass::Script;
        let is_config = class == FileClass::Text && path.starts_with("/etc/");
        if !is_script && !is_config {
            continue;
        }
        let text = String::from_utf8_lossy(&f.data);
        let lines: Vec<(usize, &str)> = config_lines(&text).collect();
        let vars = shell::assignments(&lines);
        for &(line, l) in &lines {
            let ev = || vec![rules::at_line("text", &f.path, line, l)];
            if is_script {
                for c in shell::commands(l, &vars) {
                    if let Some(flag) = insecure_flag(&c) {
                        out.push(rules::finding(
                            "FW-MSG-003",
                            &f.path,
                            format!(
                                "{path}:{line}: {} {flag} skips certificate verification",
                                c.program
                            ),
                            ev(),
                        ));
                    }
                }
            }
            if let Some((_, what)) = settings().iter().find(|(r, _)| r.is_match(l)) {
                out.push(rules::finding(
                    "FW-MSG-003",
                    &f.path,
                    format!("{path}:{line}: {what}"),
                    ev(),
                ));
            }
            if let Some(url) = firmware_http(l) {
                out.push(rules::finding(
                    "FW-MSG-004",
                    &f.path,
                    format!("{path}:{line}: firmware fetched over plain HTTP: {url}"),
                    ev(),
                ));
            }
        }
    }
    out
}

/// `-k`/`--insecure` for curl, `--no-check-certificate` for wget and
/// OpenWrt's uclient-fetch.
fn insecure_flag(c: &shell::Command) -> Option<String> {
    match c.program.as_str() {
        "curl" => c.args.iter().find_map(|a| {
            let short = a.starts_with('-')
                && !a.starts_with("--")
                && a.len() > 1
                && a[1..].chars().all(|ch| ch.is_ascii_alphabetic())
                && a.contains('k');
            (a == "--insecure" || short).then(|| a.clone())
        }),
        "wget" | "uclient-fetch" => c
            .args
            .iter()
            .find(|a| *a == "--no-check-certificate")
            .cloned(),
        _ => None,
    }
}

/// An `http://` URL on a line about firmware: the URL names a firmware
/// file, or the setting or variable before it is about updates. Local
/// addresses are not reported.
fn firmware_http(line: &str) -> Option<String> {
    let at = line.find("http://")?;
    let url: String = line[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | ')' | ';' | '`'))
        .collect();
    let host = url["http://".len()..]
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    if host.is_empty()
        || host == "localhost"
        || host.starts_with("127.")
        || host.starts_with("192.168.")
        || host.starts_with("10.")
        || host.contains('$')
    {
        return None;
    }
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(&url)
        .to_ascii_lowercase();
    let named = FIRMWARE_EXT.iter().any(|e| path.ends_with(e));
    // The setting or variable the URL is the value of: the last word before
    // it (`FW_URL=`, `option update_url '`), not prose around it.
    let before = line[..at].trim_end_matches(['"', '\'', ' ', '\t']);
    let key = before
        .rsplit(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_setting =
        key.ends_with('=') || key.ends_with(':') || before.trim_start().starts_with("option ");
    let about = is_setting && UPDATE_WORDS.iter().any(|w| key.contains(w));
    (named || about).then_some(url)
}

/// mosquitto.conf and its `include_dir`: `allow_anonymous true`, and
/// listeners (`listener PORT [ADDR]` or the default `port`) without TLS.
fn mosquitto(fs: &RootFs, out: &mut Vec<Finding>) {
    let mut files = vec!["/etc/mosquitto/mosquitto.conf".to_string()];
    let mut i = 0;
    while i < files.len() && i < 64 {
        let inner = files[i].clone();
        i += 1;
        let Some((f, text)) = fs.text(&inner) else {
            continue;
        };
        // (line, text, port, bound to loopback, has TLS)
        let mut listeners: Vec<(usize, String, String, bool, bool)> = Vec::new();
        for (line, l) in config_lines(&text) {
            let w = shell::words(l);
            let key = w.first().map(String::as_str).unwrap_or("");
            let value = w.get(1).map(String::as_str).unwrap_or("");
            match key {
                "allow_anonymous" if value == "true" => out.push(rules::finding(
                    "FW-MSG-001",
                    &f.path,
                    format!("{inner}:{line}: allow_anonymous true"),
                    vec![rules::at_line("mosquitto.conf", &f.path, line, l)],
                )),
                "include_dir" => {
                    let mut more: Vec<String> = fs
                        .list(value)
                        .into_iter()
                        .map(|(p, _)| p.to_string())
                        .filter(|p| p.ends_with(".conf"))
                        .collect();
                    more.sort();
                    files.extend(more);
                }
                "listener" | "port" => {
                    let addr = w.get(2).map(String::as_str).unwrap_or("");
                    let local = addr.starts_with("127.")
                        || addr == "localhost"
                        || addr == "::1"
                        || value.starts_with('/');
                    listeners.push((line, l.to_string(), value.to_string(), local, false));
                }
                "certfile" | "psk_hint" => {
                    if let Some(last) = listeners.last_mut() {
                        last.4 = true;
                    }
                }
                _ => {}
            }
        }
        for (line, l, port, local, tls) in listeners {
            if !local && !tls {
                out.push(rules::finding(
                    "FW-MSG-002",
                    &f.path,
                    format!("{inner}:{line}: MQTT listener on port {port} without TLS"),
                    vec![rules::at_line("mosquitto.conf", &f.path, line, &l)],
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_urls_and_the_ones_that_are_not() {
        assert!(firmware_http("FW_URL=http://updates.example.com/rt/latest").is_some());
        assert!(firmware_http("wget http://dl.example.com/fw/rt3200-2.4.bin").is_some());
        assert!(firmware_http("deb http://deb.debian.org/debian bookworm-updates main").is_none());
        assert!(
            firmware_http("src/gz core http://downloads.openwrt.org/releases/packages").is_none()
        );
        assert!(firmware_http("UPDATE_URL=http://192.168.1.1/fw.bin").is_none());
        assert!(firmware_http("option update_url 'http://upd.example.com/check'").is_some());
        assert!(
            firmware_http("updated service file. See http://bugs.debian.org/717603 for details.")
                .is_none()
        );
    }

    #[test]
    fn the_settings_table_compiles() {
        assert_eq!(settings().len(), 6, "a pattern failed to compile");
        assert!(
            settings()
                .iter()
                .any(|(r, _)| r.is_match("curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);"))
        );
        assert!(
            !settings()
                .iter()
                .any(|(r, _)| r.is_match("CURLOPT_SSL_VERIFYPEER 1"))
        );
    }

    #[test]
    fn curl_and_wget_flags() {
        let c = |l: &str| shell::commands(l, &Default::default()).remove(0);
        assert_eq!(
            insecure_flag(&c("curl -fsSk https://x/y")),
            Some("-fsSk".into())
        );
        assert_eq!(insecure_flag(&c("curl -K /etc/curlrc https://x")), None);
        assert!(insecure_flag(&c("wget --no-check-certificate -O- https://x")).is_some());
    }
}
