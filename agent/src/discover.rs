//! The files the inputs' globs match now, and where a file that left its path went.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Input;
use crate::identity::Inode;

/// A file a glob matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub input: String,
    pub path: PathBuf,
    pub size: u64,
}

/// Every regular file the inputs' paths match and their excludes (matched against the file
/// name) do not, by inode. A file two inputs match belongs to the first.
pub fn discover(inputs: &[Input]) -> BTreeMap<Inode, Found> {
    let mut out = BTreeMap::new();
    for input in inputs {
        for pattern in &input.paths {
            let Ok(paths) = glob::glob(pattern) else { continue };
            for path in paths.flatten() {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if input.exclude.iter().any(|x| x.matches(&name)) {
                    continue;
                }
                let Ok(meta) = std::fs::metadata(&path) else { continue };
                if !meta.is_file() {
                    continue;
                }
                out.entry(Inode::of(&meta)).or_insert(Found { input: input.name.clone(), path, size: meta.len() });
            }
        }
    }
    out
}

/// The file with `inode` in the folder of `path` (a file renamed by a rotation), if any.
pub fn find_in_folder(path: &Path, inode: Inode) -> Option<PathBuf> {
    let dir = path.parent()?;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        if let Ok(meta) = entry.metadata()
            && meta.is_file()
            && Inode::of(&meta) == inode
        {
            return Some(entry.path());
        }
    }
    None
}

/// The folders to watch for changes: each glob's longest prefix without wildcards.
pub fn folders(inputs: &[Input]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for pattern in inputs.iter().flat_map(|i| &i.paths) {
        let mut dir = PathBuf::new();
        for part in Path::new(pattern).components() {
            let s = part.as_os_str().to_string_lossy();
            if s.contains(['*', '?', '[']) {
                break;
            }
            dir.push(part);
        }
        // A pattern without wildcards names a file: watch its folder.
        if dir.as_os_str() == pattern.as_str() {
            dir.pop();
        }
        if !out.contains(&dir) {
            out.push(dir);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_inputs;

    #[test]
    fn globs_excludes_and_renamed_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in ["a.log", "b.log", "c.log.gz", "notes.txt"] {
            std::fs::write(d.join(name), b"x\n").unwrap();
        }
        let text = format!(
            "[[input]]\nname = \"logs\"\npaths = [\"{0}/*.log*\"]\nexclude = [\"*.gz\"]\n\
             [[input]]\nname = \"all\"\npaths = [\"{0}/*\"]\n",
            d.display()
        );
        let inputs = parse_inputs(&text).unwrap();
        let found = discover(&inputs);
        let mut names: Vec<(String, String)> = found
            .values()
            .map(|f| (f.input.clone(), f.path.file_name().unwrap().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        let want = [("all", "c.log.gz"), ("all", "notes.txt"), ("logs", "a.log"), ("logs", "b.log")];
        assert_eq!(names, want.map(|(a, b)| (a.to_string(), b.to_string())));

        let inode = Inode::of(&std::fs::metadata(d.join("a.log")).unwrap());
        std::fs::rename(d.join("a.log"), d.join("a.log.1")).unwrap();
        assert_eq!(find_in_folder(&d.join("a.log"), inode), Some(d.join("a.log.1")));
        assert_eq!(folders(&inputs), vec![d.to_path_buf()]);
    }
}
