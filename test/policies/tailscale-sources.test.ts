// Where a Tailscale container's settings come from, and which of them the
// manifest cannot show: env values kept elsewhere, command lines that expand
// words when they run or read files from volumes, tailscaled config files.
// The verdicts of all three gates are in the fixture table and the rule
// folders; this file pins the readings and the exact messages.
import { describe, expect, it } from "vitest";
import { evaluate } from "../../policies/engine/evaluate";
import { fromPulumi } from "../../policies/engine/kube-object";
import { envSetting, PENDING, tailscaledConfig } from "../../policies/engine/tailscale";
import { commandLines, isTailscaleContainer, unseenInLine, unseenMounts } from "../../policies/engine/tailscale-command-lines";
import { exitNodeSettings } from "../../policies/engine/tailscale-exit-node";
import { UNKNOWN } from "../../policies/engine/unknown";
import { RULES } from "../../policies/rules";
import { compliantPodSpec, deployment, tailscaleContainer, type Obj } from "../fixtures/guard-cases";
import { guardConfig, NOW, packVerdictFor } from "../helpers/gates";

const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const hidden = (why: string) => ({ why, pending: false });

describe("env as the container sees it", () => {
    const c = (env: Obj[], envFrom?: Obj[]) => ({ name: "tailscale", env, ...(envFrom ? { envFrom } : {}) });

    it("a literal, the last entry of a name winning", () => {
        expect(
            envSetting(
                c([
                    { name: "TS_USERSPACE", value: "false" },
                    { name: "TS_USERSPACE", value: "true" },
                ]),
                "TS_USERSPACE",
            ),
        ).toBe("true");
    });

    it("the downward API, a ConfigMap and a Secret are named", () => {
        const fieldRef = { name: "TS_USERSPACE", valueFrom: { fieldRef: { fieldPath: "metadata.annotations['ts']" } } };
        expect(envSetting(c([fieldRef]), "TS_USERSPACE")).toEqual(hidden("comes from valueFrom.fieldRef (the downward API), which the manifest does not show"));
        const resource = { name: "TS_USERSPACE", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } };
        expect(envSetting(c([resource]), "TS_USERSPACE")).toEqual(
            hidden("comes from valueFrom.resourceFieldRef (the downward API), which the manifest does not show"),
        );
        const configMap = { name: "TS_EXTRA_ARGS", valueFrom: { configMapKeyRef: { name: "ts-settings", key: "args" } } };
        expect(envSetting(c([configMap]), "TS_EXTRA_ARGS")).toEqual(
            hidden('comes from valueFrom.configMapKeyRef "ts-settings", which the manifest does not show'),
        );
    });

    it("a $(VAR) reference is expanded by the kubelet, so it is not read", () => {
        const env = [
            { name: "MODE", value: "false" },
            { name: "TS_USERSPACE", value: "$(MODE)" },
        ];
        expect(envSetting(c(env), "TS_USERSPACE")).toEqual(hidden("refers to $(MODE), which the kubelet expands when the container starts"));
    });

    it("envFrom may set a name env does not hold, unless its prefix rules the name out", () => {
        const secret = { secretRef: { name: "ts-args" } };
        expect(envSetting(c([], [secret]), "TS_EXTRA_ARGS")).toEqual({
            ...hidden('is not in env, and envFrom.secretRef "ts-args" may set it'),
            envFrom: 'envFrom.secretRef "ts-args"',
        });
        expect(envSetting(c([], [{ prefix: "APP_", configMapRef: { name: "app" } }]), "TS_EXTRA_ARGS")).toBeUndefined();
        expect(envSetting(c([], [{ prefix: "TS_", configMapRef: { name: "ts" } }]), "TS_EXTRA_ARGS")).toEqual({
            ...hidden('is not in env, and envFrom.configMapRef "ts" (prefix TS_) may set it'),
            envFrom: 'envFrom.configMapRef "ts" (prefix TS_)',
        });
        // env wins over envFrom.
        expect(envSetting(c([{ name: "TS_EXTRA_ARGS", value: "" }], [secret]), "TS_EXTRA_ARGS")).toBe("");
    });

    it("a value not known yet is pending, which only preview findings are", () => {
        expect(envSetting({ env: UNKNOWN }, "TS_USERSPACE")).toBe(PENDING);
        expect(envSetting(c([{ name: "TS_USERSPACE", value: UNKNOWN }]), "TS_USERSPACE")).toBe(PENDING);
        expect(PENDING.pending).toBe(true);
    });
});

describe("command lines a container runs", () => {
    it("command and args as one line, then hooks and exec probes, each named", () => {
        const container = {
            command: ["tailscale", "set"],
            args: ["--exit-node", "srv712429"],
            lifecycle: { postStart: { exec: { command: ["sh", "-c", "tailscale up\t--accept-routes"] } }, preStop: { httpGet: { path: "/" } } },
            startupProbe: { exec: { command: ["tailscale", "status"] } },
        };
        expect(commandLines(container)).toEqual([
            { where: "command and args", words: ["tailscale", "set", "--exit-node", "srv712429"] },
            { where: "lifecycle.postStart", words: ["sh", "-c", "tailscale", "up", "--accept-routes"] },
            { where: "startupProbe", words: ["tailscale", "status"] },
        ]);
        expect(commandLines({ args: ["up"] })).toEqual([{ where: "args", words: ["up"] }]);
        expect(commandLines({ image: "tailscale/tailscale" })).toEqual([]);
    });

    it("a word not known yet makes the whole line pending", () => {
        expect(commandLines({ command: ["tailscale", UNKNOWN_STRING] })).toEqual([{ where: "command", words: PENDING }]);
        expect(commandLines({ readinessProbe: { exec: { command: UNKNOWN } } })).toEqual([{ where: "readinessProbe", words: PENDING }]);
    });

    it("a container that only runs tailscale from a hook is a Tailscale container", () => {
        expect(isTailscaleContainer({ image: "registry.example/app:1.0", lifecycle: { postStart: { exec: { command: ["tailscale", "set"] } } } })).toBe(true);
        expect(isTailscaleContainer({ image: "registry.example/app:1.0", livenessProbe: { exec: { command: ["true"] } } })).toBe(false);
    });
});

describe("words the manifest does not show", () => {
    const volumes = [
        { name: "tmp", emptyDir: {} },
        { name: "scripts", configMap: { name: "ts-scripts" } },
    ];
    const container = {
        volumeMounts: [
            { name: "tmp", mountPath: "/tmp" },
            { name: "scripts", mountPath: "/scripts" },
        ],
    };
    const mounts = unseenMounts(container, volumes);
    const line = (...words: string[]) => ({ where: "command", words });

    it("only mounts of volumes other than emptyDir count", () => {
        expect(mounts).toEqual([{ mountPath: "/scripts", volume: "scripts" }]);
        expect(unseenMounts({ volumeMounts: [{ name: "gone", mountPath: "/x" }] }, [])).toEqual([{ mountPath: "/x", volume: "gone" }]);
        expect(unseenMounts(container, UNKNOWN)).toBe(PENDING);
    });

    it("an expansion the shell or the kubelet makes when the line runs", () => {
        expect(unseenInLine(line("sh", "-c", "tailscale", "up", "$ARGS"), mounts)).toEqual(
            hidden("expands $ARGS when it runs, which the manifest does not show"),
        );
        expect(unseenInLine(line("--exit-node=$(EXIT_NODE)"), mounts)).toEqual(
            hidden("expands --exit-node=$(EXIT_NODE) when it runs, which the manifest does not show"),
        );
        expect(unseenInLine(line("tailscale", "up", "`cat", "/etc/args`"), mounts)?.why).toBe("expands `cat when it runs, which the manifest does not show");
    });

    it("a file from a mounted volume: a script, a sourced file, a flag's value", () => {
        expect(unseenInLine(line("sh", "/scripts/start.sh"), mounts)).toEqual(
            hidden('reads /scripts/start.sh from volume "scripts" (mounted at /scripts), which the manifest does not show'),
        );
        expect(unseenInLine(line("tailscaled", "--config=/scripts/ts.hujson"), mounts)?.why).toMatch(
            /^reads --config=\/scripts\/ts\.hujson from volume "scripts"/,
        );
        expect(unseenInLine(line("cd", "/scripts"), mounts)).toBeDefined();
    });

    it("paths that only look alike, and emptyDir files, are read as shown", () => {
        expect(unseenInLine(line("sh", "/opt/scripts/start.sh", "/scripts2/x", "/tmp/tailscaled.sock"), mounts)).toBeUndefined();
        expect(unseenInLine({ where: "command", words: PENDING }, mounts)).toBe(PENDING);
    });
});

describe("tailscaled config files", () => {
    it("--config as Go's flag package reads it; an empty value gives none", () => {
        expect(tailscaledConfig(["--config=/etc/ts/a.hujson"])).toBe("/etc/ts/a.hujson");
        expect(tailscaledConfig(["-config", "vm:user-data"])).toBe("vm:user-data");
        expect(tailscaledConfig(["--config="])).toBeUndefined();
        expect(tailscaledConfig(["--config=/a", "--config="])).toBeUndefined();
        expect(tailscaledConfig(["--tun=userspace-networking", "stray", "--config=/a"])).toBeUndefined();
    });

    it("every exit-node source, the config file ones included", () => {
        const container: Obj = {
            ...tailscaleContainer(),
            command: ["sh", "-c", "tailscaled --config=/etc/tailscaled/a.hujson & tailscale up --exit-node=100.121.150.65"],
        };
        container.env.push({ name: "TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR", value: "/etc/tsconfig" });
        expect(exitNodeSettings(container, [{ name: "tmp", emptyDir: {} }])).toEqual([
            { value: "100.121.150.65", where: "TS_EXTRA_ARGS" },
            {
                unseen: hidden("gives tailscaled a config file, whose exitNode the manifest does not show"),
                setting: "TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR=/etc/tsconfig",
            },
            { value: "100.121.150.65", where: "command" },
            {
                unseen: hidden("gives tailscaled a config file, whose exitNode the manifest does not show"),
                setting: "--config=/etc/tailscaled/a.hujson in command",
            },
        ]);
    });
});

describe("what the pack reports", () => {
    const verdict = (change: (s: Obj) => void, unknownValues: "mandatory" | "advisory" = "mandatory") => {
        const spec = compliantPodSpec();
        change(spec);
        return packVerdictFor([{ type: "kubernetes:apps/v1:Deployment", props: deployment(spec) }], guardConfig([], unknownValues));
    };

    it("a value kept outside the manifest stays mandatory when unknown values are lowered to advisory", () => {
        const v = verdict((s) => {
            s.containers[1].env[0] = { name: "TS_USERSPACE", valueFrom: { configMapKeyRef: { name: "ts", key: "userspace" } } };
        }, "advisory");
        expect(v.mandatory).toEqual(["tailscale-userspace-only"]);
        expect(v.messages[0]).toBe(
            'Deployment apps/web: cannot prove container "tailscale" keeps TS_USERSPACE true: TS_USERSPACE comes from valueFrom.configMapKeyRef "ts", ' +
                "which the manifest does not show. Fix: Leave TS_USERSPACE unset (it defaults to true), drop the tun device, and keep state in memory " +
                '(TS_KUBE_SECRET="") or in a Kubernetes Secret. If the workload is trusted with the node, exempt it with a reason: ' +
                'metadata.annotations: {guardrails.oceanid/exempt: tailscale-userspace-only, guardrails.oceanid/reason: "<why this is safe>"}.',
        );
    });

    it("a command line not known yet is lowered with the other unknown values", () => {
        const spec = compliantPodSpec();
        spec.containers[1].args = [UNKNOWN_STRING];
        const objects = fromPulumi("kubernetes:apps/v1:Deployment", deployment(spec));
        const { violations } = evaluate(objects, RULES, guardConfig([], "advisory"), { annotations: true, now: NOW });
        expect(violations.map((v) => [v.policy, v.enforcementLevel, v.unknown, v.message])).toEqual([
            [
                "tailscale-exit-node-by-ip",
                "advisory",
                true,
                'Deployment apps/web: cannot prove container "tailscale" names its exit node by IP: its args is not known until the update runs',
            ],
            [
                "tailscale-userspace-only",
                "advisory",
                true,
                'Deployment apps/web: cannot prove container "tailscale" starts tailscaled in userspace mode: its args is not known until the update runs',
            ],
        ]);
    });

    it("a hook's expansion names the container, the hook and the word", () => {
        const v = verdict((s) => (s.containers[1].lifecycle = { postStart: { exec: { command: ["sh", "-c", "tailscale set ${TS_SET_ARGS}"] } } }));
        expect([...v.mandatory].sort()).toEqual(["tailscale-exit-node-by-ip", "tailscale-userspace-only"]);
        expect(v.messages.map((m) => m.split(". Fix:")[0]).sort()).toEqual([
            'Deployment apps/web: cannot prove container "tailscale" names its exit node by IP: its lifecycle.postStart expands ${TS_SET_ARGS} when it runs, which the manifest does not show',
            'Deployment apps/web: cannot prove container "tailscale" starts tailscaled in userspace mode: its lifecycle.postStart expands ${TS_SET_ARGS} when it runs, which the manifest does not show',
        ]);
    });
});
