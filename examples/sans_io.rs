//! The protocol with no threads, sockets or clock: two
//! `swimlist::protocol::Membership` state machines driven by hand.
//!
//! A machine takes inputs (`handle_packet`, `handle_stream_request`,
//! `handle_dial_reply`, `handle_timeout`, calls such as `join`), each with
//! the current time, and answers with actions (`poll_action`), things to
//! tell the application (`poll_notification`) and, if the host said it
//! would answer them, questions (`poll_query`; none here). A tiny loop
//! plays the network, delivering every datagram and stream at once, and a
//! fake clock jumps from timer to timer: half a minute of protocol runs in
//! milliseconds, the same way every time. b joins a, a sends b a message,
//! b crashes; it prints what the machines report, and ends by itself:
//!
//!     cargo run --example sans_io

use std::collections::BTreeMap;
use std::error::Error;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use swimlist::protocol::{
    Action, DialError, DialId, HostQueries, Instant, JoinTarget, Membership, Notification, StreamId,
};
use swimlist::Config;

// The addresses the machines advertise; nothing is bound to them.
const A: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 7946));
const B: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 7946));

/// The machines, by address, and the network between them. A machine that
/// is not here (crashed) gets no time, and nothing sent to it arrives.
struct World {
    now: Instant,
    machines: BTreeMap<SocketAddr, Membership>,
    /// Streams a listener has yet to answer: who dialled, which dial,
    /// whether a reply is expected.
    open: BTreeMap<StreamId, (SocketAddr, DialId, bool)>,
    streams: u64,
}

impl World {
    /// Carries out an action of the machine at `from`.
    fn act(&mut self, from: SocketAddr, action: Action) {
        let (now, name) = (self.now, self.machines[&from].name().to_owned());
        match action {
            Action::Transmit { to, bytes } => {
                if let Some(receiver) = self.machines.get_mut(&to) {
                    receiver.handle_packet(now, from, &bytes);
                }
            }
            // A stream: the listener gets the request (its reply comes as
            // an `Action::Reply`), unless nobody listens there.
            Action::Dial {
                id,
                to,
                bytes,
                expect_reply,
                ..
            } => match self.machines.get_mut(&to) {
                Some(listener) => {
                    self.streams += 1;
                    let stream = StreamId::new(self.streams);
                    self.open.insert(stream, (from, id, expect_reply));
                    listener.handle_stream_request(now, from, stream, &bytes);
                }
                None => {
                    let refused = DialError::Connect(ErrorKind::ConnectionRefused);
                    let dialer = self.machines.get_mut(&from).expect("acting machine");
                    dialer.handle_dial_reply(now, id, Err(refused));
                }
            },
            Action::Reply { stream, bytes } => {
                let Some((dialer, id, expect_reply)) = self.open.remove(&stream) else {
                    return;
                };
                let reply = match bytes {
                    _ if !expect_reply => Ok(None),
                    Some(bytes) => Ok(Some(bytes)),
                    None => Err(DialError::ClosedBeforeReply),
                };
                if let Some(dialer) = self.machines.get_mut(&dialer) {
                    dialer.handle_dial_reply(now, id, reply);
                }
            }
            Action::Event(event) => log(now, &name, event),
            Action::JoinFinished { joined, .. } => log(now, &name, format!("joined {joined} node")),
            Action::BroadcastDone(_) => {}
        }
    }

    /// Does what the machines ask until they ask for nothing more, then
    /// moves the clock to the next timer; stops at `end`.
    fn run_until(&mut self, end: Instant) {
        loop {
            let mut asked = Vec::new();
            for (&addr, machine) in &mut self.machines {
                asked.extend(std::iter::from_fn(|| machine.poll_action()).map(|a| (addr, a)));
                // A real driver hands every notification to the
                // application; this one shows user messages.
                while let Some(notification) = machine.poll_notification() {
                    if let Notification::Message(msg) = notification {
                        let msg = String::from_utf8_lossy(&msg);
                        log(self.now, machine.name(), format!("received {msg:?}"));
                    }
                }
            }
            if !asked.is_empty() {
                for (addr, action) in asked {
                    self.act(addr, action);
                }
                continue;
            }
            let next_timer = self.machines.values().filter_map(Membership::poll_timeout);
            match next_timer.min() {
                Some(at) if at <= end => {
                    self.now = at;
                    for machine in self.machines.values_mut() {
                        machine.handle_timeout(at);
                    }
                }
                _ => break,
            }
        }
        self.now = end;
    }
}

fn log(now: Instant, name: &str, what: impl std::fmt::Display) {
    let secs = (now - Instant::ZERO).as_secs_f64();
    println!("[{secs:6.3} s] {name}: {what}");
}

/// A machine named `name` that believes it is reachable at `addr`.
fn machine(name: &str, addr: SocketAddr, seed: u8) -> Result<Membership, Box<dyn Error>> {
    let config = Config::local().with_name(name);
    // The seed drives the machine's random choices: a fixed one makes every
    // run the same.
    // No metadata, and no questions: no application state in push/pulls,
    // every node admitted.
    let (meta, asks) = (Vec::new(), HostQueries::none());
    Ok(Membership::new(
        config,
        meta,
        asks,
        addr,
        [seed; 32],
        Instant::ZERO,
    )?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let now = Instant::ZERO;
    let a = machine("a", A, 1)?;
    let mut b = machine("b", B, 2)?;
    let a_target = JoinTarget {
        addr: A,
        name: None,
    };
    b.join(now, &[a_target]);
    let machines = BTreeMap::from([(A, a), (B, b)]);
    let mut world = World {
        now,
        machines,
        open: BTreeMap::new(),
        streams: 0,
    };
    let after = |secs| now + Duration::from_secs(secs);
    world.run_until(after(5));

    let a = world.machines.get_mut(&A).ok_or("a is missing")?;
    a.send_best_effort(B, "b", b"hello, b")?;
    world.run_until(after(6));

    log(world.now, "b", "crashes");
    world.machines.remove(&B);
    world.run_until(after(30));
    if world.machines[&A].num_members() != 1 {
        return Err("a still counts b as a member".into());
    }
    Ok(())
}
