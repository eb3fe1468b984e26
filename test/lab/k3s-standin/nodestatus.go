package main

import "time"

// Fixed facts a k3s node reports; the stand-in runs no containers, so they never vary.
const (
	containerRuntimeVersion = "containerd://1.7.27-k3s1"
	kubeletPort             = 10250
)

var nodeResources = map[string]string{"cpu": "2", "memory": "2Gi", "pods": "110"}

// conditionSpec is one condition the kubelet owns, as it reports it.
type conditionSpec struct{ Type, Status, Reason, Message string }

// The conditions a healthy kubelet posts, in the kubelet's order.
var nodeConditionSpecs = []conditionSpec{
	{"MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
	{"DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
	{"PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
	{"Ready", "True", "KubeletReady", "kubelet is posting ready status"},
}

// NodeCondition is a Node's status.conditions entry.
type NodeCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	LastHeartbeatTime  string `json:"lastHeartbeatTime,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
}

type nodeAddress struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

type nodeInfo struct {
	MachineID               string `json:"machineID"`
	SystemUUID              string `json:"systemUUID"`
	BootID                  string `json:"bootID"`
	KernelVersion           string `json:"kernelVersion"`
	OSImage                 string `json:"osImage"`
	ContainerRuntimeVersion string `json:"containerRuntimeVersion"`
	KubeletVersion          string `json:"kubeletVersion"`
	KubeProxyVersion        string `json:"kubeProxyVersion"`
	OperatingSystem         string `json:"operatingSystem"`
	Architecture            string `json:"architecture"`
}

type daemonEndpoints struct {
	KubeletEndpoint struct {
		Port int `json:"Port"`
	} `json:"kubeletEndpoint"`
}

// NodeStatusPatch is the body of a strategic merge patch of nodes/<name>/status. Conditions
// and addresses merge by type, so conditions other tools own (OceanidNodeChange) survive.
type NodeStatusPatch struct {
	Status struct {
		Capacity        map[string]string `json:"capacity"`
		Allocatable     map[string]string `json:"allocatable"`
		Conditions      []NodeCondition   `json:"conditions"`
		Addresses       []nodeAddress     `json:"addresses"`
		DaemonEndpoints daemonEndpoints   `json:"daemonEndpoints"`
		NodeInfo        nodeInfo          `json:"nodeInfo"`
	} `json:"status"`
}

// kubeTime is metav1.Time's wire format (RFC 3339, seconds, UTC).
func kubeTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// microTime is metav1.MicroTime's wire format (RFC 3339 with microseconds, UTC).
func microTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

// NodeLabels are the labels a kubelet registers with (NodeRestriction allows exactly these
// kinds; role labels are the server's to set, see roles.go).
func NodeLabels(name string) map[string]string {
	return map[string]string{
		"kubernetes.io/hostname":           name,
		"kubernetes.io/os":                 "linux",
		"kubernetes.io/arch":               "amd64",
		"beta.kubernetes.io/os":            "linux",
		"beta.kubernetes.io/arch":          "amd64",
		"node.kubernetes.io/instance-type": "k3s",
	}
}

// NodeRegistration is the body of POST /api/v1/nodes.
func NodeRegistration(name string) map[string]any {
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata":   map[string]any{"name": name, "labels": NodeLabels(name)},
	}
}

// BuildNodeStatus is the status patch for node name at version; since[type] is when this
// process first reported each condition's current status.
func BuildNodeStatus(name, version string, host HostInfo, now time.Time, since map[string]time.Time) NodeStatusPatch {
	var p NodeStatusPatch
	p.Status.Capacity = nodeResources
	p.Status.Allocatable = nodeResources
	for _, c := range nodeConditionSpecs {
		p.Status.Conditions = append(p.Status.Conditions, NodeCondition{
			Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message,
			LastHeartbeatTime:  kubeTime(now),
			LastTransitionTime: kubeTime(since[c.Type]),
		})
	}
	if host.InternalIP != "" {
		p.Status.Addresses = append(p.Status.Addresses, nodeAddress{"InternalIP", host.InternalIP})
	}
	p.Status.Addresses = append(p.Status.Addresses, nodeAddress{"Hostname", name})
	p.Status.DaemonEndpoints.KubeletEndpoint.Port = kubeletPort
	p.Status.NodeInfo = nodeInfo{
		MachineID:               host.MachineID,
		SystemUUID:              host.SystemUUID,
		BootID:                  host.BootID,
		KernelVersion:           host.KernelVersion,
		OSImage:                 host.OSImage,
		ContainerRuntimeVersion: containerRuntimeVersion,
		KubeletVersion:          version,
		KubeProxyVersion:        version,
		OperatingSystem:         "linux",
		Architecture:            "amd64",
	}
	return p
}

// conditionsDiffer reports whether the API's node lacks one of ours or shows another status
// (e.g. Ready=Unknown from the node lifecycle controller after an outage).
func conditionsDiffer(current []NodeCondition) bool {
	for _, want := range nodeConditionSpecs {
		found := false
		for _, c := range current {
			if c.Type == want.Type {
				found = c.Status == want.Status && c.Reason == want.Reason
				break
			}
		}
		if !found {
			return true
		}
	}
	return false
}
