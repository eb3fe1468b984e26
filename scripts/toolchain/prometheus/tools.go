//go:build tools

// Package tools pins Prometheus and promtool (the Go module's v0.316.0 tag) for the monitoring
// tests (test/monitoring, test/helpers/prometheus.ts); go.sum holds their checksums.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
