//! The JSON contract (DESIGN.md): one object per target. `--format json`
//! prints them as JSON Lines, one compact object per line, whatever the
//! number of targets, so that a script reads one target and many the same
//! way (`jq` reads the stream as it is). `--json-array` prints one array of
//! them instead.

use crate::scan::ScanReport;

/// One line per target: its report object.
pub fn render(reports: &[ScanReport]) -> String {
    let mut text = String::new();
    for report in reports {
        text.push_str(
            &serde_json::to_string(report)
                .unwrap_or_else(|e| format!("{{\"error\": \"report serialisation failed: {e}\"}}")),
        );
        text.push('\n');
    }
    text
}

/// All reports in one (pretty) array, a one-element array for one target.
pub fn render_array(reports: &[ScanReport]) -> String {
    let mut text = serde_json::to_string_pretty(reports)
        .unwrap_or_else(|e| format!("{{\"error\": \"report serialisation failed: {e}\"}}"));
    text.push('\n');
    text
}
