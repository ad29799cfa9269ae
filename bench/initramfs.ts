/**
 * Initramfs pack speed: microforge's in-process writer against
 * `find . | cpio -o -H newc | gzip -9` on the same staged tree.
 * Runs both alternately after a warm-up and prints median/min/max, sizes and
 * ratios. Target: ours ≤ 0.5× their time, size within 2% of theirs.
 *
 *   npm run bench:initramfs [-- --rounds 7 --busybox /bin/busybox]
 */
import { mkdir, mkdtemp, rm, stat, writeFile, chmod, symlink } from "node:fs/promises";
import { join } from "node:path";
import { minimist } from "zx";
import { resolveBusybox } from "../lib/busybox.ts";
import { type CpioEntry } from "../lib/cpio.ts";
import { runCommand } from "../lib/exec.ts";
import { packInitramfs } from "../lib/initramfs.ts";
import { rootfsEntries } from "../lib/rootfs.ts";
import { runtimeName } from "../lib/runtime.ts";
import { cacheRoot } from "../lib/cache-dir.ts";

const args = minimist(process.argv.slice(2), { string: ["busybox"], default: { rounds: 7, busybox: "auto" } });
const rounds = Number(args.rounds);

/** Materialize entries as a real directory tree for the shell pipeline. */
async function stage(entries: CpioEntry[], root: string): Promise<void> {
  const { copyFile } = await import("node:fs/promises");
  for (const e of [...entries].sort((a, b) => a.path.localeCompare(b.path))) {
    const p = join(root, e.path);
    if (e.type === "dir") await mkdir(p, { recursive: true });
    else if (e.type === "file") {
      if ("data" in e) await writeFile(p, e.data);
      else await copyFile(e.source, p);
      await chmod(p, e.mode ?? 0o644);
    } else if (e.type === "symlink") await symlink(e.target, p);
    else if (e.type === "char" && process.getuid?.() === 0) {
      await runCommand(["mknod", "-m", (e.mode ?? 0o600).toString(8), p, "c", String(e.major), String(e.minor)]);
    }
  }
}

function summary(times: number[]) {
  const s = [...times].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
}

const busybox = await resolveBusybox(args.busybox);
const entries = await rootfsEntries({ busybox: busybox.path });
await mkdir(join(cacheRoot(), "tmp"), { recursive: true });
const work = await mkdtemp(join(cacheRoot(), "tmp", "bench-"));
try {
  const tree = join(work, "tree");
  await stage(entries, tree);
  const theirsOut = join(work, "theirs.cpio.gz");
  const oursOut = join(work, "ours.cpio.gz");
  const theirs = () => runCommand(["sh", "-c", 'cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9 > "$2"', "sh", tree, theirsOut]);
  const memberCache = join(work, "members");
  // cold: nothing cached; warm: busybox's gzip member comes from the cache (a rebuild after changing /init)
  const cold = () => packInitramfs(entries, oursOut, { gzip: 9 });
  const warm = () => packInitramfs(entries, oursOut, { gzip: 9, memberCache });
  const t: Record<"cold" | "warm" | "theirs", number[]> = { cold: [], warm: [], theirs: [] };
  await cold();
  await warm();
  await theirs(); // warm-up
  for (let i = 0; i < rounds; i++) {
    for (const [name, fn] of [["cold", cold], ["warm", warm], ["theirs", theirs]] as const) {
      const start = performance.now();
      await fn();
      t[name].push(performance.now() - start);
    }
  }
  const [so, st] = [(await stat(oursOut)).size, (await stat(theirsOut)).size];
  const h = summary(t.theirs);
  const row = (name: string, s: ReturnType<typeof summary>, size: number) =>
    console.log(`  ${name.padEnd(12)} median ${s.median.toFixed(0).padStart(4)} ms (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)}), ${size} bytes, ${(s.median / h.median).toFixed(2)}× theirs`);
  console.log(`initramfs pack, ${runtimeName}, busybox ${busybox.version} (${busybox.origin}), ${rounds} rounds, gzip -9`);
  row("ours cold", summary(t.cold), so);
  row("ours warm", summary(t.warm), so);
  row("find|cpio|gz", h, st);
  console.log(`  size ratio ${(so / st).toFixed(4)} (target ≤ 1.02); time target ≤ 0.5× theirs`);
} finally {
  await rm(work, { recursive: true, force: true });
}
