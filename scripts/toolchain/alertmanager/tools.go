//go:build tools

// Package tools pins Alertmanager for the monitoring tests (test/monitoring,
// test/helpers/prometheus.ts): v0.28.1, the newest version that builds from the module (later
// ones embed a generated UI the module does not carry); go.sum holds its checksums.
package tools

import _ "github.com/prometheus/alertmanager/cmd/alertmanager"
