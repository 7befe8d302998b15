//! Triage: findings a team has looked at and accepted, from `.fwaudit.toml`
//! (or `--ignore FILE`). A suppressed finding stays in the report, marked,
//! and no longer counts for `--fail-on`; an expired entry stops suppressing.
//!
//! ```toml
//! [[ignore]]
//! id = "CVE-2023-4911"          # advisory id or alias, or a rule id (FW-KEY-001)
//! component = "glibc"           # optional: name or name@version
//! path = "/etc/dropbear/*"      # optional: the finding's file (its path in
//!                               # the device, or the whole provenance path;
//!                               # a trailing `*` matches a prefix)
//! reason = "Debian backported the fix in 2.36-9+deb12u3"
//! expires = "2027-01-01"        # optional, ISO date
//! ```

use crate::model::{Finding, FindingState, Suppression};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageFile {
    #[serde(default)]
    pub ignore: Vec<Entry>,
    /// VEX documents to read with every scan (`vex = ["vendor.vex.json"]`),
    /// relative to the file's own directory.
    #[serde(default)]
    pub vex: Vec<std::path::PathBuf>,
    /// Where the file was read from, for relative paths in it.
    #[serde(skip)]
    pub dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    #[serde(default)]
    pub component: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub expires: Option<String>,
}

impl TriageFile {
    pub fn load(path: &Path) -> Result<TriageFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut file: TriageFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        file.dir = path.parent().map(Path::to_path_buf);
        file.check(path)?;
        Ok(file)
    }

    /// Entries and VEX documents read from `path` (a configuration file),
    /// checked as [`TriageFile::load`] checks them.
    pub fn from_entries(
        ignore: Vec<Entry>,
        vex: Vec<std::path::PathBuf>,
        path: &Path,
    ) -> Result<TriageFile, String> {
        let file = TriageFile {
            ignore,
            vex,
            dir: path.parent().map(Path::to_path_buf),
        };
        file.check(path)?;
        Ok(file)
    }

    fn check(&self, path: &Path) -> Result<(), String> {
        for (i, entry) in self.ignore.iter().enumerate() {
            if let Some(date) = &entry.expires
                && !crate::date::is_date(date)
            {
                return Err(format!(
                    "{}: ignore entry {} ({}): expires {date:?} is not a YYYY-MM-DD date",
                    path.display(),
                    i + 1,
                    entry.id
                ));
            }
        }
        Ok(())
    }

    /// The `vex` list, relative paths taken from the file's directory.
    pub fn vex_paths(&self) -> Vec<std::path::PathBuf> {
        self.vex
            .iter()
            .map(|p| match &self.dir {
                Some(dir) if p.is_relative() => dir.join(p),
                _ => p.clone(),
            })
            .collect()
    }

    /// Marks the findings an unexpired entry covers.
    pub fn apply(&self, findings: &mut [Finding], today: &str) {
        for finding in findings.iter_mut() {
            let Some(entry) = self
                .ignore
                .iter()
                .find(|e| covers(e, finding) && !expired(e, today))
            else {
                continue;
            };
            if finding.state == FindingState::Active {
                finding.state = FindingState::Suppressed;
            }
            finding.suppressed = Some(Suppression {
                reason: entry.reason.clone(),
                expires: entry.expires.clone(),
            });
        }
    }
}

fn covers(entry: &Entry, finding: &Finding) -> bool {
    let names = finding
        .advisory
        .iter()
        .chain(finding.rule.iter())
        .chain(finding.aliases.iter());
    let id_matches = names.into_iter().any(|n| n.eq_ignore_ascii_case(&entry.id));
    let component_matches = match (&entry.component, &finding.component) {
        (None, _) => true,
        (Some(want), Some(have)) => {
            have == want || have.split_once('@').is_some_and(|(name, _)| name == want)
        }
        (Some(_), None) => false,
    };
    let path_matches = match (&entry.path, &finding.path) {
        (None, _) => true,
        (Some(want), Some(have)) => path_matches(want, have),
        (Some(_), None) => false,
    };
    id_matches && component_matches && path_matches
}

/// `want` names `have` (a provenance path `img@0x90000:squashfs/etc/x`):
/// the whole path, or the path inside its file system; `*` at the end
/// matches any rest.
fn path_matches(want: &str, have: &str) -> bool {
    let inner = have
        .rsplit_once(':')
        .map_or(have, |(_, p)| p.find('/').map_or(p, |at| &p[at..]));
    // A directory target has no layer in its paths (`rootfs/etc/x`).
    let absolute = want.starts_with('/');
    match want.strip_suffix('*') {
        Some(prefix) => {
            have.starts_with(prefix)
                || inner.starts_with(prefix)
                || (absolute && have.contains(prefix))
        }
        None => have == want || inner == want || (absolute && have.ends_with(want)),
    }
}

fn expired(entry: &Entry, today: &str) -> bool {
    entry.expires.as_deref().is_some_and(|d| d < today)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FindingKind, Severity};

    fn finding(id: &str, component: &str) -> Finding {
        Finding {
            kind: FindingKind::Vulnerable,
            component: Some(component.to_string()),
            path: None,
            advisory: Some(id.to_string()),
            aliases: vec!["GHSA-xxxx".to_string()],
            severity: Severity::High,
            cvss: None,
            fixed_versions: vec![],
            summary: String::new(),
            ..Finding::new(FindingKind::Vulnerable, Severity::Unknown, "")
        }
    }

    #[test]
    fn suppresses_until_expiry_and_only_the_named_component() {
        let file: TriageFile = toml::from_str(
            r#"
            [[ignore]]
            id = "CVE-1"
            component = "glibc"
            reason = "backported"
            expires = "2027-01-01"
            [[ignore]]
            id = "ghsa-xxxx"
            reason = "by alias"
            expires = "2020-01-01"
            "#,
        )
        .unwrap();
        let mut f = vec![
            finding("CVE-1", "glibc@2.36"),
            finding("CVE-1", "musl@1.2.3"),
            finding("CVE-2", "x@1"),
        ];
        file.apply(&mut f, "2026-11-25");
        assert_eq!(f[0].suppressed.as_ref().unwrap().reason, "backported");
        assert!(f[1].suppressed.is_none());
        assert!(f[2].suppressed.is_none(), "expired entries do not suppress");
        file.apply(&mut f, "2019-06-01");
        assert_eq!(f[2].suppressed.as_ref().unwrap().reason, "by alias");
    }

    #[test]
    fn rule_ids_and_paths_suppress_posture_findings() {
        let file: TriageFile = toml::from_str(
            r#"
            [[ignore]]
            id = "FW-MODE-001"
            path = "/usr/bin/ping"
            reason = "needs raw sockets"
            [[ignore]]
            id = "fw-key-001"
            path = "/etc/dropbear/*"
            reason = "regenerated at first boot"
            "#,
        )
        .unwrap();
        let posture = |rule: &str, path: &str| Finding {
            rule: Some(rule.to_string()),
            path: Some(path.to_string()),
            ..Finding::new(FindingKind::Config, Severity::High, "")
        };
        let mut f = vec![
            posture("FW-MODE-001", "fw.bin@0x90000:squashfs/usr/bin/ping"),
            posture("FW-MODE-001", "fw.bin@0x90000:squashfs/bin/busybox"),
            posture(
                "FW-KEY-001",
                "fw.bin@0x90000:squashfs/etc/dropbear/dropbear_rsa_host_key",
            ),
            posture(
                "FW-KEY-001",
                "fw.bin@0x90000:squashfs/etc/ssl/private/server.key",
            ),
        ];
        file.apply(&mut f, "2026-11-25");
        let states: Vec<_> = f.iter().map(|x| x.state).collect();
        use crate::model::FindingState::{Active, Suppressed};
        assert_eq!(states, [Suppressed, Active, Suppressed, Active]);
    }

    #[test]
    fn bad_dates_and_unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        std::fs::write(
            &p,
            "[[ignore]]\nid = \"X\"\nreason = \"r\"\nexpires = \"soon\"\n",
        )
        .unwrap();
        assert!(
            TriageFile::load(&p)
                .unwrap_err()
                .contains("is not a YYYY-MM-DD date")
        );
        std::fs::write(
            &p,
            "[[ignore]]\nid = \"X\"\nreason = \"r\"\nuntil = \"2027-01-01\"\n",
        )
        .unwrap();
        assert!(TriageFile::load(&p).unwrap_err().contains("unknown field"));
    }
}
