package main

// memberlist keeps a node's real state in its unexported nodeState struct,
// whose own State field shadows the State of the embedded Node (the same in
// v0.2.2, v0.5.4 and v0.7.0):
//
//	type nodeState struct {
//		Node
//		Incarnation uint32
//		State       NodeStateType // the real state
//		StateChange time.Time
//	}
//
// The exported Node.State is never written, so every *Node handed out by the
// API reads StateAlive, and a NotifyLeave cannot tell "left" from "failed".
// Every *Node that memberlist gives us (event delegate arguments, Members,
// LocalNode) is &nodeState.Node, the first field of a nodeState, so the real
// state sits at a fixed offset from that pointer. The code below checks, with
// reflection on the unexported types, that the package we were built against
// has exactly that layout before reading through it; if it does not, it falls
// back to the exported Node.State, warns on stderr, and leave reasons become
// "unknown" (which the interop tests' leave and failure checks would catch).

import (
	"fmt"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// nodeStateLayout mirrors memberlist's unexported nodeState.
type nodeStateLayout struct {
	memberlist.Node
	Incarnation uint32
	State       memberlist.NodeStateType
	StateChange time.Time
}

// layoutErr is nil when memberlist's nodeState and Memberlist.nodeLock have
// the layout this file relies on.
var layoutErr = checkLayout()

func checkLayout() error {
	ml := reflect.TypeOf(memberlist.Memberlist{})
	nodes, ok := ml.FieldByName("nodes")
	if !ok || nodes.Type.Kind() != reflect.Slice || nodes.Type.Elem().Kind() != reflect.Ptr {
		return fmt.Errorf("Memberlist.nodes is not a slice of pointers")
	}
	got := nodes.Type.Elem().Elem()
	want := reflect.TypeOf(nodeStateLayout{})
	if got.Kind() != reflect.Struct || got.Size() != want.Size() || got.NumField() != want.NumField() {
		return fmt.Errorf("nodeState has an unexpected shape: %v", got)
	}
	for i := 0; i < want.NumField(); i++ {
		g, w := got.Field(i), want.Field(i)
		if g.Name != w.Name || g.Type != w.Type || g.Offset != w.Offset || g.Anonymous != w.Anonymous {
			return fmt.Errorf("nodeState field %d is %s %v at %d, expected %s %v at %d",
				i, g.Name, g.Type, g.Offset, w.Name, w.Type, w.Offset)
		}
	}
	lock, ok := ml.FieldByName("nodeLock")
	if !ok || lock.Type != reflect.TypeOf(sync.RWMutex{}) {
		return fmt.Errorf("Memberlist.nodeLock is not a sync.RWMutex")
	}
	return nil
}

// nodeState returns the real state of n, which must have been handed out by
// memberlist. The caller must hold memberlist's node lock (event delegates are
// called with it held; otherwise use withNodeLock).
func nodeState(n *memberlist.Node) memberlist.NodeStateType {
	if layoutErr != nil {
		return n.State
	}
	return (*nodeStateLayout)(unsafe.Pointer(n)).State
}

// withNodeLock runs f while holding memberlist's node lock for reading, so
// that f can copy nodes returned by Members without racing with updates. f
// must not call back into memberlist.
func withNodeLock(m *memberlist.Memberlist, f func()) {
	if layoutErr != nil {
		f()
		return
	}
	field := reflect.ValueOf(m).Elem().FieldByName("nodeLock")
	lock := (*sync.RWMutex)(unsafe.Pointer(field.UnsafeAddr()))
	lock.RLock()
	defer lock.RUnlock()
	f()
}

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	}
	return "unknown"
}

// leaveReason maps the state a node has when NotifyLeave fires to the
// contract's reason: a node that announced its own death left, any other
// dead node failed.
func leaveReason(n *memberlist.Node) string {
	switch nodeState(n) {
	case memberlist.StateLeft:
		return "left"
	case memberlist.StateDead:
		return "failed"
	}
	return "unknown" // only with an unexpected layout: Node.State says alive
}
