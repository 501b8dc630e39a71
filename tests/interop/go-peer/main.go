// Command go-peer is the Go side of swimlist's interop tests: one HashiCorp
// memberlist node driven through the same command line and JSON-lines
// protocol as swimlist's tests/agent/node.rs, so a single test driver can run
// either implementation. It is one Go module built against several memberlist
// releases: go.mod pins the newest (v0.7.0), versions/VERSION.mod and .sum pin
// older ones (v0.2.2, v0.5.4) for "go build -modfile". Build it with
// tests/interop/build-go-peer.sh, which also sets the "labels" build tag for
// memberlist v0.3.0 and later (label.go; nolabel.go otherwise).
//
// Flags (Go accepts -flag and --flag alike):
//
//	--name N            node name (default: the host name)
//	--bind IP           bind address (default 127.0.0.1)
//	--port P            bind port; 0 lets the kernel pick (reported in "ready")
//	--join h:p,h:p      join these peers after starting
//	--config C          lan (default), local or wan: memberlist.Default*Config
//	--key B64           primary encryption key (16, 24 or 32 bytes, base64)
//	--keys B64,B64      more keys; the first is primary if --key is absent
//	--label L           Config.Label (memberlist v0.3.0+; built without the
//	                    labels tag, any non-empty label exits 2)
//	--compression C     lzw (default), none, or lz4 (Go cannot: lzw + warning)
//	--meta S            node metadata (at most 512 bytes)
//	--state S           user state for push/pull (Delegate.LocalState)
//	--protocol V        memberlist ProtocolVersion, 1-5 (default 2)
//
// Go-only extras:
//
//	--timeout D         how long leave and meta wait for their broadcast
//	                    (Go duration, default 5s as in tests/agent/node.rs)
//	--skip-inbound-label-check
//	                    Config.SkipInboundLabelCheck (v0.3.0+, else exits 2):
//	                    inbound packets and streams must carry no label and
//	                    count as carrying --label; outbound ones still carry
//	                    --label
//
// Stdout carries one JSON object per line; "ready" is always the first:
//
//	{"ev":"ready","name":..,"addr":..,"port":..,"memberlist":"v0.7.0"}
//	                    "memberlist" is the memberlist module version the
//	                    binary was built with ("unknown" without build info)
//	{"ev":"joined","n":N} or {"ev":"joined","n":0,"err":".."}   (with --join)
//	{"ev":"join"|"update"|"leave","name","addr","port","meta","t_ms"}
//	                    leave adds "reason":"left"|"failed"; t_ms is
//	                    milliseconds (fractional) since the process started;
//	                    the local node's own join follows "ready"
//	{"ev":"msg","data":..}                 user message (gossip or direct)
//	{"ev":"merge","join":bool,"data":..}   remote user state (push/pull)
//	{"ev":"members","members":[{"name","addr","port","state","meta"}]}
//	{"ev":"stats","num_members":N,"health":H}
//	{"ev":"left"}
//	{"ev":"keys","cmd":..}
//	{"ev":"error","cmd":..,"err":..}       cmd "start": could not start
//
// Stdin takes one command per line: members, broadcast TEXT, send NAME TEXT
// (reliable), sendbe NAME TEXT (best effort), meta TEXT, addkey B64,
// usekey B64, removekey B64, leave, stats, shutdown. End of input shuts the
// node down. Successful broadcast, send, sendbe and meta print nothing.
// "members" lists live (alive or suspect) members, this node included. There
// are no suspect or alive events: memberlist does not report suspicion.
// Memberlist's own log goes to stderr.
//
// Exit status: 0 after shutdown, 2 for bad arguments (including --label and
// --skip-inbound-label-check where labels are unsupported), 1 when memberlist
// cannot start.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

var start = time.Now()

// out writes JSON lines to stdout; it is safe for concurrent use. Lines
// emitted before "ready" (the local node's own join, reported while
// memberlist.Create runs) are held back so that "ready" is always the first
// line, as in tests/agent/node.rs.
type out struct {
	mu      sync.Mutex
	ready   bool
	pending [][]byte
}

func (o *out) emit(v interface{}) {
	o.write(encode(v), false)
}

// emitReady writes the "ready" line, then whatever was held back.
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
	// os.Stdout is unbuffered: one write per line, nothing left to flush.
	os.Stdout.Write(line)
	if ready && !o.ready {
		o.ready = true
		for _, l := range o.pending {
			os.Stdout.Write(l)
		}
		o.pending = nil
	}
}

// encode returns v as one line of JSON.
func encode(v interface{}) []byte {
	// Encode writes the newline; no HTML escaping, so "<" stays "<".
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
// (and then writes immediately: there will be no "ready").
func (o *out) fail(cmd string, err error) {
	o.write(encode(errorEvent{Ev: "error", Cmd: cmd, Err: err.Error()}), cmd == "start")
}

type errorEvent struct {
	Ev  string `json:"ev"`
	Cmd string `json:"cmd"`
	Err string `json:"err"`
}

type readyEvent struct {
	Ev         string `json:"ev"`
	Name       string `json:"name"`
	Addr       string `json:"addr"`
	Port       uint16 `json:"port"`
	Memberlist string `json:"memberlist"`
}

// memberlistPath is the module whose version "ready" reports.
const memberlistPath = "github.com/hashicorp/memberlist"

// memberlistVersion is the version of memberlist this binary was built
// with, as the build info records it (a replacement's, if replaced).
func memberlistVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path != memberlistPath {
			continue
		}
		if dep.Replace != nil && dep.Replace.Version != "" {
			return dep.Replace.Version
		}
		return dep.Version
	}
	return "unknown"
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
	Ev         string `json:"ev"`
	NumMembers int    `json:"num_members"`
	Health     int    `json:"health"`
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
	port, protocol                                                       int
	timeout                                                              time.Duration
	skipInboundLabelCheck                                                bool
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.name, "name", "", "node name (default: host name)")
	flag.StringVar(&o.bind, "bind", "127.0.0.1", "bind address")
	flag.IntVar(&o.port, "port", 0, "bind port (0: any)")
	flag.StringVar(&o.join, "join", "", "comma-separated host:port list to join")
	flag.StringVar(&o.config, "config", "lan", "base configuration: lan, local or wan")
	flag.StringVar(&o.key, "key", "", "primary encryption key, base64")
	flag.StringVar(&o.keys, "keys", "", "comma-separated further keys, base64")
	flag.StringVar(&o.label, "label", "", "packet and stream label (memberlist v0.3.0+)")
	flag.BoolVar(&o.skipInboundLabelCheck, "skip-inbound-label-check", false,
		"accept only unlabelled inbound traffic, as if it carried --label (memberlist v0.3.0+)")
	flag.StringVar(&o.compression, "compression", "lzw", "none, lzw or lz4 (lz4 falls back to lzw)")
	flag.StringVar(&o.meta, "meta", "", "node metadata")
	flag.StringVar(&o.state, "state", "", "user state sent in push/pull")
	flag.IntVar(&o.protocol, "protocol", int(memberlist.ProtocolVersion2Compatible), "memberlist protocol version")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "how long leave and meta wait for their broadcast")
	flag.Parse()
	return o
}

// buildConfig turns the flags into a memberlist configuration; its errors
// are usage errors.
func buildConfig(o options) (*memberlist.Config, error) {
	var conf *memberlist.Config
	switch o.config {
	case "lan":
		conf = memberlist.DefaultLANConfig()
	case "local":
		conf = memberlist.DefaultLocalConfig()
	case "wan":
		conf = memberlist.DefaultWANConfig()
	default:
		return nil, fmt.Errorf("unknown --config %q (want lan, local or wan)", o.config)
	}
	if o.name != "" {
		conf.Name = o.name
	}
	conf.BindAddr = o.bind
	conf.BindPort = o.port
	conf.AdvertisePort = o.port
	if o.protocol < int(memberlist.ProtocolVersionMin) || o.protocol > int(memberlist.ProtocolVersionMax) {
		return nil, fmt.Errorf("--protocol %d is not in [%d, %d]",
			o.protocol, memberlist.ProtocolVersionMin, memberlist.ProtocolVersionMax)
	}
	conf.ProtocolVersion = uint8(o.protocol)
	conf.LogOutput = os.Stderr
	if err := setLabel(conf, o.label, o.skipInboundLabelCheck); err != nil {
		return nil, err
	}

	switch o.compression {
	case "none":
		conf.EnableCompression = false
	case "lzw":
		conf.EnableCompression = true
	case "lz4":
		fmt.Fprintln(os.Stderr, "go-peer: warning: memberlist has no LZ4; using LZW compression")
		conf.EnableCompression = true
	default:
		return nil, fmt.Errorf("unknown --compression %q (want none, lzw or lz4)", o.compression)
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
		fmt.Fprintf(os.Stderr, "go-peer: warning: cannot read memberlist's node states (%v); states and leave reasons may be wrong\n", layoutErr)
	}

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
		stdout.fail("start", err)
		os.Exit(1)
	}
	p.ml.Store(m)

	local := m.LocalNode()
	stdout.emitReady(readyEvent{
		Ev:         "ready",
		Name:       local.Name,
		Addr:       local.Addr.String(),
		Port:       local.Port,
		Memberlist: memberlistVersion(),
	})

	if peers := splitList(o.join); len(peers) > 0 {
		n, err := m.Join(peers)
		ev := joinedEvent{Ev: "joined", N: n}
		if err != nil {
			ev.Err = err.Error()
		}
		stdout.emit(ev)
	}

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for in.Scan() {
		line := strings.TrimLeft(strings.TrimRight(in.Text(), "\r"), " \t")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if p.command(m, conf.Keyring, line, o.timeout) {
			break
		}
	}
	if err := in.Err(); err != nil {
		stdout.fail("stdin", err)
	}
	if err := m.Shutdown(); err != nil {
		stdout.fail("shutdown", err)
		os.Exit(1)
	}
}

// command runs one stdin command and reports whether to shut down.
func (p *peer) command(m *memberlist.Memberlist, keyring *memberlist.Keyring, line string, timeout time.Duration) bool {
	cmd, rest, _ := strings.Cut(line, " ")
	switch cmd {
	case "members":
		p.out.emit(membersEvent{Ev: "members", Members: members(m)})
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
		p.out.emit(statsEvent{Ev: "stats", NumMembers: m.NumMembers(), Health: m.GetHealthScore()})
	case "shutdown":
		return true
	default:
		p.out.fail(cmd, fmt.Errorf("unknown command"))
	}
	return false
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
