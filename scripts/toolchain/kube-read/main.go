// Command kube-read reads Kubernetes manifests the way kubectl does and prints
// how many objects it found: the baseline "kubectl's own reader" for the
// oceanid-guard benchmarks (bench/README.md). It checks nothing.
//
// Usage: kube-read [-mode builder|decoder] [-dump] PATH...
//
//	builder  k8s.io/cli-runtime's resource builder, as `kubectl apply -f PATH`
//	         reads files (local: no server): recursive directories, .yaml/.yml/.json,
//	         every document decoded into an unstructured object, Lists flattened.
//	decoder  only k8s.io/apimachinery's NewYAMLOrJSONDecoder (the reader inside the
//	         builder's StreamVisitor) and the unstructured JSON scheme, per document.
//
// Prints "objects=N files=F"; with -dump (builder mode), first every object
// kubectl would send, one JSON line each: {"source": FILE, "object": {...}}
// (test/policies/kubectl-parity.test.ts compares them with what oceanid-guard
// reads). Exit 0 on success, 1 when a document cannot be read, 2 on bad usage.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/resource"
)

func main() {
	mode := flag.String("mode", "builder", "builder (cli-runtime, as kubectl) or decoder (apimachinery only)")
	flag.BoolVar(&dump, "dump", false, "print every object as a JSON line (builder mode)")
	flag.Parse()
	if flag.NArg() == 0 || (*mode != "builder" && *mode != "decoder") || (dump && *mode != "builder") {
		fmt.Fprintln(os.Stderr, "usage: kube-read [-mode builder|decoder] [-dump] PATH...")
		os.Exit(2)
	}
	var objects, files int
	var err error
	if *mode == "builder" {
		objects, files, err = readWithBuilder(flag.Args())
	} else {
		objects, files, err = readWithDecoder(flag.Args())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kube-read:", err)
		os.Exit(1)
	}
	fmt.Printf("objects=%d files=%d\n", objects, files)
}

var dump bool

// readWithBuilder is kubectl's path: FilenameParam with Recursive, Unstructured, Flatten.
func readWithBuilder(paths []string) (int, int, error) {
	seen := map[string]bool{}
	objects := 0
	err := resource.NewLocalBuilder().
		Unstructured().
		ContinueOnError().
		FilenameParam(false, &resource.FilenameOptions{Filenames: paths, Recursive: true}).
		Flatten().
		Do().
		Visit(func(info *resource.Info, err error) error {
			if err != nil {
				return err
			}
			objects++
			seen[info.Source] = true
			if dump {
				line, err := json.Marshal(map[string]any{"source": info.Source, "object": info.Object})
				if err != nil {
					return err
				}
				fmt.Println(string(line))
			}
			return nil
		})
	return objects, len(seen), err
}

// readWithDecoder walks the paths like the builder (same extensions) and decodes each document.
func readWithDecoder(paths []string) (int, int, error) {
	objects, files := 0, 0
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			ext := strings.ToLower(filepath.Ext(path))
			if path != root && ext != ".yaml" && ext != ".yml" && ext != ".json" {
				return nil
			}
			files++
			n, err := decodeFile(path)
			objects += n
			return err
		})
		if err != nil {
			return objects, files, err
		}
	}
	return objects, files, nil
}

func decodeFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	decoder := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	n := 0
	for {
		var raw runtime.RawExtension
		if err := decoder.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, fmt.Errorf("%s: %w", path, err)
		}
		data := bytes.TrimSpace(raw.Raw)
		if len(data) == 0 || bytes.Equal(data, []byte("null")) {
			continue
		}
		obj, _, err := unstructured.UnstructuredJSONScheme.Decode(data, nil, nil)
		if err != nil {
			return n, fmt.Errorf("%s: %w", path, err)
		}
		if list, ok := obj.(*unstructured.UnstructuredList); ok {
			n += len(list.Items)
		} else {
			n++
		}
	}
}
