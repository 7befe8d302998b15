//! Stage 3 input: the advisory database and how a component is matched
//! against it. The bundled OSV set is always there; `db import` adds OSV,
//! NVD and RustSec data to a store under the data directory.

pub mod cpe;
pub mod cve5;
pub mod debian_tracker;
pub mod distro;
pub mod eol;
pub mod import;
pub mod nvd;
pub mod osv;
pub mod rustsec_db;
pub mod store;
pub mod update;

use crate::identify::catalog;
use crate::model::{Component, Severity};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// How an advisory says what it affects; one variant per source format.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Affects {
    /// OSV `affected[]`: package (ecosystem, name) with version ranges.
    Osv(Vec<osv::Affected>),
    /// NVD `configurations`: CPE criteria with version bounds.
    Nvd(Vec<nvd::Configuration>),
    /// RustSec: a crate and the semver requirements that are safe.
    Rustsec(rustsec_db::CrateRanges),
    /// CVE JSON 5 (a CNA's own record): products with version ranges and
    /// the program files the fix touched.
    Cve5(Vec<cve5::Affected>),
}

/// An advisory reduced to what matching and reporting need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    /// `bundled`, `osv`, `nvd` or `rustsec`.
    pub source: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub severity: Option<Severity>,
    pub cvss: Option<String>,
    pub affects: Affects,
}

impl Advisory {
    pub fn from_osv(record: osv::Record, source: &str) -> Advisory {
        let (severity, cvss) = record.severity();
        Advisory {
            id: record.id.clone(),
            source: source.to_string(),
            aliases: record.aliases.clone(),
            summary: record.summary.clone().unwrap_or_default(),
            severity,
            cvss,
            affects: Affects::Osv(record.affected),
        }
    }

    /// This advisory's id and aliases: one vulnerability under every name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// A component version an advisory covers, with the fix on its release line.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    pub advisory: &'a Advisory,
    /// First fixed release on the affected line, or every later fix when the
    /// line itself never got one.
    pub fixed_versions: Vec<String>,
    /// Other ids the same vulnerability carries in other sources.
    pub aliases: Vec<String>,
}

/// OSV ecosystems whose advisories name packages as lockfiles do.
const LANGUAGE: &[&str] = &[
    "crates.io",
    "npm",
    "PyPI",
    "Go",
    "Maven",
    "RubyGems",
    "NuGet",
];

/// Index key: (`ecosystem` or `cpe`, package name or `vendor:product`), lower-case.
type Key = (String, String);

/// Advisories indexed for lookup by package or CPE.
#[derive(Debug, Default)]
pub struct Database {
    advisories: Vec<Advisory>,
    index: HashMap<Key, Vec<usize>>,
    /// Upper-case id or alias -> advisories carrying it.
    names: HashMap<String, Vec<usize>>,
    pub eol: eol::EolData,
    /// Distribution fix data (Debian tracker, distribution OSV records).
    pub distro: distro::Feeds,
}

impl Database {
    /// The set compiled into the binary from `advisories/`.
    pub fn bundled() -> Result<Database, String> {
        let mut db = Database::default();
        for advisory in bundled_advisories()? {
            db.add(advisory);
        }
        db.eol = bundled_eol()?;
        Ok(db)
    }

    /// The bundled set plus whatever `db import` stored in `data_dir`.
    pub fn load(data_dir: &std::path::Path) -> Result<Database, String> {
        let mut db = Database::bundled()?;
        db.distro = distro::Feeds::in_dir(data_dir);
        if let Some(store) = store::load(data_dir)? {
            for advisory in store.advisories {
                db.add(advisory);
            }
            db.eol.products.extend(store.eol.products);
        }
        Ok(db)
    }

    pub fn from_advisories(advisories: Vec<Advisory>, eol: eol::EolData) -> Database {
        let mut db = Database {
            eol,
            ..Database::default()
        };
        for a in advisories {
            db.add(a);
        }
        db
    }

    pub fn add(&mut self, advisory: Advisory) {
        let index = self.advisories.len();
        let mut keys: Vec<Key> = Vec::new();
        match &advisory.affects {
            Affects::Osv(affected) => {
                for p in affected.iter().filter_map(|a| a.package.as_ref()) {
                    keys.push((
                        p.ecosystem.to_ascii_lowercase(),
                        p.name.to_ascii_lowercase(),
                    ));
                }
            }
            Affects::Nvd(configs) => {
                for m in configs
                    .iter()
                    .flat_map(|c| &c.nodes)
                    .flat_map(|n| &n.cpe_match)
                {
                    if let (true, Some(c)) = (m.vulnerable, cpe::Cpe::parse(&m.criteria)) {
                        keys.push(("cpe".to_string(), c.key()));
                    }
                }
            }
            Affects::Rustsec(ranges) => {
                keys.push(("crates.io".to_string(), ranges.package.to_ascii_lowercase()))
            }
            Affects::Cve5(affected) => {
                for a in affected {
                    keys.push(("generic".to_string(), a.product.to_ascii_lowercase()));
                }
            }
        }
        keys.sort();
        keys.dedup();
        for key in keys {
            self.index.entry(key).or_default().push(index);
        }
        for name in advisory.names() {
            self.names
                .entry(name.to_ascii_uppercase())
                .or_default()
                .push(index);
        }
        self.advisories.push(advisory);
    }

    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    /// Every advisory known under `name` (its id or an alias).
    pub fn named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Advisory> + 'a {
        self.names
            .get(&name.to_ascii_uppercase())
            .into_iter()
            .flatten()
            .map(|&i| &self.advisories[i])
    }

    /// An advisory known under `name` (its id or an alias), preferring one
    /// that carries a severity: where a distribution reports a vulnerability
    /// no upstream range matched, its NVD or OSV record still says how bad
    /// it is.
    pub fn by_name(&self, name: &str) -> Option<&Advisory> {
        let list = self.names.get(&name.to_ascii_uppercase())?;
        list.iter()
            .map(|&i| &self.advisories[i])
            .max_by_key(|a| (a.severity.is_some(), a.id.eq_ignore_ascii_case(name)))
    }

    /// OSV advisories affecting `name` at `version` in `ecosystem` (`Generic`
    /// for upstream C projects), in id order.
    pub fn matches(&self, ecosystem: &str, name: &str, version: &str) -> Vec<Match<'_>> {
        let key = (ecosystem.to_ascii_lowercase(), name.to_ascii_lowercase());
        let mut out = Vec::new();
        for &index in self.index.get(&key).into_iter().flatten() {
            let advisory = &self.advisories[index];
            let fixed = match &advisory.affects {
                Affects::Osv(affected) => osv_affects(affected, ecosystem, name, version),
                Affects::Rustsec(ranges) => ranges.affects(version),
                Affects::Cve5(list) if ecosystem.eq_ignore_ascii_case("generic") => {
                    cve5::affects(list, &name.to_ascii_lowercase(), version)
                }
                Affects::Nvd(_) | Affects::Cve5(_) => None,
            };
            if let Some(fixed_versions) = fixed {
                out.push(Match {
                    advisory,
                    fixed_versions,
                    aliases: Vec::new(),
                });
            }
        }
        out.sort_by(|a, b| a.advisory.id.cmp(&b.advisory.id));
        out
    }

    /// NVD advisories whose CPE criteria cover `cpe` at `version`.
    pub fn matches_cpe(&self, cpe: &cpe::Cpe, version: &str) -> Vec<Match<'_>> {
        let key = ("cpe".to_string(), cpe.key());
        let mut out = Vec::new();
        for &index in self.index.get(&key).into_iter().flatten() {
            let advisory = &self.advisories[index];
            if let Affects::Nvd(configs) = &advisory.affects
                && let Some(fix) = nvd::affects(configs, cpe, version)
            {
                out.push(Match {
                    advisory,
                    fixed_versions: fix.into_iter().collect(),
                    aliases: Vec::new(),
                });
            }
        }
        out.sort_by(|a, b| a.advisory.id.cmp(&b.advisory.id));
        out
    }

    /// Every advisory affecting a component, one per vulnerability: an OSV
    /// record and the NVD record of its CVE alias are merged, the first
    /// source (bundled/OSV, then RustSec, then NVD) giving the id.
    pub fn matches_component(&self, component: &Component) -> Vec<Match<'_>> {
        let up = component.upstream();
        let mut all = self.matches("Generic", &up.name, &up.version);
        // Language packages are also matched in their own ecosystem, by the
        // package name and version as published (distribution ecosystems
        // name source packages and releases, so they stay upstream-only).
        if let Some(eco) = component
            .ecosystem_osv
            .as_deref()
            .filter(|e| LANGUAGE.contains(e))
            && !component.unpinned
        {
            let version = match eco {
                "Go" => component.version.trim_start_matches('v'),
                _ => component.version.as_str(),
            };
            all.extend(self.matches(eco, &component.name, version));
        }
        let cpe_name = catalog::cpe(&up.name, &up.version).or_else(|| component.cpe.clone());
        if let Some(c) = cpe_name.as_deref().and_then(cpe::Cpe::parse) {
            all.extend(self.matches_cpe(&c, &up.version));
        }
        merge_aliases(all)
    }
}

fn osv_affects(
    affected: &[osv::Affected],
    ecosystem: &str,
    name: &str,
    version: &str,
) -> Option<Vec<String>> {
    for a in affected {
        let Some(p) = &a.package else { continue };
        if !p.ecosystem.eq_ignore_ascii_case(ecosystem) || !p.name.eq_ignore_ascii_case(name) {
            continue;
        }
        let scheme = crate::version::Scheme::for_ecosystem(&p.ecosystem);
        let listed = a.versions.iter().any(|v| v == version);
        match a
            .ranges
            .iter()
            .find_map(|r| osv::range_affects(r, version, scheme))
        {
            Some(Some(fix)) => return Some(vec![fix]),
            Some(None) => return Some(later_fixes(a, version, scheme)),
            None if listed => return Some(later_fixes(a, version, scheme)),
            None => {}
        }
    }
    None
}

/// Merges matches that name the same vulnerability (shared id or alias).
fn merge_aliases(matches: Vec<Match<'_>>) -> Vec<Match<'_>> {
    let mut out: Vec<Match> = Vec::new();
    for m in matches {
        let names: Vec<&str> = m.advisory.names().collect();
        if let Some(existing) = out.iter_mut().find(|e| {
            e.advisory
                .names()
                .chain(e.aliases.iter().map(String::as_str))
                .any(|n| names.contains(&n))
        }) {
            for n in names {
                if n != existing.advisory.id && !existing.aliases.iter().any(|a| a == n) {
                    existing.aliases.push(n.to_string());
                }
            }
            if existing.fixed_versions.is_empty() {
                existing.fixed_versions = m.fixed_versions;
            }
            continue;
        }
        let mut m = m;
        m.aliases = m.advisory.aliases.clone();
        out.push(m);
    }
    out
}

/// Base score of a CVSS vector: v3.x and v4.0 with their `CVSS:` prefix,
/// v2 without one (as NVD and OSV write it).
pub fn cvss_base_score(vector: &str) -> Option<f64> {
    use std::str::FromStr;
    let vector = vector.trim();
    cvss::Cvss::from_str(vector)
        .map(|c| c.score())
        .ok()
        .or_else(|| {
            cvss::v2::Vector::from_str(vector)
                .ok()
                .map(|v| v.score().value())
        })
}

/// The bundled OSV advisories.
pub fn bundled_advisories() -> Result<Vec<Advisory>, String> {
    bundled::BUNDLED_OSV
        .iter()
        .map(|(name, text)| {
            serde_json::from_str::<osv::Record>(text)
                .map(|r| Advisory::from_osv(r, "bundled"))
                .map_err(|e| format!("advisories/osv/{name}: {e}"))
        })
        .collect()
}

/// The bundled end-of-life data.
pub fn bundled_eol() -> Result<eol::EolData, String> {
    bundled::BUNDLED_EOL.map_or_else(|| Ok(eol::EolData::default()), eol::EolData::parse)
}

/// Every `fixed` event above `version`, ascending: the upgrade targets when
/// the version's own line has no fix.
fn later_fixes(
    affected: &osv::Affected,
    version: &str,
    scheme: crate::version::Scheme,
) -> Vec<String> {
    let mut fixes: Vec<String> = affected
        .ranges
        .iter()
        .flat_map(|r| r.events.iter().filter_map(|e| e.fixed.clone()))
        .filter(|f| scheme.compare(f, version) == std::cmp::Ordering::Greater)
        .collect();
    fixes.sort_by(|a, b| scheme.compare(a, b));
    fixes.dedup();
    fixes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_set_loads_and_matches_known_cases() {
        let db = Database::bundled().unwrap();
        assert!(db.len() >= 40, "{} advisories", db.len());
        let ids = |name: &str, v: &str| -> Vec<String> {
            db.matches("Generic", name, v)
                .iter()
                .map(|m| m.advisory.id.clone())
                .collect()
        };
        assert!(ids("openssl", "1.0.2k").contains(&"CVE-2022-0778".to_string()));
        assert!(!ids("openssl", "1.0.2zd").contains(&"CVE-2022-0778".to_string()));
        assert!(ids("dnsmasq", "2.82").contains(&"CVE-2020-25681".to_string()));
        assert!(!ids("dnsmasq", "2.83").contains(&"CVE-2020-25681".to_string()));
        let m = db.matches("Generic", "openssl", "3.0.1");
        let cve = m.iter().find(|m| m.advisory.id == "CVE-2022-0778").unwrap();
        assert_eq!(cve.fixed_versions, vec!["3.0.2"]);
        assert_eq!(cve.advisory.severity, Some(Severity::High));
    }
}
