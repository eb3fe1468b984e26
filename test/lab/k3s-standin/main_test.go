package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// plainBinary is this package built once, as the lab builds it (before any trailer).
var plainBinary string

// kubectlHelperEnv makes the test binary run ExecKubectl (a child process of a test).
const kubectlHelperEnv = "K3S_STANDIN_TEST_EXEC_KUBECTL"

func TestMain(m *testing.M) {
	if path := os.Getenv(kubectlHelperEnv); path != "" {
		fmt.Fprintf(os.Stderr, "k3s stand-in: %v\n", ExecKubectl(path, os.Args[1:]))
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "k3s-standin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	plainBinary = filepath.Join(dir, "k3s-plain")
	build := exec.Command("go", "build", "-trimpath", "-o", plainBinary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// releaseBinary is what the lab's release server serves: the build plus one trailer line.
func releaseBinary(t *testing.T, name, trailer string) string {
	t.Helper()
	data, err := os.ReadFile(plainBinary)
	must(t, err)
	if trailer != "" {
		data = append(data, "\n"+trailer+"\n"...)
	}
	path := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(path, data, 0o755))
	return path
}

func release(t *testing.T, behaviour string) string {
	return releaseBinary(t, "k3s", "#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour="+behaviour)
}

type result struct {
	code           int
	stdout, stderr string
}

// runBinary runs path with args and a clean environment (PATH plus env) for up to 10 s.
func runBinary(t *testing.T, path string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %q did not end", path, args)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

func TestVersion(t *testing.T) {
	bin := release(t, "ok")
	want := "k3s version v1.33.5+k3s1 (oceanid-lab-standin)\ngo version " + runtime.Version() + "\n"
	for _, arg := range []string{"--version", "-v", "version"} {
		if r := runBinary(t, bin, nil, arg); r != (result{0, want, ""}) {
			t.Errorf("%s: %+v", arg, r)
		}
	}
	// A broken release still says what it is.
	if r := runBinary(t, release(t, "crash"), nil, "--version"); r != (result{0, want, ""}) {
		t.Errorf("crash --version: %+v", r)
	}
}

func TestWithoutATrailerNothingRuns(t *testing.T) {
	bin := releaseBinary(t, "k3s", "")
	for _, args := range [][]string{{"--version"}, {"agent"}, {"server"}} {
		want := result{1, "", "k3s stand-in: no release trailer in " + bin + "\n"}
		if r := runBinary(t, bin, nil, args...); r != want {
			t.Errorf("%q: %+v", args, r)
		}
	}
	bad := releaseBinary(t, "k3s", "#oceanid-k3s-standin version=1.33.5 behaviour=ok")
	want := result{1, "", `k3s stand-in: bad release trailer in ` + bad + `: version "1.33.5" does not match ^v\d+\.\d+\.\d+\+k3s\d+$` + "\n"}
	if r := runBinary(t, bad, nil, "--version"); r != want {
		t.Errorf("bad trailer: %+v", r)
	}
}

var logTime = regexp.MustCompile(`^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" `)

// logLines drops the timestamps (checked to be there) of k3s log lines.
func logLines(t *testing.T, stderr string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !logTime.MatchString(l) {
			t.Errorf("not a k3s log line: %q", l)
		}
		out = append(out, logTime.ReplaceAllString(l, ""))
	}
	return out
}

func TestCrashExitsAtStart(t *testing.T) {
	for _, role := range []string{"agent", "server"} {
		r := runBinary(t, release(t, "crash"), nil, role)
		if r.code != 1 || r.stdout != "" || !reflect.DeepEqual(logLines(t, r.stderr), []string{`level=fatal msg="release v1.33.5+k3s1 is broken: exits at start"`}) {
			t.Errorf("%s: %+v", role, r)
		}
	}
}

func TestCommandsNotModelled(t *testing.T) {
	bin := release(t, "ok")
	usage := "usage: k3s server|agent [flags] | k3s --version | k3s kubectl ARGS... (oceanid lab stand-in)\n"
	cases := []struct {
		args []string
		want result
	}{
		{[]string{"crictl", "ps"}, result{1, "", "k3s stand-in: crictl is not modelled\n"}},
		{[]string{"ctr", "images", "ls"}, result{1, "", "k3s stand-in: ctr is not modelled\n"}},
		{nil, result{1, "", usage}},
		{[]string{"etcd-snapshot"}, result{1, "", usage}},
		{[]string{"--help"}, result{1, "", usage}},
	}
	for _, c := range cases {
		if r := runBinary(t, bin, nil, c.args...); r != c.want {
			t.Errorf("%q: %+v", c.args, r)
		}
	}
	// The installer's links to k3s run as those commands.
	link := filepath.Join(filepath.Dir(bin), "crictl")
	must(t, os.Symlink("k3s", link))
	if r := runBinary(t, link, nil, "ps"); r != (result{1, "", "k3s stand-in: crictl is not modelled\n"}) {
		t.Errorf("crictl link: %+v", r)
	}
}

func TestAgentWithoutServerOrToken(t *testing.T) {
	bin := release(t, "ok")
	empty := filepath.Join(t.TempDir(), "config.yaml")
	must(t, os.WriteFile(empty, nil, 0o600))
	r := runBinary(t, bin, nil, "agent", "--config", empty)
	want := []string{`level=fatal msg="--server is required: set --server, server: in config.yaml, or K3S_URL"`}
	if r.code != 1 || !reflect.DeepEqual(logLines(t, r.stderr), want) {
		t.Errorf("no server: %+v", r)
	}
	r = runBinary(t, bin, []string{"K3S_URL=https://10.198.1.1:6443"}, "agent", "--config", empty)
	want = []string{`level=fatal msg="--token is required: set --token, --token-file, token: in config.yaml, K3S_TOKEN or K3S_TOKEN_FILE"`}
	if r.code != 1 || !reflect.DeepEqual(logLines(t, r.stderr), want) {
		t.Errorf("no token: %+v", r)
	}
}

func TestKubectlArgv(t *testing.T) {
	cases := []struct {
		args []string
		env  string
		want []string
	}{
		{[]string{"get", "nodes"}, "", []string{"kubectl", "--kubeconfig", "/etc/rancher/k3s/k3s.yaml", "get", "nodes"}},
		{[]string{"get", "nodes", "--kubeconfig", "/x"}, "", []string{"kubectl", "get", "nodes", "--kubeconfig", "/x"}},
		{[]string{"--kubeconfig=/x", "get", "nodes"}, "", []string{"kubectl", "--kubeconfig=/x", "get", "nodes"}},
		{[]string{"get", "nodes"}, "/env", []string{"kubectl", "get", "nodes"}},
		{[]string{"exec", "p", "--", "cat", "--kubeconfig"}, "", []string{"kubectl", "--kubeconfig", "/etc/rancher/k3s/k3s.yaml", "exec", "p", "--", "cat", "--kubeconfig"}},
		{nil, "", []string{"kubectl", "--kubeconfig", "/etc/rancher/k3s/k3s.yaml"}},
	}
	for _, c := range cases {
		if got := KubectlArgv(c.args, c.env); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q, KUBECONFIG=%q: got %q", c.args, c.env, got)
		}
	}
}

func TestKubectlIsExecuted(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "kubectl")
	must(t, os.WriteFile(fake, []byte("#!/bin/sh\necho \"argv0=$0 KUBECONFIG=${KUBECONFIG:-}\"\nfor a; do echo \"[$a]\"; done\nexit 3\n"), 0o755))
	self, err := os.Executable()
	must(t, err)
	r := runBinary(t, self, []string{kubectlHelperEnv + "=" + fake}, "get", "nodes")
	want := result{3, "argv0=" + fake + " KUBECONFIG=\n[--kubeconfig]\n[/etc/rancher/k3s/k3s.yaml]\n[get]\n[nodes]\n", ""}
	if r != want {
		t.Errorf("got %+v", r)
	}
	r = runBinary(t, self, []string{kubectlHelperEnv + "=" + fake, "KUBECONFIG=/k"}, "get", "nodes")
	if want := (result{3, "argv0=" + fake + " KUBECONFIG=/k\n[get]\n[nodes]\n", ""}); r != want {
		t.Errorf("with KUBECONFIG: %+v", r)
	}
	missing := filepath.Join(t.TempDir(), "none")
	r = runBinary(t, self, []string{kubectlHelperEnv + "=" + missing}, "get", "nodes")
	want = result{1, "", "k3s stand-in: kubectl is not available at " + missing + " (the lab binds a real kubectl there): stat " + missing + ": no such file or directory\n"}
	if r != want {
		t.Errorf("missing kubectl: %+v", r)
	}
}

func TestKubectlLinkWithoutTheLabsKubectl(t *testing.T) {
	if _, err := os.Stat(labKubectl); err == nil {
		t.Skipf("%s exists on this machine: this test checks the message when it does not", labKubectl)
	}
	link := filepath.Join(filepath.Dir(release(t, "ok")), "kubectl")
	must(t, os.Symlink("k3s", link))
	r := runBinary(t, link, nil, "get", "nodes")
	want := result{1, "", "k3s stand-in: kubectl is not available at " + labKubectl + " (the lab binds a real kubectl there): stat " + labKubectl + ": no such file or directory\n"}
	if r != want {
		t.Errorf("got %+v", r)
	}
}

// process is the binary running in the background.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
}

func startBinary(t *testing.T, path string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(path, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	p.cmd.Stderr = p.stderr
	must(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// terminate sends SIGTERM and returns the exit code.
func (p *process) terminate(t *testing.T) int {
	t.Helper()
	must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(5 * time.Second):
		t.Fatalf("no exit after SIGTERM; log:\n%s", p.stderr)
		return -1
	}
}

func notifySocket(t *testing.T) (string, *net.UnixConn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	return path, listenNotify(t, path)
}

func TestAgentJoinsHeartbeatsAndStopsOnSIGTERM(t *testing.T) {
	j, p, api, _, _ := joinSetup(t, "")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	must(t, os.WriteFile(tokenFile, []byte(p.token+"\n"), 0o600))
	config := filepath.Join(dir, "config.yaml")
	must(t, os.WriteFile(config, []byte("node-name: from-config\n"), 0o600))
	socket, conn := notifySocket(t)
	dataDir := filepath.Join(dir, "data")

	proc := startBinary(t, release(t, "ok"), []string{"NOTIFY_SOCKET=" + socket, "K3S_TOKEN_FILE=" + tokenFile, "K3S_NODE_NAME=from-env"},
		"agent", "--server", j.Server, "--config="+config, "--data-dir", dataDir, "--node-label", "a=b")
	if got := firstDatagram(t, conn, 10*time.Second); got != "READY=1" {
		t.Fatalf("notify %q; log:\n%s", got, proc.stderr)
	}
	var register *recorded
	for _, r := range api.Requests() {
		if r.String() == "POST /api/v1/nodes" {
			register = &r
			break
		}
	}
	if register == nil || register.User != "system:node:from-config" {
		t.Fatalf("registration %+v", register)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "agent", "client-kubelet.key")); err != nil {
		t.Errorf("no node key: %v", err)
	}
	if code := proc.terminate(t); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	lines := logLines(t, proc.stderr.String())
	want := []string{
		`level=warning msg="ignoring flag --node-label (not modelled by the stand-in)"`,
		`level=info msg="Starting k3s agent v1.33.5+k3s1 (oceanid-lab-standin) as node from-config"`,
		`level=info msg="Node from-config joined ` + j.Server + ` with a kubelet client certificate"`,
		`level=info msg="Successfully registered node from-config"`,
		`level=info msg="Received SIGTERM, shutting down"`,
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("log:\n%s", strings.Join(lines, "\n"))
	}
	if strings.Contains(proc.stderr.String(), p.password) {
		t.Errorf("the token's password is in the log")
	}
}

func TestNeverReleaseStaysUpSilently(t *testing.T) {
	socket, conn := notifySocket(t)
	empty := filepath.Join(t.TempDir(), "config.yaml")
	must(t, os.WriteFile(empty, nil, 0o600))
	// Nothing listens on port 1: a request would fail, and be logged.
	proc := startBinary(t, release(t, "never"), []string{"NOTIFY_SOCKET=" + socket},
		"agent", "--server", "https://127.0.0.1:1", "--token", "pw", "--config", empty, "--node-name", "n1", "--data-dir", t.TempDir())
	if got := datagrams(t, conn, 500*time.Millisecond); len(got) != 0 {
		t.Errorf("notify %q", got)
	}
	if code := proc.terminate(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	want := []string{
		`level=info msg="Starting k3s agent v1.33.5+k3s1 (oceanid-lab-standin) as node n1"`,
		`level=error msg="release v1.33.5+k3s1 is broken: never heartbeats"`,
		`level=info msg="Received SIGTERM, shutting down"`,
	}
	if got := logLines(t, proc.stderr.String()); !reflect.DeepEqual(got, want) {
		t.Errorf("log:\n%s", strings.Join(got, "\n"))
	}
}

func TestSlowStartWaitsBeforeAnything(t *testing.T) {
	j, p, _, _, _ := joinSetup(t, "")
	socket, conn := notifySocket(t)
	empty := filepath.Join(t.TempDir(), "config.yaml")
	must(t, os.WriteFile(empty, nil, 0o600))
	started := time.Now()
	proc := startBinary(t, release(t, "slow-start=1"), []string{"NOTIFY_SOCKET=" + socket, "K3S_TOKEN=" + p.token},
		"agent", "--server", j.Server, "--config", empty, "--node-name", "slow", "--data-dir", t.TempDir())
	if got := firstDatagram(t, conn, 10*time.Second); got != "READY=1" {
		t.Fatalf("notify %q; log:\n%s", got, proc.stderr)
	}
	if waited := time.Since(started); waited < time.Second {
		t.Errorf("ready after %v, before the slow start's 1 s", waited)
	}
	proc.terminate(t)
	lines := logLines(t, proc.stderr.String())
	if len(lines) < 2 || lines[1] != `level=info msg="release v1.33.5+k3s1 starts slowly: waiting 1s"` {
		t.Errorf("log:\n%s", strings.Join(lines, "\n"))
	}

	// SIGTERM during the wait ends it at once, cleanly.
	proc = startBinary(t, release(t, "slow-start=60"), []string{"K3S_TOKEN=" + p.token},
		"agent", "--server", j.Server, "--config", empty, "--node-name", "slow", "--data-dir", t.TempDir())
	waitFor(t, "the slow start", func() bool { return strings.Contains(proc.stderr.String(), "starts slowly") })
	if code := proc.terminate(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}
