//! Image records and everything derived from them: storing a scan,
//! replacing its findings, triage decisions, and `fleet verify`, which
//! checks every derived entry against the records.

use super::buckets::{self, Header, Member};
use super::codec::{AdvisoryHit, decode_record, encode_record, severity_rank};
use super::{SledStore, TxResult, abort, from_json, key, split_key, storage, to_json, tx_error};
use crate::fleet::access::{AuditEntry, TriageAction, TriageDecision};
use crate::fleet::derived::{self, trend_after};
use crate::fleet::history::{apply_decision, evaluate};
use crate::fleet::record::{Change, DayCounts, Device, FindingRow, FindingState, ImageRecord};
use crate::model::{Finding, Severity};
use crate::scan::ScanReport;
use sled::Transactional;
use sled::Tree;
use sled::transaction::TransactionalTree;
use std::collections::{BTreeMap, BTreeSet};

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

pub(super) fn image(store: &SledStore, sha: &str) -> Result<Option<ImageRecord>, String> {
    match store.images.get(sha).map_err(storage)? {
        Some(bytes) => decode_record("image", &bytes).map(Some),
        None => Ok(None),
    }
}

pub(super) fn decisions(store: &SledStore, sha: &str) -> Result<Vec<TriageDecision>, String> {
    let mut out = Vec::new();
    for item in store.triage.scan_prefix(key(&[sha, ""])) {
        let (_, v) = item.map_err(storage)?;
        out.push(from_json("triage decision", &v)?);
    }
    Ok(out)
}

pub(super) fn store_image(
    store: &SledStore,
    report: &ScanReport,
    firmware_version: Option<&str>,
    now: &str,
) -> Result<Change, String> {
    let sha = report.target.sha256.clone().ok_or_else(|| {
        format!(
            "{}: only image files can be stored (a directory has no SHA-256)",
            report.target.path
        )
    })?;
    let old = image(store, &sha)?;
    let mut versions: Vec<String> = old
        .as_ref()
        .map(|o| o.firmware_versions.clone())
        .unwrap_or_default();
    if let Some(v) = firmware_version
        && !versions.iter().any(|x| x == v)
    {
        versions.push(v.to_string());
    }
    let mut stored_report = report.clone();
    // Advisory findings are re-drawn from the inventory on every rematch;
    // posture findings (a rule id) only come from the tree.
    stored_report.findings.retain(|f| f.rule.is_some());
    let previous = old.as_ref().map(|o| o.findings.as_slice()).unwrap_or(&[]);
    let (findings, change) = evaluate(previous, &report.findings, &decisions(store, &sha)?, now);
    let record = ImageRecord {
        report: stored_report,
        findings,
        scanned_at: now.to_string(),
        firmware_versions: versions,
        revision: 0,
    };
    write_image(store, &sha, old.as_ref(), &record, now, None)?;
    Ok(change)
}

pub(super) fn replace_findings(
    store: &SledStore,
    sha: &str,
    old: ImageRecord,
    findings: &[Finding],
    now: &str,
) -> Result<Change, String> {
    let (records, change) = evaluate(&old.findings, findings, &decisions(store, sha)?, now);
    let mut record = old.clone();
    record.findings = records;
    write_image(store, sha, Some(&old), &record, now, None)?;
    Ok(change)
}

/// Applies a triage decision to the finding it names, in one transaction
/// with the decision itself and its audit entry.
pub(super) fn triage(store: &SledStore, decision: &TriageDecision) -> Result<AuditEntry, String> {
    let sha = decision.image.as_str();
    let old = image(store, sha)?.ok_or_else(|| format!("image {sha} is not in the fleet store"))?;
    let mut record = old.clone();
    let Some(r) = record
        .findings
        .iter_mut()
        .find(|r| r.key == decision.finding)
    else {
        return Err(format!(
            "finding {:?} is not on image {sha}",
            decision.finding
        ));
    };
    if r.state == FindingState::Resolved {
        return Err(format!(
            "finding {:?} on image {sha} is resolved: there is nothing to triage",
            decision.finding
        ));
    }
    let from_state = r.state;
    let original = r.scanned.take().unwrap_or_else(|| r.finding.clone());
    let mut f = original.clone();
    apply_decision(&mut f, decision, &decision.at);
    r.scanned = (f != original).then_some(original);
    r.state = FindingState::of(f.state);
    r.finding = f;
    let entry = AuditEntry {
        seq: store.db.generate_id().map_err(storage)?,
        at: decision.at.clone(),
        by: decision.by.clone(),
        action: decision.action,
        image: sha.to_string(),
        finding: decision.finding.clone(),
        reason: decision.reason.clone(),
        expires: decision.expires.clone(),
        from_state: from_state.as_str().to_string(),
        to_state: r.state.as_str().to_string(),
    };
    let extra = Extra {
        decision: Some((
            key(&[sha, &decision.finding]),
            match decision.action {
                TriageAction::Reopen => None,
                _ => Some(to_json(decision)?),
            },
        )),
        audit: Some((entry.seq.to_be_bytes().to_vec(), to_json(&entry)?)),
    };
    write_image(store, sha, Some(&old), &record, &decision.at, Some(&extra))?;
    Ok(entry)
}

/// Writes that go with an image's in the same transaction (triage).
pub(super) struct Extra {
    /// `triage` key and the decision (None: remove it).
    decision: Option<(Vec<u8>, Option<Vec<u8>>)>,
    /// `audit` key and entry.
    audit: Option<(Vec<u8>, Vec<u8>)>,
}

/// Every index entry an image record implies.
pub(super) struct Derived {
    pub components: Entries,
    pub advisories: Entries,
    pub severities: Entries,
    pub findings: Entries,
}

pub(super) fn derived_entries(record: &ImageRecord) -> Result<Derived, String> {
    let (advisories, severities) = finding_entries(record);
    Ok(Derived {
        components: component_keys(record)
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect(),
        advisories,
        severities,
        findings: finding_rows(record)?,
    })
}

/// One transaction: the image record and every entry derived from it (and
/// what `extra` adds). Only entries that change are written: an old entry
/// the new record lacks is removed, a new or different one inserted.
pub(super) fn write_image(
    store: &SledStore,
    sha: &str,
    old: Option<&ImageRecord>,
    new: &ImageRecord,
    now: &str,
    extra: Option<&Extra>,
) -> Result<(), String> {
    let bytes = encode_record(new)?;
    let before = match old {
        Some(o) => derived_entries(o)?,
        None => Derived {
            components: Entries::new(),
            advisories: Entries::new(),
            severities: Entries::new(),
            findings: Entries::new(),
        },
    };
    let after = derived_entries(new)?;
    let versions = new.firmware_versions.clone();
    let version_list = versions.join("\n");
    let versions_changed = old.is_none_or(|o| o.firmware_versions != versions);
    let trees: [&Tree; 10] = [
        &store.images,
        &store.idx_component,
        &store.idx_advisory,
        &store.idx_severity,
        &store.idx_finding,
        &store.versions,
        &store.image_versions,
        &store.image_trend,
        &store.triage,
        &store.audit,
    ];
    trees
        .transaction(|t: &Vec<TransactionalTree>| {
            let [
                images,
                idx_component,
                idx_advisory,
                idx_severity,
                idx_finding,
                version_tree,
                image_versions,
                image_trend,
                triage,
                audit,
            ] = t.as_slice()
            else {
                return abort("fleet store: transaction trees".into());
            };
            images.insert(sha.as_bytes(), bytes.as_slice())?;
            if versions_changed {
                image_versions.insert(sha.as_bytes(), version_list.as_bytes())?;
            }
            sync(idx_component, &before.components, &after.components)?;
            sync(idx_advisory, &before.advisories, &after.advisories)?;
            sync(idx_severity, &before.severities, &after.severities)?;
            sync(idx_finding, &before.findings, &after.findings)?;
            for v in &versions {
                version_tree.insert(v.as_bytes(), sha.as_bytes())?;
            }
            let old_trend: Vec<DayCounts> = match image_trend.get(sha.as_bytes())? {
                Some(v) => match from_json("image trend", &v) {
                    Ok(t) => t,
                    Err(e) => return abort(e),
                },
                None => Vec::new(),
            };
            let trend = trend_after(&old_trend, new, now);
            if trend != old_trend {
                match to_json(&trend) {
                    Ok(v) => image_trend.insert(sha.as_bytes(), v)?,
                    Err(e) => return abort(e),
                };
            }
            if let Some(extra) = extra {
                match &extra.decision {
                    Some((k, Some(v))) => {
                        triage.insert(k.as_slice(), v.as_slice())?;
                    }
                    Some((k, None)) => {
                        triage.remove(k.as_slice())?;
                    }
                    None => {}
                }
                if let Some((k, v)) = &extra.audit {
                    audit.insert(k.as_slice(), v.as_slice())?;
                }
            }
            Ok(())
        })
        .map_err(tx_error)
}

/// Brings an index tree from `old` to `new` inside a transaction, writing
/// only what differs.
fn sync(tree: &TransactionalTree, old: &Entries, new: &Entries) -> TxResult<()> {
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        tree.remove(k.as_slice())?;
    }
    for (k, v) in new {
        if old.get(k) != Some(v) {
            tree.insert(k.as_slice(), v.as_slice())?;
        }
    }
    Ok(())
}

fn component_keys(record: &ImageRecord) -> BTreeMap<Vec<u8>, String> {
    let sha = record.report.target.sha256.as_deref().unwrap_or("");
    derived::components(record)
        .into_iter()
        .map(|((name, version), ecosystem)| (key(&[&name, &version, sha]), ecosystem))
        .collect()
}

/// `idx_finding` entries: every finding of the record, in any state.
fn finding_rows(record: &ImageRecord) -> Result<Entries, String> {
    let sha = record.report.target.sha256.as_deref().unwrap_or("");
    let mut out = Entries::new();
    for r in &record.findings {
        out.insert(key(&[sha, &r.key]), to_json(&FindingRow::of(sha, r))?);
    }
    Ok(out)
}

/// A `idx_severity` key: rank byte, then `sha256\0finding key`.
pub(crate) fn severity_key(severity: Severity, sha: &str, finding: &str) -> Vec<u8> {
    let mut k = vec![severity_rank(severity)];
    k.extend_from_slice(&key(&[sha, finding]));
    k
}

/// `idx_advisory` and `idx_severity` entries of a record's active
/// vulnerable findings.
fn finding_entries(record: &ImageRecord) -> (Entries, Entries) {
    let sha = record.report.target.sha256.as_deref().unwrap_or("");
    let mut advisories = BTreeMap::new();
    let mut severities = BTreeMap::new();
    for h in derived::patch_hits(record) {
        let hit = AdvisoryHit {
            advisory: h.advisory.to_string(),
            component: h.component.to_string(),
            severity: h.severity,
            fixed_versions: h.fixed_versions.to_vec(),
            upgrade: h.upgrade.map(str::to_string),
        };
        let value = hit.encode();
        for name in &h.names {
            advisories.insert(key(&[name, sha, h.key]), value.clone());
        }
        severities.insert(severity_key(h.severity, sha, h.key), value);
    }
    (advisories, severities)
}

fn compare_index(
    tree: &Tree,
    want: &Entries,
    name: &str,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    let mut have = BTreeSet::new();
    for item in tree.iter() {
        let (k, v) = item.map_err(storage)?;
        match want.get(k.as_ref()) {
            None => problems.push(format!("{name}: stale entry {:?}", split_key(&k))),
            Some(w) if w.as_slice() != v.as_ref() => {
                problems.push(format!("{name}: entry {:?} disagrees", split_key(&k)))
            }
            Some(_) => {}
        }
        have.insert(k.to_vec());
    }
    for k in want.keys().filter(|k| !have.contains(*k)) {
        problems.push(format!("{name}: missing entry {:?}", split_key(k)));
    }
    Ok(())
}

/// Checks that every index entry agrees with the primary data and that
/// nothing is missing: what a crash must never break.
pub(super) fn verify(store: &SledStore) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    let mut want = Derived {
        components: Entries::new(),
        advisories: Entries::new(),
        severities: Entries::new(),
        findings: Entries::new(),
    };
    for item in store.images.iter() {
        let (k, v) = item.map_err(storage)?;
        let sha = String::from_utf8_lossy(&k).into_owned();
        match decode_record::<ImageRecord>("image", &v) {
            Ok(record) => {
                let d = derived_entries(&record)?;
                want.components.extend(d.components);
                want.advisories.extend(d.advisories);
                want.severities.extend(d.severities);
                want.findings.extend(d.findings);
                if record.report.target.sha256.as_deref() != Some(sha.as_str()) {
                    problems.push(format!(
                        "image {sha}: record is for {:?}",
                        record.report.target.sha256
                    ));
                }
            }
            Err(e) => problems.push(format!("image {sha}: {e}")),
        }
    }
    for (tree, entries, name) in [
        (&store.idx_component, &want.components, "idx_component"),
        (&store.idx_advisory, &want.advisories, "idx_advisory"),
        (&store.idx_severity, &want.severities, "idx_severity"),
        (&store.idx_finding, &want.findings, "idx_finding"),
    ] {
        compare_index(tree, entries, name, &mut problems)?;
    }
    let mut by_image: BTreeMap<String, Vec<Member>> = BTreeMap::new();
    let mut tags: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for item in store.devices.iter() {
        let (_, v) = item.map_err(storage)?;
        match from_json::<Device>("device", &v) {
            Ok(d) => {
                if let Some(sha) = d.image {
                    for t in &d.tags {
                        *tags.entry(key(&[t, &sha])).or_default() += 1;
                    }
                    by_image.entry(sha).or_default().push(Member {
                        id: d.id,
                        model: d.model,
                        tags: d.tags,
                    });
                }
            }
            Err(e) => problems.push(e),
        }
    }
    let tags: Entries = tags
        .into_iter()
        .map(|(k, n)| (k, n.to_be_bytes().to_vec()))
        .collect();
    compare_index(&store.idx_tag, &tags, "idx_tag", &mut problems)?;
    // Which bucket a device belongs in depends on its table's shape:
    // take the stored shape, and expect every device where it says.
    let mut want_tables = BTreeMap::new();
    for (sha, mut members) in by_image {
        let stored = store
            .image_devices
            .get(buckets::header_key(&sha))
            .map_err(storage)?;
        let shape = match stored.as_deref().map(Header::decode) {
            Some(Ok(h)) => h,
            Some(Err(e)) => {
                problems.push(format!("image_devices: {sha}: {e}"));
                Header::for_count(members.len() as u64)
            }
            None => Header::for_count(members.len() as u64),
        };
        if members.len() as u64 > buckets::LOAD * shape.buckets() {
            problems.push(format!(
                "image_devices: {sha}: {} devices in {} buckets",
                members.len(),
                shape.buckets()
            ));
        }
        want_tables.extend(buckets::layout(&sha, shape, &mut members));
    }
    compare_index(
        &store.image_devices,
        &want_tables,
        "image_devices",
        &mut problems,
    )?;
    Ok(problems)
}
