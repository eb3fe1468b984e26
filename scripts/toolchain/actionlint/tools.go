//go:build tools

// Pins actionlint for scripts/setup; go.sum holds its checksums.
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
