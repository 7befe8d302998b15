//! End-of-life data per release line (`advisories/eol.json`), from
//! endoflife.date and upstream support policies.

use crate::version;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EolData {
    pub products: BTreeMap<String, Product>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Product {
    pub cycles: Vec<Cycle>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cycle {
    pub cycle: String,
    /// ISO date, or `false` while supported.
    pub eol: serde_json::Value,
    #[serde(default)]
    pub latest: Option<String>,
}

impl Cycle {
    /// The end-of-life date, if one is set.
    pub fn eol_date(&self) -> Option<&str> {
        self.eol.as_str()
    }
}

impl EolData {
    pub fn parse(text: &str) -> Result<EolData, String> {
        serde_json::from_str(text).map_err(|e| format!("eol.json: {e}"))
    }

    /// The release line `version` of `product` belongs to: the longest cycle
    /// that is a prefix ending at a version-part boundary (`3.0` for `3.0.17`,
    /// `1.0.2` for `1.0.2k`, `5.10` for `5.10.176`).
    pub fn cycle(&self, product: &str, version: &str) -> Option<&Cycle> {
        self.products
            .get(product)?
            .cycles
            .iter()
            .filter(|c| {
                version.strip_prefix(c.cycle.as_str()).is_some_and(|rest| {
                    rest.is_empty()
                        || rest.starts_with('.')
                        || rest.starts_with(|ch: char| ch.is_ascii_alphabetic())
                })
            })
            .max_by_key(|c| c.cycle.len())
    }
}

/// True when `version` is older than the line's latest release.
pub fn behind(version: &str, latest: &str) -> bool {
    version::compare(version, latest) == Ordering::Less
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_release_line() {
        let data = EolData::parse(
            r#"{"products": {"openssl": {"cycles": [
                {"cycle": "1.0.2", "eol": "2019-12-31", "latest": "1.0.2u"},
                {"cycle": "3.0", "eol": false, "latest": "3.0.18"},
                {"cycle": "3.0.1", "eol": false}]}}}"#,
        )
        .unwrap();
        assert_eq!(data.cycle("openssl", "1.0.2k").unwrap().cycle, "1.0.2");
        assert_eq!(data.cycle("openssl", "3.0.17").unwrap().cycle, "3.0");
        assert_eq!(data.cycle("openssl", "3.0.1").unwrap().cycle, "3.0.1");
        assert!(data.cycle("openssl", "3.05").is_none());
        assert!(data.cycle("zlib", "1.2.11").is_none());
        assert!(behind("1.0.2k", "1.0.2u"));
        assert!(!behind("3.0.18", "3.0.18"));
    }
}
