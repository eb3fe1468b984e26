package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The pod network of a k3s node: 10.42.<node>.0/24 (flannel's default cluster CIDR).
const podCIDRPrefix = "10.42."

// Pod is the part of a Pod this minimal kubelet reads.
type Pod struct {
	Metadata struct {
		Name              string  `json:"name"`
		Namespace         string  `json:"namespace"`
		UID               string  `json:"uid"`
		DeletionTimestamp *string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		Containers []struct {
			Name  string `json:"name"`
			Image string `json:"image"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		PodIP      string `json:"podIP"`
		StartTime  string `json:"startTime"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

func (p *Pod) runningAndReady() bool {
	if p.Status.Phase != "Running" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

func (p *Pod) path() string {
	return "/api/v1/namespaces/" + url.PathEscape(p.Metadata.Namespace) + "/pods/" + url.PathEscape(p.Metadata.Name)
}

// SyncPods plays the kubelet for the pods bound to node: a new pod is "started" (Running and
// Ready at once), and a terminating one is deleted for good, as a kubelet does once its
// containers stopped. That is enough for drains and evictions to complete.
func SyncPods(ctx context.Context, api *API, node string, hostIP string, now time.Time) error {
	var list struct{ Items []Pod }
	query := url.Values{"fieldSelector": {"spec.nodeName=" + node}}.Encode()
	if err := api.Do(ctx, http.MethodGet, "/api/v1/pods?"+query, "", nil, &list); err != nil {
		return err
	}
	used := map[string]bool{}
	for i := range list.Items {
		used[list.Items[i].Status.PodIP] = true
	}
	var errs []error
	for i := range list.Items {
		pod := &list.Items[i]
		switch {
		case pod.Metadata.DeletionTimestamp != nil:
			errs = append(errs, deletePod(ctx, api, pod))
		case pod.Status.Phase == "Succeeded" || pod.Status.Phase == "Failed" || pod.runningAndReady():
			// a terminal phase is final; a running pod needs nothing
		default:
			ip := pod.Status.PodIP
			if ip == "" {
				ip = freePodIP(hostIP, used)
				used[ip] = true
			}
			errs = append(errs, api.Do(ctx, http.MethodPatch, pod.path()+"/status", contentStrategicMerge, PodRunningStatus(pod, hostIP, ip, now), nil))
		}
	}
	return errors.Join(errs...)
}

// deletePod removes a terminating pod, only if it is still the same pod (uid).
func deletePod(ctx context.Context, api *API, pod *Pod) error {
	opts := map[string]any{
		"kind":               "DeleteOptions",
		"apiVersion":         "v1",
		"gracePeriodSeconds": 0,
		"preconditions":      map[string]any{"uid": pod.Metadata.UID},
	}
	err := api.Do(ctx, http.MethodDelete, pod.path(), contentJSON, opts, nil)
	if code := statusCode(err); code == http.StatusNotFound || code == http.StatusConflict {
		return nil // already gone, or replaced by a pod of the same name
	}
	return err
}

// freePodIP is the lowest 10.42.<n>.<k> no pod on this node holds, n = the node IP's last octet.
func freePodIP(hostIP string, used map[string]bool) string {
	n := 0
	if ip := net.ParseIP(hostIP).To4(); ip != nil {
		n = int(ip[3])
	}
	prefix := podCIDRPrefix + strconv.Itoa(n) + "."
	for k := 1; k < 255; k++ {
		if ip := prefix + strconv.Itoa(k); !used[ip] {
			return ip
		}
	}
	return prefix + "254" // a full /24: more pods than a lab node ever gets
}

// PodRunningStatus is the strategic merge patch of pods/<name>/status that "starts" a pod.
func PodRunningStatus(pod *Pod, hostIP, podIP string, now time.Time) map[string]any {
	started := pod.Status.StartTime
	if started == "" {
		started = kubeTime(now)
	}
	var conditions []map[string]any
	for _, t := range []string{"PodScheduled", "Initialized", "ContainersReady", "Ready"} {
		conditions = append(conditions, map[string]any{
			"type": t, "status": "True", "lastProbeTime": nil, "lastTransitionTime": kubeTime(now),
		})
	}
	var containers []map[string]any
	for _, c := range pod.Spec.Containers {
		containers = append(containers, map[string]any{
			"name":         c.Name,
			"image":        c.Image,
			"imageID":      "",
			"ready":        true,
			"started":      true,
			"restartCount": 0,
			"state":        map[string]any{"running": map[string]any{"startedAt": started}},
		})
	}
	status := map[string]any{
		"phase":             "Running",
		"podIP":             podIP,
		"podIPs":            []map[string]any{{"ip": podIP}},
		"startTime":         started,
		"conditions":        conditions,
		"containerStatuses": containers,
	}
	if hostIP != "" {
		status["hostIP"] = hostIP
		status["hostIPs"] = []map[string]any{{"ip": hostIP}}
	}
	return map[string]any{"status": status}
}
