/**
 * Initramfs pack speed: microforge's in-process writer against
 * `find . | cpio -o -H newc | gzip -9` on the same staged tree, alternating
 * after a warm-up. Target: ours ≤ 0.5× their time, size within 2% of theirs.
 *
 *   npm run bench:initramfs [-- --rounds 7 --busybox /bin/busybox --quick]
 */
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { minimist } from "zx";
import { resolveBusybox } from "../lib/fetch/busybox.ts";
import { cacheRoot } from "../lib/util/cache-dir.ts";
import type { CpioEntry } from "../lib/initramfs/cpio.ts";
import { runProcess } from "../lib/util/process.ts";
import { packInitramfs } from "../lib/initramfs/pack.ts";
import { rootfsEntries } from "../lib/initramfs/rootfs.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { type BenchOptions, denoBin, repoRoot, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, formatMs, renderResult } from "./lib/report.ts";
import { alternate, ratio, summarize, times } from "./lib/stats.ts";

/** Options of the initramfs benchmark. */
export interface InitramfsBenchOptions extends BenchOptions {
  /** busybox source or path (default "auto"). */
  busybox?: string;
}

/** Materialize entries as a real directory tree for the shell pipeline (device nodes only as root). */
async function stage(entries: CpioEntry[], root: string): Promise<void> {
  for (const e of [...entries].sort((a, b) => a.path.localeCompare(b.path))) {
    const p = join(root, e.path);
    if (e.type === "dir") await mkdir(p, { recursive: true });
    else if (e.type === "file") {
      if ("data" in e) await writeFile(p, e.data);
      else await copyFile(e.source, p);
      await chmod(p, e.mode ?? 0o644);
    } else if (e.type === "symlink") await symlink(e.target, p);
    else if (e.type === "char" && process.getuid?.() === 0) {
      await runProcess(["mknod", "-m", (e.mode ?? 0o600).toString(8), p, "c", String(e.major), String(e.minor)]);
    }
  }
}

/** Pack the default rootfs both ways and compare time and size. */
export async function run(opts: InitramfsBenchOptions = {}): Promise<BenchResult> {
  const env = process.env;
  useBenchCache(env);
  const rounds = opts.rounds ?? (opts.quick ? 3 : 9);
  const progress = opts.progress ?? (() => undefined);
  const busybox = await resolveBusybox(opts.busybox ?? "auto", { env, log: { step: () => undefined, warn: () => undefined } });
  const entries = await rootfsEntries({ busybox: busybox.path });
  await mkdir(join(cacheRoot(env), "tmp"), { recursive: true });
  const work = await mkdtemp(join(cacheRoot(env), "tmp", "bench-"));
  try {
    const tree = join(work, "tree");
    await stage(entries, tree);
    const theirsOut = join(work, "theirs.cpio.gz");
    const oursOut = join(work, "ours.cpio.gz");
    const memberCache = join(work, "members");
    const samples = await alternate({
      // cold: nothing cached; warm: busybox's gzip member comes from the cache (a rebuild after changing /init)
      cold: () => packInitramfs(entries, oursOut, { gzip: 9 }),
      warm: () => packInitramfs(entries, oursOut, { gzip: 9, memberCache }),
      theirs: () => runProcess(["sh", "-c", 'cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9 > "$2"', "sh", tree, theirsOut]),
    }, { rounds, warmup: 1, onSample: (side, i, s) => progress(`initramfs ${side} ${i + 1}/${rounds}: ${s.ms.toFixed(0)} ms`) });
    const [cold, warm, theirs] = [summarize(times(samples.cold)), summarize(times(samples.warm)), summarize(times(samples.theirs))];
    const [oursSize, theirsSize] = [(await stat(oursOut)).size, (await stat(theirsOut)).size];
    // The same image from Deno: the same bytes (fflate on both, parts fixed).
    const nodeSha = (await packInitramfs(entries, oursOut, { gzip: 9 })).sha256;
    const denoOut = join(work, "deno.cpio.gz");
    const denoSha = (await runProcess([denoBin, "run", "-A", join(repoRoot, "bench", "lib", "pack-once.ts"), busybox.path, denoOut], { cwd: repoRoot, env })).stdout.trim();
    const sizeRatio = oursSize / theirsSize;
    const timeRow = (label: string, s: typeof cold) => {
      const r = ratio(s.median, theirs.median);
      return { benchmark: label, ours: formatMs(s), theirs: formatMs(theirs), ratio: r, target: "≤ 0.5×", met: r <= 0.5 };
    };
    return {
      name: "initramfs",
      title: `Initramfs pack: in-process writer vs find | cpio | gzip -9 (busybox ${busybox.version ?? "?"}, ${rounds} rounds)`,
      timestamp: new Date().toISOString(),
      quick: !!opts.quick,
      rows: [
        timeRow("initramfs pack, cold", cold),
        timeRow("initramfs pack, busybox member cached", warm),
        { benchmark: "initramfs bytes, Deno vs Node", ours: denoSha.slice(0, 12), theirs: nodeSha.slice(0, 12), target: "identical", met: denoSha === nodeSha },
        { benchmark: "initramfs size", ours: `${oursSize} B (${sizeRatio >= 1 ? "+" : ""}${((sizeRatio - 1) * 100).toFixed(1)}%)`, theirs: `${theirsSize} B`, ratio: sizeRatio, target: "within 2%", met: Math.abs(sizeRatio - 1) <= 0.02 },
      ],
      notes: [
        `Both pack the same ${entries.length} entries with gzip -9; the pipeline reads a staged copy of the tree${process.getuid?.() === 0 ? "" : " (without device nodes: not root)"}.`,
      ],
      data: { rounds, busybox: { version: busybox.version, origin: busybox.origin }, cold, warm, theirs, oursSize, theirsSize, nodeSha, denoSha },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["busybox", "rounds"], boolean: ["quick"] });
  const result = await run({ quick: args.quick, rounds: args.rounds ? Number(args.rounds) : undefined, busybox: args.busybox, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
