package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Where real k3s's supervisor listens (every address of the node).
const defaultSupervisorAddr = ":6443"

// ServerConfig is what `k3s server` runs with; tests point the addresses at loopback ports.
type ServerConfig struct {
	DataDir        string
	Node           string
	Release        Release
	ListenAddr     string // the supervisor, e.g. ":6443"
	APIServerURL   string // kube-apiserver behind it, e.g. https://127.0.0.1:6444
	Period         time.Duration
	Host           func() HostInfo
	Log            *Logger
	Now            func() time.Time
	Ready          func() // after the supervisor is up and the node's first heartbeat
	OnListening    func(addr net.Addr)
	RoleLabelRetry time.Duration
}

// serverPKI is what the lab provisions under <data-dir>/server, at real k3s paths.
type serverPKI struct {
	serverCAPEM []byte
	clientCA    *CA
	serving     tls.Certificate
	proxyClient tls.Certificate
	password    string
}

func loadServerPKI(dataDir string) (*serverPKI, error) {
	dir := filepath.Join(dataDir, "server", "tls")
	p := &serverPKI{}
	var err error
	if _, p.serverCAPEM, err = readCertPool(filepath.Join(dir, "server-ca.crt")); err != nil {
		return nil, err
	}
	if p.clientCA, err = LoadCA(filepath.Join(dir, "client-ca.crt"), filepath.Join(dir, "client-ca.key")); err != nil {
		return nil, err
	}
	if p.serving, err = tls.LoadX509KeyPair(filepath.Join(dir, "serving-kube-apiserver.crt"), filepath.Join(dir, "serving-kube-apiserver.key")); err != nil {
		return nil, fmt.Errorf("loading the supervisor's serving certificate: %v", err)
	}
	if p.proxyClient, err = tls.LoadX509KeyPair(filepath.Join(dir, "client-auth-proxy.crt"), filepath.Join(dir, "client-auth-proxy.key")); err != nil {
		return nil, fmt.Errorf("loading the front-proxy client certificate: %v", err)
	}
	tokenPath := filepath.Join(dataDir, "server", "token")
	data, err := os.ReadFile(tokenPath)
	if err != nil {
		return nil, err
	}
	token, err := ParseToken(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", tokenPath, err)
	}
	p.password = token.Password
	return p, nil
}

// RunServer runs the supervisor until ctx ends, and the server's own node against it.
// It returns an error only when it cannot start.
func RunServer(ctx context.Context, cfg ServerConfig) error {
	pki, err := loadServerPKI(cfg.DataDir)
	if err != nil {
		return err
	}
	upstream, err := url.Parse(cfg.APIServerURL)
	if err != nil {
		return err
	}
	serverCAs, err := CertPool(pki.serverCAPEM)
	if err != nil {
		return err
	}
	clientCAs, _, err := readCertPool(filepath.Join(cfg.DataDir, "server", "tls", "client-ca.crt"))
	if err != nil {
		return err
	}
	sup := &Supervisor{
		ServerCAPEM: pki.serverCAPEM,
		ClientCA:    pki.clientCA,
		Password:    pki.password,
		API:         NewAPIProxy(upstream, serverCAs, pki.proxyClient, cfg.Log),
		Log:         cfg.Log,
		Now:         cfg.Now,
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           sup.Handler(),
		TLSConfig:         SupervisorTLS(pki.serving, clientCAs),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logWriter{cfg.Log}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	cfg.Log.Infof("Running the supervisor on %s, proxying the API to %s", ln.Addr(), cfg.APIServerURL)
	if cfg.OnListening != nil {
		cfg.OnListening(ln.Addr())
	}

	nodeCtx, stopNode := context.WithCancel(ctx)
	nodeDone := make(chan struct{})
	go func() {
		defer close(nodeDone)
		if err := runServerNode(nodeCtx, cfg, pki, serverCAs, ln.Addr()); err != nil {
			cfg.Log.Errorf("the server's node cannot start: %v", err)
		}
	}()

	select {
	case <-ctx.Done():
	case err = <-served:
	}
	stopNode()
	<-nodeDone
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if srv.Shutdown(shutdownCtx) != nil {
		_ = srv.Close() // watches do not end by themselves
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runServerNode is the server's kubelet: it talks to its own supervisor over loopback with
// a node certificate it signs itself, and writes that identity where k3s keeps it.
func runServerNode(ctx context.Context, cfg ServerConfig, pki *serverPKI, serverCAs *x509.CertPool, addr net.Addr) error {
	if cfg.Release.Behaviour == BehaviourNever {
		cfg.Log.Errorf("release %s is broken: never heartbeats", cfg.Release.Version)
		<-ctx.Done()
		return nil
	}
	self := "https://127.0.0.1:" + portOf(addr)
	nodeCert, err := issuePair(pki.clientCA, nodeUserPrefix+cfg.Node, nodesGroup, cfg.Now())
	if err != nil {
		return err
	}
	files := NewAgentFiles(cfg.DataDir)
	if err := files.WriteCA(pki.serverCAPEM); err != nil {
		return err
	}
	if err := files.WriteIdentity(self, nodeCert.certPEM, nodeCert.keyPEM); err != nil {
		return err
	}
	admin, err := issuePair(pki.clientCA, supervisorUser, supervisorGroup, cfg.Now())
	if err != nil {
		return err
	}
	go EnsureRoleLabels(ctx, &API{Base: self, Client: NewTLSClient(&tls.Config{RootCAs: serverCAs, Certificates: []tls.Certificate{admin.pair}})},
		cfg.Node, cfg.RoleLabelRetry, cfg.Log)

	k := &Kubelet{
		API:         &API{Base: self, Client: NewTLSClient(&tls.Config{RootCAs: serverCAs, Certificates: []tls.Certificate{nodeCert.pair}})},
		Node:        cfg.Node,
		Version:     cfg.Release.Version,
		Period:      cfg.Period,
		Once:        cfg.Release.Behaviour == BehaviourOnce,
		Host:        cfg.Host,
		Now:         cfg.Now,
		Log:         cfg.Log,
		OnHeartbeat: cfg.Ready,
	}
	k.Run(ctx)
	return nil
}

type issuedPair struct {
	certPEM, keyPEM []byte
	pair            tls.Certificate
}

func issuePair(ca *CA, cn, org string, now time.Time) (issuedPair, error) {
	certPEM, keyPEM, err := ca.IssueClientCert(cn, []string{org}, now)
	if err != nil {
		return issuedPair{}, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	return issuedPair{certPEM, keyPEM, pair}, err
}

func portOf(addr net.Addr) string {
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "6443"
	}
	return port
}

// logWriter sends net/http's own messages (TLS handshake failures) to the k3s log.
type logWriter struct{ log *Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Warnf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
