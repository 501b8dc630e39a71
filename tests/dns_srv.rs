//! Seeds given as DNS SRV names (feature `dns-srv`), against a DNS server
//! this test runs on loopback (UDP and TCP on one port), whose records the
//! test changes as it goes.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{Name, RData, Record};
use swimlist::runtime::StubResolver;
use swimlist::{Config, Event, Memberlist};

/// One SRV record: priority, weight, port, target, and the target's IPv4
/// address if the answer carries it.
type Srv = (u16, u16, u16, &'static str, Option<Ipv4Addr>);

/// What the server answers, by SRV name (absent: NXDOMAIN), and which
/// names it truncates over UDP.
#[derive(Default)]
struct Zone {
    records: HashMap<String, Vec<Srv>>,
    truncate_udp: Vec<String>,
    /// Answer over TCP one byte every 50 ms, never finishing.
    trickle_tcp: bool,
    udp_questions: usize,
    tcp_questions: usize,
}

struct DnsServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
}

impl DnsServer {
    fn start() -> DnsServer {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()) {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let zone: Arc<Mutex<Zone>> = Arc::default();
        let z = Arc::clone(&zone);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                let reply = answer(&z, &buf[..n], true);
                let _ = udp.send_to(&reply, from);
            }
        });
        let z = Arc::clone(&zone);
        thread::spawn(move || {
            for mut stream in tcp.incoming().map_while(Result::ok) {
                let mut len = [0u8; 2];
                if stream.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut query = vec![0; usize::from(u16::from_be_bytes(len))];
                if stream.read_exact(&mut query).is_err() {
                    continue;
                }
                let reply = answer(&z, &query, false);
                if z.lock().unwrap().trickle_tcp {
                    thread::spawn(move || {
                        let _ = stream.write_all(&u16::MAX.to_be_bytes());
                        while stream.write_all(&[0]).is_ok() {
                            thread::sleep(Duration::from_millis(50));
                        }
                    });
                    continue;
                }
                let _ = stream.write_all(&(reply.len() as u16).to_be_bytes());
                let _ = stream.write_all(&reply);
            }
        });
        DnsServer { addr, zone }
    }

    fn set(&self, name: &str, records: Vec<Srv>) {
        self.zone
            .lock()
            .unwrap()
            .records
            .insert(name.to_owned(), records);
    }

    fn resolver(&self) -> StubResolver {
        StubResolver::new(vec![self.addr], Duration::from_secs(2))
    }
}

/// The server's reply to `query`.
fn answer(zone: &Mutex<Zone>, query: &[u8], udp: bool) -> Vec<u8> {
    let query = Message::from_vec(query).expect("a DNS query");
    let mut zone = zone.lock().unwrap();
    if udp {
        zone.udp_questions += 1;
    } else {
        zone.tcp_questions += 1;
    }
    let mut reply = Message::response(query.metadata.id, OpCode::Query);
    let asked = query.queries[0].name().clone();
    reply.add_query(query.queries[0].clone());
    let key = asked.to_ascii().trim_end_matches('.').to_owned();
    match zone.records.get(&key) {
        None => reply.metadata.response_code = ResponseCode::NXDomain,
        Some(_) if udp && zone.truncate_udp.contains(&key) => reply.metadata.truncation = true,
        Some(records) => {
            for &(priority, weight, port, target, ip) in records {
                let target = Name::from_ascii(format!("{target}.")).unwrap();
                let srv = SRV::new(priority, weight, port, target.clone());
                reply.add_answer(Record::from_rdata(asked.clone(), 30, RData::SRV(srv)));
                if let Some(ip) = ip {
                    reply.add_additional(Record::from_rdata(target, 30, RData::A(A(ip))));
                }
            }
        }
    }
    reply.to_vec().unwrap()
}

#[test]
fn srv_records_resolve_to_their_targets_best_first() {
    let dns = DnsServer::start();
    let local = Some(Ipv4Addr::LOCALHOST);
    dns.set(
        "_swim._tcp.cluster.test",
        vec![
            (
                20,
                0,
                7003,
                "c.cluster.test",
                Some(Ipv4Addr::new(127, 0, 0, 3)),
            ),
            (10, 5, 7001, "a.cluster.test", local),
            (
                10,
                50,
                7002,
                "b.cluster.test",
                Some(Ipv4Addr::new(127, 0, 0, 2)),
            ),
            // No address in the answer: the system resolver finds it.
            (30, 0, 7004, "localhost", None),
        ],
    );
    let found = dns
        .resolver()
        .lookup_srv("_swim._tcp.cluster.test")
        .unwrap();
    let expected: Vec<SocketAddr> = ["127.0.0.2:7002", "127.0.0.1:7001", "127.0.0.3:7003"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(found[..3], expected[..], "{found:?}");
    assert!(
        found[3..]
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 7004)
            && found.len() > 3,
        "{found:?}"
    );
    // A name with no records is no error: there are no seeds there yet.
    assert_eq!(
        dns.resolver()
            .lookup_srv("_none._tcp.cluster.test")
            .unwrap(),
        []
    );
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let dns = DnsServer::start();
    dns.set(
        "_big._tcp.cluster.test",
        vec![(10, 0, 7001, "a.cluster.test", Some(Ipv4Addr::LOCALHOST))],
    );
    dns.zone
        .lock()
        .unwrap()
        .truncate_udp
        .push("_big._tcp.cluster.test".into());
    let found = dns.resolver().lookup_srv("_big._tcp.cluster.test").unwrap();
    assert_eq!(found, ["127.0.0.1:7001".parse::<SocketAddr>().unwrap()]);
    let zone = dns.zone.lock().unwrap();
    assert_eq!((zone.udp_questions, zone.tcp_questions), (1, 1));
}

#[test]
fn an_unanswered_question_fails_within_the_timeout() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = StubResolver::new(
        vec![silent.local_addr().unwrap()],
        Duration::from_millis(300),
    );
    let began = Instant::now();
    let err = resolver.lookup_srv("_swim._tcp.cluster.test").unwrap_err();
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    assert!(
        err.to_string()
            .contains(&silent.local_addr().unwrap().to_string()),
        "{err}"
    );
}

#[test]
fn a_trickling_tcp_answer_fails_within_the_timeout() {
    let dns = DnsServer::start();
    let name = "_slow._tcp.cluster.test";
    dns.set(name, vec![(10, 0, 7001, "a.cluster.test", None)]);
    {
        let mut zone = dns.zone.lock().unwrap();
        zone.truncate_udp.push(name.into());
        zone.trickle_tcp = true;
    }
    let resolver = StubResolver::new(vec![dns.addr], Duration::from_millis(300));
    let began = Instant::now();
    let err = resolver.lookup_srv(name).unwrap_err();
    // Within the UDP and the TCP exchange's timeouts, not one per byte.
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert_eq!(dns.zone.lock().unwrap().tcp_questions, 1);
}

#[test]
fn an_srv_seed_leads_a_lone_node_to_its_cluster() {
    // The SRV name points nowhere at first (as before any pod is ready),
    // then at b: the seed is looked up again every seed_refresh_interval,
    // and partition healing takes the lone node to b.
    let dns = DnsServer::start();
    let config = |name: &str| {
        Config::local()
            .with_name(name)
            .with_bind_addr(Ipv4Addr::LOCALHOST.into())
            .with_bind_port(0)
    };
    let b = Memberlist::create(config("srv-b")).unwrap();
    let mut c = config("srv-a").with_seeds(["_swim._tcp.cluster.test"]);
    c.seed_refresh_interval = Some(Duration::from_millis(100));
    c.partition_healing_interval = Duration::from_millis(200);
    let resolver = dns.resolver();
    let a = Memberlist::builder(c)
        .srv_resolver(move |name| resolver.lookup_srv(name))
        .build()
        .unwrap();
    assert_eq!(a.num_members().unwrap(), 1, "the name points nowhere yet");
    let port = b.local_addr().port();
    let record: Srv = (10, 0, port, "b.cluster.test", Some(Ipv4Addr::LOCALHOST));
    dns.set("_swim._tcp.cluster.test", vec![record]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match a.events().recv_deadline(deadline) {
            Ok(Event::Join(n)) if n.name == "srv-b" => break,
            Ok(_) => {}
            Err(_) => panic!("srv-b was not found through the SRV seed"),
        }
    }
    assert!(
        dns.zone.lock().unwrap().udp_questions >= 2,
        "asked at start and again"
    );
}
