//! Dependencies point one way: `wire` ← `config`/`node` (plain data) ←
//! `protocol` ← `delegate` ← `runtime` ← the handle (`memberlist`). A
//! layer's code (comments and doc links aside; its own test modules
//! excepted) names no module above it.

use std::path::{Path, PathBuf};

/// Each layer, and the modules above it that it must not name.
const LAYERS: [(&str, &[&str]); 7] = [
    (
        "wire",
        &[
            "config",
            "node",
            "protocol",
            "delegate",
            "runtime",
            "memberlist",
        ],
    ),
    (
        "config.rs",
        &["protocol", "delegate", "runtime", "memberlist"],
    ),
    (
        "node.rs",
        &["protocol", "delegate", "runtime", "memberlist"],
    ),
    ("protocol", &["delegate", "runtime", "memberlist"]),
    ("delegate.rs", &["runtime", "memberlist"]),
    ("runtime", &["memberlist", "Memberlist", "Builder"]),
    ("memberlist.rs", &[]),
];

/// The `.rs` files of `path` (a file, or a directory searched through),
/// leaving out test modules (`tests` directories and files).
fn sources(path: &Path, found: &mut Vec<PathBuf>) {
    if path.is_file() {
        found.push(path.to_owned());
        return;
    }
    for entry in std::fs::read_dir(path).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().and_then(|s| s.to_str());
        if stem == Some("tests") || stem == Some("test_access") {
            continue;
        }
        if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
            sources(&path, found);
        }
    }
}

/// The code of `source` without comments and without `#[cfg(test)]`
/// modules at its end (the crate keeps those last).
fn code_of(source: &str) -> Vec<(usize, &str)> {
    let end = source
        .find("#[cfg(test)]\nmod tests")
        .unwrap_or(source.len());
    source[..end]
        .lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.split("//").next().unwrap_or_default()))
        .collect()
}

#[test]
fn no_layer_names_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (layer, above) in LAYERS {
        let mut files = Vec::new();
        sources(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "no sources for {layer}");
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for (line_no, code) in code_of(&source) {
                // Grouped paths would hide the module from this check.
                if code.contains("crate::{") {
                    wrong.push(format!("{}:{line_no}: grouped `crate::{{`", file.display()));
                }
                for module in above {
                    if code.contains(&format!("crate::{module}")) {
                        wrong.push(format!("{}:{line_no}: {}", file.display(), code.trim()));
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "upward dependencies:\n{}",
        wrong.join("\n")
    );
    assert!(checked >= 40, "only {checked} files checked");
}

/// The check finds what it looks for: a line naming the runtime, as the
/// protocol must not.
#[test]
fn the_check_sees_an_upward_name() {
    let code = code_of("use crate::runtime::Runtime; // a comment\n");
    assert!(code[0].1.contains("crate::runtime"));
    let commented = code_of("// see [`x`](crate::runtime::Runtime)\n");
    assert!(!commented[0].1.contains("crate::runtime"));
}
