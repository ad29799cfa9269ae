/**
 * POSIX shell quoting, for command lines shown to people and for `/init`
 * scripts run by busybox `sh`. zx's `quote` emits bash's `$'...'`, which POSIX
 * sh does not understand, so single quotes are used here.
 */
import { ShellQuoteError } from "./errors.ts";

/** Quote one word for a POSIX shell; safe words are left bare. Throws {@linkcode ShellQuoteError} for a NUL byte. */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  if (word.includes("\0")) {
    throw new ShellQuoteError(`Cannot quote ${JSON.stringify(word)} for a shell: it holds a NUL byte, which no command-line argument can carry`, "remove the NUL byte from the value");
  }
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Quote each word and join with spaces. */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}
