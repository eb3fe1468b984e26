package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Operation names of the agent's join, in the log ("<op> recovered").
const (
	opFetchCA   = "server CA fetch"
	opFetchCert = "kubelet client certificate fetch"
	// joinRetry is how often a join step is retried, as k3s's agent does.
	joinRetry = 2 * time.Second
)

var errCAMismatch = errors.New("the server's CA does not match the token's hash")

// AgentJoin is how a k3s agent gets its identity from the server's supervisor: the CA
// (pinned by a secure token), then a client certificate for its node name.
type AgentJoin struct {
	Server string
	Token  Token
	Node   string
	Files  AgentFiles
	Log    *Logger
	Retry  time.Duration
}

// Run retries each step until it succeeds (or ctx ends) and returns the kubelet's TLS settings.
func (j *AgentJoin) Run(ctx context.Context) (*tls.Config, error) {
	var caPEM []byte
	insecure := NewTLSClient(&tls.Config{InsecureSkipVerify: true}) // the token's hash is the check
	if err := j.retry(ctx, opFetchCA, func() (err error) {
		if caPEM, err = j.fetchCA(ctx, insecure); err != nil {
			return err
		}
		return j.Files.WriteCA(caPEM)
	}); err != nil {
		return nil, err
	}
	pool, err := CertPool(caPEM)
	if err != nil {
		return nil, err // fetchCA checked it
	}
	verified := NewTLSClient(&tls.Config{RootCAs: pool})
	var pair tls.Certificate
	if err := j.retry(ctx, opFetchCert, func() error {
		certPEM, keyPEM, err := j.fetchClientCert(ctx, verified)
		if err != nil {
			return err
		}
		if pair, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
			return err
		}
		return j.Files.WriteIdentity(j.Server, certPEM, keyPEM)
	}); err != nil {
		return nil, err
	}
	j.Log.Infof("Node %s joined %s with a kubelet client certificate", j.Node, j.Server)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}, nil
}

func (j *AgentJoin) retry(ctx context.Context, op string, step func() error) error {
	for {
		err := step()
		if err == nil {
			j.Log.Succeeded(op)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, errCAMismatch) {
			err = fmt.Errorf("%s failed: %w", op, err)
		}
		j.Log.Failed(op, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(j.Retry):
		}
	}
}

// fetchCA reads /cacerts without verifying TLS; with a secure token the body must hash to it.
func (j *AgentJoin) fetchCA(ctx context.Context, client *http.Client) ([]byte, error) {
	body, err := j.get(ctx, client, "/cacerts", nil)
	if err != nil {
		return nil, err
	}
	if j.Token.Secure() {
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != j.Token.CAHash {
			return nil, errCAMismatch
		}
	}
	if _, err := CertPool(body); err != nil {
		return nil, fmt.Errorf("GET /cacerts: %v", err)
	}
	return body, nil
}

// fetchClientCert asks the supervisor for a certificate for this node (basic auth node:<password>).
func (j *AgentJoin) fetchClientCert(ctx context.Context, client *http.Client) (certPEM, keyPEM []byte, err error) {
	body, err := j.get(ctx, client, "/v1-k3s/client-kubelet.crt", func(req *http.Request) {
		req.SetBasicAuth("node", j.Token.Password)
		req.Header.Set(nodeNameHeader, j.Node)
	})
	if err != nil {
		return nil, nil, err
	}
	return SplitCertAndKey(body)
}

func (j *AgentJoin) get(ctx context.Context, client *http.Client, path string, decorate func(*http.Request)) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.Server+path, nil)
	if err != nil {
		return nil, err
	}
	if decorate != nil {
		decorate(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		firstLine, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		return nil, &APIError{Method: http.MethodGet, Path: path, Code: resp.StatusCode, Message: firstLine}
	}
	return body, nil
}

// AgentConfig is what `k3s agent` runs with.
type AgentConfig struct {
	Options NodeOptions
	Release Release
	Period  time.Duration
	Log     *Logger
	Ready   func() // after the first successful heartbeat
}

// RunAgent joins the server and heartbeats until ctx ends.
func RunAgent(ctx context.Context, cfg AgentConfig) error {
	if cfg.Release.Behaviour == BehaviourNever {
		cfg.Log.Errorf("release %s is broken: never heartbeats", cfg.Release.Version)
		<-ctx.Done()
		return nil
	}
	join := &AgentJoin{
		Server: cfg.Options.Server,
		Token:  cfg.Options.Token,
		Node:   cfg.Options.NodeName,
		Files:  NewAgentFiles(cfg.Options.DataDir),
		Log:    cfg.Log,
		Retry:  joinRetry,
	}
	tlsConfig, err := join.Run(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while joining
		}
		return err
	}
	k := &Kubelet{
		API:         &API{Base: cfg.Options.Server, Client: NewTLSClient(tlsConfig)},
		Node:        cfg.Options.NodeName,
		Version:     cfg.Release.Version,
		Period:      cfg.Period,
		Once:        cfg.Release.Behaviour == BehaviourOnce,
		Host:        ReadHostInfo,
		Now:         time.Now,
		Log:         cfg.Log,
		OnHeartbeat: cfg.Ready,
	}
	k.Run(ctx)
	return nil
}
