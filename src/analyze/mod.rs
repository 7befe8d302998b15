//! Stage 3: turn inventory into findings. One file per check: the
//! inventory checks (vulnerable, outdated, unused) and the posture checks
//! that read the tree (`posture.rs` runs them).

pub mod accounts;
pub mod crypt;
pub mod file_modes;
pub mod hardening;
pub mod kernel_config;
pub mod keys;
pub mod messaging;
pub mod outdated;
pub mod posture;
pub mod rootfs;
pub mod rules;
pub mod services;
pub mod shell;
pub mod triage;
pub mod unused;
pub mod verified_boot;
pub mod vulnerable;
