//! One target through the whole pipeline: unpack, identify, analyze.

use crate::advisory::Database;
use crate::analyze::{outdated, unused, vulnerable};
use crate::binary::ElfInfo;
use crate::model::{Component, Conflict, Finding};
use crate::unpack::limits::Limits;
use crate::unpack::tree::{FileClass, classify};
use crate::unpack::{self, Layer, Level, Note, Unpacked};
use crate::{identify, manifest};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The target as given on the command line.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    pub path: String,
    /// SHA-256 of the image file; absent for a directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub size: u64,
}

/// Everything `scan` reports for one target (the JSON contract).
#[derive(Debug, Serialize)]
pub struct ScanReport {
    pub target: TargetInfo,
    pub layers: Vec<Layer>,
    pub components: Vec<Component>,
    pub binaries: Vec<ElfInfo>,
    pub libraries: Vec<unused::Library>,
    pub findings: Vec<Finding>,
    /// Errors and bounds met; any of them makes the exit code 2.
    pub notes: Vec<Note>,
    /// Manifest and binaries disagreeing on a product's version (not errors).
    pub conflicts: Vec<Conflict>,
}

impl ScanReport {
    /// True when part of the target could not be read.
    pub fn incomplete(&self) -> bool {
        !self.notes.is_empty()
    }
}

/// Reads and unpacks `path`; `Err` only when the target itself cannot be read.
pub fn load(path: &Path, limits: &Limits) -> Result<(TargetInfo, Unpacked), String> {
    let display = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| format!("{display}: {e}"))?;
    if meta.is_dir() {
        let unpacked = unpack::directory::unpack_dir(path, &display, limits);
        let size = unpacked.files.iter().map(|f| f.data.len() as u64).sum();
        return Ok((
            TargetInfo {
                path: display,
                sha256: None,
                size,
            },
            unpacked,
        ));
    }
    let data = std::fs::read(path).map_err(|e| format!("{display}: {e}"))?;
    let target = TargetInfo {
        sha256: Some(hex::encode(Sha256::digest(&data))),
        size: data.len() as u64,
        path: display.clone(),
    };
    Ok((target, unpack::unpack_bytes(&display, data, limits)))
}

/// Scans one target end to end.
pub fn scan(path: &Path, db: &Database, limits: &Limits) -> Result<ScanReport, String> {
    let (target, unpacked) = load(path, limits)?;
    Ok(analyze(target, unpacked, db))
}

/// The stages after unpacking.
pub fn analyze(target: TargetInfo, unpacked: Unpacked, db: &Database) -> ScanReport {
    let mut notes = unpacked.notes.clone();
    let parsed: Vec<(usize, Result<ElfInfo, String>)> = unpacked
        .files
        .par_iter()
        .enumerate()
        .filter(|(_, f)| f.is_regular() && classify(&f.data) == FileClass::Elf)
        .map(|(i, f)| (i, ElfInfo::parse(&f.path, &f.data)))
        .collect();
    let mut elfs = Vec::new();
    for (index, result) in parsed {
        match result {
            Ok(info) => elfs.push((index, info)),
            Err(message) => notes.push(Note {
                level: Level::Error,
                path: unpacked.files[index].path.clone(),
                offset: None,
                message,
            }),
        }
    }
    let mut components = identify::components(&unpacked, &elfs);
    let (packaged, manifest_notes) = manifest::components(&unpacked);
    components.extend(packaged);
    notes.extend(manifest_notes);
    let conflicts = identify::conflicts(&components);
    if unpacked.layers.is_empty()
        && elfs.is_empty()
        && components.is_empty()
        && target.sha256.is_some()
    {
        notes.push(Note {
            level: Level::Error,
            path: target.path.clone(),
            offset: None,
            message: "not a firmware image: no known container, file system, executable or version string found".into(),
        });
    }
    let libraries = unused::libraries(&unpacked, &elfs);
    let mut findings = vulnerable::findings(&components, db);
    findings.extend(outdated::findings(&components, &db.eol, &outdated::today()));
    findings.extend(unused::findings(&libraries, &components));
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.kind.cmp(&b.kind))
            .then_with(|| a.component.cmp(&b.component))
            .then_with(|| a.advisory.cmp(&b.advisory))
            .then_with(|| a.path.cmp(&b.path))
    });
    let mut binaries: Vec<ElfInfo> = elfs.into_iter().map(|(_, e)| e).collect();
    binaries.sort_by(|a, b| a.path.cmp(&b.path));
    ScanReport {
        target,
        layers: unpacked.layers,
        components,
        binaries,
        libraries,
        findings,
        notes,
        conflicts,
    }
}
