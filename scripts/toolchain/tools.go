//go:build tools

// Package toolchain pins the Pulumi CLI built by scripts/setup; go.sum holds
// the checksums of every module it builds from.
package toolchain

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
