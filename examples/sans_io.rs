//! Two `swimlist::protocol::Membership` state machines driven by hand: no
//! threads, sockets or clock. Inputs (`handle_*`, `join`, …) come with the
//! time. Each consumer of output polls its own queue: the network
//! (`poll_transmit`), the event channel (`poll_event`), waiting callers
//! (`poll_completion`), the application (`poll_notification`) and a host
//! that answers questions (`poll_query`; none here).
//!
//! b joins a, a sends b a message, b crashes: half a minute of protocol in
//! milliseconds (`cargo run --example sans_io`).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::{collections::BTreeMap, error::Error, time::Duration};

use swimlist::protocol::{Completion, DialError, DialId, HostQueries, Instant, JoinTarget};
use swimlist::protocol::{Membership, Notification, StreamId, Transmit};
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
    /// Every stream opened, by `StreamId`: dialler, dial, reply expected.
    streams: Vec<(SocketAddr, DialId, bool)>,
}

impl World {
    /// Carries a transmit of the machine at `from` across the network.
    fn carry(&mut self, from: SocketAddr, transmit: Transmit) {
        let now = self.now;
        match transmit {
            Transmit::Datagram { to, bytes } => {
                if let Some(receiver) = self.machines.get_mut(&to) {
                    receiver.handle_packet(now, from, &bytes);
                }
            }
            // The listener answers with a `Transmit::Reply`. (With nobody
            // listening the dial is lost; the dialer gives up on it in time.)
            Transmit::Dial {
                id,
                to,
                bytes,
                expect_reply,
                ..
            } => {
                let stream = StreamId::new(self.streams.len() as u64);
                self.streams.push((from, id, expect_reply));
                if let Some(listener) = self.machines.get_mut(&to) {
                    listener.handle_stream_request(now, from, stream, &bytes);
                }
            }
            Transmit::Reply { stream, bytes } => {
                let (dialer, id, expect_reply) = self.streams[stream.get() as usize];
                let reply = match expect_reply {
                    true => bytes.map(Some).ok_or(DialError::ClosedBeforeReply),
                    false => Ok(None),
                };
                if let Some(dialer) = self.machines.get_mut(&dialer) {
                    dialer.handle_dial_reply(now, id, reply);
                }
            }
        }
    }

    /// Does what the machines ask until they ask for nothing more, then
    /// moves the clock to the next timer; stops at `end`.
    fn run_until(&mut self, end: Instant) {
        loop {
            let mut sent = Vec::new();
            for (&addr, m) in &mut self.machines {
                sent.extend(std::iter::from_fn(|| m.poll_transmit()).map(|t| (addr, t)));
                // A real driver passes each output to its consumer; this one
                // prints events, finished joins and user messages.
                while let Some(event) = m.poll_event() {
                    log(self.now, m.name(), event);
                }
                while let Some(done) = m.poll_completion() {
                    if let Completion::Join { joined, .. } = done {
                        log(self.now, m.name(), format!("joined {joined} node"));
                    }
                }
                while let Some(notification) = m.poll_notification() {
                    if let Notification::Message(msg) = notification {
                        let msg = String::from_utf8_lossy(&msg);
                        log(self.now, m.name(), format!("received {msg:?}"));
                    }
                }
            }
            if !sent.is_empty() {
                for (from, transmit) in sent {
                    self.carry(from, transmit);
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
    let (config, asks) = (Config::local().with_name(name), HostQueries::none());
    let (meta, rng_seed, start) = (Vec::new(), [seed; 32], Instant::ZERO);
    Ok(Membership::new(config, meta, asks, addr, rng_seed, start)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut world = World::default();
    let after = |secs| Instant::ZERO + Duration::from_secs(secs);
    let mut b = machine("b", B, 2)?;
    b.join(world.now, &[JoinTarget::from(A)]);
    world.machines = BTreeMap::from([(A, machine("a", A, 1)?), (B, b)]);
    world.run_until(after(5));

    let a = world.machines.get_mut(&A).ok_or("a is missing")?;
    a.send_best_effort(B, "b", b"hello, b")?;
    world.run_until(after(6));

    log(world.now, "b", "crashes");
    world.machines.remove(&B);
    world.run_until(after(30));
    match world.machines[&A].num_members() {
        1 => Ok(()),
        _ => Err("a still counts b as a member".into()),
    }
}
