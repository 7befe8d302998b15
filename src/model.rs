//! Shared vocabulary of the pipeline: what was found, where, and how bad it is.
//!
//! Every stage speaks these types so that a report, the JSON contract and the
//! fleet store all describe a component the same way.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A third-party component (library, program, package) found in a target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Component {
    /// Product or package name as its ecosystem spells it (`openssl`, `libssl3`).
    pub name: String,
    pub version: String,
    /// Package URL, e.g. `pkg:generic/openssl@3.0.17`.
    pub purl: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpe: Option<String>,
    /// `generic` for upstream projects found by signature, `deb`, `opkg`, ... for packages.
    pub ecosystem: String,
    /// The upstream product and version this package carries, used to match
    /// advisories written against upstream releases (`libssl3` carries `openssl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Upstream>,
    pub sources: Vec<Evidence>,
    /// OSV ecosystem the package is published in (`crates.io`, `npm`, `PyPI`,
    /// `Go`, `Debian`, `Alpine`), so advisories can be matched by package name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecosystem_osv: Option<String>,
    /// `direct` or `transitive` when the manifest says how the project depends on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependency: Option<String>,
    /// True for a requirement with no exact version (`requests>=2`): `version`
    /// then holds the specifier as written, not a resolved version.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unpinned: bool,
    /// Files the package installed, as its database lists them (absolute paths
    /// in the target's file system).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// PURLs of the components this one depends on, as its manifest
    /// resolved them (a lockfile's dependency list, a package's `Depends`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// A package database's state for an entry whose files are on the device
    /// but whose installation did not finish (dpkg `unpacked`,
    /// `half-configured`, `triggers-pending`; opkg `unpacked`); absent when
    /// fully installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The source package a distribution package was built from (Debian
    /// `Source:`, apk origin, rpm source rpm): what distribution security
    /// data is keyed by. `libcurl4` and `curl` both come from `curl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_package: Option<String>,
    /// Vulnerabilities the package's own changelog says a revision fixed
    /// (`changelog.Debian.gz`), with the file and line that say so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patched: Vec<Patched>,
    /// For a kernel: the configuration it was built with, when the image
    /// carries it (`/boot/config-*`, the `IKCFG` copy inside the kernel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_config: Option<KernelConfig>,
}

/// A kernel's build configuration, as much of it as verdicts need.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KernelConfig {
    /// Where it was read (`fw.bin@...:squashfs/boot/config-6.1.0-28-armmp`,
    /// or the kernel file itself for an `IKCFG` copy).
    pub path: String,
    /// The architecture its header names (`# Linux/arm 6.1.192 Kernel
    /// Configuration`): code under another `arch/` is never built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Options set to `y`, `m` or a value.
    pub set: std::collections::BTreeSet<String>,
    /// `# CONFIG_X is not set` lines: option -> line number.
    pub not_set: std::collections::BTreeMap<String, u64>,
}

/// One vulnerability a package changelog names as fixed, and in which
/// revision.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Patched {
    /// `CVE-2023-38545`.
    pub id: String,
    /// The revision whose entry names it (`7.88.1-10+deb12u4`).
    pub version: String,
    /// The changelog, and the line of the entry's mention.
    pub path: String,
    pub line: u64,
    /// The changelog line, as written.
    #[serde(default)]
    pub text: String,
}

/// Upstream identity of a packaged component.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Upstream {
    pub name: String,
    pub version: String,
}

impl Component {
    /// The upstream (product, version) pair advisories are matched against.
    pub fn upstream(&self) -> Upstream {
        self.upstream.clone().unwrap_or_else(|| Upstream {
            name: self.name.clone(),
            version: self.version.clone(),
        })
    }
}

/// Debian's release numbers and code names: the security tracker names
/// releases by code name (`bookworm`), os-release and OSV by number.
const DEBIAN_RELEASES: &[(&str, &str)] = &[
    ("7", "wheezy"),
    ("8", "jessie"),
    ("9", "stretch"),
    ("10", "buster"),
    ("11", "bullseye"),
    ("12", "bookworm"),
    ("13", "trixie"),
    ("14", "forky"),
];

/// The Debian code name of a release number (`12`, `12.7`).
pub fn debian_codename(version_id: &str) -> Option<&'static str> {
    let major = version_id.split('.').next()?;
    DEBIAN_RELEASES
        .iter()
        .find(|(v, _)| *v == major)
        .map(|(_, c)| *c)
}

/// The Debian release number of a code name.
pub fn debian_version_id(codename: &str) -> Option<&'static str> {
    DEBIAN_RELEASES
        .iter()
        .find(|(_, c)| c.eq_ignore_ascii_case(codename))
        .map(|(v, _)| *v)
}

/// The distribution and release a root file system is (`/etc/os-release`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Distro {
    /// os-release `ID`: `debian`, `ubuntu`, `alpine`, `openwrt`, `rhel`.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// `PRETTY_NAME`, or the release file's line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// os-release `ID_LIKE`: the distributions a derivative is built from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
    /// The file it was read from, inside the file system.
    #[serde(default)]
    pub path: String,
}

impl Distro {
    /// True when the distribution is, or says it is like, one of `families`
    /// (`["debian", "ubuntu"]` for dpkg databases): only then does it name
    /// the packages of such a database.
    pub fn is_like(&self, families: &[&str]) -> bool {
        families.contains(&self.id.as_str())
            || self.id_like.iter().any(|l| families.contains(&l.as_str()))
    }

    /// The PURL `distro` qualifier (`debian-12`, `alpine-3.20.3`).
    pub fn purl_distro(&self) -> Option<String> {
        Some(format!("{}-{}", self.id, self.version_id.as_deref()?))
    }

    /// The OSV ecosystem of this release's packages (`Debian:12`,
    /// `Ubuntu:22.04:LTS`, `Alpine:v3.20`), as OSV names them.
    pub fn osv_ecosystem(&self) -> Option<String> {
        let version = self.version_id.as_deref()?;
        let major = version.split('.').next()?;
        Some(match self.id.as_str() {
            "debian" => format!("Debian:{major}"),
            "ubuntu" => {
                // LTS releases are the April releases of even years.
                let lts =
                    version.ends_with(".04") && major.parse::<u32>().is_ok_and(|y| y % 2 == 0);
                if lts {
                    format!("Ubuntu:{version}:LTS")
                } else {
                    format!("Ubuntu:{version}")
                }
            }
            "alpine" => {
                let minor = version.split('.').nth(1)?;
                format!("Alpine:v{major}.{minor}")
            }
            _ => return None,
        })
    }
}

/// Why we believe a component is present.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct Evidence {
    /// `signature` (version string in bytes), `dpkg-status`, `opkg-status`, ...
    pub method: String,
    /// Path of the file inside the target, e.g. `fw.bin@0x40000:squashfs/usr/lib/libz.so.1`.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// 1-based line, for evidence in a text file (a config, a changelog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The matched text, as found.
    pub evidence: String,
    /// SHA-256 of the file, for evidence found in a file's bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The installed package whose files list holds `path` (a signature hit
    /// in `/usr/bin/curl` belongs to package `curl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// Severity on the CVSS qualitative scale, plus `info` for findings that carry no risk score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    /// The advisory carries no score or rating (e.g. NVD records not yet analysed).
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Qualitative rating of a CVSS base score (CVSS v3.x specification, table 14).
    pub fn from_cvss_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Info,
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text.to_ascii_lowercase().as_str() {
            "info" | "none" => Some(Severity::Info),
            "unknown" => Some(Severity::Unknown),
            "low" => Some(Severity::Low),
            "medium" | "moderate" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of problem a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    Vulnerable,
    Outdated,
    Unused,
    Hardening,
    /// A private key, token or other secret shipped in the image.
    Secret,
    /// An account with an empty, default or weakly hashed password.
    Credential,
    /// A service, file mode or setting that exposes the device.
    Config,
    /// RustSec informational advisories: unmaintained, unsound, notices.
    Informational,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Vulnerable => "vulnerable",
            FindingKind::Outdated => "outdated",
            FindingKind::Unused => "unused",
            FindingKind::Hardening => "hardening",
            FindingKind::Secret => "secret",
            FindingKind::Credential => "credential",
            FindingKind::Config => "config",
            FindingKind::Informational => "informational",
        }
    }
}

/// Where a finding stands. Only `active` findings count for `--fail-on`;
/// the others stay in every report with the reason they are not active.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    /// The device is exposed.
    #[default]
    Active,
    /// The installed build carries the fix (a distribution backport, a
    /// changelog entry, a vendor's VEX `fixed` statement).
    Fixed,
    /// The vulnerable code is not in the build (distribution verdict, VEX,
    /// kernel configuration).
    NotAffected,
    /// A person accepted the finding (triage entry).
    Suppressed,
}

impl FindingState {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingState::Active => "active",
            FindingState::Fixed => "fixed",
            FindingState::NotAffected => "not_affected",
            FindingState::Suppressed => "suppressed",
        }
    }
}

/// Why a finding is in the state it is: who said so, and the proof.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Analysis {
    /// Who decided: `debian-tracker`, `osv`, `changelog`, `vex`, `kernel-config`.
    pub source: String,
    /// One line a person can read ("Debian 12 fixed it in 7.88.1-10+deb12u4").
    pub detail: String,
    /// The fixing revision in the package's own scheme, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
    /// VEX justification (OpenVEX spelling, e.g. `vulnerable_code_not_present`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The distribution's own urgency rating (Debian `low`, `unimportant`, ...),
    /// shown beside the CVSS severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
    /// The file and line or offset that proves it (a changelog entry, a
    /// config line, a VEX document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// Why a finding is suppressed, as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Suppression {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// One problem to act on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    /// Active, or why not (fixed, not affected, suppressed).
    #[serde(default)]
    pub state: FindingState,
    /// `name@version` of the upstream component concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The file concerned (for `unused` and `hardening`), or the first file the component was seen in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// PURLs of the components the finding is about: the packages of one
    /// source package at one revision (`curl` and `libcurl4`), or the one
    /// copy of a product found outside any package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
    /// Stable id of the check that raised a finding without an advisory
    /// (`FW-KEY-001`); advisories are named by `advisory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub aliases: Vec<String>,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    pub fixed_versions: Vec<String>,
    /// For `vulnerable`: the smallest version of the component that fixes
    /// every advisory it matched (absent when one of them has no fix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<String>,
    /// One line a person can read.
    pub summary: String,
    /// One line: what to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// Where the problem shows (file, offset or line, matched text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Why the state is not `active` (or, for an active finding, what the
    /// distribution says about it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    /// Set when a triage entry accepted this finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

impl Finding {
    /// A finding with only its kind, severity and summary set; the other
    /// fields are filled in with struct update syntax.
    pub fn new(kind: FindingKind, severity: Severity, summary: impl Into<String>) -> Finding {
        Finding {
            kind,
            state: FindingState::Active,
            component: None,
            path: None,
            purls: Vec::new(),
            advisory: None,
            rule: None,
            aliases: Vec::new(),
            severity,
            cvss: None,
            fixed_versions: Vec::new(),
            upgrade: None,
            summary: summary.into(),
            remedy: None,
            evidence: Vec::new(),
            analysis: None,
            suppressed: None,
        }
    }

    /// True when the finding counts: the device is exposed and nobody
    /// accepted it. Only these reach `--fail-on`.
    pub fn is_active(&self) -> bool {
        self.state == FindingState::Active
    }
}

/// A package manifest and the binaries disagree on a product's upstream
/// version: both components are kept, and this note says so.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Conflict {
    /// Always `conflict`, so that notes of other kinds can join the list.
    pub kind: String,
    /// Upstream product (`openssl`).
    pub product: String,
    /// The packaged component (`libssl3`), its upstream version and where it was listed.
    pub package: String,
    pub package_version: String,
    pub manifest: String,
    /// Versions the binaries show, and the files that show them.
    pub binary_versions: Vec<String>,
    pub binary_paths: Vec<String>,
    /// One line a person can read.
    pub message: String,
}
