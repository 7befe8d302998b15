//! opkg's database of installed packages (OpenWrt), `/usr/lib/opkg/status`.
//! Same syntax as dpkg's; versions are `upstream-release`.

use super::control;
use crate::identify::{catalog, purl_escape};
use crate::model::{Component, Evidence, Upstream};

/// Installed packages in an opkg status file at `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    let mut out = Vec::new();
    for p in control::parse(text)? {
        let field = |name: &str| {
            p.get(name)
                .ok_or_else(|| format!("line {}: package stanza without `{name}`", p.line))
        };
        let name = field("Package")?;
        if p.get("Status").and_then(|s| s.split_whitespace().nth(2)) != Some("installed") {
            continue;
        }
        let version = field("Version")?;
        let arch = p.get("Architecture").unwrap_or("all");
        let upstream = catalog::product_for_package(name).map(|product| Upstream {
            name: product.to_string(),
            version: upstream_version(version),
        });
        out.push(Component {
            name: name.to_string(),
            version: version.to_string(),
            purl: format!(
                "pkg:opkg/openwrt/{name}@{}?arch={arch}",
                purl_escape(version)
            ),
            cpe: upstream
                .as_ref()
                .and_then(|u| catalog::cpe(&u.name, &u.version)),
            ecosystem: "opkg".to_string(),
            upstream,
            sources: vec![Evidence {
                method: "opkg-status".to_string(),
                path: path.to_string(),
                offset: None,
                evidence: format!("line {}: Package: {name}, Version: {version}", p.line),
            }],
        });
    }
    Ok(out)
}

/// `1.35.0-6` -> `1.35.0`; `2022.82-6` -> `2022.82`.
pub fn upstream_version(version: &str) -> String {
    match version.rsplit_once('-') {
        Some((up, release)) if release.chars().all(|c| c.is_ascii_digit()) => up.to_string(),
        _ => version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openwrt_packages() {
        let text = "Package: busybox\nVersion: 1.35.0-6\nStatus: install user installed\n\
                    Architecture: mipsel_24kc\nInstalled-Time: 1700000000\n";
        let c = parse("status", text).unwrap();
        assert_eq!(
            c[0].purl,
            "pkg:opkg/openwrt/busybox@1.35.0-6?arch=mipsel_24kc"
        );
        assert_eq!(c[0].upstream.as_ref().unwrap().version, "1.35.0");
    }

    #[test]
    fn release_suffix_only_when_numeric() {
        assert_eq!(upstream_version("2022.82-6"), "2022.82");
        assert_eq!(upstream_version("3.0.13"), "3.0.13");
        assert_eq!(upstream_version("1.2-beta"), "1.2-beta");
    }
}
