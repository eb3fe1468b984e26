import { outOfBandNotice, PREVIOUS, type NodeChangeSpec } from "./node-change-scripts";
import { shellQuote } from "../../platform/shell-quote";

/** What a k3s install or upgrade on one node needs to know. Plain data: no secrets. */
export interface K3sChange {
    node: string;
    role: "server" | "agent";
    /** The version to install, e.g. v1.33.5+k3s1. */
    version: string;
    /** `K3S_URL`: where agents join, where preflight checks `/ping` and `/cacerts`, and where nodes report their change's state. */
    serverUrl: string;
    installScriptUrl: string;
    minFreeDiskMiB: number;
    minAvailableMemoryMiB: number;
    /** How to reach the node without SSH, or why it may be changed without that. */
    outOfBand: { how: string } | { unsafeNoOutOfBandBecause: string };
}

/** The k3s token lives in this root-only file, referenced by `K3S_TOKEN_FILE`: never in a unit's environment. */
export const TOKEN_FILE = "/etc/rancher/k3s/oceanid-token";

const service = (role: K3sChange["role"]) => (role === "server" ? "k3s" : "k3s-agent");

/** Bash helpers for k3s versions: `installed_version`, and `version_cmp A B` printing -1, 0 or 1. */
const VERSION_HELPERS = `installed_version() {
    if [ -x /usr/local/bin/k3s ]; then /usr/local/bin/k3s --version 2>/dev/null | awk 'NR==1 {print $3}'; fi
}
version_parts() {
    [[ $1 =~ ^v([0-9]+)\\.([0-9]+)\\.([0-9]+)\\+k3s([0-9]+)$ ]] || return 1
    echo "\${BASH_REMATCH[1]} \${BASH_REMATCH[2]} \${BASH_REMATCH[3]} \${BASH_REMATCH[4]}"
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
minor() { local p; read -r -a p <<<"$(version_parts "$1")"; echo "\${p[1]}"; }`;

/** Reads the token from stdin (the only way it reaches the node) and checks its form. */
const READ_TOKEN = `IFS= read -r token || true
[[ $token =~ ^K10([0-9a-f]{64})::.+$ ]] \\
    || fail "the k3s token is not a secure token (K10<CA hash>::...): set oceanid:k3sToken to the full token from /var/lib/rancher/k3s/server/token"`;

function settings(c: K3sChange, step: "preflight" | "apply"): string {
    const lines = [`target=${shellQuote(c.version)}`];
    // The server's own install joins nothing: only preflight and agents need its URL.
    if (step === "preflight" || c.role === "agent") lines.push(`server_url=${shellQuote(c.serverUrl)}`);
    if (step === "apply") lines.push(`service=${shellQuote(service(c.role))}`);
    return lines.join("\n");
}

/**
 * Preflight for k3s: enough disk and memory; the server answers `/ping` and its
 * CA is the one the token pins; the installed version may move to the target
 * (no downgrade, one minor release at a time); out-of-band access is on record.
 * The server's running version is checked where the API server is: the drain step.
 */
function preflight(c: K3sChange): string {
    const oob = outOfBandNotice(c.node, c.outOfBand);
    return `${settings(c, "preflight")}
${VERSION_HELPERS}
${oob}
free_disk=$(df -Pm /var/lib/rancher 2>/dev/null | awk 'NR==2 {print $4}')
[ -n "$free_disk" ] || free_disk=$(df -Pm / | awk 'NR==2 {print $4}')
((free_disk >= ${c.minFreeDiskMiB})) || fail "only \${free_disk} MiB free under /var/lib/rancher; the upgrade needs ${c.minFreeDiskMiB} MiB (nodeChanges.minFreeDiskMiB)"
free_mem=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
((free_mem >= ${c.minAvailableMemoryMiB})) || fail "only \${free_mem} MiB memory available; the upgrade needs ${c.minAvailableMemoryMiB} MiB (nodeChanges.minAvailableMemoryMiB)"
${READ_TOKEN}
token_ca_hash=\${BASH_REMATCH[1]}
cacerts=$(mktemp)
trap 'rm -f "$cacerts"' EXIT
curl -fsS --max-time 10 -k "$server_url/cacerts" -o "$cacerts" 2>/dev/null \\
    || fail "the server $server_url does not answer /cacerts"
server_ca_hash=$(sha256sum "$cacerts" | awk '{print $1}')
[ "$server_ca_hash" = "$token_ca_hash" ] \\
    || fail "the CA of $server_url (sha256 $server_ca_hash) is not the one the k3s token pins ($token_ca_hash): wrong server or wrong token"
pong=$(curl -fsS --max-time 10 --cacert "$cacerts" "$server_url/ping" 2>/dev/null) || pong=""
[ "$pong" = "pong" ] || fail "the server $server_url does not answer /ping"
installed=$(installed_version)
if [ -n "$installed" ]; then
    version_parts "$installed" >/dev/null || fail "k3s reports version '$installed', which is not a k3s release version"
    if [ "$(version_cmp "$installed" "$target")" = 1 ]; then
        fail "runs $installed, newer than the target $target; k3s does not support downgrades"
    fi
    if (($(minor "$target") - $(minor "$installed") > 1)); then
        fail "runs $installed, more than one minor release behind the target $target; upgrade it one minor release at a time"
    fi
fi
echo "installed: \${installed:-none}, target: $target"`;
}

/** Before arming: what apply needs, read and checked (the token comes on stdin). */
function prepare(c: K3sChange): string {
    return `${settings(c, "apply")}
${VERSION_HELPERS}
${READ_TOKEN}`;
}

/** Apply: install or upgrade with the k3s installer, unless the node already runs the target. */
function apply(c: K3sChange): string {
    const exec = c.role === "server" ? "INSTALL_K3S_EXEC=server" : 'INSTALL_K3S_EXEC=agent K3S_URL="$server_url"';
    return `mkdir -p /etc/rancher/k3s
previous=$(installed_version)
echo "${PREVIOUS} \${previous:-none}"
if [ "$previous" = "$target" ] && systemctl is-active --quiet "$service"; then
    echo "unchanged: $node already runs $target"
else
    printf '%s\\n' "$token" >${TOKEN_FILE}
    chmod 600 ${TOKEN_FILE}
    # The installer's output stays in a root-only log on the node; its lock stays with this step.
    curl -fsSL --max-time 120 ${shellQuote(c.installScriptUrl)} -o "$change_dir/install.sh" 2>"$change_dir/apply.log" 9>&- \\
        || revert_now "cannot fetch the k3s installer from ${c.installScriptUrl}"
    if ! INSTALL_K3S_VERSION="$target" ${exec} K3S_TOKEN_FILE=${TOKEN_FILE} \\
        sh "$change_dir/install.sh" >>"$change_dir/apply.log" 2>&1 9>&-; then
        revert_now "the k3s installer failed; its output is in $change_dir/apply.log on the node"
    fi
    now=$(installed_version)
    [ "$now" = "$target" ] || revert_now "the installer finished but k3s reports '\${now:-nothing}', not $target"
    echo "applied: $node now runs $target"
fi`;
}

/** The generic node change for a k3s install or upgrade. */
export function k3sChangeSpec(c: K3sChange): NodeChangeSpec {
    const svc = service(c.role);
    return {
        node: c.node,
        change: "k3s",
        backupPaths: [
            "/usr/local/bin/k3s",
            "/etc/rancher/k3s/config.yaml",
            TOKEN_FILE,
            `/etc/systemd/system/${svc}.service`,
            `/etc/systemd/system/${svc}.service.env`,
        ],
        preflight: preflight(c),
        prepare: prepare(c),
        apply: apply(c),
        // A node that had no k3s before the change goes back to having none running.
        restore: [
            "systemctl daemon-reload || true",
            `if [ -e /etc/systemd/system/${svc}.service ]; then`,
            `    systemctl restart ${svc} || problem "${svc} did not start again after the restore ($(systemctl is-active ${svc}))"`,
            "else",
            `    systemctl stop ${svc} 2>/dev/null || true`,
            "fi",
        ].join("\n"),
        // The server answers for itself; agents reach it where they join.
        apiUrl: c.role === "server" ? "https://127.0.0.1:6443" : c.serverUrl,
    };
}
