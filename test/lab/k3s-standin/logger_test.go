package main

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var fixedNow = time.Date(2026, 12, 4, 21, 0, 0, 123456789, time.UTC)

// syncBuffer collects log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestLogger() (*Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return NewLogger(buf, func() time.Time { return fixedNow }), buf
}

func TestLogLinesAreLogrusText(t *testing.T) {
	log, buf := newTestLogger()
	log.Infof("Starting k3s %s", "agent")
	log.Warnf(`say "hi"`)
	log.Errorf("broken\nline")
	log.Fatalf("bye")
	want := `time="2026-12-04T21:00:00Z" level=info msg="Starting k3s agent"
time="2026-12-04T21:00:00Z" level=warning msg="say \"hi\""
time="2026-12-04T21:00:00Z" level=error msg="broken\nline"
time="2026-12-04T21:00:00Z" level=fatal msg="bye"
`
	if buf.String() != want {
		t.Fatalf("got\n%s", buf.String())
	}
}

func TestFailuresAreLoggedOncePerOutage(t *testing.T) {
	log, buf := newTestLogger()
	log.Succeeded("lease") // no outage: nothing to say
	for range 5 {
		log.Failed("lease", &APIError{Method: "PUT", Path: "/l", Code: 503, Reason: "ServiceUnavailable", Message: "down"})
	}
	log.Failed("lease", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	log.Failed("lease", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route to host")})
	log.Failed("pods", errors.New("pods broke"))
	log.Succeeded("lease")
	log.Succeeded("lease")
	log.Failed("lease", errors.New("again"))
	want := []string{
		`time="2026-12-04T21:00:00Z" level=error msg="PUT /l: 503 ServiceUnavailable: down"`,
		`time="2026-12-04T21:00:00Z" level=error msg="dial tcp: connection refused"`,
		`time="2026-12-04T21:00:00Z" level=error msg="pods broke"`,
		`time="2026-12-04T21:00:00Z" level=info msg="lease recovered"`,
		`time="2026-12-04T21:00:00Z" level=error msg="again"`,
	}
	if got := buf.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s", strings.Join(got, "\n"))
	}
}
