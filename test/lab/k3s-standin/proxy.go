package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// Where real k3s runs its kube-apiserver, behind the supervisor.
const defaultAPIServerURL = "https://127.0.0.1:6444"

// The front-proxy (requestheader) headers kube-apiserver reads from a trusted proxy.
const (
	remoteUserHeader  = "X-Remote-User"
	remoteGroupHeader = "X-Remote-Group"
	remoteExtraPrefix = "X-Remote-Extra-"
)

// proxyOp names upstream failures in the log.
const proxyOp = "proxying to the API server"

// NewAPIProxy forwards requests to kube-apiserver at upstream, verifying it with serverCAs and
// presenting proxyCert. The caller's identity travels as front-proxy headers: never the
// caller's own (forged) ones; set only from a client certificate the supervisor verified.
func NewAPIProxy(upstream *url.URL, serverCAs *x509.CertPool, proxyCert tls.Certificate, log *Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			setRemoteIdentity(pr.Out.Header, pr.In.TLS)
		},
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{
				MinVersion:   tls.VersionTLS12,
				RootCAs:      serverCAs,
				Certificates: []tls.Certificate{proxyCert},
			},
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
			TLSHandshakeTimeout: 5 * time.Second,
			IdleConnTimeout:     90 * time.Second,
			MaxIdleConnsPerHost: 16,
		},
		FlushInterval: -1, // watches stream
		ModifyResponse: func(*http.Response) error {
			log.Succeeded(proxyOp)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the caller went away (e.g. ended a watch): not an outage
			}
			log.Failed(proxyOp, fmt.Errorf("%s failed: %w", proxyOp, err))
			writeUnavailable(w)
		},
	}
}

// setRemoteIdentity drops every incoming front-proxy header, then names the caller of a
// verified client certificate: user = CN, one group per O. Authorization is left alone.
func setRemoteIdentity(h http.Header, state *tls.ConnectionState) {
	for name := range h {
		canonical := http.CanonicalHeaderKey(name)
		if canonical == remoteUserHeader || canonical == remoteGroupHeader || strings.HasPrefix(canonical, remoteExtraPrefix) {
			delete(h, name)
		}
	}
	if state == nil || len(state.VerifiedChains) == 0 || len(state.PeerCertificates) == 0 {
		return
	}
	subject := state.PeerCertificates[0].Subject
	h.Set(remoteUserHeader, subject.CommonName)
	for _, org := range subject.Organization {
		h.Add(remoteGroupHeader, org)
	}
}

// writeUnavailable answers like an API server would: a Status, not a Go error page.
func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind":       "Status",
		"apiVersion": "v1",
		"metadata":   map[string]any{},
		"status":     "Failure",
		"message":    "the API server is not running",
		"reason":     "ServiceUnavailable",
		"code":       http.StatusServiceUnavailable,
	})
}
