//! The README's quick start is `examples/quickstart.rs`, word for word, and
//! it works: two of them form a cluster, and Ctrl-C (SIGINT) makes one
//! leave gracefully (the other sees it *left*, not failed) and exit 0.

mod example_binary;

use example_binary::ExampleProcess;

#[test]
fn the_readme_shows_the_example() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/quickstart.rs");
    let section = readme
        .split("## Quick start")
        .nth(1)
        .expect("README has a Quick start section");
    let block = section
        .split("```rust,no_run\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the Quick start has a Rust block");
    assert_eq!(
        block, example,
        "README quick start != examples/quickstart.rs"
    );
}

#[test]
fn ctrl_c_leaves_gracefully_and_exits() {
    let mut seed = ExampleProcess::start("quickstart", &["qs-seed", "127.0.0.1:0"]);
    let line = seed.expect("listening on");
    let addr = line.rsplit(' ').next().expect("an address").to_owned();
    let mut joiner = ExampleProcess::start("quickstart", &["qs-joiner", "127.0.0.1:0", &addr]);
    joiner.expect("join: qs-seed");
    seed.expect("join: qs-joiner");

    joiner.interrupt();
    joiner.expect("qs-joiner left and shut down");
    assert!(joiner.wait_exit().success());
    seed.expect("leave (left): qs-joiner");

    seed.interrupt();
    seed.expect("qs-seed left and shut down");
    assert!(seed.wait_exit().success());
}
