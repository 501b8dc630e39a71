//! A DNS stub resolver for SRV seeds (feature `dns-srv`): a seed written
//! `_service._proto.name`, as Kubernetes headless services and Consul DNS
//! publish them, stands for the targets and ports of its SRV records.
//!
//! It asks each nameserver in turn (those of `/etc/resolv.conf` unless
//! given) one question over UDP, with EDNS(0) room for 4 KiB answers, and
//! asks again over TCP when the answer comes back truncated. Targets are
//! taken from the answer's own address records when it carries them (as
//! both publish them), else resolved by the system resolver for as long as
//! the timeout allows. Every exchange, UDP or TCP, is bounded by the
//! timeout as a whole. Messages are encoded and
//! decoded by `hickory-proto`, which needs no async runtime.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

/// Answers larger than this come back truncated, and are asked again over
/// TCP.
const UDP_PAYLOAD: u16 = 4096;

/// Looks up SRV records; see the module docs.
#[derive(Debug, Clone)]
pub struct StubResolver {
    nameservers: Vec<SocketAddr>,
    timeout: Duration,
}

impl StubResolver {
    /// Asks `nameservers`, in order, giving each exchange `timeout`.
    pub fn new(nameservers: Vec<SocketAddr>, timeout: Duration) -> Self {
        StubResolver {
            nameservers,
            timeout,
        }
    }

    /// The nameservers of `/etc/resolv.conf`, each exchange given
    /// `timeout`.
    pub fn system(timeout: Duration) -> io::Result<Self> {
        let conf = std::fs::read_to_string("/etc/resolv.conf")?;
        let nameservers: Vec<SocketAddr> = conf
            .lines()
            .filter_map(|line| line.trim().strip_prefix("nameserver"))
            .filter_map(|rest| rest.trim().parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect();
        if nameservers.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no nameserver in /etc/resolv.conf",
            ));
        }
        Ok(StubResolver::new(nameservers, timeout))
    }

    /// The addresses `name`'s SRV records point to, best priority first
    /// (then heaviest weight); empty when the name has no SRV records. The
    /// first nameserver that answers decides.
    pub fn lookup_srv(&self, name: &str) -> io::Result<Vec<SocketAddr>> {
        let qname = Name::from_ascii(name).map_err(invalid)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no nameserver");
        for &server in &self.nameservers {
            match self.ask(server, &qname) {
                Ok(answer) => return targets(&answer, Instant::now() + self.timeout),
                Err(e) => last = io::Error::new(e.kind(), format!("{server}: {e}")),
            }
        }
        Err(last)
    }

    /// One question to `server`: over UDP, then over TCP if truncated.
    fn ask(&self, server: SocketAddr, name: &Name) -> io::Result<Message> {
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(name.clone(), RecordType::SRV));
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_PAYLOAD);
        query.set_edns(edns);
        let bytes = query.to_vec().map_err(invalid)?;
        let id = query.metadata.id;

        let local: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(server)?;
        socket.send(&bytes)?;
        // One deadline for the exchange: stray datagrams must not keep
        // extending it.
        let deadline = Instant::now() + self.timeout;
        let mut buf = vec![0; usize::from(UDP_PAYLOAD)];
        let answer = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer"));
            }
            socket.set_read_timeout(Some(left))?;
            let n = socket
                .recv(&mut buf)
                .map_err(|e| timed_out(e, "no answer"))?;
            // Stray datagrams (another question's late answer) are skipped.
            match Message::from_vec(&buf[..n]) {
                Ok(m)
                    if m.metadata.id == id && m.metadata.message_type == MessageType::Response =>
                {
                    break m
                }
                _ => continue,
            }
        };
        if !answer.metadata.truncation {
            return Ok(answer);
        }
        // One deadline for the TCP exchange too: a server that trickles
        // its answer must not hold the lookup a timeout per byte.
        let deadline = Instant::now() + self.timeout;
        let mut stream = TcpStream::connect_timeout(&server, self.timeout)?;
        stream.set_write_timeout(Some(self.timeout))?;
        let len = u16::try_from(bytes.len()).map_err(invalid)?;
        stream.write_all(&len.to_be_bytes())?;
        stream.write_all(&bytes)?;
        let mut len = [0; 2];
        read_exact_by(&mut stream, &mut len, deadline)?;
        let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
        read_exact_by(&mut stream, &mut buf, deadline)?;
        let answer = Message::from_vec(&buf).map_err(invalid)?;
        if answer.metadata.id != id {
            return Err(invalid("answer to another question"));
        }
        Ok(answer)
    }
}

/// Fills `buf` from `stream`, failing once `deadline` has passed.
fn read_exact_by(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "answer too slow"));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e, "answer too slow")),
        }
    }
    Ok(())
}

/// A read that ran into its timeout, as the timeout it is: Unix reports
/// one as `WouldBlock`.
fn timed_out(e: io::Error, what: &'static str) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            io::Error::new(io::ErrorKind::TimedOut, what)
        }
        _ => e,
    }
}

/// The addresses an answer's SRV records point to. Targets the answer
/// gives no address for are resolved by the system resolver until
/// `deadline`; the rest are skipped (an answer may name hundreds).
fn targets(answer: &Message, deadline: Instant) -> io::Result<Vec<SocketAddr>> {
    match answer.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        code => {
            return Err(io::Error::other(format!("nameserver answered {code}")));
        }
    }
    let mut records: Vec<(u16, std::cmp::Reverse<u16>, u16, Name)> = answer
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(srv) => Some((
                srv.priority,
                std::cmp::Reverse(srv.weight),
                srv.port,
                srv.target.clone(),
            )),
            _ => None,
        })
        .collect();
    records.sort();
    let mut seen = BTreeSet::new();
    let mut addrs = Vec::new();
    for (_, _, port, target) in records {
        let given: Vec<IpAddr> = answer
            .additionals
            .iter()
            .filter(|r| r.name == target)
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect();
        let found: Vec<SocketAddr> = if given.is_empty() {
            let host = target.to_ascii();
            if Instant::now() >= deadline {
                log::warn!("SRV target {host}: out of time to resolve it");
                continue;
            }
            match (host.trim_end_matches('.'), port).to_socket_addrs() {
                Ok(resolved) => resolved.collect(),
                Err(e) => {
                    log::warn!("SRV target {host}: {e}");
                    Vec::new()
                }
            }
        } else {
            given
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect()
        };
        addrs.extend(found.into_iter().filter(|a| seen.insert(*a)));
    }
    Ok(addrs)
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}
