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
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Config {
            path: Some(path.to_path_buf()),
            triage: TriageFile::from_entries(file.ignore, path)?,
        })
    }

    /// The file named on the command line, else [`DEFAULT_FILE`] when
    /// present, else an empty configuration.
    pub fn find(explicit: Option<&Path>) -> Result<Config, String> {
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
        assert!(e.contains("unknown field `ignores`"), "{e}");
        std::fs::write(
            &path,
            "[[ignore]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = \"2027-02-30\"\n",
        )
        .unwrap();
        let e = Config::load(&path).unwrap_err();
        assert!(e.contains("is not a YYYY-MM-DD date"), "{e}");
    }
}
