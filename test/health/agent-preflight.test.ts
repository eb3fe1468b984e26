// The drain step's agent preflight: k3s' skew rule against the version the server's Node reports.
import { describe, expect, it } from "vitest";
import { agentPreflight } from "../../components/health/agent-preflight";

const check = (running: string | undefined, target: string) => agentPreflight("srv712429", { kubeletVersion: running }, target);

describe("agentPreflight", () => {
    it.each([
        ["v1.33.5+k3s1", "v1.33.5+k3s1"],
        ["v1.33.5+k3s2", "v1.33.5+k3s1"],
        ["v1.34.1+k3s1", "v1.33.5+k3s1"],
        ["v1.34.1+k3s1", "v1.33.0+k3s1"],
    ])("the server on %s takes an agent on %s", (running, target) => {
        expect(check(running, target)).toEqual({ ok: true, line: `preflight ok: the server srv712429 runs ${running}` });
    });

    it.each([
        ["v1.33.5+k3s1", "v1.33.6+k3s1"],
        ["v1.33.5+k3s1", "v1.33.5+k3s2"],
        ["v1.33.5+k3s1", "v1.34.0+k3s1"],
    ])("the server on %s refuses an agent on %s: newer", (running, target) => {
        expect(check(running, target)).toEqual({
            ok: false,
            reason: `the server srv712429 runs ${running} (as the API server reports it); agents must not be newer than the server: upgrade the server first`,
        });
    });

    it.each([
        ["v1.35.0+k3s1", "v1.33.5+k3s1"],
        ["v2.1.0+k3s1", "v1.33.5+k3s1"],
    ])("the server on %s refuses an agent on %s: too far behind", (running, target) => {
        expect(check(running, target)).toEqual({
            ok: false,
            reason: `the server srv712429 runs ${running} (as the API server reports it); ${target} is more than one minor release behind it`,
        });
    });

    it("says when the server is not registered, or reports no k3s release", () => {
        expect(agentPreflight("srv712429", undefined, "v1.33.5+k3s1")).toEqual({
            ok: false,
            reason: "the server srv712429 is not registered in the API server",
        });
        expect(check("v1.33.5", "v1.33.5+k3s1")).toEqual({
            ok: false,
            reason: "the server srv712429 reports kubelet version 'v1.33.5', which is not a k3s release",
        });
        expect(check(undefined, "v1.33.5+k3s1")).toEqual({
            ok: false,
            reason: "the server srv712429 reports kubelet version '', which is not a k3s release",
        });
    });
});
