// Stand-in for the k3s server's HTTPS port 6443 (test/lab/README.md): the supervisor
// endpoints agents use to join (/ping, /cacerts) and the few kube-apiserver endpoints
// the stand-in agents and a health check use (Nodes, node Leases, /version), with
// real Kubernetes JSON shapes so @kubernetes/client-node and kubectl-style clients
// work. Like the node-lifecycle controller, a Node whose Lease is older than the grace
// period is served with Ready=Unknown (reason NodeStatusUnknown) and the unreachable
// taints. State lives in memory. Started by NodeLab inside the server node's network
// namespace:  node --import tsx k3s-api-standin.ts CONFIG.json
// It exits by itself after the lab's lifetime.
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { stringify as toYaml } from "yaml";

interface Config {
    listen: string[];
    port: number;
    caFile: string;
    certFile: string;
    keyFile: string;
    adminTokenFile: string;
    k3sTokenFile: string;
    graceSeconds: number;
    lifetimeSeconds: number;
    serverNode: string;
}

type Obj = Record<string, any>;

const config: Config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const caBytes = readFileSync(config.caFile);
const tokens = [readFileSync(config.adminTokenFile, "utf8").trim(), readFileSync(config.k3sTokenFile, "utf8").trim()].map((t) =>
    createHash("sha256").update(t).digest(),
);
const started = Date.now();

const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} k3s-api-standin: ${msg}\n`);

// --- state --------------------------------------------------------------------------------
let resourceVersion = 1;
const nodes = new Map<string, Obj>();
const leases = new Map<string, Obj>(); // key: namespace/name
/** When each node's Ready condition last changed, as the API sees it. */
const readyTransition = new Map<string, string>();

const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const nextVersion = () => String(++resourceVersion);

/** Date.parse, but keeping RFC3339 fractions of any length (MicroTime has six digits). */
function parseTime(value: unknown): number | undefined {
    if (typeof value !== "string") return undefined;
    const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
    if (!m) return undefined;
    const base = Date.parse(`${m[1]}${m[3]}`);
    return Number.isNaN(base) ? undefined : base + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

function leaseAge(name: string, now: number): number | undefined {
    const renew = parseTime(leases.get(`kube-node-lease/${name}`)?.spec?.renewTime);
    return renew === undefined ? undefined : now - renew;
}

function isStale(name: string, now = Date.now()): boolean {
    const age = leaseAge(name, now);
    return age === undefined || age > config.graceSeconds * 1000;
}

/** The Node as the API serves it: the stored object, with the lifecycle controller's view. */
function viewNode(stored: Obj, now = Date.now()): Obj {
    const node = structuredClone(stored);
    const name = node.metadata.name as string;
    const conditions: Obj[] = node.status?.conditions ?? [];
    if (isStale(name, now)) {
        const renew = parseTime(leases.get(`kube-node-lease/${name}`)?.spec?.renewTime);
        const since = new Date((renew ?? parseTime(node.metadata.creationTimestamp) ?? now) + config.graceSeconds * 1000)
            .toISOString()
            .replace(/\.\d{3}Z$/, "Z");
        for (const c of conditions) {
            c.status = "Unknown";
            c.reason = "NodeStatusUnknown";
            c.message = "Kubelet stopped posting node status.";
            c.lastTransitionTime = since;
        }
        const taints: Obj[] = (node.spec ??= {}).taints ?? [];
        for (const effect of ["NoSchedule", "NoExecute"]) {
            if (!taints.some((t) => t.key === "node.kubernetes.io/unreachable" && t.effect === effect)) {
                taints.push({ key: "node.kubernetes.io/unreachable", effect, ...(effect === "NoExecute" ? { timeAdded: since } : {}) });
            }
        }
        node.spec.taints = taints;
    } else {
        const ready = conditions.find((c) => c.type === "Ready");
        const since = readyTransition.get(name);
        if (ready && since) ready.lastTransitionTime = since;
    }
    return node;
}

// --- HTTP helpers -------------------------------------------------------------------------
function send(res: ServerResponse, code: number, body: unknown, contentType = "application/json") {
    const text = typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    res.writeHead(code, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text) });
    res.end(text);
}

function status(res: ServerResponse, code: number, reason: string, message: string, details?: Obj) {
    send(res, code, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code });
}

const notFound = (res: ServerResponse, kind: string, name: string, group?: string) =>
    status(res, 404, "NotFound", `${kind}${group ? `.${group}` : ""} "${name}" not found`, { name, ...(group ? { group } : {}), kind });

function authorized(req: IncomingMessage): boolean {
    const m = /^Bearer\s+(\S+)\s*$/.exec(req.headers.authorization ?? "");
    if (!m) return false;
    const given = createHash("sha256").update(m[1]).digest();
    return tokens.some((t) => timingSafeEqual(t, given));
}

async function readJson(req: IncomingMessage): Promise<Obj | undefined> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    try {
        const value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        return value && typeof value === "object" && !Array.isArray(value) ? value : undefined;
    } catch {
        return undefined;
    }
}

function list(kind: string, apiVersion: string, items: Obj[]): Obj {
    return {
        kind,
        apiVersion,
        metadata: { resourceVersion: String(resourceVersion) },
        items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
    };
}

// --- kubectl-style output for the k3s kubectl stand-in (X-Standin-Output) ----------------
function age(created: unknown, now: number): string {
    const t = parseTime(created);
    if (t === undefined) return "<unknown>";
    const s = Math.max(0, Math.floor((now - t) / 1000));
    if (s < 120) return `${s}s`;
    if (s < 3600 * 2) return `${Math.floor(s / 60)}m`;
    if (s < 86400 * 2) return `${Math.floor(s / 3600)}h`;
    return `${Math.floor(s / 86400)}d`;
}

function table(rows: string[][]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return (
        rows
            .map((r) =>
                r
                    .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] + 3)))
                    .join("")
                    .trimEnd(),
            )
            .join("\n") + "\n"
    );
}

function nodeRow(n: Obj, wide: boolean, now: number): string[] {
    const ready = (n.status?.conditions ?? []).find((c: Obj) => c.type === "Ready");
    const roles = Object.keys(n.metadata.labels ?? {})
        .filter((l) => l.startsWith("node-role.kubernetes.io/"))
        .map((l) => l.slice("node-role.kubernetes.io/".length))
        .sort();
    const row = [
        n.metadata.name,
        ready?.status === "True" ? "Ready" : "NotReady",
        roles.length ? roles.join(",") : "<none>",
        age(n.metadata.creationTimestamp, now),
        n.status?.nodeInfo?.kubeletVersion ?? "",
    ];
    if (wide) {
        const addr = (type: string) => (n.status?.addresses ?? []).find((a: Obj) => a.type === type)?.address ?? "<none>";
        const info = n.status?.nodeInfo ?? {};
        row.push(addr("InternalIP"), addr("ExternalIP"), info.osImage ?? "", info.kernelVersion ?? "", info.containerRuntimeVersion ?? "");
    }
    return row;
}

function render(format: string, body: Obj, now: number): { text: string; type: string } | { error: string } {
    const items: Obj[] = Array.isArray(body.items) ? body.items : [body];
    const isNode = body.kind === "Node" || body.kind === "NodeList";
    const kindName = isNode ? "node" : "lease.coordination.k8s.io";
    if (format === "json") return { text: JSON.stringify(body, null, 4) + "\n", type: "application/json" };
    if (format === "yaml") return { text: toYaml(body), type: "application/yaml" };
    if (format === "name") return { text: items.map((i) => `${kindName}/${i.metadata.name}\n`).join(""), type: "text/plain" };
    if (format === "table" || format === "wide") {
        if (items.length === 0) return { text: "", type: "text/plain" };
        const wide = format === "wide";
        const rows = isNode
            ? [
                  [
                      "NAME",
                      "STATUS",
                      "ROLES",
                      "AGE",
                      "VERSION",
                      ...(wide ? ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"] : []),
                  ],
                  ...items.map((n) => nodeRow(n, wide, now)),
              ]
            : [["NAME", "HOLDER", "AGE"], ...items.map((l) => [l.metadata.name, l.spec?.holderIdentity ?? "", age(l.metadata.creationTimestamp, now)])];
        return { text: table(rows), type: "text/plain" };
    }
    const jp = /^jsonpath=(.*)$/s.exec(format);
    if (jp) {
        try {
            return { text: jsonpath(jp[1].replace(/^'(.*)'$/s, "$1"), body), type: "text/plain" };
        } catch (e) {
            return { error: `error parsing jsonpath ${jp[1]}, ${(e as Error).message}` };
        }
    }
    return { error: `unable to match a printer suitable for the output format "${format}" (k3s kubectl stand-in: json, yaml, name, wide, jsonpath=...)` };
}

/** kubectl's JSONPath templates, the common subset: {.a.b}, [n], [*], [?(@.x=="y")], {range}{end}, {"literal"}. */
function jsonpath(template: string, root: unknown): string {
    type Tok = { text: string } | { expr: string };
    const toks: Tok[] = [];
    let i = 0;
    while (i < template.length) {
        const open = template.indexOf("{", i);
        if (open < 0) {
            toks.push({ text: template.slice(i) });
            break;
        }
        if (open > i) toks.push({ text: template.slice(i, open) });
        let depth = 0;
        let j = open;
        let quote = "";
        for (; j < template.length; j++) {
            const ch = template[j];
            if (quote) {
                if (ch === "\\") j++;
                else if (ch === quote) quote = "";
            } else if (ch === '"' || ch === "'") quote = ch;
            else if (ch === "{") depth++;
            else if (ch === "}" && --depth === 0) break;
        }
        if (j >= template.length) throw new Error("unclosed action");
        toks.push({ expr: template.slice(open + 1, j).trim() });
        i = j + 1;
    }

    const unescape = (s: string) => s.replace(/\\(.)/g, (_, c: string) => ({ n: "\n", t: "\t", r: "\r" })[c] ?? c);
    const print = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

    function evalPath(path: string, current: unknown): unknown[] {
        let values: unknown[] = [current];
        let p = path.trim();
        if (p.startsWith("$")) {
            values = [root];
            p = p.slice(1);
        } else if (p.startsWith("@")) p = p.slice(1);
        while (p.length) {
            let m: RegExpExecArray | null;
            if ((m = /^\.\.?((?:\\.|[A-Za-z0-9_\-/])+)/.exec(p))) {
                const key = m[1].replace(/\\(.)/g, "$1");
                values = values.flatMap((v) => (v && typeof v === "object" && key in (v as Obj) ? [(v as Obj)[key]] : []));
            } else if ((m = /^\[\*\]/.exec(p)) || (m = /^\.\*/.exec(p))) {
                values = values.flatMap((v) => (Array.isArray(v) ? v : v && typeof v === "object" ? Object.values(v) : []));
            } else if ((m = /^\[(-?\d+)\]/.exec(p))) {
                const n = Number(m[1]);
                values = values.flatMap((v) => (Array.isArray(v) && v.at(n) !== undefined ? [v.at(n)] : []));
            } else if ((m = /^\[\?\(\s*(@[^=!<>]*?)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?|true|false))\s*\)\]/.exec(p))) {
                const [, left, op, dq, sq, bare] = m;
                const want = dq ?? sq ?? (bare === "true" ? true : bare === "false" ? false : Number(bare));
                values = values.flatMap((v) =>
                    (Array.isArray(v) ? v : []).filter((item) => {
                        const got = evalPath(left, item);
                        const eq = got.length > 0 && got[0] === want;
                        return op === "==" ? eq : !eq;
                    }),
                );
            } else if ((m = /^\[\?\(\s*(@[^)]*?)\s*\)\]/.exec(p))) {
                const left = m[1];
                values = values.flatMap((v) => (Array.isArray(v) ? v : []).filter((item) => evalPath(left, item).length > 0));
            } else if (p === ".") {
                m = /^\./.exec(p);
            } else {
                throw new Error(`unrecognized identifier ${p}`);
            }
            p = p.slice(m![0].length);
        }
        return values;
    }

    function run(from: number, current: unknown, out: string[]): number {
        let k = from;
        while (k < toks.length) {
            const t = toks[k];
            if ("text" in t) {
                out.push(t.text);
                k++;
                continue;
            }
            const e = t.expr;
            if (e === "end") return k;
            const range = /^range\s+(.*)$/s.exec(e);
            if (range) {
                const items = evalPath(range[1], current);
                let end = -1;
                for (const item of items) end = run(k + 1, item, out);
                if (end < 0) end = run(k + 1, undefined, []); // find the matching end
                k = end + 1;
                continue;
            }
            const literal = /^"((?:\\.|[^"])*)"$/s.exec(e) ?? /^'((?:\\.|[^'])*)'$/s.exec(e);
            if (literal) out.push(unescape(literal[1]));
            else out.push(evalPath(e, current).map(print).join(" "));
            k++;
        }
        return k;
    }

    const out: string[] = [];
    run(0, root, out);
    return out.join("");
}

// --- routes ---------------------------------------------------------------------------------
const LEASES = "/apis/coordination.k8s.io/v1/namespaces/";

async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "https://k3s");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";

    if (method === "GET" && path === "/ping") return send(res, 200, "pong", "text/plain");
    if (method === "GET" && path === "/cacerts") return send(res, 200, caBytes, "text/plain");

    if (!authorized(req)) {
        log(`401 ${method} ${path}`);
        return status(res, 401, "Unauthorized", "Unauthorized");
    }
    if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
        return status(res, 405, "MethodNotAllowed", "the k3s API stand-in does not serve watches");
    }
    const now = Date.now();
    const output = req.headers["x-standin-output"];
    const reply = (code: number, body: Obj) => {
        if (typeof output === "string" && output && code < 400) {
            const r = render(output, body, now);
            if ("error" in r) return status(res, 400, "BadRequest", r.error);
            return send(res, code, r.text, r.type);
        }
        return send(res, code, body);
    };

    if (method === "GET" && (path === "/readyz" || path === "/livez" || path === "/healthz")) return send(res, 200, "ok", "text/plain");
    if (method === "GET" && path === "/version") {
        const v = (nodes.get(config.serverNode)?.status?.nodeInfo?.kubeletVersion as string | undefined) ?? "v0.0.0+k3s0";
        const m = /^v(\d+)\.(\d+)/.exec(v);
        return reply(200, {
            major: m?.[1] ?? "0",
            minor: m?.[2] ?? "0",
            gitVersion: v,
            gitCommit: "0000000000000000000000000000000000000000",
            gitTreeState: "clean",
            buildDate: "2025-01-01T00:00:00Z",
            goVersion: "go1.24.0",
            compiler: "gc",
            platform: "linux/amd64",
        });
    }

    // Nodes
    if (path === "/api/v1/nodes" && method === "GET") {
        const items = [...nodes.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).map((n) => viewNode(n, now));
        return reply(200, list("NodeList", "v1", items));
    }
    let m = /^\/api\/v1\/nodes\/([^/]+)(\/status)?$/.exec(path);
    if (m) {
        const name = decodeURIComponent(m[1]);
        if (method === "GET") {
            const node = nodes.get(name);
            return node ? reply(200, viewNode(node, now)) : notFound(res, "nodes", name);
        }
        if (method === "PUT" && m[2]) {
            const body = await readJson(req);
            if (!body || body.kind !== "Node" || body.metadata?.name !== name) {
                return status(res, 400, "BadRequest", `the body must be a Node named "${name}"`);
            }
            const old = nodes.get(name);
            const rv = body.metadata.resourceVersion;
            if (old && rv && rv !== old.metadata.resourceVersion) {
                return status(
                    res,
                    409,
                    "Conflict",
                    `Operation cannot be fulfilled on nodes "${name}": the object has been modified; please apply your changes to the latest version and try again`,
                );
            }
            const wasReady = old && !isStale(name, now) && old.status?.conditions?.find((c: Obj) => c.type === "Ready")?.status === "True";
            const nowReady = body.status?.conditions?.find((c: Obj) => c.type === "Ready")?.status === "True";
            if (!readyTransition.has(name) || wasReady !== nowReady) readyTransition.set(name, nowIso());
            const stored: Obj = old
                ? { ...old, status: body.status ?? {} }
                : {
                      kind: "Node",
                      apiVersion: "v1",
                      metadata: {
                          name,
                          uid: randomUUID(),
                          creationTimestamp: nowIso(),
                          labels: body.metadata.labels ?? {},
                          annotations: body.metadata.annotations ?? {},
                      },
                      spec: body.spec ?? {},
                      status: body.status ?? {},
                  };
            stored.metadata = { ...stored.metadata, resourceVersion: nextVersion() };
            nodes.set(name, stored);
            if (!old) log(`node ${name} registered (${body.status?.nodeInfo?.kubeletVersion ?? "?"})`);
            else if (old.status?.nodeInfo?.kubeletVersion !== body.status?.nodeInfo?.kubeletVersion) {
                log(`node ${name} now reports ${body.status?.nodeInfo?.kubeletVersion}`);
            }
            return reply(old ? 200 : 201, viewNode(stored, now));
        }
        return status(res, 405, "MethodNotAllowed", `the k3s API stand-in does not serve ${method} ${path}`);
    }

    // Leases
    if (path.startsWith(LEASES)) {
        m = /^([^/]+)\/leases(?:\/([^/]+))?$/.exec(path.slice(LEASES.length));
        if (m) {
            const namespace = decodeURIComponent(m[1]);
            const name = m[2] ? decodeURIComponent(m[2]) : undefined;
            if (!name && method === "GET") {
                const items = [...leases.values()]
                    .filter((l) => l.metadata.namespace === namespace)
                    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
                return reply(200, list("LeaseList", "coordination.k8s.io/v1", items));
            }
            if (name && method === "GET") {
                const lease = leases.get(`${namespace}/${name}`);
                return lease ? reply(200, lease) : notFound(res, "leases", name, "coordination.k8s.io");
            }
            if (name && method === "PUT") {
                const body = await readJson(req);
                if (!body || body.kind !== "Lease" || body.metadata?.name !== name) {
                    return status(res, 400, "BadRequest", `the body must be a Lease named "${name}"`);
                }
                const key = `${namespace}/${name}`;
                const old = leases.get(key);
                const rv = body.metadata.resourceVersion;
                if (old && rv && rv !== old.metadata.resourceVersion) {
                    return status(
                        res,
                        409,
                        "Conflict",
                        `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
                    );
                }
                const stored: Obj = {
                    kind: "Lease",
                    apiVersion: "coordination.k8s.io/v1",
                    metadata: {
                        name,
                        namespace,
                        uid: old?.metadata.uid ?? randomUUID(),
                        creationTimestamp: old?.metadata.creationTimestamp ?? nowIso(),
                        resourceVersion: nextVersion(),
                    },
                    spec: body.spec ?? {},
                };
                leases.set(key, stored);
                return reply(old ? 200 : 201, stored);
            }
            return status(res, 405, "MethodNotAllowed", `the k3s API stand-in does not serve ${method} ${path}`);
        }
    }

    log(`404 ${method} ${path}`);
    return status(res, 404, "NotFound", "the server could not find the requested resource");
}

// --- servers ----------------------------------------------------------------------------------
const tls = { key: readFileSync(config.keyFile), cert: readFileSync(config.certFile) };
const servers: Server[] = config.listen.map((address) => {
    const server = createServer(tls, (req, res) => {
        handle(req, res).catch((e: Error) => {
            log(`500 ${req.method} ${req.url}: ${e.message}`);
            if (!res.headersSent) status(res, 500, "InternalError", "internal error");
            else res.destroy();
        });
    });
    server.on("tlsClientError", () => {});
    server.listen(config.port, address, () => log(`listening on https://${address}:${config.port}`));
    server.on("error", (e) => {
        log(`cannot listen on ${address}:${config.port}: ${e.message}`);
        process.exit(1);
    });
    return server;
});

const shutdown = (why: string) => {
    log(`exiting: ${why}`);
    for (const s of servers) s.close();
    process.exit(0);
};
setTimeout(() => shutdown(`lifetime of ${config.lifetimeSeconds}s over`), Math.max(0, config.lifetimeSeconds * 1000 - (Date.now() - started)));
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
