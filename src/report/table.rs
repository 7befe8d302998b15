//! Human-readable report for a terminal.

use crate::model::{FindingKind, Severity};
use crate::scan::ScanReport;
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
    let mut counts = String::new();
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
        Severity::Info,
    ] {
        let n = r.findings.iter().filter(|f| f.severity == sev).count();
        if n > 0 {
            let _ = write!(
                counts,
                "{}{n} {sev}",
                if counts.is_empty() { "" } else { ", " }
            );
        }
    }
    let _ = writeln!(
        out,
        "\nFindings ({}{})",
        r.findings.len(),
        if counts.is_empty() {
            String::new()
        } else {
            format!(": {counts}")
        }
    );
    for f in &r.findings {
        let what = match f.kind {
            FindingKind::Vulnerable => f.advisory.clone().unwrap_or_default(),
            // A posture finding points at the line or offset that shows it.
            _ => {
                let path = f.path.clone().unwrap_or_default();
                match f.evidence.first() {
                    Some(e) if e.path == path && e.line.is_some() => {
                        format!("{path}:{}", e.line.unwrap_or_default())
                    }
                    Some(e) if e.path == path && e.offset.is_some_and(|o| o > 0) => {
                        format!("{path}@{:#x}", e.offset.unwrap_or_default())
                    }
                    _ => path,
                }
            }
        };
        let suppressed = f
            .suppressed
            .as_ref()
            .map(|s| format!(" [suppressed: {}]", s.reason))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<8} {:<10} {:<18} {:<16} {}{suppressed}",
            f.severity.as_str().to_uppercase(),
            f.kind.as_str(),
            f.component.as_deref().or(f.rule.as_deref()).unwrap_or("-"),
            what,
            f.summary
        );
    }
    if !r.conflicts.is_empty() {
        let _ = writeln!(out, "\nConflicts ({})", r.conflicts.len());
        for c in &r.conflicts {
            let _ = writeln!(out, "  {}  ({})", c.message, c.manifest);
        }
    }
    if !r.notes.is_empty() {
        let _ = writeln!(
            out,
            "\nProblems ({}): the scan of these parts is incomplete",
            r.notes.len()
        );
        for n in &r.notes {
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
