// Wall-clock seconds of a test file's slow steps, printed once at its end, so
// the figures the README quotes come from the run itself.

export interface Timings {
    /** Runs `f`, recording how long it took under `step` (also when it throws). */
    time<T>(step: string, f: () => Promise<T>): Promise<T>;
    record(step: string, seconds: number): void;
    /** One line: `<title>: step 1.2, step 3.4`. */
    print(): void;
}

export function timings(title: string): Timings {
    const seconds: Record<string, number> = {};
    return {
        async time(step, f) {
            const t0 = Date.now();
            try {
                return await f();
            } finally {
                seconds[step] = (Date.now() - t0) / 1000;
            }
        },
        record(step, s) {
            seconds[step] = s;
        },
        print() {
            console.log(
                `${title}: ${Object.entries(seconds)
                    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
                    .join(", ")}`,
            );
        },
    };
}
