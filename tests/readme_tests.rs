//! The README backs its claims with test names (the interoperability
//! matrix, the failure behaviour table): every such name must be a test
//! that exists, so a renamed or deleted test cannot leave a claim behind.

use std::path::Path;

/// Backticked snake_case names with at least three underscores: test
/// names, not config fields or commands.
fn test_names(readme: &str) -> Vec<&str> {
    readme
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.matches('_').count() >= 4
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

fn sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_test_the_readme_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut code = String::new();
    sources(&root.join("src"), &mut code);
    sources(&root.join("tests"), &mut code);
    let names = test_names(&readme);
    assert!(names.len() >= 30, "only {} test names found", names.len());
    let missing: Vec<&&str> = names
        .iter()
        .filter(|name| !code.contains(&format!("fn {name}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "the README names tests that do not exist: {missing:?}"
    );
}

#[test]
fn names_are_found_in_backticks_only() {
    let text = "see `a_b_c_d_e`, `lan`, `dead_node_reclaim_time` and a_b_c_d_f";
    assert_eq!(test_names(text), ["a_b_c_d_e"]);
}
