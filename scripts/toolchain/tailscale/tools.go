//go:build tools

// Package tools pins the Tailscale programs the tailnet lab (test/tailnet/) runs:
// tailscaled, the tailscale CLI, containerboot (the gateway image's entrypoint) and
// derper, all from tailscale.com at the gateway image's tag
// (components/network/gateway-workload.ts GATEWAY_DEFAULTS.image).
package tools

import (
	_ "tailscale.com/cmd/containerboot"
	_ "tailscale.com/cmd/derper"
	_ "tailscale.com/cmd/tailscale"
	_ "tailscale.com/cmd/tailscaled"
)
