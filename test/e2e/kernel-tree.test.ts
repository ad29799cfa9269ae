/**
 * A kernel developer's loop on a real tree: Debian's linux-source-6.1
 * extracted, `git init`ed and committed, built with `--kernel-tree` and the
 * debug feature (one cold build, kept for the rest), booted, debugged with
 * gdb over QEMU's stub, panicked with a decoded trace, then edited
 * (EXTRAVERSION) and rebuilt incrementally. The tree is never written to.
 * Expected versions come from what the build reports, never fixed ones.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import { findOnPath } from "../../lib/util/find-on-path.ts";
import { cli, debianKernelSource, onDeno, repoRoot, testCache, tsRunner } from "../helpers.ts";

const skip = onDeno ? "builds a real tree and boots it from the CLI; runs under Node" : false;
const FEATURES = "virtio,blk,net,9p,console,debug";
// A fixed path: the build is keyed by the tree's real path, so a rerun of this file on one machine is incremental.
const work = join(testCache, "kernel-tree-e2e");
const tree = join(work, "linux-source-6.1");
const lock = join(work, "microforge.lock.json");
const git = (...args: string[]) => runProcess(["git", "-C", tree, "-c", "user.name=microforge test", "-c", "user.email=test@microforge.invalid", ...args], { nothrow: true });

interface Built {
  release: string;
  boot: string;
  vmlinux: string;
  tree: string;
  git: { commit: string; dirty: boolean; diffSha256?: string };
  cached: boolean;
  seconds: number;
}
let first: Built;
let commit: string;

async function build(): Promise<Built> {
  const r = await cli(["kernel", "build", "--kernel-tree", tree, "--features", FEATURES, "--lock", lock, "--json", "--quiet"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const run = (args: string[]) => cli(["run", "--quiet", "--kernel-tree", tree, "--features", FEATURES, "--accel", "tcg", ...args]);

before(async () => {
  if (skip) return;
  const { file } = await debianKernelSource("6.1");
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await runProcess(["tar", "-xf", file, "-C", work]);
  // Loose objects barely compressed: adding 75,000 files is then a matter of seconds, not minutes.
  // -f: Debian's .gitignore ignores everything at the top level (its packaging repository holds only debian/).
  for (const args of [["init", "-q"], ["-c", "core.looseCompression=1", "add", "-A", "-f"], ["commit", "-q", "-m", "linux-source-6.1 as Debian ships it"]]) {
    const r = await git(...args);
    assert.equal(r.code, 0, `git ${args.join(" ")}: ${r.stderr}`);
  }
  commit = (await git("rev-parse", "HEAD")).stdout.trim();
  first = await build();
}, { timeout: 60 * 60_000 });

test("kernel build --kernel-tree: out of tree, recorded with the commit, the lock names it", { skip }, async () => {
  assert.equal(first.tree, tree);
  assert.deepEqual(first.git, { commit, dirty: false });
  assert.match(first.release, /^\d+\.\d+\.\d+/);
  const entry = JSON.parse(await readFile(lock, "utf8")).artifacts["kernel-tree"];
  assert.equal(entry.url, tree);
  assert.equal(entry.commit, commit);
  assert.equal(entry.dirty, false);
  assert.equal(entry.version, first.release);
  assert.equal((await git("status", "--porcelain")).stdout, "", "the build wrote nothing into the tree");
});

test("run --kernel-tree boots it: uname -r is the build's release", { skip, timeout: 10 * 60_000 }, async () => {
  const r = await run(["--", "uname", "-r"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), first.release);
});

test("test --kernel-tree: a matrix of your tree, its report naming the tree and the release", { skip, timeout: 10 * 60_000 }, async () => {
  const r = await cli(["test", "--quiet", "--kernel-tree", tree, "--features", FEATURES, "--accel", "tcg", "--json", "--", "uname", "-r"]);
  assert.equal(r.code, 0, r.stderr);
  const [cell] = JSON.parse(r.stdout).cells;
  assert.equal(cell.id, `tree/${FEATURES}#1`);
  assert.deepEqual([cell.kernel.spec, cell.kernel.tree, cell.kernel.release], ["tree", tree, first.release]);
  assert.equal(cell.stdoutTail, first.release);
});

/** A TCP port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as { port: number }).port;
  await new Promise((done) => server.close(done));
  return port;
}

test("run --gdb: the printed gdb line connects, and gdb reads linux_banner from the build's vmlinux", {
  skip: skip || (!(await findOnPath("gdb")) && "gdb is not installed (apt-get install gdb)"),
  timeout: 10 * 60_000,
}, async () => {
  const port = await freePort();
  const child = spawn(tsRunner("node")[0], [...tsRunner("node").slice(1), join(repoRoot, "lib", "cli.ts"), "run", "--kernel-tree", tree, "--features", FEATURES, "--accel", "tcg", "--gdb", String(port), "--", "echo", "after gdb"], {
    cwd: repoRoot,
    env: { ...process.env, MICROFORGE_CACHE: testCache },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let stdout = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  const exited = new Promise<number | null>((done) => child.on("close", done));
  try {
    // The line to copy: gdb <vmlinux> -ex 'target remote 127.0.0.1:PORT'
    const end = Date.now() + 5 * 60_000;
    let line: RegExpExecArray | null = null;
    while (!(line = /^ {2}gdb (\S+) -ex 'target remote 127\.0\.0\.1:(\d+)'$/m.exec(stderr)) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    assert.ok(line, `no gdb line printed:\n${stderr}`);
    assert.equal(line[1], first.vmlinux);
    assert.equal(Number(line[2]), port);
    // The CPU waits at reset; stop in start_kernel (paging is on by then, and nokaslr keeps the link addresses).
    // QEMU's stub listens once QEMU is up: gdb is retried while the port refuses (a probe connection could resume the CPU).
    const gdb = ["gdb", "-batch", "-nx", line[1], "-ex", `target remote 127.0.0.1:${port}`, "-ex", "hbreak start_kernel", "-ex", "continue", "-ex", "print linux_banner", "-ex", "delete", "-ex", "detach"];
    let g = await runProcess(gdb, { nothrow: true, timeoutMs: 5 * 60_000 });
    while (/Connection refused/.test(g.stderr) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 300));
      g = await runProcess(gdb, { nothrow: true, timeoutMs: 5 * 60_000 });
    }
    assert.match(g.stdout, /^\$1 = .*"Linux version /m, `${g.stdout}\n${g.stderr}`);
    assert.ok(g.stdout.includes(`Linux version ${first.release} `), g.stdout);
    // Detached, the guest goes on and runs the command.
    assert.equal(await exited, 0, stderr);
    assert.equal(stdout, "after gdb\n");
  } finally {
    child.kill("SIGTERM");
  }
});

test("a panicking init: the error shows the trace decoded to file:line against the vmlinux", { skip, timeout: 10 * 60_000 }, async () => {
  const r = await run(["--append", "rdinit=/bin/false", "--", "true"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Kernel panic - not syncing: Attempted to kill init/);
  const decoded = /--- decoded stack trace \((\S+)\) ---\n([\s\S]*?)\n---/.exec(r.stderr);
  assert.ok(decoded, r.stderr);
  assert.equal(decoded[1], first.vmlinux);
  // panic() itself is in kernel/panic.c; the trace names it with its source line.
  assert.match(decoded[2], /panic\b.*kernel\/panic\.c:\d+/, decoded[2]);
});

test("EXTRAVERSION edited: an incremental rebuild, uname -r follows, git status shows only that edit", { skip, timeout: 30 * 60_000 }, async () => {
  const makefile = join(tree, "Makefile");
  const text = await readFile(makefile, "utf8");
  await writeFile(makefile, text.replace(/^EXTRAVERSION =.*$/m, "EXTRAVERSION = -mf1"));
  const again = await build();
  assert.equal(again.cached, false);
  assert.notEqual(again.release, first.release);
  assert.match(again.release, /-mf1/);
  assert.equal(again.git.commit, commit);
  assert.equal(again.git.dirty, true);
  assert.match(again.git.diffSha256 ?? "", /^[0-9a-f]{64}$/);
  const r = await run(["--", "uname", "-r"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), again.release);
  assert.equal((await git("status", "--porcelain")).stdout, " M Makefile\n");
  const entry = JSON.parse(await readFile(lock, "utf8")).artifacts["kernel-tree"];
  assert.equal(entry.dirty, true);
  assert.equal(entry.diffSha256, again.git.diffSha256);
});
