set -euo pipefail
node='srv712695'
change_dir='/var/lib/oceanid/changes/k3s'
fail() { printf '%s FAILED node=%s reason=%s\n' 'APPLY' "$node" "$*" >&2; exit 1; }
umask 077
target='v1.33.5+k3s1'
server_url='https://157.173.210.123:6443'
service='k3s-agent'
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
IFS= read -r token || true
[[ $token =~ ^K10([0-9a-f]{64})::.+$ ]] \
    || fail "the k3s token is not a secure token (K10<CA hash>::...): set oceanid:k3sToken to the full token from /var/lib/rancher/k3s/server/token"
mkdir -p "$change_dir" /etc/rancher/k3s
if [ "$(installed_version)" = "$target" ] && systemctl is-active --quiet "$service"; then
    echo "unchanged: $node already runs $target"
else
    printf '%s\n' "$token" >/etc/rancher/k3s/oceanid-token
    chmod 600 /etc/rancher/k3s/oceanid-token
    curl -fsSL --max-time 120 'https://get.k3s.io' -o "$change_dir/install.sh" 2>"$change_dir/apply.log" \
        || fail "cannot fetch the k3s installer from https://get.k3s.io"
    # The installer's output stays in a root-only log on the node.
    if ! INSTALL_K3S_VERSION="$target" INSTALL_K3S_EXEC=agent K3S_URL="$server_url" K3S_TOKEN_FILE=/etc/rancher/k3s/oceanid-token \
        sh "$change_dir/install.sh" >>"$change_dir/apply.log" 2>&1; then
        fail "the k3s installer failed; its output is in $change_dir/apply.log on the node"
    fi
    now=$(installed_version)
    [ "$now" = "$target" ] || fail "the installer finished but k3s reports '${now:-nothing}', not $target"
    echo "applied: $node now runs $target"
fi
echo "applied-at: $(date +%s.%N)"
