import { outOfBandNotice, PREVIOUS, type NodeChangeSpec } from "./node-change-scripts";
import { shellQuote } from "../../platform/shell-quote";

/** A Tailscale release in Tailscale's static layout (`tailscale_<v>_amd64.tgz`), pinned by checksum. */
export interface TailscaleRelease {
    version: string;
    url: string;
    sha256: string;
}

/**
 * Host Tailscale on one node, as one node change. Plain data: the auth key reaches the node on stdin.
 * The exit node sets `advertiseExitNode`; `useExitNode` is what the incident did to the workers, and
 * what config refuses on every cluster node (see `hostTailscaleProblems` in the stack config): only
 * the incident's replay sets it, as a mistake elsewhere would.
 */
export interface HostTailscaleChange {
    node: string;
    release: TailscaleRelease;
    /** `--login-server`; Tailscale's own when absent. */
    loginServer?: string;
    /** `--hostname`: the machine's name in the tailnet. */
    hostname: string;
    advertiseExitNode: boolean;
    /** `--advertise-tags`. */
    tags: readonly string[];
    /** `--netfilter-mode`. */
    netfilterMode: "on" | "nodivert" | "off";
    /** Tailscale's log upload; off writes `TS_NO_LOGS_NO_SUPPORT=true`. */
    uploadLogs: boolean;
    /** `--exit-node` (and `--exit-node-allow-lan-access`): the host's own traffic into the tailnet. */
    useExitNode?: { address: string; allowLanAccess: boolean };
    /** scripts/recovery/remove-tailscale-leftovers, run by the revert where Tailscale was not running before. */
    leftoversScript: string;
    minFreeDiskMiB: number;
    outOfBand: { how: string } | { unsafeNoOutOfBandBecause: string };
    /** The API server the node reports its change's state to. */
    apiUrl: string;
}

export const TAILSCALED = "/usr/sbin/tailscaled";
export const TAILSCALE_CLI = "/usr/bin/tailscale";
export const TAILSCALE_STATE_DIR = "/var/lib/tailscale";
export const FORWARDING_SYSCTL = "/etc/sysctl.d/99-oceanid-exit-node.conf";
/** The transient unit that runs `tailscale up` once apply has answered. */
export const UP_UNIT = "oceanid-tailscale-up";
/** Seconds between apply's answer and `tailscale up`: a change that cuts the node off must not cut apply's own answer. */
export const UP_DELAY_SECONDS = 2;

/** `tailscale up`'s flags, every pref named (`--reset`): what is not here goes back to its default. */
export function upFlags(c: HostTailscaleChange): string[] {
    const flags = [
        "--reset",
        `--hostname=${c.hostname}`,
        `--netfilter-mode=${c.netfilterMode}`,
        "--accept-routes=false",
        "--accept-dns=false",
        "--timeout=60s",
    ];
    if (c.loginServer !== undefined) flags.push(`--login-server=${c.loginServer}`);
    if (c.advertiseExitNode) flags.push("--advertise-exit-node");
    if (c.tags.length > 0) flags.push(`--advertise-tags=${c.tags.join(",")}`);
    if (c.useExitNode !== undefined) {
        flags.push(`--exit-node=${c.useExitNode.address}`);
        if (c.useExitNode.allowLanAccess) flags.push("--exit-node-allow-lan-access");
    }
    return flags;
}

function preflight(c: HostTailscaleChange): string {
    const oob = outOfBandNotice(c.node, c.outOfBand);
    return `${oob}
free_disk=$(df -Pm / | awk 'NR==2 {print $4}')
((free_disk >= ${c.minFreeDiskMiB})) || fail "only \${free_disk} MiB free on /; the change needs ${c.minFreeDiskMiB} MiB (nodeChanges.minFreeDiskMiB)"
[ -c /dev/net/tun ] || fail "/dev/net/tun is missing: kernel-mode tailscaled needs the tun device"
${
    c.netfilterMode === "off"
        ? ""
        : `command -v iptables >/dev/null || fail "iptables is not installed: tailscaled's netfilter mode ${c.netfilterMode} needs it"
`
}installed=""
if [ -x ${TAILSCALED} ]; then installed=$(${TAILSCALED} --version 2>/dev/null | awk 'NR==1 {print $1}'); fi
echo "tailscale installed: \${installed:-none}, target: ${c.release.version}"`;
}

/** Reads the auth key from stdin (the only way it reaches the node). */
function prepare(c: HostTailscaleChange): string {
    return `target=${shellQuote(c.release.version)}
release_url=${shellQuote(c.release.url)}
release_sha256=${shellQuote(c.release.sha256)}
IFS= read -r auth_key || true
[ -n "$auth_key" ] || fail "no Tailscale auth key on stdin: set the stack's exitNodeAuthKey secret"`;
}

function apply(c: HostTailscaleChange): string {
    const defaults = ['PORT="41641"', 'FLAGS=""', ...(c.uploadLogs ? [] : ["TS_NO_LOGS_NO_SUPPORT=true"])].join("\n");
    const up = ["tailscale", "up", ...upFlags(c)].map(shellQuote).join(" ");
    const forwarding = c.advertiseExitNode
        ? `cat >${FORWARDING_SYSCTL} <<'OCEANID_SYSCTL'
# An exit node forwards its peers' traffic (oceanid's tailscale node change).
net.ipv4.ip_forward = 1
net.ipv6.conf.all.forwarding = 1
OCEANID_SYSCTL
chmod 644 ${FORWARDING_SYSCTL}
sysctl -q -p ${FORWARDING_SYSCTL} >>"$change_dir/apply.log" 2>&1 || revert_now "the kernel refused IP forwarding (${FORWARDING_SYSCTL})"`
        : `rm -f ${FORWARDING_SYSCTL}`;
    return `installed() { if [ -x ${TAILSCALED} ]; then ${TAILSCALED} --version 2>/dev/null | awk 'NR==1 {print $1}'; fi; }
previous=$(installed)
echo "${PREVIOUS} \${previous:-none}"
# What the files do not hold: the revert puts these back too.
{
    echo "ip_forward=$(sysctl -n net.ipv4.ip_forward)"
    echo "forwarding6=$(sysctl -n net.ipv6.conf.all.forwarding 2>/dev/null || true)"
    echo "enabled=$(systemctl is-enabled tailscaled 2>/dev/null || true)"
    echo "state_dir=$([ -e ${TAILSCALE_STATE_DIR} ] && echo present || echo absent)"
} >"$change_dir/before"
cat >"$change_dir/remove-tailscale-leftovers" <<'OCEANID_LEFTOVERS'
${c.leftoversScript.trimEnd()}
OCEANID_LEFTOVERS
chmod 700 "$change_dir/remove-tailscale-leftovers"
if [ "$previous" != "$target" ]; then
    curl -fsSL --max-time 120 "$release_url" -o "$change_dir/tailscale.tgz" 2>"$change_dir/apply.log" 9>&- \\
        || revert_now "cannot fetch Tailscale $target from $release_url"
    got=$(sha256sum "$change_dir/tailscale.tgz" | cut -d' ' -f1)
    [ "$got" = "$release_sha256" ] || revert_now "the Tailscale release from $release_url has sha256 $got, not the pinned $release_sha256"
    rm -rf "$change_dir/release" && mkdir -p "$change_dir/release"
    tar -xzf "$change_dir/tailscale.tgz" -C "$change_dir/release" --strip-components=1 2>>"$change_dir/apply.log" \\
        || revert_now "the Tailscale release from $release_url is not a tgz in Tailscale's static layout"
    for f in tailscaled tailscale systemd/tailscaled.service; do
        [ -f "$change_dir/release/$f" ] || revert_now "the Tailscale release has no $f (Tailscale's static layout: tailscale_<version>_amd64/$f)"
    done
    # Copy then rename: a running binary cannot be overwritten in place.
    install -m 755 "$change_dir/release/tailscaled" ${TAILSCALED}.oceanid-new && mv -f ${TAILSCALED}.oceanid-new ${TAILSCALED}
    install -m 755 "$change_dir/release/tailscale" ${TAILSCALE_CLI}.oceanid-new && mv -f ${TAILSCALE_CLI}.oceanid-new ${TAILSCALE_CLI}
    install -m 644 "$change_dir/release/systemd/tailscaled.service" /etc/systemd/system/tailscaled.service
    rm -rf "$change_dir/release" "$change_dir/tailscale.tgz"
    [ "$(installed)" = "$target" ] || revert_now "tailscaled reports '$(installed)' after the install, not $target"
fi
cat >/etc/default/tailscaled <<'OCEANID_DEFAULTS'
# Written by oceanid's tailscale node change.
${defaults}
OCEANID_DEFAULTS
${forwarding}
systemctl daemon-reload
systemctl enable --quiet tailscaled
systemctl restart tailscaled || revert_now "tailscaled did not start ($(systemctl is-active tailscaled)); see journalctl -u tailscaled"
for _ in $(seq 50); do [ -S /run/tailscale/tailscaled.sock ] && break; sleep 0.2; done
[ -S /run/tailscale/tailscaled.sock ] || revert_now "tailscaled started but opened no socket at /run/tailscale/tailscaled.sock"
# The key goes to tailscale up as a root-only file, never as an argument; up removes it.
(umask 077 && printf '%s\\n' "$auth_key" >"$change_dir/authkey")
cat >"$change_dir/up.sh" <<OCEANID_UP
#!/bin/bash
${up} --auth-key=file:$change_dir/authkey >>$change_dir/up.log 2>&1
rc=\\$?
rm -f $change_dir/authkey
echo "\\$(date -u +%FT%TZ) tailscale up exited \\$rc" >>$change_dir/up.log
exit \\$rc
OCEANID_UP
chmod 700 "$change_dir/up.sh"
systemctl stop ${UP_UNIT}.timer ${UP_UNIT}.service >/dev/null 2>&1 || true
systemctl reset-failed ${UP_UNIT}.service >/dev/null 2>&1 || true
# After apply has answered: a change that cuts the node off still lets apply report, and the gate judge.
systemd-run --quiet --unit=${UP_UNIT} --on-active=${UP_DELAY_SECONDS} --timer-property=AccuracySec=100ms /bin/bash "$change_dir/up.sh" \\
    || revert_now "systemd would not schedule tailscale up"
echo "applied: $node runs tailscale $target; tailscale up ${upFlags(c).join(" ")} in ${UP_DELAY_SECONDS}s"`;
}

/** Stops what the change started before any file goes back. */
const BEFORE_RESTORE = `systemctl stop ${UP_UNIT}.timer ${UP_UNIT}.service >/dev/null 2>&1 || true
rm -f "$change_dir/authkey"
systemctl disable --now tailscaled >/dev/null 2>&1 || true`;

/** After the files: Tailscale as it was (running again, or gone with everything it left), and forwarding as it was. */
const RESTORE = `before_ip_forward="" before_forwarding6="" before_enabled="" before_state_dir=""
if [ -r "$change_dir/before" ]; then
    while IFS='=' read -r k v; do
        case $k in
            ip_forward) before_ip_forward=$v ;;
            forwarding6) before_forwarding6=$v ;;
            enabled) before_enabled=$v ;;
            state_dir) before_state_dir=$v ;;
        esac
    done <"$change_dir/before"
fi
systemctl daemon-reload || true
if [ "$before_enabled" = enabled ] && [ -x ${TAILSCALED} ]; then
    systemctl enable --quiet tailscaled || true
    systemctl restart tailscaled || problem "tailscaled did not start again after the restore ($(systemctl is-active tailscaled))"
elif [ -x "$change_dir/remove-tailscale-leftovers" ]; then
    leftovers=(--force --no-state)
    [ "$before_state_dir" = absent ] && leftovers=(--force --state-dir ${TAILSCALE_STATE_DIR})
    "$change_dir/remove-tailscale-leftovers" "\${leftovers[@]}" || problem "Tailscale's leftovers could not all be removed (see $change_dir/revert.log)"
fi
[ -z "$before_ip_forward" ] || sysctl -q -w net.ipv4.ip_forward="$before_ip_forward" || problem "cannot set net.ipv4.ip_forward back to $before_ip_forward"
[ -z "$before_forwarding6" ] || sysctl -q -w net.ipv6.conf.all.forwarding="$before_forwarding6" || problem "cannot set net.ipv6.conf.all.forwarding back to $before_forwarding6"`;

/** The generic node change for host Tailscale (the exit node). */
export function hostTailscaleSpec(c: HostTailscaleChange): NodeChangeSpec {
    return {
        node: c.node,
        change: "tailscale",
        backupPaths: [
            TAILSCALED,
            TAILSCALE_CLI,
            "/etc/systemd/system/tailscaled.service",
            "/etc/default/tailscaled",
            FORWARDING_SYSCTL,
            `${TAILSCALE_STATE_DIR}/tailscaled.state`,
        ],
        preflight: preflight(c),
        prepare: prepare(c),
        apply: apply(c),
        beforeRestore: BEFORE_RESTORE,
        restore: RESTORE,
        apiUrl: c.apiUrl,
    };
}
