//go:build tools

// Package k8s pins the Kubernetes control plane that scripts/test-cluster runs:
// k8s.io/kubernetes does not support use as a module, so go.mod points each of
// its staging modules (required there as v0.0.0) at the published release
// with the same minor and patch.
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
