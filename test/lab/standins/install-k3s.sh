#!/bin/sh
# Stand-in for k3s's install.sh (https://get.k3s.io) on a node-lab node
# (test/lab/README.md), served by the lab's release server. POSIX sh like the real
# one: it is run as "sh install.sh" (or curl ... | sh -).
#
# Environment, as for the real installer:
#   INSTALL_K3S_VERSION   vX.Y.Z+k3sN (required: the stand-in has no release channel)
#   INSTALL_K3S_EXEC      "agent" | "server", optionally followed by flags; the
#                         script's arguments are appended (like install.sh)
#   K3S_URL               the server (an agent needs it)
#   K3S_TOKEN / K3S_TOKEN_FILE   the join token (an agent needs one)
#   INSTALL_K3S_SKIP_DOWNLOAD, INSTALL_K3S_SKIP_ENABLE, INSTALL_K3S_SKIP_START,
#   INSTALL_K3S_FORCE_RESTART    as documented for install.sh
#
# Like install.sh it downloads the release's k3s binary and its sha256sum file from the
# release server, refuses a binary whose hash does not match, installs it as
# /usr/local/bin/k3s (replaced atomically) with the kubectl/crictl/ctr symlinks, writes
# /etc/systemd/system/k3s[-agent].service as install.sh does (Type=notify for a server,
# exec for an agent, ExecStart on continuation lines) and its .env file (mode 0600, the
# K3S_* variables), then runs the real systemctl: daemon-reload, enable, restart - unless
# nothing changed (same binary, unit and env), when it skips the restart like install.sh.
# Every run appends "<epoch> <version> <exec>" to /var/lib/oceanid-lab/installs.log
# (token flags redacted; the token itself is never written there).
set -e
set -o noglob

STANDIN_RELEASES_URL=http://127.0.0.1:1 # lab: the release server (the lab rewrites this line)

BIN_DIR=/usr/local/bin
SYSTEMD_DIR=/etc/systemd/system
STANDIN_DIR=/var/lib/oceanid-lab
CONFIG_FILE=/etc/rancher/k3s/config.yaml

info() {
    echo '[INFO] ' "$@"
}
fatal() {
    echo '[ERROR] ' "$@" >&2
    exit 1
}

# --- the k3s command: INSTALL_K3S_EXEC, then this script's arguments ---
# shellcheck disable=SC2086 # split INSTALL_K3S_EXEC into words, like install.sh
set -- ${INSTALL_K3S_EXEC:-} "$@"
case "${1:-}" in
    -* | "")
        if [ -z "${K3S_URL:-}" ]; then
            CMD_K3S=server
        else
            if [ -z "${K3S_TOKEN:-}" ] && [ -z "${K3S_TOKEN_FILE:-}" ]; then
                fatal "Defaulted k3s exec command to 'agent' because K3S_URL is defined, but K3S_TOKEN or K3S_TOKEN_FILE is not defined."
            fi
            CMD_K3S=agent
        fi
        ;;
    *)
        CMD_K3S=$1
        shift
        ;;
esac
case "${K3S_URL:-}" in
    "" | https://*) ;;
    *) fatal "Only https:// URLs are supported for K3S_URL (have ${K3S_URL})" ;;
esac
case $CMD_K3S in
    server) SYSTEM_NAME=k3s ;;
    agent) SYSTEM_NAME=k3s-agent ;;
    *) fatal "The k3s stand-in installer supports only the server and agent commands (have '$CMD_K3S')" ;;
esac

# The flags, quoted for the unit file and, with token values redacted, for the log.
EXEC_FLAGS=
EXEC_CONT=
LOG_FLAGS=
HAS_SERVER_FLAG=false
HAS_TOKEN_FLAG=false
REDACT_NEXT=false
for arg in "$@"; do
    quoted=$(printf '%s\n' "$arg" | sed "s/'/'\\\\''/g;1s/^/'/;\$s/\$/'/")
    EXEC_FLAGS="$EXEC_FLAGS $quoted"
    EXEC_CONT="$EXEC_CONT \\
    $quoted"
    if $REDACT_NEXT; then
        LOG_FLAGS="$LOG_FLAGS <redacted>"
        REDACT_NEXT=false
        continue
    fi
    case $arg in
        --server | -s | --server=*) HAS_SERVER_FLAG=true ;;
        --token-file | --token-file=*) HAS_TOKEN_FLAG=true ;;
    esac
    case $arg in
        --token | -t | --agent-token)
            HAS_TOKEN_FLAG=true
            REDACT_NEXT=true
            LOG_FLAGS="$LOG_FLAGS $arg"
            ;;
        --token=* | --agent-token=*)
            HAS_TOKEN_FLAG=true
            LOG_FLAGS="$LOG_FLAGS ${arg%%=*}=<redacted>"
            ;;
        *) LOG_FLAGS="$LOG_FLAGS $arg" ;;
    esac
done

if [ "$CMD_K3S" = agent ]; then
    if [ -z "${K3S_URL:-}" ] && ! $HAS_SERVER_FLAG && ! grep -qE '^server:' "$CONFIG_FILE" 2>/dev/null; then
        fatal "An agent needs the server: set K3S_URL (https://<server>:6443)."
    fi
    if [ -z "${K3S_TOKEN:-}" ] && [ -z "${K3S_TOKEN_FILE:-}" ] && ! $HAS_TOKEN_FLAG &&
        ! grep -qE '^token(-file)?:' "$CONFIG_FILE" 2>/dev/null; then
        fatal "An agent needs the join token: set K3S_TOKEN or K3S_TOKEN_FILE."
    fi
fi

VERSION=${INSTALL_K3S_VERSION:-}
[ -n "$VERSION" ] || fatal "INSTALL_K3S_VERSION is required: the stand-in installer has no release channel to ask"
printf '%s\n' "$VERSION" | grep -qE '^v[0-9]+\.[0-9]+\.[0-9]+(-rc[0-9]+)?\+k3s[0-9]+$' ||
    fatal "Download failed: no k3s release $VERSION"
[ "$(id -u)" -eq 0 ] || fatal "The stand-in installer must run as root"

FILE_K3S_SERVICE=$SYSTEMD_DIR/$SYSTEM_NAME.service
FILE_K3S_ENV=$FILE_K3S_SERVICE.env
installed_hashes() {
    sha256sum "$BIN_DIR/k3s" "$FILE_K3S_SERVICE" "$FILE_K3S_ENV" 2>&1 || true
}
PRE_INSTALL_HASHES=$(installed_hashes)

mkdir -p "$BIN_DIR" "$SYSTEMD_DIR" "$STANDIN_DIR"
printf '%s %s %s\n' "$(date +%s)" "$VERSION" "$CMD_K3S$LOG_FLAGS" >>"$STANDIN_DIR/installs.log"

# --- the download: binary and checksum from the release server, verified, replaced atomically ---
if [ "${INSTALL_K3S_SKIP_DOWNLOAD:-}" = true ]; then
    info "Skipping k3s download and verify"
else
    info "Using $VERSION as release"
    RELEASE_URL=$STANDIN_RELEASES_URL/k3s/$(printf '%s' "$VERSION" | sed 's/+/%2B/')
    TMP_BIN=$BIN_DIR/.k3s.download.$$
    TMP_HASH=$BIN_DIR/.k3s.sha256.$$
    trap 'rm -f "$TMP_BIN" "$TMP_HASH"' EXIT
    info "Downloading hash $RELEASE_URL/sha256sum-amd64.txt"
    curl -sfL --max-time 30 "$RELEASE_URL/sha256sum-amd64.txt" -o "$TMP_HASH" || fatal "Download failed"
    info "Downloading binary $RELEASE_URL/k3s"
    curl -sfL --max-time 60 "$RELEASE_URL/k3s" -o "$TMP_BIN" || fatal "Download failed"
    HASH_EXPECTED=$(awk '$2 == "k3s" {print $1}' "$TMP_HASH")
    HASH_BIN=$(sha256sum "$TMP_BIN" | awk '{print $1}')
    if [ -z "$HASH_EXPECTED" ] || [ "$HASH_EXPECTED" != "$HASH_BIN" ]; then
        fatal "Download sha256 does not match ${HASH_EXPECTED:-nothing}, got $HASH_BIN"
    fi
    if cmp -s "$TMP_BIN" "$BIN_DIR/k3s"; then
        info "Skipping binary downloaded, installed k3s matches hash"
        rm -f "$TMP_BIN"
    else
        info "Installing k3s to $BIN_DIR/k3s"
        chmod 755 "$TMP_BIN"
        mv -f "$TMP_BIN" "$BIN_DIR/k3s"
    fi
    for cmd in kubectl crictl ctr; do
        if [ ! -e "$BIN_DIR/$cmd" ]; then
            info "Creating $BIN_DIR/$cmd symlink to k3s"
            ln -sf k3s "$BIN_DIR/$cmd"
        fi
    done
fi

# --- env file: the K3S_* variables, 0600 ---
info "env: Creating environment file $FILE_K3S_ENV"
touch "$FILE_K3S_ENV"
chmod 0600 "$FILE_K3S_ENV"
: >"$FILE_K3S_ENV"
for name in $(env | sed -n 's/^\(\(K3S\|CONTAINERD\)_[A-Za-z0-9_]*\)=.*/\1/p' | sort -u); do
    eval "value=\${$name}"
    # shellcheck disable=SC2154 # value is set by the eval above
    printf "%s='%s'\n" "$name" "$(printf '%s' "$value" | sed "s/'/'\\\\''/g")" >>"$FILE_K3S_ENV"
done

# --- unit file ---
if [ "$CMD_K3S" = server ]; then SYSTEMD_TYPE="notify"; else SYSTEMD_TYPE="exec"; fi
# The command and each flag on a continuation line, as install.sh writes them.
EXEC_LINES="    $CMD_K3S$EXEC_CONT"
info "systemd: Creating service file $FILE_K3S_SERVICE"
cat >"$FILE_K3S_SERVICE.tmp" <<EOF
[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=$SYSTEMD_TYPE
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
EnvironmentFile=-$FILE_K3S_ENV
KillMode=process
Delegate=yes
User=root
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=$BIN_DIR/k3s \\
$EXEC_LINES
EOF
chmod 0644 "$FILE_K3S_SERVICE.tmp"
mv -f "$FILE_K3S_SERVICE.tmp" "$FILE_K3S_SERVICE"

# --- enable and start ---
[ "${INSTALL_K3S_SKIP_ENABLE:-}" = true ] && exit 0
info "systemd: Enabling $SYSTEM_NAME unit"
systemctl daemon-reload >/dev/null
systemctl enable "$SYSTEM_NAME" >/dev/null 2>&1
[ "${INSTALL_K3S_SKIP_START:-}" = true ] && exit 0
POST_INSTALL_HASHES=$(installed_hashes)
if [ "$PRE_INSTALL_HASHES" = "$POST_INSTALL_HASHES" ] && [ "${INSTALL_K3S_FORCE_RESTART:-}" != true ]; then
    info 'No change detected so skipping service start'
    exit 0
fi
info "systemd: Starting $SYSTEM_NAME"
systemctl restart "$SYSTEM_NAME"
