package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is what the upstream (kube-apiserver's stand-in) saw of one request.
type seen struct {
	header   http.Header
	proxyCNs []string // the client certificate the proxy presented
}

// startUpstream stands in for kube-apiserver on loopback: TLS with the apiserver's serving
// certificate, requiring a front-proxy client certificate (as --requestheader-client-ca-file).
func startUpstream(t *testing.T, p *testPKI, ln net.Listener, handler http.HandlerFunc) (*httptest.Server, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var all []seen
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cns []string
		for _, c := range r.TLS.PeerCertificates {
			cns = append(cns, c.Subject.CommonName)
		}
		mu.Lock()
		all = append(all, seen{header: r.Header.Clone(), proxyCNs: cns})
		mu.Unlock()
		handler(w, r)
	}))
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{p.apiserver},
		ClientCAs:    pool(p.proxyCA.Cert),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen{}, all...)
	}
}

func proxyTo(t *testing.T, p *testPKI, upstream string) (*httptest.Server, *syncBuffer) {
	t.Helper()
	u, err := url.Parse(upstream)
	must(t, err)
	log, buf := newTestLogger()
	proxy := NewAPIProxy(u, pool(p.serverCA.Cert), p.authProxy, log)
	srv, _ := startSupervisor(t, p, proxy, time.Now())
	return srv, buf
}

var forged = http.Header{
	"X-Remote-User":         {"system:admin"},
	"X-Remote-Group":        {"system:masters"},
	"X-Remote-Extra-Scopes": {"all"},
	"x-remote-extra-other":  {"x"},
	"Authorization":         {"Bearer node-bootstrap-token"},
	"Accept":                {"application/json"},
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"kind":"NodeList"}`) }

func remoteHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-remote-") {
			out[k] = v
		}
	}
	return out
}

func TestProxyStripsForgedIdentityAndKeepsTheBearerToken(t *testing.T) {
	p := newTestPKI(t)
	up, requests := startUpstream(t, p, nil, ok)
	srv, _ := proxyTo(t, p, up.URL)
	code, _, body := get(t, clientOf(p), srv.URL+"/api/v1/nodes?limit=1", forged)
	if code != 200 || string(body) != `{"kind":"NodeList"}` {
		t.Fatalf("%d %q", code, body)
	}
	r := requests()
	if len(r) != 1 {
		t.Fatalf("%d upstream requests", len(r))
	}
	if got := remoteHeaders(r[0].header); len(got) != 0 {
		t.Errorf("forged identity reached the API server: %v", got)
	}
	if r[0].header.Get("Authorization") != "Bearer node-bootstrap-token" {
		t.Errorf("Authorization %q", r[0].header.Get("Authorization"))
	}
	if !reflect.DeepEqual(r[0].proxyCNs, []string{"system:auth-proxy"}) {
		t.Errorf("the proxy presented %v", r[0].proxyCNs)
	}
}

func TestProxyNamesTheCallerOfAVerifiedCertificate(t *testing.T) {
	p := newTestPKI(t)
	up, requests := startUpstream(t, p, nil, ok)
	srv, _ := proxyTo(t, p, up.URL)
	certPEM, keyPEM := signTestLeaf(t, p.clientCA, "system:node:styx", []string{"oceanid:lab", "system:nodes"}, x509.ExtKeyUsageClientAuth)
	code, _, _ := get(t, clientOf(p, mustPair(t, certPEM, keyPEM)), srv.URL+"/api/v1/nodes", forged)
	if code != 200 {
		t.Fatalf("%d", code)
	}
	want := map[string][]string{
		"X-Remote-User":  {"system:node:styx"},
		"X-Remote-Group": {"oceanid:lab", "system:nodes"},
	}
	if got := remoteHeaders(requests()[0].header); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestProxyRefusesACertificateFromAnotherCA(t *testing.T) {
	p := newTestPKI(t)
	up, requests := startUpstream(t, p, nil, ok)
	srv, _ := proxyTo(t, p, up.URL)
	certPEM, keyPEM := signTestLeaf(t, p.serverCA, "system:admin", []string{"system:masters"}, x509.ExtKeyUsageClientAuth)
	pair := mustPair(t, certPEM, keyPEM)
	// Sent even though the supervisor does not ask for that CA (a Go client would not send it).
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:              pool(p.serverCA.Cert),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil },
	}}}
	_, err := client.Get(srv.URL + "/api/v1/nodes")
	if err == nil || !strings.Contains(err.Error(), "tls: unknown certificate authority") {
		t.Fatalf("got %v, want a TLS failure", err)
	}
	if n := len(requests()); n != 0 {
		t.Fatalf("%d requests reached the API server", n)
	}
}

func TestProxyStreamsWatches(t *testing.T) {
	p := newTestPKI(t)
	release := make(chan struct{})
	up, _ := startUpstream(t, p, nil, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"type":"ADDED"}`+"\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, `{"type":"DELETED"}`+"\n")
	})
	srv, _ := proxyTo(t, p, up.URL)
	defer close(release)
	resp, err := clientOf(p).Get(srv.URL + "/api/v1/nodes?watch=true")
	must(t, err)
	defer resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l != `{"type":"ADDED"}`+"\n" {
			t.Fatalf("first event %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not arrive while the watch was open")
	}
}

const unavailableStatus = `{"apiVersion":"v1","code":503,"kind":"Status","message":"the API server is not running","metadata":{},"reason":"ServiceUnavailable","status":"Failure"}` + "\n"

func TestProxyAnswersAStatusWhileTheAPIServerIsDown(t *testing.T) {
	p := newTestPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	srv, logs := proxyTo(t, p, "https://"+addr)
	for range 3 {
		code, h, body := get(t, clientOf(p), srv.URL+"/api/v1/nodes", nil)
		if code != 503 || h.Get("Content-Type") != "application/json" || string(body) != unavailableStatus {
			t.Fatalf("%d %q %q", code, h.Get("Content-Type"), body)
		}
	}
	lines := logs.Lines()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], `time="2026-12-04T21:00:00Z" level=error msg="proxying to the API server failed: dial tcp `+addr+`: connect: connection refused"`) {
		t.Fatalf("log %q", lines)
	}

	// The API server comes up on that address: the outage ends, and is said to have ended.
	ln, err = net.Listen("tcp", addr)
	must(t, err)
	startUpstream(t, p, ln, ok)
	if code, _, _ := get(t, clientOf(p), srv.URL+"/api/v1/nodes", nil); code != 200 {
		t.Fatalf("after recovery: %d", code)
	}
	lines = logs.Lines()
	if len(lines) != 2 || lines[1] != `time="2026-12-04T21:00:00Z" level=info msg="proxying to the API server recovered"` {
		t.Fatalf("log %q", lines)
	}
}
