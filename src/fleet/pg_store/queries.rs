//! needs-patch, where, advisory and finding lookups in SQL: each is one
//! indexed query for the hits and one set-based query for the devices of
//! every image hit (never a query per image).

use super::{E, PgStore, R, retrying};
use crate::fleet::derived::severity_of_rank;
use crate::fleet::derived::severity_rank;
use crate::fleet::queries::{PatchFilter, PatchGroup, Scope, Upgrade, VersionReq, WhereHit};
use crate::fleet::record::{FindingRow, FindingState};
use crate::fleet::{AdvisoryImage, Page};
use crate::model::{FindingKind, Severity};
use crate::version::Scheme;
use std::collections::HashMap;
use tokio_postgres::GenericClient;

/// The active vulnerable findings needs-patch and advisory lookups read
/// (the `findings_patch` index's predicate).
const ACTIVE_HIT: &str = "f.state = 'active' AND f.kind = 'vulnerable' \
                          AND f.advisory IS NOT NULL AND f.component IS NOT NULL";

fn severity(rank: i16) -> R<Severity> {
    u8::try_from(rank)
        .ok()
        .and_then(severity_of_rank)
        .ok_or_else(|| E::Msg(format!("fleet store: corrupt severity rank {rank}")))
}

/// A `findings` row as the API lists it.
pub(super) fn finding_row(row: &tokio_postgres::Row) -> R<FindingRow> {
    let kind: String = row.get("kind");
    let state: String = row.get("state");
    Ok(FindingRow {
        image: row.get("image"),
        key: row.get("key"),
        kind: serde_json::from_value::<FindingKind>(serde_json::Value::String(kind.clone()))
            .map_err(|_| E::Msg(format!("fleet store: corrupt finding kind {kind:?}")))?,
        state: FindingState::parse(&state)
            .ok_or_else(|| E::Msg(format!("fleet store: corrupt finding state {state:?}")))?,
        severity: severity(row.get("severity"))?,
        component: row.get("component"),
        advisory: row.get("advisory"),
        rule: row.get("rule"),
        path: row.get("path"),
        summary: row.get("summary"),
        first_seen: row.get("first_seen"),
    })
}

/// Devices of `images` within a model, tag and scope filter: how many per
/// image, and (unless `count_only`) their ids in id order.
struct DeviceFilter<'a> {
    model: Option<&'a str>,
    tag: Option<&'a str>,
    scope: &'a Scope,
}

impl DeviceFilter<'_> {
    fn is_all(&self) -> bool {
        self.model.is_none() && self.tag.is_none() && self.scope.is_all()
    }
}

async fn devices_of(
    c: &impl GenericClient,
    images: &[&str],
    filter: &DeviceFilter<'_>,
    count_only: bool,
) -> R<HashMap<String, (Vec<String>, usize)>> {
    let mut out: HashMap<String, (Vec<String>, usize)> = HashMap::new();
    if images.is_empty() {
        return Ok(out);
    }
    let scope: Option<Vec<&str>> = match filter.scope {
        Scope::All => None,
        Scope::Tags(t) => Some(t.iter().map(String::as_str).collect()),
    };
    let conditions = "image = ANY($1) AND ($2::text IS NULL OR model = $2) \
                      AND ($3::text IS NULL OR tags @> ARRAY[$3::text]) \
                      AND ($4::text[] IS NULL OR tags && $4::text[])";
    if count_only {
        // Counts kept with every device write answer the common cases.
        let rows = if filter.is_all() {
            c.query(
                "SELECT image, n FROM image_counts WHERE image = ANY($1)",
                &[&images],
            )
            .await?
        } else if let (None, Some(tag), true) = (filter.model, filter.tag, filter.scope.is_all()) {
            c.query(
                "SELECT image, n FROM tag_counts WHERE tag = $2 AND image = ANY($1)",
                &[&images, &tag],
            )
            .await?
        } else if let (None, None, Scope::Tags(t)) = (filter.model, filter.tag, filter.scope)
            && t.len() == 1
        {
            c.query(
                "SELECT image, n FROM tag_counts WHERE tag = $2 AND image = ANY($1)",
                &[&images, &t[0]],
            )
            .await?
        } else {
            c.query(
                &format!("SELECT image, count(*) FROM devices WHERE {conditions} GROUP BY image"),
                &[&images, &filter.model, &filter.tag, &scope],
            )
            .await?
        };
        for row in rows {
            let n: i64 = row.get(1);
            out.insert(row.get(0), (Vec::new(), n.max(0) as usize));
        }
    } else {
        let rows = c
            .query(
                &format!("SELECT image, id FROM devices WHERE {conditions} ORDER BY image, id"),
                &[&images, &filter.model, &filter.tag, &scope],
            )
            .await?;
        for row in rows {
            let entry = out.entry(row.get(0)).or_default();
            entry.0.push(row.get(1));
            entry.1 += 1;
        }
    }
    Ok(out)
}

/// Devices needing a patch, grouped by image: the hits aggregated per
/// image and component in SQL, in the order the collector of the embedded
/// store reads them (see [`crate::fleet::queries::PatchCollector`]): the
/// upgrade of the first hit by severity and key, or with `--advisory`
/// the first fixed version of its last hit by key.
pub(super) async fn needs_patch(
    c: &impl GenericClient,
    filter: &PatchFilter,
) -> R<Vec<PatchGroup>> {
    let min = i16::from(severity_rank(filter.min_severity.unwrap_or(Severity::Info)));
    let rows = match &filter.advisory {
        None => {
            c.query(
                &format!(
                    "SELECT f.image, f.component, array_agg(DISTINCT f.advisory ORDER BY f.advisory), \
                       max(f.severity), (array_agg(f.upgrade ORDER BY f.severity, f.key))[1] \
                     FROM findings f WHERE {ACTIVE_HIT} AND f.severity >= $1 \
                     GROUP BY f.image, f.component ORDER BY f.image, f.component"
                ),
                &[&min],
            )
            .await?
        }
        Some(id) => {
            c.query(
                &format!(
                    "SELECT f.image, f.component, array_agg(DISTINCT f.advisory ORDER BY f.advisory), \
                       max(f.severity), (array_agg(f.first_fixed ORDER BY f.key DESC))[1] \
                     FROM finding_names n JOIN findings f ON f.image = n.image AND f.key = n.key \
                     WHERE n.name = $2 AND {ACTIVE_HIT} AND f.severity >= $1 \
                     GROUP BY f.image, f.component ORDER BY f.image, f.component"
                ),
                &[&min, id],
            )
            .await?
        }
    };
    let mut by_image: Vec<(String, Vec<Upgrade>)> = Vec::new();
    for row in rows {
        let image: String = row.get(0);
        let upgrade = Upgrade {
            component: row.get(1),
            to: row.get(4),
            advisories: row.get(2),
            max_severity: severity(row.get(3))?,
        };
        match by_image.last_mut() {
            Some((last, list)) if *last == image => list.push(upgrade),
            _ => by_image.push((image, vec![upgrade])),
        }
    }
    let images: Vec<&str> = by_image.iter().map(|(s, _)| s.as_str()).collect();
    let devices = devices_of(
        c,
        &images,
        &DeviceFilter {
            model: filter.model.as_deref(),
            tag: filter.tag.as_deref(),
            scope: &filter.scope,
        },
        filter.count_only,
    )
    .await?;
    let mut versions: HashMap<String, String> = HashMap::new();
    for row in c
        .query(
            "SELECT sha, firmware_versions FROM images WHERE sha = ANY($1)",
            &[&images],
        )
        .await?
    {
        versions.insert(row.get(0), row.get(1));
    }
    let mut devices = devices;
    let mut out = Vec::new();
    for (sha, upgrades) in by_image {
        let (ids, device_count) = devices.remove(&sha).unwrap_or_default();
        if device_count == 0 {
            continue;
        }
        let firmware_versions = versions
            .get(&sha)
            .map(|v| v.lines().map(str::to_string).collect())
            .unwrap_or_default();
        out.push(PatchGroup {
            image: sha,
            firmware_versions,
            devices: ids,
            upgrades,
            device_count,
        });
    }
    Ok(out)
}

/// Images (and their devices within `scope`) carrying component `name`,
/// optionally within a version requirement, in (image, version) order.
pub(super) async fn where_component(
    c: &impl GenericClient,
    name: &str,
    requirement: Option<&VersionReq>,
    scope: &Scope,
    count_only: bool,
) -> R<Vec<WhereHit>> {
    let rows = c
        .query(
            "SELECT image, version, ecosystem FROM components WHERE name = $1 ORDER BY image, version",
            &[&name.to_ascii_lowercase()],
        )
        .await?;
    let mut hits: Vec<(String, String, String)> = Vec::new();
    for row in rows {
        let (image, version, ecosystem): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        // Package versions compare by their packaging's rules.
        let scheme = Scheme::for_ecosystem(&ecosystem);
        if requirement.is_none_or(|r| r.matches_in(scheme, &version)) {
            hits.push((image, version, ecosystem));
        }
    }
    let mut images: Vec<&str> = hits.iter().map(|(s, _, _)| s.as_str()).collect();
    images.dedup();
    let devices = devices_of(
        c,
        &images,
        &DeviceFilter {
            model: None,
            tag: None,
            scope,
        },
        count_only,
    )
    .await?;
    let mut out = Vec::with_capacity(hits.len());
    for (image, version, ecosystem) in hits {
        let (devices, device_count) = devices.get(&image).cloned().unwrap_or_default();
        if device_count == 0 && !scope.is_all() {
            continue;
        }
        out.push(WhereHit {
            image,
            version,
            ecosystem,
            devices,
            device_count,
        });
    }
    Ok(out)
}

/// Images an advisory (by id or alias) affects through an active
/// vulnerable finding, in image order, one entry per image and component.
pub(super) async fn advisory_images(c: &impl GenericClient, id: &str) -> R<Vec<AdvisoryImage>> {
    let rows = c
        .query(
            &format!(
                "SELECT f.image, f.component, f.severity, f.fixed_versions, f.upgrade \
                 FROM finding_names n JOIN findings f ON f.image = n.image AND f.key = n.key \
                 WHERE n.name = $1 AND {ACTIVE_HIT} ORDER BY n.image, n.key"
            ),
            &[&id],
        )
        .await?;
    let mut out: Vec<AdvisoryImage> = Vec::new();
    for row in rows {
        let (image, component): (String, String) = (row.get(0), row.get(1));
        if out
            .last()
            .is_some_and(|l| l.image == image && l.component == component)
        {
            continue;
        }
        let fixed: String = row.get(3);
        out.push(AdvisoryImage {
            image,
            component,
            severity: severity(row.get(2))?,
            fixed_versions: serde_json::from_str(&fixed)
                .map_err(|e| E::Msg(format!("fleet store: corrupt fixed versions: {e}")))?,
            upgrade: row.get(4),
        });
    }
    Ok(out)
}

/// Rows read per step while a page of findings fills.
const FINDINGS_CHUNK: i64 = 500;

/// Findings in (image, key) order after `page.after`, those `keep` passes.
pub(super) fn findings(
    store: &PgStore,
    image: Option<&str>,
    page: &Page,
    keep: &mut dyn FnMut(&FindingRow) -> bool,
) -> Result<Vec<FindingRow>, String> {
    let mut out = Vec::new();
    let mut cursor: Option<(String, String)> =
        page.after.map(|(a, b)| (a.to_string(), b.to_string()));
    const COLUMNS: &str =
        "image, key, kind, state, severity, component, advisory, rule, path, summary, first_seen";
    while out.len() < page.limit {
        let chunk: Vec<FindingRow> = store.run(|| async {
            retrying!(store, c => {
                let rows = match (image, &cursor) {
                    (Some(sha), Some((a, k))) => {
                        c.query(
                            &format!("SELECT {COLUMNS} FROM findings WHERE image = $1 AND (image, key) > ($2, $3) \
                                      ORDER BY image, key LIMIT $4"),
                            &[&sha, a, k, &FINDINGS_CHUNK],
                        )
                        .await?
                    }
                    (Some(sha), None) => {
                        c.query(
                            &format!("SELECT {COLUMNS} FROM findings WHERE image = $1 ORDER BY image, key LIMIT $2"),
                            &[&sha, &FINDINGS_CHUNK],
                        )
                        .await?
                    }
                    (None, Some((a, k))) => {
                        c.query(
                            &format!("SELECT {COLUMNS} FROM findings WHERE (image, key) > ($1, $2) \
                                      ORDER BY image, key LIMIT $3"),
                            &[a, k, &FINDINGS_CHUNK],
                        )
                        .await?
                    }
                    (None, None) => {
                        c.query(
                            &format!("SELECT {COLUMNS} FROM findings ORDER BY image, key LIMIT $1"),
                            &[&FINDINGS_CHUNK],
                        )
                        .await?
                    }
                };
                rows.iter().map(finding_row).collect::<R<Vec<_>>>()
            })
        })?;
        let done = (chunk.len() as i64) < FINDINGS_CHUNK;
        for row in chunk {
            if out.len() >= page.limit {
                return Ok(out);
            }
            cursor = Some((row.image.clone(), row.key.clone()));
            if keep(&row) {
                out.push(row);
            }
        }
        if done {
            break;
        }
    }
    Ok(out)
}
