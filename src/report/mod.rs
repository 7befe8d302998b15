//! Stage 4: render scan results. One file per output format.

pub mod cyclonedx;
pub mod graph;
pub mod json;
pub mod sarif;
pub mod spdx;
pub mod table;
