//! Human-readable report for a terminal.

use crate::model::{Finding, FindingKind, FindingState, Severity};
use crate::scan::ScanReport;
use crate::unpack::Level;
use std::fmt::Write;

pub fn render(reports: &[ScanReport]) -> String {
    let mut out = String::new();
    for r in reports {
        section(&mut out, r);
    }
    out
}

fn section(out: &mut String, r: &ScanReport) {
    let t = &r.target;
    let _ = writeln!(
        out,
        "== {} ({}, {} bytes{})",
        t.path,
        t.kind.as_str(),
        t.size,
        t.sha256
            .as_ref()
            .map(|s| format!(", sha256 {s}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "\nLayers ({})", r.layers.len());
    for l in &r.layers {
        let _ = writeln!(
            out,
            "  {:<10} {:>10}  {:<9} {}{}",
            format!("{:#x}", l.offset),
            l.size,
            l.format,
            l.path,
            l.detail
                .as_ref()
                .map(|d| format!("  [{d}]"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(out, "\nComponents ({})", r.components.len());
    for c in &r.components {
        let first = c.sources.first();
        let _ = writeln!(
            out,
            "  {:<16} {:<20} {:<9} {}{}",
            c.name,
            c.version,
            c.ecosystem,
            first.map(|s| s.path.as_str()).unwrap_or(""),
            match c.sources.len() {
                0 | 1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            }
        );
    }
    let unused = r.libraries.iter().filter(|l| l.unused).count();
    let _ = writeln!(
        out,
        "\nShared libraries ({}, {} unused)",
        r.libraries.len(),
        unused
    );
    for l in &r.libraries {
        let _ = writeln!(
            out,
            "  {:<7} {:<28} {}",
            if l.unused { "UNUSED" } else { "" },
            l.soname.as_deref().unwrap_or("-"),
            l.path
        );
    }
    if let Some(h) = &r.hardening {
        let _ = writeln!(
            out,
            "\nHardening ({} programs, {} network-facing; {} libraries)\n  without NX {}, without canary {}, without RELRO {} (partial {}), without PIE {}; FORTIFY: {} fortified, {} fortifiable, {} without fortifiable calls ({} _chk functions in the image's libc); stripped {}, RPATH/RUNPATH {}, CET/BTI {}",
            h.programs,
            h.network_programs,
            h.libraries,
            h.without_nx,
            h.without_canary,
            h.without_relro,
            h.partial_relro,
            h.without_pie,
            h.fortified,
            h.fortifiable,
            h.not_fortifiable,
            h.libc_chk_functions,
            h.stripped,
            h.with_runpath,
            h.with_cfp
        );
    }
    if !r.crypto.is_empty() {
        let count = |kind: &str| r.crypto.iter().filter(|a| a.asset == kind).count();
        let known = r.crypto.iter().filter(|a| a.known_as.is_some()).count();
        let _ = writeln!(
            out,
            "\nKeys and certificates ({}: {} private keys, {} public keys, {} certificates; {} published test data)",
            r.crypto.len(),
            count("private-key"),
            count("public-key"),
            count("certificate"),
            known
        );
    }
    findings(out, r);
    if !r.conflicts.is_empty() {
        let _ = writeln!(out, "\nConflicts ({})", r.conflicts.len());
        for c in &r.conflicts {
            let _ = writeln!(out, "  {}  ({})", c.message, c.manifest);
        }
    }
    let (notes, problems): (Vec<_>, Vec<_>) = r.notes.iter().partition(|n| n.level == Level::Note);
    for n in &notes {
        let _ = writeln!(out, "\nNote: {}: {}", n.path, n.message);
    }
    if !problems.is_empty() {
        let _ = writeln!(
            out,
            "\nProblems ({}): the scan of these parts is incomplete",
            problems.len()
        );
        for n in problems {
            let _ = writeln!(
                out,
                "  {:<6} {}{}: {}",
                n.level.as_str(),
                n.path,
                n.offset.map(|o| format!(" @{o:#x}")).unwrap_or_default(),
                n.message
            );
        }
    }
    out.push('\n');
}

/// Findings grouped under the component they are about, the worst group
/// first; within a group active findings first, then those the device's
/// evidence shows are fixed or not affected, with the reason.
fn findings(out: &mut String, r: &ScanReport) {
    let active: Vec<&Finding> = r.findings.iter().filter(|f| f.is_active()).collect();
    let mut counts = Vec::new();
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
        Severity::Info,
    ] {
        let n = active.iter().filter(|f| f.severity == sev).count();
        if n > 0 {
            counts.push(format!("{n} {sev}"));
        }
    }
    let mut other = Vec::new();
    for state in [
        FindingState::Fixed,
        FindingState::NotAffected,
        FindingState::Suppressed,
    ] {
        let n = r.findings.iter().filter(|f| f.state == state).count();
        if n > 0 {
            other.push(format!("{n} {}", state.as_str().replace('_', " ")));
        }
    }
    let _ = writeln!(
        out,
        "\nFindings ({} active{}{})",
        active.len(),
        if counts.is_empty() {
            String::new()
        } else {
            format!(": {}", counts.join(", "))
        },
        if other.is_empty() {
            String::new()
        } else {
            format!("; {}", other.join(", "))
        }
    );
    // Group label -> findings, in first-seen order.
    let mut groups: Vec<(String, Vec<&Finding>)> = Vec::new();
    for f in &r.findings {
        let label = group_label(r, f);
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, list)) => list.push(f),
            None => groups.push((label, vec![f])),
        }
    }
    let worst = |list: &[&Finding]| {
        list.iter()
            .filter(|f| f.is_active())
            .map(|f| f.severity)
            .max()
    };
    groups.sort_by(|(la, a), (lb, b)| worst(b).cmp(&worst(a)).then_with(|| la.cmp(lb)));
    for (label, mut list) in groups {
        list.sort_by(|a, b| {
            a.state
                .cmp(&b.state)
                .then(b.severity.cmp(&a.severity))
                .then_with(|| a.advisory.cmp(&b.advisory))
                .then_with(|| a.path.cmp(&b.path))
        });
        let _ = writeln!(out, "  {label}");
        for f in list {
            let what = f
                .advisory
                .clone()
                .or_else(|| f.rule.clone())
                .unwrap_or_default();
            let why = match (&f.state, &f.analysis, &f.suppressed) {
                (FindingState::Suppressed, _, Some(s)) => format!(" [suppressed: {}]", s.reason),
                (FindingState::Active, Some(a), _) => format!(" [{}]", a.detail),
                (FindingState::Active, None, _) => String::new(),
                (_, Some(a), _) => format!(" [{}]", a.detail),
                (_, None, _) => String::new(),
            };
            // Findings about a file (unused, hardening, secrets) say which.
            let path = match (&f.path, f.kind) {
                (Some(p), kind)
                    if !matches!(
                        kind,
                        FindingKind::Vulnerable
                            | FindingKind::Outdated
                            | FindingKind::Informational
                    ) =>
                {
                    format!("{p} ")
                }
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "    {:<8} {:<12} {:<10} {:<16} {path}{}{why}",
                f.severity.as_str().to_uppercase(),
                f.state.as_str(),
                f.kind.as_str(),
                what,
                f.summary
            );
        }
    }
}

/// `curl 7.88.1 (deb curl, libcurl4 7.88.1-10+deb12u15)`: the upstream
/// product and the packages that carry it.
fn group_label(r: &ScanReport, f: &Finding) -> String {
    let Some(component) = &f.component else {
        return "(device)".to_string();
    };
    let product = component.replacen('@', " ", 1);
    let packages: Vec<&crate::model::Component> = f
        .purls
        .iter()
        .filter_map(|p| r.components.iter().find(|c| c.purl == *p))
        .filter(|c| c.upstream.is_some())
        .collect();
    match packages.first() {
        None => product,
        Some(first) => {
            let names: Vec<&str> = packages.iter().map(|c| c.name.as_str()).collect();
            format!(
                "{product} ({} {} {})",
                first.ecosystem,
                names.join(", "),
                first.version
            )
        }
    }
}
