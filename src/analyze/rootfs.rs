//! A root file system as the posture checks see it: the entries of one file
//! system of the target, looked up by absolute path (symlinks followed
//! inside that root), with their text when they are text.

use crate::unpack::Unpacked;
use crate::unpack::tree::{Meta, VirtualFile};

/// One file system of the target.
pub struct RootFs<'a> {
    pub index: usize,
    pub files: &'a [VirtualFile],
    pub unpacked: &'a Unpacked,
    /// Indices of this file system's entries, in tree order.
    pub entries: Vec<usize>,
}

/// Every file system of the target (a squashfs, a cpio initramfs, a rootfs
/// directory given on the command line).
pub fn all(unpacked: &Unpacked) -> Vec<RootFs<'_>> {
    let mut out: Vec<RootFs> = (0..unpacked.filesystems.len())
        .map(|index| RootFs {
            index,
            files: &unpacked.files,
            unpacked,
            entries: Vec::new(),
        })
        .collect();
    for (i, f) in unpacked.files.iter().enumerate() {
        if let Some(fs) = &f.fs
            && let Some(root) = out.get_mut(fs.fs)
        {
            root.entries.push(i);
        }
    }
    out
}

impl<'a> RootFs<'a> {
    /// The regular file at `path`, symlinks followed.
    pub fn file(&self, path: &str) -> Option<&'a VirtualFile> {
        let ns = &self.unpacked.filesystems.get(self.index)?.namespace;
        ns.resolve(self.files, path).map(|i| &self.files[i])
    }

    /// The file at `path` as UTF-8 text (lossy), if it is a regular file.
    pub fn text(&self, path: &str) -> Option<(&'a VirtualFile, String)> {
        let f = self.file(path)?;
        Some((f, String::from_utf8_lossy(&f.data).into_owned()))
    }

    /// Entries with their absolute path in this file system.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a VirtualFile)> + '_ {
        self.entries.iter().filter_map(|&i| {
            let f = &self.files[i];
            f.fs.as_ref().map(|p| (p.path.as_str(), f))
        })
    }

    /// Regular files directly in directory `dir` (`/etc/init.d`), by name.
    pub fn list(&self, dir: &str) -> Vec<(&'a str, &'a VirtualFile)> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let mut out: Vec<(&str, &VirtualFile)> = self
            .iter()
            .filter(|(p, _)| p.starts_with(&prefix) && !p[prefix.len()..].contains('/'))
            .collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// Mode and owner of the entry at `path` (not following a final symlink).
    pub fn meta(&self, path: &str) -> Option<Meta> {
        self.iter()
            .find(|(p, _)| *p == path)
            .and_then(|(_, f)| f.meta)
    }
}

/// Lines of a text file with their 1-based numbers, comments (`#` to the
/// end of the line, outside quotes) and surrounding blanks removed; empty
/// lines skipped.
pub fn config_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = strip_comment(line).trim();
        (!line.is_empty()).then_some((i + 1, line))
    })
}

/// `line` up to an unquoted `#` that starts a word (shell and most configs).
pub fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_go_quotes_stay() {
        assert_eq!(strip_comment("a b # c"), "a b ");
        assert_eq!(strip_comment("echo '# not' # yes"), "echo '# not' ");
        assert_eq!(strip_comment("url=http://x/#frag"), "url=http://x/#frag");
        let lines: Vec<_> = config_lines("# c\n\nx = 1 # one\n  y\n").collect();
        assert_eq!(lines, vec![(3, "x = 1"), (4, "y")]);
    }
}
