package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listenNotify is a stand-in for systemd's notify socket.
func listenNotify(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	must(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// datagrams reads what arrives within wait.
func datagrams(t *testing.T, conn *net.UnixConn, wait time.Duration) []string {
	t.Helper()
	var got []string
	buf := make([]byte, 256)
	must(t, conn.SetReadDeadline(time.Now().Add(wait)))
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return got
		}
		got = append(got, string(buf[:n]))
	}
}

// firstDatagram waits up to wait for one datagram ("" if none came).
func firstDatagram(t *testing.T, conn *net.UnixConn, wait time.Duration) string {
	t.Helper()
	buf := make([]byte, 256)
	must(t, conn.SetReadDeadline(time.Now().Add(wait)))
	n, err := conn.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func TestReadySendsReadyOnceToAPathSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn := listenNotify(t, path)
	log, buf := newTestLogger()
	r := NewReadiness(path, log)
	r.Ready()
	r.Ready()
	r.Ready()
	if got := datagrams(t, conn, 200*time.Millisecond); len(got) != 1 || got[0] != "READY=1" {
		t.Fatalf("got %q", got)
	}
	if buf.String() != "" {
		t.Fatalf("logged %q", buf.String())
	}
}

func TestReadyReachesAnAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("@oceanid-k3s-standin-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	conn := listenNotify(t, name)
	log, _ := newTestLogger()
	NewReadiness(name, log).Ready()
	if got := datagrams(t, conn, 200*time.Millisecond); len(got) != 1 || got[0] != "READY=1" {
		t.Fatalf("got %q", got)
	}
}

func TestReadyWithoutSystemdDoesNothing(t *testing.T) {
	log, buf := newTestLogger()
	NewReadiness("", log).Ready()
	if buf.String() != "" {
		t.Fatalf("logged %q", buf.String())
	}
}

func TestReadyToAMissingSocketIsLoggedOnce(t *testing.T) {
	log, buf := newTestLogger()
	r := NewReadiness(filepath.Join(t.TempDir(), "gone"), log)
	r.Ready()
	r.Ready()
	lines := buf.Lines()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], `time="2026-12-04T21:00:00Z" level=error msg="telling systemd READY=1 failed: dial unixgram `) {
		t.Fatalf("got %q", lines)
	}
}
