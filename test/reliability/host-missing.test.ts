/**
 * Missing host pieces, through the real CLI: no QEMU, no qboot firmware, no
 * compiler/flex/bison, a dynamic busybox. Each must end in exit 1 with a
 * message naming what is missing and the `microforge doctor --fix` hint,
 * raised before any long work starts.
 *
 * "Missing" is a PATH of symlinks to every program on this host except the
 * missing one. The programs that do the long work (make, tar, xz, apt-get,
 * dpkg-deb) are shims that answer `--version` like the real ones and
 * otherwise log the call and fail: a run that starts extracting or building
 * shows up in the log within seconds instead of running for minutes. Every
 * run gets a fresh, empty cache (so nothing is a cache hit) and the fake
 * kernel.org / busybox.net, whose tarball and binary downloads are counted.
 */
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import { onDeno, repoRoot, tempDir, tsRunner } from "../helpers.ts";
import { type FixtureServer, startFixtureServer } from "../fixtures/http-server.ts";
import { FIXTURE_RELEASES, tarballUrl } from "../fixtures/kernel-org.ts";
import { serveUpstream } from "../fixtures/upstream.ts";

const skip = onDeno ? "Node only" : false;

/** Cache directories of small bookkeeping files (lookup memos, lock files), which a refused run may leave. */
const BOOKKEEPING = ["memo/", "locks/"];

/** Programs whose real work is "long work": replaced by logging shims on every test PATH. */
const LONG_WORK = ["make", "tar", "xz", "apt-get", "dpkg-deb"];

let server: FixtureServer;
let upstream: Record<string, string>;
let scratch: string;
/** Every temp dir this file made (PATH dirs of ~1300 symlinks each, fresh caches), removed at the end. */
const made: string[] = [];

/** A fresh temp dir, removed after the file's tests. */
async function scratchDir(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  made.push(dir);
  return dir;
}

/** The host's PATH directories, plus the usual ones (the CLI's runtime, node, must stay reachable). */
function hostPathDirs(): string[] {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d.startsWith("/"));
  return [...new Set([...dirs, "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])];
}

/** The first real `name` on the host PATH. */
async function real(name: string): Promise<string> {
  for (const dir of hostPathDirs()) {
    const p = join(dir, name);
    if (await stat(p).then((s) => s.isFile(), () => false)) return p;
  }
  throw new Error(`${name} is not installed on this host`);
}

/** A PATH directory with every host program except `without`; LONG_WORK programs are logging shims. */
async function hostBin(without: readonly string[]): Promise<{ bin: string; calls: string }> {
  const root = await scratchDir("host-missing-bin-");
  const bin = join(root, "bin");
  const calls = join(root, "calls.log");
  await mkdir(bin);
  await writeFile(calls, "");
  for (const name of LONG_WORK) {
    if (without.includes(name)) continue;
    const shim = `#!/bin/sh\ncase "$1" in --version|-V) exec ${await real(name)} "$@" ;; esac\necho "${name} $*" >> ${calls}\nexit 99\n`;
    await writeFile(join(bin, name), shim);
    await chmod(join(bin, name), 0o755);
  }
  const taken = new Set([...without, ...LONG_WORK]);
  for (const dir of hostPathDirs()) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (taken.has(name)) continue;
      taken.add(name);
      await symlink(join(dir, name), join(bin, name));
    }
  }
  return { bin, calls };
}

/** Every path under `dir` (directories end with /). */
async function snapshot(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory()) out.push(`${rel}/`, ...(await snapshot(join(dir, e.name), `${rel}/`)));
    else out.push(rel);
  }
  return out;
}

/** URL paths whose download would be long work: every kernel tarball and busybox binary of the fake upstream. */
function downloads(): number {
  const tarballs = FIXTURE_RELEASES.map((r) => tarballUrl(server.url, r)).filter((u): u is string => !!u).map((u) => new URL(u).pathname);
  return [...tarballs, "/downloads/binaries/1.35.0-x86_64-linux-musl/busybox", "/downloads/binaries/1.31.0-defconfig-multiarch-musl/busybox-x86_64"]
    .reduce((n, p) => n + server.hits(p), 0);
}

/** What one run did. */
interface Outcome {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
  /** The `microforge: ...` line and the `→ ...` hint line. */
  message: string;
  hint: string;
  seconds: number;
  /** Artifacts the fresh cache holds afterwards (files outside the small bookkeeping dirs, see BOOKKEEPING). */
  cached: string[];
  /** Bookkeeping files (lookup memos, locks): not long work, only counted. */
  bookkeeping: number;
  /** Long-work programs that were called (not just asked for --version). */
  calls: string[];
  downloads: number;
  /** QEMU processes started for this run that are still alive. */
  qemus: number;
}

/** QEMU processes whose command line mentions `marker`. */
async function qemusMentioning(marker: string): Promise<number> {
  let n = 0;
  for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes("qemu-system") && cmd.includes(marker)) n++;
  }
  return n;
}

/** Run `microforge ARGS` on a host missing `without`, with a fresh cache; `env` adds or overrides variables. */
async function attempt(args: string[], without: readonly string[], env: Record<string, string | undefined> = {}): Promise<Outcome> {
  const { bin, calls } = await hostBin(without);
  const cache = await scratchDir("host-missing-cache-");
  const tmp = await scratchDir("host-missing-tmp-");
  const before = downloads();
  const started = performance.now();
  const r = await runProcess([...tsRunner(), join(repoRoot, "lib", "cli.ts"), ...args], {
    env: {
      ...process.env,
      ...upstream,
      PATH: bin,
      TMPDIR: tmp,
      MICROFORGE_CACHE: cache,
      // Nothing from the caller's environment may pick a source, QEMU or firmware for these runs.
      MICROFORGE_KERNEL_SOURCE: undefined,
      MICROFORGE_BUSYBOX_SOURCE: undefined,
      MICROFORGE_KERNEL_VERSION: undefined,
      MICROFORGE_LOCK: undefined,
      MICROFORGE_ACCEL: undefined,
      MICROFORGE_QEMU: undefined,
      MICROFORGE_QBOOT: undefined,
      ...env,
    },
    nothrow: true,
    cwd: repoRoot,
    timeoutMs: 180_000,
  });
  const seconds = (performance.now() - started) / 1000;
  const lines = r.stderr.split("\n");
  const files = (await snapshot(cache)).filter((p) => !p.endsWith("/"));
  return {
    args,
    code: r.code,
    stdout: r.stdout,
    stderr: r.stderr,
    message: lines.find((l) => l.startsWith("microforge: ")) ?? "",
    hint: lines.find((l) => l.startsWith("  → ")) ?? "",
    seconds,
    cached: files.filter((p) => !BOOKKEEPING.some((d) => p.startsWith(d))),
    bookkeeping: files.filter((p) => BOOKKEEPING.some((d) => p.startsWith(d))).length,
    calls: (await readFile(calls, "utf8")).split("\n").filter(Boolean),
    downloads: downloads() - before,
    qemus: (await qemusMentioning(tmp)) + (await qemusMentioning(cache)),
  };
}

/** One run as a table cell: `microforge ARGS` → exit N in S s: message; what it touched. */
function show(o: Outcome): string {
  const args = o.args.join(" ").replaceAll(scratch, "…");
  const touched = [
    o.cached.length ? `cache: ${o.cached.join(", ")}` : `no cache artifacts${o.bookkeeping ? ` (${o.bookkeeping} memo/lock files)` : ""}`,
    o.calls.length ? `ran: ${o.calls.map((c) => c.split(" ")[0]).join(", ")}` : "no make/tar/xz/apt-get run",
    `${o.downloads} downloads`,
  ];
  const said = o.message ? o.message.replace(/^microforge: /, "") : `(no message; stderr: ${o.stderr.trim().split("\n").slice(0, 3).join(" / ") || "empty"})`;
  return `\`${args}\` → exit ${o.code} in ${o.seconds.toFixed(1)} s: "${said.replaceAll(scratch, "…")}" ${o.hint.trim().replaceAll(scratch, "…")}; ${touched.join(", ")}`;
}

/** The common verdict: exit 1, the message names `what`, the hint says doctor --fix, and no long work started. */
function refusedEarly(o: Outcome, what: RegExp): void {
  const context = `microforge ${o.args.join(" ")}\n--- stderr ---\n${o.stderr}--- stdout ---\n${o.stdout.slice(0, 2000)}`;
  assert.equal(o.code, 1, `exit code: ${context}`);
  assert.match(o.message, what, `the message does not name what is missing: ${context}`);
  assert.match(o.hint, /microforge doctor --fix/, `no doctor --fix hint: ${context}`);
  assert.doesNotMatch(o.stderr, /^\s+at /m, `stack trace: ${context}`);
  assert.equal(o.stdout, "", `a failed command printed a result: ${context}`);
  assert.deepEqual(o.calls, [], `long work started before the error: ${context}`);
  assert.deepEqual(o.cached, [], `the cache got entries before the error: ${context}`);
  assert.equal(o.downloads, 0, `a tarball or busybox was downloaded before the error: ${context}`);
  assert.equal(o.qemus, 0, `a QEMU is still running: ${context}`);
}

before(async () => {
  if (skip) return;
  server = await startFixtureServer();
  upstream = await serveUpstream(server);
  scratch = await scratchDir("host-missing-files-");
});
after(async () => {
  await server?.close();
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

test("no qemu-system-x86_64 (not on PATH; MICROFORGE_QEMU pointing at nothing) → run fails naming it with the doctor --fix hint, before the default kernel/initramfs is fetched or built", { skip, timeout: 600_000 }, async (t: TestContext) => {
  const outcomes = [
    await attempt(["run", "--accel", "tcg", "--", "true"], ["qemu-system-x86_64"]),
    await attempt(["run", "--accel", "tcg", "--", "true"], [], { MICROFORGE_QEMU: join(scratch, "no-such-qemu") }),
  ];
  t.diagnostic(`observed: ${outcomes.map(show).join("; ")}`);
  refusedEarly(outcomes[0], /^microforge: qemu-system-x86_64 is missing: .*not on PATH/);
  refusedEarly(outcomes[1], /^microforge: qemu-system-x86_64 is missing: MICROFORGE_QEMU is \S*no-such-qemu, which is not an executable file/);
});

test("no qboot firmware (a QEMU whose data dir lacks qboot.rom) → run fails naming qboot.rom with the doctor --fix hint, before anything is fetched, built or booted", { skip, timeout: 600_000 }, async (t: TestContext) => {
  // A QEMU installed in its own prefix whose firmware package is missing: `-L help` lists an empty data dir.
  const prefix = join(scratch, "qemu-prefix");
  await mkdir(join(prefix, "bin"), { recursive: true });
  await mkdir(join(prefix, "share", "qemu"), { recursive: true });
  const qemu = join(prefix, "bin", "qemu-system-x86_64");
  await writeFile(qemu, `#!/bin/sh\nif [ "$1" = -L ] && [ "$2" = help ]; then echo ${join(prefix, "share", "qemu")}; exit 0; fi\nexec ${await real("qemu-system-x86_64")} "$@"\n`);
  await chmod(qemu, 0o755);
  const o = await attempt(["run", "--accel", "tcg", "--", "true"], ["qemu-system-x86_64"], {
    MICROFORGE_QEMU: qemu,
    MICROFORGE_QBOOT: join(prefix, "share", "qemu", "qboot.rom"),
  });
  t.diagnostic(`observed: ${show(o)}`);
  refusedEarly(o, /^microforge: qboot\.rom is missing: MICROFORGE_QBOOT is \S*qemu-prefix\/share\/qemu\/qboot\.rom, which does not exist/);
});

test("no gcc, flex or bison on PATH (each in turn) → kernel build of a new config fails naming the tool with the doctor --fix hint, before extracting the source or running make", { skip, timeout: 600_000 }, async (t: TestContext) => {
  const outcomes: Outcome[] = [];
  // Debian's linux-source-6.1 (installed, so nothing to download) with a config no cache holds: the cache is fresh.
  for (const tool of ["gcc", "flex", "bison"]) {
    outcomes.push(await attempt(["kernel", "build", "--kernel-source", "debian", "--version", "6.1", "--features", "virtio", "--quiet"], [tool]));
  }
  // Control: with nothing missing the same run does reach the long work (the tar shim logs the extraction),
  // so the rows above cannot pass just because the shims hide it.
  const control = await attempt(["kernel", "build", "--kernel-source", "debian", "--version", "6.1", "--features", "virtio", "--quiet"], []);
  t.diagnostic(`observed: ${outcomes.map(show).join("; ")}; control with nothing missing: exit ${control.code}, ran ${control.calls.map((c) => c.split(" ")[0]).join(", ") || "nothing"}`);
  for (const [i, tool] of ["gcc", "flex", "bison"].entries()) {
    refusedEarly(outcomes[i], new RegExp(`^microforge: ${tool} is missing: building the kernel needs it`));
  }
  assert.ok(control.calls.some((c) => c.startsWith("tar ")), `control: the tar shim was not reached: ${control.stderr}`);
});

test("no flex, kernel source from kernel.org → kernel build fails naming flex before the tarball is downloaded", { skip, timeout: 600_000 }, async (t: TestContext) => {
  const o = await attempt(["kernel", "build", "--kernel-source", "kernel.org", "--version", "6.1", "--features", "virtio", "--quiet"], ["flex"]);
  t.diagnostic(`observed: ${show(o)}`);
  refusedEarly(o, /^microforge: flex is missing: building the kernel needs it/);
});

test("a dynamic busybox (/bin/ls) as --busybox for initramfs → refused naming it and its loader, with the doctor --fix hint; no image written", { skip, timeout: 600_000 }, async (t: TestContext) => {
  const out = join(scratch, "initrd.cpio.gz");
  const o = await attempt(["initramfs", "--busybox", "/bin/ls", "-o", out], []);
  const written = await stat(out).then(() => true, () => false);
  t.diagnostic(`observed: ${show(o)}; ${written ? "an image was written" : "no image written"}`);
  refusedEarly(o, /^microforge: \/bin\/ls is dynamically linked \(it needs the loader \/lib64\/ld-linux-x86-64\.so\.2\)/);
  assert.equal(written, false, "a refused initramfs was written anyway");
});

test("a dynamic busybox (/bin/ls) as --busybox for build → refused before the kernel build starts", { skip, timeout: 600_000 }, async (t: TestContext) => {
  const o = await attempt(["build", "--busybox", "/bin/ls", "--kernel-source", "debian", "--kernel-version", "6.1", "--features", "virtio", "--quiet"], []);
  t.diagnostic(`observed: ${show(o)}`);
  refusedEarly(o, /^microforge: \/bin\/ls is dynamically linked/);
});
