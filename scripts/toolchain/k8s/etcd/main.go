// Command etcd is the store of the test control plane (scripts/test-cluster):
// etcd's own server entry point, built from the release that
// k8s.io/kubernetes v1.33.13 requires as its etcd client version.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
