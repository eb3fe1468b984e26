package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// startSupervisor serves a Supervisor over TLS on loopback; api stands behind it.
func startSupervisor(t *testing.T, p *testPKI, api http.Handler, now time.Time) (*httptest.Server, *syncBuffer) {
	t.Helper()
	log, buf := newTestLogger()
	sup := &Supervisor{
		ServerCAPEM: p.serverCAPEM,
		ClientCA:    p.clientCA,
		Password:    p.password,
		API:         api,
		Log:         log,
		Now:         func() time.Time { return now },
	}
	srv := httptest.NewUnstartedServer(sup.Handler())
	srv.TLS = SupervisorTLS(p.serving, pool(p.clientCA.Cert))
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, buf
}

// clientOf trusts the server CA and presents certs, if any.
func clientOf(p *testPKI, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool(p.serverCA.Cert), Certificates: certs},
	}}
}

func get(t *testing.T, c *http.Client, url string, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	must(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, resp.Header, body
}

var noAPI = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "api", http.StatusTeapot) })

func TestPingAndCACertsNeedNoAuth(t *testing.T) {
	p := newTestPKI(t)
	srv, _ := startSupervisor(t, p, noAPI, time.Now())
	code, h, body := get(t, clientOf(p), srv.URL+"/ping", nil)
	if code != 200 || string(body) != "pong" || h.Get("Content-Type") != "text/plain" {
		t.Fatalf("/ping: %d %q %q", code, h.Get("Content-Type"), body)
	}
	// /cacerts is what an agent fetches before it can verify anything.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	code, _, body = get(t, insecure, srv.URL+"/cacerts", nil)
	if code != 200 || !bytes.Equal(body, p.serverCAPEM) {
		t.Fatalf("/cacerts: %d, %d bytes, want the %d bytes of server-ca.crt", code, len(body), len(p.serverCAPEM))
	}
	code, _, body = get(t, clientOf(p), srv.URL+"/api/v1/nodes", nil)
	if code != http.StatusTeapot || string(body) != "api\n" {
		t.Fatalf("everything else goes to the API: %d %q", code, body)
	}
}

func basicAuth(user, password string) http.Header {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, password)
	return req.Header
}

func TestClientKubeletCertIssuesANodeCertificate(t *testing.T) {
	p := newTestPKI(t)
	now := time.Now().Truncate(time.Second)
	srv, logs := startSupervisor(t, p, noAPI, now)
	h := basicAuth("node", p.password)
	h.Set("k3s-Node-Name", "styx")
	code, _, body := get(t, clientOf(p), srv.URL+"/v1-k3s/client-kubelet.crt", h)
	if code != 200 {
		t.Fatalf("%d %q", code, body)
	}
	certBlock, rest := pem.Decode(body)
	keyBlock, rest := pem.Decode(rest)
	if certBlock == nil || certBlock.Type != "CERTIFICATE" || keyBlock == nil || keyBlock.Type != "EC PRIVATE KEY" || len(rest) != 0 {
		t.Fatalf("want a PEM certificate then a PEM EC key, got %q", body)
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	must(t, err)
	if cert.Subject.CommonName != "system:node:styx" || !reflect.DeepEqual(cert.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("subject %v", cert.Subject)
	}
	if !reflect.DeepEqual(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || cert.IsCA {
		t.Errorf("usage %v, CA %v", cert.ExtKeyUsage, cert.IsCA)
	}
	if !cert.NotBefore.Equal(now) || !cert.NotAfter.Equal(now.Add(7*24*time.Hour)) {
		t.Errorf("valid %v to %v, want %v for 7 days", cert.NotBefore, cert.NotAfter, now)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool(p.clientCA.Cert), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("not signed by client-ca: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool(p.serverCA.Cert), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Errorf("verifies against server-ca too")
	}
	key, err := x509.ParseECPrivateKey(keyBlock.Bytes)
	must(t, err)
	if key.Curve != elliptic.P256() || !key.PublicKey.Equal(cert.PublicKey.(*ecdsa.PublicKey)) {
		t.Errorf("the key is not the certificate's P-256 key")
	}
	if got := logs.Lines(); len(got) != 1 || got[0] != `time="2026-12-04T21:00:00Z" level=info msg="issued a kubelet client certificate for node styx"` {
		t.Errorf("log %q", got)
	}

	// Every request gets a fresh key.
	_, _, again := get(t, clientOf(p), srv.URL+"/v1-k3s/client-kubelet.crt", h)
	if bytes.Equal(again, body) {
		t.Errorf("the same certificate twice")
	}
}

func TestClientKubeletCertRefusals(t *testing.T) {
	p := newTestPKI(t)
	srv, logs := startSupervisor(t, p, noAPI, time.Now())
	withName := func(h http.Header, name string) http.Header {
		if h == nil {
			h = http.Header{}
		}
		h.Set("k3s-Node-Name", name)
		return h
	}
	cases := []struct {
		name   string
		header http.Header
		code   int
		body   string
	}{
		{"no credentials", withName(nil, "styx"), 401, "Unauthorized\n"},
		{"wrong password", withName(basicAuth("node", p.password+"x"), "styx"), 401, "Unauthorized\n"},
		{"a prefix of the password", withName(basicAuth("node", p.password[:3]), "styx"), 401, "Unauthorized\n"},
		{"wrong user", withName(basicAuth("server", p.password), "styx"), 401, "Unauthorized\n"},
		{"no node name", basicAuth("node", p.password), 400, "missing k3s-Node-Name header\n"},
		{"not a node name", withName(basicAuth("node", p.password), "Styx/../x"), 400, "k3s-Node-Name is not a valid node name\n"},
	}
	for _, c := range cases {
		code, h, body := get(t, clientOf(p), srv.URL+"/v1-k3s/client-kubelet.crt", c.header)
		if code != c.code || string(body) != c.body {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, body, c.code, c.body)
		}
		if c.code == 401 && h.Get("WWW-Authenticate") != `Basic realm="k3s"` {
			t.Errorf("%s: WWW-Authenticate %q", c.name, h.Get("WWW-Authenticate"))
		}
	}
	if logs.String() != "" {
		t.Errorf("refusals issued something: %q", logs.String())
	}
}
