//! opkg's database of installed packages (OpenWrt), `/usr/lib/opkg/status`.
//! Same syntax as dpkg's; versions are `upstream-release`.

use super::control;
use super::package_component;
use crate::identify::{catalog, purl_escape};
use crate::model::Component;

/// Installed packages in an opkg status file at `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    let packages = control::installed(text)?;
    Ok(packages
        .into_iter()
        .map(|p| {
            let product = catalog::product_for_package(&p.name);
            let purl = format!(
                "pkg:opkg/openwrt/{}@{}?arch={}",
                p.name,
                purl_escape(&p.version),
                p.arch
            );
            package_component(
                &p,
                "opkg",
                purl,
                "opkg-status",
                path,
                product,
                upstream_version(&p.version),
            )
        })
        .collect())
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
