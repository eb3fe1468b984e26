// Types of large-inputs.mjs, for test/policies/large-input.test.ts.
export declare const LAST_NAME: string;
export declare const violatingDaemonSet: Record<string, unknown>;
/** `documents` small ConfigMaps, then the violating DaemonSet. */
export declare function writeManyDocuments(path: string, options?: { documents?: number }): { bytes: number; objects: number };
/** A List of compliant Deployments of about `bytes`, its last item the violating DaemonSet. */
export declare function writeBigList(path: string, options?: { bytes?: number; format?: "yaml" | "json" }): { bytes: number; objects: number };
