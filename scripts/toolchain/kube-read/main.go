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
// Prints "objects=N files=F"; with -dump (builder mode), each PATH is read on
// its own, as `kubectl apply -f PATH` would read it, and every object kubectl
// would send is printed as a JSON line {"source": FILE, "object": {...}}, every
// error it reports as {"path": PATH, "error": MESSAGE}
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
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
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
	if dump {
		objects, files, err = dumpEach(flag.Args())
	} else if *mode == "builder" {
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

// dumpEach reads each path with a builder of its own, so that every error
// (some, such as a list item's, do not name their file) belongs to a path.
func dumpEach(paths []string) (int, int, error) {
	objects, files := 0, 0
	var failed []error
	for _, p := range paths {
		n, f, err := readWithBuilder([]string{p})
		objects += n
		files += f
		if err != nil {
			failed = append(failed, err)
			printErrors(p, err)
		}
	}
	return objects, files, utilerrors.NewAggregate(failed)
}

// printErrors prints each error of kubectl's aggregate on its own line: the
// aggregate's own message joins them with ", ", which messages contain too.
func printErrors(path string, err error) {
	errs := []error{err}
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		errs = utilerrors.Flatten(agg).Errors()
	}
	for _, e := range errs {
		line, _ := json.Marshal(map[string]string{"path": path, "error": e.Error()})
		fmt.Println(string(line))
	}
}

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
