// Command pulumi-language-nodejs fronts the Node.js language host built from
// github.com/pulumi/pulumi/sdk/v3@v3.68.0, the newest release whose module still
// carries the host (later releases moved it to a module the Go proxy here does
// not serve). Every call is forwarded to that host unchanged, except RunPlugin,
// which v3.68.0 answers with "not supported": this shim runs policy packs itself
// with the SDK's own `@pulumi/pulumi/cmd/run-policy-pack` entry point, the same
// way the engine ran Node.js policy packs before RunPlugin existed.
//
// Usage (as the engine calls it): pulumi-language-nodejs [host flags] ENGINE_ADDR
// The real host's path comes from PULUMI_NODEJS_REAL_HOST, or
// pulumi-language-nodejs-real beside this binary.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs (oceanid shim): %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	realHost, err := realHostPath()
	if err != nil {
		return err
	}
	child := exec.Command(realHost, args...)
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", realHost, err)
	}
	defer func() { _ = child.Process.Kill() }()
	forwardStopSignals(child)

	// The host prints its port on the first line of stdout, like every plugin.
	reader := bufio.NewReader(stdout)
	line, err := reader.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading port from %s: %w", realHost, err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return fmt.Errorf("host %s printed %q instead of a port", realHost, line)
	}
	go func() { _, _ = io.Copy(os.Stdout, reader) }()

	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		rpcutil.GrpcChannelOptions())
	if err != nil {
		return err
	}
	defer conn.Close()

	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, &shim{next: pulumirpc.NewLanguageRuntimeClient(conn)})
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		return err
	}
	fmt.Printf("%d\n", handle.Port)

	// Stop serving when the real host exits (the engine kills both on shutdown).
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	select {
	case err := <-handle.Done:
		return err
	case err := <-exited:
		close(cancel)
		if stoppedOnRequest(err) {
			return nil
		}
		return err
	}
}

// The engine stops a plugin with SIGINT to its process group (then SIGKILL).
// The shim outlives that signal and hands it on, so the real host stops the
// way it would alone, and its exit by that signal is a shutdown, not an error
// to print into the user's output.
var stopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM}

func forwardStopSignals(child *exec.Cmd) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	go func() {
		for s := range sigs {
			_ = child.Process.Signal(s)
		}
	}()
}

func stoppedOnRequest(err error) bool {
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return false
	}
	status, ok := exitErr.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() {
		return false
	}
	for _, s := range stopSignals {
		if status.Signal() == s {
			return true
		}
	}
	return false
}

func realHostPath() (string, error) {
	if p := os.Getenv("PULUMI_NODEJS_REAL_HOST"); p != "" {
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	p := filepath.Join(filepath.Dir(self), "pulumi-language-nodejs-real")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("real language host not found at %s (run scripts/setup)", p)
	}
	return p, nil
}

type shim struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	next pulumirpc.LanguageRuntimeClient
}

func (s *shim) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	return s.next.Handshake(ctx, req)
}

func (s *shim) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return s.next.GetRequiredPlugins(ctx, req)
}

func (s *shim) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return s.next.GetRequiredPackages(ctx, req)
}

func (s *shim) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	return s.next.Run(ctx, req)
}

func (s *shim) GetPluginInfo(ctx context.Context, req *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return s.next.GetPluginInfo(ctx, req)
}

func (s *shim) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	return s.next.About(ctx, req)
}

func (s *shim) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return s.next.GetProgramDependencies(ctx, req)
}

func (s *shim) Cancel(ctx context.Context, req *emptypb.Empty) (*emptypb.Empty, error) {
	return s.next.Cancel(ctx, req)
}

func (s *shim) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	in, err := s.next.InstallDependencies(stream.Context(), req)
	if err != nil {
		return err
	}
	for {
		msg, err := in.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
}

// RunPlugin runs a Node.js policy pack: `node run-policy-pack ENGINE_ADDR DIR`
// in the pack's directory, with the SDK resolved from the pack's node_modules
// (or the nearest one above it, as Node.js itself resolves modules).
func (s *shim) RunPlugin(req *pulumirpc.RunPluginRequest, stream grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	dir := req.GetPwd()
	if info := req.GetInfo(); info != nil && info.GetProgramDirectory() != "" {
		dir = info.GetProgramDirectory()
	}
	entry, err := findRunPolicyPack(dir)
	if err != nil {
		return err
	}
	args := append([]string{entry}, req.GetArgs()...)
	args = append(args, dir)
	cmd := exec.CommandContext(stream.Context(), "node", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), req.GetEnv()...)

	var mu sync.Mutex
	send := func(r *pulumirpc.RunPluginResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return stream.Send(r)
	}
	cmd.Stdout = writerFunc(func(p []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: p}})
	})
	cmd.Stderr = writerFunc(func(p []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: p}})
	})

	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("running policy pack in %s: %w", dir, err)
		}
		code = int32(exitErr.ExitCode())
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

func findRunPolicyPack(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "node_modules", "@pulumi", "pulumi", "cmd", "run-policy-pack")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("@pulumi/pulumi is not installed for the policy pack in %s: run npm ci", dir)
		}
	}
}

type writerFunc func([]byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	// The stream keeps the slice after Send returns, so hand it a copy.
	if err := f(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
