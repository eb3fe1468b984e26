package main

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// leaseDurationSeconds is the kubelet's default node lease duration.
const leaseDurationSeconds = 40

// LeaseKeeper renews kube-node-lease/<node> like the kubelet's lease controller: it keeps
// the last Lease it wrote and PUTs it back (with its resourceVersion); after any failure it
// reads the Lease again on the next beat.
type LeaseKeeper struct {
	api    *API
	node   string
	cached map[string]any
}

func NewLeaseKeeper(api *API, node string) *LeaseKeeper {
	return &LeaseKeeper{api: api, node: node}
}

func (l *LeaseKeeper) path() string {
	return "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + url.PathEscape(l.node)
}

// Renew sets renewTime to now, creating the Lease (owned by the Node nodeUID) when missing.
func (l *LeaseKeeper) Renew(ctx context.Context, now time.Time, nodeUID string) error {
	if l.cached == nil {
		var lease map[string]any
		err := l.api.Do(ctx, http.MethodGet, l.path(), "", nil, &lease)
		if statusCode(err) == http.StatusNotFound {
			return l.create(ctx, now, nodeUID)
		}
		if err != nil {
			return err
		}
		l.cached = lease
	}
	lease := l.cached
	l.cached = nil
	spec, _ := lease["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		lease["spec"] = spec
	}
	spec["holderIdentity"] = l.node
	spec["leaseDurationSeconds"] = leaseDurationSeconds
	spec["renewTime"] = microTime(now)
	if meta, _ := lease["metadata"].(map[string]any); meta != nil && meta["ownerReferences"] == nil && nodeUID != "" {
		meta["ownerReferences"] = l.ownerReferences(nodeUID)
	}
	var updated map[string]any
	if err := l.api.Do(ctx, http.MethodPut, l.path(), contentJSON, lease, &updated); err != nil {
		return err // a 409 conflict included: read it again next beat
	}
	l.cached = updated
	return nil
}

func (l *LeaseKeeper) create(ctx context.Context, now time.Time, nodeUID string) error {
	meta := map[string]any{"name": l.node, "namespace": "kube-node-lease"}
	if nodeUID != "" {
		meta["ownerReferences"] = l.ownerReferences(nodeUID)
	}
	lease := map[string]any{
		"apiVersion": "coordination.k8s.io/v1",
		"kind":       "Lease",
		"metadata":   meta,
		"spec": map[string]any{
			"holderIdentity":       l.node,
			"leaseDurationSeconds": leaseDurationSeconds,
			"renewTime":            microTime(now),
		},
	}
	var created map[string]any
	if err := l.api.Do(ctx, http.MethodPost, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", contentJSON, lease, &created); err != nil {
		return err
	}
	l.cached = created
	return nil
}

// The Lease goes when its Node is deleted, as a kubelet's does.
func (l *LeaseKeeper) ownerReferences(nodeUID string) []map[string]any {
	return []map[string]any{{"apiVersion": "v1", "kind": "Node", "name": l.node, "uid": nodeUID}}
}
