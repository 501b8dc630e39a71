//! Drives the `node` example (tests/agent/node.rs) as separate processes over
//! its stdin/stdout contract: three nodes on 127.0.0.1 join, see each
//! other, exchange broadcasts, reliable and best-effort messages and
//! push/pull state, update metadata, leave and shut down; a node with an
//! encryption key and one without cannot join each other.
//!
//! `cargo test` builds the examples; with `--test node_agent` alone run
//! `cargo build --examples` first.

mod agent;
mod example_binary;

use std::process::Command;

use agent::{rust_agent, Agent};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;

fn names(members: &Value) -> Vec<String> {
    let mut names: Vec<String> = members["members"]
        .as_array()
        .expect("members is a list")
        .iter()
        .map(|m| m["name"].as_str().expect("member name").to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn three_nodes_over_the_agent_contract() {
    let bin = rust_agent();
    let local = ["--config", "local"];

    let mut a = Agent::spawn(
        &bin,
        "a",
        &[&local[..], &["--meta", "meta-a", "--state", "state-a"]].concat(),
    );
    let port_a = a.ready();
    let seed = format!("127.0.0.1:{port_a}");

    // Different compression modes: every node reads them all.
    let mut b = Agent::spawn(
        &bin,
        "b",
        &[
            &local[..],
            &[
                "--join",
                &seed,
                "--state",
                "state-b",
                "--compression",
                "none",
            ],
        ]
        .concat(),
    );
    let mut c = Agent::spawn(
        &bin,
        "c",
        &[
            &local[..],
            &[
                "--join",
                &seed,
                "--state",
                "state-c",
                "--compression",
                "lz4",
            ],
        ]
        .concat(),
    );
    let port_b = b.ready();
    let port_c = c.ready();
    for node in [&mut b, &mut c] {
        let joined = node.joined();
        assert_eq!(joined["n"], 1, "{}: {joined}", node.name);
        assert!(joined.get("err").is_none(), "{}: {joined}", node.name);
    }

    // The joiners' push/pull state reaches the node they joined.
    for state in ["state-b", "state-c"] {
        let merge = a.wait(&format!("merge of {state:?}"), |v| {
            v["ev"] == "merge" && v["data"] == state
        });
        assert_eq!(merge["join"], true, "{merge}");
    }

    // Everyone sees everyone, itself included.
    let ports = [("a", port_a), ("b", port_b), ("c", port_c)];
    for node in [&mut a, &mut b, &mut c] {
        for (name, port) in ports {
            let join = node.event("join", name);
            assert_eq!(join["port"], port, "{}: {join}", node.name);
        }
        let members = node.command("members", "members");
        assert_eq!(names(&members), ["a", "b", "c"], "{}: {members}", node.name);
        for m in members["members"].as_array().expect("list") {
            assert_eq!(m["state"], "alive", "{}: {members}", node.name);
            assert_eq!(m["addr"], "127.0.0.1", "{}: {members}", node.name);
            let expected = ports.iter().find(|(n, _)| m["name"] == *n).map(|p| p.1);
            assert_eq!(m["port"].as_u64(), expected.map(u64::from), "{members}");
            let meta = if m["name"] == "a" { "meta-a" } else { "" };
            assert_eq!(m["meta"], meta, "{}: {members}", node.name);
        }
    }

    // A broadcast reaches the others; messages keep their spaces.
    a.send("broadcast hello everyone");
    b.msg("hello everyone");
    c.msg("hello everyone");

    // Reliable and best-effort messages reach the named node.
    b.send("send c reliable hello");
    c.msg("reliable hello");
    c.send("sendbe a best effort hello");
    a.msg("best effort hello");

    // Failing commands say so and the agent carries on.
    let err = b.command("send nobody x", "error");
    assert_eq!(err["cmd"], "send", "{err}");
    assert!(err["err"].as_str().is_some_and(|e| !e.is_empty()), "{err}");
    let err = b.command("frobnicate", "error");
    assert_eq!(err["cmd"], "frobnicate", "{err}");
    let stats = b.command("stats", "stats");
    assert!(
        stats["packets_in"]["count"].as_u64().is_some_and(|n| n > 0),
        "{stats}"
    );
    assert!(
        stats["streams_out"].as_u64().is_some_and(|n| n > 0),
        "{stats}"
    );

    // New metadata is announced as an update.
    c.send("meta meta-c2");
    for node in [&mut a, &mut b] {
        let update = node.wait("update of c", |v| {
            v["ev"] == "update" && v["name"] == "c" && v["meta"] == "meta-c2"
        });
        assert_eq!(update["port"], port_c, "{update}");
    }

    // A graceful leave.
    b.command("leave", "left");
    for node in [&mut a, &mut c] {
        let leave = node.event("leave", "b");
        assert_eq!(leave["reason"], "left", "{}: {leave}", node.name);
    }
    let members = a.command("members", "members");
    assert_eq!(names(&members), ["a", "c"], "{members}");

    // `shutdown`, or the end of input, ends the process cleanly.
    for (node, eof) in [(&mut b, false), (&mut a, false), (&mut c, true)] {
        let status = node.stop(eof);
        assert!(status.success(), "{}: exited with {status}", node.name);
    }
}

#[test]
fn nodes_with_and_without_a_key_cannot_join_each_other() {
    let bin = rust_agent();
    let key = BASE64.encode([7u8; 16]);
    let other = BASE64.encode([9u8; 32]);

    let mut keyed = Agent::spawn(&bin, "keyed", &["--config", "local", "--key", &key]);
    let keyed_seed = format!("127.0.0.1:{}", keyed.ready());
    let mut plain = Agent::spawn(&bin, "plain", &["--config", "local", "--join", &keyed_seed]);
    let plain_seed = format!("127.0.0.1:{}", plain.ready());
    let mut keyed2 = Agent::spawn(
        &bin,
        "keyed2",
        &["--config", "local", "--key", &key, "--join", &plain_seed],
    );
    // Same primary key plus another: joins the keyed node.
    let mut keyed3 = Agent::spawn(
        &bin,
        "keyed3",
        &[
            "--config",
            "local",
            "--key",
            &key,
            "--keys",
            &other,
            "--join",
            &keyed_seed,
        ],
    );

    for node in [&mut plain, &mut keyed2] {
        let joined = node.joined();
        assert_eq!(joined["n"], 0, "{}: {joined}", node.name);
        assert!(
            joined["err"].as_str().is_some_and(|e| !e.is_empty()),
            "{}: {joined}",
            node.name
        );
    }
    let joined = keyed3.joined();
    assert_eq!(joined["n"], 1, "{joined}");
    keyed.event("join", "keyed3");

    let members = plain.command("members", "members");
    assert_eq!(names(&members), ["plain"], "{members}");
    let members = keyed.command("members", "members");
    assert_eq!(names(&members), ["keyed", "keyed3"], "{members}");
}

#[test]
fn bad_flags_exit_with_status_2() {
    let bin = rust_agent();
    for args in [
        &["--port", "not-a-port"][..],
        &["--bogus"],
        &["--key", "!!!"],
        &["--key", "AAAA"],
        &["--config", "moon"],
        &["--compression", "zip"],
        &["--bind", "nowhere"],
        &["--name"],
    ] {
        let out = Command::new(&bin)
            .args(args)
            .output()
            .expect("run the example");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("usage"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
}
