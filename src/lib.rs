//! fwaudit: a supply-chain and patch-level auditor for device firmware.
//!
//! The pipeline runs one way: [`unpack`] → [`binary`] / [`identify`] /
//! [`manifest`] → [`analyze`] (with [`advisory`]) → [`report`]. [`scan`]
//! wires the stages together for one target.

pub mod advisory;
pub mod analyze;
pub mod binary;
pub mod config;
pub mod datadir;
pub mod date;
pub mod fleet;
pub mod identify;
pub mod inventory;
pub mod manifest;
pub mod model;
pub mod purl;
pub mod report;
pub mod scan;
pub mod serve;
pub mod unpack;
pub mod version;
pub mod vex;
pub mod worker;
