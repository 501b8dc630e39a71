//! The protocol core is a pure state machine: its sources must not read a
//! clock, start threads, touch sockets or take locks. (Addresses as values,
//! `SocketAddr`, and `Duration` arithmetic are fine.)

use std::path::Path;

const FORBIDDEN: [&str; 14] = [
    "std::time::Instant",
    "SystemTime",
    "Instant::now",
    "std::thread",
    "thread::sleep",
    "UdpSocket",
    "TcpStream",
    "TcpListener",
    "mio::",
    "socket2",
    "crossbeam",
    "parking_lot",
    "Mutex",
    "thread_rng",
];

#[test]
fn protocol_core_has_no_clock_threads_sockets_or_locks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/protocol");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        // Only the core's files: its test module is the `tests` directory.
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for (line_no, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in FORBIDDEN {
                assert!(
                    !code.contains(word),
                    "{}:{}: `{word}` in the sans-IO core: {line}",
                    path.display(),
                    line_no + 1
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} files found in {dir:?}");
}
