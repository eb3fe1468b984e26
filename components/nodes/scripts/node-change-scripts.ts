import { shellQuote } from "../../platform/shell-quote";

/**
 * One change to one node, as the generic steps need it. The change-specific
 * parts are bash fragments; everything around them (the durable revert, the
 * change's state, backups, failure lines) is the same for every kind of node change.
 */
export interface NodeChangeSpec {
    /** Node name (the Kubernetes node name), used in every message. */
    node: string;
    /** Short id of the change kind (`k3s`, `sysctl`): names its state directory and revert units. */
    change: string;
    /** Files the change may write; the revert puts back exactly these (and removes those that did not exist). */
    backupPaths: readonly string[];
    /** Bash run after preflight's common checks; calls `fail "<reason>"` to refuse. */
    preflight: string;
    /** Bash run before arming (read stdin, check inputs); changes nothing; calls `fail "<reason>"` to refuse. */
    prepare: string;
    /** Bash that makes the change, once armed; idempotent; calls `revert_now "<reason>"` on error (reverted at once). */
    apply: string;
    /** Bash the revert runs before restoring any file: stops what the change started, so nothing rewrites the files behind it. @default nothing */
    beforeRestore?: string;
    /** Bash the revert runs after restoring every file (e.g. restart the service); calls `problem "<reason>"` when it cannot. */
    restore: string;
    /** The API server the node reports its change state to (a Node condition, with the node's own kubelet identity). */
    apiUrl: string;
}

/** Preflight's line on how to reach the node without SSH, or its warning that there is no such way. */
export function outOfBandNotice(node: string, outOfBand: { how: string } | { unsafeNoOutOfBandBecause: string }): string {
    return "how" in outOfBand
        ? `echo ${shellQuote(`out-of-band access to ${node}: ${outOfBand.how}`)}`
        : `echo ${shellQuote(`WARNING: ${node} has no out-of-band access; changed anyway because: ${outOfBand.unsafeNoOutOfBandBecause}`)} >&2`;
}

/** Where a change keeps its state, backups and logs on the node. */
export const changeDir = (change: string) => `/var/lib/oceanid/changes/${change}`;
/** The systemd units (`.service` runs the revert, `.timer` holds the deadline) of a change's revert. */
export const revertUnit = (change: string) => `oceanid-revert-${change}`;
/** The Node condition each node change reports its state in (see docs/node-changes.md). */
export const NODE_CHANGE_CONDITION = "OceanidNodeChange";

/**
 * The line `apply` ends with; the gate waits for a Lease renewed after it (node
 * clock). Sub-second: a renewal by the old k3s in the same second as the change
 * must not count as the new one's.
 */
export const APPLIED_AT = "applied-at:";
/** The line apply prints once the revert is armed: `armed: change=<id> reverts at <UTC> unless confirmed`. */
export const ARMED = "armed: change=";
/** The line apply prints before it changes anything: `previous: <what ran before, or none>`. */
export const PREVIOUS = "previous:";

/** Reads the node's clock from the apply step's output. */
export function parseAppliedAt(stdout: string): string {
    const m = new RegExp(`^${APPLIED_AT} (\\d+(?:\\.\\d+)?)$`, "m").exec(stdout);
    if (!m) throw new Error(`the apply step printed no "${APPLIED_AT} <epoch seconds>" line`);
    return m[1];
}

/** Reads the id of the change apply armed. */
export function parseChangeId(stdout: string): string {
    const m = new RegExp(`^${ARMED}(\\S+) `, "m").exec(stdout);
    if (!m) throw new Error(`the apply step printed no "${ARMED}<id> ..." line`);
    return m[1];
}

/** Reads what the node ran before the change (`none` when nothing). */
export function parsePrevious(stdout: string): string {
    const m = new RegExp(`^${PREVIOUS} (\\S+)$`, "m").exec(stdout);
    if (!m) throw new Error(`the apply step printed no "${PREVIOUS} <version>" line`);
    return m[1];
}

/**
 * The change's state, kept in one file replaced atomically and synced, so a power loss leaves the
 * old or the new state, never half of one. Lines: state, id, armed-at, deadline (epoch seconds),
 * when the state was entered, and a reason. States: armed → confirmed, or armed → reverting →
 * reverted | revert-failed. Armed, reverting and revert-failed are unresolved.
 */
function stateLib(spec: NodeChangeSpec): string {
    return `state_file="$change_dir/state"
read_state() {
    state="" id="" armed_at="" deadline="" at="" reason=""
    if [ -s "$state_file" ]; then
        { IFS= read -r state; IFS= read -r id; IFS= read -r armed_at; IFS= read -r deadline; IFS= read -r at; IFS= read -r reason; } <"$state_file" || true
    fi
}
write_state() {
    state=$1 reason=\${2:-} at=$(date +%s)
    printf '%s\\n' "$state" "$id" "$armed_at" "$deadline" "$at" "$reason" >"$state_file.new"
    sync "$state_file.new"
    mv -f "$state_file.new" "$state_file"
    sync "$change_dir"
    printf '%s %s %s %s\\n' "$at" "$state" "$id" "$reason" >>"$change_dir/history"
}
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# Why the node cannot take a new change, and the way out; nothing (status 1) when it can.
unresolved() {
    local now
    now=$(date +%s)
    case $state in
        armed)
            if ((now < deadline)); then
                echo "the ${spec.change} change $id armed at $(utc "$armed_at") is neither confirmed nor reverted: it reverts at $(utc "$deadline") (in $((deadline - now))s); wait for that, or revert it now with: sudo $change_dir/revert.sh --now"
            else
                echo "the ${spec.change} change $id armed at $(utc "$armed_at") is neither confirmed nor reverted, and its revert was due at $(utc "$deadline"): revert it now with: sudo $change_dir/revert.sh --now"
            fi ;;
        reverting) echo "the revert of the ${spec.change} change $id is running since $(utc "$at"); wait for it (journalctl -u $unit.service)" ;;
        revert-failed) echo "the revert of the ${spec.change} change $id failed at $(utc "$at"): $reason; the node may still run the change: put it right by hand (docs/runbooks/node-changes.md), then record that with: sudo $change_dir/revert.sh --resolved" ;;
        *) return 1 ;;
    esac
}
# The state as the Node condition ${NODE_CHANGE_CONDITION}, with the node's own kubelet identity
# (the API server's NodeRestriction lets a node write its own status). Best effort: a node cut
# off cannot report, and preflight reads the state file anyway.
report_state() {
    local status=True kind message creds=/var/lib/rancher/k3s/agent now try tries
    case $state in
        armed) kind=Armed message="${spec.change} change $id armed at $(utc "$armed_at"); reverts at $(utc "$deadline") unless confirmed" ;;
        reverting) kind=Reverting message="${spec.change} change $id: revert started at $(utc "$at")" ;;
        revert-failed) kind=RevertFailed message="${spec.change} change $id: revert failed at $(utc "$at"): $reason" ;;
        reverted) status=False kind=Reverted message="${spec.change} change $id: reverted at $(utc "$at")" ;;
        confirmed) status=False kind=Confirmed message="${spec.change} change $id: confirmed at $(utc "$at")" ;;
        *) return 0 ;;
    esac
    [ -r "$creds/client-kubelet.crt" ] && [ -r "$creds/client-kubelet.key" ] && [ -r "$creds/server-ca.crt" ] || return 0
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    message=\${message//[\\"\\\\]/}
    tries=\${report_tries:-1}
    for try in $tries; do
        if curl -fsS -o /dev/null --max-time 3 --cacert "$creds/server-ca.crt" --cert "$creds/client-kubelet.crt" --key "$creds/client-kubelet.key" \\
            -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' \\
            --data "{\\"status\\":{\\"conditions\\":[{\\"type\\":\\"${NODE_CHANGE_CONDITION}\\",\\"status\\":\\"$status\\",\\"reason\\":\\"$kind\\",\\"message\\":\\"$message\\",\\"lastHeartbeatTime\\":\\"$now\\",\\"lastTransitionTime\\":\\"$now\\"}]}}" \\
            ${shellQuote(`${spec.apiUrl}/api/v1/nodes/${spec.node}/status`)} 2>/dev/null; then
            return 0
        fi
        [ "$try" = "\${tries##* }" ] || sleep 2
    done
    echo "could not report the change's state ($kind) to the API server" >&2
}
disarm() {
    systemctl disable --now "$unit.timer" >/dev/null 2>&1 || true
    systemctl disable "$unit.service" >/dev/null 2>&1 || true
    rm -f "/etc/systemd/system/$unit.timer" "/etc/systemd/system/$unit.service"
    systemctl daemon-reload || true
}`;
}

/** Shared head of every step: strict mode, the node's name, and `fail` printing one parseable line. */
function prelude(spec: NodeChangeSpec, step: string): string {
    return [
        "set -euo pipefail",
        `node=${shellQuote(spec.node)}`,
        `change_dir=${shellQuote(changeDir(spec.change))}`,
        `unit=${shellQuote(revertUnit(spec.change))}`,
        `fail() { printf '%s FAILED node=%s reason=%s\\n' ${shellQuote(step)} "$node" "$*" >&2; exit 1; }`,
        stateLib(spec),
    ].join("\n");
}

/** KiB the backups of the change's files take, and KiB free where they go. */
function backupSpace(spec: NodeChangeSpec): string {
    const paths = spec.backupPaths.map(shellQuote).join(" ");
    return `mkdir -p "$change_dir"
backup_need_kib=0
for p in ${paths}; do
    if [ -e "$p" ]; then backup_need_kib=$((backup_need_kib + $(du -sk -- "$p" | cut -f1))); fi
done
backup_free_kib=$(df -Pk "$change_dir" | awk 'NR==2 {print $4}')
if ((backup_free_kib < backup_need_kib + 1024)); then
    fail "only $((backup_free_kib / 1024)) MiB free under $change_dir for the backup; it needs $((backup_need_kib / 1024 + 1)) MiB: free space on that filesystem"
fi`;
}

/** Preflight: refuses a node with an unresolved change, then runs the change's own checks. Changes nothing. */
export function renderPreflight(spec: NodeChangeSpec): string {
    return `${prelude(spec, "PREFLIGHT")}
read_state
if why=$(unresolved); then fail "$why"; fi
${backupSpace(spec)}
${spec.preflight}
echo "preflight ok: $node"
`;
}

/**
 * The revert, written to the node by apply and run by systemd: at its deadline (the timer), at
 * every boot while the change is unresolved (the service is enabled), or by hand with --now. It
 * needs neither SSH nor the network, so it works when the change cut the node off, and the lock
 * orders it against confirm: whichever takes it first wins.
 */
export function renderRevert(spec: NodeChangeSpec): string {
    const restoreFiles = spec.backupPaths.map((p) => `restore ${shellQuote(p)}`).join("\n");
    return `#!/bin/bash
# Restores ${spec.node}'s ${spec.change} state from before the change; run by ${revertUnit(spec.change)}.service
# (its timer holds the deadline; the service also runs at every boot), or by hand with --now.
set -u
change_dir=${shellQuote(changeDir(spec.change))}
unit=${shellQuote(revertUnit(spec.change))}
${stateLib(spec)}
# Run by hand (--now, --resolved), it also says what it does; run by systemd, the log is enough.
if [ $# -gt 0 ]; then exec > >(tee -a "$change_dir/revert.log") 2>&1; else exec >>"$change_dir/revert.log" 2>&1; fi
exec 9>"$change_dir/lock"
if ! flock -w 600 9; then echo "$(date -u +%FT%TZ) cannot take $change_dir/lock"; exit 1; fi
read_state
# --resolved: an operator put the node right by hand after a failed revert (docs/runbooks/node-changes.md).
if [ "\${1:-}" = --resolved ]; then
    case $state in
        armed | reverting | revert-failed)
            write_state reverted "resolved by hand"
            disarm
            report_state
            echo "$(date -u +%FT%TZ) the ${spec.change} change $id was resolved by hand"
            exit 0 ;;
        *) echo "$(date -u +%FT%TZ) nothing to resolve: the ${spec.change} change \${id:-(none)} is \${state:-not armed}"; exit 0 ;;
    esac
fi
case $state in
    confirmed | reverted | "")
        echo "$(date -u +%FT%TZ) nothing to revert: the ${spec.change} change \${id:-(none)} is \${state:-not armed}"
        disarm
        exit 0 ;;
    armed)
        if [ "\${1:-}" != --now ] && (($(date +%s) < deadline)); then
            echo "$(date -u +%FT%TZ) the ${spec.change} change $id is not due until $(utc "$deadline")"
            exit 0
        fi ;;
    reverting) echo "$(date -u +%FT%TZ) the revert of $id was interrupted (power loss?): starting it again" ;;
    revert-failed)
        if [ "\${1:-}" != --now ]; then
            echo "$(date -u +%FT%TZ) the revert of $id failed before ($reason): retry by hand with revert.sh --now"
            exit 1
        fi ;;
esac
echo "revert of ${spec.change} change $id started at $(date -u +%FT%TZ)"
write_state reverting
# Best effort and out of the way: a node the change cut off would wait out the report's timeout
# before restoring anything. Waited for before the final report, so it never lands after it.
report_state &
reporting=$!
problems=()
problem() { problems+=("$*"); echo "problem: $*"; }
restore() {
    local p=$1 b="$change_dir/backup$1" want got
    if grep -qxF -- "$p" "$change_dir/backup/absent" 2>/dev/null; then
        rm -f -- "$p" || problem "cannot remove $p"
        return
    fi
    if [ ! -e "$b" ]; then
        problem "the backup of $p is missing"
        return
    fi
    want=$(awk -v p="$p" '$2 == p {print $1}' "$change_dir/backup/manifest" 2>/dev/null)
    got=$(sha256sum <"$b" 2>/dev/null | cut -d' ' -f1)
    if [ -z "$want" ] || [ "$got" != "$want" ]; then
        problem "the backup of $p is unreadable or damaged"
        return
    fi
    mkdir -p "$(dirname "$p")"
    # Copy then rename: a running binary cannot be overwritten in place.
    if ! { cp -a "$b" "$p.oceanid-restore" && mv -f "$p.oceanid-restore" "$p"; }; then problem "cannot restore $p"; fi
}
${spec.beforeRestore === undefined ? "" : `${spec.beforeRestore}\n`}${restoreFiles}
# Only a complete set of files is started again: half of the old state is not the old state.
if [ \${#problems[@]} -eq 0 ]; then
${spec.restore
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")}
fi
wait "$reporting" || true
# The final state is worth a few tries: the restarted k3s (the API, on a server) may take a moment.
report_tries="1 2 3"
if [ \${#problems[@]} -gt 0 ]; then
    # The log's last line first: whoever sees the state sees the whole log.
    echo "revert failed at $(date -u +%FT%TZ): $(IFS=';'; echo "\${problems[*]}")"
    write_state revert-failed "$(IFS=';'; echo "\${problems[*]}")"
    report_state
    exit 1
fi
write_state reverted
disarm
echo "revert finished at $(date -u +%FT%TZ)"
report_state
`;
}

/** The revert's systemd units: the service (also run at boot) and the timer that holds the deadline. */
export function renderRevertUnits(spec: NodeChangeSpec): { service: string; timer: string } {
    return {
        service: `[Unit]
Description=oceanid: revert the ${spec.change} change on ${spec.node} unless it is confirmed
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/bin/bash ${changeDir(spec.change)}/revert.sh
TimeoutStartSec=15min

[Install]
WantedBy=multi-user.target
`,
        timer: `[Unit]
Description=oceanid: deadline of the ${spec.change} change on ${spec.node}

[Timer]
OnCalendar=@DEADLINE@
AccuracySec=1s
Unit=${revertUnit(spec.change)}.service

[Install]
WantedBy=timers.target
`,
    };
}

/**
 * Apply: arm the revert, then make the change, in one step, so the engine can never keep an
 * arm from an earlier run and apply without one. Arming refuses a node with an unresolved
 * change (its backup is the way back: never overwritten), backs up what the change may touch
 * (checked for space first, complete or not at all), writes the revert and its units (persistent:
 * they survive a reboot or a power loss, and a node that boots after the deadline reverts at
 * boot), and records the change as armed. A failed change is reverted at once.
 */
export function renderApply(spec: NodeChangeSpec, revertAfterSeconds: number): string {
    const backups = spec.backupPaths.map((p) => `backup ${shellQuote(p)}`).join("\n");
    const units = renderRevertUnits(spec);
    return `${prelude(spec, "APPLY")}
umask 077
mkdir -p "$change_dir"
${spec.prepare}
exec 9>"$change_dir/lock"
flock -w 60 9 || fail "$change_dir/lock is held by another step or a revert; wait and run again"
read_state
if why=$(unresolved); then fail "$why"; fi
${backupSpace(spec)}

# --- arm ---
rm -rf "$change_dir/backup.new"
mkdir -p "$change_dir/backup.new"
: >"$change_dir/backup.new/absent"
: >"$change_dir/backup.new/manifest"
backup() {
    local dest="$change_dir/backup.new$1" err
    if [ ! -e "$1" ]; then
        printf '%s\\n' "$1" >>"$change_dir/backup.new/absent"
        return
    fi
    mkdir -p "$(dirname "$dest")"
    if ! err=$(cp -a "$1" "$dest" 2>&1) || ! printf '%s %s\\n' "$(sha256sum <"$dest" | cut -d' ' -f1)" "$1" >>"$change_dir/backup.new/manifest" 2>/dev/null; then
        rm -rf "$change_dir/backup.new"
        case $err in
            *"No space left"*) fail "no space left under $change_dir while backing up $1: free space on that filesystem" ;;
            *) fail "cannot back up $1 into $change_dir: \${err##*: }" ;;
        esac
    fi
}
${backups}
sync "$change_dir/backup.new"
rm -rf "$change_dir/backup"
mv "$change_dir/backup.new" "$change_dir/backup"
cat >"$change_dir/revert.sh" <<'OCEANID_REVERT'
${renderRevert(spec)}OCEANID_REVERT
chmod 700 "$change_dir/revert.sh"
id="$(date -u +%Y%m%dT%H%M%SZ)-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \\n')"
armed_at=$(date +%s)
deadline=$((armed_at + ${revertAfterSeconds}))
# The units first, the state last: a power loss in between leaves units the revert disarms at boot.
cat >"/etc/systemd/system/$unit.service" <<'OCEANID_UNIT'
${units.service}OCEANID_UNIT
sed "s/@DEADLINE@/$(date -u -d "@$deadline" '+%Y-%m-%d %H:%M:%S UTC')/" >"/etc/systemd/system/$unit.timer" <<'OCEANID_UNIT'
${units.timer}OCEANID_UNIT
chmod 644 "/etc/systemd/system/$unit.service" "/etc/systemd/system/$unit.timer"
if ! { systemctl daemon-reload && systemctl enable --quiet "$unit.service" "$unit.timer" && systemctl restart "$unit.timer"; } >"$change_dir/arm.log" 2>&1 \\
    || [ -z "$(systemctl show -p NextElapseUSecRealtime --value "$unit.timer" 2>/dev/null)" ]; then
    disarm
    fail "systemd would not start $unit.timer (see $change_dir/arm.log on the node)"
fi
write_state armed
report_state
echo "${ARMED}$id reverts at $(utc "$deadline") unless confirmed"

# --- apply ---
# A change that fails is reverted now, not at the deadline.
revert_now() {
    exec 9>&-
    if bash "$change_dir/revert.sh" --now; then
        fail "$1; reverted: $node is back to its state before the change"
    fi
    fail "$1; the revert failed too: see $change_dir/revert.log on the node"
}
${spec.apply}
echo "${APPLIED_AT} $(date +%s.%N)"
`;
}

/**
 * Confirm: under the lock, only the change this run armed, still armed, becomes confirmed; a
 * revert that started first wins, and the line says how to run the change again.
 */
export function renderConfirm(spec: NodeChangeSpec, changeId: string, rerun: string): string {
    return `${prelude(spec, "CONFIRM")}
expected=${shellQuote(changeId)}
rerun=${shellQuote(rerun)}
reverted() {
    if [ "$state" = reverting ]; then
        fail "the revert of the ${spec.change} change $id started at $(utc "$at"), before it was confirmed: $node is going back to its state before the change (see $change_dir/revert.log); to run the change again: $rerun"
    fi
    fail "the ${spec.change} change $id was reverted at $(utc "$at"), before it was confirmed: $node is back to its state before the change (see $change_dir/revert.log); to run the change again: $rerun"
}
exec 9>"$change_dir/lock"
if ! flock -w 5 9; then
    # Held past apply: the revert, which keeps it until it is over. It has won; say so now.
    read_state
    case $state in
        reverting | reverted) reverted ;;
        *) fail "$change_dir/lock is held, and the ${spec.change} change is $state: run again in a moment (see $change_dir/revert.log on the node)" ;;
    esac
fi
read_state
if [ "$state" = confirmed ] && [ "$id" = "$expected" ]; then
    echo "confirmed: ${spec.change} change $id on $node (already); revert disarmed"
    exit 0
fi
case $state in
    armed)
        [ "$id" = "$expected" ] || fail "the armed ${spec.change} change is $id, not this run's $expected: another run armed it; let it finish"
        write_state confirmed
        disarm
        report_state
        echo "confirmed: ${spec.change} change $id on $node; revert disarmed" ;;
    reverting | reverted) reverted ;;
    revert-failed)
        fail "the revert of the ${spec.change} change $id started before it was confirmed, and failed: $reason; see docs/runbooks/node-changes.md" ;;
    *) fail "no ${spec.change} change is armed on $node (expected $expected)" ;;
esac
`;
}
