//! Stage 4: render scan results. One file per output format.

pub mod cyclonedx;
pub mod graph;
pub mod json;
pub mod sarif;
pub mod spdx;
pub mod table;

use crate::scan::ScanReport;

/// The scanned target's file name: what SBOMs call their subject.
pub(crate) fn subject_name(r: &ScanReport) -> String {
    let path = &r.target.path;
    path.rsplit('/').next().unwrap_or(path).to_string()
}
