package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The lab's release server makes one binary per release by appending this line; the
// binary reads its own tail, so one build serves every version and every broken release.
const trailerPrefix = "#oceanid-k3s-standin "

// trailerTailBytes is how much of the executable's end is read: the trailer is one short line.
const trailerTailBytes = 1024

var versionPattern = regexp.MustCompile(`^v\d+\.\d+\.\d+\+k3s\d+$`)

// Behaviour is how a release behaves once started (the lab's "broken releases").
type Behaviour string

const (
	BehaviourOK        Behaviour = "ok"
	BehaviourNever     Behaviour = "never"
	BehaviourOnce      Behaviour = "once"
	BehaviourCrash     Behaviour = "crash"
	BehaviourSlowStart Behaviour = "slow-start"
)

// maxSlowStart bounds slow-start=N so a typo cannot park a node for days.
const maxSlowStart = 86400

// Release is what the trailer says about this binary.
type Release struct {
	Version   string
	Behaviour Behaviour
	// SlowStart is the wait before anything happens (slow-start=N, once-after=N).
	SlowStart time.Duration
}

// errNoTrailer: the file's last line is not a trailer (e.g. the plain build output).
var errNoTrailer = errors.New("no release trailer")

// ParseTrailer reads the release from the last line of a binary's contents (or its tail).
func ParseTrailer(tail []byte) (Release, error) {
	if !bytes.HasSuffix(tail, []byte("\n")) {
		return Release{}, errNoTrailer
	}
	body := tail[:len(tail)-1]
	line := string(body[bytes.LastIndexByte(body, '\n')+1:])
	if !strings.HasPrefix(line, trailerPrefix) {
		return Release{}, errNoTrailer
	}
	fields := strings.Fields(strings.TrimPrefix(line, trailerPrefix))
	values := map[string]string{}
	for _, f := range fields {
		key, value, ok := strings.Cut(f, "=")
		if !ok || (key != "version" && key != "behaviour") {
			return Release{}, fmt.Errorf("unexpected field %q (want version=… behaviour=…)", f)
		}
		if _, dup := values[key]; dup {
			return Release{}, fmt.Errorf("field %q given twice", key)
		}
		values[key] = value
	}
	version, ok := values["version"]
	if !ok {
		return Release{}, errors.New("no version= field")
	}
	if !versionPattern.MatchString(version) {
		return Release{}, fmt.Errorf("version %q does not match %s", version, versionPattern)
	}
	behaviour, ok := values["behaviour"]
	if !ok {
		return Release{}, errors.New("no behaviour= field")
	}
	rel := Release{Version: version}
	switch Behaviour(behaviour) {
	case BehaviourOK, BehaviourNever, BehaviourOnce, BehaviourCrash:
		rel.Behaviour = Behaviour(behaviour)
		return rel, nil
	}
	// slow-start=N waits N s, then runs as ok; once-after=N waits N s, then runs as once (its one
	// heartbeat comes after whoever started it has looked at the clock).
	for prefix, kind := range map[string]Behaviour{"slow-start=": BehaviourSlowStart, "once-after=": BehaviourOnce} {
		if n, ok := strings.CutPrefix(behaviour, prefix); ok {
			secs, err := strconv.Atoi(n)
			if err != nil || secs < 0 || secs > maxSlowStart || strconv.Itoa(secs) != n {
				return Release{}, fmt.Errorf("behaviour %q: N must be a whole number of seconds from 0 to %d", behaviour, maxSlowStart)
			}
			rel.Behaviour = kind
			rel.SlowStart = time.Duration(secs) * time.Second
			return rel, nil
		}
	}
	return Release{}, fmt.Errorf("behaviour %q is not one of ok, never, once, crash, slow-start=N, once-after=N", behaviour)
}

// ReadRelease reads the trailer of the file at path (the running binary: /proc/self/exe).
func ReadRelease(path string) (Release, error) {
	f, err := os.Open(path)
	if err != nil {
		return Release{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Release{}, err
	}
	offset := max(info.Size()-trailerTailBytes, 0)
	tail := make([]byte, info.Size()-offset)
	if _, err := f.ReadAt(tail, offset); err != nil && err != io.EOF {
		return Release{}, err
	}
	return ParseTrailer(tail)
}
