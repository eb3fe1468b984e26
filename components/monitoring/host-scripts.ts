/**
 * The monitoring host's install, as plain text from plain data: Prometheus's and Alertmanager's
 * configs, three systemd units and the script that puts them in place over SSH. Nothing here holds
 * a secret: the kubeconfig, the receivers' URLs and the tailnet API key reach the host on stdin and
 * its services as systemd credentials.
 */
import { stringify } from "yaml";
import { shellQuote } from "../platform/shell-quote";

export interface PinnedRelease {
    version: string;
    url: string;
    sha256: string;
}

export interface MonitoringHostSpec {
    /** Named in every failure line. */
    host: string;
    releases: { node: PinnedRelease; prometheus: PinnedRelease; alertmanager: PinnedRelease };
    /** The bundled oceanid-health (npm run build: dist/oceanid-health.bundle.cjs) and its sha256. */
    exporter: { remotePath: string; sha256: string };
    /** Stack file oceanid-health serve reads (exporterStackFile). */
    stackFile: string;
    /** components/monitoring/oceanid.rules.yaml. */
    rulesFile: string;
    /** oceanid-health serve's --interval, Prometheus's scrape and evaluation interval. */
    intervalSeconds: number;
    /** How long the install waits for the three services and the first scrape before putting the last install back. */
    readyTimeoutSeconds: number;
    /** Whether the exporter asks the control server about the exit node (the key comes on stdin). */
    tailnetKey: boolean;
}

export const BASE_DIR = "/opt/oceanid-monitoring";
export const ETC_DIR = "/etc/oceanid-monitoring";
export const UNITS = { exporter: "oceanid-health-exporter", prometheus: "oceanid-prometheus", alertmanager: "oceanid-alertmanager" } as const;
/** Everything listens on loopback only: reach it with `ssh -L` (docs/monitoring.md). */
export const LISTEN = { exporter: "127.0.0.1:9464", prometheus: "127.0.0.1:9090", alertmanager: "127.0.0.1:9093" } as const;
/** The secrets on the install step's stdin, one base64 line each, in this order (an empty line: not set). */
export const STDIN_SECRETS = ["kubeconfig", "pager-url", "heartbeat-url", "tailnet-api-key"] as const;

/** Per version and checksum: a release pinned to another checksum is fetched and checked again. */
const releaseDir = (name: keyof MonitoringHostSpec["releases"], r: PinnedRelease) => `${BASE_DIR}/releases/${name}-${r.version}-${r.sha256.slice(0, 12)}`;
/** The exporter, per checksum: the last install's unit still names its own. */
const exporterPath = (sha256: string) => `${BASE_DIR}/exporter/oceanid-health-${sha256.slice(0, 16)}.cjs`;
const credential = (unit: string, name: string) => `/run/credentials/${unit}.service/${name}`;

/** prometheus.yml: the exporter and Prometheus itself, the shipped rules, the local Alertmanager. */
export function prometheusConfig(spec: Pick<MonitoringHostSpec, "intervalSeconds">): string {
    const every = `${spec.intervalSeconds}s`;
    return stringify({
        global: { scrape_interval: every, evaluation_interval: every },
        // Relative to this file: the staged copy is checked where it is written.
        rule_files: ["oceanid.rules.yaml"],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [LISTEN.alertmanager] }] }] },
        scrape_configs: [
            // The job the rules' OceanidHealthExporterDown names.
            { job_name: "oceanid-health", static_configs: [{ targets: [LISTEN.exporter] }] },
            { job_name: "prometheus", static_configs: [{ targets: [LISTEN.prometheus] }] },
        ],
    });
}

/**
 * alertmanager.yml: Watchdog to the heartbeat receiver every minute, everything else to the pager.
 * The URLs are read from the service's credentials (`url_file`), never written here.
 */
export function alertmanagerConfig(): string {
    return stringify({
        route: {
            receiver: "pager",
            group_by: ["alertname", "node"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "4h",
            routes: [{ matchers: ["alertname = Watchdog"], receiver: "heartbeat", group_wait: "0s", group_interval: "1m", repeat_interval: "1m" }],
        },
        receivers: [
            { name: "pager", webhook_configs: [{ url_file: credential(UNITS.alertmanager, "pager-url"), send_resolved: true }] },
            { name: "heartbeat", webhook_configs: [{ url_file: credential(UNITS.alertmanager, "heartbeat-url"), send_resolved: false }] },
        ],
    });
}

/** Hardening every unit shares: a user of its own made at start, nothing of the host writable but its state. */
const HARDENING = `DynamicUser=yes
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
Restart=always
RestartSec=5`;

export function units(spec: MonitoringHostSpec): Record<keyof typeof UNITS, string> {
    const node = `${releaseDir("node", spec.releases.node)}/bin/node`;
    const prometheus = releaseDir("prometheus", spec.releases.prometheus);
    const alertmanager = releaseDir("alertmanager", spec.releases.alertmanager);
    const exporterArgs = [
        "serve",
        "--config-file",
        `${ETC_DIR}/stack.yaml`,
        "--kubeconfig",
        "%d/kubeconfig",
        "--listen",
        LISTEN.exporter,
        "--interval",
        String(spec.intervalSeconds),
    ];
    return {
        exporter: `[Unit]
Description=oceanid-health serve: node, kubelet, SSH and egress health as Prometheus metrics
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=${node} ${exporterPath(spec.exporter.sha256)} ${exporterArgs.join(" ")}
LoadCredential=kubeconfig:${ETC_DIR}/credentials/kubeconfig
# A dynamic user has no home; Node.js and the Kubernetes client ask for one.
StateDirectory=${UNITS.exporter}
Environment=HOME=/var/lib/${UNITS.exporter}
${spec.tailnetKey ? `EnvironmentFile=${ETC_DIR}/credentials/exporter.env\n` : ""}${HARDENING}

[Install]
WantedBy=multi-user.target
`,
        prometheus: `[Unit]
Description=Prometheus ${spec.releases.prometheus.version}: scrapes oceanid-health serve, evaluates the oceanid alert rules
# An alert sent before Alertmanager listens is sent again only after --rules.alert.resend-delay (1m).
Wants=network-online.target ${UNITS.alertmanager}.service
After=network-online.target ${UNITS.alertmanager}.service

[Service]
ExecStart=${prometheus}/prometheus --config.file=${ETC_DIR}/prometheus.yml --storage.tsdb.path=/var/lib/${UNITS.prometheus} --storage.tsdb.retention.time=15d --web.listen-address=${LISTEN.prometheus}
StateDirectory=${UNITS.prometheus}
${HARDENING}

[Install]
WantedBy=multi-user.target
`,
        alertmanager: `[Unit]
Description=Alertmanager ${spec.releases.alertmanager.version}: pages through the pager's webhook, heartbeats the dead man's switch
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=${alertmanager}/alertmanager --config.file=${ETC_DIR}/alertmanager.yml --storage.path=/var/lib/${UNITS.alertmanager} --web.listen-address=${LISTEN.alertmanager} --cluster.listen-address=
StateDirectory=${UNITS.alertmanager}
LoadCredential=pager-url:${ETC_DIR}/credentials/pager-url
LoadCredential=heartbeat-url:${ETC_DIR}/credentials/heartbeat-url
${HARDENING}

[Install]
WantedBy=multi-user.target
`,
    };
}

/** A file written by the script: a quoted heredoc, so nothing in it is expanded. */
function writeFile(path: string, content: string): string {
    const end = "OCEANID_MONITORING_EOF";
    if (content.split("\n").includes(end)) throw new Error(`${path}: holds the line ${end}, which would end its heredoc`);
    return `cat > "${path}" <<'${end}'\n${content.endsWith("\n") ? content : `${content}\n`}${end}`;
}

function fetchRelease(name: keyof MonitoringHostSpec["releases"], r: PinnedRelease, binaries: readonly string[]): string {
    const dir = releaseDir(name, r);
    // A refused download leaves nothing behind.
    const refuse = (reason: string) => `{ rm -rf ${dir}.tmp; fail "${reason}"; }`;
    return `if [ ! -f ${dir}/.complete ]; then
    say "downloading ${name} ${r.version}: ${r.url}"
    rm -rf ${dir}.tmp && mkdir -p ${dir}.tmp
    curl -fsSL --proto =https --retry 3 -o ${dir}.tmp/release ${shellQuote(r.url)} || ${refuse(`cannot download ${name} ${r.version} from ${r.url}`)}
    got=$(sha256sum ${dir}.tmp/release | cut -d' ' -f1)
    [ "$got" = ${r.sha256} ] || ${refuse(`${r.url} has sha256 $got, monitoringHost.releases.${name}.sha256 says ${r.sha256}: check the URL and the published checksum`)}
    tar -xf ${dir}.tmp/release -C ${dir}.tmp --strip-components=1 --no-same-owner || ${refuse(`cannot unpack ${r.url}`)}
    rm ${dir}.tmp/release
${binaries.map((b) => `    [ -x ${dir}.tmp/${b} ] || ${refuse(`${r.url} holds no ${b}: is it ${name}'s linux-amd64 release?`)}`).join("\n")}
    touch ${dir}.tmp/.complete && rm -rf ${dir} && mv ${dir}.tmp ${dir}
fi`;
}

/**
 * The install, run as root: releases (kept per version), then the new configs and units staged and
 * checked (promtool), then swapped in and the services restarted. If a service is not ready within
 * readyTimeoutSeconds, or Prometheus has not scraped the exporter, the previous configs and units
 * go back and the run fails: a bad install never leaves the host without its monitoring.
 */
export function installScript(spec: MonitoringHostSpec): string {
    const u = units(spec);
    const prometheus = releaseDir("prometheus", spec.releases.prometheus);
    const unitFiles = Object.values(UNITS).map((name) => `/etc/systemd/system/${name}.service`);
    const all = Object.values(UNITS).join(" ");
    return `set -euo pipefail
say() { echo "monitoring host ${spec.host}: $*" >&2; }
fail() { echo "MONITORING HOST FAILED host=${spec.host} reason=$*" >&2; exit 1; }
for tool in curl sha256sum tar systemctl; do command -v "$tool" >/dev/null || fail "$tool is not installed"; done
[ -d /run/systemd/system ] || fail "systemd is not running: the monitoring services are systemd units"

# The secrets, one base64 line each: ${STDIN_SECRETS.join(", ")}.
${STDIN_SECRETS.map((name) => `IFS= read -r ${name.replace(/-/g, "_")} || true`).join("\n")}
[ -n "$kubeconfig" ] && [ -n "$pager_url" ] && [ -n "$heartbeat_url" ] || fail "the kubeconfig and both receiver URLs must come on stdin"

mkdir -p ${BASE_DIR}/releases
${fetchRelease("node", spec.releases.node, ["bin/node"])}
${fetchRelease("prometheus", spec.releases.prometheus, ["prometheus", "promtool"])}
${fetchRelease("alertmanager", spec.releases.alertmanager, ["alertmanager"])}

# The exporter, as the program copied it: the same bytes or nothing (installed once per checksum).
exporter=${exporterPath(spec.exporter.sha256)}
if [ "$(sha256sum "$exporter" 2>/dev/null | cut -d' ' -f1)" != ${spec.exporter.sha256} ]; then
    got=$(sha256sum ${shellQuote(spec.exporter.remotePath)} 2>/dev/null | cut -d' ' -f1) || true
    [ "$got" = ${spec.exporter.sha256} ] \
        || fail "${spec.exporter.remotePath} has sha256 \${got:-none}, the program copied ${spec.exporter.sha256}: copy it again with pulumi up --replace on the monitoring host's exporter resource"
    mkdir -p ${BASE_DIR}/exporter
    install -m 0644 ${shellQuote(spec.exporter.remotePath)} "$exporter.new" && mv "$exporter.new" "$exporter"
fi

# Staged: the new configs and credentials, checked before anything running changes.
stage=${ETC_DIR}.new
rm -rf "$stage" && mkdir -p "$stage/credentials" && chmod 0700 "$stage/credentials"
${[
    writeFile("$stage/prometheus.yml", prometheusConfig(spec)),
    writeFile("$stage/oceanid.rules.yaml", spec.rulesFile),
    writeFile("$stage/alertmanager.yml", alertmanagerConfig()),
    writeFile("$stage/stack.yaml", spec.stackFile),
    ...Object.entries(UNITS).map(([key, name]) => writeFile(`$stage/${name}.service`, u[key as keyof typeof UNITS])),
].join("\n")}
old_umask=$(umask) && umask 077
printf '%s' "$kubeconfig" | base64 -d > "$stage/credentials/kubeconfig"
printf '%s' "$pager_url" | base64 -d > "$stage/credentials/pager-url"
printf '%s' "$heartbeat_url" | base64 -d > "$stage/credentials/heartbeat-url"
${spec.tailnetKey ? `[ -n "$tailnet_api_key" ] || fail "the tailnet API key must come on stdin"\nprintf 'OCEANID_TAILNET_API_KEY=%s\\n' "$(printf '%s' "$tailnet_api_key" | base64 -d)" > "$stage/credentials/exporter.env"\n` : ""}umask "$old_umask"
check=$(${prometheus}/promtool check config "$stage/prometheus.yml" 2>&1) || fail "promtool refuses the new prometheus.yml: $check"

# In place, the last install kept to go back to.
prev=${ETC_DIR}.prev
rm -rf "$prev" && mkdir -p "$prev"
last="the last install is back"
if [ -d ${ETC_DIR} ]; then mv ${ETC_DIR} "$prev/etc"; else last="there was none before: the services are stopped"; fi
for f in ${unitFiles.join(" ")}; do [ -f "$f" ] && cp "$f" "$prev/"; done
for name in ${all}; do mv "$stage/$name.service" /etc/systemd/system/; done
mv "$stage" ${ETC_DIR}

put_back() {
    say "putting the last install back"
    systemctl stop ${all} || true
    rm -rf ${ETC_DIR} ${unitFiles.join(" ")}
    [ -d "$prev/etc" ] && mv "$prev/etc" ${ETC_DIR}
    for name in ${all}; do [ -f "$prev/$name.service" ] && cp "$prev/$name.service" /etc/systemd/system/; done
    systemctl daemon-reload
    for name in ${all}; do [ -f "/etc/systemd/system/$name.service" ] && systemctl restart "$name"; done
    return 0
}
systemctl daemon-reload
systemctl enable ${all} >/dev/null 2>&1
systemctl restart ${all}

# Ready: every service answers, and Prometheus has scraped the exporter.
ready() {
    curl -fsS -o /dev/null http://${LISTEN.prometheus}/-/ready && curl -fsS -o /dev/null http://${LISTEN.alertmanager}/-/ready \\
        && curl -fsS -o /dev/null http://${LISTEN.exporter}/metrics \\
        && curl -fsS 'http://${LISTEN.prometheus}/api/v1/query?query=up%7Bjob%3D%22oceanid-health%22%7D' | grep -q '"value":\\[[0-9.]*,"1"\\]'
}
deadline=$(( $(date +%s) + ${spec.readyTimeoutSeconds} ))
until ready 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        # The journal of each service that does not answer (of Prometheus when all answer but it has not scraped).
        while read -r name url; do
            curl -fsS -o /dev/null "$url" 2>/dev/null || { echo "--- $name (no answer on $url):"; journalctl -u "$name" -n 15 --no-pager -o cat; } >&2 || true
        done <<'CHECKS'
${UNITS.prometheus} http://${LISTEN.prometheus}/-/ready
${UNITS.alertmanager} http://${LISTEN.alertmanager}/-/ready
${UNITS.exporter} http://${LISTEN.exporter}/metrics
CHECKS
        put_back
        fail "the services were not ready within ${spec.readyTimeoutSeconds}s (Prometheus on ${LISTEN.prometheus}, Alertmanager on ${LISTEN.alertmanager}, oceanid-health serve on ${LISTEN.exporter}, scraped); $last"
    fi
    sleep 1
done
rm -rf "$prev" ${shellQuote(spec.exporter.remotePath)}
find ${BASE_DIR}/exporter -name 'oceanid-health-*.cjs' ! -path "$exporter" -delete
echo "monitoring host ${spec.host}: ready: Prometheus ${spec.releases.prometheus.version} on ${LISTEN.prometheus}, Alertmanager ${spec.releases.alertmanager.version} on ${LISTEN.alertmanager}, oceanid-health serve on ${LISTEN.exporter} (Node.js ${spec.releases.node.version}), every ${spec.intervalSeconds}s"
`;
}

/** On removal from config: the services stopped and their units gone; releases and data stay. */
export function removeScript(): string {
    const all = Object.values(UNITS).join(" ");
    return `set -euo pipefail
systemctl disable --now ${all} 2>/dev/null || true
rm -f ${Object.values(UNITS)
        .map((name) => `/etc/systemd/system/${name}.service`)
        .join(" ")}
rm -rf ${ETC_DIR}/credentials
systemctl daemon-reload
`;
}
