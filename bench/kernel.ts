/**
 * Kernel build overhead: a cold `buildKernel` (configure + verify + make +
 * copy) against the same `make allnoconfig` + fragment + `make -jN bzImage`
 * by hand on the same extracted tree, in alternating rounds (each side goes
 * first in every other round, so a warm page cache or a busy neighbour
 * favours neither); then a cache hit; with --repro a clean build's bzImage
 * must equal the first one's (reproducibility).
 * Target: overhead ≤ 3%, cache hit < 1 s.
 *
 *   npm run bench:kernel [-- --rounds 2 --version 6.1 --kernel-source debian --repro]
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { minimist } from "zx";
import { cacheRoot } from "../lib/util/cache-dir.ts";
import { runProcess } from "../lib/util/process.ts";
import { buildKernel, kernelBuildDir, reproducibleEnv } from "../lib/kernel/build.ts";
import { kernelConfigRequest } from "../lib/kernel/fragments.ts";
import { fetchKernel, resolveKernel } from "../lib/fetch/kernel-tarball.ts";
import { sha256File } from "../lib/util/hash.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { sourceTree } from "../lib/kernel/source-tree.ts";
import { type BenchOptions, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, renderResult, type Row } from "./lib/report.ts";
import { ratio } from "./lib/stats.ts";

/** Options of the kernel benchmark. */
export interface KernelBenchOptions extends BenchOptions {
  /** Kernel version spec (default 6.1). */
  version?: string;
  /** kernel.org, debian, auto or a tarball path (default debian). */
  kernelSource?: string;
  /** Also rebuild from scratch and compare the bzImage sha256. */
  repro?: boolean;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * CPU seconds (user + system) this process and every child it waited for
 * have used so far (/proc/self/stat's utime, stime, cutime, cstime): make
 * waits for its compilers, so a build's whole tree is counted. A busy
 * neighbour stretches wall time but hardly this.
 */
async function cpuSeconds(): Promise<number> {
  const stat = await readFile("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14-17 of proc(5) are at 11-14 here (the first two are cut off); USER_HZ is 100 on Linux.
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, (performance.now() - t) / 1000];
}

/** `fn`'s wall seconds and CPU seconds (its children's included). */
async function timeCpu<T>(fn: () => Promise<T>): Promise<[T, number, number]> {
  const c = await cpuSeconds();
  const [r, s] = await time(fn);
  return [r, s, (await cpuSeconds()) - c];
}

/** Build the kernel cold with microforge and by hand, then hit the cache. */
export async function run(opts: KernelBenchOptions = {}): Promise<BenchResult> {
  useBenchCache(process.env);
  const progress = opts.progress ?? (() => undefined);
  // A fresh cache, so the build is really cold (the tarball is fetched into it untimed).
  const env = { ...process.env, MICROFORGE_CACHE: await mkdtemp(join(cacheRoot(), "..", "bench-kernel-")) };
  const quiet = { quiet: true, env };
  try {
    const tarball = await fetchKernel(await resolveKernel(opts.version ?? "6.1", { source: opts.kernelSource ?? "debian", ...quiet }), quiet);
    const tree = await sourceTree(tarball, { env });
    const jobs = availableParallelism();
    const rounds = opts.rounds ?? (opts.quick ? 1 : 2);
    const handDir = join(env.MICROFORGE_CACHE, "by-hand");
    const frag = join(env.MICROFORGE_CACHE, "fragment");
    await writeFile(frag, kernelConfigRequest({ version: tarball.version }).fragment);
    const benv = reproducibleEnv(env);
    let ours: Awaited<ReturnType<typeof buildKernel>> | undefined;
    const oursTimes: number[] = [];
    const handTimes: number[] = [];
    const oursCpu: number[] = [];
    const handCpu: number[] = [];
    const sides = {
      ours: async () => {
        // Cold every time: no cache entry and no kept O= directory.
        if (ours) await Promise.all([rm(ours.dir, { recursive: true, force: true }), rm(kernelBuildDir(ours.key, env), { recursive: true, force: true })]);
        const [built, s, cpu] = await timeCpu(() => buildKernel({ tarball, ...quiet }));
        ours = built;
        oursTimes.push(s);
        oursCpu.push(cpu);
      },
      hand: async () => {
        await rm(handDir, { recursive: true, force: true });
        await mkdir(handDir, { recursive: true });
        const [, s, cpu] = await timeCpu(async () => {
          await runProcess(["make", "-C", tree, `O=${handDir}`, `KCONFIG_ALLCONFIG=${frag}`, "allnoconfig"], { env: benv });
          await runProcess(["make", "-C", tree, `O=${handDir}`, `-j${jobs}`, "bzImage"], { env: benv });
        });
        handTimes.push(s);
        handCpu.push(cpu);
      },
    };
    for (let i = 0; i < rounds; i++) {
      for (const side of i % 2 ? (["hand", "ours"] as const) : (["ours", "hand"] as const)) {
        progress(`kernel: round ${i + 1}/${rounds}, ${side === "ours" ? "microforge" : "by hand"} (Linux ${tarball.version})`);
        await sides[side]();
      }
    }
    const [oursS, handS] = [median(oursTimes), median(handTimes)];
    const [, hitS] = await time(() => buildKernel({ tarball, ...quiet }));
    const handSha = await sha256File(join(handDir, "arch/x86/boot/bzImage"));
    const r = ratio(oursS, handS);
    const rows: Row[] = [
      { benchmark: "kernel build, cold", ours: `${oursS.toFixed(1)} s`, theirs: `${handS.toFixed(1)} s`, ratio: r, target: "overhead ≤ 3%", met: r <= 1.03 },
      { benchmark: "kernel build, cold, CPU time", ours: `${median(oursCpu).toFixed(1)} s`, theirs: `${median(handCpu).toFixed(1)} s`, ratio: ratio(median(oursCpu), median(handCpu)), target: "overhead ≤ 3%", met: ratio(median(oursCpu), median(handCpu)) <= 1.03 },
      { benchmark: "kernel build, cache hit", ours: `${(hitS * 1000).toFixed(0)} ms`, theirs: "", target: "< 1 s", met: hitS < 1 },
    ];
    const notes = [
      `Linux ${tarball.version}, make -j${jobs}; ${rounds} alternating round(s), medians (microforge ${oursTimes.map((t) => t.toFixed(1)).join(", ")} s; by hand ${handTimes.map((t) => t.toFixed(1)).join(", ")} s); same extracted tree; bzImage ${handSha === ours!.bzImageSha256 ? "identical" : "differs"} between the two.`,
    ];
    let reproducible: boolean | undefined;
    if (opts.repro) {
      // A clean build: drop the artifacts and the kept build directory too.
      await rm(ours!.dir, { recursive: true, force: true });
      await rm(kernelBuildDir(ours!.key, env), { recursive: true, force: true });
      const again = await buildKernel({ tarball, ...quiet });
      reproducible = again.bzImageSha256 === ours!.bzImageSha256;
      notes.push(`Reproducible: a second clean build ${reproducible ? "has the same" : "DIFFERS in"} bzImage sha256.`);
    }
    return {
      name: "kernel",
      title: `Kernel build: microforge vs by hand (Linux ${tarball.version}, ${jobs} jobs)`,
      timestamp: new Date().toISOString(),
      quick: !!opts.quick,
      rows,
      notes,
      data: { version: tarball.version, jobs, rounds, oursS, handS, oursTimes, handTimes, oursCpu, handCpu, hitS, oursSha256: ours!.bzImageSha256, handSha256: handSha, reproducible },
    };
  } finally {
    await rm(env.MICROFORGE_CACHE, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["version", "kernel-source", "rounds"], boolean: ["repro", "quick"] });
  const result = await run({ version: args.version, kernelSource: args["kernel-source"], repro: args.repro, quick: args.quick, rounds: args.rounds ? Number(args.rounds) : undefined, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
