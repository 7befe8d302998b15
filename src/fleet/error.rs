//! What can go wrong opening the fleet store, by kind: a caller (the CLI,
//! the service, a nightly wrapper) tells "busy, try again" from "broken"
//! by matching [`FleetError`], never by reading the message.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// Another process holds the store (its lock file is locked);
    /// `holder` says who when `fwaudit serve` left its mark.
    #[error("fleet store busy: another fwaudit is using {} (try again when it finishes){}", .dir.display(), .holder.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    Busy {
        dir: PathBuf,
        holder: Option<String>,
    },
    /// The store was written by a newer fwaudit.
    #[error("{}: fleet store written by a newer fwaudit (schema {found}, this one knows up to {known})", .dir.display())]
    NewerSchema {
        dir: PathBuf,
        found: u32,
        known: u32,
    },
    /// The store's lock file cannot be opened.
    #[error("{}: cannot lock the fleet store: {source}", .path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Anything else the store reports (sled's errors, damaged records).
    #[error("{0}")]
    Store(String),
}

impl From<String> for FleetError {
    fn from(message: String) -> Self {
        FleetError::Store(message)
    }
}

impl From<FleetError> for String {
    fn from(e: FleetError) -> Self {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Fleet;

    /// A second open of a store that is open is "busy" by kind; once the
    /// first is closed, the store opens again.
    #[test]
    fn a_store_in_use_is_busy_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let first = Fleet::open(dir.path()).unwrap();
        match Fleet::open_to_read(dir.path()) {
            Err(FleetError::Busy { dir: busy, holder }) => {
                assert_eq!(busy, dir.path().join("fleet"));
                assert_eq!(holder, None);
            }
            Err(e) => panic!("not busy: {e}"),
            Ok(_) => panic!("opened twice"),
        }
        drop(first);
        // Says why, if it fails: it failed once under a loaded CI run.
        if let Err(e) = Fleet::open(dir.path()) {
            panic!("closed store does not open again: {e:?}");
        }
    }
}
