//! The posture rules (`rules.toml`): stable ids, severities, remedies and
//! help text, kept as data so that a report, SARIF's rule table and a triage
//! file all name a finding the same way.

use crate::model::{Evidence, Finding, FindingKind, Severity};
use serde::Deserialize;
use std::sync::OnceLock;

/// One rule as `rules.toml` states it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub check: Check,
    pub kind: FindingKind,
    pub severity: Severity,
    pub name: String,
    pub title: String,
    pub remedy: String,
    pub help: String,
    pub cwe: u32,
}

#[derive(Deserialize)]
struct RuleFile {
    rule: Vec<Rule>,
}

/// What `scan --checks` can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// Components, advisories, end-of-life, unused libraries.
    Components,
    /// Binary hardening.
    Hardening,
    /// Keys and certificates (and who can read them).
    Secrets,
    /// Accounts and stored passwords.
    Accounts,
    /// Services at boot, SSH and messaging settings, file modes.
    Services,
}

impl Check {
    pub const ALL: [Check; 5] = [
        Check::Components,
        Check::Hardening,
        Check::Secrets,
        Check::Accounts,
        Check::Services,
    ];

    pub fn parse(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Check::Components => "components",
            Check::Hardening => "hardening",
            Check::Secrets => "secrets",
            Check::Accounts => "accounts",
            Check::Services => "services",
        }
    }
}

/// The checks a scan runs (all by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checks(Vec<Check>);

impl Default for Checks {
    fn default() -> Checks {
        Checks(Check::ALL.to_vec())
    }
}

impl Checks {
    pub fn only(list: &[Check]) -> Checks {
        Checks(list.to_vec())
    }

    /// `components,hardening` -> those two; an unknown name is an error naming it.
    pub fn parse(text: &str) -> Result<Checks, String> {
        let mut out = Vec::new();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let check = Check::parse(name).ok_or_else(|| {
                format!(
                    "unknown check {name:?} (known: {})",
                    Check::ALL.map(Check::as_str).join(", ")
                )
            })?;
            if !out.contains(&check) {
                out.push(check);
            }
        }
        if out.is_empty() {
            return Err("--checks needs at least one check".into());
        }
        Ok(Checks(out))
    }

    pub fn has(&self, check: Check) -> bool {
        self.0.contains(&check)
    }

    /// True when any posture check (anything but components) runs.
    pub fn any_posture(&self) -> bool {
        self.0.iter().any(|c| *c != Check::Components)
    }
}

/// Every rule, in file order.
pub fn all() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        // The file is part of the binary and checked by a unit test: a
        // broken table is a build defect, not an input error.
        toml::from_str::<RuleFile>(include_str!("rules.toml"))
            .map(|f| f.rule)
            .unwrap_or_default()
    })
}

/// The rule with this id.
pub fn get(id: &str) -> Option<&'static Rule> {
    all().iter().find(|r| r.id == id)
}

/// A finding of rule `id` about `path`: kind, severity, remedy and rule id
/// come from the table, `summary` says what was seen.
pub fn finding(id: &str, path: &str, summary: String, evidence: Vec<Evidence>) -> Finding {
    let (kind, severity, remedy) = match get(id) {
        Some(r) => (r.kind, r.severity, Some(r.remedy.clone())),
        None => (FindingKind::Config, Severity::Unknown, None),
    };
    Finding {
        rule: Some(id.to_string()),
        path: Some(path.to_string()),
        remedy,
        evidence,
        ..Finding::new(kind, severity, summary)
    }
}

/// Evidence at a line of a text file.
pub fn at_line(method: &str, path: &str, line: usize, text: &str) -> Evidence {
    Evidence {
        method: method.to_string(),
        path: path.to_string(),
        line: Some(line as u64),
        evidence: text.trim().chars().take(200).collect(),
        ..Evidence::default()
    }
}

/// Evidence at a byte offset of a file.
pub fn at_offset(method: &str, path: &str, offset: u64, text: &str) -> Evidence {
    Evidence {
        method: method.to_string(),
        path: path.to_string(),
        offset: Some(offset),
        evidence: text.chars().take(200).collect(),
        ..Evidence::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_ids_are_unique_and_well_formed() {
        let parsed: RuleFile = toml::from_str(include_str!("rules.toml")).unwrap();
        assert_eq!(parsed.rule.len(), all().len());
        assert_eq!(all().len(), 36);
        let mut ids: Vec<&str> = all().iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all().len(), "duplicate rule id");
        for r in all() {
            assert!(r.id.starts_with("FW-") && r.id.len() >= 10, "{}", r.id);
            assert_ne!(r.check, Check::Components, "{}", r.id);
            assert!(!r.remedy.contains('\n') && !r.title.contains('\n'));
        }
    }

    #[test]
    fn checks_parse_and_name_the_unknown() {
        let c = Checks::parse("components, hardening").unwrap();
        assert!(c.has(Check::Hardening) && !c.has(Check::Secrets));
        assert!(!Checks::parse("components").unwrap().any_posture());
        let e = Checks::parse("hardening,keys").unwrap_err();
        assert!(e.contains("unknown check \"keys\""), "{e}");
    }
}
