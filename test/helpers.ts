/**
 * Test helpers: temp dirs under the ignored `.cache/test` folder, running the
 * CLI as a subprocess on the current runtime, and which runtime we are on.
 */
import { mkdir, mkdtemp } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess, type RunResult } from "../lib/util/process.ts";
import { upstreamVersion } from "../lib/sources/debian.ts";

/** The repository root. */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The test cache: `MICROFORGE_CACHE` if set, else `<repo>/.cache/test`. */
export const testCache: string = process.env.MICROFORGE_CACHE ?? join(repoRoot, ".cache", "test");

/** A fresh temp directory under the test cache. */
export async function tempDir(prefix = "t-"): Promise<string> {
  await mkdir(join(testCache, "tmp"), { recursive: true });
  return await mkdtemp(join(testCache, "tmp", prefix));
}

/** True under Deno. */
export const onDeno: boolean = "Deno" in globalThis;

/** argv prefix that runs a TypeScript file on `runtime`. */
export function tsRunner(runtime: "node" | "deno" = onDeno ? "deno" : "node"): string[] {
  return runtime === "deno"
    ? [join(repoRoot, "node_modules", ".bin", "deno"), "run", "-A", "--quiet"]
    : [process.execPath, "--import", "tsx"];
}

/** Run `microforge ARGS` as a subprocess; never throws on exit status. */
export async function cli(args: string[], options: { env?: Record<string, string | undefined>; runtime?: "node" | "deno"; input?: string } = {}): Promise<RunResult> {
  const env = { ...process.env, MICROFORGE_CACHE: testCache, ...options.env };
  return await runProcess([...tsRunner(options.runtime), join(repoRoot, "lib", "cli.ts"), ...args], { env, nothrow: true, cwd: repoRoot, input: options.input });
}

/**
 * Debian's kernel source tarball of `series` ("6.1", "6.12") as this machine
 * has it, and the upstream version dpkg says it is: tests serve and expect
 * that version, never a fixed one (apt's lists decide which one is installed).
 */
export async function debianKernelSource(series: string): Promise<{ file: string; version: string }> {
  const pkg = `linux-source-${series}`;
  const r = await runProcess(["dpkg-query", "-W", "-f", "${Version}", pkg], { nothrow: true });
  if (r.code !== 0 || !r.stdout.trim()) throw new Error(`${pkg} is not installed: npm test installs it (test/setup.ts)`);
  return { file: `/usr/src/${pkg}.tar.xz`, version: upstreamVersion(r.stdout.trim()) };
}
