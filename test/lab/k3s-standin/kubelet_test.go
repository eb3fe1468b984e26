package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var testHost = HostInfo{
	InternalIP:    "10.198.1.2",
	OSImage:       "Debian GNU/Linux 12 (bookworm)",
	KernelVersion: "6.1.0-lab",
	MachineID:     "0123456789abcdef0123456789abcdef",
	BootID:        "b0b0b0b0-0000-4000-8000-000000000001",
	SystemUUID:    "01234567-89ab-cdef-0123-456789abcdef",
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestKubelet(t *testing.T, api *fakeAPI) (*Kubelet, *clock, *syncBuffer) {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	clk := &clock{t: fixedNow}
	log, buf := newTestLogger()
	return &Kubelet{
		API:     &API{Base: srv.URL, Client: srv.Client()},
		Node:    "styx",
		Version: "v1.33.5+k3s1",
		Period:  time.Second,
		Host:    func() HostInfo { return testHost },
		Now:     clk.Now,
		Log:     log,
	}, clk, buf
}

func paths(rs []recorded) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

// asJSON turns a literal into what it looks like after a JSON round trip, for comparisons.
func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(data, &m))
	return m
}

func sameJSON(t *testing.T, what string, got map[string]any, want any) {
	t.Helper()
	if w := asJSON(t, want); !reflect.DeepEqual(got, w) {
		g, _ := json.MarshalIndent(got, "", " ")
		e, _ := json.MarshalIndent(w, "", " ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, e)
	}
}

const (
	leasePath  = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/styx"
	leasesPath = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
	podsQuery  = "/api/v1/pods?fieldSelector=spec.nodeName%3Dstyx"
)

func expectedStatus(heartbeat, transition string) map[string]any {
	cond := func(typ, status, reason, message string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": message,
			"lastHeartbeatTime": heartbeat, "lastTransitionTime": transition}
	}
	resources := map[string]any{"cpu": "2", "memory": "2Gi", "pods": "110"}
	return map[string]any{"status": map[string]any{
		"capacity":    resources,
		"allocatable": resources,
		"conditions": []any{
			cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
		},
		"addresses": []any{
			map[string]any{"type": "InternalIP", "address": "10.198.1.2"},
			map[string]any{"type": "Hostname", "address": "styx"},
		},
		"daemonEndpoints": map[string]any{"kubeletEndpoint": map[string]any{"Port": 10250}},
		"nodeInfo": map[string]any{
			"machineID":               "0123456789abcdef0123456789abcdef",
			"systemUUID":              "01234567-89ab-cdef-0123-456789abcdef",
			"bootID":                  "b0b0b0b0-0000-4000-8000-000000000001",
			"kernelVersion":           "6.1.0-lab",
			"osImage":                 "Debian GNU/Linux 12 (bookworm)",
			"containerRuntimeVersion": "containerd://1.7.27-k3s1",
			"kubeletVersion":          "v1.33.5+k3s1",
			"kubeProxyVersion":        "v1.33.5+k3s1",
			"operatingSystem":         "linux",
			"architecture":            "amd64",
		},
	}}
}

func TestFirstBeatRegistersPostsStatusAndCreatesTheLease(t *testing.T) {
	api := newFakeAPI()
	k, _, logs := newTestKubelet(t, api)
	if !k.Beat(context.Background()) {
		t.Fatalf("beat failed: %s", logs)
	}
	rs := api.Requests()
	want := []string{"POST /api/v1/nodes", "GET /api/v1/nodes/styx", "PATCH /api/v1/nodes/styx/status",
		"GET " + leasePath, "POST " + leasesPath, "GET " + podsQuery}
	if !reflect.DeepEqual(paths(rs), want) {
		t.Fatalf("requests %q", paths(rs))
	}
	sameJSON(t, "registration", rs[0].Body, map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": "styx", "labels": map[string]any{
			"kubernetes.io/hostname": "styx", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
			"node.kubernetes.io/instance-type": "k3s",
		}},
	})
	if rs[0].ContentType != "application/json" || rs[2].ContentType != "application/strategic-merge-patch+json" {
		t.Errorf("content types %q, %q", rs[0].ContentType, rs[2].ContentType)
	}
	sameJSON(t, "status patch", rs[2].Body, expectedStatus("2026-12-04T21:00:00Z", "2026-12-04T21:00:00Z"))
	sameJSON(t, "lease", rs[4].Body, map[string]any{
		"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
		"metadata": map[string]any{"name": "styx", "namespace": "kube-node-lease", "ownerReferences": []any{
			map[string]any{"apiVersion": "v1", "kind": "Node", "name": "styx", "uid": "uid-styx"},
		}},
		"spec": map[string]any{"holderIdentity": "styx", "leaseDurationSeconds": 40, "renewTime": "2026-12-04T21:00:00.123456Z"},
	})
	if got := logs.Lines(); !reflect.DeepEqual(got, []string{`time="2026-12-04T21:00:00Z" level=info msg="Successfully registered node styx"`}) {
		t.Errorf("log %q", got)
	}
}

func TestLeaseIsPutBackWithItsResourceVersion(t *testing.T) {
	api := newFakeAPI()
	k, clk, _ := newTestKubelet(t, api)
	k.Beat(context.Background())
	api.Requests()
	clk.Advance(1500 * time.Millisecond)
	if !k.Beat(context.Background()) {
		t.Fatal("second beat failed")
	}
	rs := api.Requests()
	if want := []string{"GET /api/v1/nodes/styx", "PUT " + leasePath, "GET " + podsQuery}; !reflect.DeepEqual(paths(rs), want) {
		t.Fatalf("requests %q", paths(rs))
	}
	put := rs[1].Body
	if put["metadata"].(map[string]any)["resourceVersion"] != "2" || put["metadata"].(map[string]any)["uid"] != "lease-uid-styx" {
		t.Errorf("PUT metadata %v", put["metadata"])
	}
	sameJSON(t, "lease spec", put["spec"].(map[string]any),
		map[string]any{"holderIdentity": "styx", "leaseDurationSeconds": 40, "renewTime": "2026-12-04T21:00:01.623456Z"})

	// And again from what that PUT answered, without reading the Lease.
	k.Beat(context.Background())
	rs = api.Requests()
	if want := []string{"GET /api/v1/nodes/styx", "PUT " + leasePath, "GET " + podsQuery}; !reflect.DeepEqual(paths(rs), want) {
		t.Fatalf("third beat: requests %q", paths(rs))
	}
	if rv := rs[1].Body["metadata"].(map[string]any)["resourceVersion"]; rv != "3" {
		t.Errorf("third beat: resourceVersion %v", rv)
	}
}

func TestLeaseConflictIsReadAgainNextBeat(t *testing.T) {
	api := newFakeAPI()
	k, _, logs := newTestKubelet(t, api)
	k.Beat(context.Background())
	api.set(func() { api.conflictLeasePuts = 1 })
	api.Requests()
	if k.Beat(context.Background()) {
		t.Fatal("a beat whose lease update conflicted reported success")
	}
	if got := paths(api.Requests()); !reflect.DeepEqual(got, []string{"GET /api/v1/nodes/styx", "PUT " + leasePath, "GET " + podsQuery}) {
		t.Fatalf("requests %q", got)
	}
	if !k.Beat(context.Background()) {
		t.Fatal("the beat after the conflict failed")
	}
	if got := paths(api.Requests()); !reflect.DeepEqual(got, []string{"GET /api/v1/nodes/styx", "GET " + leasePath, "PUT " + leasePath, "GET " + podsQuery}) {
		t.Fatalf("requests %q", got)
	}
	want := []string{
		`time="2026-12-04T21:00:00Z" level=info msg="Successfully registered node styx"`,
		`time="2026-12-04T21:00:00Z" level=error msg="node lease failed: PUT ` + leasePath + `: 409 Conflict: the object has been modified; please apply your changes to the latest version and try again"`,
		`time="2026-12-04T21:00:00Z" level=info msg="node lease recovered"`,
	}
	if got := logs.Lines(); !reflect.DeepEqual(got, want) {
		t.Fatalf("log %q", got)
	}
}

func countStatusPatches(rs []recorded) int {
	n := 0
	for _, r := range rs {
		if r.String() == "PATCH /api/v1/nodes/styx/status" {
			n++
		}
	}
	return n
}

func TestStatusIsPostedEveryTenthBeatAndWhenTheAPIShowsOtherConditions(t *testing.T) {
	api := newFakeAPI()
	k, clk, _ := newTestKubelet(t, api)
	var posted []int
	for beat := range 21 {
		k.Beat(context.Background())
		if countStatusPatches(api.Requests()) == 1 {
			posted = append(posted, beat)
		}
		clk.Advance(time.Second)
	}
	if !reflect.DeepEqual(posted, []int{0, 10, 20}) {
		t.Fatalf("status posted at beats %v", posted)
	}

	// The node lifecycle controller marked the node unknown (its lease ran out): the next
	// beat posts the status at once, with the transition time of this process's first report.
	api.set(func() {
		conds := api.nodes["styx"]["status"].(map[string]any)["conditions"].([]any)
		conds[3].(map[string]any)["status"] = "Unknown"
		conds[3].(map[string]any)["reason"] = "NodeStatusUnknown"
	})
	k.Beat(context.Background())
	rs := api.Requests()
	if countStatusPatches(rs) != 1 {
		t.Fatalf("requests %q", paths(rs))
	}
	sameJSON(t, "status patch", rs[1].Body, expectedStatus("2026-12-04T21:00:21Z", "2026-12-04T21:00:00Z"))
}

func TestAnExistingNodeKeepsOtherConditionsAndItsUID(t *testing.T) {
	api := newFakeAPI()
	api.set(func() {
		api.nodes["styx"] = map[string]any{
			"metadata": map[string]any{"name": "styx", "uid": "old-uid"},
			"status": map[string]any{"conditions": []any{
				map[string]any{"type": "OceanidNodeChange", "status": "True", "reason": "Applied"},
			}},
		}
	})
	k, _, logs := newTestKubelet(t, api)
	if !k.Beat(context.Background()) {
		t.Fatalf("beat failed: %s", logs)
	}
	rs := api.Requests()
	if rs[0].String() != "POST /api/v1/nodes" || rs[4].String() != "POST "+leasesPath {
		t.Fatalf("requests %q", paths(rs))
	}
	owner := rs[4].Body["metadata"].(map[string]any)["ownerReferences"].([]any)[0].(map[string]any)
	if owner["uid"] != "old-uid" {
		t.Errorf("lease owner %v", owner)
	}
	var types []string
	for _, c := range api.nodes["styx"]["status"].(map[string]any)["conditions"].([]any) {
		types = append(types, c.(map[string]any)["type"].(string))
	}
	if !reflect.DeepEqual(types, []string{"OceanidNodeChange", "MemoryPressure", "DiskPressure", "PIDPressure", "Ready"}) {
		t.Errorf("conditions %v", types)
	}
	if got := logs.Lines(); !reflect.DeepEqual(got, []string{`time="2026-12-04T21:00:00Z" level=info msg="Node styx was already registered"`}) {
		t.Errorf("log %q", got)
	}
}

func TestPodsAreStartedAndTerminatingPodsDeleted(t *testing.T) {
	api := newFakeAPI()
	k, _, logs := newTestKubelet(t, api)
	running := map[string]any{"phase": "Running", "podIP": "10.42.2.1", "conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}
	api.addPod("web", "web-uid", "styx", []string{"nginx", "sidecar"}, false, nil)
	api.addPod("old", "old-uid", "styx", []string{"app"}, false, running)
	api.addPod("gone", "gone-uid", "styx", []string{"app"}, true, running)
	api.addPod("done", "done-uid", "styx", []string{"job"}, false, map[string]any{"phase": "Succeeded"})
	api.addPod("elsewhere", "e-uid", "calypso", []string{"app"}, false, nil)
	if !k.Beat(context.Background()) {
		t.Fatalf("beat failed: %s", logs)
	}
	rs := api.Requests()
	var podCalls []recorded
	for _, r := range rs {
		if strings.Contains(r.Path, "/namespaces/apps/") {
			podCalls = append(podCalls, r)
		}
	}
	byPath := map[string]recorded{}
	for _, r := range podCalls {
		byPath[r.String()] = r
	}
	if len(podCalls) != 2 || len(byPath) != 2 {
		t.Fatalf("pod requests %q", paths(podCalls))
	}
	patch, ok := byPath["PATCH /api/v1/namespaces/apps/pods/web/status"]
	if !ok || patch.ContentType != "application/strategic-merge-patch+json" {
		t.Fatalf("no strategic merge patch of web's status: %q", paths(podCalls))
	}
	cond := func(typ string) map[string]any {
		return map[string]any{"type": typ, "status": "True", "lastProbeTime": nil, "lastTransitionTime": "2026-12-04T21:00:00Z"}
	}
	container := func(name string) map[string]any {
		return map[string]any{"name": name, "image": "registry.example/" + name + ":1", "imageID": "", "ready": true,
			"started": true, "restartCount": 0, "state": map[string]any{"running": map[string]any{"startedAt": "2026-12-04T21:00:00Z"}}}
	}
	sameJSON(t, "web's status", patch.Body, map[string]any{"status": map[string]any{
		"phase":             "Running",
		"podIP":             "10.42.2.2", // .1 is taken by "old"
		"podIPs":            []any{map[string]any{"ip": "10.42.2.2"}},
		"hostIP":            "10.198.1.2",
		"hostIPs":           []any{map[string]any{"ip": "10.198.1.2"}},
		"startTime":         "2026-12-04T21:00:00Z",
		"conditions":        []any{cond("PodScheduled"), cond("Initialized"), cond("ContainersReady"), cond("Ready")},
		"containerStatuses": []any{container("nginx"), container("sidecar")},
	}})
	del, ok := byPath["DELETE /api/v1/namespaces/apps/pods/gone"]
	if !ok {
		t.Fatalf("the terminating pod was not deleted: %q", paths(podCalls))
	}
	sameJSON(t, "delete options", del.Body, map[string]any{
		"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "preconditions": map[string]any{"uid": "gone-uid"},
	})
	if _, left := api.pods["apps/gone"]; left {
		t.Error("the fake API still has the deleted pod")
	}

	// Next beat: web is Running and Ready now, nothing to do.
	k.Beat(context.Background())
	for _, r := range api.Requests() {
		if strings.Contains(r.Path, "/namespaces/apps/") {
			t.Errorf("again: %s", r)
		}
	}
}

func TestAnOutageIsLoggedOnceAndItsEndOnce(t *testing.T) {
	api := newFakeAPI()
	k, _, logs := newTestKubelet(t, api)
	k.Beat(context.Background())
	api.set(func() { api.failWith = 503 })
	for range 5 {
		if k.Beat(context.Background()) {
			t.Fatal("a beat during the outage reported success")
		}
	}
	api.set(func() { api.failWith = 0 })
	if !k.Beat(context.Background()) {
		t.Fatal("the beat after the outage failed")
	}
	unavailable := `: 503 ServiceUnavailable: the API server is not running"`
	want := []string{
		`time="2026-12-04T21:00:00Z" level=info msg="Successfully registered node styx"`,
		`time="2026-12-04T21:00:00Z" level=error msg="node status failed: GET /api/v1/nodes/styx` + unavailable,
		`time="2026-12-04T21:00:00Z" level=error msg="node lease failed: PUT ` + leasePath + unavailable,
		`time="2026-12-04T21:00:00Z" level=error msg="pod sync failed: GET ` + podsQuery + unavailable,
		`time="2026-12-04T21:00:00Z" level=info msg="node status recovered"`,
		`time="2026-12-04T21:00:00Z" level=info msg="node lease recovered"`,
		`time="2026-12-04T21:00:00Z" level=info msg="pod sync recovered"`,
	}
	if got := logs.Lines(); !reflect.DeepEqual(got, want) {
		t.Fatalf("log:\n%s", strings.Join(got, "\n"))
	}
}

func TestAnUnreachableAPIEndsTheBeatAtTheFirstFailure(t *testing.T) {
	api := newFakeAPI()
	srv := httptest.NewServer(api)
	k, _, logs := newTestKubelet(t, api)
	k.API = &API{Base: srv.URL, Client: srv.Client()}
	k.Beat(context.Background())
	srv.Close() // nothing answers at that address any more
	for range 3 {
		if k.Beat(context.Background()) {
			t.Fatal("a beat without an API reported success")
		}
	}
	got := logs.Lines()
	want := `time="2026-12-04T21:00:00Z" level=error msg="node status failed: Get \"` + srv.URL + `/api/v1/nodes/styx\": dial tcp ` + strings.TrimPrefix(srv.URL, "http://") + `: connect: connection refused"`
	if len(got) != 2 || got[1] != want {
		t.Fatalf("log:\n%s", strings.Join(got, "\n"))
	}
}

func TestRegistrationIsRetriedUntilItWorks(t *testing.T) {
	api := newFakeAPI()
	api.set(func() { api.failWith = 503 })
	k, _, logs := newTestKubelet(t, api)
	for range 3 {
		if k.Beat(context.Background()) {
			t.Fatal("success without a node")
		}
	}
	if got := paths(api.Requests()); !reflect.DeepEqual(got, []string{"POST /api/v1/nodes", "POST /api/v1/nodes", "POST /api/v1/nodes"}) {
		t.Fatalf("requests %q", got)
	}
	api.set(func() { api.failWith = 0 })
	if !k.Beat(context.Background()) {
		t.Fatal("no success once the API answers")
	}
	want := []string{
		`time="2026-12-04T21:00:00Z" level=error msg="node registration failed: POST /api/v1/nodes: 503 ServiceUnavailable: the API server is not running"`,
		`time="2026-12-04T21:00:00Z" level=info msg="Successfully registered node styx"`,
		`time="2026-12-04T21:00:00Z" level=info msg="node registration recovered"`,
	}
	if got := logs.Lines(); !reflect.DeepEqual(got, want) {
		t.Fatalf("log %q", got)
	}
}

func TestRunSignalsReadinessOnlyAfterASuccessfulBeat(t *testing.T) {
	api := newFakeAPI()
	api.set(func() { api.failWith = 503 })
	k, _, _ := newTestKubelet(t, api)
	k.Period = 10 * time.Millisecond
	var beats atomic.Int32
	k.OnHeartbeat = func() { beats.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	time.Sleep(100 * time.Millisecond)
	if n := beats.Load(); n != 0 {
		t.Fatalf("%d heartbeats while the API was down", n)
	}
	api.set(func() { api.failWith = 0 })
	deadline := time.Now().Add(5 * time.Second)
	for beats.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if beats.Load() < 2 {
		t.Fatal("no heartbeats once the API answered")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not end with its context")
	}
}

func TestOnceStopsAllTrafficAfterOneBeat(t *testing.T) {
	api := newFakeAPI()
	k, _, logs := newTestKubelet(t, api)
	k.Period = 10 * time.Millisecond
	k.Once = true
	api.addPod("web", "web-uid", "styx", []string{"nginx"}, false, nil)
	var beats atomic.Int32
	k.OnHeartbeat = func() { beats.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	time.Sleep(300 * time.Millisecond) // 30 periods
	want := []string{"POST /api/v1/nodes", "GET /api/v1/nodes/styx", "PATCH /api/v1/nodes/styx/status", "GET " + leasePath, "POST " + leasesPath}
	if got := paths(api.Requests()); !reflect.DeepEqual(got, want) {
		t.Fatalf("requests %q", got)
	}
	if beats.Load() != 1 {
		t.Fatalf("%d heartbeats", beats.Load())
	}
	select {
	case <-done:
		t.Fatal("Run ended: a release that stopped heartbeating keeps running")
	default:
	}
	if got := logs.Lines(); got[len(got)-1] != `time="2026-12-04T21:00:00Z" level=warning msg="release v1.33.5+k3s1 is broken: stops heartbeating after one beat"` {
		t.Fatalf("log %q", got)
	}
	cancel()
	<-done
	if n := len(api.Requests()); n != 0 {
		t.Fatalf("%d requests after the one beat", n)
	}
}

func TestHeartbeatPeriod(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "heartbeat-seconds")
		must(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	log, buf := newTestLogger()
	if got := HeartbeatPeriod(filepath.Join(dir, "missing"), log); got != 10*time.Second {
		t.Errorf("missing file: %v", got)
	}
	if got := HeartbeatPeriod(write("1\n"), log); got != time.Second {
		t.Errorf("1: %v", got)
	}
	if buf.String() != "" {
		t.Errorf("logged %q", buf.String())
	}
	for _, bad := range []string{"0", "1.5", "fast", "3601"} {
		p := write(bad)
		if got := HeartbeatPeriod(p, log); got != 10*time.Second {
			t.Errorf("%q: %v", bad, got)
		}
	}
	want := `time="2026-12-04T21:00:00Z" level=warning msg="ignoring ` + filepath.Join(dir, "heartbeat-seconds") + `: \"fast\" is not a whole number of seconds from 1 to 3600; heartbeating every 10s"`
	if got := buf.Lines(); len(got) != 4 || got[2] != want {
		t.Errorf("log %q", got)
	}
}
