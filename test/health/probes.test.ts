// The probes against real counterparts on loopback: OpenSSH's sshd, and an HTTPS server answering
// like k3s' API server and /ping.
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KubeApiError, observeKubernetes, pingServer, probeSsh } from "../../components/health/probes";
import { fingerprint, parseHostKey } from "../../components/health/ssh-host";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["/usr/sbin/sshd", "ssh-keygen"]);
import {
    closedPort,
    fakeApiServer,
    kubeconfigText,
    leaseObject,
    LOOPBACK,
    NOW,
    nodeObject,
    selfSignedCert,
    silentServer,
    startSshd,
    tmpDir,
    type FakeApi,
    type Sshd,
} from "./fixtures";

// A real key of another host: well formed, not this sshd's.
const OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDGFppaNk5AuY3v0liC69Fy1sjXaQnwx5LEoh0dG7B2q";

suite("probeSsh against a real sshd", () => {
    let sshd: Sshd;
    beforeAll(async () => {
        sshd = await startSshd();
    });
    afterAll(() => sshd?.stop());

    it("is ok when the server proves the pinned ed25519 key, though it lets nobody log in", async () => {
        expect(await probeSsh(LOOPBACK, sshd.port, sshd.hostKeys["ssh-ed25519"], 5000)).toEqual({ ok: true });
    });

    it("asks for the pinned key's type, so a server with several host keys shows that one", async () => {
        expect(await probeSsh(LOOPBACK, sshd.port, sshd.hostKeys["ecdsa-sha2-nistp256"], 5000)).toEqual({ ok: true });
    });

    it("reports a different key with the fingerprint ssh-keygen prints for the real one", async () => {
        expect(await probeSsh(LOOPBACK, sshd.port, OTHER_KEY, 5000)).toEqual({
            ok: false,
            reason: `ssh ${LOOPBACK}:${sshd.port} host key does not match the pinned key (got ssh-ed25519 ${sshd.fingerprints["ssh-ed25519"]})`,
        });
    });

    it("reports a pinned type the server has no key of", async () => {
        const rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDx";
        expect(await probeSsh(LOOPBACK, sshd.port, rsa, 5000)).toEqual({
            ok: false,
            reason: `ssh ${LOOPBACK}:${sshd.port} host key does not match the pinned key (the server has no ssh-rsa host key)`,
        });
    });

    it("reports a closed port as unreachable", async () => {
        const port = await closedPort();
        expect(await probeSsh(LOOPBACK, port, sshd.hostKeys["ssh-ed25519"], 5000)).toEqual({
            ok: false,
            reason: `ssh ${LOOPBACK}:${port} unreachable (connect ECONNREFUSED)`,
        });
    });

    it("gives up on a server that never speaks, at the timeout", async () => {
        const silent = await silentServer();
        try {
            const started = Date.now();
            expect(await probeSsh(LOOPBACK, silent.port, sshd.hostKeys["ssh-ed25519"], 500)).toEqual({
                ok: false,
                reason: `ssh ${LOOPBACK}:${silent.port} unreachable (timed out after 0.5s)`,
            });
            expect(Date.now() - started).toBeLessThan(3000);
        } finally {
            await silent.close();
        }
    });

    it("probes several nodes at once", async () => {
        const results = await Promise.all([1, 2, 3, 4].map(() => probeSsh(LOOPBACK, sshd.port, sshd.hostKeys["ssh-ed25519"], 5000)));
        expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
    });
});

suite("host keys", () => {
    it("splits a pinned line into its type and blob, and refuses a type that is not the blob's", () => {
        expect(parseHostKey(OTHER_KEY)?.type).toBe("ssh-ed25519");
        expect(parseHostKey(OTHER_KEY.replace("ssh-ed25519", "ssh-rsa"))).toBeUndefined();
        expect(parseHostKey("ssh-ed25519")).toBeUndefined();
    });

    it("fingerprints as ssh-keygen does: SHA256 of the blob, base64 without padding", () => {
        expect(fingerprint(parseHostKey(OTHER_KEY)!.blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    });
});

suite("pingServer and observeKubernetes against a k3s-like HTTPS server", () => {
    const tls = selfSignedCert(tmpDir());
    let api: FakeApi;
    let nodes: object[] = [];
    beforeAll(async () => {
        api = await fakeApiServer(tls, () => ({ nodes, leases: [leaseObject("a", NOW)] }));
    });
    afterAll(() => api?.close());

    const kubeconfig = (server: string, caPem?: string) => {
        const kc = new KubeConfig();
        kc.loadFromString(kubeconfigText(server, { caPem }));
        return kc;
    };

    it("ping: pong, with TLS checked against the cluster's CA", async () => {
        expect(await pingServer(api.url, tls.cert)).toEqual({ ok: true });
    });

    it("ping: refuses a server the CA does not vouch for", async () => {
        expect(await pingServer(api.url)).toEqual({ ok: false, reason: `server ping ${api.url} failed (TLS DEPTH_ZERO_SELF_SIGNED_CERT)` });
    });

    it("ping: a closed port, and a server answering something else", async () => {
        const port = await closedPort();
        expect(await pingServer(`https://${LOOPBACK}:${port}`, tls.cert)).toEqual({
            ok: false,
            reason: `server ping https://${LOOPBACK}:${port} failed (connect ECONNREFUSED)`,
        });
        const other = await fakeApiServer(tls, () => ({ nodes: [], leases: [] }), { ping: "404 page not found" });
        try {
            expect(await pingServer(other.url, tls.cert)).toEqual({
                ok: false,
                reason: `server ping ${other.url} failed (answered "404 page not found", not "pong")`,
            });
        } finally {
            await other.close();
        }
    });

    it("reads each node's Ready condition, kubelet version and Lease, sending the kubeconfig's token", async () => {
        nodes = [nodeObject("a"), nodeObject("b", { ready: "False", reason: "KubeletNotReady", message: "PLEG is not healthy", kubelet: "v1.33.4+k3s1" })];
        const state = await observeKubernetes(kubeconfig(api.url, tls.cert), 5000);
        expect(state.nodes.get("a")).toEqual({
            ready: { status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" },
            kubeletVersion: "v1.33.5+k3s1",
        });
        expect(state.nodes.get("b")).toEqual({
            ready: { status: "False", reason: "KubeletNotReady", message: "PLEG is not healthy" },
            kubeletVersion: "v1.33.4+k3s1",
        });
        expect(state.leases.get("a")?.toISOString()).toBe(NOW.toISOString());
        expect(state.leases.has("b")).toBe(false);
        expect(api.auth).toContain("Bearer kubeconfig-token-DO-NOT-PRINT-0123456789");
    });

    it.each<[string, () => Promise<{ kc: KubeConfig; timeoutMs: number; close?: () => Promise<void> }>, string]>([
        ["a closed port", async () => ({ kc: kubeconfig(`https://${LOOPBACK}:${await closedPort()}`), timeoutMs: 5000 }), "unreachable (connect ECONNREFUSED)"],
        [
            "a server the CA does not vouch for",
            async () => ({ kc: kubeconfig(api.url), timeoutMs: 5000 }),
            "failed TLS verification (TLS DEPTH_ZERO_SELF_SIGNED_CERT)",
        ],
        [
            "a server that hangs",
            async () => {
                const silent = await silentServer();
                return { kc: kubeconfig(`https://${LOOPBACK}:${silent.port}`), timeoutMs: 400, close: silent.close };
            },
            "timed out after 0.4s",
        ],
        [
            "credentials refused",
            async () => {
                const refusing = await fakeApiServer(tls, () => "unauthorized");
                return { kc: kubeconfig(refusing.url, tls.cert), timeoutMs: 5000, close: refusing.close };
            },
            "refused the credentials (HTTP 401 Unauthorized)",
        ],
    ])("throws KubeApiError for %s, with no part of the kubeconfig in it", async (_, setup, message) => {
        const { kc, timeoutMs, close } = await setup();
        try {
            const err = await observeKubernetes(kc, timeoutMs).then(
                () => undefined,
                (e: unknown) => e,
            );
            expect(err).toBeInstanceOf(KubeApiError);
            expect((err as Error).message).toBe(message);
            expect((err as Error).message).not.toContain(LOOPBACK);
        } finally {
            await close?.();
        }
    });
});
