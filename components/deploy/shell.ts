/** Shell quoting for the deploy's scripts. Pure. */

/** Single-quotes a word for POSIX shells. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
