package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPKI is the set of files the lab provisions for a server, made fresh for one test
// under dataDir/server (the same layout RunServer reads).
type testPKI struct {
	dataDir     string
	serverCA    *CA
	serverCAPEM []byte
	clientCA    *CA
	proxyCA     *CA // kube-apiserver's --requestheader-client-ca-file
	serving     tls.Certificate
	apiserver   tls.Certificate // the upstream kube-apiserver's serving certificate
	authProxy   tls.Certificate // the front-proxy client certificate
	password    string
	token       string // K10<sha256 of server-ca.crt>::server:<password>
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dataDir: t.TempDir(), password: "lab-password-1"}
	var serverCACert, clientCACert []byte
	p.serverCA, serverCACert = newTestCA(t, "k3s-server-ca")
	p.clientCA, clientCACert = newTestCA(t, "k3s-client-ca")
	p.proxyCA, _ = newTestCA(t, "k3s-request-header-ca")
	p.serverCAPEM = serverCACert
	servingCert, servingKey := signTestLeaf(t, p.serverCA, "k3s", nil, x509.ExtKeyUsageServerAuth)
	p.serving = mustPair(t, servingCert, servingKey)
	apiCert, apiKey := signTestLeaf(t, p.serverCA, "kube-apiserver", nil, x509.ExtKeyUsageServerAuth)
	p.apiserver = mustPair(t, apiCert, apiKey)
	proxyCert, proxyKey := signTestLeaf(t, p.proxyCA, "system:auth-proxy", nil, x509.ExtKeyUsageClientAuth)
	p.authProxy = mustPair(t, proxyCert, proxyKey)
	sum := sha256.Sum256(serverCACert)
	p.token = "K10" + hex.EncodeToString(sum[:]) + "::server:" + p.password

	tlsDir := filepath.Join(p.dataDir, "server", "tls")
	must(t, os.MkdirAll(tlsDir, 0o700))
	files := map[string][]byte{
		"server-ca.crt":              serverCACert,
		"client-ca.crt":              clientCACert,
		"client-ca.key":              ecKeyPEM(t, p.clientCA.Key.(*ecdsa.PrivateKey)),
		"serving-kube-apiserver.crt": servingCert,
		"serving-kube-apiserver.key": servingKey,
		"client-auth-proxy.crt":      proxyCert,
		"client-auth-proxy.key":      proxyKey,
	}
	for name, data := range files {
		must(t, os.WriteFile(filepath.Join(tlsDir, name), data, 0o600))
	}
	must(t, os.WriteFile(filepath.Join(p.dataDir, "server", "token"), []byte(p.token+"\n"), 0o600))
	return p
}

func newTestCA(t *testing.T, cn string) (*CA, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return &CA{Cert: cert, Key: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// signTestLeaf signs a leaf for loopback (127.0.0.1 and localhost) with the given usage.
func signTestLeaf(t *testing.T, ca *CA, cn string, orgs []string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ecKeyPEM(t, key)
}

func ecKeyPEM(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func mustPair(t *testing.T, certPEM, keyPEM []byte) tls.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	must(t, err)
	return pair
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
