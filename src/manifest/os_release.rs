//! Which distribution and release a root file system is: `/etc/os-release`
//! (or `/usr/lib/os-release`), else the release files older systems and
//! embedded builds keep (`/etc/openwrt_release`, `/etc/alpine-release`,
//! `/etc/debian_version`, `/etc/redhat-release`). The answer picks the
//! distribution's own fix data and qualifies package PURLs (`distro=debian-12`).

use crate::model::Distro;

use crate::model::{debian_codename, debian_version_id};

/// Reads the distribution from the files of one file system (`read` gives a
/// regular file's bytes by absolute path).
pub fn detect(read: &dyn Fn(&str) -> Option<Vec<u8>>) -> Option<Distro> {
    let text = |path: &str| read(path).and_then(|b| String::from_utf8(b).ok());
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some(t) = text(path)
            && let Some(d) = from_os_release(&t, path)
        {
            return Some(refine(d, &text));
        }
    }
    if let Some(t) = text("/etc/openwrt_release") {
        let fields = key_values(&t);
        if let Some(id) = fields.get("DISTRIB_ID") {
            return Some(Distro {
                id: id.to_ascii_lowercase(),
                version_id: fields.get("DISTRIB_RELEASE").cloned(),
                codename: fields.get("DISTRIB_CODENAME").cloned(),
                name: fields.get("DISTRIB_DESCRIPTION").cloned(),
                path: "/etc/openwrt_release".into(),
                ..Distro::default()
            });
        }
    }
    if let Some(t) = text("/etc/alpine-release") {
        return Some(Distro {
            id: "alpine".into(),
            version_id: Some(t.trim().to_string()),
            path: "/etc/alpine-release".into(),
            ..Distro::default()
        });
    }
    if let Some(t) = text("/etc/debian_version") {
        let version = t.trim().to_string();
        let codename = debian_codename(&version)
            .map(str::to_string)
            .or_else(|| version.split('/').next().map(str::to_string));
        return Some(Distro {
            id: "debian".into(),
            version_id: version
                .split('.')
                .next()
                .filter(|v| v.bytes().all(|c| c.is_ascii_digit()) && !v.is_empty())
                .map(str::to_string),
            codename,
            path: "/etc/debian_version".into(),
            ..Distro::default()
        });
    }
    if let Some(t) = text("/etc/redhat-release") {
        return from_redhat_release(t.trim());
    }
    None
}

/// os-release fills in what it lacks from the release files beside it
/// (Debian testing has no `VERSION_ID`; its `debian_version` names the
/// code name).
fn refine(mut d: Distro, text: &dyn Fn(&str) -> Option<String>) -> Distro {
    if d.id == "debian" {
        if d.codename.is_none() {
            d.codename = d
                .version_id
                .as_deref()
                .and_then(debian_codename)
                .map(str::to_string)
                .or_else(|| {
                    text("/etc/debian_version")
                        .and_then(|t| t.trim().split('/').next().map(str::to_string))
                });
        }
        if d.version_id.is_none() {
            d.version_id = d
                .codename
                .as_deref()
                .and_then(debian_version_id)
                .map(str::to_string);
        }
    }
    d
}

/// The distribution whose packages a system installs: the system itself,
/// or, for a vendor derivative that says `ID_LIKE=debian` and names a
/// Debian code name (`VERSION_CODENAME=bookworm`), that Debian release.
/// Its packages are Debian's, and so is their fix data.
pub fn package_base(d: &Distro) -> Distro {
    let known = [
        "debian", "ubuntu", "alpine", "openwrt", "rhel", "fedora", "centos",
    ];
    if known.contains(&d.id.as_str()) {
        return d.clone();
    }
    if d.id_like.iter().any(|l| l == "debian")
        && let Some(version) = d.codename.as_deref().and_then(debian_version_id)
    {
        return Distro {
            id: "debian".into(),
            version_id: Some(version.to_string()),
            codename: d.codename.clone(),
            name: None,
            id_like: Vec::new(),
            path: d.path.clone(),
        };
    }
    d.clone()
}

fn from_os_release(text: &str, path: &str) -> Option<Distro> {
    let fields = key_values(text);
    let id = fields.get("ID")?.to_ascii_lowercase();
    Some(Distro {
        id_like: fields
            .get("ID_LIKE")
            .map(|l| l.split_whitespace().map(str::to_ascii_lowercase).collect())
            .unwrap_or_default(),
        id,
        version_id: fields.get("VERSION_ID").cloned(),
        codename: fields
            .get("VERSION_CODENAME")
            .or_else(|| fields.get("UBUNTU_CODENAME"))
            .cloned(),
        name: fields.get("PRETTY_NAME").cloned(),
        path: path.to_string(),
    })
}

/// `Red Hat Enterprise Linux release 9.3 (Plow)`, `CentOS Linux release 7.9.2009 (Core)`.
fn from_redhat_release(line: &str) -> Option<Distro> {
    let (name, rest) = line.split_once(" release ")?;
    let version = rest.split_whitespace().next()?.to_string();
    let codename = rest
        .split_once('(')
        .and_then(|(_, c)| c.split_once(')'))
        .map(|(c, _)| c.to_string());
    let id = match name.to_ascii_lowercase() {
        n if n.starts_with("red hat") => "rhel".to_string(),
        n if n.starts_with("centos") => "centos".to_string(),
        n if n.starts_with("fedora") => "fedora".to_string(),
        n if n.starts_with("rocky") => "rocky".to_string(),
        n if n.starts_with("almalinux") => "almalinux".to_string(),
        n => n.split_whitespace().next()?.to_string(),
    };
    Some(Distro {
        id,
        version_id: Some(version),
        codename,
        name: Some(line.to_string()),
        path: "/etc/redhat-release".into(),
        ..Distro::default()
    })
}

/// `KEY=value` lines (shell syntax: quotes removed, comments skipped).
fn key_values(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn detect_in(files: &[(&str, &str)]) -> Option<Distro> {
        let map: HashMap<String, Vec<u8>> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect();
        detect(&|p| map.get(p).cloned())
    }

    #[test]
    fn debian_ubuntu_openwrt_alpine_redhat() {
        // Debian 12's /usr/lib/os-release, as base-files 12.4+deb12u7 ships it.
        let d = detect_in(&[(
            "/usr/lib/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
             VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        )])
        .unwrap();
        assert_eq!(
            (
                d.id.as_str(),
                d.version_id.as_deref(),
                d.codename.as_deref()
            ),
            ("debian", Some("12"), Some("bookworm"))
        );
        assert_eq!(d.purl_distro().as_deref(), Some("debian-12"));
        assert_eq!(d.osv_ecosystem().as_deref(), Some("Debian:12"));
        let d = detect_in(&[("/etc/debian_version", "11.9\n")]).unwrap();
        assert_eq!(d.codename.as_deref(), Some("bullseye"));
        let d = detect_in(&[
            ("/etc/os-release", "ID=debian\nVERSION_CODENAME=trixie\n"),
            ("/etc/debian_version", "trixie/sid\n"),
        ])
        .unwrap();
        assert_eq!(d.version_id.as_deref(), Some("13"));
        let d = detect_in(&[(
            "/etc/os-release",
            "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nVERSION_CODENAME=jammy\n",
        )])
        .unwrap();
        assert_eq!(d.osv_ecosystem().as_deref(), Some("Ubuntu:22.04:LTS"));
        let d = detect_in(&[(
            "/etc/openwrt_release",
            "DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='23.05.3'\nDISTRIB_CODENAME=''\n",
        )])
        .unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref()),
            ("openwrt", Some("23.05.3"))
        );
        let d = detect_in(&[("/etc/alpine-release", "3.20.3\n")]).unwrap();
        assert_eq!(d.osv_ecosystem().as_deref(), Some("Alpine:v3.20"));
        let d = detect_in(&[(
            "/etc/redhat-release",
            "Red Hat Enterprise Linux release 9.3 (Plow)\n",
        )])
        .unwrap();
        assert_eq!(
            (
                d.id.as_str(),
                d.version_id.as_deref(),
                d.codename.as_deref()
            ),
            ("rhel", Some("9.3"), Some("Plow"))
        );
        assert!(detect_in(&[("/etc/hostname", "x")]).is_none());
        // A vendor build on Debian installs Debian's packages.
        let d = detect_in(&[(
            "/etc/os-release",
            "ID=examplenet\nID_LIKE=debian\nVERSION_ID=\"2.3.1\"\nVERSION_CODENAME=bookworm\n",
        )])
        .unwrap();
        let base = package_base(&d);
        assert_eq!(base.osv_ecosystem().as_deref(), Some("Debian:12"));
        assert_eq!(base.purl_distro().as_deref(), Some("debian-12"));
    }
}
