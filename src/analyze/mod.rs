//! Stage 3: turn inventory into findings.

pub mod unused;
pub mod vulnerable;
