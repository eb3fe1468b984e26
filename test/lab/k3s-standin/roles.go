package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The k3s server's own identity toward the API (k3s's client-supervisor certificate):
// NodeRestriction forbids a kubelet to set node-role labels, so the server sets them.
const (
	supervisorUser  = "system:k3s-supervisor"
	supervisorGroup = "system:masters"
	opRoleLabels    = "control-plane labels"
)

// ServerRoleLabels are the labels k3s puts on a server's Node.
var ServerRoleLabels = map[string]string{
	"node-role.kubernetes.io/control-plane": "true",
	"node-role.kubernetes.io/master":        "true",
}

// EnsureRoleLabels waits for the Node to exist and labels it as a control-plane node, as
// k3s's server does once at start; it retries every `every` until done or ctx ends.
func EnsureRoleLabels(ctx context.Context, api *API, node string, every time.Duration, log *Logger) {
	path := "/api/v1/nodes/" + url.PathEscape(node)
	for {
		done, err := labelOnce(ctx, api, path)
		switch {
		case done:
			log.Succeeded(opRoleLabels)
			return
		case err != nil && ctx.Err() == nil:
			log.Failed(opRoleLabels, fmt.Errorf("setting the %s on node %s failed: %w", opRoleLabels, node, err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// labelOnce labels the Node if it exists; (false, nil) means it is not registered yet.
func labelOnce(ctx context.Context, api *API, path string) (bool, error) {
	var node struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	err := api.Do(ctx, http.MethodGet, path, "", nil, &node)
	if statusCode(err) == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	missing := false
	for k, v := range ServerRoleLabels {
		missing = missing || node.Metadata.Labels[k] != v
	}
	if !missing {
		return true, nil
	}
	patch := map[string]any{"metadata": map[string]any{"labels": ServerRoleLabels}}
	if err := api.Do(ctx, http.MethodPatch, path, contentMergePatch, patch, nil); err != nil {
		return false, err
	}
	return true, nil
}
