//! Stage 4: render scan results. One file per output format.

pub mod cyclonedx;
pub mod json;
pub mod sarif;
pub mod table;
