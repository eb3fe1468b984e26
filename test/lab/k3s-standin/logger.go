package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Logger writes k3s's logrus text lines (journald takes stderr) and keeps a node that is
// cut off for minutes from flooding the journal: a failing operation is logged when it
// starts failing (or fails differently), and once more when it recovers.
type Logger struct {
	mu      sync.Mutex
	w       io.Writer
	now     func() time.Time
	failing map[string]string // operation -> kind of its current failure
}

// NewLogger writes to w; now is the clock (time.Now outside tests).
func NewLogger(w io.Writer, now func() time.Time) *Logger {
	return &Logger{w: w, now: now, failing: map[string]string{}}
}

func (l *Logger) line(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "time=%q level=%s msg=%s\n", l.now().UTC().Format(time.RFC3339), level, strconv.Quote(msg))
}

func (l *Logger) Infof(format string, args ...any)  { l.line("info", fmt.Sprintf(format, args...)) }
func (l *Logger) Warnf(format string, args ...any)  { l.line("warning", fmt.Sprintf(format, args...)) }
func (l *Logger) Errorf(format string, args ...any) { l.line("error", fmt.Sprintf(format, args...)) }
func (l *Logger) Fatalf(format string, args ...any) { l.line("fatal", fmt.Sprintf(format, args...)) }

// Failed logs err (its text is the whole message) unless op is already failing the same way.
func (l *Logger) Failed(op string, err error) {
	kind := errorKind(err)
	l.mu.Lock()
	prev, was := l.failing[op]
	l.failing[op] = kind
	l.mu.Unlock()
	if !was || prev != kind {
		l.Errorf("%s", err)
	}
}

// Succeeded ends op's outage, if any, with "<op> recovered".
func (l *Logger) Succeeded(op string) {
	l.mu.Lock()
	_, was := l.failing[op]
	delete(l.failing, op)
	l.mu.Unlock()
	if was {
		l.Infof("%s recovered", op)
	}
}

// errorKind groups failures so that one outage logs once even as details (ports, timings) vary.
func errorKind(err error) string {
	var apiErr *APIError
	var netErr net.Error
	switch {
	case errors.As(err, &apiErr):
		return "http " + strconv.Itoa(apiErr.Code)
	case errors.As(err, &netErr):
		return "network"
	default:
		return err.Error()
	}
}
