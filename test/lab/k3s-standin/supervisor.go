package main

import (
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"regexp"
	"time"
)

// nodeNameHeader names the node asking for a client certificate (as k3s agents send it).
const nodeNameHeader = "k3s-Node-Name"

// A node name is a DNS-1123 subdomain; anything else must not become a certificate subject.
var nodeNamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Supervisor is the k3s server's port 6443: the join endpoints, and the API behind them.
type Supervisor struct {
	ServerCAPEM []byte // served by /cacerts byte for byte
	ClientCA    *CA    // signs node client certificates
	Password    string // the password part of the server's token
	API         http.Handler
	Log         *Logger
	Now         func() time.Time
}

// Handler routes /ping, /cacerts and /v1-k3s/client-kubelet.crt; everything else is the API.
func (s *Supervisor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("pong"))
	})
	mux.HandleFunc("GET /cacerts", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(s.ServerCAPEM)
	})
	mux.HandleFunc("GET /v1-k3s/client-kubelet.crt", s.clientKubeletCert)
	mux.Handle("/", s.API)
	return mux
}

func (s *Supervisor) clientKubeletCert(w http.ResponseWriter, r *http.Request) {
	user, password, ok := r.BasicAuth()
	if !ok || user != "node" || subtle.ConstantTimeCompare([]byte(password), []byte(s.Password)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="k3s"`)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	name := r.Header.Get(nodeNameHeader)
	if name == "" {
		http.Error(w, "missing "+nodeNameHeader+" header", http.StatusBadRequest)
		return
	}
	if len(name) > 253 || !nodeNamePattern.MatchString(name) {
		http.Error(w, nodeNameHeader+" is not a valid node name", http.StatusBadRequest)
		return
	}
	certPEM, keyPEM, err := s.ClientCA.IssueClientCert(nodeUserPrefix+name, []string{nodesGroup}, s.Now())
	if err != nil {
		s.Log.Errorf("issuing a client certificate for node %s: %v", name, err)
		http.Error(w, "cannot issue the certificate", http.StatusInternalServerError)
		return
	}
	s.Log.Infof("issued a kubelet client certificate for node %s", name)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(append(certPEM, keyPEM...))
}

// SupervisorTLS serves cert and verifies a client certificate against clientCAs when one is
// given (nodes and admins present one; /ping, /cacerts and bearer tokens need none).
func SupervisorTLS(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    clientCAs,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
}
