import { shellQuote } from "../../platform/shell-quote";

/**
 * One change to one node, as the generic steps need it. The change-specific
 * parts are bash fragments; everything around them (the revert timer, backups,
 * failure lines) is the same for every kind of node change.
 */
export interface NodeChangeSpec {
    /** Node name, used in every message. */
    node: string;
    /** Short id of the change kind (`k3s`, `sysctl`): names its state directory and revert unit. */
    change: string;
    /** Files the change may write; the revert puts back exactly these (and removes those that did not exist). */
    backupPaths: readonly string[];
    /** Bash run after preflight's common checks; calls `fail "<reason>"` to refuse. */
    preflight: string;
    /** Bash that makes the change; idempotent; calls `fail "<reason>"` on error. */
    apply: string;
    /** Bash the revert runs after restoring the files (e.g. restart the service). */
    restore: string;
}

/** Where a change keeps its backups, logs and markers on the node. */
export const changeDir = (change: string) => `/var/lib/oceanid/changes/${change}`;
/** The transient systemd unit whose timer restores the node unless the change is confirmed. */
export const revertUnit = (change: string) => `oceanid-revert-${change}`;

/**
 * The line `apply` ends with; the gate waits for a Lease renewed after it (node
 * clock). Sub-second: a renewal by the old k3s in the same second as the change
 * must not count as the new one's.
 */
export const APPLIED_AT = "applied-at:";

/** Reads the node's clock from the apply step's output. */
export function parseAppliedAt(stdout: string): string {
    const m = new RegExp(`^${APPLIED_AT} (\\d+(?:\\.\\d+)?)$`, "m").exec(stdout);
    if (!m) throw new Error(`the apply step printed no "${APPLIED_AT} <epoch seconds>" line`);
    return m[1];
}

/** Shared head of every step: strict mode, the node's name, and `fail` printing one parseable line. */
function prelude(spec: NodeChangeSpec, step: string): string {
    return [
        "set -euo pipefail",
        `node=${shellQuote(spec.node)}`,
        `change_dir=${shellQuote(changeDir(spec.change))}`,
        ...(step === "APPLY" ? [] : [`unit=${shellQuote(revertUnit(spec.change))}`]),
        `fail() { printf '%s FAILED node=%s reason=%s\\n' ${shellQuote(step)} "$node" "$*" >&2; exit 1; }`,
    ].join("\n");
}

/** Preflight: refuses while a revert is pending, then runs the change's own checks. Changes nothing. */
export function renderPreflight(spec: NodeChangeSpec): string {
    return `${prelude(spec, "PREFLIGHT")}
if systemctl is-active --quiet "$unit.timer"; then
    fail "a revert of ${spec.change} is pending since $(cat "$change_dir/armed-at" 2>/dev/null || echo '?'); wait for it, or disarm it with: systemctl stop $unit.timer"
fi
${spec.preflight}
echo "preflight ok: $node"
`;
}

/**
 * The revert, written to the node by `arm` and run by a systemd timer: it needs
 * neither SSH nor the network, so it works when the change cut the node off.
 */
export function renderRevert(spec: NodeChangeSpec): string {
    const restoreFiles = spec.backupPaths.map((p) => `restore ${shellQuote(p)}`).join("\n");
    return `#!/bin/bash
# Restores ${spec.node}'s ${spec.change} state from before the change; run by ${revertUnit(spec.change)}.timer.
set -u
change_dir=${shellQuote(changeDir(spec.change))}
exec >>"$change_dir/revert.log" 2>&1
echo "revert started at $(date -u +%FT%TZ)"
restore() {
    if [ -e "$change_dir/backup$1" ]; then
        # Copy then rename: a running binary cannot be overwritten in place.
        cp -a "$change_dir/backup$1" "$1.oceanid-restore" && mv -f "$1.oceanid-restore" "$1"
    elif grep -qxF "$1" "$change_dir/backup/absent"; then
        rm -f "$1"
    fi
}
${restoreFiles}
${spec.restore}
date +%s >"$change_dir/reverted-at"
rm -f "$change_dir/armed-at"
echo "revert finished at $(date -u +%FT%TZ)"
`;
}

/**
 * Arm: back up what the change may touch and start a timer that runs the
 * revert in `revertAfterSeconds` (like JunOS `commit confirmed`). The timer
 * lives in systemd, so it fires even when SSH and the network are gone.
 */
export function renderArm(spec: NodeChangeSpec, revertAfterSeconds: number): string {
    const backups = spec.backupPaths.map((p) => `backup ${shellQuote(p)}`).join("\n");
    return `${prelude(spec, "ARM")}
umask 077
mkdir -p "$change_dir"
rm -rf "$change_dir/backup" "$change_dir/reverted-at" "$change_dir/confirmed-at"
mkdir -p "$change_dir/backup"
: >"$change_dir/backup/absent"
backup() {
    if [ -e "$1" ]; then
        mkdir -p "$change_dir/backup$(dirname "$1")"
        cp -a "$1" "$change_dir/backup$1"
    else
        printf '%s\\n' "$1" >>"$change_dir/backup/absent"
    fi
}
${backups}
cat >"$change_dir/revert.sh" <<'OCEANID_REVERT'
${renderRevert(spec)}OCEANID_REVERT
chmod 700 "$change_dir/revert.sh"
# RemainAfterElapse=no: once fired, the timer unloads, so the next change can arm again.
systemd-run --unit="$unit" --on-active=${revertAfterSeconds}s --timer-property=RemainAfterElapse=no --collect --quiet \\
    --description="oceanid: revert ${spec.change} on ${spec.node} unless confirmed" /bin/bash "$change_dir/revert.sh" \\
    || fail "cannot start the revert timer $unit.timer"
date +%s >"$change_dir/armed-at"
echo "armed: $node restores its ${spec.change} state in ${revertAfterSeconds}s unless the change is confirmed"
`;
}

/** Apply: the change itself, then the node's clock for the gate. */
export function renderApply(spec: NodeChangeSpec): string {
    return `${prelude(spec, "APPLY")}
umask 077
${spec.apply}
echo "${APPLIED_AT} $(date +%s.%N)"
`;
}

/** Confirm: disarm the revert; fails if the revert has already run, since then the change did not stick. */
export function renderConfirm(spec: NodeChangeSpec): string {
    return `${prelude(spec, "CONFIRM")}
reverted() {
    if [ -e "$change_dir/reverted-at" ]; then
        fail "the revert already ran at $(cat "$change_dir/reverted-at"): the change did not stick; see $change_dir/revert.log on the node"
    fi
}
reverted
systemctl stop "$unit.timer" 2>/dev/null || true
reverted
rm -f "$change_dir/armed-at"
date +%s >"$change_dir/confirmed-at"
echo "confirmed: ${spec.change} on $node; revert disarmed"
`;
}
