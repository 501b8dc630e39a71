package main

// Reading a member's real state. Grafana's memberlist fork exports the
// per-node record as NodeState (upstream calls it nodeState):
//
//	type NodeState struct {
//		Node
//		Incarnation uint32
//		State       NodeStateType // the real state
//		StateChange time.Time
//	}
//
// The exported Node.State is never written, so every *Node memberlist hands
// out reads StateAlive, and NotifyLeave cannot tell "left" from "failed".
// Every *Node it hands out (event delegate arguments, Members, LocalNode) is
// &NodeState.Node, the first field, so the record starts at that pointer.
// checkLayout makes sure of that, and that Memberlist.nodes holds
// *NodeState and Memberlist.nodeLock is a sync.RWMutex, before anything is
// read that way; otherwise states fall back to Node.State (with a warning on
// stderr) and leave reasons become "unknown".

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// layoutErr is nil when the layout this file relies on holds.
var layoutErr = checkLayout()

func checkLayout() error {
	if unsafe.Offsetof(memberlist.NodeState{}.Node) != 0 {
		return fmt.Errorf("NodeState.Node is not its first field")
	}
	ml := reflect.TypeOf(memberlist.Memberlist{})
	nodes, ok := ml.FieldByName("nodes")
	if !ok || nodes.Type != reflect.TypeOf([]*memberlist.NodeState(nil)) {
		return fmt.Errorf("Memberlist.nodes is not a []*NodeState")
	}
	lock, ok := ml.FieldByName("nodeLock")
	if !ok || lock.Type != reflect.TypeOf(sync.RWMutex{}) {
		return fmt.Errorf("Memberlist.nodeLock is not a sync.RWMutex")
	}
	return nil
}

// nodeState returns the real state of n, which must have been handed out by
// memberlist. The caller must hold memberlist's node lock (event delegates
// are called with it held; otherwise use withNodeLock).
func nodeState(n *memberlist.Node) memberlist.NodeStateType {
	if layoutErr != nil {
		return n.State
	}
	return (*memberlist.NodeState)(unsafe.Pointer(n)).State
}

// withNodeLock runs f while holding memberlist's node lock for reading, so
// that f can read nodes returned by Members without racing with updates. f
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
	return "unknown"
}
