/**
 * 9p shares under realistic work, with today's mount options against tuned
 * ones, each variant one VM booted per round, alternated after a warm-up:
 *   - `find` over an extracted kernel tree (75,000 files, read-only share);
 *   - reading a 100 MB file;
 *   - `git status` in a checkout (this repository; git is packed with --binary).
 * Each task is timed inside the guest (/proc/uptime), so the boot is not in
 * the figures. A variant's options come in on the kernel command line
 * (`microforge.9p=OPTS`, which the init template appends to its own).
 *
 *   npm run bench:9p [-- --rounds 3 --quick]
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { minimist } from "zx";
import { cacheRoot } from "../lib/util/cache-dir.ts";
import { lockedKernel } from "../lib/fetch/locked.ts";
import { sourceTree } from "../lib/kernel/source-tree.ts";
import { execInVm } from "../lib/run/exec.ts";
import { vmWithDefaults } from "../lib/recipe/defaults.ts";
import type { Logger } from "../lib/util/log.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { type BenchOptions, repoRoot, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, formatMs, renderResult, type Row } from "./lib/report.ts";
import { alternate, ratio, summarize } from "./lib/stats.ts";

const silent: Logger = { step: () => undefined, warn: () => undefined };

/**
 * The mount options compared, each appended to microforge's own (later
 * options win); the first, the kernel's default msize, is the baseline.
 */
export const VARIANTS: Record<string, string> = {
  "msize=131072 (the kernel's default)": "msize=131072",
  "msize=512000 (microforge's default)": "",
  "msize=512000,cache=loose": "cache=loose",
  "msize=512000,cache=mmap": "cache=mmap",
};

const TASKS = ["find", "read 100 MB", "git status"] as const;
type Task = (typeof TASKS)[number];

/** The guest script: each task timed with /proc/uptime (10 ms ticks), one `TASK SECONDS` line each. */
function script(): string {
  const t = `t() { read a _ < /proc/uptime; name=$1; shift; "$@" >/dev/null 2>&1 || echo "failed: $name" >&2; read b _ < /proc/uptime; echo "$name $a $b"; }`;
  return [
    t,
    `t find find /mnt/share/tree`,
    `t read cat /mnt/share1/big.bin`,
    `cd /mnt/share2 && t git git status --porcelain`,
  ].join("\n");
}

function parse(out: string): Record<Task, number> {
  const got: Record<string, number> = {};
  for (const line of out.trim().split("\n")) {
    const [name, a, b] = line.split(" ");
    got[name] = (Number(b) - Number(a)) * 1000;
  }
  return { find: got.find, "read 100 MB": got.read, "git status": got.git };
}

/** Time the tasks on each variant's mount options. */
export async function run(opts: BenchOptions = {}): Promise<BenchResult> {
  const env = process.env;
  useBenchCache(env);
  const rounds = opts.rounds ?? (opts.quick ? 1 : 3);
  const progress = opts.progress ?? (() => undefined);
  const tarball = await lockedKernel("6.1", { source: "debian", quiet: true, env });
  const tree = await sourceTree(tarball, { env, log: silent });
  const work = await mkdtemp(join(cacheRoot(env), "..", "bench-9p-"));
  try {
    await writeFile(join(work, "big.bin"), new Uint8Array(100 << 20).map((_, i) => (i * 2654435761) >>> 24));
    const base = await vmWithDefaults({
      kernelSource: "debian",
      kernelVersion: "6.1",
      binaries: ["/usr/bin/git"],
      shares: [{ path: tree, mountpoint: "/mnt/share/tree", readonly: true }, { path: work, readonly: true }, { path: repoRoot }],
      log: silent,
      quiet: true,
      env,
    });
    const once = (o: string) => async () => {
      let out = "";
      const r = await execInVm(o ? base.with({ append: [...(base.spec.append ?? []), `microforge.9p=${o}`] }) : base, ["sh", "-c", script()], {
        stdout: (c) => void (out += new TextDecoder().decode(c)),
        stderr: (c) => void process.stderr.write(c),
        timeoutMs: 900_000,
      });
      if (r.exitCode !== 0) throw new Error(`the 9p tasks failed with ${o || "the default options"} (exit ${r.exitCode})`);
      return parse(out);
    };
    const sides = Object.fromEntries(Object.entries(VARIANTS).map(([k, o]) => [k, once(o)]));
    const samples = await alternate(sides, { rounds, warmup: 1, onSample: (side, i, s) => progress(`9p ${side} ${i + 1}/${rounds}: ${JSON.stringify(s.value)}`) });
    const sum = (side: string, task: Task) => summarize(samples[side].map((s) => (s.value as Record<Task, number>)[task]));
    const [def, ...others] = Object.keys(VARIANTS);
    const rows: Row[] = [];
    for (const task of TASKS) {
      for (const side of others) {
        const r = ratio(sum(side, task).median, sum(def, task).median);
        rows.push({ benchmark: `${task}: ${side}`, ours: formatMs(sum(side, task)), theirs: formatMs(sum(def, task)), ratio: r, target: "< 1× (faster than msize 128 KiB)", met: r < 1 });
      }
    }
    return {
      name: "9p",
      title: `9p shares: mount options vs the kernel's default msize (${rounds} rounds, ${(base.spec.accel ?? "tcg").toUpperCase()}), timed in the guest`,
      timestamp: new Date().toISOString(),
      quick: !!opts.quick,
      rows,
      notes: [
        "\"theirs\" is trans=virtio,version=9p2000.L with the 6.1 kernel's default msize of 128 KiB, what microforge mounted before; it now mounts with msize=512000.",
        "find: the extracted 6.1 tree (read-only share); read: a 100 MB file (read-only share); git status: this repository (read-write share), git packed with --binary.",
        "cache=loose caches metadata and data in the guest: files the host changes while the VM runs may look stale.",
      ],
      data: { rounds, variants: VARIANTS, samples },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["rounds"], boolean: ["quick"] });
  const result = await run({ quick: args.quick, rounds: args.rounds ? Number(args.rounds) : undefined, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
