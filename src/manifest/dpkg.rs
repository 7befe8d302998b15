//! dpkg's database of installed packages: `/var/lib/dpkg/status`, the
//! one-file-per-package `/var/lib/dpkg/status.d/*` of distroless images, and
//! the `/var/lib/dpkg/info/NAME[:ARCH].list` files lists.

use super::control;
use super::{Parsed, package_component};
use crate::identify::catalog;
use crate::model::{Component, Distro};

/// Distributions whose packages are `.deb`s (others that use dpkg say so
/// in `ID_LIKE`).
const DEB_FAMILY: &[&str] = &[
    "debian",
    "ubuntu",
    "raspbian",
    "kali",
    "devuan",
    "linuxmint",
    "pop",
];

/// Installed packages in a dpkg status file at `path`.
pub fn parse(path: &str, text: &str, distro: Option<&Distro>) -> Result<Parsed, String> {
    Ok(database(path, control::installed(text)?, distro))
}

/// A distroless `status.d` entry: stanzas may lack `Status`.
pub fn parse_status_d(path: &str, text: &str, distro: Option<&Distro>) -> Result<Parsed, String> {
    Ok(database(path, control::listed(text)?, distro))
}

fn database(path: &str, packages: Vec<control::Installed>, distro: Option<&Distro>) -> Parsed {
    let relations = control::relations(&packages);
    Parsed::with_relations(components(path, "dpkg-status", packages, distro), relations)
}

/// `/var/lib/dpkg/status.d/NAME` (not the `NAME.md5sums` beside it).
pub fn is_status_d(fs_path: &str) -> bool {
    super::entry_in(fs_path, "/var/lib/dpkg/status.d/")
        .is_some_and(|name| !name.ends_with(".md5sums"))
}

/// `/var/lib/dpkg/info/NAME.list`.
pub fn is_files_list(fs_path: &str) -> bool {
    super::entry_in(fs_path, "/var/lib/dpkg/info/").is_some_and(|name| name.ends_with(".list"))
}

/// The package a files list belongs to: `libssl3:armhf.list` -> `libssl3`.
pub fn list_package(fs_path: &str) -> Option<String> {
    let name = fs_path.rsplit('/').next()?.strip_suffix(".list")?;
    let name = name.split(':').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

pub(super) fn components(
    path: &str,
    method: &str,
    packages: Vec<control::Installed>,
    distro: Option<&Distro>,
) -> Vec<Component> {
    // The PURL namespace is the distribution (`debian`, `ubuntu`), and the
    // release a qualifier, when the file system says which it is.
    let distro = distro.filter(|d| d.is_like(DEB_FAMILY));
    let vendor = distro.map_or("debian", |d| d.id.as_str());
    let release = distro.and_then(Distro::purl_distro).unwrap_or_default();
    packages
        .into_iter()
        .map(|p| {
            // "Source: openssl" names the upstream project better than the binary package.
            let product = p
                .source
                .as_deref()
                .and_then(catalog::product_for_package)
                .or_else(|| catalog::product_for_package(&p.name));
            let purl = crate::purl::build(
                "deb",
                Some(vendor),
                &p.name,
                &p.version,
                &[("arch", &p.arch), ("distro", &release)],
            );
            let c = package_component(
                &p,
                "deb",
                purl,
                method,
                path,
                product,
                crate::version::upstream_of("deb", &p.version),
            );
            let mut c = c;
            c.ecosystem_osv = Some(
                distro
                    .and_then(Distro::osv_ecosystem)
                    .unwrap_or_else(|| "Debian".to_string()),
            );
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_whose_files_are_present_count_with_their_state() {
        // debian-installer leaves its udebs `install ok unpacked`; an
        // interrupted configure leaves `half-configured`.
        let text = "Package: busybox-udeb\nStatus: install ok unpacked\nVersion: 1:1.35.0-4+b3\n\
                    Architecture: amd64\n\n\
                    Package: libc6\nStatus: install ok half-configured\nVersion: 2.36-9\n\n\
                    Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n\n\
                    Package: half\nStatus: install reinstreq half-installed\nVersion: 1\n";
        let c = parse("status", text, None).unwrap().components;
        let got: Vec<(&str, Option<&str>)> = c
            .iter()
            .map(|c| (c.name.as_str(), c.status.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("busybox-udeb", Some("unpacked")),
                ("libc6", Some("half-configured")),
                ("zlib1g", None)
            ]
        );
    }

    #[test]
    fn reads_installed_packages_and_their_upstream() {
        let text = "Package: libssl3\nStatus: install ok installed\nArchitecture: armhf\n\
                    Source: openssl\nVersion: 3.0.17-1~deb12u2\n\n\
                    Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n";
        let c = parse("status", text, None).unwrap().components;
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].purl,
            "pkg:deb/debian/libssl3@3.0.17-1~deb12u2?arch=armhf"
        );
        let up = c[0].upstream.as_ref().unwrap();
        assert_eq!(
            (up.name.as_str(), up.version.as_str()),
            ("openssl", "3.0.17")
        );
        assert_eq!(
            c[0].sources[0].evidence,
            "line 1: Package: libssl3, Version: 3.0.17-1~deb12u2"
        );
    }

    #[test]
    fn distroless_entries_and_files_lists() {
        let c = parse_status_d(
            "s",
            "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
            None,
        )
        .unwrap()
        .components;
        assert_eq!(
            c[0].purl,
            "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all"
        );
        assert!(is_status_d("/var/lib/dpkg/status.d/tzdata"));
        assert!(!is_status_d("/var/lib/dpkg/status.d/tzdata.md5sums"));
        assert!(is_files_list("/var/lib/dpkg/info/libssl3:armhf.list"));
        assert_eq!(
            list_package("/var/lib/dpkg/info/libssl3:armhf.list").as_deref(),
            Some("libssl3")
        );
    }

    #[test]
    fn a_stanza_without_version_is_an_error() {
        let err = parse("s", "Package: x\nStatus: install ok installed\n", None).unwrap_err();
        assert_eq!(err, "line 1: package stanza without `Version`");
    }
}
