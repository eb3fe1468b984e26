# shellcheck shell=bash disable=SC2034  # the settings are used by the scripts that source this file
# Shared settings for every project script: which tools, where they live, and
# the environment that keeps Pulumi local and offline. Source it; do not run it.

OCEANID_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OCEANID_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/oceanid-infra
OCEANID_TOOLS=$OCEANID_ROOT/.tools

# Pinned toolchain. Why each pin is what it is: docs/toolchain.md.
NODE_VERSION=24.9.0
PULUMI_VERSION=3.259.0
PULUMI_MIN_VERSION=3.229.0
LANGHOST_SDK_VERSION=3.68.0
# The newest go directive among scripts/toolchain/*/go.mod (Prometheus asks for 1.26.7).
GO_MIN_VERSION=1.26.7
K8S_PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
K8S_PROVIDER_PSEUDO=v4.0.0-20260115033456-f47bc2d6f199
K8S_PROVIDER_SUM=h1:j2bphCf7c2YhnBrhwht2f3TNRRgcMImltUlAgzxr9H4=
K8S_PROVIDER_VERSION=4.24.1+git.f47bc2d6f199
K8S_PLUGIN_VERSION=4.24.1
NETPOL_VERSION=1.4.4
PSA_VERSION=0.33.5
# The test control plane (scripts/test-cluster): the cluster's k3s line, and the
# etcd release that Kubernetes version requires as its client.
KUBERNETES_VERSION=1.33.13
ETCD_VERSION=3.5.21
# Workflow linters (.ci/run): actionlint from the Go module proxy, zizmor from PyPI.
ACTIONLINT_VERSION=1.7.12
ZIZMOR_VERSION=1.32.0
# The S3-compatible server of the team state backend tests (test/state).
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
# The tailnet lab (test/tailnet): Tailscale at the gateway image's tag
# (components/network/gateway-workload.ts GATEWAY_DEFAULTS.image), headscale as control server.
TAILSCALE_VERSION=1.102.3
HEADSCALE_VERSION=0.26.1
# The monitoring tests (test/monitoring, test/helpers/prometheus.ts): Prometheus and promtool from the
# Go module's tag v0.316.0 (release 3.16.0, which the binaries print), and Alertmanager 0.28.1,
# the newest release that builds from its module (later ones embed a UI the module lacks).
PROMETHEUS_VERSION=0.316.0
ALERTMANAGER_VERSION=0.28.1

export PATH="$OCEANID_TOOLS/bin:$OCEANID_ROOT/node_modules/.bin:$PATH"
export PULUMI_HOME=${PULUMI_HOME:-$OCEANID_TOOLS/pulumi-home}
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=${PULUMI_IGNORE_AMBIENT_PLUGINS:-true}
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$OCEANID_ROOT/.pulumi-state}
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true

# version_ge A B: true when version A >= version B (dotted numbers, leading "v"/"go" ignored).
version_ge() {
    local a=${1#v} b=${2#v}
    a=${a#go}; b=${b#go}
    [ "$(printf '%s\n%s\n' "$b" "$a" | sort -V | head -n1)" = "$b" ]
}
