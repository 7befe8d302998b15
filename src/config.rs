//! The project's configuration file, `.fwaudit.toml` in the working
//! directory (or `--config FILE`): what a team decided about its findings,
//! kept in the repository beside the firmware build. `scan`, `fleet
//! rematch` and `fleet nightly` read the same file, so that a stored
//! inventory is judged again exactly as `scan` judged it.
//!
//! One field per section; a new section is one more field here (unknown
//! sections are refused, so that a misspelt one is not silently ignored):
//!
//! ```toml
//! vex = ["vendor.vex.json"]   # VEX documents read with every scan
//! [[ignore]]                  # triage, see analyze::triage
//! id = "CVE-2023-4911"
//! component = "glibc"
//! reason = "Debian backported the fix in 2.36-9+deb12u3"
//! expires = "2027-01-01"
//! ```

use crate::analyze::triage::{Entry, TriageFile};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Read from the working directory when no `--config` is given.
pub const DEFAULT_FILE: &str = ".fwaudit.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    ignore: Vec<Entry>,
    #[serde(default)]
    vex: Vec<PathBuf>,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", .path.display())]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    /// An entry that does not hold together (a date that is not one).
    #[error("{0}")]
    Entry(String),
}

/// The configuration, checked.
#[derive(Debug, Default)]
pub struct Config {
    /// Where it was read from; `None` when no file was found.
    pub path: Option<PathBuf>,
    /// Accepted findings.
    pub triage: TriageFile,
}

impl Config {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: File = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        Ok(Config {
            path: Some(path.to_path_buf()),
            triage: TriageFile::from_entries(file.ignore, file.vex, path)
                .map_err(ConfigError::Entry)?,
        })
    }

    /// The file named on the command line, else [`DEFAULT_FILE`] when
    /// present, else an empty configuration.
    pub fn find(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match explicit {
            Some(path) => Config::load(path),
            None if Path::new(DEFAULT_FILE).is_file() => Config::load(Path::new(DEFAULT_FILE)),
            None => Ok(Config::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_triage_and_refuses_unknown_sections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[[ignore]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = \"2027-01-01\"\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.triage.ignore.len(), 1);
        std::fs::write(&path, "[[ignores]]\nid = \"CVE-1\"\n").unwrap();
        let e = Config::load(&path).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }));
        assert!(e.to_string().contains("unknown field `ignores`"), "{e}");
        std::fs::write(
            &path,
            "[[ignore]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = \"2027-02-30\"\n",
        )
        .unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(e.contains("is not a YYYY-MM-DD date"), "{e}");
    }
}
