//! Components matched against the advisory database, and what the
//! device's own evidence says about each match.
//!
//! A finding is one vulnerability in one thing on the device: the packages
//! one source package built at one revision (`curl` and `libcurl4` from
//! source `curl` 7.88.1-10+deb12u15), or one copy of a product found outside
//! any package. A vulnerability known under several ids (CVE, GHSA, OSV,
//! DSA) is one finding with aliases.
//!
//! Its state is decided in this order, the first that speaks deciding:
//! 1. the distribution's verdict for the installed release and revision
//!    (Debian Security Tracker, distribution OSV records): `fixed` when the
//!    revision has the fix, `not_affected` when the release never had the
//!    code or rates it unimportant;
//! 2. a VEX statement about the component: `not_affected` or `fixed`;
//! 3. for a kernel whose configuration the image carries, the source files
//!    the advisory names being left out of the build: `not_affected`;
//! 4. the distribution's open verdict, which keeps the finding active with
//!    the distribution's urgency and the revision that will fix it;
//! 5. the package's own changelog naming the CVE in a revision at or below
//!    the installed one: `fixed`, with the changelog line as proof;
//! 6. otherwise the upstream version range: active.
//!
//! A distribution's open vulnerabilities that no upstream range matched are
//! findings too: the distribution knows its packages best.

use crate::advisory::distro::{Fix, Verdict, is_distro_ecosystem};
use crate::advisory::{Advisory, Affects, Database, Match, cve5};
use crate::analyze::kernel_config;
use crate::model::{Analysis, Component, Evidence, Finding, FindingKind, FindingState, Severity};
use crate::version::Scheme;
use crate::vex::{self, VexSet};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Package types a distribution installs.
const DISTRIBUTION: &[&str] = &["deb", "opkg", "apk", "rpm"];

/// The components one finding is about.
struct Unit<'a> {
    members: Vec<&'a Component>,
}

impl<'a> Unit<'a> {
    fn rep(&self) -> &'a Component {
        self.members[0]
    }

    fn purls(&self) -> Vec<&'a str> {
        self.members.iter().map(|c| c.purl.as_str()).collect()
    }
}

/// Packages of one source package at one revision in one database are one
/// unit; every other component is its own.
fn units(components: &[Component]) -> Vec<Unit<'_>> {
    let mut out: Vec<Unit> = Vec::new();
    let mut keyed: BTreeMap<(&str, &str, &str, &str), usize> = BTreeMap::new();
    for c in components {
        if DISTRIBUTION.contains(&c.ecosystem.as_str()) {
            let key = (
                c.ecosystem.as_str(),
                c.sources.first().map_or("", |s| s.path.as_str()),
                c.source_package.as_deref().unwrap_or(&c.name),
                c.version.as_str(),
            );
            if let Some(&at) = keyed.get(&key) {
                out[at].members.push(c);
                continue;
            }
            keyed.insert(key, out.len());
        }
        out.push(Unit { members: vec![c] });
    }
    out
}

/// The distribution context of a unit: its release's fix data for its
/// source package.
struct Distro {
    /// `Debian 12`, for people.
    label: String,
    installed: String,
    scheme: Scheme,
    fixes: Vec<(Fix, Option<String>, String)>,
}

fn distro_of(unit: &Unit, db: &Database) -> Option<Distro> {
    let rep = unit.rep();
    if !DISTRIBUTION.contains(&rep.ecosystem.as_str()) {
        return None;
    }
    let eco = rep
        .ecosystem_osv
        .as_deref()
        .filter(|e| is_distro_ecosystem(e))?;
    let package = rep.source_package.as_deref().unwrap_or(&rep.name);
    Some(Distro {
        label: eco.replace(':', " "),
        installed: rep.version.clone(),
        scheme: Scheme::for_ecosystem(&rep.ecosystem),
        fixes: db.distro.fixes(eco, package),
    })
}

/// One finding per (unit, vulnerability); see the module documentation for
/// how its state is decided.
pub fn findings(components: &[Component], db: &Database, vex: &VexSet) -> Vec<Finding> {
    let mut out = Vec::new();
    for unit in units(components) {
        let rep = unit.rep();
        let up = rep.upstream();
        let distro = distro_of(&unit, db);
        let purls = unit.purls();
        let mut seen: Vec<String> = Vec::new();
        let mut unit_findings: Vec<Finding> = Vec::new();
        for m in db.matches_component(rep) {
            let names: Vec<&str> = std::iter::once(m.advisory.id.as_str())
                .chain(m.aliases.iter().map(String::as_str))
                .collect();
            seen.extend(names.iter().map(|n| n.to_ascii_uppercase()));
            let mut f = from_match(&m, &up.name, &up.version, rep);
            decide(&mut f, &names, &unit, distro.as_ref(), db, vex);
            unit_findings.push(f);
        }
        if let Some(d) = &distro {
            for (fix, description, source) in &d.fixes {
                let known = std::iter::once(fix.cve.as_str())
                    .chain(fix.ids.iter().map(String::as_str))
                    .any(|n| seen.contains(&n.to_ascii_uppercase()));
                if known {
                    continue;
                }
                let Verdict::Open { fixed } = fix.verdict(&d.installed, d.scheme) else {
                    continue;
                };
                let mut f =
                    distro_only(fix, description.as_deref(), db, &up.name, &up.version, rep);
                let names: Vec<&str> = std::iter::once(fix.cve.as_str())
                    .chain(f.aliases.iter().map(String::as_str))
                    .collect();
                let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                f.fixed_versions = fixed.clone().into_iter().collect();
                decide(&mut f, &names, &unit, Some(d), db, vex);
                f.analysis.get_or_insert_with(|| Analysis {
                    source: source.clone(),
                    detail: format!("{} reports it for this package", d.label),
                    ..Analysis::default()
                });
                unit_findings.push(f);
            }
        }
        set_upgrade(&mut unit_findings, distro.as_ref());
        for f in &mut unit_findings {
            f.purls = purls.iter().map(|p| p.to_string()).collect();
        }
        out.extend(unit_findings);
    }
    out
}

/// A finding from an advisory match, active, with the upstream fix.
fn from_match(m: &Match, name: &str, version: &str, rep: &Component) -> Finding {
    let informational = match &m.advisory.affects {
        Affects::Rustsec(r) => r.informational.clone(),
        _ => None,
    };
    let text = one_line(&m.advisory.summary);
    let summary = match &informational {
        Some(kind) => format!("{kind}: {text}"),
        None => format!("{text} ({})", fix_note(&m.fixed_versions)),
    };
    let kind = if informational.is_some() {
        FindingKind::Informational
    } else {
        FindingKind::Vulnerable
    };
    Finding {
        component: Some(format!("{name}@{version}")),
        path: first_file(rep),
        advisory: Some(m.advisory.id.clone()),
        aliases: m.aliases.clone(),
        cvss: m.advisory.cvss.clone(),
        fixed_versions: m.fixed_versions.clone(),
        ..Finding::new(
            kind,
            m.advisory.severity.unwrap_or(Severity::Unknown),
            summary,
        )
    }
}

/// The file a finding points at: the first file the product's code was
/// found in (a package's binary), else where the component was listed.
fn first_file(c: &Component) -> Option<String> {
    c.sources
        .iter()
        .find(|s| s.package.is_some())
        .or_else(|| c.sources.first())
        .map(|s| s.path.clone())
}

/// Longest summary a finding repeats from its advisory.
const SUMMARY_CHARS: usize = 160;

/// An advisory's summary on one line: NVD descriptions run to paragraphs.
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= SUMMARY_CHARS {
        return joined;
    }
    let cut: String = joined.chars().take(SUMMARY_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

fn fix_note(fixed: &[String]) -> String {
    match fixed.first() {
        Some(f) => format!("fixed in {f}"),
        None => "no fixed version".to_string(),
    }
}

/// A vulnerability only the distribution's data names for this package:
/// severity and summary from the advisory database when it knows the id
/// (NVD, OSV), else from the distribution's urgency and description.
fn distro_only(
    fix: &Fix,
    description: Option<&str>,
    db: &Database,
    name: &str,
    version: &str,
    rep: &Component,
) -> Finding {
    let known: Option<&Advisory> = db.by_name(&fix.cve);
    let severity = known
        .and_then(|a| a.severity)
        .unwrap_or_else(|| urgency_severity(fix.urgency()));
    let text = known
        .map(|a| a.summary.clone())
        .filter(|s| !s.is_empty())
        .or_else(|| description.map(str::to_string))
        .map(|t| one_line(&t))
        .unwrap_or_else(|| "no description".to_string());
    let mut aliases: Vec<String> = fix.ids.clone();
    if let Some(a) = known {
        aliases.extend(a.names().filter(|n| *n != fix.cve).map(str::to_string));
    }
    aliases.sort();
    aliases.dedup();
    Finding {
        component: Some(format!("{name}@{version}")),
        path: first_file(rep),
        advisory: Some(fix.cve.clone()),
        aliases,
        cvss: known.and_then(|a| a.cvss.clone()),
        ..Finding::new(FindingKind::Vulnerable, severity, text)
    }
}

/// Debian's urgency as a severity, for vulnerabilities no scored record
/// describes.
fn urgency_severity(urgency: Option<&str>) -> Severity {
    match urgency {
        Some("high") => Severity::High,
        Some("medium") => Severity::Medium,
        Some("low") => Severity::Low,
        _ => Severity::Unknown,
    }
}

/// Sets the finding's state and analysis from the device's evidence.
fn decide(
    f: &mut Finding,
    names: &[&str],
    unit: &Unit,
    distro: Option<&Distro>,
    db: &Database,
    vex: &VexSet,
) {
    let purls = unit.purls();
    let cpe = unit.rep().cpe.as_deref();
    let named = |id: &str| names.iter().any(|n| n.eq_ignore_ascii_case(id));
    let fix = distro.and_then(|d| {
        d.fixes
            .iter()
            .find(|(fix, _, _)| named(&fix.cve) || fix.ids.iter().any(|i| named(i)))
            .map(|(fix, _, source)| (d, fix, source))
    });
    let mut open: Option<Analysis> = None;
    if let Some((d, fix, source)) = fix {
        let urgency = fix.urgency().map(str::to_string);
        match fix.verdict(&d.installed, d.scheme) {
            Verdict::Fixed { fixed } => {
                f.state = FindingState::Fixed;
                f.analysis = Some(Analysis {
                    source: source.clone(),
                    detail: format!(
                        "{} fixed it in {fixed}; {} is installed",
                        d.label, d.installed
                    ),
                    fixed_in: Some(fixed),
                    urgency,
                    ..Analysis::default()
                });
                return;
            }
            Verdict::NotAffected { reason } => {
                f.state = FindingState::NotAffected;
                f.analysis = Some(Analysis {
                    source: source.clone(),
                    justification: (reason == "never affected")
                        .then(|| "vulnerable_code_not_present".to_string()),
                    detail: format!("{}: {reason}", d.label),
                    urgency,
                    ..Analysis::default()
                });
                return;
            }
            Verdict::Open { fixed } => {
                let mut detail = match &fixed {
                    Some(r) => format!("{} fixes it in {r}; {} is installed", d.label, d.installed),
                    None => format!("{}: not fixed yet", d.label),
                };
                if let Some(why) = &fix.nodsa {
                    detail.push_str(&format!(
                        " (no DSA: {})",
                        if why.is_empty() { "minor issue" } else { why }
                    ));
                }
                if let Some(r) = &fixed {
                    f.fixed_versions = vec![r.clone()];
                    f.summary =
                        replace_fix_note(&f.summary, &format!("{} fixes it in {r}", d.label));
                }
                open = Some(Analysis {
                    source: source.clone(),
                    detail,
                    fixed_in: fixed,
                    urgency,
                    ..Analysis::default()
                });
            }
        }
    }
    if let Some(statement) = vex.find(names, &purls, cpe) {
        let state = match statement.status {
            vex::Status::NotAffected => Some(FindingState::NotAffected),
            vex::Status::Fixed => Some(FindingState::Fixed),
            vex::Status::Affected | vex::Status::UnderInvestigation => None,
        };
        let analysis = Analysis {
            source: "vex".to_string(),
            detail: format!(
                "{} says {}{}",
                statement.origin,
                statement.status.as_str(),
                statement
                    .detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            justification: statement.justification.clone(),
            ..Analysis::default()
        };
        if let Some(state) = state {
            f.state = state;
            f.analysis = Some(analysis);
            return;
        }
        if open.is_none() {
            open = Some(analysis);
        }
    }
    if let Some(analysis) = kernel_config_verdict(names, unit, db) {
        f.state = FindingState::NotAffected;
        f.analysis = Some(analysis);
        return;
    }
    if let Some(analysis) = open {
        f.analysis = Some(analysis);
        return;
    }
    // The package's changelog, where the distribution's data is silent.
    let (installed, scheme) = match distro {
        Some(d) => (d.installed.as_str(), d.scheme),
        None => (
            unit.rep().version.as_str(),
            Scheme::for_ecosystem(&unit.rep().ecosystem),
        ),
    };
    let patched = unit
        .members
        .iter()
        .flat_map(|c| &c.patched)
        .find(|p| named(&p.id) && scheme.compare(installed, &p.version) != Ordering::Less);
    if let Some(p) = patched {
        f.state = FindingState::Fixed;
        f.analysis = Some(Analysis {
            source: "changelog".to_string(),
            detail: format!(
                "the package changelog names it in {}; {installed} is installed",
                p.version
            ),
            fixed_in: Some(p.version.clone()),
            evidence: Some(Evidence {
                method: "changelog".to_string(),
                path: p.path.clone(),
                line: Some(p.line),
                evidence: p.text.clone(),
                ..Evidence::default()
            }),
            ..Analysis::default()
        });
    }
}

/// For a kernel whose configuration the image carries: the reason the
/// files the advisory's kernel CNA record names are not built, if none is.
fn kernel_config_verdict(names: &[&str], unit: &Unit, db: &Database) -> Option<Analysis> {
    let rep = unit.rep();
    let config = rep.kernel_config.as_ref()?;
    let product = rep.upstream().name;
    let mut files: Vec<&str> = names
        .iter()
        .flat_map(|n| db.named(n))
        .filter_map(|a| match &a.affects {
            Affects::Cve5(list) => Some(cve5::program_files(list, &product)),
            _ => None,
        })
        .flatten()
        .collect();
    files.sort();
    files.dedup();
    let absent = kernel_config::verdict(&files, config)?;
    let reasons: Vec<String> = absent
        .iter()
        .map(|a| format!("{} ({})", a.file, a.reason))
        .collect();
    let first = &absent[0];
    Some(Analysis {
        source: "kernel-config".to_string(),
        detail: format!("not in this kernel's build: {}", reasons.join("; ")),
        justification: Some("vulnerable_code_not_present".to_string()),
        evidence: Some(Evidence {
            method: "kernel-config".to_string(),
            path: config.path.clone(),
            line: first.line,
            evidence: match first.line {
                Some(_) => format!("# {}", first.reason),
                None => first.reason.clone(),
            },
            ..Evidence::default()
        }),
        ..Analysis::default()
    })
}

/// `summary (fixed in X)` with its note replaced.
fn replace_fix_note(summary: &str, note: &str) -> String {
    match summary.rfind(" (") {
        Some(at) if summary.ends_with(')') => format!("{} ({note})", &summary[..at]),
        _ => format!("{summary} ({note})"),
    }
}

/// The one upgrade that clears every active finding of the unit: the
/// highest of their fixes, in the distribution's scheme when every fix is a
/// distribution revision, upstream when none is (absent when some finding
/// has no fix, or the two kinds mix).
fn set_upgrade(findings: &mut [Finding], distro: Option<&Distro>) {
    let active: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.is_active() && f.kind == FindingKind::Vulnerable)
        .collect();
    let from_distro = |f: &Finding| f.analysis.as_ref().is_some_and(|a| a.fixed_in.is_some());
    let scheme = match distro {
        Some(d) if active.iter().all(|f| from_distro(f)) => Some(d.scheme),
        _ if active.iter().all(|f| !from_distro(f)) => Some(Scheme::Upstream),
        _ => None,
    };
    let mut best: Option<String> = None;
    let mut complete = scheme.is_some();
    for f in &active {
        match (f.fixed_versions.first(), scheme) {
            (Some(fix), Some(s)) => {
                if best
                    .as_deref()
                    .is_none_or(|b| s.compare(b, fix) == Ordering::Less)
                {
                    best = Some(fix.clone());
                }
            }
            _ => complete = false,
        }
    }
    let upgrade = best.filter(|_| complete);
    for f in findings.iter_mut() {
        f.upgrade = if f.is_active() { upgrade.clone() } else { None };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::osv;
    use crate::manifest::cargo_lock;

    /// RUSTSEC-2021-0003 as OSV, written from the RustSec advisory's facts.
    const SMALLVEC: &str = r#"{"id": "RUSTSEC-2021-0003", "modified": "2021-01-08T00:00:00Z",
        "aliases": ["CVE-2021-25900", "GHSA-43w2-9j62-hq99"],
        "summary": "Buffer overflow in SmallVec::insert_many",
        "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.6.3"}, {"fixed": "0.6.14"},
                {"introduced": "1.0.0"}, {"fixed": "1.6.1"}]}]}]}"#;

    #[test]
    fn lockfile_packages_match_in_their_own_ecosystem() {
        let mut db = Database::default();
        db.add(crate::advisory::Advisory::from_osv(
            serde_json::from_str::<osv::Record>(SMALLVEC).unwrap(),
            "osv",
        ));
        let lock = include_str!("../../tests/fixtures/manifests/cargo-lock/Cargo.lock");
        let components = cargo_lock::parse("Cargo.lock", lock).unwrap();
        let found: Vec<String> = findings(&components, &db, &VexSet::default())
            .iter()
            .map(|f| {
                format!(
                    "{} {} {:?}",
                    f.component.as_deref().unwrap_or("-"),
                    f.advisory.as_deref().unwrap_or("-"),
                    f.fixed_versions
                )
            })
            .collect();
        assert_eq!(found, ["smallvec@1.6.0 RUSTSEC-2021-0003 [\"1.6.1\"]"]);
        // A crates.io advisory never matches a same-named upstream C project.
        let generic = Component {
            name: "smallvec".into(),
            version: "1.6.0".into(),
            ecosystem: "generic".into(),
            ..Component::default()
        };
        assert!(findings(&[generic], &db, &VexSet::default()).is_empty());
    }

    #[test]
    fn fix_notes_are_replaced_not_appended() {
        assert_eq!(
            replace_fix_note(
                "SOCKS5 overflow (fixed in 8.4.0)",
                "Debian 12 fixes it in 1-2"
            ),
            "SOCKS5 overflow (Debian 12 fixes it in 1-2)"
        );
    }
}
