/** Quotes a value for a POSIX shell: one single-quoted word, whatever it holds. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A word as the shell reads it back: bare when it holds nothing the shell would interpret. */
export function shellWord(word: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : shellQuote(word);
}
