/**
 * Concurrency, through the real CLI: two processes asking for the same
 * kernel at once must build it once (one make; the other waits on the
 * cache lock and takes the result), both succeed with the same bytes; two
 * different kernels at once both build; two initramfs packs of the same
 * inputs at once both succeed with one image in the cache.
 *
 * The kernels are small ones of our own (feature virtio, LOCALVERSIONs no
 * other test uses), kept with their O= directories in the test cache: after
 * the first full build of each, a rebuild is an incremental make.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { sha256Hex } from "../../lib/util/hash.ts";
import { cli, onDeno, repoRoot, tempDir, testCache, tsRunner } from "../helpers.ts";

const skip = onDeno ? "Node only" : false;

/** A small kernel of ours; `n` picks one of two LOCALVERSIONs (two different builds). */
function kernelArgs(n: 1 | 2): string[] {
  const local = n === 1 ? "-mf-concurrency" : "-mf-concurrency-2";
  return ["kernel", "build", "--kernel-source", "debian", "--version", "6.1", "--features", "virtio", "--set", `CONFIG_LOCALVERSION="${local}"`, "--json"];
}

interface Started {
  child: ChildProcess;
  pid: number;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; at: number }>;
}

function start(args: string[], env: Record<string, string | undefined> = {}): Started {
  const [cmd, ...pre] = tsRunner("node");
  const child = spawn(cmd, [...pre, join(repoRoot, "lib", "cli.ts"), ...args], { cwd: repoRoot, env: { ...process.env, MICROFORGE_CACHE: testCache, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; at: number }>((res) => child.on("close", (code) => res({ code, at: Date.now() })));
  return { child, pid: child.pid!, out: () => out, err: () => err, exited };
}

/** pid, ppid and command line of every live process whose command line contains `needle`. */
async function processes(needle: string): Promise<{ pid: number; ppid: number; cmdline: string }[]> {
  const found = [];
  for (const pid of (await readdir("/proc")).filter((n) => /^\d+$/.test(n))) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (!stat || state === "Z") continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ").trim();
    if (cmdline.includes(needle)) found.push({ pid: Number(pid), ppid: Number(ppid), cmdline });
  }
  return found;
}

/** Our kernel `n` (built once if the test cache never had it): its key, entry and O= directory. */
async function ourKernel(n: 1 | 2): Promise<{ key: string; entry: string; buildDir: string; bzImageSha256: string }> {
  const r = await cli(kernelArgs(n));
  assert.equal(r.code, 0, r.stderr);
  const { key } = JSON.parse(r.stdout);
  const entry = join(testCache, "kernels", key);
  const meta = JSON.parse(await readFile(join(entry, "build.json"), "utf8"));
  return { key, entry, buildDir: join(testCache, "build", key), bzImageSha256: meta.bzImageSha256 };
}

/** Drop the cache entry, and objects and images in the O= directory, so make has some seconds of work. */
async function forceRelink(k: { entry: string; buildDir: string }): Promise<void> {
  await rm(k.entry, { recursive: true, force: true });
  const objects = (await readdir(join(k.buildDir, "init")).catch(() => [])).filter((f) => f.endsWith(".o")).map((f) => `init/${f}`);
  for (const f of ["build.log", "vmlinux", "vmlinux.o", "arch/x86/boot/bzImage", ...objects]) await rm(join(k.buildDir, f), { force: true });
}

/** Run `procs` to the end while sampling which `make ... bzImage` processes work in `buildDirs`, and under which parent. */
async function watchMakes(procs: Started[], buildDirs: string[]): Promise<Map<number, { ppid: number; dir: string }>> {
  const makes = new Map<number, { ppid: number; dir: string }>();
  let running = true;
  const all = Promise.all(procs.map((p) => p.exited)).then(() => (running = false));
  while (running) {
    for (const dir of buildDirs) {
      for (const m of await processes(`O=${dir}`)) {
        if (/^make -C .* bzImage$/.test(m.cmdline) && procs.some((p) => p.pid === m.ppid)) makes.set(m.pid, { ppid: m.ppid, dir });
      }
    }
    await Promise.race([all, new Promise((r) => setTimeout(r, 200))]);
  }
  return makes;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

test("two kernel builds of the same inputs started together → one make, both succeed, identical bytes", { skip, timeout: 60 * 60_000 }, async (t) => {
  const k = await ourKernel(1);
  await forceRelink(k);
  const started = Date.now();
  const procs = [start(kernelArgs(1)), start(kernelArgs(1))];
  const makes = await watchMakes(procs, [k.buildDir]);
  const ends = await Promise.all(procs.map((p) => p.exited));
  const builder = procs.find((p) => /building linux/.test(p.err()));
  const waiter = procs.find((p) => p !== builder);
  const results = procs.map((p) => JSON.parse(p.out() || "{}"));
  const shas = await Promise.all(results.map(async (r) => r.bzImage ? sha256Hex(await readFile(r.bzImage)) : "none"));
  t.diagnostic(`observed: exits ${ends.map((e) => e.code).join(" and ")} after ${secs(Math.max(...ends.map((e) => e.at)) - started)}; ${makes.size} make (${[...makes].map(([pid, m]) => `pid ${pid} under microforge pid ${m.ppid}`).join(", ")}); the other ${waiter && /waiting for pid \d+/.test(waiter.err()) ? "waited for the lock" : "did not report waiting"}; bzImage sha256 ${shas.map((s) => s.slice(0, 12) + "…").join(" and ")}`);
  for (const [i, p] of procs.entries()) assert.equal(ends[i].code, 0, p.err());
  assert.equal(makes.size, 1, "exactly one make bzImage ran");
  assert.ok(builder && waiter, "one process built");
  assert.equal([...makes.values()][0].ppid, builder.pid, "the make was the builder's");
  assert.match(waiter.err(), new RegExp(`waiting for pid ${builder.pid} on \\S+ \\(kernel build ${k.key.slice(0, 12)}\\)`));
  assert.doesNotMatch(waiter.err(), /building linux/);
  assert.equal(results[0].key, results[1].key);
  assert.equal(results[0].bzImage, results[1].bzImage);
  assert.equal(shas[0], k.bzImageSha256);
  assert.equal(shas[1], k.bzImageSha256);
  assert.equal(sha256Hex(await readFile(results[0].vmlinux)), sha256Hex(await readFile(results[1].vmlinux)));
});

test("two different kernel builds at once → both build (two makes) and both succeed", { skip, timeout: 90 * 60_000 }, async (t) => {
  const ks = [await ourKernel(1), await ourKernel(2)];
  for (const k of ks) await forceRelink(k);
  const started = Date.now();
  const procs = [start(kernelArgs(1)), start(kernelArgs(2))];
  const makes = await watchMakes(procs, ks.map((k) => k.buildDir));
  const ends = await Promise.all(procs.map((p) => p.exited));
  const results = procs.map((p) => JSON.parse(p.out() || "{}"));
  const shas = await Promise.all(results.map(async (r) => r.bzImage ? sha256Hex(await readFile(r.bzImage)) : "none"));
  const versions = await Promise.all(results.map(async (r) => r.config ? /^CONFIG_LOCALVERSION="(.*)"$/m.exec(await readFile(r.config, "utf8"))?.[1] : undefined));
  t.diagnostic(`observed: exits ${ends.map((e) => e.code).join(" and ")} after ${secs(Math.max(...ends.map((e) => e.at)) - started)}; ${makes.size} makes in ${new Set([...makes.values()].map((m) => m.dir)).size} build directories; LOCALVERSION ${versions.join(" and ")}; each bzImage matches its own build.json`);
  for (const [i, p] of procs.entries()) assert.equal(ends[i].code, 0, p.err());
  assert.equal(makes.size, 2, "one make per build");
  assert.notEqual(results[0].key, results[1].key);
  assert.deepEqual(versions, ["-mf-concurrency", "-mf-concurrency-2"]);
  for (const [i, k] of ks.entries()) assert.equal(shas[i], k.bzImageSha256, `build ${i + 1} has the bytes it had before`);
});

test("two initramfs packs of the same inputs at once → both succeed, same sha256, one image and no temp file in the cache", { skip, timeout: 5 * 60_000 }, async (t) => {
  const cache = await tempDir("conc-rd-");
  const env = { MICROFORGE_CACHE: cache };
  const rounds: string[] = [];
  for (let round = 0; round < 3; round++) {
    const procs = [0, 1, 2].map(() => start(["initramfs", "--busybox", "host", "--json", "--quiet"], env));
    const ends = await Promise.all(procs.map((p) => p.exited));
    for (const [i, p] of procs.entries()) assert.equal(ends[i].code, 0, p.err());
    const results = procs.map((p) => JSON.parse(p.out()));
    assert.equal(new Set(results.map((r) => r.sha256)).size, 1, "the same bytes");
    assert.equal(sha256Hex(await readFile(results[0].path)), results[0].sha256);
    rounds.push(results[0].sha256.slice(0, 12));
  }
  // initramfs/inputs/ holds what each image was packed from (the pack memo), one record per set of inputs.
  const images = (await readdir(join(cache, "initramfs"))).filter((n) => n !== "inputs");
  const inputs = await readdir(join(cache, "initramfs", "inputs"));
  const members = await readdir(join(cache, "gzip-members"));
  t.diagnostic(`observed: 3 rounds of 3 packs at once, all exit 0, sha256 ${[...new Set(rounds)].join(", ")}…; initramfs/ holds ${images.join(", ")}; gzip-members/ holds ${members.length} file(s)`);
  assert.equal(new Set(rounds).size, 1);
  assert.deepEqual(images.filter((n) => n.includes(".tmp-")), [], "no temp file left");
  assert.equal(images.length, 1);
  assert.equal(members.filter((n) => n.includes(".tmp-")).length, 0);
  assert.deepEqual(inputs.filter((n) => n.includes(".tmp-")), [], "no temp input record left");
  assert.equal(inputs.length, 1, "one input record");
});
