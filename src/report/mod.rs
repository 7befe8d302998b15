//! Stage 4: render scan results. One file per output format.

pub mod json;
pub mod table;
