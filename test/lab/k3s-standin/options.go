package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
)

const (
	defaultConfigFile = "/etc/rancher/k3s/config.yaml"
	defaultDataDir    = "/var/lib/rancher/k3s"
)

// Flags the stand-in models, by every spelling k3s accepts (urfave/cli takes - and --).
var flagNames = map[string]string{
	"server": "server", "s": "server",
	"token": "token", "t": "token",
	"token-file": "token-file",
	"node-name":  "node-name",
	"data-dir":   "data-dir", "d": "data-dir",
	"config": "config", "c": "config",
}

// The config.yaml keys read, and the environment variables (the unit's EnvironmentFile).
var (
	configKeys = []string{"server", "token", "token-file", "node-name"}
	envNames   = map[string]string{
		"server": "K3S_URL", "token": "K3S_TOKEN", "token-file": "K3S_TOKEN_FILE", "node-name": "K3S_NODE_NAME",
	}
)

// NodeOptions is what `k3s server|agent` runs with.
type NodeOptions struct {
	Server   string // agent only: the supervisor URL, without a trailing slash
	Token    Token  // agent only
	NodeName string
	DataDir  string
	// Ignored lists the unmodelled flags given, for the log.
	Ignored []string
}

// Sources are the outside facts the options are resolved from (injected by tests).
type Sources struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	Hostname func() (string, error)
}

// OSSources are the real environment, files and hostname.
func OSSources() Sources {
	return Sources{Getenv: os.Getenv, ReadFile: os.ReadFile, Hostname: os.Hostname}
}

// ParseNodeOptions resolves `k3s <role> ARGS` like k3s: per setting, a flag beats
// config.yaml, which beats the environment; then a token file (from any of the three)
// replaces the token, as k3s's agent does.
func ParseNodeOptions(role string, args []string, src Sources) (NodeOptions, error) {
	flags, ignored, err := parseFlags(args)
	if err != nil {
		return NodeOptions{}, err
	}
	config, err := readConfig(flags, src.ReadFile)
	if err != nil {
		return NodeOptions{}, err
	}
	pick := func(key string) string {
		if v, ok := flags[key]; ok && v != "" {
			return v
		}
		if v := config[key]; v != "" {
			return v
		}
		return src.Getenv(envNames[key])
	}

	opts := NodeOptions{DataDir: defaultDataDir, Ignored: ignored}
	if d := flags["data-dir"]; d != "" {
		opts.DataDir = strings.TrimRight(d, "/")
	}
	opts.NodeName = pick("node-name")
	if opts.NodeName == "" {
		if opts.NodeName, err = src.Hostname(); err != nil {
			return NodeOptions{}, fmt.Errorf("no node name: set --node-name (the hostname is unreadable: %v)", err)
		}
	}
	// Node names are DNS names; k3s lower-cases the hostname the same way.
	opts.NodeName = strings.ToLower(opts.NodeName)
	if role == "server" {
		return opts, nil // a server's token and URL are its own (server/token, its supervisor)
	}

	opts.Server = strings.TrimRight(pick("server"), "/")
	if opts.Server == "" {
		return NodeOptions{}, errors.New("--server is required: set --server, server: in config.yaml, or K3S_URL")
	}
	if u, err := url.Parse(opts.Server); err != nil || u.Scheme != "https" || u.Host == "" {
		return NodeOptions{}, fmt.Errorf("--server must be an https:// URL (got %q)", opts.Server)
	}
	token := pick("token")
	if file := pick("token-file"); file != "" {
		data, err := src.ReadFile(file)
		if err != nil {
			return NodeOptions{}, fmt.Errorf("cannot read the token file: %v", err)
		}
		if token = strings.TrimSpace(string(data)); token == "" {
			return NodeOptions{}, fmt.Errorf("the token file %s is empty", file)
		}
	}
	if token == "" {
		return NodeOptions{}, errors.New("--token is required: set --token, --token-file, token: in config.yaml, K3S_TOKEN or K3S_TOKEN_FILE")
	}
	if opts.Token, err = ParseToken(token); err != nil {
		return NodeOptions{}, err
	}
	return opts, nil
}

// parseFlags reads --flag value, --flag=value (and single-dash spellings). Unknown flags are
// skipped with their value, if the next argument is one: k3s takes no positional arguments.
func parseFlags(args []string) (map[string]string, []string, error) {
	flags := map[string]string{}
	var ignored []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
			return nil, nil, fmt.Errorf("unexpected argument #%d: k3s server and agent take only flags", i+1)
		}
		spelled, value, hasValue := strings.Cut(arg, "=")
		name, known := flagNames[strings.TrimLeft(spelled, "-")]
		if !known {
			ignored = append(ignored, spelled)
			if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
			}
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("flag needs an argument: %s", spelled)
			}
			i++
			value = args[i]
		}
		flags[name] = value
	}
	return flags, ignored, nil
}

// readConfig reads config.yaml: the default path may be missing, a path given with --config may not.
func readConfig(flags map[string]string, readFile func(string) ([]byte, error)) (map[string]string, error) {
	path, explicit := flags["config"]
	if !explicit {
		path = defaultConfigFile
	}
	data, err := readFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return map[string]string{}, nil
		}
		return nil, fmt.Errorf("cannot read the config file: %v", err)
	}
	all := ParseConfigScalars(data)
	config := map[string]string{}
	for _, k := range configKeys {
		if v, ok := all[k]; ok {
			config[k] = v
		}
	}
	return config, nil
}

// ParseConfigScalars returns the top-level `key: value` scalars of a k3s config.yaml
// (quotes optional, trailing comments dropped); nested values and lists are skipped.
func ParseConfigScalars(data []byte) map[string]string {
	out := map[string]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '-' {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = strings.Trim(strings.TrimSpace(key), `"'`)
		value = strings.TrimSpace(value)
		switch {
		case len(value) >= 2 && value[0] == '"':
			if end := strings.LastIndexByte(value, '"'); end > 0 {
				value = strings.ReplaceAll(strings.ReplaceAll(value[1:end], `\"`, `"`), `\\`, `\`)
			}
		case len(value) >= 2 && value[0] == '\'':
			if end := strings.LastIndexByte(value, '\''); end > 0 {
				value = strings.ReplaceAll(value[1:end], "''", "'")
			}
		default:
			if i := strings.Index(value, " #"); i >= 0 {
				value = strings.TrimSpace(value[:i])
			}
		}
		if value == "" || value == "|" || value == ">" || value[0] == '[' || value[0] == '{' {
			continue // a nested map, a block or a flow collection: not a scalar
		}
		out[key] = value
	}
	return out
}
