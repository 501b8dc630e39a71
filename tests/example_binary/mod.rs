//! Locating the example binaries that `cargo test` builds, for tests that
//! run them as processes.

#![allow(dead_code)] // not every test crate uses every helper

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// `target/<profile>/examples/<name>`, next to the running test's `deps`
/// folder; fails clearly if it is missing or older than its sources.
pub fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the running test binary");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "example binary {} is missing ({e}); build it with `cargo build --example {name}` \
                 (a plain `cargo test` builds it, `cargo test --test <one>` does not)",
                bin.display()
            )
        });
    if let Some(newer) = source_newer_than(&bin, built) {
        panic!(
            "example binary {} is older than {}; rebuild it with `cargo build --example {name}`",
            bin.display(),
            newer.display()
        );
    }
    bin
}

/// A source file the binary was built from (as its cargo dep-info file
/// `<binary>.d` lists them) that was modified after the build, if any.
pub fn source_newer_than(bin: &Path, built: SystemTime) -> Option<PathBuf> {
    let dep_info = std::fs::read_to_string(bin.with_extension("d")).ok()?;
    let (_, sources) = dep_info.lines().next()?.split_once(": ")?;
    dep_info_paths(sources).into_iter().find(|path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_or(true, |modified| modified > built)
    })
}

/// The space-separated paths of a dep-info line (`\\ ` is a space inside a
/// path).
fn dep_info_paths(line: &str) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&' ') {
            current.push(' ');
            chars.next();
        } else if c == ' ' {
            if !current.is_empty() {
                paths.push(PathBuf::from(std::mem::take(&mut current)));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        paths.push(PathBuf::from(current));
    }
    paths
}
