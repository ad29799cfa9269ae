/**
 * Guest faults, through the real CLI under TCG: a kernel panic (an /init
 * that exits), an /init that hangs, and a command that floods 100 MB of
 * output. Each must end with the documented exit code (255 panic, 124
 * timeout, the command's own otherwise), and leave no QEMU behind; the flood
 * must arrive whole while microforge's memory stays flat.
 *
 * The kernel is the one the other VM tests build (Debian's linux-source-6.1,
 * default features): a cache hit. Each run gets its own TMPDIR, where
 * microforge puts the VM's sockets, so the QEMU it started is found by
 * scanning /proc for that directory on a qemu-system command line.
 */
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cli, onDeno, repoRoot, tempDir, tsRunner } from "../helpers.ts";

const skip = onDeno ? "Node only" : false;
const BANNER = "microforge: /init started";

let kernel: string;
/** The default initramfs (host busybox, microforge's /init). */
let initrd: string;
let scratch: string;
/** Every temp dir this file made (images, sockets), removed at the end. */
const made: string[] = [];

/** A fresh temp dir, removed after the file's tests. */
async function scratchDir(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  made.push(dir);
  return dir;
}

/** QEMU processes whose command line mentions `marker`, as "pid cmdline…" strings. */
async function qemusMentioning(marker: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
    const cmd = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ");
    if (cmd.includes("qemu-system") && cmd.includes(marker)) found.push(`${pid} ${cmd.slice(0, 120)}`);
  }
  return found;
}

/** An initramfs whose /init is `script` (a template with no variables), built by the CLI. */
async function initramfsWithInit(name: string, script: string): Promise<string> {
  const template = join(scratch, `${name}.sh.ejs`);
  await writeFile(template, script);
  const out = join(scratch, `${name}.cpio`);
  const r = await cli(["initramfs", "--busybox", "host", "--init", template, "--level", "none", "-o", out, "--json", "--quiet"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).path;
}

/** `microforge run` on the test kernel with `initrd`, its sockets under a fresh TMPDIR; what it did and what it left. */
async function run(rd: string, args: string[]) {
  const tmp = await scratchDir("guest-faults-tmp-");
  const started = performance.now();
  const r = await cli(["run", "--quiet", "--kernel", kernel, "--initrd", rd, "--accel", "tcg", ...args], { env: { TMPDIR: tmp } });
  const seconds = (performance.now() - started) / 1000;
  return { ...r, seconds, qemus: await qemusMentioning(tmp) };
}

/** Run the CLI with stdout to a pipe we drain only after `pauseMs`; resolve to its exit, byte count and own peak RSS. */
function runMeasured(args: string[], pauseMs: number): Promise<{ code: number | null; bytes: number; nonZero: number; maxRssKiB: number; seconds: number; stderr: string; qemusDuring: number; qemus: Promise<string[]> }> {
  return (async () => {
    const tmp = await scratchDir("guest-faults-flood-");
    const rssFile = join(tmp, "maxrss");
    const hook = join(tmp, "maxrss.mjs");
    // The CLI process's own peak (getrusage RUSAGE_SELF), not QEMU's: written as it exits.
    await writeFile(hook, `import { writeFileSync } from "node:fs";\nprocess.on("exit", () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`);
    const argv = [...tsRunner(), "--import", hook, join(repoRoot, "lib", "cli.ts"), "run", "--quiet", "--kernel", kernel, "--initrd", initrd, "--accel", "tcg", ...args];
    const started = performance.now();
    const child = spawn(argv[0], argv.slice(1), { cwd: repoRoot, env: { ...process.env, TMPDIR: tmp }, stdio: ["ignore", "pipe", "pipe"] });
    let bytes = 0;
    let nonZero = 0;
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // A consumer that stalls first: whatever microforge does not hold back piles up in its memory meanwhile.
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), pauseMs);
    // Mid-stall the VM is running: the /proc scan must see it (else "no QEMU left" would prove nothing).
    let qemusDuring = -1;
    const sample = pauseMs > 4000 ? setTimeout(async () => (qemusDuring = (await qemusMentioning(tmp)).length), pauseMs - 2000) : undefined;
    child.stdout.on("data", (c: Buffer) => {
      bytes += c.length;
      if (nonZero === 0 && c.some((b) => b !== 0)) nonZero++;
    });
    const code = await new Promise<number | null>((done) => child.on("close", (c) => done(c)));
    clearTimeout(sample);
    const seconds = (performance.now() - started) / 1000;
    const maxRssKiB = Number(await readFile(rssFile, "utf8").catch(() => "NaN"));
    return { code, bytes, nonZero, maxRssKiB, seconds, stderr, qemusDuring, qemus: qemusMentioning(tmp) };
  })();
}

before(async () => {
  if (skip) return;
  const k = await cli(["kernel", "build", "--kernel-source", "debian", "--version", "6.1", "--json", "--quiet"]);
  assert.equal(k.code, 0, k.stderr);
  kernel = JSON.parse(k.stdout).boot;
  const rd = await cli(["initramfs", "--busybox", "host", "--json", "--quiet"]);
  assert.equal(rd.code, 0, rd.stderr);
  initrd = JSON.parse(rd.stdout).path;
  scratch = await scratchDir("guest-faults-");
}, { timeout: 30 * 60_000 });
after(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

test("kernel panic (an /init that exits) → exit 255, the panic's reason in the message, no QEMU left", { skip, timeout: 300_000 }, async (t: TestContext) => {
  const rd = await initramfsWithInit("init-exits", `#!/bin/busybox sh\necho ${BANNER}\necho "init: exiting on purpose"\nexit 3\n`);
  const r = await run(rd, ["--timeout", "120", "--", "true"]);
  const hint = /^ {2}→ (.*)$/m.exec(r.stderr)?.[1] ?? "no hint";
  t.diagnostic(`observed: exit ${r.code} in ${r.seconds.toFixed(1)} s; "${r.stderr.split("\n")[0].replace(/^microforge: /, "")}" → ${hint}; ${r.qemus.length} QEMU left`);
  assert.equal(r.code, 255, r.stderr);
  // The reason, not just "panicked": the kernel's stack dump pushes its panic line out of the console tail.
  assert.match(r.stderr, /^microforge: The guest kernel panicked: Attempted to kill init! exitcode=0x00000300$/m);
  assert.match(hint, /\/init exited/);
  assert.equal(r.stdout, "");
  assert.deepEqual(r.qemus, []);
});

test("an /init that hangs (sleeps forever), run --timeout 5 → exit 124 after the timeout, the console tail shown, no QEMU left", { skip, timeout: 300_000 }, async (t: TestContext) => {
  const rd = await initramfsWithInit("init-hangs", `#!/bin/busybox sh\necho ${BANNER}\necho "init: hanging on purpose"\nwhile :; do /bin/busybox sleep 1000; done\n`);
  const r = await run(rd, ["--timeout", "5", "--", "true"]);
  const sawInit = r.stderr.includes("init: hanging on purpose");
  t.diagnostic(`observed: exit ${r.code} in ${r.seconds.toFixed(1)} s; "${r.stderr.split("\n")[0].replace(/^microforge: /, "")}"; console tail ${sawInit ? "shows" : "does not show"} the hanging /init; ${r.qemus.length} QEMU left`);
  assert.equal(r.code, 124, r.stderr);
  assert.match(r.stderr, /^microforge: The VM did not finish within 5 s and was stopped/m);
  assert.match(r.stderr, /^ {2}→ raise --timeout/m);
  assert.ok(r.seconds >= 5, `exited before the timeout: ${r.seconds} s`);
  assert.equal(r.stdout, "");
  assert.deepEqual(r.qemus, []);
});

test("a command floods 100 MB to stdout (reader stalls 12 s, then drains) → all 100,000,000 bytes arrive, exit 0, microforge's peak RSS stays flat, no QEMU left", { skip, timeout: 600_000 }, async (t: TestContext) => {
  // Baseline: the same CLI, same measuring, a command with no output.
  const base = await runMeasured(["--", "true"], 0);
  assert.equal(base.code, 0, base.stderr);
  const flood = await runMeasured(["--", "sh", "-c", "head -c 100000000 /dev/zero"], 12_000);
  const mib = (kib: number) => (kib / 1024).toFixed(0);
  const growth = flood.maxRssKiB - base.maxRssKiB;
  const left = await flood.qemus;
  t.diagnostic(`observed: exit ${flood.code} in ${flood.seconds.toFixed(1)} s; ${flood.bytes.toLocaleString("en")} bytes received${flood.nonZero ? " (some not zero!)" : ", all zero"}; peak RSS ${mib(flood.maxRssKiB)} MiB vs ${mib(base.maxRssKiB)} MiB for \`-- true\` (${growth >= 0 ? "+" : "−"}${mib(Math.abs(growth))} MiB); ${flood.qemusDuring} QEMU seen mid-stall, ${left.length} left after`);
  assert.equal(flood.code, 0, flood.stderr);
  assert.equal(flood.bytes, 100_000_000);
  assert.equal(flood.nonZero, 0, "the stream was corrupted");
  assert.ok(Number.isFinite(flood.maxRssKiB) && Number.isFinite(base.maxRssKiB), "no RSS figure");
  // 100 MB held in memory would show as ~100 MiB of growth; streaming keeps it to buffers and GC slack.
  assert.ok(growth < 60 * 1024, `peak RSS grew by ${mib(growth)} MiB over the baseline`);
  assert.ok(flood.maxRssKiB < 200 * 1024, `peak RSS ${mib(flood.maxRssKiB)} MiB`);
  assert.equal(flood.qemusDuring, 1, "the /proc scan did not see the running VM");
  assert.deepEqual(left, []);
});
