#!/usr/bin/env bash
# Stand-in for the k3s binary on a node-lab node (test/lab/README.md). The
# installer stand-in writes this to /usr/local/bin/k3s with its version filled in;
# the lab fills in the lab lines when it copies the template.
#
#   k3s --version            "k3s version vX.Y.Z+k3sN (standin)" / "go version go1.24.0"
#   k3s agent|server [FLAGS] the node's kubelet heartbeat: fetch /cacerts (and check it
#                            against a K10 token's CA hash), then every heartbeat PUT the
#                            Node status (Ready=True, kubeletVersion = this version) and
#                            the Lease kube-node-lease/<node name> to the API stand-in.
#   k3s kubectl ...          a few read-only kubectl commands against the API stand-in
#                            (see kubectl_standin below)
#
# Server URL: --server / config.yaml "server:" / K3S_URL (agent); https://127.0.0.1:6443
# for a server. Token: --token / --token-file / config.yaml / K3S_TOKEN /
# K3S_TOKEN_FILE (/var/lib/rancher/k3s/server/token for a server). The token only
# ever goes to curl through a 0600 header file, never on a command line.
# A version listed in the lab's broken-releases file starts and never heartbeats.
set -uo pipefail
umask 077

K3S_STANDIN_VERSION="v0.0.0+k3s0" # installer: version (the installer rewrites this line)
STANDIN_BROKEN_RELEASES=/nonexistent # lab: broken releases file (the lab rewrites this line)
STANDIN_HEARTBEAT=1 # lab: heartbeat seconds (the lab rewrites this line)

STANDIN_STATE=/var/lib/standin/k3s
CONFIG_FILE=/etc/rancher/k3s/config.yaml

log() { # level message
    printf 'time="%s" level=%s msg="%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" >&2
}
fatal() {
    log fatal "$1"
    exit 1
}

print_version() {
    printf 'k3s version %s (standin)\ngo version go1.24.0\n' "$K3S_STANDIN_VERSION"
}

# "key: value" scalars of a k3s config file (quotes stripped), nothing nested.
config_value() {
    local file=$1 key=$2
    [ -r "$file" ] || return 0
    sed -n -E "s/^${key}:[[:space:]]*(.*[^[:space:]])[[:space:]]*$/\\1/p" "$file" | tail -n 1 |
        sed -E 's/^"(.*)"$/\1/; s/^'"'"'(.*)'"'"'$/\1/'
}

# Flags of k3s agent/server that take a value (the rest are booleans).
takes_value() {
    case $1 in
        --server | -s | --token | -t | --token-file | --node-name | --node-ip | -i | --node-external-ip | \
            --node-label | --node-taint | --flannel-iface | --config | -c | --data-dir | -d | --kubelet-arg | \
            --kube-proxy-arg | --resolv-conf | --private-registry | --lb-server-port | --vpn-auth | \
            --vpn-auth-file | --bind-address | --advertise-address | --tls-san | --cluster-cidr | \
            --service-cidr | --cluster-dns | --cluster-domain | --disable | --write-kubeconfig-mode | \
            --write-kubeconfig | -o | --agent-token | --agent-token-file | --datastore-endpoint | \
            --flannel-backend | --kube-apiserver-arg | --kube-controller-manager-arg | \
            --kube-scheduler-arg | --egress-selector-mode | --https-listen-port | --snapshotter | \
            --pause-image | --default-runtime | --container-runtime-endpoint)
            return 0
            ;;
    esac
    return 1
}

run_node() { # agent|server FLAGS...
    local role=$1 flag val
    shift
    local opt_server='' opt_token='' opt_token_file='' opt_node_name='' opt_node_ip='' config=$CONFIG_FILE
    while [ $# -gt 0 ]; do
        flag=$1
        val=
        case $flag in
            --*=*) val=${flag#*=}; flag=${flag%%=*} ;;
            -*) if takes_value "$flag"; then
                    [ $# -ge 2 ] || fatal "flag needs an argument: $flag"
                    val=$2
                    shift
                fi ;;
            *) fatal "unexpected argument $flag" ;;
        esac
        case $flag in
            --server | -s) opt_server=$val ;;
            --token | -t) opt_token=$val ;;
            --token-file) opt_token_file=$val ;;
            --node-name) opt_node_name=$val ;;
            --node-ip | -i) opt_node_ip=$val ;;
            --config | -c) config=$val ;;
        esac
        shift
    done

    # Precedence like k3s: flags, then the config file, then the environment.
    local server token token_file node_name
    server=${opt_server:-$(config_value "$config" server)}
    server=${server:-${K3S_URL:-}}
    token=${opt_token:-$(config_value "$config" token)}
    token=${token:-${K3S_TOKEN:-}}
    token_file=${opt_token_file:-$(config_value "$config" token-file)}
    token_file=${token_file:-${K3S_TOKEN_FILE:-}}
    node_name=${opt_node_name:-$(config_value "$config" node-name)}
    node_name=${node_name:-${K3S_NODE_NAME:-$(uname -n)}}
    node_name=$(printf '%s' "$node_name" | tr '[:upper:]' '[:lower:]')

    if [ "$role" = server ]; then
        server=https://127.0.0.1:6443
        [ -n "$token$token_file" ] || token_file=/var/lib/rancher/k3s/server/token
    fi
    [ -n "$server" ] || fatal "--server is required"
    case $server in https://*) ;; *) fatal "server URL must be https: $server" ;; esac
    server=${server%/}
    if [ -z "$token" ] && [ -n "$token_file" ]; then
        [ -r "$token_file" ] || fatal "failed to read token file $token_file"
        token=$(head -n 1 "$token_file" | tr -d '[:space:]')
    fi
    [ -n "$token" ] || fatal "--token is required"

    local node_ip
    node_ip=${opt_node_ip:-$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')}

    mkdir -p "$STANDIN_STATE" /var/lib/rancher/k3s/agent
    local header=$STANDIN_STATE/auth.header ca=/var/lib/rancher/k3s/agent/server-ca.crt
    printf 'Authorization: Bearer %s\n' "$token" >"$header"
    chmod 0600 "$header"

    log info "Starting k3s $role $K3S_STANDIN_VERSION (standin) as node $node_name ($node_ip), server $server"
    trap 'log info "Received SIGTERM, shutting down"; exit 0' TERM INT

    if [ -r "$STANDIN_BROKEN_RELEASES" ] && grep -qxF "$K3S_STANDIN_VERSION" "$STANDIN_BROKEN_RELEASES"; then
        log error "standin: release $K3S_STANDIN_VERSION is marked broken in the lab: this node never talks to the server"
        while :; do
            sleep 3600 &
            wait $!
        done
    fi

    # /cacerts, checked against the token's CA hash like k3s's secure token.
    local expected_hash='' hash tmp=$ca.download warned=false
    case $token in K10*::*) expected_hash=${token#K10}; expected_hash=${expected_hash%%::*} ;; esac
    while :; do
        if curl -fsSk --noproxy '*' --max-time 3 -o "$tmp" "$server/cacerts" 2>"$STANDIN_STATE/curl.err"; then
            hash=$(sha256sum "$tmp" | cut -d' ' -f1)
            if [ -z "$expected_hash" ] || [ "$hash" = "$expected_hash" ]; then
                mv -f "$tmp" "$ca"
                break
            fi
            $warned || log error "token CA hash does not match the Cluster CA certificate hash: $hash != $expected_hash"
        else
            $warned || log error "failed to get CA certs from $server/cacerts: $(tr '\n' ' ' <"$STANDIN_STATE/curl.err")"
        fi
        warned=true
        sleep "$STANDIN_HEARTBEAT" &
        wait $!
    done
    log info "Got CA certs from $server/cacerts"

    local labels ready_since now failing=false err
    labels='"kubernetes.io/hostname":"'$node_name'","kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","node.kubernetes.io/instance-type":"k3s","beta.kubernetes.io/instance-type":"k3s"'
    if [ "$role" = server ]; then
        labels+=',"node-role.kubernetes.io/control-plane":"true","node-role.kubernetes.io/master":"true"'
    fi
    ready_since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    local kernel
    kernel=$(uname -r)
    while :; do
        now=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
        local status_json lease_json
        status_json=$(printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","labels":{%s}},"status":{"conditions":[%s,%s,%s,%s],"addresses":[{"type":"InternalIP","address":"%s"},{"type":"Hostname","address":"%s"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"kubeletVersion":"%s","kubeProxyVersion":"%s","containerRuntimeVersion":"containerd://2.0.5-k3s2 (standin)","osImage":"k3s node-lab standin","kernelVersion":"%s","operatingSystem":"linux","architecture":"amd64","machineID":"","systemUUID":"","bootID":""}}}' \
            "$node_name" "$labels" \
            "$(cond MemoryPressure False KubeletHasSufficientMemory 'kubelet has sufficient memory available')" \
            "$(cond DiskPressure False KubeletHasNoDiskPressure 'kubelet has no disk pressure')" \
            "$(cond PIDPressure False KubeletHasSufficientPID 'kubelet has sufficient PID available')" \
            "$(cond Ready True KubeletReady 'kubelet is posting ready status')" \
            "$node_ip" "$node_name" "$K3S_STANDIN_VERSION" "$K3S_STANDIN_VERSION" "$kernel")
        lease_json=$(printf '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"%s","namespace":"kube-node-lease"},"spec":{"holderIdentity":"%s","leaseDurationSeconds":40,"renewTime":"%s"}}' \
            "$node_name" "$node_name" "$now")
        if err=$(put "$server" "$ca" "$header" "/api/v1/nodes/$node_name/status" "$status_json" 2>&1) &&
            err=$(put "$server" "$ca" "$header" "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$node_name" "$lease_json" 2>&1); then
            if $failing; then log info "node status and lease updated again"; fi
            failing=false
        else
            if ! $failing; then
                log error "failed to update node status / lease: $(printf '%s' "$err" | tr '\n' ' ')"
                ready_since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
            fi
            failing=true
        fi
        sleep "$STANDIN_HEARTBEAT" &
        wait $!
    done
}

cond() { # type status reason message (uses $now and $ready_since of run_node)
    printf '{"type":"%s","status":"%s","reason":"%s","message":"%s","lastHeartbeatTime":"%s","lastTransitionTime":"%s"}' \
        "$1" "$2" "$3" "$4" "${now%.*}Z" "$ready_since"
}

put() { # server ca header path json
    curl -fsS --noproxy '*' --max-time 2 --cacert "$2" -H @"$3" -H 'Content-Type: application/json' \
        -X PUT --data-binary @- -o /dev/null "$1$4" <<<"$5"
}

# --- k3s kubectl: read-only, against the API stand-in --------------------------------
# kubectl [-n NS] get --raw PATH
# kubectl [-n NS] get nodes|node|no [NAME] [-o json|yaml|name|wide|jsonpath=...]
# kubectl [-n NS] get leases|lease [NAME] [-o ...]
# kubectl version
# Output formats other than the raw JSON are rendered by the API stand-in.
kubectl_standin() {
    local kubeconfig=${KUBECONFIG:-/etc/rancher/k3s/k3s.yaml} ns=default raw='' output='' verb='' resource='' name=''
    while [ $# -gt 0 ]; do
        case $1 in
            -n | --namespace) ns=${2:?}; shift ;;
            --namespace=*) ns=${1#*=} ;;
            --kubeconfig) kubeconfig=${2:?}; shift ;;
            --kubeconfig=*) kubeconfig=${1#*=} ;;
            --raw) raw=${2:?}; shift ;;
            --raw=*) raw=${1#*=} ;;
            -o | --output) output=${2:?}; shift ;;
            -o*) output=${1#-o}; output=${output#=} ;;
            --output=*) output=${1#*=} ;;
            --request-timeout=* | --request-timeout) [ "$1" = --request-timeout ] && shift ;;
            -*) echo "error: unknown flag: $1 (k3s kubectl stand-in)" >&2; return 1 ;;
            *) if [ -z "$verb" ]; then verb=$1; elif [ -z "$resource" ]; then resource=$1; elif [ -z "$name" ]; then name=$1; else
                   echo "error: too many arguments (k3s kubectl stand-in)" >&2; return 1
               fi ;;
        esac
        shift
    done
    [ -r "$kubeconfig" ] || { echo "error: cannot read kubeconfig $kubeconfig" >&2; return 1; }
    local server token ca_data
    server=$(sed -n -E 's/^[[:space:]]*server:[[:space:]]*"?([^"]*)"?[[:space:]]*$/\1/p' "$kubeconfig" | head -n 1)
    token=$(sed -n -E 's/^[[:space:]]*token:[[:space:]]*"?([^"]*)"?[[:space:]]*$/\1/p' "$kubeconfig" | head -n 1)
    ca_data=$(sed -n -E 's/^[[:space:]]*certificate-authority-data:[[:space:]]*"?([^"]*)"?[[:space:]]*$/\1/p' "$kubeconfig" | head -n 1)
    local path
    case $verb in
        version) path=/version ;;
        get)
            if [ -n "$raw" ]; then
                path=$raw
            else
                case $resource in
                    node | nodes | no) path=/api/v1/nodes${name:+/$name} ;;
                    lease | leases) path=/apis/coordination.k8s.io/v1/namespaces/$ns/leases${name:+/$name} ;;
                    *) echo "error: the k3s kubectl stand-in only gets nodes and leases (got '$resource')" >&2; return 1 ;;
                esac
            fi
            ;;
        *) echo "error: the k3s kubectl stand-in only supports get and version (got '$verb')" >&2; return 1 ;;
    esac
    local tmp rc
    tmp=$(mktemp -d)
    printf 'Authorization: Bearer %s\n' "$token" >"$tmp/header"
    printf '%s' "$ca_data" | base64 -d >"$tmp/ca.crt"
    local -a format=()
    if [ -z "$raw" ] && [ -n "$output" ]; then format=(-H "X-Standin-Output: $output"); fi
    if [ -z "$raw" ] && [ -z "$output" ] && [ "$verb" = get ]; then format=(-H "X-Standin-Output: table"); fi
    curl -sS --noproxy '*' --max-time 10 --cacert "$tmp/ca.crt" -H @"$tmp/header" "${format[@]}" \
        -o "$tmp/body" -w '%{http_code}' "$server$path" >"$tmp/code"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        if [ "$(cat "$tmp/code")" -ge 400 ]; then
            printf 'Error from server (%s): %s\n' "$(sed -n -E 's/.*"reason":"([^"]*)".*/\1/p' "$tmp/body")" \
                "$(sed -n -E 's/.*"message":"(([^"\\]|\\.)*)".*/\1/p' "$tmp/body" | sed 's/\\"/"/g')" >&2
            rc=1
        else
            cat "$tmp/body"
            [ -z "$(tail -c 1 "$tmp/body")" ] || echo
        fi
    fi
    rm -rf "$tmp"
    return "$rc"
}

prog=${0##*/}
if [ "$prog" = kubectl ]; then set -- kubectl "$@"; fi
case ${1:-} in
    --version | -v | version) print_version ;;
    agent | server) run_node "$@" ;;
    kubectl) shift; kubectl_standin "$@" ;;
    '' | help | --help | -h) echo "usage: k3s agent|server [flags] | k3s --version | k3s kubectl get ... (node-lab stand-in)" ;;
    *) echo "Incorrect Usage. No help topic for '$1' (k3s stand-in)" >&2; exit 1 ;;
esac
