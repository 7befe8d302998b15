//! Accounts and stored passwords: `/etc/passwd` with `/etc/shadow`
//! (BusyBox and older systems keep hashes in passwd itself), htpasswd
//! files, mosquitto password files and BusyBox httpd / lighttpd plain user
//! files. Empty passwords, extra uid 0 accounts, service accounts that can
//! log in, weak hash schemes, clear-text passwords, and hashes that match a
//! bounded list of published default credentials (`default_credentials.toml`).
//! Locked accounts (`!`, `*`) are never findings.

use super::crypt::{self, Scheme};
use super::rootfs::{RootFs, config_lines};
use super::rules;
use crate::model::Finding;
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Deserialize)]
struct CredentialFile {
    credential: Vec<Credential>,
}

/// One published default credential.
#[derive(Debug, Clone, Deserialize)]
pub struct Credential {
    pub user: String,
    pub password: String,
    pub source: String,
}

pub fn default_credentials() -> &'static [Credential] {
    static LIST: OnceLock<Vec<Credential>> = OnceLock::new();
    LIST.get_or_init(|| {
        toml::from_str::<CredentialFile>(include_str!("default_credentials.toml"))
            .map(|f| f.credential)
            .unwrap_or_default()
    })
}

/// The candidates tried for `user`: its own entries, the user name itself,
/// and the any-user entries; for slow schemes only the first twelve. Each
/// is labelled by its list entry (`#17 root (mirai)`), never by the password.
fn candidates(user: &str, slow: bool) -> Vec<(String, String)> {
    let list = default_credentials();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |pw: &str, label: String| {
        if !out.iter().any(|(p, _)| p == pw) {
            out.push((pw.to_string(), label));
        }
    };
    for (i, c) in list.iter().enumerate().filter(|(_, c)| c.user == user) {
        push(&c.password, format!("#{} {} ({})", i + 1, c.user, c.source));
    }
    push(user, "the user name itself".to_string());
    for (i, c) in list.iter().enumerate().filter(|(_, c)| c.user == "*") {
        push(&c.password, format!("#{} any user ({})", i + 1, c.source));
    }
    if slow {
        out.truncate(12);
    }
    out
}

/// One account or user entry with a stored secret.
struct Stored<'a> {
    user: &'a str,
    secret: &'a str,
    /// File and 1-based line that holds the secret.
    path: &'a str,
    inner: &'a str,
    line: usize,
    mosquitto: bool,
}

/// A hash that matched a default credential: which entry.
fn cracked(s: &Stored, show: bool) -> Option<String> {
    let scheme = crypt::scheme(s.secret, s.mosquitto);
    if scheme == Scheme::Other {
        return None;
    }
    candidates(s.user, scheme.slow())
        .into_par_iter()
        .find_first(|(pw, _)| crypt::verify(scheme, pw, s.secret))
        .map(|(pw, label)| {
            if show {
                format!("{label}: password {pw:?}")
            } else {
                label
            }
        })
}

fn hash_findings(s: &Stored, show: bool, out: &mut Vec<Finding>) {
    let scheme = crypt::scheme(s.secret, s.mosquitto);
    let evidence = vec![rules::at_line("password-file", s.path, s.line, s.user)];
    if let Some(which) = cracked(s, show) {
        out.push(rules::finding(
            "FW-ACC-002",
            s.path,
            format!(
                "{}: account {} has a default password: its {} hash matches default credential {which}",
                s.inner,
                s.user,
                scheme.name()
            ),
            evidence.clone(),
        ));
    }
    if scheme.weak() {
        out.push(rules::finding(
            "FW-ACC-004",
            s.path,
            format!(
                "{}: account {} is hashed with {}",
                s.inner,
                s.user,
                scheme.name()
            ),
            evidence,
        ));
    }
}

fn locked(secret: &str) -> bool {
    secret.starts_with('!') || secret.starts_with('*')
}

/// Shells that do not give a login.
fn no_login(shell: &str) -> bool {
    shell.is_empty()
        || ["nologin", "false", "sync", "halt", "shutdown"]
            .iter()
            .any(|n| shell.rsplit('/').next() == Some(n))
}

const SERVICE_NAMES: &[&str] = &[
    "daemon",
    "bin",
    "sys",
    "nobody",
    "www-data",
    "ftp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "backup",
    "list",
    "irc",
    "gnats",
    "network",
    "dnsmasq",
    "sshd",
    "messagebus",
    "mosquitto",
    "ntp",
    "systemd-network",
    "systemd-resolve",
    "_apt",
    "lp",
    "man",
    "games",
];

pub fn findings(fs: &RootFs, show_secrets: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    passwd(fs, show_secrets, &mut out);
    for (path, f) in fs.iter() {
        let name = path.rsplit('/').next().unwrap_or(path);
        let htpasswd = name == ".htpasswd" || name.ends_with(".htpasswd") || name == "htpasswd";
        let mosquitto = path.starts_with("/etc/mosquitto/")
            && (name.starts_with("passwd") || name.ends_with(".passwd") || name == "password_file");
        if (htpasswd || mosquitto) && f.is_regular() {
            let text = String::from_utf8_lossy(&f.data);
            for (line, l) in config_lines(&text) {
                let Some((user, secret)) = l.split_once(':') else {
                    continue;
                };
                let s = Stored {
                    user,
                    secret,
                    path: &f.path,
                    inner: path,
                    line,
                    mosquitto,
                };
                hash_findings(&s, show_secrets, &mut out);
            }
        }
    }
    busybox_httpd(fs, &mut out);
    lighttpd_plain(fs, &mut out);
    out
}

fn passwd(fs: &RootFs, show: bool, out: &mut Vec<Finding>) {
    let Some((pf, ptext)) = fs.text("/etc/passwd") else {
        return;
    };
    let shadow = fs.text("/etc/shadow");
    let mut shadow_of: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    if let Some((_, stext)) = &shadow {
        for (line, l) in config_lines(stext) {
            let mut parts = l.split(':');
            if let (Some(user), Some(pw)) = (parts.next(), parts.next()) {
                shadow_of.entry(user).or_insert((line, pw));
            }
        }
    }
    for (line, l) in config_lines(&ptext) {
        let fields: Vec<&str> = l.split(':').collect();
        if fields.len() < 7 {
            continue;
        }
        let (user, pw, uid, shell) = (fields[0], fields[1], fields[2], fields[6]);
        // The secret and where it lives: shadow when passwd says `x`.
        let (secret, path, inner, sline) = match (pw, shadow_of.get(user), &shadow) {
            ("x", Some((sl, s)), Some((sf, _))) => (*s, sf.path.as_str(), "/etc/shadow", *sl),
            ("x", _, _) => continue, // no shadow entry: the account cannot log in by password
            (p, _, _) => (p, pf.path.as_str(), "/etc/passwd", line),
        };
        if locked(secret) {
            continue;
        }
        let evidence = vec![rules::at_line("password-file", path, sline, user)];
        if secret.is_empty() {
            out.push(rules::finding(
                "FW-ACC-001",
                path,
                format!("{inner}: account {user} (uid {uid}) has an empty password"),
                evidence.clone(),
            ));
        } else {
            if inner == "/etc/passwd" {
                out.push(rules::finding(
                    "FW-ACC-006",
                    &pf.path,
                    format!("/etc/passwd: account {user} keeps its password hash in the world-readable passwd file"),
                    evidence.clone(),
                ));
            }
            let s = Stored {
                user,
                secret,
                path,
                inner,
                line: sline,
                mosquitto: false,
            };
            hash_findings(&s, show, out);
        }
        if uid == "0" && user != "root" {
            out.push(rules::finding(
                "FW-ACC-003",
                &pf.path,
                format!("/etc/passwd: account {user} has uid 0 (a second root)"),
                vec![rules::at_line("password-file", &pf.path, line, l)],
            ));
        }
        let service = uid
            .parse::<u32>()
            .is_ok_and(|u| (1..1000).contains(&u) || u == 65534)
            || SERVICE_NAMES.contains(&user);
        if service && uid != "0" && !no_login(shell) {
            out.push(rules::finding(
                "FW-ACC-005",
                &pf.path,
                format!("/etc/passwd: service account {user} (uid {uid}) has a password and the login shell {shell}"),
                vec![rules::at_line("password-file", &pf.path, line, l)],
            ));
        }
    }
}

/// BusyBox httpd.conf: `/path:user:password` (plain, or `$1$` with -m).
fn busybox_httpd(fs: &RootFs, out: &mut Vec<Finding>) {
    for conf in ["/etc/httpd.conf", "/etc/busybox-httpd.conf"] {
        let Some((f, text)) = fs.text(conf) else {
            continue;
        };
        for (line, l) in config_lines(&text) {
            let fields: Vec<&str> = l.splitn(3, ':').collect();
            let [dir, user, pw] = fields[..] else {
                continue;
            };
            if !dir.starts_with('/') || user.is_empty() {
                continue;
            }
            let stored = Stored {
                user,
                secret: pw,
                path: &f.path,
                inner: conf,
                line,
                mosquitto: false,
            };
            if pw.starts_with('$') {
                hash_findings(&stored, false, out);
            } else {
                out.push(rules::finding(
                    "FW-ACC-007",
                    &f.path,
                    format!("{conf}: user {user} of {dir} has a clear-text password"),
                    vec![rules::at_line(
                        "httpd-conf",
                        &f.path,
                        line,
                        &format!("{dir}:{user}:…"),
                    )],
                ));
            }
        }
    }
}

/// lighttpd `auth.backend = "plain"` with its `auth.backend.plain.userfile`.
fn lighttpd_plain(fs: &RootFs, out: &mut Vec<Finding>) {
    let Some((conf, text)) = fs.text("/etc/lighttpd/lighttpd.conf") else {
        return;
    };
    let setting = |key: &str| {
        config_lines(&text).find_map(|(n, l)| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| (n, v.trim().trim_matches('"').to_string()))
        })
    };
    let (Some((_, backend)), Some((_, userfile))) = (
        setting("auth.backend"),
        setting("auth.backend.plain.userfile"),
    ) else {
        return;
    };
    if backend != "plain" {
        return;
    }
    let Some((f, users)) = fs.text(&userfile) else {
        return;
    };
    for (line, l) in config_lines(&users) {
        if let Some((user, pw)) = l.split_once(':')
            && !pw.is_empty()
        {
            out.push(rules::finding(
                "FW-ACC-007",
                &f.path,
                format!("{userfile}: user {user} has a clear-text password (lighttpd auth.backend = \"plain\" in {})", super::keys::inner_path(&conf.path)),
                vec![rules::at_line("lighttpd-userfile", &f.path, line, user)],
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_parses_and_candidates_are_bounded() {
        assert!(default_credentials().len() > 50);
        let root = candidates("root", false);
        assert!(root.iter().any(|(p, _)| p == "xc3511"));
        assert!(root.iter().any(|(p, _)| p.is_empty()));
        assert!(candidates("root", true).len() <= 12);
        assert_eq!(root[0].1, "#16 root (mirai)");
    }
}
