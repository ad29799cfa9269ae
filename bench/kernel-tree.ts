/**
 * A local tree's edit-build loop: the cold `--kernel-tree` build, then
 * rebuilds after touching one `.c` file (kernel/panic.c), microforge's
 * (`buildKernel({ tree })`: check the tree, reconfigure and verify, make in
 * the kept O= directory, store the artifacts) alternated with the same
 * incremental `make bzImage` by hand in that directory, after a warm-up.
 * Targets: a rebuild is a small fraction of the cold build (< 10%), and
 * costs little more than the bare make.
 *
 *   npm run bench:kernel-tree [-- --version 6.1 --kernel-source debian --rounds 3]
 */
import { mkdir, mkdtemp, readdir, rm, utimes } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { minimist } from "zx";
import { cacheRoot } from "../lib/util/cache-dir.ts";
import { runProcess } from "../lib/util/process.ts";
import { buildKernel, kernelBuildDir, reproducibleEnv } from "../lib/kernel/build.ts";
import { fetchKernel, resolveKernel } from "../lib/fetch/kernel-tarball.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { type BenchOptions, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, renderResult, type Row } from "./lib/report.ts";
import { alternate, ratio, summarize, times } from "./lib/stats.ts";

/** Options of the local-tree benchmark. */
export interface KernelTreeBenchOptions extends BenchOptions {
  /** Kernel version spec (default 6.1). */
  version?: string;
  /** kernel.org, debian, auto or a tarball path (default debian). */
  kernelSource?: string;
}

/** The file a developer touches between builds. */
const TOUCHED = "kernel/panic.c";

/** Cold build of an extracted tree with `--kernel-tree`, then touch-one-file rebuilds, ours alternated with bare make. */
export async function run(opts: KernelTreeBenchOptions = {}): Promise<BenchResult> {
  useBenchCache(process.env);
  const progress = opts.progress ?? (() => undefined);
  const env = { ...process.env, MICROFORGE_CACHE: await mkdtemp(join(cacheRoot(), "..", "bench-kernel-tree-")) };
  const quiet = { quiet: true, env };
  try {
    const tarball = await fetchKernel(await resolveKernel(opts.version ?? "6.1", { source: opts.kernelSource ?? "debian", ...quiet }), quiet);
    // A tree of the developer's own: the tarball extracted outside the cache (untimed).
    const top = join(env.MICROFORGE_CACHE, "src");
    await mkdir(top, { recursive: true });
    await runProcess(["tar", "-xf", tarball.path, "-C", top]);
    const tree = join(top, (await readdir(top))[0]);
    const jobs = availableParallelism();
    progress(`kernel-tree: cold build of ${tree}`);
    const t0 = performance.now();
    const cold = await buildKernel({ tree, ...quiet });
    const coldS = (performance.now() - t0) / 1000;
    const buildDir = kernelBuildDir(cold.key, env);
    const touch = async () => {
      const now = new Date();
      await utimes(join(tree, TOUCHED), now, now);
    };
    const benv = reproducibleEnv(env);
    const rounds = opts.rounds ?? (opts.quick ? 1 : 3);
    const samples = await alternate({
      microforge: async () => {
        await touch();
        return await buildKernel({ tree, ...quiet });
      },
      make: async () => {
        await touch();
        await runProcess(["make", "-C", tree, `O=${buildDir}`, `-j${jobs}`, "bzImage"], { env: benv });
      },
    }, { rounds, warmup: 1, onSample: (side, round, s) => progress(`kernel-tree: ${side} rebuild ${round + 1}/${rounds}: ${(s.ms / 1000).toFixed(1)} s`) });
    const ours = summarize(times(samples.microforge));
    const make = summarize(times(samples.make));
    const fraction = ours.median / 1000 / coldS;
    const overhead = ratio(ours.median, make.median);
    const rows: Row[] = [
      { benchmark: `rebuild after touching ${TOUCHED} vs cold build`, ours: `${(ours.median / 1000).toFixed(1)} s`, theirs: `${coldS.toFixed(1)} s cold`, ratio: fraction, target: "< 0.10 of cold", met: fraction < 0.1 },
      { benchmark: "rebuild: microforge vs bare incremental make", ours: `${(ours.median / 1000).toFixed(1)} s`, theirs: `${(make.median / 1000).toFixed(1)} s`, ratio: overhead, target: "< 1.5x", met: overhead < 1.5 },
    ];
    return {
      name: "kernel-tree",
      title: `Local tree: cold build vs rebuild after one change (Linux ${tarball.version}, ${jobs} jobs)`,
      timestamp: new Date().toISOString(),
      quick: !!opts.quick,
      rows,
      notes: [
        `Default features; the tree is the extracted tarball outside the cache. ${rounds} measured rounds after a warm-up, sides alternated; medians (min–max ours ${(ours.min / 1000).toFixed(1)}–${(ours.max / 1000).toFixed(1)} s, make ${(make.min / 1000).toFixed(1)}–${(make.max / 1000).toFixed(1)} s).`,
        "microforge's rebuild also re-runs allnoconfig with the merged fragment and verifies every symbol, then copies bzImage and vmlinux into the cache entry.",
      ],
      data: { version: tarball.version, jobs, coldS, ours, make, fraction, overhead },
    };
  } finally {
    await rm(env.MICROFORGE_CACHE, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["version", "kernel-source", "rounds"], boolean: ["quick"] });
  const result = await run({ version: args.version, kernelSource: args["kernel-source"], quick: args.quick, rounds: args.rounds ? Number(args.rounds) : undefined, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
