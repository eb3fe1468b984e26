package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The lab shortens heartbeats (to 1 s) by writing this file into every node.
const (
	heartbeatFile          = "/etc/oceanid-lab/heartbeat-seconds"
	defaultHeartbeatPeriod = 10 * time.Second
	// statusEveryBeats: the status is re-posted every this many beats even when nothing changed.
	statusEveryBeats = 10
)

// Operation names in the log ("<op> recovered").
const (
	opRegister = "node registration"
	opStatus   = "node status"
	opLease    = "node lease"
	opPods     = "pod sync"
)

// Kubelet is the part of a kubelet the lab needs: registration, node status, the node
// Lease, and pods that start and stop at once.
type Kubelet struct {
	API     *API
	Node    string
	Version string
	Period  time.Duration
	// Once: behaviour "once", a release that heartbeats once and then falls silent.
	Once bool
	Host func() HostInfo
	Now  func() time.Time
	Log  *Logger
	// OnHeartbeat runs after every successful heartbeat (systemd readiness).
	OnHeartbeat func()

	registered       bool
	uid              string
	statusPosted     bool
	beatsSinceStatus int
	since            map[string]time.Time
	lease            *LeaseKeeper
}

// Run beats every Period until ctx ends.
func (k *Kubelet) Run(ctx context.Context) {
	for {
		if k.Beat(ctx) {
			if k.OnHeartbeat != nil {
				k.OnHeartbeat()
			}
			if k.Once {
				k.Log.Warnf("release %s is broken: stops heartbeating after one beat", k.Version)
				<-ctx.Done()
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(k.Period):
		}
	}
}

// Beat is one heartbeat; it reports whether the node status and the Lease are current.
func (k *Kubelet) Beat(ctx context.Context) bool {
	if k.lease == nil {
		k.lease = NewLeaseKeeper(k.API, k.Node)
		k.since = map[string]time.Time{}
	}
	now := k.Now()
	if !k.registered {
		if !k.step(ctx, opRegister, k.register(ctx)) {
			return false
		}
		k.registered = true
	}
	statusErr := k.syncStatus(ctx, now)
	if !k.step(ctx, opStatus, statusErr) && unreachable(statusErr) {
		return false // the rest would wait for the same dead network
	}
	leaseErr := k.lease.Renew(ctx, now, k.uid)
	ok := k.step(ctx, opLease, leaseErr) && statusErr == nil
	if !k.Once && !unreachable(leaseErr) {
		k.step(ctx, opPods, SyncPods(ctx, k.API, k.Node, k.Host().InternalIP, now))
	}
	return ok
}

// unreachable: err is no answer of the API at all (network, TLS, timeout).
func unreachable(err error) bool { return err != nil && statusCode(err) == 0 }

// step logs err once per outage (not when shutting down) and reports success.
func (k *Kubelet) step(ctx context.Context, op string, err error) bool {
	switch {
	case err == nil:
		k.Log.Succeeded(op)
		return true
	case ctx.Err() == nil:
		k.Log.Failed(op, fmt.Errorf("%s failed: %w", op, err))
	}
	return false
}

func (k *Kubelet) nodePath() string { return "/api/v1/nodes/" + url.PathEscape(k.Node) }

func (k *Kubelet) register(ctx context.Context) error {
	var created struct {
		Metadata struct{ UID string } `json:"metadata"`
	}
	err := k.API.Do(ctx, http.MethodPost, "/api/v1/nodes", contentJSON, NodeRegistration(k.Node), &created)
	switch statusCode(err) {
	case 0:
		if err != nil {
			return err
		}
		k.uid = created.Metadata.UID
		k.Log.Infof("Successfully registered node %s", k.Node)
	case http.StatusConflict:
		k.Log.Infof("Node %s was already registered", k.Node)
	default:
		return err
	}
	return nil
}

// syncStatus reads the Node and patches its status when this process has not yet, every
// statusEveryBeats beats, and when the API shows other conditions than ours.
func (k *Kubelet) syncStatus(ctx context.Context, now time.Time) error {
	var node struct {
		Metadata struct{ UID string } `json:"metadata"`
		Status   struct {
			Conditions []NodeCondition `json:"conditions"`
		} `json:"status"`
	}
	if err := k.API.Do(ctx, http.MethodGet, k.nodePath(), "", nil, &node); err != nil {
		return err
	}
	k.uid = node.Metadata.UID
	if k.statusPosted {
		k.beatsSinceStatus++
	}
	if k.statusPosted && k.beatsSinceStatus < statusEveryBeats && !conditionsDiffer(node.Status.Conditions) {
		return nil
	}
	for _, c := range nodeConditionSpecs {
		if _, ok := k.since[c.Type]; !ok {
			k.since[c.Type] = now // the reported statuses never change in this process
		}
	}
	patch := BuildNodeStatus(k.Node, k.Version, k.Host(), now, k.since)
	if err := k.API.Do(ctx, http.MethodPatch, k.nodePath()+"/status", contentStrategicMerge, patch, nil); err != nil {
		return err
	}
	k.statusPosted = true
	k.beatsSinceStatus = 0
	return nil
}

// HeartbeatPeriod reads the lab's heartbeat file (whole seconds), else the kubelet's 10 s.
func HeartbeatPeriod(path string, log *Logger) time.Duration {
	data, err := os.ReadFile(path)
	if err != nil {
		return defaultHeartbeatPeriod
	}
	text := strings.TrimSpace(string(data))
	secs, err := strconv.Atoi(text)
	if err != nil || secs < 1 || secs > 3600 {
		log.Warnf("ignoring %s: %q is not a whole number of seconds from 1 to 3600; heartbeating every %s", path, text, defaultHeartbeatPeriod)
		return defaultHeartbeatPeriod
	}
	return time.Duration(secs) * time.Second
}
