set -euo pipefail
node='srv712429'
change_dir='/var/lib/oceanid/changes/k3s'
unit='oceanid-revert-k3s'
fail() { printf '%s FAILED node=%s reason=%s\n' 'PREFLIGHT' "$node" "$*" >&2; exit 1; }
if systemctl is-active --quiet "$unit.timer"; then
    fail "a revert of k3s is pending since $(cat "$change_dir/armed-at" 2>/dev/null || echo '?'); wait for it, or disarm it with: systemctl stop $unit.timer"
fi
target='v1.33.5+k3s1'
server_url='https://157.173.210.123:6443'
server_version='v1.33.5+k3s1'
installed_version() {
    if [ -x /usr/local/bin/k3s ]; then /usr/local/bin/k3s --version 2>/dev/null | awk 'NR==1 {print $3}'; fi
}
version_parts() {
    [[ $1 =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+)\+k3s([0-9]+)$ ]] || return 1
    echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]} ${BASH_REMATCH[4]}"
}
version_cmp() {
    local a b i
    read -r -a a <<<"$(version_parts "$1")"
    read -r -a b <<<"$(version_parts "$2")"
    for i in 0 1 2 3; do
        if ((a[i] < b[i])); then echo -1; return; fi
        if ((a[i] > b[i])); then echo 1; return; fi
    done
    echo 0
}
minor() { local p; read -r -a p <<<"$(version_parts "$1")"; echo "${p[1]}"; }
echo 'WARNING: srv712429 has no out-of-band access; changed anyway because: lab host' >&2
free_disk=$(df -Pm /var/lib/rancher 2>/dev/null | awk 'NR==2 {print $4}')
[ -n "$free_disk" ] || free_disk=$(df -Pm / | awk 'NR==2 {print $4}')
((free_disk >= 2048)) || fail "only ${free_disk} MiB free under /var/lib/rancher; the upgrade needs 2048 MiB (nodeChanges.minFreeDiskMiB)"
free_mem=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
((free_mem >= 256)) || fail "only ${free_mem} MiB memory available; the upgrade needs 256 MiB (nodeChanges.minAvailableMemoryMiB)"
IFS= read -r token || true
[[ $token =~ ^K10([0-9a-f]{64})::.+$ ]] \
    || fail "the k3s token is not a secure token (K10<CA hash>::...): set oceanid:k3sToken to the full token from /var/lib/rancher/k3s/server/token"
token_ca_hash=${BASH_REMATCH[1]}
cacerts=$(mktemp)
trap 'rm -f "$cacerts"' EXIT
curl -fsS --max-time 10 -k "$server_url/cacerts" -o "$cacerts" 2>/dev/null \
    || fail "the server $server_url does not answer /cacerts"
server_ca_hash=$(sha256sum "$cacerts" | awk '{print $1}')
[ "$server_ca_hash" = "$token_ca_hash" ] \
    || fail "the CA of $server_url (sha256 $server_ca_hash) is not the one the k3s token pins ($token_ca_hash): wrong server or wrong token"
pong=$(curl -fsS --max-time 10 --cacert "$cacerts" "$server_url/ping" 2>/dev/null) || pong=""
[ "$pong" = "pong" ] || fail "the server $server_url does not answer /ping"
installed=$(installed_version)
if [ -n "$installed" ]; then
    version_parts "$installed" >/dev/null || fail "k3s reports version '$installed', which is not a k3s release version"
    if (($(minor "$server_version") - $(minor "$installed") > 1)); then
        fail "runs $installed, more than one minor release behind the server's $server_version; upgrade it one minor release at a time"
    fi
    if [ "$(version_cmp "$installed" "$target")" = 1 ]; then
        fail "runs $installed, newer than the target $target; k3s does not support downgrades"
    fi
    if (($(minor "$target") - $(minor "$installed") > 1)); then
        fail "runs $installed, more than one minor release behind the target $target; upgrade it one minor release at a time"
    fi
fi
echo "installed: ${installed:-none}, target: $target"
echo "preflight ok: $node"
