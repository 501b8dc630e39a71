//! TLS on dskit's transport (cargo feature `tls`, with `rustls`).
//!
//! dskit wraps each of its connections, marker byte included, in TLS when
//! its `tls_enabled` option is on; a TLS node and a plain one cannot talk.
//! As dskit: the dialer verifies the listener's certificate against the
//! configured CA, by the configured server name or else the address it
//! dialled, and presents its own certificate if it has one; the listener
//! asks for none. Sessions are driven without blocking by the event loop
//! (`net.rs`), which hands plaintext to and from [`TlsStream`].

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig};
use rustls::{ServerConnection, SupportedProtocolVersion};

/// TLS settings for [`Builder::dskit_transport`](crate::Builder::dskit_transport),
/// as dskit's `tls_*` options give them: a CA to verify peers' certificates
/// against, this node's certificate and key (it serves them as a listener
/// and presents them as a dialer), and optionally the name to expect in
/// peers' certificates (else their IP address).
///
/// ```no_run
/// use swimlist::{Config, DskitTls, Memberlist};
///
/// let tls = DskitTls::from_pem_files("ca.pem", "node.pem", "node-key.pem")?;
/// let node = Memberlist::builder(Config::lan().with_name("a"))
///     .dskit_transport()
///     .dskit_tls(tls)
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DskitTls {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for DskitTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DskitTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// TLS 1.2 and 1.3, as Go's defaults.
static VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, what.to_string())
}

impl DskitTls {
    /// Reads the CA bundle, this node's certificate chain and its private
    /// key from PEM files.
    pub fn from_pem_files(
        ca: impl AsRef<Path>,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> io::Result<Self> {
        let read_certs = |path: &Path| -> io::Result<Vec<CertificateDer<'static>>> {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(invalid(format!("{}: no certificate", path.display())));
            }
            Ok(certs)
        };
        let cas = read_certs(ca.as_ref())?;
        let chain = read_certs(cert.as_ref())?;
        let key = PrivateKeyDer::from_pem_file(key.as_ref())
            .map_err(|e| invalid(format!("{}: {e}", key.as_ref().display())))?;
        Self::new(cas, chain, key)
    }

    /// From certificates and a key already parsed (DER).
    pub fn new(
        cas: Vec<CertificateDer<'static>>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> io::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for ca in cas {
            roots.add(ca).map_err(invalid)?;
        }
        let client = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(VERSIONS)
            .map_err(invalid)?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain.clone(), key.clone_key())
            .map_err(invalid)?;
        let server = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(VERSIONS)
            .map_err(invalid)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(invalid)?;
        Ok(DskitTls {
            client: Arc::new(client),
            server: Arc::new(server),
            server_name: None,
        })
    }

    /// Expects `name` in every peer's certificate instead of the address
    /// dialled (dskit's `tls_server_name`).
    pub fn with_server_name(mut self, name: &str) -> io::Result<Self> {
        let name = ServerName::try_from(name.to_owned()).map_err(invalid)?;
        self.server_name = Some(name);
        Ok(self)
    }

    /// A session for a connection this node dials to `to`.
    pub(crate) fn dial(&self, to: SocketAddr) -> io::Result<TlsStream> {
        let name = self
            .server_name
            .clone()
            .unwrap_or_else(|| ServerName::IpAddress(to.ip().into()));
        let conn = ClientConnection::new(Arc::clone(&self.client), name).map_err(invalid)?;
        Ok(TlsStream(Connection::Client(conn)))
    }

    /// A session for a connection this node accepted.
    pub(crate) fn accept(&self) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(Arc::clone(&self.server)).map_err(invalid)?;
        Ok(TlsStream(Connection::Server(conn)))
    }
}

/// One connection's TLS session, moving plaintext to and from a
/// non-blocking socket.
pub(crate) struct TlsStream(Connection);

impl TlsStream {
    /// Reads what the socket has, appending the plaintext to `out` until it
    /// holds more than `limit` bytes; returns how many plaintext bytes came
    /// and whether the peer has finished (close_notify or end of stream).
    /// Handshake replies are sent on the way. It reads until the socket
    /// would block; a peer cannot keep it going with records that carry no
    /// data, which rustls refuses past a few (empty fragments, key updates,
    /// warning alerts).
    pub(crate) fn read(
        &mut self,
        socket: &mut impl ReadWrite,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> io::Result<(usize, bool)> {
        let mut got = 0;
        let mut eof = false;
        loop {
            // Readiness is edge-triggered: a socket left with bytes in it
            // is never reported readable again, so it is read until it
            // would block, even when what came was handshake alone.
            let drained = match self.0.read_tls(socket) {
                Ok(0) => {
                    eof = true;
                    true
                }
                Ok(_) => false,
                Err(e) if e.kind() == ErrorKind::WouldBlock => true,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let state = self
                .0
                .process_new_packets()
                .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
            let plain = state.plaintext_bytes_to_read();
            if plain > 0 {
                let start = out.len();
                out.resize(start + plain, 0);
                self.0.reader().read_exact(&mut out[start..])?;
                got += plain;
            }
            if state.peer_has_closed() {
                eof = true;
            }
            self.flush(socket)?;
            if eof || drained || !self.0.wants_read() || out.len() > limit {
                return Ok((got, eof));
            }
        }
    }

    /// Takes `data` to send (all of it, buffered by the session) and sends
    /// what the socket takes; returns how much was taken.
    pub(crate) fn write(&mut self, socket: &mut impl ReadWrite, data: &[u8]) -> io::Result<usize> {
        let n = self.0.writer().write(data)?;
        self.flush(socket)?;
        Ok(n)
    }

    /// Sends what the session holds; true once nothing is left, the
    /// handshake included (until it is done, written plaintext waits in
    /// the session).
    pub(crate) fn flush(&mut self, socket: &mut impl ReadWrite) -> io::Result<bool> {
        while self.0.wants_write() {
            match self.0.write_tls(socket) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(!self.0.is_handshaking())
    }

    /// Whether the handshake is still going: the peer's part of it must be
    /// read before anything written goes out.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.0.is_handshaking()
    }

    /// Says this side has finished (close_notify), to send with `flush`.
    pub(crate) fn close(&mut self) {
        self.0.send_close_notify();
    }
}

/// A socket a session reads from and writes to.
pub(crate) trait ReadWrite: Read + Write {}

impl<T: Read + Write> ReadWrite for T {}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// One end of an in-memory connection: reads what the other end wrote,
    /// at most `chunk` bytes a call, and would block when nothing is left.
    struct End<'a> {
        input: &'a mut VecDeque<u8>,
        output: &'a mut VecDeque<u8>,
        chunk: usize,
    }

    impl Read for End<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.input.is_empty() {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.chunk).min(self.input.len());
            for (slot, byte) in buf.iter_mut().zip(self.input.drain(..n)) {
                *slot = byte;
            }
            Ok(n)
        }
    }

    impl Write for End<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn test_tls() -> DskitTls {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        DskitTls::new(vec![ca.der().clone()], vec![cert.der().clone()], key).unwrap()
    }

    /// A client and a server session, handshaken over in-memory sockets.
    fn handshaken(
        to_server: &mut VecDeque<u8>,
        to_client: &mut VecDeque<u8>,
    ) -> (TlsStream, TlsStream) {
        let tls = test_tls();
        let mut client = tls.dial("127.0.0.1:7946".parse().unwrap()).unwrap();
        let mut server = tls.accept().unwrap();
        let mut ignored = Vec::new();
        for _ in 0..8 {
            let mut c = End {
                input: to_client,
                output: to_server,
                chunk: usize::MAX,
            };
            client.read(&mut c, &mut ignored, 0).unwrap();
            client.flush(&mut c).unwrap();
            let mut s = End {
                input: to_server,
                output: to_client,
                chunk: usize::MAX,
            };
            server.read(&mut s, &mut ignored, 0).unwrap();
            if !client.is_handshaking() && !server.is_handshaking() {
                break;
            }
        }
        assert!(!client.is_handshaking() && !server.is_handshaking());
        assert!(ignored.is_empty());
        (client, server)
    }

    // Reading until the socket would block must not let a peer keep the
    // read (and the event loop) going with records that carry no data:
    // rustls refuses a run of key updates.
    #[test]
    fn a_read_refuses_endless_records_without_data() {
        let (mut to_server, mut to_client) = (VecDeque::new(), VecDeque::new());
        let (mut client, mut server) = handshaken(&mut to_server, &mut to_client);
        let Connection::Client(session) = &mut client.0 else {
            unreachable!("dialled");
        };
        for _ in 0..8_000 {
            session.refresh_traffic_keys().unwrap();
        }
        let mut c = End {
            input: &mut to_client,
            output: &mut to_server,
            chunk: usize::MAX,
        };
        client.flush(&mut c).unwrap();
        assert!(to_server.len() > 64 * 1024);
        let mut s = End {
            input: &mut to_server,
            output: &mut to_client,
            chunk: usize::MAX,
        };
        let mut got = Vec::new();
        let err = server.read(&mut s, &mut got, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(got.is_empty());
    }

    // Readiness is edge-triggered: a read that returned with bytes still
    // in the socket (a record that came in pieces, say) would never be
    // woken for them again, and the connection would stall until its
    // deadline.
    #[test]
    fn a_read_empties_the_socket_even_when_records_come_in_pieces() {
        let (mut to_server, mut to_client) = (VecDeque::new(), VecDeque::new());
        let (mut client, mut server) = handshaken(&mut to_server, &mut to_client);
        let mut c = End {
            input: &mut to_client,
            output: &mut to_server,
            chunk: usize::MAX,
        };
        client.write(&mut c, b"sealed stream").unwrap();
        let mut s = End {
            input: &mut to_server,
            output: &mut to_client,
            chunk: 16,
        };
        let mut got = Vec::new();
        let (n, eof) = server.read(&mut s, &mut got, 1 << 20).unwrap();
        assert_eq!((n, eof), (13, false));
        assert_eq!(got, b"sealed stream");
        assert!(to_server.is_empty(), "bytes left unread in the socket");
    }
}
