// The error every file here throws where kubectl refuses a document: go-yaml's,
// sigs.k8s.io/yaml's or apimachinery's reason, with its place when it has one.

/** A document kubectl refuses, with go-yaml's, sigs.k8s.io/yaml's or apimachinery's reason. */
export class KubectlReadError extends Error {
    /** The line of `offset` in the document's text, 0-based. */
    line?: number;
    constructor(
        message: string,
        /** Offset in the document's text, when the reason has a place. */
        readonly offset?: number,
    ) {
        super(message);
    }
}
