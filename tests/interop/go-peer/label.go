//go:build labels

package main

// Labels, for memberlist v0.3.0 and later (build-go-peer.sh sets the labels
// build tag for them): Config.Label and Config.SkipInboundLabelCheck.

import (
	"fmt"

	"github.com/hashicorp/memberlist"
)

// setLabel sets the label options; a label memberlist would refuse (over
// 255 bytes) is a usage error, as in tests/agent/node.rs.
func setLabel(conf *memberlist.Config, label string, skipInboundCheck bool) error {
	if len(label) > memberlist.LabelMaxSize {
		return fmt.Errorf("--label is %d bytes, the limit is %d", len(label), memberlist.LabelMaxSize)
	}
	conf.Label = label
	conf.SkipInboundLabelCheck = skipInboundCheck
	return nil
}
