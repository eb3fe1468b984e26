// A readiness probe run the way the kubelet runs one (pkg/kubelet/prober/worker.go): one probe per
// periodSeconds (the next tick waits for a slow probe), a probe that outlasts timeoutSeconds fails,
// the container starts not ready, turns ready after successThreshold successes in a row and not
// ready after failureThreshold failures in a row. Records when readiness changes.

export interface ProbeTiming {
    periodSeconds: number;
    timeoutSeconds: number;
    failureThreshold: number;
    successThreshold: number;
}

export class KubeletReadiness {
    ready = false;
    /** every change of readiness, with its time (Date.now()) */
    readonly changes: { ready: boolean; at: number }[] = [];
    /** every probe: its start and exit code */
    readonly probes: { at: number; code: number }[] = [];
    private running = true;
    private successes = 0;
    private failures = 0;
    private readonly loop: Promise<void>;

    /** `exec` runs the probe once (killed after `timing.timeoutSeconds`) and resolves with its exit code. */
    constructor(
        private readonly exec: () => Promise<number>,
        readonly timing: ProbeTiming,
    ) {
        this.loop = this.run();
    }

    private async run(): Promise<void> {
        while (this.running) {
            const at = Date.now();
            const code = await this.exec();
            this.probes.push({ at, code });
            if (code === 0) {
                this.failures = 0;
                if (++this.successes >= this.timing.successThreshold) this.set(true);
            } else {
                this.successes = 0;
                if (++this.failures >= this.timing.failureThreshold) this.set(false);
            }
            const wait = at + this.timing.periodSeconds * 1000 - Date.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
    }

    private set(ready: boolean) {
        if (ready === this.ready) return;
        this.ready = ready;
        this.changes.push({ ready, at: Date.now() });
    }

    /** Resolves with the time readiness became `ready` (now, if it already is), or rejects after `timeoutMs`. */
    async until(ready: boolean, timeoutMs: number): Promise<number> {
        const t0 = Date.now();
        while (this.ready !== ready) {
            if (Date.now() - t0 > timeoutMs) {
                const recent = this.probes.slice(-6).map((p) => `${new Date(p.at).toISOString()} exit ${p.code}`);
                throw new Error(`readiness did not turn ${ready ? "Ready" : "NotReady"} within ${timeoutMs} ms; last probes: ${recent.join(", ")}`);
            }
            await new Promise((r) => setTimeout(r, 100));
        }
        return this.changes.at(-1)?.at ?? t0;
    }

    async stop(): Promise<void> {
        this.running = false;
        await this.loop;
    }
}
