//! Two `swimlist::protocol::Membership` state machines driven by hand: no
//! threads, sockets or clock. Inputs (`handle_*`, `join`, …) come with the
//! time; outputs are actions (`poll_action`), news for the application
//! (`poll_notification`) and questions for a host that answers them
//! (`poll_query`; none here). b joins a, a sends b a message, b crashes:
//! half a minute of protocol in milliseconds (`cargo run --example sans_io`).

use std::collections::BTreeMap;
use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use swimlist::protocol::{Action, DialError, DialId, HostQueries, Instant, JoinTarget};
use swimlist::protocol::{Membership, Notification, StreamId};
use swimlist::Config;

// The addresses the machines advertise; nothing is bound to them.
const A: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 7946));
const B: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 7946));

/// The machines, by address, and the network between them. A machine that
/// is not here (crashed) gets no time, and nothing sent to it arrives.
#[derive(Default)]
struct World {
    now: Instant,
    machines: BTreeMap<SocketAddr, Membership>,
    /// Every stream opened, by `StreamId`: who dialled, which dial.
    streams: Vec<(SocketAddr, DialId)>,
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
            // The listener gets the request; the reply, if one is expected,
            // comes as an `Action::Reply`. (With nobody listening the dial
            // is lost; the dialer's machine gives up on it in time.)
            Action::Dial {
                id,
                to,
                bytes,
                expect_reply,
                ..
            } => {
                let stream = StreamId::new(self.streams.len() as u64);
                self.streams.push((from, id));
                if let Some(listener) = self.machines.get_mut(&to) {
                    listener.handle_stream_request(now, from, stream, &bytes);
                    if !expect_reply {
                        self.reply(stream, Ok(None));
                    }
                }
            }
            Action::Reply { stream, bytes } => {
                self.reply(stream, bytes.map(Some).ok_or(DialError::ClosedBeforeReply));
            }
            Action::Event(event) => log(now, &name, event),
            Action::JoinFinished { joined, .. } => log(now, &name, format!("joined {joined} node")),
            _ => {}
        }
    }

    /// Hands the outcome of `stream` to the machine that dialled it.
    fn reply(&mut self, stream: StreamId, result: Result<Option<Vec<u8>>, DialError>) {
        let (dialer, id) = self.streams[stream.get() as usize];
        if let Some(dialer) = self.machines.get_mut(&dialer) {
            dialer.handle_dial_reply(self.now, id, result);
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

/// A machine named `name` at `addr`: no metadata, no questions for a host.
/// A fixed seed for its random choices makes every run the same.
fn machine(name: &str, addr: SocketAddr, seed: u8) -> Result<Membership, Box<dyn Error>> {
    let config = Config::local().with_name(name);
    let (meta, asks, start) = (Vec::new(), HostQueries::none(), Instant::ZERO);
    Ok(Membership::new(
        config, meta, asks, addr, [seed; 32], start,
    )?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut world = World::default();
    let now = world.now;
    let mut b = machine("b", B, 2)?;
    let a = JoinTarget {
        addr: A,
        name: None,
    };
    b.join(now, &[a]);
    world.machines = BTreeMap::from([(A, machine("a", A, 1)?), (B, b)]);
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
