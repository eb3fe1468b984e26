package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// AgentFiles are the node identity files k3s keeps under <data-dir>/agent; node-side
// scripts use them to reach the API as the node.
type AgentFiles struct{ Dir string }

func NewAgentFiles(dataDir string) AgentFiles {
	return AgentFiles{Dir: filepath.Join(dataDir, "agent")}
}

func (f AgentFiles) ServerCA() string   { return filepath.Join(f.Dir, "server-ca.crt") }
func (f AgentFiles) ClientCert() string { return filepath.Join(f.Dir, "client-kubelet.crt") }
func (f AgentFiles) ClientKey() string  { return filepath.Join(f.Dir, "client-kubelet.key") }
func (f AgentFiles) Kubeconfig() string { return filepath.Join(f.Dir, "kubelet.kubeconfig") }

// WriteCA writes the server's CA as fetched (or, on a server, as provisioned).
func (f AgentFiles) WriteCA(caPEM []byte) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	return writeFileAtomic(f.ServerCA(), caPEM, 0o644)
}

// WriteIdentity writes the node's client certificate, its key (0600) and a kubeconfig that
// points at server with those files.
func (f AgentFiles) WriteIdentity(server string, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(f.ClientCert(), certPEM, 0o644); err != nil {
		return err
	}
	if err := writeFileAtomic(f.ClientKey(), keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(f.Kubeconfig(), []byte(f.kubeconfig(server)), 0o600)
}

func (f AgentFiles) kubeconfig(server string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- cluster:
    server: %s
    certificate-authority: %s
  name: local
contexts:
- context:
    cluster: local
    namespace: default
    user: user
  name: Default
current-context: Default
preferences: {}
users:
- name: user
  user:
    client-certificate: %s
    client-key: %s
`, server, f.ServerCA(), f.ClientCert(), f.ClientKey())
}

// writeFileAtomic replaces path in one rename, so a reader never sees half a key.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
