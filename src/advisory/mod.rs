//! Stage 3 input: the advisory database and how a component is matched
//! against it. With no imported database, the bundled OSV set is used.

pub mod eol;
pub mod osv;
pub mod version;

use crate::model::Severity;
use std::collections::HashMap;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// An advisory reduced to what matching and reporting need.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub severity: Option<Severity>,
    pub cvss: Option<String>,
    pub record: osv::Record,
}

/// A component version an advisory covers, with the fix on its release line.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    pub advisory: &'a Advisory,
    /// First fixed release on the affected line, or every later fix when the
    /// line itself never got one.
    pub fixed_versions: Vec<String>,
}

/// Advisories indexed by (ecosystem, package name), both lower-case.
#[derive(Debug, Default)]
pub struct Database {
    advisories: Vec<Advisory>,
    by_package: HashMap<(String, String), Vec<(usize, usize)>>,
    /// Where the data came from, for `db status` and reports.
    pub source: String,
    pub eol: eol::EolData,
}

impl Database {
    /// The set compiled into the binary from `advisories/`.
    pub fn bundled() -> Result<Database, String> {
        let mut db = Database {
            source: "bundled".to_string(),
            ..Database::default()
        };
        for (name, text) in bundled::BUNDLED_OSV {
            let record: osv::Record =
                serde_json::from_str(text).map_err(|e| format!("advisories/osv/{name}: {e}"))?;
            db.add(record);
        }
        if let Some(text) = bundled::BUNDLED_EOL {
            db.eol = eol::EolData::parse(text)?;
        }
        Ok(db)
    }

    pub fn add(&mut self, record: osv::Record) {
        let index = self.advisories.len();
        for (ai, affected) in record.affected.iter().enumerate() {
            if let Some(p) = &affected.package {
                let key = (
                    p.ecosystem.to_ascii_lowercase(),
                    p.name.to_ascii_lowercase(),
                );
                self.by_package.entry(key).or_default().push((index, ai));
            }
        }
        let (severity, cvss) = record.severity();
        self.advisories.push(Advisory {
            id: record.id.clone(),
            aliases: record.aliases.clone(),
            summary: record.summary.clone().unwrap_or_default(),
            severity,
            cvss,
            record,
        });
    }

    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// Advisories affecting `name` at `version` in `ecosystem` (`Generic` for
    /// upstream C projects), in id order.
    pub fn matches(&self, ecosystem: &str, name: &str, version: &str) -> Vec<Match<'_>> {
        let key = (ecosystem.to_ascii_lowercase(), name.to_ascii_lowercase());
        let mut out: Vec<Match> = Vec::new();
        for &(index, ai) in self.by_package.get(&key).into_iter().flatten() {
            let advisory = &self.advisories[index];
            let affected = &advisory.record.affected[ai];
            let listed = affected.versions.iter().any(|v| v == version);
            let hit = affected
                .ranges
                .iter()
                .find_map(|r| osv::range_affects(r, version));
            let fixed_versions = match hit {
                Some(Some(fix)) => vec![fix],
                Some(None) => later_fixes(affected, version),
                None if listed => later_fixes(affected, version),
                None => continue,
            };
            if out.iter().any(|m| m.advisory.id == advisory.id) {
                continue;
            }
            out.push(Match {
                advisory,
                fixed_versions,
            });
        }
        out.sort_by(|a, b| a.advisory.id.cmp(&b.advisory.id));
        out
    }
}

/// Every `fixed` event above `version`, ascending: the upgrade targets when
/// the version's own line has no fix.
fn later_fixes(affected: &osv::Affected, version: &str) -> Vec<String> {
    let mut fixes: Vec<String> = affected
        .ranges
        .iter()
        .flat_map(|r| r.events.iter().filter_map(|e| e.fixed.clone()))
        .filter(|f| version::compare(f, version) == std::cmp::Ordering::Greater)
        .collect();
    fixes.sort_by(|a, b| version::compare(a, b));
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
