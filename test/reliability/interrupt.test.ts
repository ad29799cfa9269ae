/**
 * Interrupted work, through the real CLI: SIGINT (sent to the process group,
 * as Ctrl-C does) and SIGTERM (to the process, as `kill` does) during a
 * download, a tarball extraction, `make`, and a VM run. Each must end with
 * exit 128 + the signal, no process of ours left (make, gcc, tar, xz, QEMU),
 * nothing half-done under a final name (nor a temp file or lock left
 * behind), the terminal as it was, and the next run completing normally.
 *
 * The kernel here is a small one of our own (feature virtio, a LOCALVERSION
 * no other test uses) kept in the test cache with its O= directory, so after
 * the first full build each rebuild is an incremental make.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sha256Hex } from "../../lib/util/hash.ts";
import { runProcess } from "../../lib/util/process.ts";
import { cli, onDeno, repoRoot, tempDir, testCache, tsRunner } from "../helpers.ts";
import { type FixtureServer, startFixtureServer } from "../fixtures/http-server.ts";
import { serveUpstream } from "../fixtures/upstream.ts";

const skip = onDeno ? "Node only" : false;
const SIGNO = { SIGINT: 2, SIGTERM: 15 } as const;
type Sig = keyof typeof SIGNO;

/** Our small kernel: base + virtio, and a LOCALVERSION that makes its cache key ours alone. */
const KERNEL = ["kernel", "build", "--kernel-source", "debian", "--version", "6.1", "--features", "virtio", "--set", 'CONFIG_LOCALVERSION="-mf-interrupt"', "--json"];

/** A CLI process we started (detached: it leads its own process group). */
interface Started {
  child: ChildProcess;
  pid: number;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: string | null; at: number }>;
}

function start(args: string[], env: Record<string, string | undefined> = {}): Started {
  const [cmd, ...pre] = tsRunner("node");
  const child = spawn(cmd, [...pre, join(repoRoot, "lib", "cli.ts"), ...args], {
    cwd: repoRoot,
    env: { ...process.env, MICROFORGE_CACHE: testCache, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((res) => child.on("close", (code, signal) => res({ code, signal, at: Date.now() })));
  return { child, pid: child.pid!, out: () => out, err: () => err, exited };
}

/** SIGINT goes to the whole group (like Ctrl-C in a terminal), SIGTERM to the process (like `kill`). */
function interrupt(p: Started, sig: Sig): number {
  process.kill(sig === "SIGINT" ? -p.pid : p.pid, sig);
  return Date.now();
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
}

/** Live (non-zombie) processes whose command line or working directory mentions `needle`. */
async function processesUsing(needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (!stat || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ").trim();
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => "");
    if (cmdline.includes(needle) || cwd.startsWith(needle)) found.push(`${pid} ${cmdline.slice(0, 100)}`);
  }
  return found;
}

/** Every file (not directory) under `dir`, relative. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

const secs = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

let server: FixtureServer;
let upstream: Record<string, string>;
const TARBALL = "/pub/linux/kernel/v6.x/linux-6.1.63.tar.xz";
/** A 6 MB stand-in for the 6.1.63 tarball: `fetch` without --extract only downloads and verifies it. */
const body = new Uint8Array(randomBytes(6_000_000));

before(async () => {
  if (skip) return;
  server = await startFixtureServer();
  upstream = await serveUpstream(server, { tarballs: { "6.1.63": body } });
});
after(async () => await server?.close());

test("SIGINT or SIGTERM during a download → exit 130/143, no temp file, lock or URL record left, the next fetch completes", { skip, timeout: 5 * 60_000 }, async (t) => {
  const cache = await tempDir("int-dl-");
  const env = { ...upstream, MICROFORGE_CACHE: cache };
  const blobs = join(cache, "blobs", "sha256");
  const notes: string[] = [];
  // About 15 s for the whole body: the signal lands mid-transfer.
  server.route(TARBALL, { body, chunkDelayMs: 150 });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const p = start(["fetch", "kernel", "6.1", "--json"], env);
    const partial = await until("part of the tarball on disk", async () => {
      for (const f of await readdir(blobs).catch(() => [])) {
        const size = (await stat(join(blobs, f)).catch(() => undefined))?.size ?? 0;
        if (f.startsWith("incoming.tmp-") && size >= 500_000) return size;
      }
    }, 60_000);
    const sent = interrupt(p, sig);
    const r = await p.exited;
    const left = await filesUnder(cache);
    notes.push(`${sig} after ${(partial / 1e6).toFixed(1)} of 6.0 MB: exit ${r.code ?? r.signal} in ${secs(r.at - sent)}, files left: ${left.length ? left.join(", ") : "none"}`);
    assert.equal(r.code, 128 + SIGNO[sig], p.err());
    assert.match(p.err(), new RegExp(`interrupted by ${sig}: .*removed 1 unfinished temp file`));
    assert.doesNotMatch(p.err(), /^\s+at /m, "no stack trace");
    // The release list asked before the download may stay in memo/ (fetch/index-memo.ts), as a whole JSON file; nothing else may.
    const memos = left.filter((l) => /^memo\/[0-9a-f]{32}\.json$/.test(l));
    for (const m of memos) assert.ok(JSON.parse(await readFile(join(cache, m), "utf8")).text, `${m} holds a whole release list`);
    assert.deepEqual(left.filter((l) => !memos.includes(l)), [], "no temp file, blob, URL record or lock may stay");
  }
  server.route(TARBALL, { body });
  const r = await cli(["fetch", "kernel", "6.1", "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.equal(got.sha256, sha256Hex(body));
  assert.equal(sha256Hex(await readFile(got.path)), sha256Hex(body));
  notes.push(`next fetch: exit 0, sha256 verified`);
  t.diagnostic(`observed: ${notes.join("; ")}`);
});

test("SIGINT or SIGTERM during tarball extraction → no half tree kept, no tar or xz left, the next extract completes", { skip, timeout: 15 * 60_000 }, async (t) => {
  const cache = await tempDir("int-tar-");
  const env = { MICROFORGE_CACHE: cache };
  const src = join(cache, "src");
  const args = ["fetch", "kernel", "6.1", "--kernel-source", "debian", "--extract", "--json"];
  const notes: string[] = [];
  try {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      const p = start(args, env);
      // Well into the extraction: the temp tree has files.
      const tmp = await until("the temp tree", async () => (await readdir(src).catch(() => [])).find((n) => n.includes(".tmp-")), 120_000);
      await until("files in the temp tree", async () => (await readdir(join(src, tmp)).catch(() => [])).length > 5 || undefined, 60_000);
      await new Promise((r) => setTimeout(r, 1500));
      const sent = interrupt(p, sig);
      const r = await p.exited;
      await new Promise((r) => setTimeout(r, 500));
      const procs = await processesUsing(cache);
      const trees = await readdir(src).catch(() => []);
      notes.push(`${sig}: exit ${r.code ?? r.signal} in ${secs(r.at - sent)}, ${procs.length} tar/xz left, src/ holds ${trees.length ? trees.join(", ") : "nothing"}`);
      assert.equal(r.code, 128 + SIGNO[sig], p.err());
      assert.match(p.err(), new RegExp(`interrupted by ${sig}: .*removed 1 unfinished temp file`));
      assert.deepEqual(procs, [], "no tar or xz may survive");
      assert.deepEqual(trees, [], "no half tree, not even under a temp name");
    }
    const started = Date.now();
    const r = await cli(args, { env });
    assert.equal(r.code, 0, r.stderr);
    const tree = JSON.parse(r.stdout).tree;
    assert.match(await readFile(join(tree, "Makefile"), "utf8"), /^VERSION = 6$/m);
    assert.ok((await stat(join(tree, "kernel", "fork.c"))).size > 10_000);
    notes.push(`next extract: exit 0 in ${secs(Date.now() - started)}, a whole tree`);
    t.diagnostic(`observed: ${notes.join("; ")}`);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

/** Our kernel's cache entry and build directory, built once if the test cache has never had it. */
async function ourKernel(): Promise<{ key: string; entry: string; buildDir: string; bzImageSha256: string }> {
  const r = await cli(KERNEL);
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

test("SIGINT or SIGTERM during make → no make survives, no half build kept, the next build completes with the same bytes", { skip, timeout: 60 * 60_000 }, async (t) => {
  const k = await ourKernel();
  const notes: string[] = [];
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    await forceRelink(k);
    const p = start(KERNEL);
    await until("make's first step in build.log", async () => /^ {2}[A-Z][A-Z0-9_]{1,10} +\S/m.test(await readFile(join(k.buildDir, "build.log"), "utf8").catch(() => "")) || undefined, 10 * 60_000);
    const makes = await processesUsing(k.buildDir);
    const sent = interrupt(p, sig);
    const r = await p.exited;
    await new Promise((r) => setTimeout(r, 500));
    const procs = await processesUsing(k.buildDir);
    const kernels = (await readdir(join(testCache, "kernels"))).filter((n) => n.startsWith(k.key));
    const lock = await stat(join(testCache, "locks", `kernel-${k.key}.lock`)).then(() => true, () => false);
    notes.push(`${sig} with ${makes.length} processes in make: exit ${r.code ?? r.signal} in ${secs(r.at - sent)}, ${procs.length} left, kernels/ entries: ${kernels.length}, lock ${lock ? "left" : "released"}`);
    assert.ok(makes.length > 0, "make was running when the signal was sent");
    assert.equal(r.code, 128 + SIGNO[sig], p.err());
    assert.match(p.err(), new RegExp(`interrupted by ${sig}: stopped make \\(pid \\d+\\)`));
    assert.deepEqual(procs, [], "no make or compiler may survive");
    assert.deepEqual(kernels, [], "no kernels/<key> entry, not even a temp one");
    assert.equal(lock, false, "the build lock is released");
  }
  const started = Date.now();
  const r = await cli(KERNEL);
  assert.equal(r.code, 0, r.stderr);
  const built = JSON.parse(r.stdout);
  assert.equal(built.cached, false);
  const sha = sha256Hex(await readFile(built.bzImage));
  assert.equal(sha, k.bzImageSha256, "the rebuilt bzImage has the bytes of the first build");
  notes.push(`next build: exit 0 in ${secs(Date.now() - started)}, bzImage sha256 ${sha.slice(0, 12)}… as before`);
  t.diagnostic(`observed: ${notes.join("; ")}`);
});

/** The default kernel (cached by the e2e tests) and an initramfs, for VM runs. */
async function vmFiles(): Promise<string[]> {
  const k = await cli(["kernel", "build", "--kernel-source", "debian", "--version", "6.1", "--json", "--quiet"]);
  assert.equal(k.code, 0, k.stderr);
  const dir = await tempDir("int-vm-");
  const initrd = join(dir, "initrd.cpio.gz");
  const rd = await cli(["initramfs", "--busybox", "host", "-o", initrd, "--quiet"]);
  assert.equal(rd.code, 0, rd.stderr);
  return ["--kernel", JSON.parse(k.stdout).boot, "--initrd", initrd, "--accel", "tcg"];
}

test("SIGINT or SIGTERM during a scripted VM run → exit 130/143, no QEMU left, the next run completes", { skip, timeout: 30 * 60_000 }, async (t) => {
  const vm = await vmFiles();
  const initrd = vm[3];
  const notes: string[] = [];
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const p = start(["run", "--quiet", ...vm, "--", "sh", "-c", "echo guest-started; sleep 600"]);
    await until("the guest command", () => p.out().includes("guest-started") || undefined, 5 * 60_000);
    const qemus = (await processesUsing(initrd)).filter((l) => l.includes("qemu-system"));
    const sent = interrupt(p, sig);
    const r = await p.exited;
    await new Promise((r) => setTimeout(r, 500));
    const left = await processesUsing(initrd);
    notes.push(`${sig} while the guest ran: exit ${r.code ?? r.signal} in ${secs(r.at - sent)}, QEMU ${qemus.length} before, ${left.length} after`);
    assert.equal(qemus.length, 1, "QEMU was running");
    assert.equal(r.code, 128 + SIGNO[sig], p.err());
    assert.match(p.err(), new RegExp(`interrupted by ${sig}: stopped qemu-system-x86_64 \\(pid \\d+\\)`));
    assert.deepEqual(left, [], "no QEMU may survive");
  }
  const r = await cli(["run", "--quiet", ...vm, "--", "echo", "again"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "again\n");
  notes.push("next run: exit 0, output as expected");
  t.diagnostic(`observed: ${notes.join("; ")}`);
});

async function tmux(args: string[]): Promise<string> {
  return (await runProcess(["tmux", ...args], { nothrow: true })).stdout;
}

test("SIGTERM during an interactive VM on a terminal → the terminal's settings are restored, no QEMU left, exit 143", { skip, timeout: 30 * 60_000 }, async (t) => {
  const vm = await vmFiles();
  const initrd = vm[3];
  const dir = await tempDir("int-tty-");
  const session = `mf-int-${process.pid}`;
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const cmd = [...tsRunner("node"), join(repoRoot, "lib", "cli.ts"), "run", ...vm].map(quote).join(" ");
  await writeFile(join(dir, "run.sh"), [
    `export MICROFORGE_CACHE=${quote(testCache)}`,
    `cd ${quote(repoRoot)}`,
    `stty -a > ${quote(join(dir, "before"))}`,
    cmd,
    `echo "RUN-EXIT=$?"`,
    `stty -a > ${quote(join(dir, "after"))}`,
    "sleep 600",
  ].join("\n") + "\n");
  await runProcess(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", "sh", join(dir, "run.sh")]);
  try {
    const pane = () => tmux(["capture-pane", "-p", "-S", "-200", "-t", session]);
    await until("the guest's shell prompt", async () => /^\/ #\s*$/m.test(await pane()) || undefined, 5 * 60_000);
    const tty = (await tmux(["display-message", "-p", "-t", session, "#{pane_tty}"])).trim();
    const during = (await runProcess(["stty", "-a", "-F", tty])).stdout;
    const cliPid = await until("the microforge process", async () => {
      for (const line of await processesUsing(initrd)) if (line.includes("cli.ts run")) return Number(line.split(" ")[0]);
    }, 10_000);
    const qemus = (await processesUsing(initrd)).filter((l) => l.includes("qemu-system"));
    process.kill(cliPid, "SIGTERM");
    const text = await until("the script to go on", async () => /RUN-EXIT=\d+/.exec(await pane())?.[0], 60_000);
    await until("the settings after", async () => (await readFile(join(dir, "after"), "utf8").catch(() => "")) || undefined, 10_000);
    const [before, afterwards] = await Promise.all([readFile(join(dir, "before"), "utf8"), readFile(join(dir, "after"), "utf8")]);
    const left = (await processesUsing(initrd)).filter((l) => l.includes("qemu-system"));
    const raw = /-icanon/.test(during) && /-echo\b/.test(during);
    t.diagnostic(`observed: during the VM the terminal was ${raw ? "raw (-icanon -echo)" : "not raw"}; after SIGTERM: ${text}, settings ${before === afterwards ? "identical to before" : "DIFFERENT"}, QEMU ${qemus.length} before and ${left.length} after`);
    assert.ok(raw, `QEMU puts the terminal in raw mode, so the test can see a restore:\n${during}`);
    assert.equal(qemus.length, 1);
    assert.equal(text, "RUN-EXIT=143");
    assert.equal(afterwards, before, "stty -a after equals stty -a before");
    assert.deepEqual(left, []);
  } finally {
    await runProcess(["tmux", "kill-session", "-t", session], { nothrow: true });
  }
});
