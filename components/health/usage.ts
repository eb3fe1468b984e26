/** oceanid-health's `--help`: every mode, its output, its exit codes. */
export const USAGE = `usage: oceanid-health [--stack NAME | --config-file PATH] [--kubeconfig PATH|-] [--context NAME]
                      [--node NAME] [--format text|json] [--max-lease-age SECONDS]
       oceanid-health gate --node NAME --version VERSION --ssh HOST:PORT --host-key 'TYPE BASE64'
                      --since EPOCH --timeout SECONDS [--settle SECONDS] [--max-lease-age SECONDS]
                      [--previous VERSION] [--kubeconfig PATH|-] [--context NAME] [--interval SECONDS]
                      [--tailnet-api tailscale|headscale --tailnet-url URL --tailnet-host NAME
                       [--tailnet TAILNET] [--tailnet-address IP] [--exit-node]]
       oceanid-health drain --node NAME --change KIND --timeout SECONDS [--agent-of SERVER --version TARGET]
                      [--no-drain] [--kubeconfig PATH|-] [--context NAME] [--interval SECONDS]
       oceanid-health uncordon --node NAME [--kubeconfig PATH|-] [--context NAME]
       oceanid-health serve [--stack NAME | --config-file PATH] [--kubeconfig PATH|-] [--context NAME]
                      [--listen HOST:PORT] [--interval SECONDS]

Check: is every node of the stack healthy?
  --stack NAME          read Pulumi.NAME.yaml in the current directory
  --config-file PATH    read this stack file instead
  --kubeconfig PATH|-   kubeconfig file, or - for stdin (default: $KUBECONFIG, then ~/.kube/config)
  --context NAME        kubeconfig context (default: the stack's kubernetes.context, then current-context)
  --node NAME           check only this node
  --format text|json    output format (default text)
  --max-lease-age SECS  a node Lease renewed longer ago is a problem (default 40; kubelets renew every 10)
  A node is healthy when its Ready condition is True, its Lease in kube-node-lease is fresh, its
  kubelet reports the stack's k3sVersion, and SSH completes a handshake with the pinned host key
  (no login is attempted). The server's /ping at the stack's server URL must answer "pong".
  Nodes are probed concurrently. A node's last change (its OceanidNodeChange condition) is a
  problem when its revert failed (RevertFailed), when it is still Armed 120s after its revert time,
  or when its revert has run for over 600s; so is a cordon a node change left behind
  (annotation oceanid.io/cordoned-by). See docs/runbooks/node-changes.md.
  text: a table NODE READY LEASE KUBELET SSH, the server ping line, then "healthy: N nodes" or
        one "<node>: <reason>" line per problem
  json: { healthy, nodes: [{ name, ready, leaseAgeSeconds, kubeletVersion, expectedVersion,
        ssh: { ok, reason? }, nodeChange: { reason, message, since } | null,
        cordoned: { byOceanid, since } | null, problems }], server: { url, ping: { ok, reason? } },
        problems }

Gate: wait for one node after a change (each node change in the Pulumi program runs this).
  Polls every --interval seconds (default 2) until the node is Ready, has renewed its Lease after
  --since (epoch seconds by the node's clock, as "date +%s.%N" prints), reports kubelet --version, and
  completes an SSH handshake with --host-key. Once renewed after --since, the Lease must keep being
  renewed: its renewTime unchanged for over --max-lease-age seconds (default 40, by this machine's
  clock) is a problem. With --settle S (default 0) the node must be healthy at every poll for S
  seconds without a break (--timeout must exceed it). Then it prints "GATE PASSED node=N version=V
  after Ts" ("... healthy for Ss after Ts" with --settle) and exits 0; at --timeout it prints
  "GATE FAILED node=N reason=<problems>" on stderr and exits 1. With --previous P, a node reporting
  P says that its revert may have run. API errors while polling are problems ("api: ..."), retried
  until the timeout. Pass the kubeconfig on stdin (--kubeconfig -): it is a secret, and no part of
  it is ever printed.
  --tailnet-api: at every poll, also ask the tailnet's control server (Tailscale's API, tailnet
  --tailnet, default "-"; or headscale's) whether the machine --tailnet-host is online, holds
  --tailnet-address, and with --exit-node has its exit routes (0.0.0.0/0, ::/0) approved; its
  answer's problems start "tailnet: ". The API key comes from OCEANID_TAILNET_API_KEY (exit 2 without it).

Drain: before a node change, move the node's pods away (as kubectl drain --ignore-daemonsets
  --delete-emptydir-data does).
  --agent-of SERVER --version TARGET: first, the node is an agent about to get TARGET: the server's
  Node must run (kubeletVersion) a k3s release TARGET may join: not older than TARGET, at most one
  minor release newer. Prints "preflight ok: the server SERVER runs V", else "PREFLIGHT FAILED
  node=N reason=<...>" on stderr and exit 1.
  --no-drain: nothing more ("drain: skipped ..."). A node not registered yet has nothing to drain.
  Otherwise: refuses pods no controller would recreate (before cordoning anything); cordons the
  node with the annotations oceanid.io/cordoned-by: node-change/KIND and oceanid.io/cordoned-at
  (a node someone else cordoned keeps that cordon, and uncordon leaves it); evicts every pod but
  DaemonSet and mirror pods through the Eviction API, retrying every --interval seconds (default
  2) while a PodDisruptionBudget refuses; waits until they are gone. Prints "drained: N: evicted
  ..."; at --timeout it uncordons the node again (if it cordoned it), prints "DRAIN FAILED node=N
  reason=pods did not leave within Ts: <pod> (<why>), ..." on stderr and exits 1. Progress lines
  go to stderr.

Uncordon: after a node change, undo the drain's cordon: "uncordoned: N". A node cordoned by
  someone else stays cordoned ("left cordoned: ..."); exit 0 either way. API errors:
  "UNCORDON FAILED node=N reason=api: <...>" on stderr, exit 1.

Serve: a Prometheus exporter. Runs check mode's probes on every node of the stack every --interval
  seconds (default 15) and serves the last round's results at http://--listen/metrics (default
  127.0.0.1:9464); a scrape never waits for a probe. /healthz answers 200 while rounds keep
  finishing, 503 before the first one or when the last is over 2 intervals + 30s old. Logs one
  line on stderr when it starts, and when a probe starts or stops failing; runs until SIGINT or
  SIGTERM (exit 0). Metrics (label node: the node's name in the stack):
  oceanid_node_ready{node}                     1 Ready condition True, else 0
  oceanid_node_lease_age_seconds{node}         seconds since its Lease was renewed (absent without one)
  oceanid_node_kubelet_version_matches{node}   1 kubelet reports the stack's k3sVersion, else 0
  oceanid_node_kubelet_version_info{node,version}  1; version: what the kubelet reports
  oceanid_node_ssh_up{node}                    1 SSH handshake with the pinned host key completed, else 0
  oceanid_node_ssh_handshake_seconds{node}     how long that handshake took (absent when it failed)
  oceanid_node_change_unresolved{node}         1 while its OceanidNodeChange condition is True (Armed, Reverting, RevertFailed)
  oceanid_node_change_failed{node}             1 when its last change failed to revert (RevertFailed)
  oceanid_node_change_unresolved_seconds{node} seconds since that condition's lastTransitionTime (absent when resolved)
  oceanid_node_cordoned_by_change{node}        1 while a node change's cordon (oceanid.io/cordoned-by) is on it
  oceanid_apiserver_up                         1 the API server answered, else 0 (then the node metrics
                                               above but ssh are absent)
  oceanid_server_ping_up                       1 the server's /ping answered pong, else 0
  oceanid_egress_gateway_ready_replicas        ready replicas of Deployment egress-gateway in egress.gatewayNamespace
                                               (0 when missing; absent when egress is disabled or unreadable)
  oceanid_exit_node_online                     1 the control server shows the exit node online at egress.exitNode
  oceanid_exit_node_routes_approved            1 its exit routes (0.0.0.0/0, ::/0) are approved; both only with
                                               exitNodeHost and the API key in OCEANID_TAILNET_API_KEY (else a
                                               warning at start)
  oceanid_health_probe_duration_seconds        how long the last probe round took
  oceanid_health_last_probe_timestamp_seconds  when it finished (Unix seconds)
  oceanid_health_probe_errors_total{probe}     failed probes since start; probe: kubernetes, ssh, ping,
                                               egress_gateway, tailnet
  Exit 2 for bad flags, a stack file or kubeconfig it cannot read, or a --listen address it cannot
  bind; an API server that does not answer is oceanid_apiserver_up 0, not an exit.

exit: 0 healthy / gate passed / drained / uncordoned; 1 unhealthy / the step failed (one last line
      "<STEP> FAILED node=N reason=<...>" on stderr); 2 cannot check: bad arguments, stack file
      missing or invalid, kubeconfig unreadable, API server unreachable or credentials refused

On a schedule, alert on any exit but 0 (1: a node is unhealthy; 2: the check itself cannot run):
  cron (every 5 minutes; give cron a PATH with node on it):
    */5 * * * * cd /srv/oceanid-infra && npx oceanid-health --stack prod --format json > /var/tmp/oceanid-health.json || your-alert-command "oceanid-health exit $?"
  systemd: oceanid-health.service with Type=oneshot, WorkingDirectory=/srv/oceanid-infra,
    ExecStart=/usr/bin/npx oceanid-health --stack prod --format json and OnFailure=<your alert unit>,
    started by oceanid-health.timer with OnCalendar=*:0/5; read the last result with
    journalctl -u oceanid-health`;
