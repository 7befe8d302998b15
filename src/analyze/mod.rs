//! Stage 3: turn inventory into findings.

pub mod outdated;
pub mod triage;
pub mod unused;
pub mod vulnerable;
