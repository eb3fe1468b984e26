// Command psa-check evaluates the pod templates in Kubernetes manifests
// against a Pod Security Standards level with the same library the API
// server's PodSecurity admission uses (k8s.io/pod-security-admission).
//
// Usage: psa-check [-level restricted] FILE...
// Prints one JSON object per pod template: {"file","kind","name","allowed","forbidden":[...]}.
// Exit 0 when every template is allowed, 1 when one is not, 2 on bad input.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

type result struct {
	File      string   `json:"file"`
	Kind      string   `json:"kind"`
	Name      string   `json:"name"`
	Allowed   bool     `json:"allowed"`
	Forbidden []string `json:"forbidden"`
}

func main() {
	level := flag.String("level", "restricted", "Pod Security level: privileged, baseline or restricted")
	flag.Parse()
	lvl, err := api.ParseLevel(*level)
	if err != nil || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: psa-check [-level restricted] FILE...")
		os.Exit(2)
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		fmt.Fprintln(os.Stderr, "psa-check:", err)
		os.Exit(2)
	}
	target := api.LevelVersion{Level: lvl, Version: api.LatestVersion()}
	status := 0
	out := json.NewEncoder(os.Stdout)
	for _, file := range flag.Args() {
		results, err := checkFile(file, evaluator, target)
		if err != nil {
			fmt.Fprintf(os.Stderr, "psa-check: %s: %v\n", file, err)
			os.Exit(2)
		}
		for _, r := range results {
			if !r.Allowed {
				status = 1
			}
			_ = out.Encode(r)
		}
	}
	os.Exit(status)
}

func checkFile(file string, evaluator policy.Evaluator, target api.LevelVersion) ([]result, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var results []result
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return results, nil
		}
		if err != nil {
			return nil, err
		}
		var head metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, err
		}
		meta, spec, name, err := podTemplate(head.Kind, doc)
		if err != nil {
			return nil, err
		}
		if spec == nil {
			continue
		}
		r := result{File: file, Kind: head.Kind, Name: name, Allowed: true, Forbidden: []string{}}
		for _, check := range evaluator.EvaluatePod(target, meta, spec) {
			if !check.Allowed {
				r.Allowed = false
				r.Forbidden = append(r.Forbidden, check.ForbiddenReason+": "+check.ForbiddenDetail)
			}
		}
		results = append(results, r)
	}
}

// podTemplate decodes the kinds that carry a pod template; other kinds give a nil spec.
func podTemplate(kind string, doc []byte) (*metav1.ObjectMeta, *corev1.PodSpec, string, error) {
	switch kind {
	case "Pod":
		var o corev1.Pod
		err := yaml.Unmarshal(doc, &o)
		return &o.ObjectMeta, &o.Spec, o.Name, err
	case "Deployment":
		var o appsv1.Deployment
		err := yaml.Unmarshal(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, o.Name, err
	case "DaemonSet":
		var o appsv1.DaemonSet
		err := yaml.Unmarshal(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, o.Name, err
	case "StatefulSet":
		var o appsv1.StatefulSet
		err := yaml.Unmarshal(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, o.Name, err
	case "Job":
		var o batchv1.Job
		err := yaml.Unmarshal(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, o.Name, err
	}
	return nil, nil, "", nil
}
