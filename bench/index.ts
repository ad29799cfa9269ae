/**
 * `npm run bench`: run the benchmarks (issues #7 and #18) in one process, write
 * bench/results.json (machine, every result, timestamps) and
 * bench/results.md (the table README quotes), and print the table.
 * Results of benchmarks not run this time (--only, --skip-kernel) are kept
 * from the previous results.json, each with its own timestamp.
 *
 *   npm run bench [-- --quick] [--only boot,startup] [--skip-kernel]
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { minimist } from "zx";
import { writeFileAtomic } from "../lib/util/cache-dir.ts";
import { UsageError } from "../lib/util/errors.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { ABLATION_VARIANTS, run as bootRun } from "./boot.ts";
import { run as initramfs } from "./initramfs.ts";
import { run as kernel } from "./kernel.ts";
import { run as kernelTree } from "./kernel-tree.ts";
import { run as matrix } from "./matrix.ts";
import { run as arch } from "./arch.ts";
import { run as ninep } from "./9p.ts";
import { run as hostRoot } from "./host-root.ts";
import { run as snapshot } from "./snapshot.ts";
import { type BenchOptions, repoRoot, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, type BenchResults, machineInfo, machineLine, renderMarkdown, renderTable } from "./lib/report.ts";
import { run as runWarm } from "./run-warm.ts";
import { run as startup } from "./startup.ts";

/** Every benchmark by name, in the order they run. */
export const BENCHMARKS: Record<string, (o: BenchOptions) => Promise<BenchResult>> = {
  initramfs,
  kernel,
  "kernel-tree": kernelTree,
  // With the fast-defaults ablation: each default against the VM without it.
  boot: (o) => bootRun({ ...o, extraVariants: ABLATION_VARIANTS }),
  "run-warm": runWarm,
  startup,
  snapshot,
  matrix,
  arch,
  "host-root": hostRoot,
  "9p": ninep,
};

/** Where the results go. */
export const RESULTS_JSON: string = join(repoRoot, "bench", "results.json");
export const RESULTS_MD: string = join(repoRoot, "bench", "results.md");

async function previous(): Promise<BenchResult[]> {
  try {
    return (JSON.parse(await readFile(RESULTS_JSON, "utf8")) as BenchResults).results ?? [];
  } catch {
    return [];
  }
}

/** Run the benchmarks `names`, merge with earlier results, write both files; returns what was written. */
export async function runAll(names: readonly string[], opts: BenchOptions = {}): Promise<BenchResults> {
  useBenchCache(process.env);
  const machine = await machineInfo();
  process.stderr.write(`${machineLine(machine)}\n`);
  const fresh: BenchResult[] = [];
  for (const name of names) {
    process.stderr.write(`• ${name}\n`);
    const t = performance.now();
    fresh.push(await BENCHMARKS[name](opts));
    process.stderr.write(`  done in ${((performance.now() - t) / 1000).toFixed(0)} s\n`);
  }
  const kept = (await previous()).filter((r) => !fresh.some((f) => f.name === r.name));
  const order = Object.keys(BENCHMARKS);
  const results = [...kept, ...fresh].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const all: BenchResults = { timestamp: new Date().toISOString(), machine, results };
  await writeFileAtomic(RESULTS_JSON, JSON.stringify(all, null, 2) + "\n");
  await writeFileAtomic(RESULTS_MD, renderMarkdown(all));
  return all;
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["only"], boolean: ["quick", "skip-kernel"] });
  const only: string[] = args.only ? String(args.only).split(",").map((s) => s.trim()).filter(Boolean) : Object.keys(BENCHMARKS);
  const unknown = only.find((n) => !(n in BENCHMARKS));
  if (unknown) {
    process.stderr.write(`bench: ${new UsageError(`Unknown benchmark ${unknown}`, `use --only with some of ${Object.keys(BENCHMARKS).join(", ")}`).message}\n`);
    process.exit(2);
  }
  const names = only.filter((n) => !(args["skip-kernel"] && (n === "kernel" || n === "kernel-tree")));
  const all = await runAll(names, { quick: args.quick, progress: ttyProgress() });
  process.stdout.write(`\n${renderTable(all.results.flatMap((r) => r.rows))}\n${machineLine(all.machine)}\nWrote ${RESULTS_JSON} and ${RESULTS_MD}.\n`);
}
