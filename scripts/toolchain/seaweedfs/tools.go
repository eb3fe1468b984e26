//go:build tools

// Pins SeaweedFS (its `weed` binary: the S3 server of the state backend tests)
// for scripts/setup; go.sum holds the checksums of it and everything it builds with.
package tools

import _ "github.com/seaweedfs/seaweedfs/weed"
