//! Image records and every row derived from them: storing a scan,
//! replacing findings (one image, or a rematch's batch in one
//! transaction), triage, and `fleet verify`, which re-derives every row
//! from the records and compares.

use super::{E, PgStore, R, retrying};
use crate::fleet::access::{AuditEntry, TriageAction, TriageDecision};
use crate::fleet::derived::{self, severity_rank, trend_after};
use crate::fleet::history::{apply_decision, evaluate};
use crate::fleet::record::{
    Change, DayCounts, FindingRecord, FindingRow, FindingState, ImageRecord,
};
use crate::fleet::sled_store::{decode_record, encode_record};
use crate::model::Finding;
use crate::scan::ScanReport;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tokio_postgres::{GenericClient, Transaction};

/// The key of an image's transaction-scoped advisory lock.
fn lock_key(sha: &str) -> i64 {
    crate::fleet::sled_store::buckets::hash(sha) as i64
}

/// Takes the write locks of `shas` (in sorted order, so that two batches
/// never wait on each other in a cycle).
async fn lock_images(tx: &Transaction<'_>, shas: &[&str]) -> R<()> {
    let mut keys: Vec<i64> = shas.iter().map(|s| lock_key(s)).collect();
    keys.sort_unstable();
    keys.dedup();
    tx.execute(
        "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k",
        &[&keys],
    )
    .await?;
    Ok(())
}

fn decode(sha: &str, bytes: &[u8], rev: i64) -> R<ImageRecord> {
    let mut record: ImageRecord = decode_record(&format!("image {sha}"), bytes).map_err(E::Msg)?;
    record.revision = rev.max(0) as u64;
    Ok(record)
}

pub(super) async fn image(c: &impl GenericClient, sha: &str) -> R<Option<ImageRecord>> {
    match c
        .query_opt("SELECT record, rev FROM images WHERE sha = $1", &[&sha])
        .await?
    {
        Some(row) => Ok(Some(decode(sha, row.get(0), row.get(1))?)),
        None => Ok(None),
    }
}

/// An image's record and trend as stored, read under its lock.
async fn stored(tx: &Transaction<'_>, sha: &str) -> R<Option<(ImageRecord, Vec<DayCounts>)>> {
    match tx
        .query_opt(
            "SELECT record, rev, trend FROM images WHERE sha = $1",
            &[&sha],
        )
        .await?
    {
        Some(row) => {
            let record = decode(sha, row.get(0), row.get(1))?;
            let trend = parse_trend(sha, row.get(2))?;
            Ok(Some((record, trend)))
        }
        None => Ok(None),
    }
}

fn parse_trend(sha: &str, text: &str) -> R<Vec<DayCounts>> {
    serde_json::from_str(text)
        .map_err(|e| E::Msg(format!("fleet store: corrupt image trend of {sha}: {e}")))
}

pub(super) async fn decisions(c: &impl GenericClient, sha: &str) -> R<Vec<TriageDecision>> {
    let rows = c
        .query(
            "SELECT decision FROM triage WHERE image = $1 ORDER BY finding",
            &[&sha],
        )
        .await?;
    rows.iter()
        .map(|r| {
            serde_json::from_str(r.get(0))
                .map_err(|e| E::Msg(format!("fleet store: corrupt triage decision: {e}")))
        })
        .collect()
}

pub(super) async fn store_image(
    tx: &Transaction<'_>,
    report: &ScanReport,
    firmware_version: Option<&str>,
    now: &str,
) -> R<Change> {
    let sha = report.target.sha256.clone().ok_or_else(|| {
        E::Msg(format!(
            "{}: only image files can be stored (a directory has no SHA-256)",
            report.target.path
        ))
    })?;
    lock_images(tx, &[&sha]).await?;
    let old = stored(tx, &sha).await?;
    let mut versions: Vec<String> = old
        .as_ref()
        .map(|(o, _)| o.firmware_versions.clone())
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
    let previous = old
        .as_ref()
        .map(|(o, _)| o.findings.as_slice())
        .unwrap_or(&[]);
    let (findings, change) = evaluate(previous, &report.findings, &decisions(tx, &sha).await?, now);
    let record = ImageRecord {
        report: stored_report,
        findings,
        scanned_at: now.to_string(),
        firmware_versions: versions,
        revision: 0,
    };
    let (old_record, old_trend) = match old {
        Some((r, t)) => (Some(r), t),
        None => (None, Vec::new()),
    };
    write_images(
        tx,
        vec![Write {
            sha,
            old: old_record,
            trend: trend_after(&old_trend, &record, now),
            new: record,
        }],
    )
    .await?;
    Ok(change)
}

/// Writes a rematch's batch: each image's fresh findings merged into its
/// history as it stands under the lock (a record triaged since it was
/// loaded is read again, so the decision is kept).
pub(super) async fn replace_batch(
    tx: &Transaction<'_>,
    batch: &[(String, ImageRecord, Vec<Finding>)],
    now: &str,
) -> R<Vec<(String, Change)>> {
    let shas: Vec<&str> = batch.iter().map(|(s, _, _)| s.as_str()).collect();
    lock_images(tx, &shas).await?;
    let rows = tx
        .query(
            "SELECT sha, rev, trend FROM images WHERE sha = ANY($1)",
            &[&shas],
        )
        .await?;
    let mut current: HashMap<String, (i64, Vec<DayCounts>)> = HashMap::new();
    for row in &rows {
        let sha: String = row.get(0);
        let trend = parse_trend(&sha, row.get(2))?;
        current.insert(sha, (row.get(1), trend));
    }
    let mut decided: HashMap<String, Vec<TriageDecision>> = HashMap::new();
    for row in tx
        .query(
            "SELECT image, decision FROM triage WHERE image = ANY($1) ORDER BY image, finding",
            &[&shas],
        )
        .await?
    {
        let d: TriageDecision = serde_json::from_str(row.get(1))
            .map_err(|e| E::Msg(format!("fleet store: corrupt triage decision: {e}")))?;
        decided.entry(row.get(0)).or_default().push(d);
    }
    let mut writes = Vec::with_capacity(batch.len());
    let mut changes = Vec::with_capacity(batch.len());
    for (sha, loaded, findings) in batch {
        let Some((rev, old_trend)) = current.remove(sha) else {
            // Gone since it was listed: nothing to re-judge.
            continue;
        };
        let old = if rev.max(0) as u64 == loaded.revision {
            loaded.clone()
        } else {
            match image(tx, sha).await? {
                Some(r) => r,
                None => continue,
            }
        };
        let no_decisions = Vec::new();
        let (records, change) = evaluate(
            &old.findings,
            findings,
            decided.get(sha).unwrap_or(&no_decisions),
            now,
        );
        let mut record = old.clone();
        record.findings = records;
        writes.push(Write {
            sha: sha.clone(),
            trend: trend_after(&old_trend, &record, now),
            old: Some(old),
            new: record,
        });
        changes.push((sha.clone(), change));
    }
    write_images(tx, writes).await?;
    Ok(changes)
}

/// Applies a triage decision to the finding it names, with the decision
/// and its audit entry, in the caller's transaction.
pub(super) async fn triage(tx: &Transaction<'_>, decision: &TriageDecision) -> R<AuditEntry> {
    let sha = decision.image.as_str();
    lock_images(tx, &[sha]).await?;
    let (old, old_trend) = stored(tx, sha)
        .await?
        .ok_or_else(|| E::Msg(format!("image {sha} is not in the fleet store")))?;
    let mut record = old.clone();
    let Some(r) = record
        .findings
        .iter_mut()
        .find(|r| r.key == decision.finding)
    else {
        return Err(E::Msg(format!(
            "finding {:?} is not on image {sha}",
            decision.finding
        )));
    };
    if r.state == FindingState::Resolved {
        return Err(E::Msg(format!(
            "finding {:?} on image {sha} is resolved: there is nothing to triage",
            decision.finding
        )));
    }
    let from_state = r.state;
    let original = r.scanned.take().unwrap_or_else(|| r.finding.clone());
    let mut f = original.clone();
    apply_decision(&mut f, decision, &decision.at);
    r.scanned = (f != original).then_some(original);
    r.state = FindingState::of(f.state);
    r.finding = f;
    let seq: i64 = tx
        .query_one(
            "SELECT nextval(pg_get_serial_sequence('audit', 'seq'))",
            &[],
        )
        .await?
        .get(0);
    let entry = AuditEntry {
        seq: seq.max(0) as u64,
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
    match decision.action {
        TriageAction::Reopen => {
            tx.execute(
                "DELETE FROM triage WHERE image = $1 AND finding = $2",
                &[&sha, &decision.finding],
            )
            .await?;
        }
        _ => {
            tx.execute(
                "INSERT INTO triage (image, finding, decision) VALUES ($1, $2, $3) \
                 ON CONFLICT (image, finding) DO UPDATE SET decision = excluded.decision",
                &[&sha, &decision.finding, &json(decision)?],
            )
            .await?;
        }
    }
    tx.execute(
        "INSERT INTO audit (seq, entry) VALUES ($1, $2)",
        &[&seq, &json(&entry)?],
    )
    .await?;
    write_images(
        tx,
        vec![Write {
            sha: sha.to_string(),
            trend: trend_after(&old_trend, &record, &decision.at),
            old: Some(old),
            new: record,
        }],
    )
    .await?;
    Ok(entry)
}

/// Writes a copied record as it is, with its trend (`fleet migrate`).
pub(super) async fn load_image(
    tx: &Transaction<'_>,
    sha: &str,
    record: &ImageRecord,
    trend: &[DayCounts],
) -> R<()> {
    lock_images(tx, &[sha]).await?;
    let old = stored(tx, sha).await?.map(|(r, _)| r);
    write_images(
        tx,
        vec![Write {
            sha: sha.to_string(),
            old,
            new: record.clone(),
            trend: trend.to_vec(),
        }],
    )
    .await
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> R<String> {
    serde_json::to_string(value).map_err(|e| E::Msg(e.to_string()))
}

/// One image write: the record before (None: new) and after.
struct Write {
    sha: String,
    old: Option<ImageRecord>,
    new: ImageRecord,
    trend: Vec<DayCounts>,
}

/// A finding as the `findings` table keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FindingCols {
    pub row: FindingRow,
    pub fixed_versions: String,
    pub first_fixed: Option<String>,
    pub upgrade: Option<String>,
}

impl FindingCols {
    fn of(sha: &str, r: &FindingRecord) -> R<FindingCols> {
        let f = &r.finding;
        Ok(FindingCols {
            row: FindingRow::of(sha, r),
            fixed_versions: json(&f.fixed_versions)?,
            first_fixed: f.fixed_versions.first().cloned(),
            upgrade: f.upgrade.clone(),
        })
    }
}

/// Every row an image record implies: components, findings, and the
/// advisory names of its findings.
#[derive(Default)]
pub(super) struct Derived {
    /// (name, version) -> ecosystem
    pub components: BTreeMap<(String, String), String>,
    /// key -> columns
    pub findings: BTreeMap<String, FindingCols>,
    /// key -> the advisory names it is found by
    pub names: BTreeMap<String, BTreeSet<String>>,
}

pub(super) fn derive(sha: &str, record: &ImageRecord) -> R<Derived> {
    let mut d = Derived {
        components: derived::components(record),
        ..Derived::default()
    };
    for r in &record.findings {
        d.findings.insert(r.key.clone(), FindingCols::of(sha, r)?);
        if let Some(id) = &r.finding.advisory {
            let names = d.names.entry(r.key.clone()).or_default();
            for name in std::iter::once(id).chain(r.finding.aliases.iter()) {
                names.insert(name.clone());
            }
        }
    }
    Ok(d)
}

/// Rows to write, gathered over a batch of images.
#[derive(Default)]
struct Rows {
    // images
    shas: Vec<String>,
    records: Vec<Vec<u8>>,
    scanned: Vec<String>,
    versions: Vec<String>,
    trends: Vec<String>,
    // firmware_versions: version -> image (a later image wins)
    version_map: BTreeMap<String, String>,
    // components
    del_c: (Vec<String>, Vec<String>, Vec<String>),
    put_c: (Vec<String>, Vec<String>, Vec<String>, Vec<String>),
    // findings
    del_f: (Vec<String>, Vec<String>),
    put_f: Vec<FindingCols>,
    // finding_names: rewritten for every finding put
    put_n: (Vec<String>, Vec<String>, Vec<String>),
}

async fn write_images(tx: &Transaction<'_>, writes: Vec<Write>) -> R<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut rows = Rows::default();
    for w in &writes {
        let before = match &w.old {
            Some(o) => derive(&w.sha, o)?,
            None => Derived::default(),
        };
        let after = derive(&w.sha, &w.new)?;
        rows.shas.push(w.sha.clone());
        rows.records.push(encode_record(&w.new).map_err(E::Msg)?);
        rows.scanned.push(w.new.scanned_at.clone());
        rows.versions.push(w.new.firmware_versions.join("\n"));
        rows.trends.push(json(&w.trend)?);
        for v in &w.new.firmware_versions {
            rows.version_map.insert(v.clone(), w.sha.clone());
        }
        for (name, version) in before.components.keys() {
            if !after
                .components
                .contains_key(&(name.clone(), version.clone()))
            {
                rows.del_c.0.push(w.sha.clone());
                rows.del_c.1.push(name.clone());
                rows.del_c.2.push(version.clone());
            }
        }
        for ((name, version), eco) in &after.components {
            if before.components.get(&(name.clone(), version.clone())) != Some(eco) {
                rows.put_c.0.push(w.sha.clone());
                rows.put_c.1.push(name.clone());
                rows.put_c.2.push(version.clone());
                rows.put_c.3.push(eco.clone());
            }
        }
        for key in before.findings.keys() {
            if !after.findings.contains_key(key) {
                rows.del_f.0.push(w.sha.clone());
                rows.del_f.1.push(key.clone());
            }
        }
        for (key, cols) in &after.findings {
            let old = before.findings.get(key);
            let new_names = after.names.get(key);
            let names_same = old.is_some() && before.names.get(key) == new_names;
            if old == Some(cols) && names_same {
                continue;
            }
            rows.put_f.push(cols.clone());
            if names_same {
                continue;
            }
            // A finding whose names changed is written again whole (its
            // old names go with the row's delete, before the insert).
            rows.del_f.0.push(w.sha.clone());
            rows.del_f.1.push(key.clone());
            for n in new_names.into_iter().flatten() {
                rows.put_n.0.push(n.clone());
                rows.put_n.1.push(w.sha.clone());
                rows.put_n.2.push(key.clone());
            }
        }
    }
    tx.execute(
        "INSERT INTO images (sha, record, scanned_at, firmware_versions, trend) \
         SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[]) \
         ON CONFLICT (sha) DO UPDATE SET record = excluded.record, scanned_at = excluded.scanned_at, \
           firmware_versions = excluded.firmware_versions, trend = excluded.trend, rev = images.rev + 1",
        &[&rows.shas, &rows.records, &rows.scanned, &rows.versions, &rows.trends],
    )
    .await?;
    let (vs, is): (Vec<String>, Vec<String>) = rows.version_map.into_iter().unzip();
    tx.execute(
        "INSERT INTO firmware_versions (version, image) SELECT * FROM unnest($1::text[], $2::text[]) \
         ON CONFLICT (version) DO UPDATE SET image = excluded.image \
         WHERE firmware_versions.image IS DISTINCT FROM excluded.image",
        &[&vs, &is],
    )
    .await?;
    if !rows.del_c.0.is_empty() {
        tx.execute(
            "DELETE FROM components c USING unnest($1::text[], $2::text[], $3::text[]) AS d(image, name, version) \
             WHERE c.image = d.image AND c.name = d.name AND c.version = d.version",
            &[&rows.del_c.0, &rows.del_c.1, &rows.del_c.2],
        )
        .await?;
    }
    if !rows.put_c.0.is_empty() {
        tx.execute(
            "INSERT INTO components (image, name, version, ecosystem) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) \
             ON CONFLICT (name, image, version) DO UPDATE SET ecosystem = excluded.ecosystem",
            &[&rows.put_c.0, &rows.put_c.1, &rows.put_c.2, &rows.put_c.3],
        )
        .await?;
    }
    if !rows.del_f.0.is_empty() {
        tx.execute(
            "DELETE FROM findings f USING unnest($1::text[], $2::text[]) AS d(image, key) \
             WHERE f.image = d.image AND f.key = d.key",
            &[&rows.del_f.0, &rows.del_f.1],
        )
        .await?;
    }
    if !rows.put_f.is_empty() {
        let f = &rows.put_f;
        let col = |g: fn(&FindingCols) -> Option<String>| -> Vec<Option<String>> {
            f.iter().map(g).collect()
        };
        let images: Vec<&str> = f.iter().map(|c| c.row.image.as_str()).collect();
        let keys: Vec<&str> = f.iter().map(|c| c.row.key.as_str()).collect();
        let kinds: Vec<&str> = f.iter().map(|c| c.row.kind.as_str()).collect();
        let states: Vec<&str> = f.iter().map(|c| c.row.state.as_str()).collect();
        let severities: Vec<i16> = f
            .iter()
            .map(|c| i16::from(severity_rank(c.row.severity)))
            .collect();
        let summaries: Vec<&str> = f.iter().map(|c| c.row.summary.as_str()).collect();
        let first_seen: Vec<&str> = f.iter().map(|c| c.row.first_seen.as_str()).collect();
        let fixed: Vec<&str> = f.iter().map(|c| c.fixed_versions.as_str()).collect();
        tx.execute(
            "INSERT INTO findings (image, key, kind, state, severity, component, advisory, rule, path, \
               summary, first_seen, fixed_versions, first_fixed, upgrade) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], \
               $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
               $13::text[], $14::text[]) \
             ON CONFLICT (image, key) DO UPDATE SET kind = excluded.kind, state = excluded.state, \
               severity = excluded.severity, component = excluded.component, advisory = excluded.advisory, \
               rule = excluded.rule, path = excluded.path, summary = excluded.summary, \
               first_seen = excluded.first_seen, fixed_versions = excluded.fixed_versions, \
               first_fixed = excluded.first_fixed, upgrade = excluded.upgrade",
            &[
                &images,
                &keys,
                &kinds,
                &states,
                &severities,
                &col(|c| c.row.component.clone()),
                &col(|c| c.row.advisory.clone()),
                &col(|c| c.row.rule.clone()),
                &col(|c| c.row.path.clone()),
                &summaries,
                &first_seen,
                &fixed,
                &col(|c| c.first_fixed.clone()),
                &col(|c| c.upgrade.clone()),
            ],
        )
        .await?;
    }
    if !rows.put_n.0.is_empty() {
        tx.execute(
            "INSERT INTO finding_names (name, image, key) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
            &[&rows.put_n.0, &rows.put_n.1, &rows.put_n.2],
        )
        .await?;
    }
    Ok(())
}

/// Reads a `findings` row into its columns.
pub(super) fn finding_cols(row: &tokio_postgres::Row) -> R<FindingCols> {
    Ok(FindingCols {
        row: super::queries::finding_row(row)?,
        fixed_versions: row.get("fixed_versions"),
        first_fixed: row.get("first_fixed"),
        upgrade: row.get("upgrade"),
    })
}

/// Images read per step of `verify`.
const VERIFY_CHUNK: i64 = 200;

/// Checks every derived row against the image records, and the device
/// counts against the devices: one line per problem.
pub(super) async fn verify(store: &PgStore) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    let mut after = String::new();
    loop {
        let (chunk, more) = retrying!(store, c => verify_chunk(&**c, &after).await)?;
        problems.extend(chunk.1);
        match chunk.0 {
            Some(last) if more => after = last,
            _ => break,
        }
    }
    let counts = retrying!(store, c => verify_counts(&**c).await)?;
    problems.extend(counts);
    Ok(problems)
}

type Chunk = ((Option<String>, Vec<String>), bool);

async fn verify_chunk(c: &impl GenericClient, after: &str) -> R<Chunk> {
    let rows = c
        .query(
            "SELECT sha, record, rev FROM images WHERE sha > $1 ORDER BY sha LIMIT $2",
            &[&after, &VERIFY_CHUNK],
        )
        .await?;
    let more = rows.len() as i64 == VERIFY_CHUNK;
    let mut problems = Vec::new();
    let mut want: BTreeMap<String, Derived> = BTreeMap::new();
    let mut shas = Vec::new();
    for row in &rows {
        let sha: String = row.get(0);
        shas.push(sha.clone());
        match decode(&sha, row.get(1), row.get(2)) {
            Ok(record) => {
                if record.report.target.sha256.as_deref() != Some(sha.as_str()) {
                    problems.push(format!(
                        "image {sha}: record is for {:?}",
                        record.report.target.sha256
                    ));
                }
                want.insert(sha.clone(), derive(&sha, &record)?);
            }
            Err(e) => {
                problems.push(format!("image {sha}: {}", e_text(e)));
                want.insert(sha.clone(), Derived::default());
            }
        }
    }
    let mut have: BTreeMap<String, Derived> = BTreeMap::new();
    for row in c
        .query(
            "SELECT image, name, version, ecosystem FROM components WHERE image = ANY($1)",
            &[&shas],
        )
        .await?
    {
        have.entry(row.get(0))
            .or_default()
            .components
            .insert((row.get(1), row.get(2)), row.get(3));
    }
    for row in c
        .query(
            "SELECT image, key, kind, state, severity, component, advisory, rule, path, summary, \
               first_seen, fixed_versions, first_fixed, upgrade FROM findings WHERE image = ANY($1)",
            &[&shas],
        )
        .await?
    {
        let cols = finding_cols(&row)?;
        have.entry(row.get(0))
            .or_default()
            .findings
            .insert(row.get(1), cols);
    }
    for row in c
        .query(
            "SELECT image, name, key FROM finding_names WHERE image = ANY($1)",
            &[&shas],
        )
        .await?
    {
        have.entry(row.get(0))
            .or_default()
            .names
            .entry(row.get(2))
            .or_default()
            .insert(row.get::<_, String>(1));
    }
    let empty = Derived::default();
    for (sha, w) in &want {
        let h = have.get(sha).unwrap_or(&empty);
        compare(
            "components",
            sha,
            &w.components,
            &h.components,
            &mut problems,
        );
        compare("findings", sha, &w.findings, &h.findings, &mut problems);
        let flat = |d: &Derived| -> BTreeMap<(String, String), ()> {
            d.names
                .iter()
                .flat_map(|(k, names)| names.iter().map(move |n| ((n.clone(), k.clone()), ())))
                .collect()
        };
        compare("finding_names", sha, &flat(w), &flat(h), &mut problems);
    }
    Ok(((shas.last().cloned(), problems), more))
}

fn e_text(e: E) -> String {
    match e {
        E::Msg(m) => m,
        other => other.text(),
    }
}

fn compare<K: Ord + std::fmt::Debug, V: PartialEq>(
    table: &str,
    sha: &str,
    want: &BTreeMap<K, V>,
    have: &BTreeMap<K, V>,
    problems: &mut Vec<String>,
) {
    for (k, v) in have {
        match want.get(k) {
            None => problems.push(format!("{table}: stale row {sha} {k:?}")),
            Some(w) if w != v => problems.push(format!("{table}: row {sha} {k:?} disagrees")),
            Some(_) => {}
        }
    }
    for k in want.keys().filter(|k| !have.contains_key(*k)) {
        problems.push(format!("{table}: missing row {sha} {k:?}"));
    }
}

/// The per-image and per-tag device counts against the devices.
async fn verify_counts(c: &impl GenericClient) -> R<Vec<String>> {
    let mut problems = Vec::new();
    for row in c
        .query(
            "SELECT coalesce(a.image, b.image), a.n, b.n \
             FROM (SELECT image, count(*) AS n FROM devices WHERE image IS NOT NULL GROUP BY image) a \
             FULL JOIN image_counts b ON a.image = b.image \
             WHERE a.n IS DISTINCT FROM b.n ORDER BY 1",
            &[],
        )
        .await?
    {
        let (sha, want, have): (String, Option<i64>, Option<i64>) =
            (row.get(0), row.get(1), row.get(2));
        problems.push(format!(
            "image_counts: {sha}: {} devices, counted {}",
            want.unwrap_or(0),
            have.unwrap_or(0)
        ));
    }
    for row in c
        .query(
            "SELECT coalesce(a.tag, b.tag), coalesce(a.image, b.image), a.n, b.n \
             FROM (SELECT t AS tag, image, count(*) AS n FROM devices, unnest(tags) AS t \
                   WHERE image IS NOT NULL GROUP BY 1, 2) a \
             FULL JOIN tag_counts b ON a.tag = b.tag AND a.image = b.image \
             WHERE a.n IS DISTINCT FROM b.n ORDER BY 1, 2",
            &[],
        )
        .await?
    {
        let (tag, sha, want, have): (String, String, Option<i64>, Option<i64>) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        problems.push(format!(
            "tag_counts: {tag} {sha}: {} devices, counted {}",
            want.unwrap_or(0),
            have.unwrap_or(0)
        ));
    }
    Ok(problems)
}
