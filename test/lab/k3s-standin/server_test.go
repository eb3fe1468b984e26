package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

type runningServer struct {
	addr  string // the supervisor, 127.0.0.1:<port>
	ready chan struct{}
	stop  func() error
	api   *fakeAPI
	logs  *syncBuffer
	p     *testPKI
}

// startServer runs RunServer in-process: the supervisor on a loopback port, kube-apiserver
// played by the fake API behind TLS.
func startServer(t *testing.T, behaviour Behaviour) *runningServer {
	t.Helper()
	p := newTestPKI(t)
	api := newFakeAPI()
	up, _ := startUpstream(t, p, nil, api.ServeHTTP)
	log, buf := newTestLogger()
	rs := &runningServer{ready: make(chan struct{}), api: api, logs: buf, p: p}
	var readyOnce sync.Once
	listening := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunServer(ctx, ServerConfig{
			DataDir:        p.dataDir,
			Node:           "tethys",
			Release:        Release{Version: "v1.33.5+k3s1", Behaviour: behaviour},
			ListenAddr:     "127.0.0.1:0",
			APIServerURL:   up.URL,
			Period:         20 * time.Millisecond,
			Host:           func() HostInfo { return testHost },
			Log:            log,
			Now:            time.Now,
			Ready:          func() { readyOnce.Do(func() { close(rs.ready) }) },
			OnListening:    func(a net.Addr) { listening <- a },
			RoleLabelRetry: 20 * time.Millisecond,
		})
	}()
	select {
	case a := <-listening:
		rs.addr = a.String()
	case err := <-done:
		t.Fatalf("RunServer: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the supervisor did not start")
	}
	stopped := false
	rs.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("RunServer did not return after its context ended")
			return nil
		}
	}
	t.Cleanup(func() { _ = rs.stop() })
	return rs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServerRunsItsNodeThroughItsOwnSupervisor(t *testing.T) {
	s := startServer(t, BehaviourOK)
	select {
	case <-s.ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("never ready; log:\n%s", s.logs)
	}
	var all []recorded
	waitFor(t, "the control-plane labels", func() bool {
		all = append(all, s.api.Requests()...)
		done := false
		s.api.set(func() {
			labels, _ := s.api.nodes["tethys"]["metadata"].(map[string]any)["labels"].(map[string]any)
			done = labels["node-role.kubernetes.io/control-plane"] == "true"
		})
		return done
	})
	all = append(all, s.api.Requests()...)

	var register, label *recorded
	for i := range all {
		switch all[i].String() {
		case "POST /api/v1/nodes":
			register = &all[i]
		case "PATCH /api/v1/nodes/tethys":
			label = &all[i]
		}
	}
	if register == nil || register.User != "system:node:tethys" || !reflect.DeepEqual(register.Groups, []string{"system:nodes"}) {
		t.Fatalf("registration %+v", register)
	}
	if _, has := register.Body["metadata"].(map[string]any)["labels"].(map[string]any)["node-role.kubernetes.io/master"]; has {
		t.Errorf("the kubelet registered with a role label (NodeRestriction refuses that)")
	}
	if label == nil || label.User != "system:k3s-supervisor" || !reflect.DeepEqual(label.Groups, []string{"system:masters"}) ||
		label.ContentType != "application/merge-patch+json" {
		t.Fatalf("label patch %+v", label)
	}
	sameJSON(t, "label patch", label.Body, map[string]any{"metadata": map[string]any{"labels": map[string]any{
		"node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "true",
	}}})

	// The node's identity where k3s keeps it on a server.
	agent := NewAgentFiles(s.p.dataDir)
	ca, err := os.ReadFile(agent.ServerCA())
	must(t, err)
	if !bytes.Equal(ca, s.p.serverCAPEM) {
		t.Errorf("agent/server-ca.crt differs from server/tls/server-ca.crt")
	}
	certPEM, err := os.ReadFile(agent.ClientCert())
	must(t, err)
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	must(t, err)
	if cert.Subject.CommonName != "system:node:tethys" || !reflect.DeepEqual(cert.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("agent/client-kubelet.crt subject %v", cert.Subject)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool(s.p.clientCA.Cert), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("agent/client-kubelet.crt: %v", err)
	}
	if m := fileMode(t, agent.ClientKey()); m != 0o600 {
		t.Errorf("agent/client-kubelet.key mode %o", m)
	}
	kubeconfig, err := os.ReadFile(agent.Kubeconfig())
	must(t, err)
	if _, port, _ := net.SplitHostPort(s.addr); !strings.Contains(string(kubeconfig), "    server: https://127.0.0.1:"+port+"\n") {
		t.Errorf("kubelet.kubeconfig:\n%s", kubeconfig)
	}

	// The supervisor answers agents, and stops with its context.
	code, _, body := get(t, clientOf(s.p), "https://"+s.addr+"/ping", nil)
	if code != 200 || string(body) != "pong" {
		t.Errorf("/ping %d %q", code, body)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("RunServer: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		t.Errorf("the supervisor still listens after the stop")
	}
}

func TestServerWithANeverRelease(t *testing.T) {
	s := startServer(t, BehaviourNever)
	code, _, _ := get(t, clientOf(s.p), "https://"+s.addr+"/ping", nil)
	if code != 200 {
		t.Fatalf("/ping %d: the supervisor runs even when the node is broken", code)
	}
	time.Sleep(200 * time.Millisecond) // 10 heartbeat periods
	select {
	case <-s.ready:
		t.Fatal("a release that never heartbeats told systemd it was ready")
	default:
	}
	if rs := s.api.Requests(); len(rs) != 0 {
		t.Fatalf("API requests %q", paths(rs))
	}
	if !strings.Contains(s.logs.String(), `level=error msg="release v1.33.5+k3s1 is broken: never heartbeats"`+"\n") {
		t.Fatalf("log:\n%s", s.logs)
	}
}

func TestServerCannotStartWithoutItsFiles(t *testing.T) {
	p := newTestPKI(t)
	missing := filepath.Join(p.dataDir, "server", "tls", "client-auth-proxy.key")
	must(t, os.Remove(missing))
	log, _ := newTestLogger()
	err := RunServer(context.Background(), ServerConfig{DataDir: p.dataDir, ListenAddr: "127.0.0.1:0", APIServerURL: defaultAPIServerURL, Log: log, Now: time.Now})
	if err == nil || err.Error() != "loading the front-proxy client certificate: open "+missing+": no such file or directory" {
		t.Fatalf("got %v", err)
	}
}
