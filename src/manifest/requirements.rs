//! pip requirements files (`requirements*.txt`): `name==version` pins, with
//! `--hash` options, environment markers and `-r` includes resolved relative
//! to the including file inside the same tree. A requirement without an exact
//! pin is reported as `unpinned`, its specifier kept as the version.

use super::{Input, Package, pypi_name};
use crate::model::Component;

/// How deep `-r` includes may nest (a file is read once, so cycles end sooner).
const MAX_INCLUDE_DEPTH: usize = 8;

pub fn is_requirements(fs_path: &str) -> bool {
    let name = super::file_name(fs_path);
    name.ends_with(".txt")
        && (name.starts_with("requirements") || name.ends_with("-requirements.txt"))
}

/// Components of the requirements file `input`, including what it includes.
pub fn parse(input: &Input) -> Result<Vec<Component>, String> {
    let prefix = input.path.strip_suffix(input.fs_path).unwrap_or("");
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::from([input.fs_path.to_string()]);
    read(
        input,
        prefix,
        input.fs_path,
        input.text()?,
        0,
        &mut seen,
        &mut out,
    )?;
    Ok(out)
}

/// Reads one file and, depth first, what it includes. A file is read once
/// (`seen`): a file included again, or a cycle, adds nothing it has not
/// already added, and files that include each other would otherwise be read
/// a number of times exponential in the nesting depth.
fn read(
    input: &Input,
    prefix: &str,
    fs_path: &str,
    text: &str,
    depth: usize,
    seen: &mut std::collections::HashSet<String>,
    out: &mut Vec<Component>,
) -> Result<(), String> {
    let display = format!("{prefix}{fs_path}");
    let dir = fs_path.rfind('/').map_or("/", |i| &fs_path[..=i]);
    let mut logical = String::new();
    let mut start = 0;
    for (n, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = n + 1;
        }
        let line = match raw.find(" #") {
            Some(i) => &raw[..i],
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        if let Some(cont) = line.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        // Errors in an included file name that file; the note names the top one.
        let here = |m: String| match fs_path == input.fs_path {
            true => format!("line {start}: {m}"),
            false => format!("{display}: line {start}: {m}"),
        };
        if let Some(file) = include_target(entry) {
            let target = crate::unpack::tree::normalize(&format!("{dir}{file}"));
            if !seen.insert(target.clone()) {
                continue;
            }
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(here(format!(
                    "includes nest deeper than {MAX_INCLUDE_DEPTH}"
                )));
            }
            let data = input
                .sibling(&target)
                .ok_or_else(|| here(format!("included file {file} is not in the target")))?;
            let text = std::str::from_utf8(data)
                .map_err(|_| here(format!("included file {file} is not UTF-8")))?;
            read(input, prefix, &target, text, depth + 1, seen, out)?;
            continue;
        }
        if entry.starts_with('-') {
            continue; // --index-url, -c constraints, -e editable checkouts, ...
        }
        out.push(requirement(entry, &display, start).map_err(here)?);
    }
    Ok(())
}

fn include_target(entry: &str) -> Option<&str> {
    let rest = entry
        .strip_prefix("-r")
        .or_else(|| entry.strip_prefix("--requirement"))?;
    let rest = rest.trim_start_matches('=').trim();
    (!rest.is_empty()).then_some(rest)
}

fn requirement(entry: &str, path: &str, line: usize) -> Result<Component, String> {
    let spec = entry.split(';').next().unwrap_or(entry);
    let spec = spec.split(" --").next().unwrap_or(spec).trim();
    // `name @ https://...` (PEP 508 direct reference): no version to check,
    // so unpinned, with the URL kept as what was asked for.
    if let Some((name, url)) = spec.split_once(" @ ") {
        return Ok(unpinned_url(name.trim(), url.trim(), path, line));
    }
    if spec.contains("://") {
        return Err(format!(
            "bare URL {spec:?}: write `name @ URL` so the project is known"
        ));
    }
    let name_end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(spec.len());
    let raw_name = &spec[..name_end];
    if raw_name.is_empty() {
        return Err(format!("expected a requirement, found {spec:?}"));
    }
    let mut rest = spec[name_end..].trim();
    if rest.starts_with('[') {
        rest = rest.split_once(']').map_or("", |(_, r)| r).trim();
    }
    let name = pypi_name(raw_name);
    let pin = rest
        .strip_prefix("===")
        .or_else(|| rest.strip_prefix("=="))
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.contains(['*', ',', '<', '>', '!', '~']));
    let (version, unpinned) = match pin {
        Some(v) => (v.to_string(), false),
        None if rest.is_empty() => ("*".to_string(), true),
        None => (rest.replace(' ', ""), true),
    };
    let purl = if unpinned {
        crate::purl::build("pypi", None, &name, "", &[])
    } else {
        crate::purl::build("pypi", None, &name, &version, &[])
    };
    let mut c = Package {
        name,
        version,
        purl,
        ecosystem: "pypi",
        osv: "PyPI",
        method: "requirements",
        path,
        line,
    }
    .component();
    // Direct or transitive is unknown: pip-compile output pins both alike.
    c.unpinned = unpinned;
    Ok(c)
}

fn unpinned_url(raw_name: &str, url: &str, path: &str, line: usize) -> Component {
    let raw_name = raw_name.split('[').next().unwrap_or(raw_name);
    let name = pypi_name(raw_name);
    let mut c = Package {
        purl: crate::purl::build("pypi", None, &name, "", &[]),
        name,
        version: url.to_string(),
        ecosystem: "pypi",
        osv: "PyPI",
        method: "requirements",
        path,
        line,
    }
    .component();
    c.unpinned = true;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(files: &[(&str, &str)]) -> Result<Vec<String>, String> {
        let lookup = |p: &str| {
            files
                .iter()
                .find(|(n, _)| *n == p)
                .map(|(_, t)| t.as_bytes())
        };
        let input = Input {
            path: "dir/req/requirements.txt",
            fs_path: "/req/requirements.txt",
            data: files[0].1.as_bytes(),
            siblings: &lookup,
            distro: None,
        };
        Ok(parse(&input)?
            .iter()
            .map(|c| {
                format!(
                    "{} {} {} {}",
                    c.purl, c.version, c.unpinned, c.sources[0].evidence
                )
            })
            .collect())
    }

    #[test]
    fn pins_hashes_includes_and_unpinned() {
        let main = "# top\nRequests==2.19.0 \\\n    --hash=sha256:abc\n-r ../base.txt\nflask>=2.0 ; python_version>'3'\nnumpy\n";
        let got = run(&[
            ("/req/requirements.txt", main),
            ("/base.txt", "Jinja2===2.10\n"),
        ])
        .unwrap();
        assert_eq!(
            got,
            vec![
                "pkg:pypi/requests@2.19.0 2.19.0 false line 2: requests 2.19.0",
                "pkg:pypi/jinja2@2.10 2.10 false line 1: jinja2 2.10",
                "pkg:pypi/flask >=2.0 true line 5: flask >=2.0",
                "pkg:pypi/numpy * true line 6: numpy *",
            ]
        );
    }

    #[test]
    fn direct_references_are_unpinned() {
        let got = run(&[(
            "/req/requirements.txt",
            "Foo[x] @ https://example.org/foo-1.0.tar.gz\n",
        )])
        .unwrap();
        assert_eq!(
            got,
            [
                "pkg:pypi/foo https://example.org/foo-1.0.tar.gz true line 1: foo https://example.org/foo-1.0.tar.gz"
            ]
        );
        assert_eq!(
            run(&[("/req/requirements.txt", "https://example.org/foo.whl\n")]).unwrap_err(),
            "line 1: bare URL \"https://example.org/foo.whl\": write `name @ URL` so the project is known"
        );
    }

    #[test]
    fn a_missing_include_names_the_line() {
        assert_eq!(
            run(&[("/req/requirements.txt", "a==1\n-r nope.txt\n")]).unwrap_err(),
            "line 2: included file nope.txt is not in the target"
        );
    }
}
