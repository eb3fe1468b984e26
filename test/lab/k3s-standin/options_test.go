package main

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

const hash64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fakeSources: files by path, environment by name, hostname "Styx".
func fakeSources(files, env map[string]string) Sources {
	return Sources{
		Getenv: func(k string) string { return env[k] },
		ReadFile: func(p string) ([]byte, error) {
			if data, ok := files[p]; ok {
				return []byte(data), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
		Hostname: func() (string, error) { return "Styx", nil },
	}
}

func TestPrecedenceFlagOverConfigOverEnv(t *testing.T) {
	env := map[string]string{"K3S_URL": "https://env:6443", "K3S_TOKEN": "env-token", "K3S_NODE_NAME": "env-node"}
	config := "server: https://config:6443\ntoken: config-token\nnode-name: config-node\n"
	cases := []struct {
		name   string
		args   []string
		files  map[string]string
		server string
		token  string
		node   string
	}{
		{"env only", nil, nil, "https://env:6443", "env-token", "env-node"},
		{"config beats env", nil, map[string]string{defaultConfigFile: config}, "https://config:6443", "config-token", "config-node"},
		{"flags beat config", []string{"--server", "https://flag:6443", "--token=flag-token", "--node-name", "flag-node"},
			map[string]string{defaultConfigFile: config}, "https://flag:6443", "flag-token", "flag-node"},
		{"short flags", []string{"-s", "https://short:6443/", "-t", "short-token"}, nil, "https://short:6443", "short-token", "env-node"},
		{"per setting", []string{"--node-name=only-flag"}, map[string]string{defaultConfigFile: "token: config-token\n"},
			"https://env:6443", "config-token", "only-flag"},
	}
	for _, c := range cases {
		opts, err := ParseNodeOptions("agent", c.args, fakeSources(c.files, env))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if opts.Server != c.server || opts.Token.Password != c.token || opts.NodeName != c.node || opts.DataDir != defaultDataDir {
			t.Errorf("%s: got server %q token %q node %q dir %q", c.name, opts.Server, opts.Token.Password, opts.NodeName, opts.DataDir)
		}
	}
}

func TestTokenFileReplacesTheToken(t *testing.T) {
	secure := "K10" + hash64 + "::server:file-secret"
	files := map[string]string{"/etc/rancher/k3s/token": "  " + secure + "\n", "/other": "other-secret\n"}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want Token
	}{
		{"env token file beats env token", nil, map[string]string{"K3S_TOKEN": "x", "K3S_TOKEN_FILE": "/etc/rancher/k3s/token"},
			Token{CAHash: hash64, User: "server", Password: "file-secret"}},
		{"env token file beats a token flag, as in k3s", []string{"--token", "flag"}, map[string]string{"K3S_TOKEN_FILE": "/other"},
			Token{Password: "other-secret"}},
		{"token-file flag beats env token file", []string{"--token-file", "/other"}, map[string]string{"K3S_TOKEN_FILE": "/etc/rancher/k3s/token"},
			Token{Password: "other-secret"}},
	}
	for _, c := range cases {
		c.env["K3S_URL"] = "https://server:6443"
		opts, err := ParseNodeOptions("agent", c.args, fakeSources(files, c.env))
		if err != nil || opts.Token != c.want {
			t.Errorf("%s: got %+v, %v", c.name, opts.Token, err)
		}
	}
}

func TestNodeOptionErrors(t *testing.T) {
	url := map[string]string{"K3S_URL": "https://server:6443"}
	cases := []struct {
		args  []string
		env   map[string]string
		files map[string]string
		want  string
	}{
		{nil, nil, nil, "--server is required: set --server, server: in config.yaml, or K3S_URL"},
		{nil, url, nil, "--token is required: set --token, --token-file, token: in config.yaml, K3S_TOKEN or K3S_TOKEN_FILE"},
		{[]string{"--server", "http://server:6443", "--token", "t"}, nil, nil, `--server must be an https:// URL (got "http://server:6443")`},
		{[]string{"--server", "https://", "--token", "t"}, nil, nil, `--server must be an https:// URL (got "https:")`},
		{[]string{"--token-file", "/missing"}, url, nil, "cannot read the token file: open /missing: file does not exist"},
		{[]string{"--token-file", "/empty"}, url, map[string]string{"/empty": " \n"}, "the token file /empty is empty"},
		{[]string{"--token", "K10nothex::server:pw"}, url, nil, errMalformedToken.Error()},
		{[]string{"--server"}, nil, nil, "flag needs an argument: --server"},
		{[]string{"-t"}, nil, nil, "flag needs an argument: -t"},
		{[]string{"agent"}, nil, nil, "unexpected argument #1: k3s server and agent take only flags"},
		{[]string{"--config", "/etc/missing.yaml"}, url, nil, "cannot read the config file: open /etc/missing.yaml: file does not exist"},
	}
	for _, c := range cases {
		_, err := ParseNodeOptions("agent", c.args, fakeSources(c.files, c.env))
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: got %v, want %q", c.args, err, c.want)
		}
	}
}

func TestMalformedTokenErrorNeverShowsTheToken(t *testing.T) {
	secret := "K10" + hash64[:10] + "::server:hunter2-secret"
	_, err := ParseNodeOptions("agent", []string{"--token", secret}, fakeSources(nil, map[string]string{"K3S_URL": "https://s:6443"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
	if got := (Token{Password: "hunter2"}).String(); got != "<token>" {
		t.Fatalf("Token.String() = %q", got)
	}
}

func TestUnknownFlagsAreIgnoredWithTheirValues(t *testing.T) {
	args := []string{"--node-label", "a=b", "--server", "https://s:6443", "--disable-agent", "--token", "t",
		"--kubelet-arg=max-pods=50", "--data-dir", "/data/k3s/", "--protect-kernel-defaults"}
	opts, err := ParseNodeOptions("agent", args, fakeSources(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--node-label", "--disable-agent", "--kubelet-arg", "--protect-kernel-defaults"}
	if !reflect.DeepEqual(opts.Ignored, want) || opts.Server != "https://s:6443" || opts.Token.Password != "t" || opts.DataDir != "/data/k3s" {
		t.Fatalf("got %+v", opts)
	}
}

func TestNodeNameDefaultsToTheLowerCasedHostname(t *testing.T) {
	opts, err := ParseNodeOptions("server", nil, fakeSources(nil, nil))
	if err != nil || opts.NodeName != "styx" {
		t.Fatalf("got %q, %v", opts.NodeName, err)
	}
	src := fakeSources(nil, nil)
	src.Hostname = func() (string, error) { return "", errors.New("uts broken") }
	if _, err := ParseNodeOptions("server", nil, src); err == nil || err.Error() != "no node name: set --node-name (the hostname is unreadable: uts broken)" {
		t.Fatalf("got %v", err)
	}
}

func TestServerNeedsNeitherURLNorToken(t *testing.T) {
	opts, err := ParseNodeOptions("server", []string{"--data-dir", "/d"}, fakeSources(nil, nil))
	if err != nil || opts.Server != "" || opts.DataDir != "/d" || opts.NodeName != "styx" {
		t.Fatalf("got %+v, %v", opts, err)
	}
}

func TestExplicitConfigFileIsRead(t *testing.T) {
	files := map[string]string{"/c.yaml": "server: 'https://from-c:6443'\ntoken: \"c-token\"\n"}
	opts, err := ParseNodeOptions("agent", []string{"-c", "/c.yaml"}, fakeSources(files, nil))
	if err != nil || opts.Server != "https://from-c:6443" || opts.Token.Password != "c-token" {
		t.Fatalf("got %+v, %v", opts, err)
	}
}

func TestParseConfigScalars(t *testing.T) {
	data := `# k3s config
server: https://10.198.1.1:6443   # the server
token: "quoted \"pw\""
token-file: 'it''s'
node-name: calypso
node-label:
  - "a=b"
kubelet-arg: [x]
"quoted-key": v
nested:
  server: https://not-top-level
empty:
write-kubeconfig-mode: "0644"
`
	got := ParseConfigScalars([]byte(data))
	want := map[string]string{
		"server":                "https://10.198.1.1:6443",
		"token":                 `quoted "pw"`,
		"token-file":            "it's",
		"node-name":             "calypso",
		"quoted-key":            "v",
		"write-kubeconfig-mode": "0644",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
}

func TestParseToken(t *testing.T) {
	cases := map[string]Token{
		"K10" + hash64 + "::server:pw":                    {CAHash: hash64, User: "server", Password: "pw"},
		"K10" + strings.ToUpper(hash64) + "::node:p:w::x": {CAHash: hash64, User: "node", Password: "p:w::x"},
		"just-a-password":                                 {Password: "just-a-password"},
		"k10" + hash64 + "::server:pw":                    {Password: "k10" + hash64 + "::server:pw"},
	}
	for in, want := range cases {
		got, err := ParseToken(in)
		if err != nil || got != want {
			t.Errorf("%q: got %+v, %v", in, got, err)
		}
		if got.Secure() != (want.CAHash != "") {
			t.Errorf("%q: Secure() = %v", in, got.Secure())
		}
	}
	for _, bad := range []string{"K10" + hash64, "K10" + hash64 + "::server", "K10" + hash64 + "::server:", "K10" + hash64[1:] + "::s:p", "K10" + hash64 + ":server:pw"} {
		if _, err := ParseToken(bad); !errors.Is(err, errMalformedToken) {
			t.Errorf("%q: got %v", bad, err)
		}
	}
	if _, err := ParseToken(""); err == nil || err.Error() != "empty token" {
		t.Errorf("empty: got %v", err)
	}
}
