//go:build tools

// Package netpol pins np-guard's netpol-analyzer, which the egress tests run
// over the rendered manifests to check connectivity independently of our code.
package netpol

import (
	_ "github.com/np-guard/netpol-analyzer/cmd/netpolicy"
)
