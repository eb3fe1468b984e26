package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// binary stands for the build output the release server appends the trailer to.
var binary = bytes.Repeat([]byte("\x7fELF\x00\x01binary"), 300)

func withTrailer(line string) []byte {
	return append(append([]byte{}, binary...), []byte("\n"+line+"\n")...)
}

func TestParseTrailerBehaviours(t *testing.T) {
	cases := []struct {
		line string
		want Release
	}{
		{"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=ok", Release{Version: "v1.33.5+k3s1", Behaviour: BehaviourOK}},
		{"#oceanid-k3s-standin version=v1.33.4+k3s1 behaviour=never", Release{Version: "v1.33.4+k3s1", Behaviour: BehaviourNever}},
		{"#oceanid-k3s-standin version=v1.34.0+k3s2 behaviour=once", Release{Version: "v1.34.0+k3s2", Behaviour: BehaviourOnce}},
		{"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=crash", Release{Version: "v1.33.5+k3s1", Behaviour: BehaviourCrash}},
		{"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=slow-start=7", Release{Version: "v1.33.5+k3s1", Behaviour: BehaviourSlowStart, SlowStart: 7 * time.Second}},
		{"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=slow-start=0", Release{Version: "v1.33.5+k3s1", Behaviour: BehaviourSlowStart}},
		{"#oceanid-k3s-standin version=v1.33.6+k3s1 behaviour=once-after=4", Release{Version: "v1.33.6+k3s1", Behaviour: BehaviourOnce, SlowStart: 4 * time.Second}},
		{"#oceanid-k3s-standin behaviour=ok version=v10.0.12+k3s10", Release{Version: "v10.0.12+k3s10", Behaviour: BehaviourOK}},
	}
	for _, c := range cases {
		got, err := ParseTrailer(withTrailer(c.line))
		if err != nil || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v", c.line, got, err, c.want)
		}
	}
}

func TestParseTrailerMissing(t *testing.T) {
	for name, data := range map[string][]byte{
		"plain build":                   binary,
		"no final newline":              append(append([]byte{}, binary...), "\n#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=ok"...),
		"not the last line":             append(withTrailer("#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=ok"), "more\n"...),
		"other comment":                 withTrailer("#k3s-standin version=v1.33.5+k3s1 behaviour=ok"),
		"empty file":                    {},
		"prefix without separator":      withTrailer("#oceanid-k3s-standinversion=v1.33.5+k3s1 behaviour=ok"),
		"file that is only a newline":   []byte("\n"),
		"trailer at the start, no tail": []byte("#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=ok\nELF"),
	} {
		if _, err := ParseTrailer(data); !errors.Is(err, errNoTrailer) {
			t.Errorf("%s: got %v, want errNoTrailer", name, err)
		}
	}
}

func TestParseTrailerMalformed(t *testing.T) {
	cases := map[string]string{
		"#oceanid-k3s-standin version=1.33.5+k3s1 behaviour=ok":                `version "1.33.5+k3s1" does not match ^v\d+\.\d+\.\d+\+k3s\d+$`,
		"#oceanid-k3s-standin version=v1.33+k3s1 behaviour=ok":                 `version "v1.33+k3s1" does not match ^v\d+\.\d+\.\d+\+k3s\d+$`,
		"#oceanid-k3s-standin version=v1.33.5-rc1+k3s1 behaviour=ok":           `version "v1.33.5-rc1+k3s1" does not match ^v\d+\.\d+\.\d+\+k3s\d+$`,
		"#oceanid-k3s-standin version=v1.33.5 behaviour=ok":                    `version "v1.33.5" does not match ^v\d+\.\d+\.\d+\+k3s\d+$`,
		"#oceanid-k3s-standin behaviour=ok":                                    "no version= field",
		"#oceanid-k3s-standin version=v1.33.5+k3s1":                            "no behaviour= field",
		"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=flaky":            `behaviour "flaky" is not one of ok, never, once, crash, slow-start=N, once-after=N`,
		"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=slow-start":       `behaviour "slow-start" is not one of ok, never, once, crash, slow-start=N, once-after=N`,
		"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=slow-start=x":     `behaviour "slow-start=x": N must be a whole number of seconds from 0 to 86400`,
		"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=slow-start=-1":    `behaviour "slow-start=-1": N must be a whole number of seconds from 0 to 86400`,
		"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=slow-start=86401": `behaviour "slow-start=86401": N must be a whole number of seconds from 0 to 86400`,
		"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=slow-start=07":    `behaviour "slow-start=07": N must be a whole number of seconds from 0 to 86400`,
		"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=ok extra=1":       `unexpected field "extra=1" (want version=… behaviour=…)`,
		"#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=ok behaviour=ok":  `field "behaviour" given twice`,
		"#oceanid-k3s-standin version=v1.33.5+k3s1 ok":                         `unexpected field "ok" (want version=… behaviour=…)`,
	}
	for line, want := range cases {
		_, err := ParseTrailer(withTrailer(line))
		if err == nil || err.Error() != want || errors.Is(err, errNoTrailer) {
			t.Errorf("%q: got %v, want %q", line, err, want)
		}
	}
}

func TestReadReleaseReadsTheFilesTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k3s")
	data := withTrailer("#oceanid-k3s-standin version=v1.33.5+k3s1 behaviour=once")
	if len(data) <= trailerTailBytes {
		t.Fatalf("the test binary must be longer than the tail read (%d bytes)", len(data))
	}
	must(t, os.WriteFile(path, data, 0o755))
	got, err := ReadRelease(path)
	if err != nil || got != (Release{Version: "v1.33.5+k3s1", Behaviour: BehaviourOnce}) {
		t.Fatalf("got %+v, %v", got, err)
	}

	short := filepath.Join(t.TempDir(), "short")
	must(t, os.WriteFile(short, []byte("\n#oceanid-k3s-standin version=v1.0.0+k3s1 behaviour=ok\n"), 0o755))
	if got, err := ReadRelease(short); err != nil || got.Version != "v1.0.0+k3s1" {
		t.Fatalf("a file shorter than the tail: got %+v, %v", got, err)
	}

	if _, err := ReadRelease(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing file: got %v", err)
	}
}
