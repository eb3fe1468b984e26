//go:build tools

// Package tools pins headscale, the control server (with its embedded DERP/STUN
// server) of the tailnet lab (test/tailnet/). It carries its own tailscale.com
// version, which is why it is a module of its own.
package tools

import _ "github.com/juanfont/headscale/cmd/headscale"
