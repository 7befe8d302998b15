//! The JSON contract (DESIGN.md): one object per target.

use crate::scan::ScanReport;

/// One target: its report object; several: an array of them.
pub fn render(reports: &[ScanReport]) -> String {
    let value = match reports {
        [one] => serde_json::to_value(one),
        many => serde_json::to_value(many),
    };
    let mut text = value
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|e| format!("{{\"error\": \"report serialisation failed: {e}\"}}"));
    text.push('\n');
    text
}
