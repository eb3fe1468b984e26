// What the gate makes of the control server's answer about a node: Tailscale's API and headscale's.
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gateCommand, parseGateArgs } from "../../components/health/gate-command";
import { headscaleDevices, probeTailnet, tailnetDeviceProblems, tailscaleDevices, type TailnetCheck } from "../../components/health/tailnet-device";

const check: TailnetCheck = { api: "headscale", url: "http://x", tailnet: "-", hostname: "tethys", address: "100.64.0.1", exitNode: true };
const device = (over: Partial<ReturnType<typeof headscaleDevices>[number]> = {}) => ({
    hostname: "tethys",
    addresses: ["100.64.0.1", "fd7a:115c:a1e0::1"],
    online: true,
    advertisedRoutes: ["0.0.0.0/0", "::/0"],
    approvedRoutes: ["0.0.0.0/0", "::/0"],
    ...over,
});

describe("tailnetDeviceProblems", () => {
    it("passes an online exit node holding the address, its routes approved", () => {
        expect(tailnetDeviceProblems(check, [device()])).toEqual([]);
    });
    it("names each way the exit node is not usable", () => {
        expect(tailnetDeviceProblems(check, [])).toEqual(["tailnet: the control server knows no machine named tethys"]);
        expect(tailnetDeviceProblems(check, [device({ addresses: ["100.64.0.7"] })])).toEqual([
            "tailnet: tethys holds 100.64.0.7, not 100.64.0.1; the gateway sends egress to 100.64.0.1",
        ]);
        expect(tailnetDeviceProblems(check, [device({ online: false })])).toEqual(["tailnet: tethys is not online in the control server"]);
        expect(tailnetDeviceProblems(check, [device({ approvedRoutes: ["0.0.0.0/0"] })])).toEqual([
            "tailnet: tethys advertises exit routes that are not approved (autoApprovers.exitNode must name its tag)",
        ]);
        expect(tailnetDeviceProblems(check, [device({ advertisedRoutes: [], approvedRoutes: [] })])).toEqual([
            "tailnet: tethys does not advertise exit routes",
        ]);
    });
    it("an old offline registration of the same name does not hide the new one", () => {
        expect(tailnetDeviceProblems(check, [device({ online: false, approvedRoutes: [] }), device()])).toEqual([]);
    });
    it("reads both APIs' shapes", () => {
        expect(
            tailscaleDevices({
                devices: [{ hostname: "tethys", addresses: ["100.64.0.1"], connectedToControl: true, advertisedRoutes: ["::/0"], enabledRoutes: [] }],
            }),
        ).toEqual([{ hostname: "tethys", addresses: ["100.64.0.1"], online: true, advertisedRoutes: ["::/0"], approvedRoutes: [] }]);
        expect(
            headscaleDevices({ nodes: [{ name: "tethys", ipAddresses: ["100.64.0.1"], online: false, availableRoutes: ["::/0"], approvedRoutes: ["::/0"] }] }),
        ).toEqual([{ hostname: "tethys", addresses: ["100.64.0.1"], online: false, advertisedRoutes: ["::/0"], approvedRoutes: ["::/0"] }]);
        expect(() => headscaleDevices({})).toThrow("the answer has no nodes list");
    });
});

describe("probeTailnet against an HTTP server on loopback", () => {
    let url = "";
    const seen: Array<{ path: string; auth: string | undefined }> = [];
    const server = createServer((req, res) => {
        seen.push({ path: req.url ?? "", auth: req.headers.authorization });
        if (req.headers.authorization !== "Bearer good") {
            res.writeHead(401).end();
            return;
        }
        res.setHeader("content-type", "application/json");
        if (req.url === "/api/v1/node")
            res.end(
                JSON.stringify({
                    nodes: [{ name: "tethys", ipAddresses: ["100.64.0.1"], online: true, availableRoutes: ["0.0.0.0/0", "::/0"], approvedRoutes: [] }],
                }),
            );
        else if (req.url === "/api/v2/tailnet/-/devices?fields=all")
            res.end(
                JSON.stringify({
                    devices: [
                        {
                            hostname: "tethys",
                            addresses: ["100.64.0.1"],
                            connectedToControl: true,
                            advertisedRoutes: ["0.0.0.0/0", "::/0"],
                            enabledRoutes: ["0.0.0.0/0", "::/0"],
                        },
                    ],
                }),
            );
        else res.writeHead(404).end();
    });
    beforeAll(async () => {
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => server.close());

    it("asks each API where it answers, with the key as a bearer token", async () => {
        expect(await probeTailnet({ ...check, url }, "good", 2000)).toEqual({
            ok: false,
            reason: "tailnet: tethys advertises exit routes that are not approved (autoApprovers.exitNode must name its tag)",
        });
        expect(await probeTailnet({ ...check, api: "tailscale", url }, "good", 2000)).toEqual({ ok: true });
        expect(seen.slice(-2)).toEqual([
            { path: "/api/v1/node", auth: "Bearer good" },
            { path: "/api/v2/tailnet/-/devices?fields=all", auth: "Bearer good" },
        ]);
    });
    it("a refused key and an unreachable server are this poll's problems", async () => {
        expect(await probeTailnet({ ...check, url }, "bad", 2000)).toEqual({
            ok: false,
            reason: `tailnet: headscale API ${url} answered 401 (is the API key valid?)`,
        });
        const gone = createServer();
        await new Promise<void>((r) => gone.listen(0, "127.0.0.1", r));
        const port = (gone.address() as AddressInfo).port;
        await new Promise((r) => gone.close(r));
        const closed = await probeTailnet({ ...check, url: `http://127.0.0.1:${port}` }, "good", 2000);
        expect(closed).toEqual({
            ok: false,
            reason: `tailnet: cannot ask the headscale API at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
        });
    });
});

describe("the gate's tailnet flags", () => {
    const base = {
        node: "tethys",
        version: "v1.33.5+k3s1",
        sshHost: "10.0.0.1",
        sshPort: 22,
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDGFppaNk5AuY3v0liC69Fy1sjXaQnwx5LEoh0dG7B2q",
        since: "1",
        timeoutSeconds: 60,
    };
    it("render and read back to the same check", () => {
        const line = gateCommand({ ...base, tailnet: { ...check, url: "https://hs.example.test" } });
        expect(line).toContain(
            " --tailnet-api headscale --tailnet-url https://hs.example.test --tailnet - --tailnet-host tethys --tailnet-address 100.64.0.1 --exit-node",
        );
        // The words bash makes of it, after `npx --no-install oceanid-health gate`.
        const words = execFileSync("bash", ["-c", `printf '%s\\0' ${line}`], { encoding: "utf8" })
            .split("\0")
            .slice(4, -1);
        const args = parseGateArgs(words);
        expect(args.help === false && args.spec.tailnet).toEqual({ ...check, url: "https://hs.example.test" });
    });
    it("refuses half a tailnet check, naming the flags", () => {
        expect(() =>
            parseGateArgs([
                "--node",
                "n",
                "--version",
                "v1.33.5+k3s1",
                "--ssh",
                "h:22",
                "--host-key",
                "ssh-ed25519 AAAA",
                "--since",
                "1",
                "--timeout",
                "9",
                "--exit-node",
            ]),
        ).toThrow("--exit-node needs --tailnet-api");
        expect(() =>
            parseGateArgs([
                "--node",
                "n",
                "--version",
                "v1.33.5+k3s1",
                "--ssh",
                "h:22",
                "--host-key",
                "ssh-ed25519 AAAA",
                "--since",
                "1",
                "--timeout",
                "9",
                "--tailnet-api",
                "zerotier",
            ]),
        ).toThrow(
            '--tailnet-api must be tailscale or headscale, got "zerotier"; --tailnet-url must be the control server API\'s http(s) URL, got ""; --tailnet-host must name the machine in the tailnet',
        );
    });
});
