// Command k3s is the node lab's stand-in for the k3s binary: a thin supervisor and kubelet
// that talk to a real kube-apiserver (see README.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

const usage = "usage: k3s server|agent [flags] | k3s --version | k3s kubectl ARGS... (oceanid lab stand-in)"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is the whole command line; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	// Multi-call, like k3s: the installer links kubectl, crictl and ctr to k3s.
	if prog := filepath.Base(args[0]); prog == "kubectl" || prog == "crictl" || prog == "ctr" {
		args = append([]string{"k3s", prog}, args[1:]...)
	}
	if len(args) < 2 {
		fmt.Fprintln(stderr, usage)
		return 1
	}
	switch cmd := args[1]; cmd {
	case "--version", "-v", "version":
		rel, ok := ownRelease(stderr)
		if !ok {
			return 1
		}
		fmt.Fprintf(stdout, "k3s version %s (oceanid-lab-standin)\ngo version %s\n", rel.Version, runtime.Version())
		return 0
	case "kubectl":
		fmt.Fprintf(stderr, "k3s stand-in: %v\n", ExecKubectl(labKubectl, args[2:]))
		return 1
	case "crictl", "ctr":
		fmt.Fprintf(stderr, "k3s stand-in: %s is not modelled\n", cmd)
		return 1
	case "server", "agent":
		rel, ok := ownRelease(stderr)
		if !ok {
			return 1
		}
		return runNode(cmd, args[2:], rel, stderr)
	default:
		fmt.Fprintln(stderr, usage)
		return 1
	}
}

// ownRelease reads this executable's trailer, or says why it cannot.
func ownRelease(stderr io.Writer) (Release, bool) {
	path, err := os.Executable()
	if err != nil {
		path = "/proc/self/exe"
	}
	rel, err := ReadRelease("/proc/self/exe")
	switch {
	case errors.Is(err, errNoTrailer):
		fmt.Fprintf(stderr, "k3s stand-in: no release trailer in %s\n", path)
	case err != nil:
		fmt.Fprintf(stderr, "k3s stand-in: bad release trailer in %s: %v\n", path, err)
	default:
		return rel, true
	}
	return Release{}, false
}

// runNode is `k3s server|agent`: it runs until SIGTERM/SIGINT (exit 0) or cannot start (exit 1).
func runNode(role string, args []string, rel Release, stderr io.Writer) int {
	logger := NewLogger(stderr, time.Now)
	if rel.Behaviour == BehaviourCrash {
		logger.Fatalf("release %s is broken: exits at start", rel.Version)
		return 1
	}
	opts, err := ParseNodeOptions(role, args, OSSources())
	if err != nil {
		logger.Fatalf("%v", err)
		return 1
	}
	for _, flag := range opts.Ignored {
		logger.Warnf("ignoring flag %s (not modelled by the stand-in)", flag)
	}
	logger.Infof("Starting k3s %s %s (oceanid-lab-standin) as node %s", role, rel.Version, opts.NodeName)
	ctx, stop := signalContext(logger)
	defer stop()

	if rel.SlowStart > 0 {
		logger.Infof("release %s starts slowly: waiting %s", rel.Version, rel.SlowStart)
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(rel.SlowStart):
		}
	}
	period := HeartbeatPeriod(heartbeatFile, logger)
	ready := NewReadiness(os.Getenv("NOTIFY_SOCKET"), logger)

	if role == "server" {
		err = RunServer(ctx, ServerConfig{
			DataDir:        opts.DataDir,
			Node:           opts.NodeName,
			Release:        rel,
			ListenAddr:     defaultSupervisorAddr,
			APIServerURL:   defaultAPIServerURL,
			Period:         period,
			Host:           ReadHostInfo,
			Log:            logger,
			Now:            time.Now,
			Ready:          ready.Ready,
			RoleLabelRetry: joinRetry,
		})
	} else {
		err = RunAgent(ctx, AgentConfig{Options: opts, Release: rel, Period: period, Log: logger, Ready: ready.Ready})
	}
	if err != nil {
		logger.Fatalf("%v", err)
		return 1
	}
	return 0
}

// signalContext ends at SIGTERM or SIGINT (systemd stopping the unit, or ^C).
func signalContext(logger *Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		select {
		case sig := <-ch:
			name := "SIGTERM"
			if sig == syscall.SIGINT {
				name = "SIGINT"
			}
			logger.Infof("Received %s, shutting down", name)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
