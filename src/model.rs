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

/// Why we believe a component is present.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct Evidence {
    /// `signature` (version string in bytes), `dpkg-status`, `opkg-status`, ...
    pub method: String,
    /// Path of the file inside the target, e.g. `fw.bin@0x40000:squashfs/usr/lib/libz.so.1`.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
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
            FindingKind::Informational => "informational",
        }
    }
}

/// One problem to act on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    /// `name@version` of the upstream component concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The file concerned (for `unused` and `hardening`), or the first file the component was seen in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
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
    /// Set when a triage entry accepted this finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<crate::analyze::triage::Suppression>,
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
