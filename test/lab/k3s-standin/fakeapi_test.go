package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// recorded is one request the fake API received.
type recorded struct {
	Method, Path, ContentType string
	Body                      map[string]any
	User                      string   // X-Remote-User (set by the supervisor in front of it)
	Groups                    []string // X-Remote-Group
}

func (r recorded) String() string { return r.Method + " " + r.Path }

// fakeAPI is an in-memory kube-apiserver for the endpoints the kubelet loop uses. It keeps
// what a real one keeps (uids, resourceVersions, conflicts, preconditions) and records
// every request, so tests can assert what the node sent.
type fakeAPI struct {
	mu       sync.Mutex
	mux      *http.ServeMux
	requests []recorded
	nodes    map[string]map[string]any
	leases   map[string]map[string]any
	pods     map[string]map[string]any // "<namespace>/<name>"
	rv       int
	// failWith answers every request with this code (e.g. 503) while non-zero.
	failWith int
	// conflictLeasePuts answers this many lease PUTs with 409, as if someone else wrote it.
	conflictLeasePuts int
}

func newFakeAPI() *fakeAPI {
	f := &fakeAPI{
		mux:    http.NewServeMux(),
		nodes:  map[string]map[string]any{},
		leases: map[string]map[string]any{},
		pods:   map[string]map[string]any{},
	}
	f.mux.HandleFunc("POST /api/v1/nodes", f.createNode)
	f.mux.HandleFunc("GET /api/v1/nodes/{name}", f.getNode)
	f.mux.HandleFunc("PATCH /api/v1/nodes/{name}", f.patchNode)
	f.mux.HandleFunc("PATCH /api/v1/nodes/{name}/status", f.patchNodeStatus)
	const leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
	f.mux.HandleFunc("GET "+leases+"/{name}", f.getLease)
	f.mux.HandleFunc("POST "+leases, f.createLease)
	f.mux.HandleFunc("PUT "+leases+"/{name}", f.putLease)
	f.mux.HandleFunc("GET /api/v1/pods", f.listPods)
	f.mux.HandleFunc("PATCH /api/v1/namespaces/{ns}/pods/{name}/status", f.patchPodStatus)
	f.mux.HandleFunc("DELETE /api/v1/namespaces/{ns}/pods/{name}", f.deletePod)
	return f
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	rec := recorded{
		Method: r.Method, Path: r.URL.RequestURI(), ContentType: r.Header.Get("Content-Type"),
		User: r.Header.Get("X-Remote-User"), Groups: r.Header.Values("X-Remote-Group"),
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &rec.Body); err != nil {
			writeStatus(w, 400, "BadRequest", "not JSON: "+err.Error())
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, rec)
	if f.failWith != 0 {
		writeStatus(w, f.failWith, "ServiceUnavailable", "the API server is not running")
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(data)))
	f.mux.ServeHTTP(w, r)
}

// Requests returns what was received so far and forgets it.
func (f *fakeAPI) Requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.requests
	f.requests = nil
	return out
}

func (f *fakeAPI) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	writeJSON(w, code, map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code,
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func decode(r *http.Request) map[string]any {
	var m map[string]any
	_ = json.NewDecoder(r.Body).Decode(&m)
	return m
}

func obj(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	if v == nil {
		v = map[string]any{}
		m[key] = v
	}
	return v
}

// deepCopy keeps stored objects apart from answers.
func deepCopy(m map[string]any) map[string]any {
	data, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return out
}

func (f *fakeAPI) nextRV() string {
	f.rv++
	return fmt.Sprint(f.rv)
}

func (f *fakeAPI) createNode(w http.ResponseWriter, r *http.Request) {
	node := decode(r)
	meta := obj(node, "metadata")
	name, _ := meta["name"].(string)
	if _, exists := f.nodes[name]; exists {
		writeStatus(w, 409, "AlreadyExists", fmt.Sprintf("nodes %q already exists", name))
		return
	}
	meta["uid"] = "uid-" + name
	meta["resourceVersion"] = f.nextRV()
	f.nodes[name] = node
	writeJSON(w, 201, deepCopy(node))
}

func (f *fakeAPI) getNode(w http.ResponseWriter, r *http.Request) {
	node, ok := f.nodes[r.PathValue("name")]
	if !ok {
		writeStatus(w, 404, "NotFound", fmt.Sprintf("nodes %q not found", r.PathValue("name")))
		return
	}
	writeJSON(w, 200, deepCopy(node))
}

// patchNode applies a JSON merge patch of labels (all the server sends).
func (f *fakeAPI) patchNode(w http.ResponseWriter, r *http.Request) {
	node, ok := f.nodes[r.PathValue("name")]
	if !ok {
		writeStatus(w, 404, "NotFound", "no node")
		return
	}
	if r.Header.Get("Content-Type") != "application/merge-patch+json" {
		writeStatus(w, 415, "UnsupportedMediaType", r.Header.Get("Content-Type"))
		return
	}
	labels := obj(obj(node, "metadata"), "labels")
	for k, v := range obj(obj(decode(r), "metadata"), "labels") {
		labels[k] = v
	}
	writeJSON(w, 200, deepCopy(node))
}

// mergeByKey merges patch list entries into list by key, as a strategic merge patch does.
func mergeByKey(list, patch []any, key string) []any {
	for _, p := range patch {
		pm := p.(map[string]any)
		replaced := false
		for i, l := range list {
			if l.(map[string]any)[key] == pm[key] {
				list[i] = pm
				replaced = true
			}
		}
		if !replaced {
			list = append(list, pm)
		}
	}
	return list
}

func (f *fakeAPI) patchNodeStatus(w http.ResponseWriter, r *http.Request) {
	node, ok := f.nodes[r.PathValue("name")]
	if !ok {
		writeStatus(w, 404, "NotFound", "no node")
		return
	}
	if r.Header.Get("Content-Type") != contentStrategicMerge {
		writeStatus(w, 415, "UnsupportedMediaType", r.Header.Get("Content-Type"))
		return
	}
	status := obj(node, "status")
	for k, v := range obj(decode(r), "status") {
		switch k {
		case "conditions", "addresses":
			old, _ := status[k].([]any)
			status[k] = mergeByKey(old, v.([]any), map[string]string{"conditions": "type", "addresses": "type"}[k])
		default:
			status[k] = v
		}
	}
	writeJSON(w, 200, deepCopy(node))
}

func (f *fakeAPI) getLease(w http.ResponseWriter, r *http.Request) {
	lease, ok := f.leases[r.PathValue("name")]
	if !ok {
		writeStatus(w, 404, "NotFound", "no lease")
		return
	}
	writeJSON(w, 200, deepCopy(lease))
}

func (f *fakeAPI) createLease(w http.ResponseWriter, r *http.Request) {
	lease := decode(r)
	meta := obj(lease, "metadata")
	name, _ := meta["name"].(string)
	if _, exists := f.leases[name]; exists {
		writeStatus(w, 409, "AlreadyExists", "lease exists")
		return
	}
	meta["uid"] = "lease-uid-" + name
	meta["resourceVersion"] = f.nextRV()
	f.leases[name] = lease
	writeJSON(w, 201, deepCopy(lease))
}

func (f *fakeAPI) putLease(w http.ResponseWriter, r *http.Request) {
	stored, ok := f.leases[r.PathValue("name")]
	if !ok {
		writeStatus(w, 404, "NotFound", "no lease")
		return
	}
	lease := decode(r)
	if f.conflictLeasePuts > 0 {
		f.conflictLeasePuts--
		obj(stored, "metadata")["resourceVersion"] = f.nextRV()
	}
	if obj(lease, "metadata")["resourceVersion"] != obj(stored, "metadata")["resourceVersion"] {
		writeStatus(w, 409, "Conflict", "the object has been modified; please apply your changes to the latest version and try again")
		return
	}
	obj(lease, "metadata")["resourceVersion"] = f.nextRV()
	f.leases[r.PathValue("name")] = lease
	writeJSON(w, 200, deepCopy(lease))
}

// addPod stores a pod bound to node; status may be nil.
func (f *fakeAPI) addPod(name, uid, node string, containers []string, deleting bool, status map[string]any) {
	var cs []any
	for _, c := range containers {
		cs = append(cs, map[string]any{"name": c, "image": "registry.example/" + c + ":1"})
	}
	meta := map[string]any{"name": name, "namespace": "apps", "uid": uid}
	if deleting {
		meta["deletionTimestamp"] = "2026-12-04T20:59:00Z"
	}
	if status == nil {
		status = map[string]any{"phase": "Pending"}
	}
	f.set(func() {
		f.pods["apps/"+name] = map[string]any{
			"metadata": meta, "spec": map[string]any{"nodeName": node, "containers": cs}, "status": status,
		}
	})
}

func (f *fakeAPI) listPods(w http.ResponseWriter, r *http.Request) {
	node, ok := strings.CutPrefix(r.URL.Query().Get("fieldSelector"), "spec.nodeName=")
	if !ok {
		writeStatus(w, 400, "BadRequest", "want fieldSelector=spec.nodeName=<node>")
		return
	}
	items := []any{}
	for _, p := range f.pods {
		if obj(p, "spec")["nodeName"] == node {
			items = append(items, deepCopy(p))
		}
	}
	writeJSON(w, 200, map[string]any{"kind": "PodList", "apiVersion": "v1", "items": items})
}

func (f *fakeAPI) patchPodStatus(w http.ResponseWriter, r *http.Request) {
	pod, ok := f.pods[r.PathValue("ns")+"/"+r.PathValue("name")]
	if !ok {
		writeStatus(w, 404, "NotFound", "no pod")
		return
	}
	if r.Header.Get("Content-Type") != contentStrategicMerge {
		writeStatus(w, 415, "UnsupportedMediaType", r.Header.Get("Content-Type"))
		return
	}
	status := obj(pod, "status")
	for k, v := range obj(decode(r), "status") {
		status[k] = v
	}
	writeJSON(w, 200, deepCopy(pod))
}

func (f *fakeAPI) deletePod(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("ns") + "/" + r.PathValue("name")
	pod, ok := f.pods[key]
	if !ok {
		writeStatus(w, 404, "NotFound", "no pod")
		return
	}
	if uid := obj(decode(r), "preconditions")["uid"]; uid != nil && uid != obj(pod, "metadata")["uid"] {
		writeStatus(w, 409, "Conflict", "Precondition failed: UID in precondition does not match")
		return
	}
	delete(f.pods, key)
	writeJSON(w, 200, deepCopy(pod))
}
