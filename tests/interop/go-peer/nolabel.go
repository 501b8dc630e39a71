//go:build !labels

package main

// Without the labels build tag (memberlist before v0.3.0 has no labels):
// asking for a label, or for skipping the inbound label check, is a usage
// error.

import (
	"fmt"

	"github.com/hashicorp/memberlist"
)

func setLabel(_ *memberlist.Config, label string, skipInboundCheck bool) error {
	if label != "" || skipInboundCheck {
		return fmt.Errorf("labels are not supported by this go-peer (memberlist %s; "+
			"labels need v0.3.0 or later and the labels build tag)", memberlistVersion())
	}
	return nil
}
