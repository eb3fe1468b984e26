package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

const (
	// labKubectl is a real kubectl the lab binds into every node.
	labKubectl = "/usr/local/lib/oceanid-lab/kubectl"
	// k3sKubeconfig is the admin kubeconfig a k3s server writes (the lab provisions it).
	k3sKubeconfig = "/etc/rancher/k3s/k3s.yaml"
)

// KubectlArgv is kubectl's argv for `k3s kubectl args…`: like k3s, the server's admin
// kubeconfig unless the caller named one (--kubeconfig before any "--", or $KUBECONFIG).
func KubectlArgv(args []string, kubeconfigEnv string) []string {
	argv := []string{"kubectl"}
	named := kubeconfigEnv != ""
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") {
			named = true
		}
	}
	if !named {
		argv = append(argv, "--kubeconfig", k3sKubeconfig)
	}
	return append(argv, args...)
}

// ExecKubectl replaces this process with the kubectl at path; it returns only on failure.
func ExecKubectl(path string, args []string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("kubectl is not available at %s (the lab binds a real kubectl there): %v", path, err)
	}
	argv := KubectlArgv(args, os.Getenv("KUBECONFIG"))
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("cannot run %s: %v", path, err)
	}
	return nil
}
