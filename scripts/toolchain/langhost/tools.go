//go:build tools

// Package langhost pins the Node.js language host that scripts/setup builds:
// github.com/pulumi/pulumi/sdk/v3@v3.68.0 is the newest module version that
// still contains it (see ../cmd/pulumi-language-nodejs for why).
package langhost

import (
	_ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
)
