//! The imported advisory store: one JSON file under the data directory,
//! replaced atomically (write beside, fsync, rename) so that a failed or
//! interrupted import leaves the previous store in use.

use super::Advisory;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped when the file's meaning changes; an older fwaudit refuses a newer store.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    pub schema: u32,
    /// Per source (`osv`, `nvd`, `rustsec`): when and from where it was imported.
    pub sources: BTreeMap<String, SourceInfo>,
    pub advisories: Vec<Advisory>,
    /// End-of-life data fetched by `db update --source eol`, per product;
    /// it overrides the bundled data for those products.
    #[serde(default)]
    pub eol: super::eol::EolData,
    /// Validators of the last download per `"{source} {url}"`, for conditional requests.
    #[serde(default)]
    pub http_cache: BTreeMap<String, CacheEntry>,
}

/// `ETag` / `Last-Modified` of a downloaded URL.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CacheEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceInfo {
    /// UTC time of the last import, RFC 3339.
    pub updated: String,
    /// Files, directories or URLs it came from.
    pub origins: Vec<String>,
    pub count: usize,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("advisories.json")
}

/// What can go wrong with the store file, by kind.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: corrupt advisory store at line {}: {source}", .path.display(), .source.line())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: written by a newer fwaudit (schema {found}, this one reads up to {known})", .path.display())]
    NewerSchema {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("advisory store cannot be encoded: {0}")]
    Encode(serde_json::Error),
}

impl From<StoreError> for String {
    fn from(e: StoreError) -> Self {
        e.to_string()
    }
}

/// The store in `data_dir`, or `None` when nothing has been imported.
pub fn load(data_dir: &Path) -> Result<Option<Store>, StoreError> {
    let file = path(data_dir);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StoreError::Io { path: file, source }),
    };
    let store: Store = serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
        path: file.clone(),
        source,
    })?;
    if store.schema > SCHEMA {
        return Err(StoreError::NewerSchema {
            path: file,
            found: store.schema,
            known: SCHEMA,
        });
    }
    Ok(Some(store))
}

impl Store {
    /// Replaces everything `source` contributed with `advisories`.
    pub fn replace_source(
        &mut self,
        source: &str,
        advisories: Vec<Advisory>,
        origins: Vec<String>,
        now: String,
    ) {
        self.advisories.retain(|a| a.source != source);
        let count = advisories.len();
        self.advisories.extend(advisories);
        self.record_source(source, origins, now, count);
    }

    /// Merges an incremental download into `source`: records with the same
    /// id are replaced, new ones added, `removed` ids dropped. Returns how
    /// many stored records `removed` dropped.
    pub fn merge_source(
        &mut self,
        source: &str,
        changed: Vec<Advisory>,
        removed: &[String],
        origins: Vec<String>,
        now: String,
    ) -> usize {
        let removed: std::collections::HashSet<&str> = removed.iter().map(String::as_str).collect();
        let changed_ids: std::collections::HashSet<String> =
            changed.iter().map(|a| a.id.clone()).collect();
        let mut dropped = 0;
        self.advisories.retain(|a| {
            if a.source != source {
                return true;
            }
            if removed.contains(a.id.as_str()) {
                dropped += 1;
                return false;
            }
            !changed_ids.contains(&a.id)
        });
        self.advisories.extend(changed);
        let count = self
            .advisories
            .iter()
            .filter(|a| a.source == source)
            .count();
        self.record_source(source, origins, now, count);
        dropped
    }

    /// Notes when and from where `source` was updated, and its record count.
    pub fn record_source(&mut self, source: &str, origins: Vec<String>, now: String, count: usize) {
        self.sources.insert(
            source.to_string(),
            SourceInfo {
                updated: now,
                origins,
                count,
            },
        );
    }

    /// Writes the store beside the old one and renames it into place.
    pub fn save(&mut self, data_dir: &Path) -> Result<(), StoreError> {
        self.schema = SCHEMA;
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let file = path(data_dir);
        let tmp = data_dir.join(format!(".advisories.json.{}.tmp", std::process::id()));
        let text = serde_json::to_vec(self).map_err(StoreError::Encode)?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &file)
        };
        write().map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            StoreError::Io { path: file, source }
        })
    }
}

/// What `db status` reports.
#[derive(Debug, Serialize)]
pub struct Status {
    pub data_dir: String,
    pub bundled: usize,
    pub sources: BTreeMap<String, SourceInfo>,
    pub total: usize,
}

impl Status {
    /// Sources older than `max_age_days`, with their age in days.
    pub fn stale(&self, max_age_days: u64) -> Vec<(String, u64)> {
        stale_sources(&self.sources, &crate::date::today(), max_age_days)
    }
}

pub fn status(data_dir: &Path) -> Result<Status, String> {
    let bundled = super::bundled_advisories()?.len();
    let store = load(data_dir)?.unwrap_or_default();
    Ok(Status {
        data_dir: data_dir.display().to_string(),
        bundled,
        total: bundled + store.advisories.len(),
        sources: store.sources,
    })
}

/// Sources imported more than `max_age_days` before `today`, with their age
/// in days.
pub fn stale_sources(
    sources: &BTreeMap<String, SourceInfo>,
    today: &str,
    max_age_days: u64,
) -> Vec<(String, u64)> {
    sources
        .iter()
        .filter_map(|(name, info)| {
            let age = crate::date::days_between(&info.updated, today)?;
            (age > max_age_days as i64).then(|| (name.clone(), age as u64))
        })
        .collect()
}
