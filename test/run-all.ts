/**
 * `npm test`: set up the host (test/setup.ts), build dist/ (what the bin
 * runs and the package ships; `npm pack` builds it too), run the Deno suite and the
 * Node suite, each every time, and end with one line counting both:
 * `N passed, N failed, N skipped`. Exits non-zero when either suite failed
 * or did not report its counts. Options: `--only deno|node`, and
 * `--concurrency N` for the Node runner's `--test-concurrency`; the words
 * after `--` are test files (both suites take the same paths).
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { repoRoot } from "./helpers.ts";

/** One suite's counts. */
export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** The counts in Deno's closing line ("ok | 292 passed (3 steps) | 0 failed | 1 ignored (4m)"), if it has one. */
export function denoCounts(output: string): Counts | undefined {
  const m = /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/m.exec(output.replace(ANSI, ""));
  return m ? { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3] ?? 0) } : undefined;
}

/** The counts in the Node runner's summary (spec "ℹ pass 3" or TAP "# pass 3"); cancelled tests count as failed. */
export function nodeCounts(output: string): Counts | undefined {
  const text = output.replace(ANSI, "");
  const n = (key: string) => {
    const all = [...text.matchAll(new RegExp(`^[ℹ#] ${key} (\\d+)\\s*$`, "gm"))];
    return all.length ? Number(all.at(-1)![1]) : undefined;
  };
  const passed = n("pass");
  const failed = n("fail");
  if (passed === undefined || failed === undefined) return undefined;
  return { passed, failed: failed + (n("cancelled") ?? 0), skipped: (n("skipped") ?? 0) + (n("todo") ?? 0) };
}

/** The closing line CI reads. */
export function summaryLine(all: readonly Counts[]): string {
  const sum = (k: keyof Counts) => all.reduce((a, c) => a + c[k], 0);
  return `${sum("passed")} passed, ${sum("failed")} failed${sum("skipped") ? `, ${sum("skipped")} skipped` : ""}`;
}

/** Every `*.test.ts` below `dir`, sorted, relative to the repo. */
export function testFiles(dir = join(repoRoot, "test")): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".test.ts") && !f.split("/").includes("fixtures"))
    .map((f) => relative(repoRoot, join(dir, f)))
    .sort();
}

/** Run argv with output passed through and kept; resolves to the exit code and the output. */
function tee(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      process.stdout.write(d);
      output += d.toString("utf8");
    });
    child.stderr.on("data", (d: Buffer) => {
      process.stderr.write(d);
      output += d.toString("utf8");
    });
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
  });
}

async function main(argv: string[]): Promise<number> {
  const dash = argv.indexOf("--");
  const files = dash >= 0 ? argv.slice(dash + 1) : [];
  const opts = dash >= 0 ? argv.slice(0, dash) : argv;
  const value = (name: string) => (opts.includes(name) ? opts[opts.indexOf(name) + 1] : undefined);
  const only = value("--only");
  const concurrency = value("--concurrency");
  const setup = await tee([process.execPath, "--import", "tsx", join("test", "setup.ts"), "--quiet"]);
  if (setup.code !== 0) process.stderr.write(`! the host set-up (test/setup.ts) exited ${setup.code}; the tests that need what is missing will fail\n`);
  const build = await tee(["npm", "run", "--silent", "build"]);
  if (build.code !== 0) process.stderr.write(`! npm run build exited ${build.code}: the bin falls back to the TypeScript CLI, and the dist and package tests will fail\n`);
  const env = { ...process.env, NO_COLOR: "1" };
  const suites: { name: string; argv: string[]; counts: (out: string) => Counts | undefined }[] = [
    { name: "Deno", argv: [join("node_modules", ".bin", "deno"), "test", "-A", "--quiet", ...(files.length ? files : ["test/"])], counts: denoCounts },
    {
      name: "Node",
      argv: [process.execPath, "--import", "tsx", "--test", "--test-reporter=spec", ...(concurrency ? [`--test-concurrency=${concurrency}`] : []), ...(files.length ? files : testFiles())],
      counts: nodeCounts,
    },
  ];
  const results: { name: string; code: number; counts?: Counts }[] = [];
  for (const s of suites) {
    if (only && only.toLowerCase() !== s.name.toLowerCase()) continue;
    const started = Date.now();
    const r = await tee(s.argv, env);
    const counts = s.counts(r.output);
    results.push({ name: s.name, code: r.code, counts });
    const took = `${Math.round((Date.now() - started) / 1000)} s`;
    process.stdout.write(counts ? `\n== ${s.name} suite (${took}) == ${counts.passed} passed · ${counts.failed} failed · ${counts.skipped} skipped · exit ${r.code}\n\n` : `\n== ${s.name} suite (${took}) == no counts in its output · exit ${r.code}\n\n`);
  }
  // A suite that died without its summary counts as one failure, so the closing line cannot say 0 failed.
  const all = results.map((r) => r.counts ? { ...r.counts, failed: r.counts.failed + (r.code !== 0 && !r.counts.failed ? 1 : 0) } : { passed: 0, failed: 1, skipped: 0 });
  process.stdout.write(summaryLine(all) + "\n");
  return results.every((r) => r.code === 0 && r.counts) ? 0 : 1;
}

if ((import.meta as { main?: boolean }).main ?? process.argv[1]?.endsWith("run-all.ts")) process.exitCode = await main(process.argv.slice(2));
