//! Installed Python distributions in a root file system:
//! `site-packages/NAME-VERSION.dist-info/METADATA` (core metadata, e-mail
//! header syntax), with the `RECORD` beside it as the files list.

use super::{Input, Package, pypi_name};
use crate::model::Component;

pub fn is_metadata(fs_path: &str) -> bool {
    fs_path
        .strip_suffix("/METADATA")
        .is_some_and(|dir| dir.ends_with(".dist-info"))
}

/// The distribution described by the METADATA file `input`.
pub fn parse(input: &Input) -> Result<Vec<Component>, String> {
    let mut c = metadata(input.path, input.text()?, "dist-info")?;
    // RECORD paths are relative to site-packages, the dist-info's parent.
    let dist_info = input.dir().trim_end_matches('/');
    let site = dist_info.rfind('/').map_or("/", |i| &dist_info[..=i]);
    if let Some(record) = input.sibling(&format!("{dist_info}/RECORD")) {
        c.files = String::from_utf8_lossy(record)
            .lines()
            .filter_map(|l| l.split(',').next())
            .filter(|p| !p.is_empty())
            .map(|p| crate::unpack::tree::normalize(&format!("{site}{p}")))
            .collect();
    }
    Ok(vec![c])
}

/// The distribution a core-metadata text (`METADATA`, `PKG-INFO`) names.
pub fn metadata(path: &str, text: &str, method: &str) -> Result<Component, String> {
    let (mut name, mut version) = (None, None);
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            break; // the description body follows the headers
        }
        match line.split_once(':') {
            Some(("Name", v)) => name = Some((n + 1, v.trim().to_string())),
            Some(("Version", v)) => version = Some(v.trim().to_string()),
            _ => {}
        }
    }
    let (Some((line, raw)), Some(version)) = (name, version) else {
        return Err("line 1: no `Name:` and `Version:` headers".to_string());
    };
    let name = pypi_name(&raw);
    Ok(Package {
        purl: crate::purl::build("pypi", None, &name, &version, &[]),
        name,
        version,
        ecosystem: "pypi",
        osv: "PyPI",
        method,
        path,
        line,
    }
    .component())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_record() {
        let meta = "Metadata-Version: 2.1\nName: PyYAML\nVersion: 5.3.1\n\nName: not-a-header\n";
        let record = "yaml/__init__.py,sha256=x,100\nPyYAML-5.3.1.dist-info/METADATA,,\n";
        let lookup = |p: &str| {
            (p == "/usr/lib/python3/site-packages/PyYAML-5.3.1.dist-info/RECORD")
                .then_some(record.as_bytes())
        };
        let input = Input {
            path: "fw@0x0:squashfs/usr/lib/python3/site-packages/PyYAML-5.3.1.dist-info/METADATA",
            fs_path: "/usr/lib/python3/site-packages/PyYAML-5.3.1.dist-info/METADATA",
            data: meta.as_bytes(),
            siblings: &lookup,
            distro: None,
        };
        let c = parse(&input).unwrap();
        assert_eq!(c[0].purl, "pkg:pypi/pyyaml@5.3.1");
        assert_eq!(
            c[0].files[0],
            "/usr/lib/python3/site-packages/yaml/__init__.py"
        );
        assert!(is_metadata(input.fs_path));
    }
}
