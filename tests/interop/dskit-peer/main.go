// Command dskit-peer is a memberlist node that talks over Grafana dskit's
// TCP-only memberlist transport (kv/memberlist.TCPTransport), the transport
// Loki, Mimir, Tempo and Cortex use. It is driven through the same command
// line and JSON-lines protocol as tests/agent/node.rs and tests/interop/go-peer,
// so one test driver can run any of them.
//
// It uses memberlist directly (memberlist.Create with Config.Transport set to
// a transport made by dskit's NewTCPTransport), not dskit's KV store. As in
// every dskit user, github.com/hashicorp/memberlist is replaced by Grafana's
// fork (github.com/grafana/memberlist) at the revision dskit's own go.mod
// pins; go.mod here repeats that replace directive. Build it with
// tests/interop/build-dskit-peer.sh. docs/dskit-transport.md describes the
// bytes on the wire.
//
// Flags (Go accepts -flag and --flag alike). The shared contract:
//
//	--name N            node name (default: the host name)
//	--bind IP[,IP]      listen address(es) (default 127.0.0.1); the first is
//	                    advertised unless --advertise-addr is given
//	--port P            listen port; 0 lets the kernel pick (reported in "ready")
//	--join h:p,h:p      join these peers after starting
//	--config C          lan (default), local or wan: memberlist.Default*Config;
//	                    or dskit: what dskit's KV store builds (LAN, with a
//	                    2s stream timeout, 5s probe interval, 2s probe timeout)
//	--key B64           primary encryption key (16, 24 or 32 bytes, base64);
//	                    dskit's KV store never sets one, memberlist still can
//	--keys B64,B64      more keys; the first is primary if --key is absent
//	--label L           Config.Label (dskit: -memberlist.cluster-label)
//	--skip-inbound-label-check
//	                    Config.SkipInboundLabelCheck (dskit:
//	                    -memberlist.cluster-label-verification-disabled);
//	                    Grafana's fork then accepts labelled and unlabelled
//	                    inbound traffic alike
//	--compression C     lzw (default), none, snappy (Grafana's fork only), or
//	                    lz4 (not in memberlist: lzw + warning)
//	--meta S            node metadata (at most 512 bytes)
//	--state S           user state for push/pull (Delegate.LocalState)
//	--protocol V        memberlist ProtocolVersion, 1-5 (default 2)
//	--timeout D         how long leave and meta wait (Go duration, default 5s)
//
// Settings that dskit applies whatever the preset, with dskit's defaults:
//
//	--udp-buffer-size N Config.UDPBufferSize, the largest "packet" memberlist
//	                    builds (default 10485760, as dskit)
//	--tcp-pings         allow memberlist's fallback stream ping (dskit turns
//	                    it off: Config.DisableTcpPings; default false)
//	--advertise-addr IP, --advertise-port P
//	                    Config.AdvertiseAddr/AdvertisePort (the port defaults
//	                    to the bound one); the transport puts this address
//	                    into every packet it sends
//
// dskit's TCPTransportConfig, defaults from dskit's own flag registration:
//
//	--packet-dial-timeout D     (2s)    --packet-write-timeout D   (5s)
//	--max-concurrent-writes N   (3)     --acquire-writer-timeout D (250ms)
//	--transport-debug           log the transport's debug messages
//	--tls                       TLSEnabled: TLS on every connection, both ways
//	--tls-cert-path F, --tls-key-path F, --tls-ca-path F, --tls-server-name S,
//	--tls-insecure-skip-verify, --tls-min-version V, --tls-cipher-suites L
//	                            dskit's crypto/tls.ClientConfig (the same
//	                            certificate serves the listener)
//
// Stdout carries one JSON object per line; "ready" is always the first:
//
//	{"ev":"ready","name":..,"addr":..,"port":..,"memberlist":V,
//	 "memberlist_module":M,"dskit":D,"transport":"dskit-tcp","tls":bool}
//	                    V and M are the memberlist module version and path
//	                    actually linked (the replacement's), D the dskit version
//	{"ev":"joined","n":N} or {"ev":"joined","n":0,"err":".."}   (--join, join)
//	{"ev":"join"|"update"|"leave","name","addr","port","meta","t_ms"}
//	                    leave adds "reason":"left"|"failed"
//	{"ev":"msg","data":..}                 user message (gossip or direct)
//	{"ev":"merge","join":bool,"data":..}   remote user state (push/pull)
//	{"ev":"members","members":[{"name","addr","port","state","meta"}]}
//	{"ev":"stats","num_members":N,"health":H,"transport":{counter:value}}
//	                    transport: dskit's memberlist_tcp_transport_* counters,
//	                    without that prefix
//	{"ev":"left"}
//	{"ev":"keys","cmd":..}
//	{"ev":"error","cmd":..,"err":..}       cmd "start": could not start
//
// Stdin takes one command per line: members, join H:P,H:P, broadcast TEXT,
// send NAME TEXT (reliable), sendbe NAME TEXT (best effort), meta TEXT,
// addkey B64, usekey B64, removekey B64, leave, stats, shutdown. End of input
// shuts the node down. Memberlist's log and the transport's go-kit log go to
// stderr.
//
// Exit status: 0 after shutdown, 2 for bad arguments, 1 when the transport
// or memberlist cannot start.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	dskit "github.com/grafana/dskit/kv/memberlist"
	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
)

var start = time.Now()

// out writes JSON lines to stdout; it is safe for concurrent use. Lines
// emitted before "ready" (the local node's own join, reported while
// memberlist.Create runs) are held back so that "ready" is always first.
type out struct {
	mu      sync.Mutex
	ready   bool
	pending [][]byte
}

func (o *out) emit(v interface{}) {
	o.write(encode(v), false)
}

func (o *out) emitReady(v readyEvent) {
	o.write(encode(v), true)
}

func (o *out) write(line []byte, ready bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.ready && !ready {
		o.pending = append(o.pending, line)
		return
	}
	os.Stdout.Write(line)
	if ready && !o.ready {
		o.ready = true
		for _, l := range o.pending {
			os.Stdout.Write(l)
		}
		o.pending = nil
	}
}

// encode returns v as one line of JSON, without HTML escaping.
func encode(v interface{}) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		enc.Encode(errorEvent{Ev: "error", Cmd: "internal", Err: err.Error()})
	}
	return buf.Bytes()
}

// fail reports a failed command, or a failure to start when cmd is "start"
// (written at once: there will be no "ready").
func (o *out) fail(cmd string, err error) {
	o.write(encode(errorEvent{Ev: "error", Cmd: cmd, Err: err.Error()}), cmd == "start")
}

type errorEvent struct {
	Ev  string `json:"ev"`
	Cmd string `json:"cmd"`
	Err string `json:"err"`
}

type readyEvent struct {
	Ev               string `json:"ev"`
	Name             string `json:"name"`
	Addr             string `json:"addr"`
	Port             uint16 `json:"port"`
	Memberlist       string `json:"memberlist"`
	MemberlistModule string `json:"memberlist_module"`
	Dskit            string `json:"dskit"`
	Transport        string `json:"transport"`
	TLS              bool   `json:"tls"`
}

const (
	memberlistPath = "github.com/hashicorp/memberlist"
	dskitPath      = "github.com/grafana/dskit"
)

// moduleVersion returns the version and path of module path as linked into
// this binary (its replacement's, if replaced).
func moduleVersion(path string) (version, module string) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", path
	}
	for _, dep := range info.Deps {
		if dep.Path != path {
			continue
		}
		if r := dep.Replace; r != nil && r.Version != "" {
			return r.Version, r.Path
		}
		return dep.Version, dep.Path
	}
	return "unknown", path
}

type joinedEvent struct {
	Ev  string `json:"ev"`
	N   int    `json:"n"`
	Err string `json:"err,omitempty"`
}

type nodeEvent struct {
	Ev     string  `json:"ev"`
	Name   string  `json:"name"`
	Addr   string  `json:"addr"`
	Port   uint16  `json:"port"`
	Meta   string  `json:"meta"`
	Reason string  `json:"reason,omitempty"`
	TMs    float64 `json:"t_ms"`
}

type msgEvent struct {
	Ev   string `json:"ev"`
	Data string `json:"data"`
}

type mergeEvent struct {
	Ev   string `json:"ev"`
	Join bool   `json:"join"`
	Data string `json:"data"`
}

type member struct {
	Name  string `json:"name"`
	Addr  string `json:"addr"`
	Port  uint16 `json:"port"`
	State string `json:"state"`
	Meta  string `json:"meta"`
}

type membersEvent struct {
	Ev      string   `json:"ev"`
	Members []member `json:"members"`
}

type statsEvent struct {
	Ev         string             `json:"ev"`
	NumMembers int                `json:"num_members"`
	Health     int                `json:"health"`
	Transport  map[string]float64 `json:"transport"`
}

type simpleEvent struct {
	Ev string `json:"ev"`
}

type keysEvent struct {
	Ev  string `json:"ev"`
	Cmd string `json:"cmd"`
}

// peer implements memberlist.Delegate and memberlist.EventDelegate.
type peer struct {
	out   *out
	ml    atomic.Pointer[memberlist.Memberlist]
	queue *memberlist.TransmitLimitedQueue

	mu    sync.Mutex
	meta  []byte
	state []byte
}

func (p *peer) NodeMeta(limit int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.meta
}

func (p *peer) NotifyMsg(b []byte) {
	p.out.emit(msgEvent{Ev: "msg", Data: string(b)})
}

func (p *peer) GetBroadcasts(overhead, limit int) [][]byte {
	return p.queue.GetBroadcasts(overhead, limit)
}

func (p *peer) LocalState(join bool) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

func (p *peer) MergeRemoteState(buf []byte, join bool) {
	p.out.emit(mergeEvent{Ev: "merge", Join: join, Data: string(buf)})
}

// Memberlist calls the event methods with its node lock held, which is what
// nodeState needs.

func (p *peer) NotifyJoin(n *memberlist.Node) { p.nodeEvent("join", n, "") }

func (p *peer) NotifyUpdate(n *memberlist.Node) { p.nodeEvent("update", n, "") }

func (p *peer) NotifyLeave(n *memberlist.Node) { p.nodeEvent("leave", n, leaveReason(n)) }

func (p *peer) nodeEvent(ev string, n *memberlist.Node, reason string) {
	p.out.emit(nodeEvent{
		Ev:     ev,
		Name:   n.Name,
		Addr:   n.Addr.String(),
		Port:   n.Port,
		Meta:   string(n.Meta),
		Reason: reason,
		TMs:    float64(time.Since(start).Microseconds()) / 1000,
	})
}

// broadcast is a user message queued for gossip; each one is distinct.
type broadcast []byte

func (b broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b broadcast) Message() []byte                       { return b }
func (b broadcast) Finished()                             {}
func (b broadcast) UniqueBroadcast()                      {}

type options struct {
	name, bind, join, config, key, keys, label, compression, meta, state string
	port, protocol, udpBufferSize                                        int
	advertiseAddr                                                        string
	advertisePort                                                        int
	timeout                                                              time.Duration
	skipInboundLabelCheck, tcpPings                                      bool
	transport                                                            dskit.TCPTransportConfig
}

func parseFlags() options {
	var o options

	// dskit's defaults for its transport, exactly as its own flags set them.
	defaults := flag.NewFlagSet("dskit", flag.ContinueOnError)
	defaults.SetOutput(io.Discard)
	o.transport.RegisterFlags(defaults)
	t := &o.transport

	flag.StringVar(&o.name, "name", "", "node name (default: host name)")
	flag.StringVar(&o.bind, "bind", "127.0.0.1", "listen address(es), comma-separated")
	flag.IntVar(&o.port, "port", 0, "listen port (0: any)")
	flag.StringVar(&o.join, "join", "", "comma-separated host:port list to join")
	flag.StringVar(&o.config, "config", "lan", "base configuration: lan, local, wan or dskit")
	flag.StringVar(&o.key, "key", "", "primary encryption key, base64")
	flag.StringVar(&o.keys, "keys", "", "comma-separated further keys, base64")
	flag.StringVar(&o.label, "label", "", "packet and stream label (dskit: cluster label)")
	flag.BoolVar(&o.skipInboundLabelCheck, "skip-inbound-label-check", false,
		"do not verify inbound labels (dskit: cluster-label-verification-disabled)")
	flag.StringVar(&o.compression, "compression", "lzw", "none, lzw, snappy or lz4 (lz4 falls back to lzw)")
	flag.StringVar(&o.meta, "meta", "", "node metadata")
	flag.StringVar(&o.state, "state", "", "user state sent in push/pull")
	flag.IntVar(&o.protocol, "protocol", int(memberlist.ProtocolVersion2Compatible), "memberlist protocol version")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "how long leave and meta wait for their broadcast")

	flag.IntVar(&o.udpBufferSize, "udp-buffer-size", 10*1024*1024, "Config.UDPBufferSize: largest packet memberlist builds")
	flag.BoolVar(&o.tcpPings, "tcp-pings", false, "allow memberlist's fallback stream pings (dskit disables them)")
	flag.StringVar(&o.advertiseAddr, "advertise-addr", "", "address to advertise (default: the first --bind)")
	flag.IntVar(&o.advertisePort, "advertise-port", 0, "port to advertise with --advertise-addr (default: the bound port)")

	flag.DurationVar(&t.PacketDialTimeout, "packet-dial-timeout", t.PacketDialTimeout, "dskit: timeout to connect for a packet")
	flag.DurationVar(&t.PacketWriteTimeout, "packet-write-timeout", t.PacketWriteTimeout, "dskit: timeout to write a packet")
	flag.IntVar(&t.MaxConcurrentWrites, "max-concurrent-writes", t.MaxConcurrentWrites, "dskit: packet writer goroutines")
	flag.DurationVar(&t.AcquireWriterTimeout, "acquire-writer-timeout", t.AcquireWriterTimeout, "dskit: wait for a free writer before dropping a packet")
	flag.BoolVar(&t.TransportDebug, "transport-debug", t.TransportDebug, "dskit: log transport debug messages")
	flag.BoolVar(&t.TLSEnabled, "tls", t.TLSEnabled, "dskit: TLS on the transport")
	flag.StringVar(&t.TLS.CertPath, "tls-cert-path", t.TLS.CertPath, "dskit: certificate (client and listener)")
	flag.StringVar(&t.TLS.KeyPath, "tls-key-path", t.TLS.KeyPath, "dskit: key of --tls-cert-path")
	flag.StringVar(&t.TLS.CAPath, "tls-ca-path", t.TLS.CAPath, "dskit: CA certificates to verify the server against")
	flag.StringVar(&t.TLS.ServerName, "tls-server-name", t.TLS.ServerName, "dskit: expected server certificate name")
	flag.BoolVar(&t.TLS.InsecureSkipVerify, "tls-insecure-skip-verify", t.TLS.InsecureSkipVerify, "dskit: do not verify the server certificate")
	flag.StringVar(&t.TLS.MinVersion, "tls-min-version", t.TLS.MinVersion, "dskit: VersionTLS10 .. VersionTLS13")
	flag.StringVar(&t.TLS.CipherSuites, "tls-cipher-suites", t.TLS.CipherSuites, "dskit: comma-separated cipher suites")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "dskit-peer: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	return o
}

// buildConfig turns the flags into a memberlist configuration (without the
// transport); its errors are usage errors.
func buildConfig(o options) (*memberlist.Config, error) {
	var conf *memberlist.Config
	switch o.config {
	case "lan":
		conf = memberlist.DefaultLANConfig()
	case "local":
		conf = memberlist.DefaultLocalConfig()
	case "wan":
		conf = memberlist.DefaultWANConfig()
	case "dskit":
		// As dskit's KV.buildMemberlistConfig with dskit's flag defaults.
		conf = memberlist.DefaultLANConfig()
		conf.TCPTimeout = 2 * time.Second
		conf.ProbeInterval = 5 * time.Second
		conf.ProbeTimeout = 2 * time.Second
	default:
		return nil, fmt.Errorf("unknown --config %q (want lan, local, wan or dskit)", o.config)
	}
	if o.name != "" {
		conf.Name = o.name
	}
	// Unused with a custom transport, set for whoever reads the config.
	binds := splitList(o.bind)
	if len(binds) == 0 {
		return nil, fmt.Errorf("--bind is empty")
	}
	conf.BindAddr = binds[0]
	conf.BindPort = o.port

	conf.AdvertiseAddr = o.advertiseAddr
	conf.AdvertisePort = o.advertisePort
	if o.advertiseAddr == "" && o.advertisePort != 0 {
		return nil, fmt.Errorf("--advertise-port needs --advertise-addr (the transport ignores it otherwise)")
	}

	conf.UDPBufferSize = o.udpBufferSize
	conf.DisableTcpPings = !o.tcpPings

	if o.protocol < int(memberlist.ProtocolVersionMin) || o.protocol > int(memberlist.ProtocolVersionMax) {
		return nil, fmt.Errorf("--protocol %d is not in [%d, %d]",
			o.protocol, memberlist.ProtocolVersionMin, memberlist.ProtocolVersionMax)
	}
	conf.ProtocolVersion = uint8(o.protocol)
	conf.LogOutput = os.Stderr

	if len(o.label) > memberlist.LabelMaxSize {
		return nil, fmt.Errorf("--label is %d bytes, the limit is %d", len(o.label), memberlist.LabelMaxSize)
	}
	conf.Label = o.label
	conf.SkipInboundLabelCheck = o.skipInboundLabelCheck

	switch o.compression {
	case "none":
		conf.EnableCompression = false
	case "lzw":
		conf.EnableCompression = true
		conf.CompressionAlgorithm = memberlist.CompressionAlgorithmLZW
	case "snappy":
		conf.EnableCompression = true
		conf.CompressionAlgorithm = memberlist.CompressionAlgorithmSnappy
	case "lz4":
		fmt.Fprintln(os.Stderr, "dskit-peer: warning: memberlist has no LZ4; using LZW compression")
		conf.EnableCompression = true
		conf.CompressionAlgorithm = memberlist.CompressionAlgorithmLZW
	default:
		return nil, fmt.Errorf("unknown --compression %q (want none, lzw, snappy or lz4)", o.compression)
	}

	keyring, err := buildKeyring(o.key, o.keys)
	if err != nil {
		return nil, err
	}
	conf.Keyring = keyring

	if len(o.meta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("--meta is %d bytes, the limit is %d", len(o.meta), memberlist.MetaMaxSize)
	}
	return conf, nil
}

// buildTransport starts dskit's TCP transport listening on --bind/--port.
func buildTransport(o options, reg prometheus.Registerer) (*dskit.TCPTransport, error) {
	cfg := o.transport
	cfg.BindAddrs = splitList(o.bind)
	cfg.BindPort = o.port
	for _, a := range cfg.BindAddrs {
		if net.ParseIP(a) == nil {
			return nil, fmt.Errorf("--bind %q is not an IP address", a)
		}
	}

	logger := log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr))
	logger = log.With(logger, "ts", log.DefaultTimestampUTC)
	if cfg.TransportDebug {
		logger = level.NewFilter(logger, level.AllowDebug())
	} else {
		logger = level.NewFilter(logger, level.AllowWarn())
	}
	return dskit.NewTCPTransport(cfg, logger, reg)
}

// buildKeyring returns an empty keyring (no encryption, but addkey can
// enable it later) when no keys are given.
func buildKeyring(primary, more string) (*memberlist.Keyring, error) {
	var keys [][]byte
	for _, s := range splitList(more) {
		k, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("--keys: %v", err)
		}
		keys = append(keys, k)
	}
	var primaryKey []byte
	if primary != "" {
		k, err := base64.StdEncoding.DecodeString(primary)
		if err != nil {
			return nil, fmt.Errorf("--key: %v", err)
		}
		primaryKey = k
	} else if len(keys) > 0 {
		primaryKey, keys = keys[0], keys[1:]
	}
	return memberlist.NewKeyring(keys, primaryKey)
}

func splitList(s string) []string {
	var items []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

func main() {
	o := parseFlags()
	stdout := &out{}

	conf, err := buildConfig(o)
	if err != nil {
		stdout.fail("start", err)
		os.Exit(2)
	}
	if layoutErr != nil {
		fmt.Fprintf(os.Stderr, "dskit-peer: warning: cannot read memberlist's node states (%v); states and leave reasons may be wrong\n", layoutErr)
	}

	reg := prometheus.NewRegistry()
	tr, err := buildTransport(o, reg)
	if err != nil {
		stdout.fail("start", err)
		os.Exit(1)
	}
	if conf.AdvertiseAddr != "" && conf.AdvertisePort == 0 {
		conf.AdvertisePort = tr.GetAutoBindPort()
	}
	conf.Transport = tr

	p := &peer{out: stdout, meta: []byte(o.meta), state: []byte(o.state)}
	p.queue = &memberlist.TransmitLimitedQueue{
		NumNodes: func() int {
			if m := p.ml.Load(); m != nil {
				return m.NumMembers()
			}
			return 1
		},
		RetransmitMult: conf.RetransmitMult,
	}
	conf.Delegate = p
	conf.Events = p

	m, err := memberlist.Create(conf)
	if err != nil {
		_ = tr.Shutdown()
		stdout.fail("start", err)
		os.Exit(1)
	}
	p.ml.Store(m)

	mlVersion, mlModule := moduleVersion(memberlistPath)
	dskitVersion, _ := moduleVersion(dskitPath)
	local := m.LocalNode()
	stdout.emitReady(readyEvent{
		Ev:               "ready",
		Name:             local.Name,
		Addr:             local.Addr.String(),
		Port:             local.Port,
		Memberlist:       mlVersion,
		MemberlistModule: mlModule,
		Dskit:            dskitVersion,
		Transport:        "dskit-tcp",
		TLS:              o.transport.TLSEnabled,
	})

	if peers := splitList(o.join); len(peers) > 0 {
		p.join(m, peers)
	}

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for in.Scan() {
		line := strings.TrimLeft(strings.TrimRight(in.Text(), "\r"), " \t")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if p.command(m, conf.Keyring, reg, line, o.timeout) {
			break
		}
	}
	if err := in.Err(); err != nil {
		stdout.fail("stdin", err)
	}
	// Shutdown also shuts the transport down.
	if err := m.Shutdown(); err != nil {
		stdout.fail("shutdown", err)
		os.Exit(1)
	}
}

// join joins peers and reports how it went as a "joined" line.
func (p *peer) join(m *memberlist.Memberlist, peers []string) {
	n, err := m.Join(peers)
	ev := joinedEvent{Ev: "joined", N: n}
	if err != nil {
		ev.Err = err.Error()
	}
	p.out.emit(ev)
}

// command runs one stdin command and reports whether to shut down.
func (p *peer) command(m *memberlist.Memberlist, keyring *memberlist.Keyring, reg *prometheus.Registry, line string, timeout time.Duration) bool {
	cmd, rest, _ := strings.Cut(line, " ")
	switch cmd {
	case "members":
		p.out.emit(membersEvent{Ev: "members", Members: members(m)})
	case "join":
		peers := splitList(rest)
		if len(peers) == 0 {
			p.out.fail(cmd, fmt.Errorf("usage: join H:P[,H:P...]"))
			return false
		}
		p.join(m, peers)
	case "broadcast":
		p.queue.QueueBroadcast(broadcast(rest))
	case "send", "sendbe":
		name, text, _ := strings.Cut(rest, " ")
		if name == "" {
			p.out.fail(cmd, fmt.Errorf("usage: %s NAME TEXT", cmd))
			return false
		}
		to := findMember(m, name)
		if to == nil {
			p.out.fail(cmd, fmt.Errorf("no member named %q", name))
			return false
		}
		var err error
		if cmd == "send" {
			err = m.SendReliable(to, []byte(text))
		} else {
			err = m.SendBestEffort(to, []byte(text))
		}
		if err != nil {
			p.out.fail(cmd, err)
		}
	case "meta":
		if len(rest) > memberlist.MetaMaxSize {
			p.out.fail(cmd, fmt.Errorf("meta is %d bytes, the limit is %d", len(rest), memberlist.MetaMaxSize))
			return false
		}
		p.mu.Lock()
		p.meta = []byte(rest)
		p.mu.Unlock()
		if err := m.UpdateNode(timeout); err != nil {
			p.out.fail(cmd, err)
		}
	case "leave":
		if err := m.Leave(timeout); err != nil {
			p.out.fail(cmd, err)
		} else {
			p.out.emit(simpleEvent{Ev: "left"})
		}
	case "addkey", "usekey", "removekey":
		if err := changeKeyring(keyring, cmd, rest); err != nil {
			p.out.fail(cmd, err)
		} else {
			p.out.emit(keysEvent{Ev: "keys", Cmd: cmd})
		}
	case "stats":
		p.out.emit(statsEvent{
			Ev:         "stats",
			NumMembers: m.NumMembers(),
			Health:     m.GetHealthScore(),
			Transport:  transportCounters(reg),
		})
	case "shutdown":
		return true
	default:
		p.out.fail(cmd, fmt.Errorf("unknown command"))
	}
	return false
}

// transportCounters returns the transport's counters, named without their
// common "memberlist_tcp_transport_" prefix.
func transportCounters(reg *prometheus.Registry) map[string]float64 {
	const prefix = "memberlist_tcp_transport_"
	counters := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		return counters
	}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			if c := metric.GetCounter(); c != nil {
				counters[strings.TrimPrefix(f.GetName(), prefix)] += c.GetValue()
			}
		}
	}
	return counters
}

// members lists the live (alive or suspect) members, this node included.
func members(m *memberlist.Memberlist) []member {
	nodes := m.Members()
	list := make([]member, 0, len(nodes))
	withNodeLock(m, func() {
		for _, n := range nodes {
			list = append(list, member{
				Name:  n.Name,
				Addr:  n.Addr.String(),
				Port:  n.Port,
				State: stateName(nodeState(n)),
				Meta:  string(n.Meta),
			})
		}
	})
	return list
}

// findMember returns a copy of the live member called name, or nil.
func findMember(m *memberlist.Memberlist, name string) *memberlist.Node {
	var found *memberlist.Node
	nodes := m.Members()
	withNodeLock(m, func() {
		for _, n := range nodes {
			if n.Name == name {
				c := *n
				found = &c
				return
			}
		}
	})
	return found
}

// changeKeyring runs addkey, usekey or removekey with a base64 key.
func changeKeyring(k *memberlist.Keyring, cmd, b64 string) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return fmt.Errorf("%q is not base64: %v", b64, err)
	}
	switch cmd {
	case "addkey":
		return k.AddKey(key)
	case "usekey":
		return k.UseKey(key)
	}
	if len(k.GetKeys()) == 0 { // RemoveKey indexes keys[0]: it panics on an empty ring
		return fmt.Errorf("no keys are installed")
	}
	return k.RemoveKey(key)
}
