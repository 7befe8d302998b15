//! How a fresh evaluation of an image merges into its stored history:
//! which findings are new, which went away, and which a person's triage
//! decision still covers. Every back end writes what this computes.

use super::access::{TriageAction, TriageDecision};
use super::record::{Change, FindingRecord, FindingState};
use crate::model::{Analysis, Finding, FindingKind, Suppression};
use std::collections::BTreeSet;

/// Stable identity of a finding on an image, across evaluations.
pub fn finding_key(f: &Finding) -> String {
    // A posture finding is named by its rule and the line or offset that
    // shows it (one rule can fire twice in one file).
    let place = match f.evidence.first() {
        Some(e) if f.rule.is_some() => match (e.line, e.offset) {
            (Some(l), _) => format!(":{l}"),
            (None, Some(o)) if o > 0 => format!("@{o}"),
            _ => String::new(),
        },
        _ => String::new(),
    };
    format!(
        "{}|{}|{}|{}{place}",
        f.kind.as_str(),
        f.advisory.as_deref().or(f.rule.as_deref()).unwrap_or("-"),
        f.component.as_deref().unwrap_or("-"),
        if f.kind == FindingKind::Vulnerable {
            "-"
        } else {
            f.path.as_deref().unwrap_or("-")
        }
    )
}

/// `f` as a triage decision leaves it: suppressed (with the reason and
/// expiry the report shows) or not affected (with the reason as analysis).
/// A decision that no longer applies, or a reopen, leaves it as scanned.
pub fn apply_decision(f: &mut Finding, decision: &TriageDecision, now: &str) {
    if !decision.applies(now) {
        return;
    }
    match decision.action {
        TriageAction::Suppress => {
            f.state = crate::model::FindingState::Suppressed;
            f.suppressed = Some(Suppression {
                reason: decision.reason.clone(),
                expires: decision.expires.clone(),
            });
        }
        TriageAction::NotAffected => {
            f.state = crate::model::FindingState::NotAffected;
            f.analysis = Some(Analysis {
                source: "triage".into(),
                detail: format!("{} ({})", decision.reason, decision.by),
                ..Analysis::default()
            });
        }
        TriageAction::Reopen => {}
    }
}

/// Merges a fresh evaluation into the stored history, applying the
/// image's triage `decisions`.
pub fn evaluate(
    previous: &[FindingRecord],
    fresh: &[Finding],
    decisions: &[TriageDecision],
    now: &str,
) -> (Vec<FindingRecord>, Change) {
    let mut change = Change::default();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for f in fresh {
        let key = finding_key(f);
        if !seen.insert(key.clone()) {
            continue;
        }
        let mut f = f.clone();
        let mut scanned = None;
        if let Some(d) = decisions.iter().find(|d| d.finding == key) {
            let original = f.clone();
            apply_decision(&mut f, d, now);
            scanned = (f != original).then_some(original);
        }
        let state = FindingState::of(f.state);
        let before = previous.iter().find(|p| p.key == key);
        let was_active = before.is_some_and(|b| b.state == FindingState::Active);
        if state == FindingState::Active && !was_active {
            change.new.push(f.clone());
        }
        out.push(FindingRecord {
            key,
            finding: f,
            state,
            first_seen: before.map_or_else(|| now.to_string(), |b| b.first_seen.clone()),
            last_seen: now.to_string(),
            scanned,
        });
    }
    for p in previous.iter().filter(|p| !seen.contains(&p.key)) {
        if p.state == FindingState::Active {
            change.resolved.push(p.finding.clone());
        }
        out.push(FindingRecord {
            state: FindingState::Resolved,
            ..p.clone()
        });
    }
    (out, change)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    fn vuln(id: &str) -> Finding {
        Finding {
            advisory: Some(id.into()),
            component: Some("busybox@1.35.0".into()),
            ..Finding::new(FindingKind::Vulnerable, Severity::High, "x")
        }
    }

    fn decision(key: &str, action: TriageAction, expires: Option<&str>) -> TriageDecision {
        TriageDecision {
            image: "a".into(),
            finding: key.into(),
            action,
            reason: "not exposed".into(),
            expires: expires.map(str::to_string),
            by: "key ops".into(),
            at: "2026-11-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn decisions_apply_until_they_expire_and_history_is_kept() {
        let a = vuln("CVE-1");
        let b = vuln("CVE-2");
        let now = "2026-11-25T00:00:00Z";
        let (first, change) = evaluate(&[], &[a.clone(), b.clone()], &[], now);
        assert_eq!(change.new.len(), 2);
        let d = decision(&finding_key(&a), TriageAction::Suppress, Some("2026-12-01"));
        let (second, change) = evaluate(
            &first,
            &[a.clone(), b.clone()],
            std::slice::from_ref(&d),
            now,
        );
        assert!(change.new.is_empty() && change.resolved.is_empty());
        assert_eq!(second[0].state, FindingState::Suppressed);
        assert_eq!(
            second[0]
                .finding
                .suppressed
                .as_ref()
                .map(|s| s.reason.as_str()),
            Some("not exposed")
        );
        assert_eq!(second[0].first_seen, now);
        // On the day it expires the finding is active again, and new.
        let later = "2026-12-01T08:00:00Z";
        let (third, change) = evaluate(&second, &[a.clone(), b], &[d], later);
        assert_eq!(third[0].state, FindingState::Active);
        assert_eq!(change.new.len(), 1);
        // A finding no longer raised is resolved, its history kept.
        let (fourth, change) = evaluate(&third, &[a], &[], later);
        assert_eq!(change.resolved.len(), 1);
        assert_eq!(fourth[1].state, FindingState::Resolved);
        assert_eq!(fourth[1].first_seen, now);
    }

    #[test]
    fn not_affected_carries_the_reason() {
        let a = vuln("CVE-1");
        let d = decision(&finding_key(&a), TriageAction::NotAffected, None);
        let (out, _) = evaluate(&[], &[a], &[d], "2026-11-25T00:00:00Z");
        assert_eq!(out[0].state, FindingState::NotAffected);
        assert_eq!(
            out[0].finding.analysis.as_ref().map(|x| x.detail.as_str()),
            Some("not exposed (key ops)")
        );
    }
}
