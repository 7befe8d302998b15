//! CVE JSON 5 records (the CVE Program's own format, as CNAs publish them):
//! `containers.cna.affected[]` with `vendor`, `product`, `defaultStatus`,
//! `versions[]` (`version`, `lessThan` / `lessThanOrEqual`, `status`,
//! `versionType`) and `programFiles`. The kernel.org CNA writes every
//! Linux CVE this way, with the stable series that fixed it
//! (`6.1.119` up to `6.1.*` unaffected) and the source files the fix
//! touched, which is what a kernel configuration is checked against
//! ([`crate::analyze::kernel_config`]).

use crate::identify::catalog;
use crate::model::Severity;
use crate::version::compare;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;

/// One `affected[]` entry reduced to what matching needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Affected {
    /// The catalogue product it names (`linux` for vendor/product `Linux`).
    pub product: String,
    pub default_affected: bool,
    /// Comparable version entries (git commit ranges are left out).
    pub versions: Vec<Range>,
    /// Source files the fix touched (`net/netfilter/nf_tables_api.c`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub program_files: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Range {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub less_than: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub less_than_or_equal: Option<String>,
    pub affected: bool,
}

impl Range {
    /// True when `v` is inside the range. `X.Y.*` bounds a stable series:
    /// `6.1.119` to `6.1.*` covers 6.1.119 and every later 6.1 release.
    fn covers(&self, v: &str) -> bool {
        let from = |lo: &str| lo == "0" || compare(v, lo) != Ordering::Less;
        match (&self.less_than, &self.less_than_or_equal) {
            (Some(hi), _) => from(&self.version) && compare(v, hi) == Ordering::Less,
            (None, Some(hi)) if hi == "*" => from(&self.version),
            (None, Some(hi)) => match hi.strip_suffix(".*") {
                Some(series) => from(&self.version) && in_series(v, series),
                None => from(&self.version) && compare(v, hi) != Ordering::Greater,
            },
            (None, None) => compare(v, &self.version) == Ordering::Equal,
        }
    }
}

/// `6.1.119` is in series `6.1`; `6.10.2` is not.
fn in_series(v: &str, series: &str) -> bool {
    v == series
        || v.strip_prefix(series)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Whether `version` of the product is affected, and the fix on its line:
/// an unaffected range covering it wins, then an affected one, then the
/// entry's default status. The fix is the first unaffected release of the
/// version's own stable series, else the first later unaffected release.
pub fn affects(list: &[Affected], product: &str, version: &str) -> Option<Vec<String>> {
    let mut hit = false;
    let mut fixes: Vec<String> = Vec::new();
    for a in list.iter().filter(|a| a.product == product) {
        if a.versions.iter().any(|r| !r.affected && r.covers(version)) {
            return None;
        }
        let affected = a.versions.iter().any(|r| r.affected && r.covers(version))
            || (a.default_affected && !a.versions.is_empty());
        if !affected {
            continue;
        }
        hit = true;
        let later = |r: &&Range| !r.affected && compare(&r.version, version) == Ordering::Greater;
        let same_series = a.versions.iter().filter(later).find(|r| {
            r.less_than_or_equal
                .as_deref()
                .and_then(|h| h.strip_suffix(".*"))
                .is_some_and(|s| in_series(version, s))
        });
        let fix = same_series.or_else(|| {
            a.versions
                .iter()
                .filter(later)
                .min_by(|x, y| compare(&x.version, &y.version))
        });
        if let Some(f) = fix
            && !fixes.contains(&f.version)
        {
            fixes.push(f.version.clone());
        }
        for r in a.versions.iter().filter(|r| r.affected) {
            if let Some(hi) = &r.less_than
                && r.covers(version)
                && !fixes.contains(hi)
            {
                fixes.push(hi.clone());
            }
        }
    }
    hit.then_some(fixes)
}

/// The program files the record's entries for `product` name.
pub fn program_files<'a>(list: &'a [Affected], product: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = list
        .iter()
        .filter(|a| a.product == product)
        .flat_map(|a| a.program_files.iter().map(String::as_str))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// True for a CVE JSON 5 record (or an array of them).
pub fn looks_like_cve5(value: &Value) -> bool {
    let first = match value {
        Value::Array(items) => items.first().unwrap_or(&Value::Null),
        other => other,
    };
    first.get("dataType").and_then(Value::as_str) == Some("CVE_RECORD")
        || (first.get("cveMetadata").is_some() && first.get("containers").is_some())
}

/// A record reduced to an advisory: `None` for a rejected record or one
/// that names no product of the catalogue.
pub fn advisory(record: &Value) -> Option<super::Advisory> {
    let meta = record.get("cveMetadata")?;
    if meta.get("state").and_then(Value::as_str) == Some("REJECTED") {
        return None;
    }
    let id = meta.get("cveId")?.as_str()?.to_string();
    let cna = record.get("containers")?.get("cna")?;
    let mut affected = Vec::new();
    for a in cna
        .get("affected")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let vendor = a.get("vendor").and_then(Value::as_str).unwrap_or("");
        let product = a.get("product").and_then(Value::as_str).unwrap_or("");
        let Some(product) = catalogue_product(vendor, product) else {
            continue;
        };
        let versions: Vec<Range> = a
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("versionType").and_then(Value::as_str) != Some("git"))
            .filter_map(|v| {
                Some(Range {
                    version: v.get("version")?.as_str()?.to_string(),
                    less_than: v
                        .get("lessThan")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    less_than_or_equal: v
                        .get("lessThanOrEqual")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    affected: v.get("status").and_then(Value::as_str) == Some("affected"),
                })
            })
            .collect();
        if versions.is_empty() {
            continue;
        }
        affected.push(Affected {
            product,
            default_affected: a.get("defaultStatus").and_then(Value::as_str) == Some("affected"),
            versions,
            program_files: a
                .get("programFiles")
                .and_then(Value::as_array)
                .map(|f| {
                    f.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    if affected.is_empty() {
        return None;
    }
    let summary = cna
        .get("descriptions")
        .and_then(Value::as_array)
        .and_then(|d| {
            d.iter().find(|x| {
                x.get("lang")
                    .and_then(Value::as_str)
                    .is_some_and(|l| l.starts_with("en"))
            })
        })
        .and_then(|d| d.get("value")?.as_str())
        .map(|d| {
            // Kernel records open with the subject line of the fix.
            let d = d.trim();
            d.strip_prefix("In the Linux kernel, the following vulnerability has been resolved:")
                .unwrap_or(d)
                .trim()
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    let (severity, cvss) = scored(record);
    Some(super::Advisory {
        id,
        source: "cve5".to_string(),
        aliases: Vec::new(),
        summary,
        severity,
        cvss,
        affects: super::Affects::Cve5(affected),
    })
}

/// The worst CVSS v3.x/v4 vector in the CNA's or an ADP's metrics.
fn scored(record: &Value) -> (Option<Severity>, Option<String>) {
    let containers = record.get("containers");
    let cna = containers.and_then(|c| c.get("cna")).into_iter();
    let adp = containers
        .and_then(|c| c.get("adp"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    cna.chain(adp)
        .flat_map(|c| {
            c.get("metrics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .flat_map(|m| ["cvssV4_0", "cvssV3_1", "cvssV3_0"].map(|k| m.get(k)))
        .flatten()
        .filter_map(|c| c.get("vectorString")?.as_str())
        .filter_map(|v| Some((super::cvss_base_score(v)?, v.to_string())))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or((None, None), |(score, v)| {
            (Some(Severity::from_cvss_score(score)), Some(v))
        })
}

/// The catalogue product a CNA's vendor and product name: by name
/// (`Linux` is `linux`), else by a CPE product of the catalogue
/// (`Linux kernel` is `linux_kernel`).
fn catalogue_product(vendor: &str, product: &str) -> Option<String> {
    let lower = product.trim().to_ascii_lowercase();
    if let Some(p) = catalog::product(&lower) {
        return Some(p.name.clone());
    }
    let cpe_product = lower.replace(' ', "_");
    let cpe_vendor = vendor.trim().to_ascii_lowercase().replace(' ', "_");
    catalog::products()
        .iter()
        .find(|p| {
            p.cpes.iter().any(|c| {
                let mut parts = c.rsplit(':');
                let prod = parts.next().unwrap_or("");
                let vend = parts.next().unwrap_or("");
                prod == cpe_product && (vend == cpe_vendor || cpe_vendor.is_empty())
            })
        })
        .map(|p| p.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CVE-2022-48626 as the kernel CNA published it (trimmed to its
    /// comparable entry): fixed in 4.9.301, 4.14.266, ..., 5.16.9, 5.17.
    fn moxart() -> Vec<Affected> {
        let record: Value = serde_json::from_str(r#"{"dataType": "CVE_RECORD", "dataVersion": "5.1",
          "cveMetadata": {"cveId": "CVE-2022-48626", "state": "PUBLISHED"},
          "containers": {"cna": {
            "descriptions": [{"lang": "en", "value": "In the Linux kernel, the following vulnerability has been resolved:\n\nmoxart: fix potential use-after-free on remove path\n\nIt was reported..."}],
            "affected": [
             {"product": "Linux", "vendor": "Linux", "defaultStatus": "unaffected", "programFiles": ["drivers/mmc/host/moxart-mmc.c"],
              "versions": [{"version": "1da177e4c3f4", "lessThan": "f5dc19316759", "status": "affected", "versionType": "git"}]},
             {"product": "Linux", "vendor": "Linux", "defaultStatus": "affected", "programFiles": ["drivers/mmc/host/moxart-mmc.c"],
              "versions": [
                {"version": "4.9.301", "lessThanOrEqual": "4.9.*", "status": "unaffected", "versionType": "custom"},
                {"version": "4.14.266", "lessThanOrEqual": "4.14.*", "status": "unaffected", "versionType": "custom"},
                {"version": "5.10.100", "lessThanOrEqual": "5.10.*", "status": "unaffected", "versionType": "custom"},
                {"version": "5.16.9", "lessThanOrEqual": "5.16.*", "status": "unaffected", "versionType": "custom"},
                {"version": "5.17", "lessThanOrEqual": "*", "status": "unaffected", "versionType": "original_commit_for_fix"}]}]}}}"#).unwrap();
        assert!(looks_like_cve5(&record));
        let a = advisory(&record).unwrap();
        assert_eq!(
            a.summary,
            "moxart: fix potential use-after-free on remove path"
        );
        match a.affects {
            crate::advisory::Affects::Cve5(list) => list,
            _ => unreachable!("a CVE 5 record"),
        }
    }

    #[test]
    fn stable_series_and_mainline_fixes() {
        let list = moxart();
        assert_eq!(list.len(), 1, "git ranges are not comparable");
        assert_eq!(
            affects(&list, "linux", "4.14.180"),
            Some(vec!["4.14.266".to_string()])
        );
        assert_eq!(affects(&list, "linux", "4.14.266"), None);
        assert_eq!(affects(&list, "linux", "4.14.300"), None);
        assert_eq!(
            affects(&list, "linux", "5.10.99"),
            Some(vec!["5.10.100".to_string()])
        );
        // A series with no stable fix: the mainline release that has it.
        assert_eq!(
            affects(&list, "linux", "5.4.10"),
            Some(vec!["5.10.100".to_string()])
        );
        assert_eq!(affects(&list, "linux", "6.1.0"), None);
        assert_eq!(affects(&list, "zlib", "1.0"), None);
        assert_eq!(
            program_files(&list, "linux"),
            ["drivers/mmc/host/moxart-mmc.c"]
        );
    }

    #[test]
    fn introduced_in_a_release() {
        // CVE-2024-1086's shape: affected from 3.15 below 6.8, else unaffected.
        let list = vec![Affected {
            product: "linux".into(),
            default_affected: false,
            versions: vec![Range {
                version: "3.15".into(),
                less_than: Some("6.8".into()),
                less_than_or_equal: None,
                affected: true,
            }],
            program_files: vec![],
        }];
        assert_eq!(affects(&list, "linux", "3.14"), None);
        assert_eq!(
            affects(&list, "linux", "6.1.119"),
            Some(vec!["6.8".to_string()])
        );
        assert_eq!(affects(&list, "linux", "6.8"), None);
    }
}
