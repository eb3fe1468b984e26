package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// nodeCertValidity is how long an issued node client certificate lasts.
const nodeCertValidity = 7 * 24 * time.Hour

// Kubernetes' node identity: the Node authorizer and NodeRestriction key on these.
const (
	nodeUserPrefix = "system:node:"
	nodesGroup     = "system:nodes"
)

// CA signs client certificates (k3s's client-ca).
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// LoadCA reads a PEM certificate and its private key (PKCS#8, SEC 1 or PKCS#1).
func LoadCA(certPath, keyPath string) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("loading %s and %s: %v", certPath, keyPath, err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("loading %s: the key cannot sign", keyPath)
	}
	return &CA{Cert: pair.Leaf, Key: signer}, nil
}

// IssueClientCert makes a fresh P-256 key and a client certificate CN=cn, O=orgs, valid
// from now for nodeCertValidity; it returns both as PEM (certificate, then EC key).
func (ca *CA) IssueClientCert(cn string, orgs []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    now,
		NotAfter:     now.Add(nodeCertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// SplitCertAndKey separates the supervisor's answer (PEM certificate, then PEM key).
func SplitCertAndKey(data []byte) (certPEM, keyPEM []byte, err error) {
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		encoded := pem.EncodeToMemory(block)
		switch {
		case block.Type == "CERTIFICATE" && certPEM == nil:
			certPEM = encoded
		case block.Type == "EC PRIVATE KEY" || block.Type == "PRIVATE KEY":
			keyPEM = encoded
		}
	}
	if certPEM == nil || keyPEM == nil {
		return nil, nil, errors.New("the answer is not a PEM certificate followed by its private key")
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, nil, fmt.Errorf("the answer's certificate and key do not match: %v", err)
	}
	return certPEM, keyPEM, nil
}

// CertPool holds the PEM certificates in data.
func CertPool(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("no PEM certificate in it")
	}
	return pool, nil
}

// readCertPool is CertPool of a file.
func readCertPool(path string) (*x509.CertPool, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	pool, err := CertPool(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	return pool, data, nil
}
