//! Message type numbers and message bodies.
//!
//! Every body encodes to a msgpack map with Go's field names in sorted order,
//! byte for byte as Go memberlist writes it, and decodes from anything Go's
//! decoder accepts.

use super::error::{Context, WireError};
use super::msgpack::{
    put_bool, put_int, put_key, put_map_len, put_nil, put_str, put_uint, read_struct, IntEncoding,
    Reader, WireStruct,
};
use super::{MAX_PUSH_STATE_BYTES, MAX_PUSH_STATE_NODES, MAX_USER_MSG_BYTES};

/// The first byte of every message. The numbers are part of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// Direct probe.
    Ping = 0,
    /// Request to probe another node on our behalf.
    IndirectPing = 1,
    /// Answer to a ping.
    Ack = 2,
    /// Suspicion gossip.
    Suspect = 3,
    /// Liveness gossip.
    Alive = 4,
    /// Death or leave gossip.
    Dead = 5,
    /// Anti-entropy state exchange (streams only).
    PushPull = 6,
    /// Several messages in one packet.
    Compound = 7,
    /// Application payload.
    User = 8,
    /// Compressed message.
    Compress = 9,
    /// Encrypted stream frame.
    Encrypt = 10,
    /// Negative answer from an indirect prober.
    Nack = 11,
    /// CRC32 prefix (packets only).
    HasCrc = 12,
    /// Error reply (streams only).
    Err = 13,
    /// Label header.
    HasLabel = 244,
}

impl MessageType {
    /// The type for a type byte, if it names one.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::Ping,
            1 => Self::IndirectPing,
            2 => Self::Ack,
            3 => Self::Suspect,
            4 => Self::Alive,
            5 => Self::Dead,
            6 => Self::PushPull,
            7 => Self::Compound,
            8 => Self::User,
            9 => Self::Compress,
            10 => Self::Encrypt,
            11 => Self::Nack,
            12 => Self::HasCrc,
            13 => Self::Err,
            244 => Self::HasLabel,
            _ => return None,
        })
    }

    /// The name `examples/inspect.rs` and the vectors use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::IndirectPing => "indirectPing",
            Self::Ack => "ack",
            Self::Suspect => "suspect",
            Self::Alive => "alive",
            Self::Dead => "dead",
            Self::PushPull => "pushPull",
            Self::Compound => "compound",
            Self::User => "user",
            Self::Compress => "compress",
            Self::Encrypt => "encrypt",
            Self::Nack => "nack",
            Self::HasCrc => "hasCrc",
            Self::Err => "err",
            Self::HasLabel => "hasLabel",
        }
    }
}

/// Capabilities a swimlist node advertises in its alive messages and
/// push/pull records under the extra msgpack key `SwimlistFeatures`.
///
/// Go memberlist ignores unknown keys when decoding, so the key is invisible
/// to Go peers; and because Go re-encodes what it forwards, a capability is
/// only ever learned from a swimlist node's own bytes. A value of zero is
/// omitted, so a node advertising nothing writes exactly Go's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Features(pub u32);

impl Features {
    /// No capabilities (what every Go node has).
    pub const NONE: Features = Features(0);
    /// Reads compress wrappers with `Algo = 1` (LZ4 block, see
    /// [`crate::wire::compress`]).
    pub const LZ4: Features = Features(1);
    /// Wants membership news stamped with its age (see
    /// [`crate::wire::news_age`]).
    pub const NEWS_AGE: Features = Features(2);

    /// These capabilities and those of `other`.
    pub fn with(self, other: Features) -> Features {
        Features(self.0 | other.0)
    }

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Field name of the swimlist capability key (see [`Features`]).
pub const FEATURES_KEY: &str = "SwimlistFeatures";

/// `ping` (type 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ping {
    /// Sequence number chosen by the sender.
    pub seq_no: u32,
    /// Intended recipient's name; empty means "whoever you are".
    pub node: String,
    /// Sender's advertised IP (4 or 16 bytes) for the reply; empty = omitted.
    pub source_addr: Vec<u8>,
    /// Sender's advertised port; 0 = omitted.
    pub source_port: u16,
    /// Sender's name; empty = omitted.
    pub source_node: String,
}

/// `indirectPingReq` (type 1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndirectPing {
    /// The requester's sequence number.
    pub seq_no: u32,
    /// Target's IP.
    pub target: Vec<u8>,
    /// Target's port.
    pub port: u16,
    /// Target's name.
    pub node: String,
    /// Whether the requester wants a nack when the target stays silent.
    pub nack: bool,
    /// Requester's IP; empty = omitted.
    pub source_addr: Vec<u8>,
    /// Requester's port; 0 = omitted.
    pub source_port: u16,
    /// Requester's name; empty = omitted.
    pub source_node: String,
}

/// `ackResp` (type 2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ack {
    /// The sequence number being acknowledged.
    pub seq_no: u32,
    /// Ping-delegate payload; `None` is written as msgpack nil, as Go does.
    pub payload: Option<Vec<u8>>,
}

/// `nackResp` (type 11).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nack {
    /// The sequence number of the failed indirect probe.
    pub seq_no: u32,
}

/// `errResp` (type 13).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrResp {
    /// The remote error text.
    pub error: String,
}

/// `suspect` (type 3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Suspect {
    /// Incarnation of the accused node as known by the sender.
    pub incarnation: u32,
    /// The accused node.
    pub node: String,
    /// The accuser.
    pub from: String,
}

/// `dead` (type 5). `from == node` means the node left voluntarily.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dead {
    /// Incarnation of the dead node as known by the sender.
    pub incarnation: u32,
    /// The dead node.
    pub node: String,
    /// Who declared it dead (the node itself for a graceful leave).
    pub from: String,
}

/// `alive` (type 4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Alive {
    /// Incarnation number.
    pub incarnation: u32,
    /// Node name.
    pub node: String,
    /// IP address, 4 or 16 bytes.
    pub addr: Vec<u8>,
    /// Port; 0 means "the receiver's own bind port".
    pub port: u16,
    /// Metadata; `None` is written as nil, as Go does without a delegate.
    pub meta: Option<Vec<u8>>,
    /// `[PMin, PMax, PCur, DMin, DMax, DCur]`, kept as received (any length).
    pub vsn: Vec<u8>,
    /// swimlist capabilities (see [`Features`]); Go peers never send it.
    pub features: Features,
}

/// One node record of a push/pull exchange (`pushNodeState`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushNodeState {
    /// Node name.
    pub name: String,
    /// IP address.
    pub addr: Vec<u8>,
    /// Port; 0 means "the receiver's own bind port".
    pub port: u16,
    /// Metadata; `None` is written as nil.
    pub meta: Option<Vec<u8>>,
    /// Incarnation number.
    pub incarnation: u32,
    /// Node state number: 0 alive, 1 suspect, 2 dead, 3 left (others are
    /// kept so the state machine can ignore them as Go does).
    pub state: i64,
    /// Protocol versions as received.
    pub vsn: Vec<u8>,
    /// swimlist capabilities (see [`Features`]).
    pub features: Features,
}

/// A push/pull exchange (type 6, streams only): the header is derived from
/// the node list and user state when encoding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushPull {
    /// Whether the exchange is part of a join.
    pub join: bool,
    /// Every node the sender knows, itself included.
    pub nodes: Vec<PushNodeState>,
    /// Opaque delegate state.
    pub user_state: Vec<u8>,
}

/// A decoded message of any type that carries a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// See [`Ping`].
    Ping(Ping),
    /// See [`IndirectPing`].
    IndirectPing(IndirectPing),
    /// See [`Ack`].
    Ack(Ack),
    /// See [`Nack`].
    Nack(Nack),
    /// See [`Suspect`].
    Suspect(Suspect),
    /// See [`Alive`].
    Alive(Alive),
    /// See [`Dead`].
    Dead(Dead),
    /// See [`PushPull`] (streams only).
    PushPull(PushPull),
    /// An application payload (`08 ‖ payload` in packets; header + payload
    /// in streams).
    User(Vec<u8>),
    /// See [`ErrResp`] (streams only).
    Err(ErrResp),
}

impl Message {
    /// This message's type number.
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::Ping(_) => MessageType::Ping,
            Self::IndirectPing(_) => MessageType::IndirectPing,
            Self::Ack(_) => MessageType::Ack,
            Self::Nack(_) => MessageType::Nack,
            Self::Suspect(_) => MessageType::Suspect,
            Self::Alive(_) => MessageType::Alive,
            Self::Dead(_) => MessageType::Dead,
            Self::PushPull(_) => MessageType::PushPull,
            Self::User(_) => MessageType::User,
            Self::Err(_) => MessageType::Err,
        }
    }

    /// Appends the type byte and body, as go-msgpack v2 (memberlist ≥ v0.5.1)
    /// writes it. A user message takes its packet or stream form by `context`.
    pub fn encode(&self, context: Context, buf: &mut Vec<u8>) {
        self.encode_with(context, IntEncoding::Signed, buf);
    }

    /// Like [`Message::encode`], choosing how Go `int` fields ≥ 128 are
    /// written (they only occur in push/pull and stream user headers).
    pub fn encode_with(&self, context: Context, ints: IntEncoding, buf: &mut Vec<u8>) {
        buf.push(self.message_type() as u8);
        match self {
            Self::Ping(m) => m.encode_body(buf),
            Self::IndirectPing(m) => m.encode_body(buf),
            Self::Ack(m) => m.encode_body(buf),
            Self::Nack(m) => {
                put_map_len(buf, 1);
                put_key(buf, "SeqNo");
                put_uint(buf, u64::from(m.seq_no));
            }
            Self::Suspect(m) => encode_accusation(m.incarnation, &m.node, &m.from, buf),
            Self::Dead(m) => encode_accusation(m.incarnation, &m.node, &m.from, buf),
            Self::Alive(m) => m.encode_body(buf),
            Self::PushPull(m) => {
                let nodes = m.nodes.iter().map(PushNodeState::as_ref);
                put_push_pull_body(m.join, nodes, &m.user_state, ints, buf);
            }
            Self::User(payload) => match context {
                Context::Packet => buf.extend_from_slice(payload),
                Context::Stream => {
                    put_map_len(buf, 1);
                    put_key(buf, "UserMsgLen");
                    put_int(buf, len_as_int(payload.len()), ints);
                    buf.extend_from_slice(payload);
                }
            },
            Self::Err(m) => {
                put_map_len(buf, 1);
                put_key(buf, "Error");
                put_str(buf, m.error.as_bytes());
            }
        }
    }

    /// Decodes one complete message that is not a container (compound,
    /// compress, CRC, encryption and label are handled by the packet and
    /// stream layers). Trailing bytes after a msgpack body are ignored, as in
    /// Go.
    pub fn decode(bytes: &[u8], context: Context) -> Result<Message, WireError> {
        let (&ty, body) = bytes.split_first().ok_or(WireError::EmptyMessage)?;
        Self::read(ty, &mut Reader::new(body, "message"), context)
    }

    /// Reads the body of a message of type `ty` from `r`, leaving `r` just
    /// past it. A packet user message takes all remaining bytes.
    pub(crate) fn read(ty: u8, r: &mut Reader<'_>, context: Context) -> Result<Message, WireError> {
        let kind = MessageType::from_byte(ty).ok_or(WireError::UnknownMessageType(ty))?;
        r.set_context(kind.name());
        let allowed = match context {
            Context::Packet => matches!(
                kind,
                MessageType::Ping
                    | MessageType::IndirectPing
                    | MessageType::Ack
                    | MessageType::Nack
                    | MessageType::Suspect
                    | MessageType::Alive
                    | MessageType::Dead
                    | MessageType::User
            ),
            Context::Stream => matches!(
                kind,
                MessageType::Ping
                    | MessageType::Ack
                    | MessageType::PushPull
                    | MessageType::User
                    | MessageType::Err
            ),
        };
        if !allowed {
            return Err(WireError::UnexpectedMessageType { ty, context });
        }
        Ok(match kind {
            MessageType::User if context == Context::Packet => {
                Message::User(r.take_rest().to_vec())
            }
            MessageType::User => Message::User(decode_stream_user(r)?),
            MessageType::PushPull => Message::PushPull(PushPull::decode_body(r)?),
            _ => Self::decode_body(kind, r)?,
        })
    }

    /// Decodes the msgpack body of a fixed-shape message.
    pub(crate) fn decode_body(kind: MessageType, r: &mut Reader<'_>) -> Result<Message, WireError> {
        Ok(match kind {
            MessageType::Ping => Message::Ping(read_struct(r)?),
            MessageType::IndirectPing => Message::IndirectPing(read_struct(r)?),
            MessageType::Ack => Message::Ack(read_struct(r)?),
            MessageType::Nack => Message::Nack(read_struct(r)?),
            MessageType::Suspect => {
                let a: Accusation = read_struct(r)?;
                Message::Suspect(Suspect {
                    incarnation: a.incarnation,
                    node: a.node,
                    from: a.from,
                })
            }
            MessageType::Dead => {
                let a: Accusation = read_struct(r)?;
                Message::Dead(Dead {
                    incarnation: a.incarnation,
                    node: a.node,
                    from: a.from,
                })
            }
            MessageType::Alive => Message::Alive(read_struct(r)?),
            MessageType::Err => Message::Err(read_struct(r)?),
            other => {
                return Err(WireError::UnexpectedMessageType {
                    ty: other as u8,
                    context: Context::Packet,
                })
            }
        })
    }
}

/// Go `int` from a length; lengths never reach `i64::MAX` in memory.
fn len_as_int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn put_bytes_or_nil(buf: &mut Vec<u8>, v: &[u8]) {
    if v.is_empty() {
        put_nil(buf);
    } else {
        put_str(buf, v);
    }
}

fn put_optional_bytes(buf: &mut Vec<u8>, v: &Option<Vec<u8>>) {
    match v {
        Some(b) => put_str(buf, b),
        None => put_nil(buf),
    }
}

fn encode_accusation(incarnation: u32, node: &str, from: &str, buf: &mut Vec<u8>) {
    put_map_len(buf, 3);
    put_key(buf, "From");
    put_str(buf, from.as_bytes());
    put_key(buf, "Incarnation");
    put_uint(buf, u64::from(incarnation));
    put_key(buf, "Node");
    put_str(buf, node.as_bytes());
}

impl Ping {
    fn encode_body(&self, buf: &mut Vec<u8>) {
        let n = 2
            + usize::from(!self.source_addr.is_empty())
            + usize::from(!self.source_node.is_empty())
            + usize::from(self.source_port != 0);
        put_map_len(buf, n);
        put_key(buf, "Node");
        put_str(buf, self.node.as_bytes());
        put_key(buf, "SeqNo");
        put_uint(buf, u64::from(self.seq_no));
        put_source(buf, &self.source_addr, &self.source_node, self.source_port);
    }
}

/// Writes the three omitempty `Source*` fields in sorted order.
fn put_source(buf: &mut Vec<u8>, addr: &[u8], node: &str, port: u16) {
    if !addr.is_empty() {
        put_key(buf, "SourceAddr");
        put_str(buf, addr);
    }
    if !node.is_empty() {
        put_key(buf, "SourceNode");
        put_str(buf, node.as_bytes());
    }
    if port != 0 {
        put_key(buf, "SourcePort");
        put_uint(buf, u64::from(port));
    }
}

impl IndirectPing {
    fn encode_body(&self, buf: &mut Vec<u8>) {
        let n = 5
            + usize::from(!self.source_addr.is_empty())
            + usize::from(!self.source_node.is_empty())
            + usize::from(self.source_port != 0);
        put_map_len(buf, n);
        put_key(buf, "Nack");
        put_bool(buf, self.nack);
        put_key(buf, "Node");
        put_str(buf, self.node.as_bytes());
        put_key(buf, "Port");
        put_uint(buf, u64::from(self.port));
        put_key(buf, "SeqNo");
        put_uint(buf, u64::from(self.seq_no));
        put_source(buf, &self.source_addr, &self.source_node, self.source_port);
        put_key(buf, "Target");
        put_bytes_or_nil(buf, &self.target);
    }
}

impl Ack {
    fn encode_body(&self, buf: &mut Vec<u8>) {
        put_map_len(buf, 2);
        put_key(buf, "Payload");
        put_optional_bytes(buf, &self.payload);
        put_key(buf, "SeqNo");
        put_uint(buf, u64::from(self.seq_no));
    }
}

impl Alive {
    fn encode_body(&self, buf: &mut Vec<u8>) {
        let has_features = self.features != Features::NONE;
        put_map_len(buf, 6 + usize::from(has_features));
        put_key(buf, "Addr");
        put_bytes_or_nil(buf, &self.addr);
        put_key(buf, "Incarnation");
        put_uint(buf, u64::from(self.incarnation));
        put_key(buf, "Meta");
        put_optional_bytes(buf, &self.meta);
        put_key(buf, "Node");
        put_str(buf, self.node.as_bytes());
        put_key(buf, "Port");
        put_uint(buf, u64::from(self.port));
        if has_features {
            put_key(buf, FEATURES_KEY);
            put_uint(buf, u64::from(self.features.0));
        }
        put_key(buf, "Vsn");
        put_bytes_or_nil(buf, &self.vsn);
    }
}

/// One node record of a push/pull to send, borrowed from wherever the
/// sender keeps it: a node's whole state is encoded without first being
/// copied into [`PushNodeState`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushNodeStateRef<'a> {
    /// Node name.
    pub name: &'a str,
    /// IP address.
    pub addr: &'a [u8],
    /// Port.
    pub port: u16,
    /// Metadata; `None` is written as nil.
    pub meta: Option<&'a [u8]>,
    /// Incarnation number.
    pub incarnation: u32,
    /// Node state number (see [`PushNodeState::state`]).
    pub state: i64,
    /// Protocol versions.
    pub vsn: &'a [u8],
    /// swimlist capabilities (see [`Features`]).
    pub features: Features,
}

impl PushNodeState {
    /// This record, borrowed for encoding.
    pub fn as_ref(&self) -> PushNodeStateRef<'_> {
        PushNodeStateRef {
            name: &self.name,
            addr: &self.addr,
            port: self.port,
            meta: self.meta.as_deref(),
            incarnation: self.incarnation,
            state: self.state,
            vsn: &self.vsn,
            features: self.features,
        }
    }
}

impl PushNodeStateRef<'_> {
    fn encode_body(&self, ints: IntEncoding, buf: &mut Vec<u8>) {
        let has_features = self.features != Features::NONE;
        put_map_len(buf, 7 + usize::from(has_features));
        put_key(buf, "Addr");
        put_bytes_or_nil(buf, self.addr);
        put_key(buf, "Incarnation");
        put_uint(buf, u64::from(self.incarnation));
        put_key(buf, "Meta");
        match self.meta {
            Some(b) => put_str(buf, b),
            None => put_nil(buf),
        }
        put_key(buf, "Name");
        put_str(buf, self.name.as_bytes());
        put_key(buf, "Port");
        put_uint(buf, u64::from(self.port));
        put_key(buf, "State");
        put_int(buf, self.state, ints);
        if has_features {
            put_key(buf, FEATURES_KEY);
            put_uint(buf, u64::from(self.features.0));
        }
        put_key(buf, "Vsn");
        put_bytes_or_nil(buf, self.vsn);
    }
}

/// Appends a push/pull message, type byte included, exactly as
/// [`Message::encode_with`] writes a [`PushPull`] with these records.
pub fn encode_push_pull<'a>(
    join: bool,
    nodes: impl ExactSizeIterator<Item = PushNodeStateRef<'a>>,
    user_state: &[u8],
    ints: IntEncoding,
    buf: &mut Vec<u8>,
) {
    buf.push(MessageType::PushPull as u8);
    put_push_pull_body(join, nodes, user_state, ints, buf);
}

fn put_push_pull_body<'a>(
    join: bool,
    nodes: impl ExactSizeIterator<Item = PushNodeStateRef<'a>>,
    user_state: &[u8],
    ints: IntEncoding,
    buf: &mut Vec<u8>,
) {
    put_map_len(buf, 3);
    put_key(buf, "Join");
    put_bool(buf, join);
    put_key(buf, "Nodes");
    put_int(buf, len_as_int(nodes.len()), ints);
    put_key(buf, "UserStateLen");
    put_int(buf, len_as_int(user_state.len()), ints);
    for node in nodes {
        node.encode_body(ints, buf);
    }
    buf.extend_from_slice(user_state);
}

impl PushPull {
    /// Reads the header, the records and the user state, enforcing Go HEAD's
    /// limits; a short input is [`WireError::Truncated`] or a msgpack
    /// truncation.
    pub(crate) fn decode_body(r: &mut Reader<'_>) -> Result<PushPull, WireError> {
        let header: PushPullHeader = read_struct(r)?;
        if !(0..=MAX_PUSH_STATE_NODES as i64).contains(&header.nodes) {
            return Err(WireError::NodeCountOutOfRange(header.nodes));
        }
        if !(0..=MAX_PUSH_STATE_BYTES as i64).contains(&header.user_state_len) {
            return Err(WireError::UserStateLenOutOfRange(header.user_state_len));
        }
        let count = header.nodes as usize;
        // Each record takes at least one byte: never reserve beyond the input.
        let mut nodes = Vec::with_capacity(count.min(r.remaining().len()));
        for _ in 0..count {
            nodes.push(read_struct::<PushNodeState>(r)?);
        }
        let len = header.user_state_len as usize;
        Ok(PushPull {
            join: header.join,
            nodes,
            user_state: r.take_raw(len)?.to_vec(),
        })
    }
}

/// Reads a stream user message: header, then exactly `UserMsgLen` bytes.
fn decode_stream_user(r: &mut Reader<'_>) -> Result<Vec<u8>, WireError> {
    let header: UserMsgHeader = read_struct(r)?;
    if !(0..=MAX_USER_MSG_BYTES as i64).contains(&header.user_msg_len) {
        return Err(WireError::UserMsgLenOutOfRange(header.user_msg_len));
    }
    Ok(r.take_raw(header.user_msg_len as usize)?.to_vec())
}

/// The body shared by `suspect` and `dead`.
#[derive(Default)]
struct Accusation {
    incarnation: u32,
    node: String,
    from: String,
}

/// `pushPullHeader`.
#[derive(Default)]
struct PushPullHeader {
    nodes: i64,
    user_state_len: i64,
    join: bool,
}

/// `userMsgHeader`.
#[derive(Default)]
struct UserMsgHeader {
    user_msg_len: i64,
}

/// `compress` wrapper body.
#[derive(Default)]
pub(crate) struct CompressBody {
    pub(crate) algo: u8,
    pub(crate) buf: Vec<u8>,
}

impl CompressBody {
    pub(crate) fn encode(algo: u8, data: &[u8], buf: &mut Vec<u8>) {
        buf.push(MessageType::Compress as u8);
        put_map_len(buf, 2);
        put_key(buf, "Algo");
        put_uint(buf, u64::from(algo));
        put_key(buf, "Buf");
        put_str(buf, data);
    }
}

const U8: u64 = u8::MAX as u64;
const U16: u64 = u16::MAX as u64;
const U32: u64 = u32::MAX as u64;

impl WireStruct for Ping {
    const NAME: &'static str = "ping";
    const FIELDS: &'static [&'static str] =
        &["SeqNo", "Node", "SourceAddr", "SourcePort", "SourceNode"];
    fn read_field(&mut self, i: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        match i {
            0 => self.seq_no = r.uint("SeqNo", U32)? as u32,
            1 => self.node = r.string("Node")?,
            2 => self.source_addr = r.raw_bytes("SourceAddr")?.into_vec(),
            3 => self.source_port = r.uint("SourcePort", U16)? as u16,
            _ => self.source_node = r.string("SourceNode")?,
        }
        Ok(())
    }
}

impl WireStruct for IndirectPing {
    const NAME: &'static str = "indirectPingReq";
    const FIELDS: &'static [&'static str] = &[
        "SeqNo",
        "Target",
        "Port",
        "Node",
        "Nack",
        "SourceAddr",
        "SourcePort",
        "SourceNode",
    ];
    fn read_field(&mut self, i: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        match i {
            0 => self.seq_no = r.uint("SeqNo", U32)? as u32,
            1 => self.target = r.raw_bytes("Target")?.into_vec(),
            2 => self.port = r.uint("Port", U16)? as u16,
            3 => self.node = r.string("Node")?,
            4 => self.nack = r.bool("Nack")?,
            5 => self.source_addr = r.raw_bytes("SourceAddr")?.into_vec(),
            6 => self.source_port = r.uint("SourcePort", U16)? as u16,
            _ => self.source_node = r.string("SourceNode")?,
        }
        Ok(())
    }
}

impl WireStruct for Ack {
    const NAME: &'static str = "ackResp";
    const FIELDS: &'static [&'static str] = &["SeqNo", "Payload"];
    fn read_field(&mut self, i: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        match i {
            0 => self.seq_no = r.uint("SeqNo", U32)? as u32,
            _ => self.payload = r.raw_bytes("Payload")?.into_option(),
        }
        Ok(())
    }
}

impl WireStruct for Nack {
    const NAME: &'static str = "nackResp";
    const FIELDS: &'static [&'static str] = &["SeqNo"];
    fn read_field(&mut self, _: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        self.seq_no = r.uint("SeqNo", U32)? as u32;
        Ok(())
    }
}

impl WireStruct for ErrResp {
    const NAME: &'static str = "errResp";
    const FIELDS: &'static [&'static str] = &["Error"];
    fn read_field(&mut self, _: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        self.error = r.string("Error")?;
        Ok(())
    }
}

impl WireStruct for Accusation {
    const NAME: &'static str = "suspect/dead";
    const FIELDS: &'static [&'static str] = &["Incarnation", "Node", "From"];
    fn read_field(&mut self, i: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        match i {
            0 => self.incarnation = r.uint("Incarnation", U32)? as u32,
            1 => self.node = r.string("Node")?,
            _ => self.from = r.string("From")?,
        }
        Ok(())
    }
}

impl WireStruct for Alive {
    const NAME: &'static str = "alive";
    const FIELDS: &'static [&'static str] = &[
        "Incarnation",
        "Node",
        "Addr",
        "Port",
        "Meta",
        "Vsn",
        FEATURES_KEY,
    ];
    fn read_field(&mut self, i: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        match i {
            0 => self.incarnation = r.uint("Incarnation", U32)? as u32,
            1 => self.node = r.string("Node")?,
            2 => self.addr = r.raw_bytes("Addr")?.into_vec(),
            3 => self.port = r.uint("Port", U16)? as u16,
            4 => self.meta = r.raw_bytes("Meta")?.into_option(),
            5 => self.vsn = r.raw_bytes("Vsn")?.into_vec(),
            _ => self.features = Features(r.uint(FEATURES_KEY, U32)? as u32),
        }
        Ok(())
    }
}

impl WireStruct for PushNodeState {
    const NAME: &'static str = "pushNodeState";
    const FIELDS: &'static [&'static str] = &[
        "Name",
        "Addr",
        "Port",
        "Meta",
        "Incarnation",
        "State",
        "Vsn",
        FEATURES_KEY,
    ];
    fn read_field(&mut self, i: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        match i {
            0 => self.name = r.string("Name")?,
            1 => self.addr = r.raw_bytes("Addr")?.into_vec(),
            2 => self.port = r.uint("Port", U16)? as u16,
            3 => self.meta = r.raw_bytes("Meta")?.into_option(),
            4 => self.incarnation = r.uint("Incarnation", U32)? as u32,
            5 => self.state = r.int("State")?,
            6 => self.vsn = r.raw_bytes("Vsn")?.into_vec(),
            _ => self.features = Features(r.uint(FEATURES_KEY, U32)? as u32),
        }
        Ok(())
    }
}

impl WireStruct for PushPullHeader {
    const NAME: &'static str = "pushPullHeader";
    const FIELDS: &'static [&'static str] = &["Nodes", "UserStateLen", "Join"];
    fn read_field(&mut self, i: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        match i {
            0 => self.nodes = r.int("Nodes")?,
            1 => self.user_state_len = r.int("UserStateLen")?,
            _ => self.join = r.bool("Join")?,
        }
        Ok(())
    }
}

impl WireStruct for UserMsgHeader {
    const NAME: &'static str = "userMsgHeader";
    const FIELDS: &'static [&'static str] = &["UserMsgLen"];
    fn read_field(&mut self, _: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        self.user_msg_len = r.int("UserMsgLen")?;
        Ok(())
    }
}

impl WireStruct for CompressBody {
    const NAME: &'static str = "compress";
    const FIELDS: &'static [&'static str] = &["Algo", "Buf"];
    fn read_field(&mut self, i: usize, r: &mut Reader<'_>) -> Result<(), WireError> {
        match i {
            0 => self.algo = r.uint("Algo", U8)? as u8,
            _ => self.buf = r.raw_bytes("Buf")?.into_vec(),
        }
        Ok(())
    }
}
