// The program's own cost as the cluster grows: index.ts under Pulumi's mock
// runtime (test/helpers/mock-runtime.ts, as test/program/*.test.ts run it) on
// the dev stack with its nodes replaced by N generated ones (one server, one
// canary, N-2 agents). One process per N: the runtime is global.
//
// Usage: node --import tsx bench/program-scale.mjs N [CHECKOUT]
// Prints {"nodes":N,"seconds":S,"resources":R}: S is the wall time of runProgram
// (loading index.ts and its modules, registering every resource, waiting for
// every registration), measured after @pulumi/pulumi and @pulumi/kubernetes are
// loaded so that their import time, the same for every N, is not counted.

const HOST_KEYS = [
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDGFppaNk5AuY3v0liC69Fy1sjXaQnwx5LEoh0dG7B2q",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOBSgVhpZJ91oZCceCmllHH7x9MkpQ1otU/mHIbbxxNI",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMNheAjxUvQk7mJE8E6ytrokk93rtklVfy7b3mXrT8PR",
];

/** A valid node list of `n` nodes in the dev stack's shape (addresses in 198.18.0.0/15, Tailscale in 100.64.0.0/10). */
export function nodes(n) {
    return Array.from({ length: n }, (_, i) => {
        const hi = Math.floor((i + 10) / 250);
        const lo = ((i + 10) % 250) + 1;
        return {
            name: i === 0 ? "srv-server" : `worker-${String(i).padStart(3, "0")}`,
            role: i === 0 ? "server" : "agent",
            ...(i === 1 ? { canary: true } : {}),
            k3sVersion: "v1.33.5+k3s1",
            addresses: { public: `198.18.${hi}.${lo}`, tailscale: `100.64.${hi}.${lo}` },
            ssh: { user: "oceanid", hostKey: HOST_KEYS[i % HOST_KEYS.length] },
            labels: { "oceanid.io/site": i % 3 === 0 ? "home" : "vps", ...(i % 7 === 0 ? { "oceanid.io/gpu": "true" } : {}) },
            ...(i % 7 === 0 && i > 0 ? { taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }] } : {}),
            outOfBand: `bench stand-in for the console of node ${i}`,
        };
    });
}

if (import.meta.url === `file://${process.argv[1]}`) {
    const n = Number.parseInt(process.argv[2] ?? "", 10);
    if (!(n >= 2)) {
        process.stderr.write("usage: node --import tsx bench/program-scale.mjs N [CHECKOUT] (N >= 2)\n");
        process.exit(2);
    }
    await import("@pulumi/pulumi");
    await import("@pulumi/kubernetes");
    // Another checkout's program (bench/run.mjs --guard ROOT) or this one's.
    const root = process.argv[3] ?? new URL("..", import.meta.url).pathname;
    const { runProgram } = await import(`${root.replace(/\/?$/, "/")}test/helpers/mock-runtime.ts`);
    const start = process.hrtime.bigint();
    const { resources } = await runProgram("dev", (config) => {
        const list = nodes(n);
        config["oceanid:nodes"] = list;
        // The exit node must be one of the nodes: the server, as in the dev stack.
        config["oceanid:egress"] = { ...config["oceanid:egress"], exitNode: list[0].addresses.tailscale };
    });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    process.stdout.write(`${JSON.stringify({ nodes: n, seconds, resources: resources.length })}\n`);
}
