package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// joinSetup: a supervisor on loopback in front of a fake API, and a join for node styx.
func joinSetup(t *testing.T, token string) (*AgentJoin, *testPKI, *fakeAPI, *syncBuffer, *syncBuffer) {
	t.Helper()
	p := newTestPKI(t)
	api := newFakeAPI()
	up, _ := startUpstream(t, p, nil, api.ServeHTTP)
	srv, supLog := proxyTo(t, p, up.URL)
	if token == "" {
		token = p.token
	}
	tok, err := ParseToken(token)
	must(t, err)
	log, buf := newTestLogger()
	return &AgentJoin{Server: srv.URL, Token: tok, Node: "styx", Files: NewAgentFiles(t.TempDir()), Log: log, Retry: 10 * time.Millisecond},
		p, api, buf, supLog
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	must(t, err)
	return info.Mode().Perm()
}

func TestJoinWithASecureTokenWritesTheNodeIdentity(t *testing.T) {
	j, p, api, logs, _ := joinSetup(t, "")
	tlsConfig, err := j.Run(context.Background())
	must(t, err)

	ca, err := os.ReadFile(j.Files.ServerCA())
	must(t, err)
	if !bytes.Equal(ca, p.serverCAPEM) {
		t.Errorf("server-ca.crt is not what /cacerts served")
	}
	certPEM, err := os.ReadFile(j.Files.ClientCert())
	must(t, err)
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	must(t, err)
	if cert.Subject.CommonName != "system:node:styx" {
		t.Errorf("client-kubelet.crt is for %q", cert.Subject.CommonName)
	}
	keyPEM, err := os.ReadFile(j.Files.ClientKey())
	must(t, err)
	mustPair(t, certPEM, keyPEM)
	if m := fileMode(t, j.Files.ClientKey()); m != 0o600 {
		t.Errorf("client-kubelet.key mode %o", m)
	}
	kubeconfig, err := os.ReadFile(j.Files.Kubeconfig())
	must(t, err)
	for _, want := range []string{
		"    server: " + j.Server + "\n",
		"    certificate-authority: " + j.Files.ServerCA() + "\n",
		"    client-certificate: " + j.Files.ClientCert() + "\n",
		"    client-key: " + j.Files.ClientKey() + "\n",
	} {
		if !strings.Contains(string(kubeconfig), want) {
			t.Errorf("kubelet.kubeconfig lacks %q:\n%s", want, kubeconfig)
		}
	}
	if got := logs.Lines(); !reflect.DeepEqual(got, []string{`time="2026-12-04T21:00:00Z" level=info msg="Node styx joined ` + j.Server + ` with a kubelet client certificate"`}) {
		t.Errorf("log %q", got)
	}

	// The identity works: the API sees the node, through the supervisor.
	k := &Kubelet{API: &API{Base: j.Server, Client: NewTLSClient(tlsConfig)}, Node: "styx", Version: "v1.33.5+k3s1",
		Host: func() HostInfo { return testHost }, Now: time.Now, Log: j.Log}
	if !k.Beat(context.Background()) {
		t.Fatalf("beat failed: %s", logs)
	}
	first := api.Requests()[0]
	if first.User != "system:node:styx" || !reflect.DeepEqual(first.Groups, []string{"system:nodes"}) {
		t.Errorf("the API saw %q %q", first.User, first.Groups)
	}
}

func TestJoinRefusesAServerWhoseCADoesNotMatchTheToken(t *testing.T) {
	wrong := "K10" + strings.Repeat("ab", 32) + "::server:whatever"
	j, _, _, logs, supLog := joinSetup(t, wrong)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := j.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want to retry until the context ends", err)
	}
	if got := logs.Lines(); !reflect.DeepEqual(got, []string{`time="2026-12-04T21:00:00Z" level=error msg="the server's CA does not match the token's hash"`}) {
		t.Fatalf("log %q", got)
	}
	if _, err := os.Stat(j.Files.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wrote %s anyway", j.Files.Dir)
	}
	if strings.Contains(supLog.String(), "issued") {
		t.Errorf("asked for a certificate anyway")
	}
}

func TestJoinWithAWrongPasswordRetriesAndLogsOnce(t *testing.T) {
	j, p, _, logs, _ := joinSetup(t, "")
	j.Token.Password = "not-" + p.password // the CA hash is right
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := j.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	want := []string{`time="2026-12-04T21:00:00Z" level=error msg="kubelet client certificate fetch failed: GET /v1-k3s/client-kubelet.crt: 401: Unauthorized"`}
	if got := logs.Lines(); !reflect.DeepEqual(got, want) {
		t.Fatalf("log %q", got)
	}
	if _, err := os.Stat(j.Files.ServerCA()); err != nil {
		t.Errorf("the CA step should have written server-ca.crt: %v", err)
	}
	if _, err := os.Stat(j.Files.ClientKey()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key without a certificate: %v", err)
	}
}

func TestJoinWithABarePasswordSkipsTheCAPin(t *testing.T) {
	j, p, _, _, _ := joinSetup(t, "")
	j.Token = Token{Password: p.password}
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(j.Files.ServerCA())
	must(t, err)
	if !bytes.Equal(ca, p.serverCAPEM) {
		t.Errorf("server-ca.crt differs")
	}
}

func TestJoinWaitsForTheServer(t *testing.T) {
	log, buf := newTestLogger()
	j := &AgentJoin{Server: "https://127.0.0.1:1", Token: Token{Password: "x"}, Node: "styx",
		Files: NewAgentFiles(t.TempDir()), Log: log, Retry: 10 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := j.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	want := `time="2026-12-04T21:00:00Z" level=error msg="server CA fetch failed: Get \"https://127.0.0.1:1/cacerts\": dial tcp 127.0.0.1:1: connect: connection refused"`
	if got := buf.Lines(); len(got) != 1 || got[0] != want {
		t.Fatalf("log %q", got)
	}
	if _, err := os.Stat(filepath.Join(j.Files.Dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wrote files: %v", err)
	}
}
