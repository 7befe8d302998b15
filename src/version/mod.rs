//! Version ordering and the upstream release a packaged version carries:
//! the one home for both. Each packaging scheme keeps its own file; an OSV
//! range is walked with the ordering of the ecosystem that wrote it, and a
//! distribution package's version is compared in its own scheme while its
//! upstream part is matched against advisories written for upstream releases.

pub mod apk;
pub mod dpkg;
pub mod pep440;
pub mod rpm;
pub mod upstream;

use std::cmp::Ordering;

/// A version ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Native projects' own releases (OpenSSL letters, dropbear `YYYY.NN`).
    Upstream,
    /// crates.io, npm, Go.
    Semver,
    /// PyPI.
    Pep440,
    /// Debian, Ubuntu, opkg (which compares like dpkg, epochs included).
    Dpkg,
    /// Red Hat, SUSE, Fedora, ...
    Rpm,
    /// Alpine's apk.
    Apk,
}

impl Scheme {
    /// The ordering an OSV ecosystem (`Debian:12` counts as Debian) or a
    /// package type (`deb`, `opkg`, `apk`, `rpm`) uses.
    pub fn for_ecosystem(ecosystem: &str) -> Scheme {
        let base = ecosystem
            .split(':')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match base.as_str() {
            "crates.io" | "npm" | "go" | "hex" | "pub" | "nuget" | "packagist" => Scheme::Semver,
            "pypi" => Scheme::Pep440,
            "debian" | "ubuntu" | "opkg" | "deb" => Scheme::Dpkg,
            "red hat" | "redhat" | "rocky linux" | "almalinux" | "suse" | "opensuse" | "mageia"
            | "rpm" => Scheme::Rpm,
            "alpine" | "apk" | "wolfi" | "chainguard" => Scheme::Apk,
            _ => Scheme::Upstream,
        }
    }

    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Scheme::Upstream => upstream::compare(a, b),
            Scheme::Semver => semver_compare(a, b),
            Scheme::Pep440 => pep440::compare(a, b),
            Scheme::Dpkg => dpkg::compare(a, b),
            Scheme::Rpm => rpm::compare(a, b),
            Scheme::Apk => apk::compare(a, b),
        }
    }
}

/// Orders two upstream releases of the same product.
pub fn compare(a: &str, b: &str) -> Ordering {
    upstream::compare(a, b)
}

/// The upstream release a package version of `package_type` (`deb`,
/// `opkg`, `apk`, `rpm`) carries: no epoch, no packaging revision, no
/// repack suffix (`1:1.2.13.dfsg-1` is 1.2.13, `9.3_p1-r2` is 9.3p1).
/// Other versions are returned as they are.
pub fn upstream_of(package_type: &str, version: &str) -> String {
    match package_type {
        "deb" => dpkg::upstream(version),
        "opkg" => dpkg::opkg_upstream(version),
        "apk" => apk::upstream(version),
        "rpm" => rpm::upstream(version),
        _ => version.trim().to_string(),
    }
}

/// Semver 2.0 precedence (build metadata ignored); Go's `v` prefix accepted.
/// Versions that are not semver fall back to the upstream ordering.
fn semver_compare(a: &str, b: &str) -> Ordering {
    let parse = |s: &str| semver::Version::parse(s.trim().trim_start_matches('v')).ok();
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp_precedence(&y),
        _ => upstream::compare(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (scheme, lower, higher): checked in both directions.
    const ORDERED: &[(Scheme, &str, &str)] = &[
        // semver (crates.io, npm, Go)
        (Scheme::Semver, "0.6.9", "0.6.10"),
        (Scheme::Semver, "1.0.0-alpha", "1.0.0-alpha.1"),
        (Scheme::Semver, "1.0.0-alpha.1", "1.0.0-alpha.beta"),
        (Scheme::Semver, "1.0.0-alpha.beta", "1.0.0-beta"),
        (Scheme::Semver, "1.0.0-beta", "1.0.0-beta.2"),
        (Scheme::Semver, "1.0.0-beta.2", "1.0.0-beta.11"),
        (Scheme::Semver, "1.0.0-beta.11", "1.0.0-rc.1"),
        (Scheme::Semver, "1.0.0-rc.1", "1.0.0"),
        (Scheme::Semver, "1.0.0", "1.0.1"),
        (Scheme::Semver, "1.9.0", "1.10.0"),
        (Scheme::Semver, "1.10.0", "1.11.0"),
        (Scheme::Semver, "0.9.9", "1.0.0"),
        (Scheme::Semver, "v0.3.7", "v0.3.8"),
        (Scheme::Semver, "v1.2.3", "v1.10.0"),
        (
            Scheme::Semver,
            "v0.0.0-20210226172049-e18ecbb05110",
            "v0.0.1",
        ),
        (Scheme::Semver, "4.17.20", "4.17.21"),
        (Scheme::Semver, "2.0.0-rc.1", "2.0.0"),
        (Scheme::Semver, "0.1.44", "0.2.23"),
        (Scheme::Semver, "1.2.3-0", "1.2.3"),
        (Scheme::Semver, "10.0.0", "11.0.0-pre.1"),
        // PEP 440
        (Scheme::Pep440, "1.0.dev0", "1.0a1"),
        (Scheme::Pep440, "1.0a1", "1.0a2"),
        (Scheme::Pep440, "1.0a2", "1.0b1"),
        (Scheme::Pep440, "1.0b1", "1.0rc1"),
        (Scheme::Pep440, "1.0rc1", "1.0"),
        (Scheme::Pep440, "1.0", "1.0.post1"),
        (Scheme::Pep440, "1.0.post1", "1.0.post2"),
        (Scheme::Pep440, "1.0.post2", "1.1.dev1"),
        (Scheme::Pep440, "1.0a1.dev1", "1.0a1"),
        (Scheme::Pep440, "1.0.post1.dev1", "1.0.post1"),
        (Scheme::Pep440, "2.9.9", "2.10.0"),
        (Scheme::Pep440, "1.0", "1!0.1"),
        (Scheme::Pep440, "1.0", "1.0+local.1"),
        (Scheme::Pep440, "1.0+abc", "1.0+abd"),
        (Scheme::Pep440, "1.0c1", "1.0"),
        (Scheme::Pep440, "1.0alpha1", "1.0beta1"),
        (Scheme::Pep440, "1.0-1", "1.0.post2"),
        (Scheme::Pep440, "0.9", "1.0.0"),
        (Scheme::Pep440, "41.0.7", "42.0.0"),
        (Scheme::Pep440, "2.31.0", "2.32.0"),
        (Scheme::Pep440, "10.0.0", "10.0.1"),
        (Scheme::Pep440, "3.9.0rc2", "3.9.0"),
        (Scheme::Pep440, "1.26.5", "1.26.18"),
        (Scheme::Pep440, "2023.7.22", "2024.2.2"),
        (Scheme::Pep440, "v1.0", "1.1"),
        // dpkg
        (Scheme::Dpkg, "1.0~rc1", "1.0"),
        (Scheme::Dpkg, "1.0~~", "1.0~"),
        (Scheme::Dpkg, "1.0~", "1.0"),
        (Scheme::Dpkg, "1.0", "1.0a"),
        (Scheme::Dpkg, "1.0a", "1.0+"),
        (Scheme::Dpkg, "1.0-1", "1.0-2"),
        (Scheme::Dpkg, "1.0-9", "1.0-10"),
        (Scheme::Dpkg, "1.0-1", "1:0.9-1"),
        (Scheme::Dpkg, "3.0.17-1~deb12u1", "3.0.17-1~deb12u2"),
        (Scheme::Dpkg, "3.0.17-1~deb12u2", "3.0.17-1"),
        (Scheme::Dpkg, "3.0.17-1", "3.0.18-1"),
        (Scheme::Dpkg, "2.36-9+deb12u4", "2.36-9+deb12u10"),
        (Scheme::Dpkg, "2.36-9", "2.36-9+deb12u1"),
        (Scheme::Dpkg, "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+b1"),
        (Scheme::Dpkg, "1:1.35.0-4", "1:1.35.0-4+b3"),
        (Scheme::Dpkg, "7.88.1-10+deb12u5", "7.88.1-10+deb12u14"),
        (Scheme::Dpkg, "2022.83-1", "2022.83-1+deb12u1"),
        (Scheme::Dpkg, "0.9", "0.10"),
        (Scheme::Dpkg, "1.2.3", "1.2.3.1"),
        (Scheme::Dpkg, "1.35.0-6", "1.36.1-1"),
        (Scheme::Dpkg, "2.89-1", "2.90-4~deb12u1"),
        (Scheme::Dpkg, "5.10.0-21", "5.10.0-22"),
        (Scheme::Dpkg, "1.4.69-1", "1.4.69-1+deb12u1"),
        (Scheme::Dpkg, "2.28.3-1", "2.28.3-1+deb12u1"),
        (Scheme::Dpkg, "1.0-1ubuntu1", "1.0-1ubuntu2"),
        // rpm
        (Scheme::Rpm, "1.0", "1.0.1"),
        (Scheme::Rpm, "1.0~rc1", "1.0"),
        (Scheme::Rpm, "1.0", "1.0^git1"),
        (Scheme::Rpm, "1.0^git1", "1.0.1"),
        (Scheme::Rpm, "1.0a", "1.0.1"),
        (Scheme::Rpm, "1.0a", "1.0b"),
        (Scheme::Rpm, "2.5.1-1.el8", "2.5.1-2.el8"),
        (Scheme::Rpm, "1.1.1k-7.el8", "1:1.1.1k-5.el8"),
        (Scheme::Rpm, "3.0.7-24.el9", "3.0.7-25.el9"),
        (Scheme::Rpm, "1.9b", "1.10"),
        (
            Scheme::Rpm,
            "5.4.17-2011.0.7.el8uek",
            "5.4.17-2102.0.1.el8uek",
        ),
        (Scheme::Rpm, "0.9.8", "1.0"),
        (Scheme::Rpm, "2.28-225.el8", "2.28-225.el8_8.6"),
        (Scheme::Rpm, "1.01", "1.2"),
        (Scheme::Rpm, "7.61.1-30.el8", "7.76.1-26.el9"),
        // upstream (native projects)
        (Scheme::Upstream, "1.0.2k", "1.0.2u"),
        (Scheme::Upstream, "1.0.2z", "1.0.2za"),
        (Scheme::Upstream, "1.1.1w", "1.1.1za"),
        (Scheme::Upstream, "1.1.1zd", "3.0.0"),
        (Scheme::Upstream, "3.0.9", "3.0.10"),
        (Scheme::Upstream, "9.2p1", "9.3p1"),
        (Scheme::Upstream, "9.3p1", "9.3p2"),
        (Scheme::Upstream, "8.9p1", "9.0p1"),
        (Scheme::Upstream, "9.3", "9.3p1"),
        (Scheme::Upstream, "2022.83", "2024.84"),
        (Scheme::Upstream, "2019.78", "2020.79"),
        (Scheme::Upstream, "2.89", "2.90"),
        (Scheme::Upstream, "2.90test1", "2.90"),
        (Scheme::Upstream, "2.86rc3", "2.86"),
        (Scheme::Upstream, "1.35.0", "1.36.1"),
        (Scheme::Upstream, "1.2.11", "1.2.12"),
        (Scheme::Upstream, "1.2.11.1", "1.2.12"),
        (Scheme::Upstream, "1.2.12", "1.2.13"),
        (Scheme::Upstream, "1.2.13", "1.3"),
        (Scheme::Upstream, "1.3", "1.3.0.1"),
        (Scheme::Upstream, "7.88.1", "8.0.0"),
        (Scheme::Upstream, "8.9.1", "8.10.0"),
        (Scheme::Upstream, "2.36", "2.39"),
        (Scheme::Upstream, "2.39", "2.40"),
        (Scheme::Upstream, "1.2.3", "1.2.4"),
        (Scheme::Upstream, "1.4.69", "1.4.70"),
        (Scheme::Upstream, "2.28.3", "2.28.8"),
        (Scheme::Upstream, "2.28.8", "3.0.0"),
        (Scheme::Upstream, "5.5.4", "5.6.6"),
        (Scheme::Upstream, "4.14.180", "4.14.336"),
        (Scheme::Upstream, "4.19", "4.19.1"),
        (Scheme::Upstream, "5.10.176", "5.10.209"),
        (Scheme::Upstream, "6.1-rc7", "6.1"),
        (Scheme::Upstream, "6.1", "6.1.1"),
        (Scheme::Upstream, "2023.01", "2023.04"),
        (Scheme::Upstream, "2019.07", "2019.10"),
        (Scheme::Upstream, "2022.07-rc5", "2022.07"),
        (Scheme::Upstream, "3.44.0", "3.45.1"),
        (Scheme::Upstream, "2.5.0", "2.6.0"),
        (Scheme::Upstream, "2.9.14", "2.10.0"),
        (Scheme::Upstream, "1.6.37", "1.6.40"),
        (Scheme::Upstream, "0.9.8zh", "1.0.0"),
        (Scheme::Upstream, "1.0.1f", "1.0.1g"),
        (Scheme::Upstream, "3.5.0-alpha1", "3.5.0-beta1"),
        (Scheme::Upstream, "3.5.0-beta1", "3.5.0"),
        (Scheme::Upstream, "1.24.2", "1.25.1"),
        (Scheme::Upstream, "0", "0.1"),
        (Scheme::Upstream, "1.0.0", "1.0.0a"),
        (Scheme::Upstream, "1.1.0l", "1.1.1"),
        (Scheme::Upstream, "2.4.41", "2.4.58"),
        (Scheme::Upstream, "1.0.2zl", "1.0.2zm"),
        (Scheme::Upstream, "3.0.20", "3.0.21"),
        (Scheme::Upstream, "3.1.8", "3.2.0"),
        (Scheme::Upstream, "2.6.0", "2.6.4"),
        (Scheme::Upstream, "4.4.26", "4.5"),
        (Scheme::Upstream, "2.6.22", "3.0"),
        (Scheme::Upstream, "1.16.0", "1.34.0"),
        (Scheme::Upstream, "7.9.1", "7.69.0"),
        (Scheme::Semver, "0.3.9", "0.3.17"),
        (Scheme::Semver, "1.0.0-rc.9", "1.0.0-rc.10"),
        (Scheme::Semver, "1.0.0-beta", "1.0.0-beta.0"),
        (Scheme::Semver, "0.10.0-beta.1", "0.10.0"),
        (Scheme::Pep440, "1.0.dev1", "1.0.dev2"),
        (Scheme::Pep440, "1.0a1.post1", "1.0b1"),
        (Scheme::Pep440, "1.0.post1.dev1", "1.0.post1.dev2"),
        (Scheme::Pep440, "1.1rc1", "1.1"),
        (Scheme::Dpkg, "1.0+dfsg", "1.0+dfsg1"),
        (Scheme::Dpkg, "2:1.0", "10:0.1"),
        (Scheme::Dpkg, "1.2~beta1", "1.2~beta2"),
        (Scheme::Rpm, "1.0-1", "1.0-1.1"),
        (Scheme::Rpm, "2:1.0", "3:0.9"),
        // opkg compares like dpkg, epochs included
        (Scheme::Dpkg, "1.36.1-r2", "1.36.1-r3"),
        (Scheme::Dpkg, "2024.03.09~695277a5-r3", "2024.03.09-r1"),
        (Scheme::Dpkg, "1.2.13-1", "1:1.2.11-1"),
        (Scheme::Dpkg, "1:1.35.0-4+deb12u1", "1:1.35.0-4+deb12u1+b1"),
        // apk
        (Scheme::Apk, "1.2.13-r0", "1.2.13-r1"),
        (Scheme::Apk, "1.2.12-r9", "1.2.13-r0"),
        (Scheme::Apk, "9.3_p1-r0", "9.3_p2-r0"),
        (Scheme::Apk, "9.3-r0", "9.3_p1-r0"),
        (Scheme::Apk, "3.1.4_rc1-r0", "3.1.4-r0"),
        (Scheme::Apk, "3.1.4_alpha1", "3.1.4_beta1"),
        (Scheme::Apk, "3.1.4_beta2", "3.1.4_pre1"),
        (Scheme::Apk, "3.1.4_pre1", "3.1.4_rc1"),
        (Scheme::Apk, "2.4.0", "2.4.0_git20230101"),
        (Scheme::Apk, "2.4.0_git20230101", "2.4.0_p1"),
        (Scheme::Apk, "1.2", "1.2a"),
        (Scheme::Apk, "1.2a", "1.2b"),
        (Scheme::Apk, "1.2z", "1.2.1"),
        (Scheme::Apk, "1.02", "1.1"),
        (Scheme::Apk, "1.36.1-r5", "1.36.1-r10"),
        (Scheme::Apk, "3.0.8-r3", "3.1.0-r0"),
        (Scheme::Apk, "1.1.1w-r1", "3.0.0-r0"),
    ];

    #[test]
    fn ordered_pairs_in_both_directions() {
        assert!(ORDERED.len() >= 150, "{} pairs", ORDERED.len());
        for (scheme, lo, hi) in ORDERED {
            assert_eq!(
                scheme.compare(lo, hi),
                Ordering::Less,
                "{scheme:?}: {lo} < {hi}"
            );
            assert_eq!(
                scheme.compare(hi, lo),
                Ordering::Greater,
                "{scheme:?}: {hi} > {lo}"
            );
        }
    }

    #[test]
    fn equal_spellings() {
        assert_eq!(Scheme::Pep440.compare("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(
            Scheme::Pep440.compare("1.0alpha1", "1.0a1"),
            Ordering::Equal
        );
        assert_eq!(Scheme::Dpkg.compare("0:1.0-1", "1.0-1"), Ordering::Equal);
        assert_eq!(
            Scheme::Semver.compare("1.0.0+build1", "1.0.0+build2"),
            Ordering::Equal
        );
        assert_eq!(Scheme::Rpm.compare("1.01", "1.1"), Ordering::Equal);
    }

    #[test]
    fn ecosystems_pick_their_scheme() {
        assert_eq!(Scheme::for_ecosystem("crates.io"), Scheme::Semver);
        assert_eq!(Scheme::for_ecosystem("PyPI"), Scheme::Pep440);
        assert_eq!(Scheme::for_ecosystem("Debian:12"), Scheme::Dpkg);
        assert_eq!(Scheme::for_ecosystem("Red Hat"), Scheme::Rpm);
        assert_eq!(Scheme::for_ecosystem("Generic"), Scheme::Upstream);
        assert_eq!(Scheme::for_ecosystem("Alpine:v3.20"), Scheme::Apk);
        assert_eq!(Scheme::for_ecosystem("opkg"), Scheme::Dpkg);
    }

    /// Upstream-looking releases: digits and dots, an optional letter or
    /// patch level, an optional pre-release.
    fn upstream_release() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        (
            prop::collection::vec(0u32..400, 1..5),
            prop_oneof![Just(""), Just("a"), Just("k"), Just("za"), Just("p1")],
            prop_oneof![Just(""), Just("-rc1"), Just("-beta2")],
        )
            .prop_map(|(nums, letter, pre)| {
                let dotted: Vec<String> = nums.iter().map(u32::to_string).collect();
                format!("{}{letter}{pre}", dotted.join("."))
            })
    }

    proptest::proptest! {
        /// Whatever epoch, repack suffix and revision a distribution adds,
        /// the upstream version read back never compares below (nor above)
        /// the release it packages.
        #[test]
        fn upstream_of_a_package_version_is_its_release(
            up in upstream_release(),
            epoch in proptest::option::of(0u32..5),
            repack in proptest::sample::select(vec!["", "+dfsg", ".dfsg", "+ds1", "+really"]),
            revision in proptest::sample::select(vec!["1", "10+deb12u15", "4+deb12u1+b1", "1~deb12u2", "0ubuntu0.22.04.1", "r3", "1.3~deb12u1"]),
        ) {
            let debian_up = match repack {
                "+really" => format!("9.9+really{up}"),
                r => format!("{}{r}", up.replace("-rc", "~rc").replace("-beta", "~beta")),
            };
            let epoch = epoch.map(|e| format!("{e}:")).unwrap_or_default();
            let full = format!("{epoch}{debian_up}-{revision}");
            for ty in ["deb", "opkg"] {
                let read = upstream_of(ty, &full);
                proptest::prop_assert_eq!(
                    compare(&read, &up), Ordering::Equal, "{} {} read as {}", ty, full, read
                );
            }
            let apk = format!("{}-r{}", up.replace("-rc", "_rc").replace("-beta", "_beta").replace("p1", "_p1"), revision.len());
            let read = upstream_of("apk", &apk);
            proptest::prop_assert_eq!(compare(&read, &up), Ordering::Equal, "apk {} read as {}", apk, read);
            let rpm = format!("{epoch}{}-{}.el9", up.replace("-rc", "~rc").replace("-beta", "~beta"), revision.len());
            let read = upstream_of("rpm", &rpm);
            proptest::prop_assert_eq!(compare(&read, &up), Ordering::Equal, "rpm {} read as {}", rpm, read);
        }
    }
}
