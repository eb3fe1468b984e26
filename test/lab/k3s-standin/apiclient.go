package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Content types of the Kubernetes API this stand-in speaks.
const (
	contentJSON           = "application/json"
	contentStrategicMerge = "application/strategic-merge-patch+json"
	contentMergePatch     = "application/merge-patch+json"
)

// requestTimeout bounds one API call, so a node whose network is cut fails its beat
// instead of hanging on a dead connection.
const requestTimeout = 10 * time.Second

// APIError is a non-2xx answer, with the Status's reason and message when there is one.
type APIError struct {
	Method, Path string
	Code         int
	Reason       string
	Message      string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s %s: %d", e.Method, e.Path, e.Code)
	if e.Reason != "" {
		s += " " + e.Reason
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// statusCode is the HTTP code of an APIError, 0 for anything else.
func statusCode(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// API is a plain JSON client of the Kubernetes API (no client-go: the stand-in stays small).
type API struct {
	Base   string // e.g. https://10.198.1.1:6443
	Client *http.Client
}

// NewTLSClient is an HTTP client for the API with the given TLS settings; it never uses
// HTTP(S)_PROXY (the lab has none, and a proxy must not see node credentials).
func NewTLSClient(cfg *tls.Config) *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			TLSClientConfig:     cfg,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
			TLSHandshakeTimeout: 5 * time.Second,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// Do sends body (JSON-encoded unless nil) and decodes a 2xx answer into out (unless nil).
func (a *API) Do(ctx context.Context, method, path, contentType string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", contentJSON)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{Method: method, Path: path, Code: resp.StatusCode}
		var status struct{ Reason, Message string }
		if json.Unmarshal(data, &status) == nil {
			apiErr.Reason, apiErr.Message = status.Reason, status.Message
		}
		return apiErr
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %v", method, path, err)
	}
	return nil
}
