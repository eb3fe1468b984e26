# shellcheck shell=bash disable=SC2154  # dir, RUN, LOGS, lifetime, owner: set by the sourcing script
# Throwaway servers for the tests that stop by themselves (scripts/test-cluster,
# scripts/test-s3): each process runs detached in a session of its own under a
# `timeout`, and a reaper stops everything once the owner process is gone. So a
# test run killed with SIGKILL leaves nothing running past its owner.
#
# Source it; the sourcing script sets dir (its directory; every command line of
# ours names it), RUN (pid files), LOGS, lifetime (seconds), owner (a pid), and
# defines die MESSAGE (prints it, exits 1) and stop_all (stops everything, used
# by the reaper).

# pid_of NAME: the recorded pid when that process still runs and belongs to DIR.
pid_of() {
    local f=$RUN/$1.pid pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    # A recycled pid is not ours: our command lines all name DIR.
    2>/dev/null tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir" || return 1
    echo "$pid"
}

# any_alive PGID...: true while one of these process groups has a process left.
any_alive() {
    local pid
    for pid in "$@"; do
        kill -0 -- "-$pid" 2>/dev/null && return 0
    done
    return 1
}

# stop_groups NAME...: TERM their process groups together, KILL what is left
# after 5 s.
stop_groups() {
    local name pid pids=() i
    for name in "$@"; do
        pid=$(pid_of "$name") && pids+=("$pid")
    done
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for ((i = 0; i < 50; i++)); do
        any_alive "${pids[@]}" || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    for name in "$@"; do rm -f "$RUN/$name.pid"; done
}

# launch NAME CMD...: starts CMD detached, its output in logs/NAME.log.
launch() {
    local name=$1; shift
    setsid timeout -s KILL "$((lifetime + 30))" "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
    echo "$!" >"$RUN/$name.pid"
    started+=("$name")
}

# launch_reaper SCRIPT: the safety net, `SCRIPT reap --dir DIR --owner OWNER
# --lifetime LIFETIME`; start it first, so a failing start leaves nothing behind.
launch_reaper() {
    setsid timeout -s KILL "$((lifetime + 60))" bash "$1" reap --dir "$dir" --owner "$owner" --lifetime "$lifetime" \
        </dev/null >"$LOGS/reaper.log" 2>&1 &
    echo "$!" >"$RUN/reaper.pid"
}

# reap: waits for the owner to go or the lifetime to end, then stop_all.
reap() {
    local end=$((SECONDS + lifetime))
    while kill -0 "$owner" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
        sleep 1
    done
    echo "reaper: owner $owner gone or lifetime ${lifetime}s over; stopping what runs in $dir"
    stop_all
    rm -f "$RUN/reaper.pid"
}

# check_running NAME...: each one runs, or die with the end of its log.
check_running() {
    local c
    for c in "$@"; do
        pid_of "$c" >/dev/null && continue
        tail -n 15 "$LOGS/$c.log" >&2 || true
        die "$c stopped during start (log: $LOGS/$c.log)"
    done
}

# free_port: a port nothing listens on, none of $taken (the caller adds it there).
free_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        # Below the kernel's ephemeral range, so no outgoing connection holds it.
        p=$((20000 + RANDOM % 12000))
        case " ${taken:-} " in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found on 127.0.0.1"
}

# wait_for WHAT SECONDS CMD...: polls CMD until it succeeds; stops early with a
# component's log when one of those started so far is gone.
wait_for() {
    local what=$1 limit=$2 t0=$SECONDS; shift 2
    until "$@" >/dev/null 2>&1; do
        check_running "${started[@]}"
        [ $((SECONDS - t0)) -lt "$limit" ] || die "$what not within ${limit}s (logs: $LOGS)"
        sleep 0.2
    done
}
