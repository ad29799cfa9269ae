/**
 * POSIX shell quoting, for command lines shown to people and for `/init`
 * scripts run by busybox `sh`. zx's `quote` emits bash's `$'...'`, which POSIX
 * sh does not understand, so single quotes are used here.
 */

/** Quote one word for a POSIX shell; safe words are left bare. */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Quote each word and join with spaces. */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}
