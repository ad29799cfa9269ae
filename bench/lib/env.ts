/**
 * Where benchmarks run: the repository root, the cache they share with the
 * tests (so the default kernel is already built), and the CLIs they time.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, resolve } from "node:path";

/** The repository root (bench/lib/../..). */
export const repoRoot: string = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Set `MICROFORGE_CACHE` to `.cache/test` unless the caller set it, so
 * re-runs reuse the kernel the tests built and subprocesses see the same
 * cache; returns the cache root.
 */
export function useBenchCache(env: Record<string, string | undefined> = process.env): string {
  if (!env.MICROFORGE_CACHE) env.MICROFORGE_CACHE = join(repoRoot, ".cache", "test");
  return resolve(env.MICROFORGE_CACHE);
}

/** The project's Deno binary (the `deno` npm package), as `npx deno` would run it. */
export const denoBin: string = join(repoRoot, "node_modules", ".bin", "deno");

/** The Node entry of the CLI. */
export const nodeCli: string = join(repoRoot, "bin", "microforge.js");

/** What bin/microforge.js loads: the prebuilt bundle when dist/cli.js exists, else lib/cli.ts through tsx. */
export function nodeCliEntry(): string {
  return existsSync(join(repoRoot, "dist", "cli.js")) ? "dist/cli.js (prebuilt bundle)" : "lib/cli.ts through tsx (no dist/cli.js)";
}

/** The TypeScript CLI, for Deno and `node --import tsx`. */
export const tsCli: string = join(repoRoot, "lib", "cli.ts");

/** Common options of every benchmark's `run`. */
export interface BenchOptions {
  /** Fewer rounds (a smoke run, not figures to quote). */
  quick?: boolean;
  /** Measured rounds (overrides the default and --quick). */
  rounds?: number;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
}

/** A progress function writing to stderr when it is a terminal, else nothing. */
export function ttyProgress(): (line: string) => void {
  return process.stderr.isTTY ? (line) => process.stderr.write(`  ${line}\n`) : () => undefined;
}
