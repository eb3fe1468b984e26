package main

import (
	"errors"
	"regexp"
	"strings"
)

// A secure token (k3s's "full" token) pins the server's CA: K10<sha256 of /cacerts>::<user>:<password>.
var secureTokenPattern = regexp.MustCompile(`^K10([0-9a-fA-F]{64})::([^:]+):(.+)$`)

// Token is a parsed join token. Its String never shows the password.
type Token struct {
	// CAHash is the lower-case hex sha256 the server's CA must hash to ("" for a bare password).
	CAHash   string
	User     string
	Password string
}

// Secure reports whether the token pins the server's CA.
func (t Token) Secure() bool { return t.CAHash != "" }

func (t Token) String() string { return "<token>" }

// The message never quotes the token: it is a secret.
var errMalformedToken = errors.New("invalid token: a secure token is K10<64 hex digits>::<user>:<password>; anything not starting with K10 is taken as a bare password")

// ParseToken accepts a secure token or a bare password (k3s's two forms).
func ParseToken(s string) (Token, error) {
	if !strings.HasPrefix(s, "K10") {
		if s == "" {
			return Token{}, errors.New("empty token")
		}
		return Token{Password: s}, nil
	}
	m := secureTokenPattern.FindStringSubmatch(s)
	if m == nil {
		return Token{}, errMalformedToken
	}
	return Token{CAHash: strings.ToLower(m[1]), User: m[2], Password: m[3]}, nil
}
