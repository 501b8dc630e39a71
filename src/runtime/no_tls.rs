//! Stand-ins for `tls.rs` when the `tls` feature is off: no TLS settings can
//! be made, so no session ever exists.

use std::io;
use std::net::SocketAddr;

/// TLS settings; none can exist without the `tls` feature.
#[derive(Clone, Debug)]
pub(crate) enum DskitTls {}

impl DskitTls {
    pub(crate) fn dial(&self, _to: SocketAddr) -> io::Result<TlsStream> {
        match *self {}
    }

    pub(crate) fn accept(&self) -> io::Result<TlsStream> {
        match *self {}
    }
}

/// A TLS session; none can exist without the `tls` feature.
pub(crate) enum TlsStream {}

impl TlsStream {
    pub(crate) fn read(
        &mut self,
        _socket: &mut impl io::Read,
        _out: &mut Vec<u8>,
        _limit: usize,
    ) -> io::Result<(usize, bool)> {
        match *self {}
    }

    pub(crate) fn write(
        &mut self,
        _socket: &mut impl io::Write,
        _data: &[u8],
    ) -> io::Result<usize> {
        match *self {}
    }

    pub(crate) fn flush(&mut self, _socket: &mut impl io::Write) -> io::Result<bool> {
        match *self {}
    }

    pub(crate) fn close(&mut self) {
        match *self {}
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        match *self {}
    }
}
