//! Device lists for `fleet import`: CSV with a header row (`id,model,firmware`
//! and optional `tags`, separated by `;`) or a JSON array of objects with the
//! same fields. A bad row is reported with its line (or index) and skipped.

use serde::Deserialize;

/// One device as the list gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceRow {
    pub id: String,
    pub model: String,
    pub firmware: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Rows that parsed, and one message per row that did not.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<DeviceRow>,
    pub errors: Vec<String>,
}

pub fn parse(name: &str, text: &str) -> Parsed {
    if text.trim_start().starts_with('[') {
        parse_json(name, text)
    } else {
        parse_csv(name, text)
    }
}

fn parse_json(name: &str, text: &str) -> Parsed {
    let mut out = Parsed::default();
    let items: Vec<serde_json::Value> = match serde_json::from_str(text) {
        Ok(items) => items,
        Err(e) => {
            out.errors
                .push(format!("{name}: invalid JSON at line {}: {e}", e.line()));
            return out;
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<DeviceRow>(item) {
            Ok(row) if row.id.trim().is_empty() || row.firmware.trim().is_empty() => {
                out.errors
                    .push(format!("{name}: device {}: empty id or firmware", i + 1));
            }
            Ok(row) => out.rows.push(row),
            Err(e) => out.errors.push(format!("{name}: device {}: {e}", i + 1)),
        }
    }
    out
}

/// Splits one CSV line, honouring double quotes (`""` is a quote inside).
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    out.push(cur);
    Ok(out.into_iter().map(|f| f.trim().to_string()).collect())
}

fn parse_csv(name: &str, text: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let Some((_, header)) = lines.next() else {
        out.errors.push(format!("{name}: empty device list"));
        return out;
    };
    let header = match fields(header) {
        Ok(h) => h
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect::<Vec<_>>(),
        Err(e) => {
            out.errors.push(format!("{name} line 1: {e}"));
            return out;
        }
    };
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(id), Some(model), Some(firmware)) = (col("id"), col("model"), col("firmware")) else {
        out.errors.push(format!(
            "{name} line 1: header must name id, model and firmware columns"
        ));
        return out;
    };
    let tags = col("tags");
    for (n, line) in lines {
        let line_no = n + 1;
        let row = match fields(line) {
            Ok(f) if f.len() == header.len() => f,
            Ok(f) => {
                out.errors.push(format!(
                    "{name} line {line_no}: {} fields, header has {}",
                    f.len(),
                    header.len()
                ));
                continue;
            }
            Err(e) => {
                out.errors.push(format!("{name} line {line_no}: {e}"));
                continue;
            }
        };
        if row[id].is_empty() || row[firmware].is_empty() {
            out.errors
                .push(format!("{name} line {line_no}: empty id or firmware"));
            continue;
        }
        out.rows.push(DeviceRow {
            id: row[id].clone(),
            model: row[model].clone(),
            firmware: row[firmware].clone(),
            tags: tags
                .map(|t| {
                    row[t]
                        .split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_tags_and_bad_rows() {
        let text = "id,model,firmware,tags\n\
                    dev-1,RT-1,\"fw, v1.bin\",lab;eu\n\
                    dev-2,RT-1\n\
                    ,RT-2,1.0.0,\n\
                    dev-3,RT-2,1.0.0,\n";
        let p = parse("d.csv", text);
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[0].firmware, "fw, v1.bin");
        assert_eq!(p.rows[0].tags, ["lab", "eu"]);
        assert_eq!(
            p.errors,
            [
                "d.csv line 3: 2 fields, header has 4",
                "d.csv line 4: empty id or firmware"
            ]
        );
    }

    #[test]
    fn json_rows() {
        let p = parse(
            "d.json",
            r#"[{"id":"a","model":"m","firmware":"f","tags":["x"]},{"id":"b"}]"#,
        );
        assert_eq!(p.rows.len(), 1);
        assert!(
            p.errors[0].starts_with("d.json: device 2: missing field"),
            "{:?}",
            p.errors
        );
    }
}
