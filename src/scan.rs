//! One target through the whole pipeline: unpack, identify, analyze.

use crate::advisory::Database;
use crate::analyze::rules::Check;
use crate::analyze::triage::TriageFile;
use crate::analyze::{outdated, posture, unused, vulnerable};
use crate::binary::ElfInfo;
use crate::model::{Component, Conflict, Finding};
use crate::unpack::limits::Limits;
use crate::unpack::tree::{EntryKind, FileClass, FsPath, Namespace, VirtualFile, classify};
use crate::unpack::{self, Filesystem, Layer, Level, Note, Unpacked};
use crate::{identify, manifest};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// What a target was taken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// A firmware image (any file that is not a known manifest).
    Image,
    /// A directory holding an unpacked root file system.
    Rootfs,
    /// A source project directory (lockfiles, `Cargo.toml`, ...).
    Project,
    /// A single manifest file (`Cargo.lock`, `package-lock.json`, ...).
    Manifest,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Image => "image",
            TargetKind::Rootfs => "rootfs",
            TargetKind::Project => "project",
            TargetKind::Manifest => "manifest",
        }
    }
}

/// The target as given on the command line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetInfo {
    pub path: String,
    pub kind: TargetKind,
    /// SHA-256 of the image file; absent for a directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub size: u64,
    /// The distribution the target's root file system is, when it says
    /// (`/etc/os-release` and the release files beside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<crate::model::Distro>,
}

/// Everything `scan` reports for one target (the JSON contract).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanReport {
    pub target: TargetInfo,
    pub layers: Vec<Layer>,
    pub components: Vec<Component>,
    pub binaries: Vec<ElfInfo>,
    pub libraries: Vec<unused::Library>,
    pub findings: Vec<Finding>,
    /// How many of the programs lack each protection (`binaries[].hardening` per file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardening: Option<crate::analyze::hardening::Summary>,
    /// Keys and certificates found (CycloneDX's cryptographic assets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crypto: Vec<crate::analyze::keys::CryptoAsset>,
    /// Errors and bounds met; any of them makes the exit code 2.
    pub notes: Vec<Note>,
    /// Manifest and binaries disagreeing on a product's version (not errors).
    pub conflicts: Vec<Conflict>,
}

impl ScanReport {
    /// The findings the posture checks drew from the tree (they have a rule
    /// id); a stored inventory keeps them, since re-judging it against a new
    /// advisory database cannot draw them again without the tree.
    pub fn posture_findings(&self) -> Vec<Finding> {
        self.findings
            .iter()
            .filter(|f| f.rule.is_some())
            .cloned()
            .collect()
    }

    /// True when part of the target could not be read (a `note` is not a problem).
    pub fn incomplete(&self) -> bool {
        self.notes.iter().any(|n| n.level != Level::Note)
    }
}

/// Reads and unpacks `path`; `Err` only when the target itself cannot be read.
pub fn load(path: &Path, limits: &Limits) -> Result<(TargetInfo, Unpacked), String> {
    load_with(path, limits, true)
}

/// [`load`] without the target's SHA-256 (`sha256: None`), for `unpack`,
/// which never shows it: hashing the image runs before unpacking, on one core.
pub fn load_unhashed(path: &Path, limits: &Limits) -> Result<(TargetInfo, Unpacked), String> {
    load_with(path, limits, false)
}

fn load_with(path: &Path, limits: &Limits, hash: bool) -> Result<(TargetInfo, Unpacked), String> {
    let display = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| format!("{display}: {e}"))?;
    if meta.is_dir() {
        let unpacked = unpack::directory::unpack_dir(path, &display, limits);
        let size = unpacked.files.iter().map(|f| f.data.len() as u64).sum();
        return Ok((
            TargetInfo {
                kind: dir_kind(&unpacked),
                path: display,
                sha256: None,
                size,
                distro: None,
            },
            unpacked,
        ));
    }
    let data = std::fs::read(path).map_err(|e| format!("{display}: {e}"))?;
    let name = path
        .file_name()
        .map(|n| format!("/{}", n.to_string_lossy()))
        .unwrap_or_default();
    let manifest = manifest::is_manifest(&name);
    let target = TargetInfo {
        kind: if manifest {
            TargetKind::Manifest
        } else {
            TargetKind::Image
        },
        sha256: hash.then(|| hex::encode(Sha256::digest(&data))),
        size: data.len() as u64,
        path: display.clone(),
        distro: None,
    };
    if manifest && manifest::wheel::is_wheel(&name) {
        return Ok((target, wheel(&display, &name, data, limits)));
    }
    if manifest {
        return Ok((target, single_file(&display, &name, data)));
    }
    Ok((target, unpack::unpack_bytes(&display, data, limits)))
}

/// A manifest given on its own: a one-file tree, never carved as an image
/// (a lockfile's text must not be taken for containers or version banners).
fn single_file(display: &str, fs_path: &str, data: Vec<u8>) -> Unpacked {
    let mut namespace = Namespace::default();
    namespace.insert(fs_path, 0);
    Unpacked {
        files: vec![VirtualFile {
            path: display.to_string(),
            fs: Some(FsPath {
                fs: 0,
                path: fs_path.to_string(),
            }),
            kind: EntryKind::File,
            data,
            scan: Vec::new(),
            escape: None,
            meta: None,
        }],
        filesystems: vec![Filesystem {
            root: display.to_string(),
            namespace,
        }],
        ..Unpacked::default()
    }
}

/// A wheel given on its own is a manifest (its `METADATA` names the
/// distribution) and a zip of the native libraries it vendors: it is unpacked
/// like an image, and the wheel itself keeps its file name so that the wheel
/// reader finds it.
fn wheel(display: &str, fs_path: &str, data: Vec<u8>, limits: &Limits) -> Unpacked {
    let mut unpacked = unpack::unpack_bytes(display, data, limits);
    let mut namespace = Namespace::default();
    namespace.insert(fs_path, 0);
    let fs = unpacked.filesystems.len();
    unpacked.filesystems.push(Filesystem {
        root: display.to_string(),
        namespace,
    });
    if let Some(root) = unpacked.files.first_mut() {
        root.fs = Some(FsPath {
            fs,
            path: fs_path.to_string(),
        });
    }
    unpacked
}

/// A directory with `/etc` beside `/usr`, `/bin` or `/lib`, or with a
/// package database, is a root file system; any other is a project.
fn dir_kind(unpacked: &Unpacked) -> TargetKind {
    let has = |p: &str| {
        unpacked
            .files
            .iter()
            .any(|f| f.fs.as_ref().is_some_and(|fs| fs.path == p))
    };
    let system = has("/etc") && (has("/usr") || has("/bin") || has("/lib"));
    let database = ["/var/lib/dpkg", "/usr/lib/opkg", "/lib/apk", "/var/lib/rpm"]
        .into_iter()
        .any(has);
    if system || database {
        TargetKind::Rootfs
    } else {
        TargetKind::Project
    }
}

/// How to scan: bounds, accepted findings, the date end-of-life is judged
/// on, and which checks run.
#[derive(Debug, Default)]
pub struct Options {
    pub limits: Limits,
    pub triage: TriageFile,
    /// `YYYY-MM-DD`.
    pub today: String,
    /// Vendor statements about what its builds are (not) affected by.
    pub vex: crate::vex::VexSet,
    /// Checks to run, the instant certificates are judged at, and whether
    /// a matched default password may be printed.
    pub posture: posture::Options,
}

/// Scans one target end to end.
pub fn scan(path: &Path, db: &Database, options: &Options) -> Result<ScanReport, String> {
    let (target, unpacked) = load(path, &options.limits)?;
    let mut extra = Vec::new();
    if target.kind == TargetKind::Project && path.join("Cargo.toml").is_file() {
        extra.push(manifest::cargo_project::components(path, &target.path));
    }
    Ok(analyze_with(target, unpacked, extra, db, options))
}

/// Findings from an inventory: what the advisory database, end-of-life
/// data, the link graph and triage say about it, with the posture findings
/// the tree gave (`posture`, which do not depend on the database). A stored
/// inventory is re-judged with this alone, without unpacking again.
pub fn findings(
    components: &[Component],
    libraries: &[unused::Library],
    posture: &[Finding],
    db: &Database,
    options: &Options,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if options.posture.checks.has(Check::Components) {
        findings.extend(vulnerable::findings(components, db, &options.vex));
        findings.extend(outdated::findings(components, &db.eol, &options.today));
        findings.extend(unused::findings(libraries, components));
    }
    findings.extend(posture.iter().cloned().map(|mut f| {
        // Triage is applied afresh below.
        if f.suppressed.take().is_some() {
            f.state = crate::model::FindingState::Active;
        }
        f
    }));
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.kind.cmp(&b.kind))
            .then_with(|| a.component.cmp(&b.component))
            .then_with(|| a.advisory.cmp(&b.advisory))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.summary.cmp(&b.summary))
    });
    options.triage.apply(&mut findings, &options.today);
    findings
}

/// The stages after unpacking.
pub fn analyze(
    target: TargetInfo,
    unpacked: Unpacked,
    db: &Database,
    options: &Options,
) -> ScanReport {
    analyze_with(target, unpacked, Vec::new(), db, options)
}

/// [`analyze`], with components read outside the tree (`cargo metadata` on
/// a project directory), which replace those of that project's `Cargo.lock`.
fn analyze_with(
    target: TargetInfo,
    unpacked: Unpacked,
    extra: Vec<Result<Vec<Component>, String>>,
    db: &Database,
    options: &Options,
) -> ScanReport {
    let mut target = target;
    target.distro = manifest::distros(&unpacked).into_iter().flatten().next();
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
    let (mut packaged, manifest_notes) = manifest::components(&unpacked);
    notes.extend(manifest_notes);
    for result in extra {
        match result {
            Ok(resolved) => {
                let lock = format!("{}/Cargo.lock", target.path.trim_end_matches('/'));
                packaged.retain(|c| c.sources.first().is_none_or(|s| s.path != lock));
                packaged.extend(resolved);
            }
            Err(message) => notes.push(Note {
                level: Level::Error,
                path: format!("{}/Cargo.toml", target.path.trim_end_matches('/')),
                offset: None,
                message,
            }),
        }
    }
    components.extend(packaged);
    manifest::attribute(&mut components, &unpacked);
    let conflicts = identify::conflicts(&components);
    let mut components = crate::inventory::merge(components, &unpacked);
    manifest::kernel_config::attach(&mut components, &unpacked);
    if unpacked.layers.is_empty()
        && elfs.is_empty()
        && components.is_empty()
        && target.sha256.is_some()
    {
        notes.push(Note {
            level: Level::Note,
            path: target.path.clone(),
            offset: None,
            message: format!(
                "nothing recognised: tried every container and file-system format, ELF and PE \
                 parsing, package databases and lockfiles, and {} version signatures",
                identify::signatures::SIGNATURES.len()
            ),
        });
    }
    let mut libraries = unused::libraries(&unpacked, &elfs);
    let owners = manifest::owners(&components, &unpacked);
    for lib in &mut libraries {
        lib.owner = components
            .iter()
            .find(|c| c.sources.iter().any(|s| s.path == lib.path))
            .or_else(|| owners.get(&lib.path).map(|&i| &components[i]))
            .map(|c| c.purl.clone());
    }
    let posture = posture::run(&unpacked, &mut elfs, &options.posture);
    let findings = findings(&components, &libraries, &posture.findings, db, options);
    let mut binaries: Vec<ElfInfo> = elfs.into_iter().map(|(_, e)| e).collect();
    binaries.sort_by(|a, b| a.path.cmp(&b.path));
    ScanReport {
        target,
        layers: unpacked.layers,
        components,
        binaries,
        libraries,
        findings,
        hardening: posture.hardening,
        crypto: posture.crypto,
        notes,
        conflicts,
    }
}
