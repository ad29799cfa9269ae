/**
 * Bad input, through the real CLI: each category is one row of the
 * reliability table. Every case must end with the right exit code (2 for
 * usage errors, 1 for the rest), a message that names the bad value, a hint
 * line saying what to do, no stack trace, nothing on stdout, and no work
 * started: the case's cache stays as it was and the fake kernel.org /
 * busybox.net served no tarball or binary.
 *
 * Nothing here builds or boots: `run`/`emit` get small placeholder
 * `--kernel`/`--initrd` files (nothing reads them before the checks), and
 * versions come from the fixture server.
 */
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import { onDeno, repoRoot, tempDir, tsRunner } from "../helpers.ts";
import { type FixtureServer, startFixtureServer } from "../fixtures/http-server.ts";
import { FIXTURE_RELEASES, tarballUrl } from "../fixtures/kernel-org.ts";
import { serveUpstream } from "../fixtures/upstream.ts";

const skip = onDeno ? "Node only" : false;

/** One bad input and what the CLI must answer. */
interface Case {
  /** Arguments after `microforge`. */
  args: string[];
  /** Expected exit code: 2 usage, 1 other errors, 0 for the controls that show the check is not blanket. */
  code: 0 | 1 | 2;
  /** Text the first message line must contain (the bad value, or for controls, stdout). */
  names: string | RegExp;
  /** What the hint line must say, when it matters (e.g. --update, did you mean). */
  hint?: RegExp;
  /** Extra text the whole stderr must contain (file:line, ...). */
  says?: RegExp;
}

/** What one case did. */
interface Outcome {
  c: Case;
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  first: string;
  cacheBefore: string[];
  cacheAfter: string[];
  downloads: number;
}

let server: FixtureServer;
let upstream: Record<string, string>;
/** Scratch files: placeholder kernel/initrd, a directory, a FIFO, templates, fragments, lock files. */
let files: Record<string, string>;

/** URL paths whose download would mean real work started: every kernel tarball and busybox binary. */
function heavyPaths(): string[] {
  const tarballs = FIXTURE_RELEASES.map((r) => tarballUrl(server.url, r)).filter((u): u is string => !!u).map((u) => new URL(u).pathname);
  return [...tarballs, "/downloads/binaries/1.35.0-x86_64-linux-musl/busybox", "/downloads/binaries/1.31.0-defconfig-multiarch-musl/busybox-x86_64"];
}
const downloadsSoFar = () => heavyPaths().reduce((n, p) => n + server.hits(p), 0);

/** Every path under `dir` with its size (directories end with /): what "the cache is unchanged" compares. */
async function snapshot(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory()) out.push(`${rel}/`, ...(await snapshot(join(dir, e.name), `${rel}/`)));
    else out.push(`${rel} ${(await stat(join(dir, e.name)).catch(() => undefined))?.size ?? "?"}`);
  }
  return out;
}

/**
 * Run `microforge ARGS` like `cli()` from test/helpers.ts (same runner, cwd and env layering), with a
 * 60 s guard: a bad input that blocks (a FIFO read) must fail this test, not hang the suite.
 */
async function microforge(args: string[], env: Record<string, string | undefined>) {
  return await runProcess([...tsRunner(), join(repoRoot, "lib", "cli.ts"), ...args], { env: { ...process.env, ...env }, nothrow: true, cwd: repoRoot, timeoutMs: 60_000 });
}

/** Run every case against a fresh cache of its own, recording what it did. */
async function attempt(cases: readonly Case[]): Promise<Outcome[]> {
  const cache = await tempDir("bad-input-cache-");
  // Nothing from the caller's environment may pick a source, version, lock or accelerator for these runs.
  const env = {
    ...upstream,
    MICROFORGE_CACHE: cache,
    MICROFORGE_KERNEL_SOURCE: undefined,
    MICROFORGE_BUSYBOX_SOURCE: undefined,
    MICROFORGE_KERNEL_VERSION: undefined,
    MICROFORGE_LOCK: undefined,
    MICROFORGE_ACCEL: undefined,
  };
  const out: Outcome[] = [];
  for (const c of cases) {
    const cacheBefore = await snapshot(cache);
    const hits = downloadsSoFar();
    const r = await microforge(c.args, env);
    const first = r.stderr.split("\n").find((l) => l.startsWith("microforge: ")) ?? r.stderr.split("\n")[0] ?? "";
    out.push({ c, ...r, first, cacheBefore, cacheAfter: await snapshot(cache), downloads: downloadsSoFar() - hits });
  }
  return out;
}

const show = (o: Outcome) => `\`${o.c.args.join(" ").replaceAll(repoRoot, ".").replace(/--kernel \S+\/bzImage --initrd \S+\/initrd\.cpio\.gz( --accel tcg)?/, "…").replace(/\S*bad-input-files-\w+\//g, "")}\` → exit ${o.code ?? o.signal}${o.code === 0 ? "" : `: ${o.first.replace(/^microforge: /, "").replace(/\S*bad-input-files-\w+\//g, "")}`}`;

/** Report what every case did, then check each; one failure names its case. */
function check(t: TestContext, outcomes: Outcome[], extra?: (o: Outcome) => void): void {
  t.diagnostic(`observed: ${outcomes.map(show).join("; ")}`);
  for (const o of outcomes) {
    const what = `microforge ${o.c.args.join(" ")}\n--- stderr ---\n${o.stderr}--- stdout ---\n${o.stdout.slice(0, 2000)}`;
    assert.notEqual(o.signal, "SIGKILL", `hung (killed after 60 s): ${what}`);
    assert.equal(o.code, o.c.code, `exit code: ${what}`);
    assert.doesNotMatch(o.stderr, /^\s+at /m, `stack trace: ${what}`);
    // Any command may keep answers in memo/ (what `qemu -L help` said, until the binary changes; the release list
    // it looked up, for a few minutes), each a whole file written atomically; nothing else, whatever the outcome.
    const kept = (entries: string[]) => entries.filter((e) => !/^memo\/([0-9a-f]{32}\.json \d+)?$/.test(e));
    assert.deepEqual(kept(o.cacheAfter), kept(o.cacheBefore), `the cache changed: ${what}`);
    assert.equal(o.downloads, 0, `a tarball or busybox was downloaded: ${what}`);
    if (o.c.code === 0) {
      assert.ok(typeof o.c.names === "string" ? o.stdout.includes(o.c.names) : o.c.names.test(o.stdout), `control output: ${what}`);
    } else {
      assert.match(o.first, /^microforge: \S/, `no error message: ${what}`);
      assert.ok(typeof o.c.names === "string" ? o.first.includes(o.c.names) : o.c.names.test(o.first), `the message does not name ${o.c.names}: ${what}`);
      const hint = /^ {2}→ (.+)$/m.exec(o.stderr)?.[1];
      assert.ok(hint && hint.length > 10, `no hint line saying what to do: ${what}`);
      if (o.c.hint) assert.match(hint, o.c.hint, `hint: ${what}`);
      assert.equal(o.stdout, "", `a failed command printed a result: ${what}`);
    }
    if (o.c.says) assert.match(o.stderr, o.c.says, what);
    extra?.(o);
  }
}

before(async () => {
  if (skip) return;
  server = await startFixtureServer();
  upstream = await serveUpstream(server);
  const dir = await tempDir("bad-input-files-");
  const f = (name: string) => join(dir, name);
  files = {
    dir: f("a-directory"),
    fifo: f("a-fifo"),
    kernel: f("bzImage"),
    initrd: f("initrd.cpio.gz"),
    syntax: f("syntax.sh.ejs"),
    unknownVar: f("unknown-var.sh.ejs"),
    unclosed: f("unclosed.sh.ejs"),
    fragSyntax: f("syntax.config.ejs"),
    fragVar: f("unknown-var.config.ejs"),
    fragOpt: f("unknown-option.config.ejs"),
    fragMaybe: f("maybe.config"),
    lockNotJson: f("not-json.lock.json"),
    lockNotLock: f("array.lock.json"),
    lockWrongSha: f("wrong-sha.lock.json"),
    lockBadHex: f("bad-hex.lock.json"),
  };
  await mkdir(files.dir);
  execFileSync("mkfifo", [files.fifo]);
  // Placeholders: emit only prints paths, and every case fails before QEMU would read them.
  await writeFile(files.kernel, "not a kernel\n");
  await writeFile(files.initrd, "not an initramfs\n");
  await writeFile(files.syntax, "#!/bin/sh\necho hi\n<% if (command { %>\necho <%= hostname %>\n<% } %>\n");
  await writeFile(files.unknownVar, "#!/bin/sh\necho hi\n\necho <%= hostnmae %>\n");
  await writeFile(files.unclosed, "#!/bin/sh\necho hi\n<% if (shell) { %>\nexec sh\n");
  await writeFile(files.fragSyntax, "CONFIG_PRINTK=y\n<% if (atLeast(\"6.1\") { %>\nCONFIG_TTY=y\n<% } %>\n");
  await writeFile(files.fragVar, "CONFIG_PRINTK=y\n\nCONFIG_NR_CPUS=<%= nr_cpus %>\n");
  await writeFile(files.fragOpt, "CONFIG_PRINTK=y\nCONFIG_NR_CPUS=<%= opts.cpus.max %>\n");
  await writeFile(files.fragMaybe, "CONFIG_PRINTK=y\nCONFIG_TTY=maybe\n");
  await writeFile(files.lockNotJson, '{ "version": 1, "artifacts": { kernel: } }\n');
  await writeFile(files.lockNotLock, "[1, 2, 3]\n");
  const url = `${server.url}${new URL(tarballUrl(server.url, FIXTURE_RELEASES.find((r) => r.version === "6.1.63")!)!).pathname}`;
  const entry = { spec: "6.1", version: "6.1.63", source: "kernel.org", url, sha256: "0".repeat(64) };
  await writeFile(files.lockWrongSha, JSON.stringify({ version: 1, artifacts: { kernel: entry } }, null, 2) + "\n");
  await writeFile(files.lockBadHex, JSON.stringify({ version: 1, artifacts: { kernel: { ...entry, sha256: "sha256-of-the-tarball" } } }, null, 2) + "\n");
});
after(async () => await server?.close());

/** `emit` with placeholder kernel and initrd, TCG, and `more` flags. */
const emit = (...more: string[]) => ["emit", "--kernel", files.kernel, "--initrd", files.initrd, "--accel", "tcg", ...more];

test("invalid version spec (6.x.y, ^^6, 999, latest-ish) → exit 2 naming the spec and the forms that work (1 when it is well formed but matches nothing), nothing fetched", { skip, timeout: 600_000 }, async (t) => {
  const forms = /use latest, longterm, stable, mainline, a version/i;
  const outcomes = await attempt([
    { args: ["kernel", "build", "--version", "6.x.y"], code: 2, names: '"6.x.y"', hint: forms },
    { args: ["kernel", "build", "--version", "^^6"], code: 2, names: '"^^6"', hint: forms },
    { args: ["kernel", "build", "--version", "999"], code: 1, names: 'No kernel version from kernel.org matches "999"', hint: /available: .*6\.1\.63 \(longterm\).*; pass one of these/ },
    { args: ["kernel", "build", "--version", "latest-ish"], code: 2, names: '"latest-ish"', hint: /did you mean latest\?/ },
    { args: ["fetch", "kernel", "6.x.y"], code: 2, names: '"6.x.y"', hint: forms },
    { args: ["fetch", "busybox", "longterm"], code: 2, names: "Channel longterm does not apply to busybox", hint: /use latest, a version like 1\.36/ },
    { args: ["versions", "kernel", "--resolve", "^^6"], code: 2, names: '"^^6"', hint: forms },
    { args: ["build", "--kernel-version", "latest-ish"], code: 2, names: '"latest-ish"', hint: /did you mean latest\?/ },
    { args: ["emit", "--kernel-version", "6.x.y"], code: 2, names: '"6.x.y"', hint: forms },
    { args: ["initramfs", "--busybox-version", "^^1"], code: 2, names: 'Invalid busybox version spec "^^1"', hint: /a version \(1\.36, 1\.36\.1\)/ },
    // Control: a good spec resolves (from the fake kernel.org, without downloading the tarball).
    { args: ["versions", "kernel", "--resolve", "^6.1"], code: 0, names: "6.6.2\n" },
  ]);
  check(t, outcomes);
});

test("unknown channel (nightly, lts) → exit 2 naming it, with the channels to use, before any lookup", { skip, timeout: 600_000 }, async (t) => {
  const outcomes = await attempt([
    { args: ["versions", "kernel", "--channel", "nightly"], code: 2, names: '"nightly"', hint: /use longterm, stable or mainline/ },
    { args: ["versions", "kernel", "--channel", "lts"], code: 2, names: '"lts"', hint: /use longterm, stable or mainline/ },
    { args: ["versions", "kernel", "--channel", "longterm", "--kernel-source", "debain"], code: 2, names: '"debain"', hint: /did you mean debian\?/ },
    { args: ["versions", "busybox", "--channel", "longterm"], code: 2, names: "--channel applies to kernel versions only", hint: /drop --channel/ },
    { args: ["kernel", "build", "--version", "nightly"], code: 2, names: '"nightly"', hint: /longterm, stable, mainline/ },
    // Control: a real channel lists only its releases.
    { args: ["versions", "kernel", "--channel", "longterm"], code: 0, names: /6\.1\.63\s+longterm/ },
  ]);
  check(t, outcomes);
});

test("bad memory size (0, -1, 2G, lots) → exit 2 naming --memory and the value, with sizes that work; 1.5G is 1536 MiB", { skip, timeout: 600_000 }, async (t) => {
  const outcomes = await attempt([
    { args: emit("--memory", "0"), code: 2, names: /"0".*at least 16M \(--memory\)/, hint: /512M or 1G/ },
    { args: emit("--memory=-1"), code: 2, names: /"-1" \(--memory\)/, hint: /512M or 1G/ },
    { args: emit("--memory", "2G"), code: 2, names: /exactly 2 GiB.*\(--memory\)/, hint: /2047M or 2049M/ },
    { args: emit("--memory", "lots"), code: 2, names: /"lots" \(--memory\)/, hint: /512M or 1G/ },
    { args: emit("--memory", "0.5M"), code: 2, names: /"0\.5M".*whole number of MiB/, hint: /512M or 1G/ },
    { args: emit("--memory", "2T"), code: 2, names: /"2T" is larger than 1 TiB/, hint: /smaller/ },
    { args: ["run", "--kernel", files.kernel, "--initrd", files.initrd, "-m", "lots", "--", "true"], code: 2, names: /"lots" \(--memory\)/ },
    // "--memory -1" (with a space) reaches lib/command.ts as an unknown option -1: still exit 2 naming -1.
    { args: emit("--memory", "-1"), code: 2, names: "-1" },
    // Control: fractional sizes that are whole MiB are fine.
    { args: emit("--memory", "1.5G"), code: 0, names: /-m 1536 /s },
  ]);
  check(t, outcomes);
  // A negative value after a space is the flag's value, so its own check names the flag.
  await t.test("--memory -1 (with a space) names --memory", () => {
    assert.match(outcomes.find((o) => o.c.args.at(-1) === "-1" && o.c.args.at(-2) === "--memory")!.first, /--memory/);
  });
});

test("CPU count out of range or not a number (0, 256, -1, two) → exit 2 naming --cpus and the value, with the range", { skip, timeout: 600_000 }, async (t) => {
  const range = /whole number from 1 to 255/;
  const outcomes = await attempt([
    { args: emit("--cpus", "0"), code: 2, names: '"0" (--cpus)', hint: range },
    { args: emit("--cpus", "256"), code: 2, names: '"256" (--cpus)', hint: range },
    { args: emit("--cpus=-1"), code: 2, names: '"-1" (--cpus)', hint: range },
    { args: emit("--cpus", "two"), code: 2, names: '"two" (--cpus)', hint: range },
    { args: emit("--cpus", "1.5"), code: 2, names: '"1.5" (--cpus)', hint: range },
    { args: emit("--cpus", "0x2"), code: 2, names: '"0x2" (--cpus)', hint: range },
    { args: emit("--cpus", " "), code: 2, names: '" " (--cpus)', hint: range },
    { args: ["run", "--kernel", files.kernel, "--initrd", files.initrd, "--cpus", "lots", "--", "true"], code: 2, names: '"lots" (--cpus)', hint: range },
    // Control.
    { args: emit("--cpus", "2"), code: 0, names: /-smp 2/ },
  ]);
  check(t, outcomes);
});

test("nonexistent or unusable path (missing file, directory, FIFO, missing parent) → exit 1 naming the path and what it is, before QEMU starts", { skip, timeout: 600_000 }, async (t) => {
  const { kernel, initrd, dir, fifo } = files;
  const outcomes = await attempt([
    { args: ["emit", "--kernel", "/nonexistent", "--initrd", initrd], code: 1, names: "Kernel /nonexistent does not exist", hint: /microforge kernel build/ },
    { args: ["emit", "--kernel", dir, "--initrd", initrd], code: 1, names: `Kernel ${dir} is a directory`, hint: /bzImage or vmlinux/ },
    { args: ["emit", "--kernel", fifo, "--initrd", initrd], code: 1, names: `Kernel ${fifo} is a FIFO`, hint: /bzImage or vmlinux/ },
    { args: ["emit", "--kernel", `${dir}/no/such/bzImage`, "--initrd", initrd], code: 1, names: `(there is no ${dir}/no)`, hint: /bzImage or vmlinux/ },
    { args: ["emit", "--kernel", kernel, "--initrd", dir], code: 1, names: `Initramfs ${dir} is a directory`, hint: /microforge initramfs/ },
    { args: ["emit", "--kernel", kernel, "--initrd", "/nonexistent.cpio.gz"], code: 1, names: "/nonexistent.cpio.gz does not exist" },
    { args: emit("--share", "/nonexistent"), code: 1, names: "Shared directory /nonexistent does not exist", hint: /existing host directory/ },
    { args: emit("--share", `${kernel}:/mnt/k`), code: 1, names: `Shared directory ${kernel} is a file, not a directory`, hint: /existing host directory/ },
    { args: emit("--disk", "/nonexistent.img"), code: 1, names: "Disk image /nonexistent.img does not exist", hint: /truncate -s 64M/ },
    { args: emit("--disk", `${dir}:ro`), code: 1, names: `Disk image ${dir} is a directory` },
    // run: refused before QEMU, so it is exit 1 with our message, not QEMU's exit 255.
    { args: ["run", "--kernel", "/nonexistent", "--initrd", initrd, "--accel", "tcg", "--", "true"], code: 1, names: "Kernel /nonexistent does not exist" },
    { args: ["run", "--kernel", kernel, "--initrd", initrd, "--timeline", "/nonexistent/dir/boot.svg", "--", "true"], code: 2, names: "there is no directory /nonexistent/dir" },
    // Reading a FIFO would block forever: each of these used to hang or reach a tool that would.
    { args: ["initramfs", "--init", fifo], code: 1, names: `Template ${fifo} is a FIFO` },
    { args: ["kernel", "config", "--version", "6.1", "--config", fifo], code: 1, names: `Config fragment ${fifo} is a FIFO` },
    { args: ["fetch", "kernel", "6.1", "--lock", fifo], code: 1, names: `Lock file ${fifo} is a FIFO` },
    { args: ["kernel", "config", "--version", "6.1", "--config", "/nonexistent.config"], code: 1, names: "Config fragment /nonexistent.config does not exist", hint: /--config/ },
    { args: ["initramfs", "--init", "/nonexistent.sh.ejs"], code: 1, names: "Template file /nonexistent.sh.ejs does not exist" },
    { args: ["fetch", "kernel", "6.1", "--lock", dir], code: 1, names: `Lock file ${dir} is a directory`, hint: /microforge\.lock\.json/ },
    { args: ["kernel", "config", "--tree", "/nonexistent"], code: 1, names: "Kernel tree /nonexistent does not exist", hint: /--extract/ },
    { args: ["fetch", "kernel", "--kernel-source", "/nonexistent.tar.xz"], code: 1, names: "Kernel tarball /nonexistent.tar.xz (--kernel-source) does not exist" },
    { args: ["initramfs", "--busybox", dir], code: 1, names: `Busybox binary ${dir} (--busybox) is a directory` },
  ]);
  check(t, outcomes, (o) => assert.doesNotMatch(o.stderr, /qemu:/, `QEMU was started: ${o.c.args.join(" ")}`));
});

test("template syntax error or unknown variable in an --init template or a kernel fragment → exit 1 with file:line, before busybox or the kernel is fetched", { skip, timeout: 600_000 }, async (t) => {
  const { syntax, unknownVar, unclosed, fragSyntax, fragVar, fragOpt } = files;
  const outcomes = await attempt([
    { args: ["initramfs", "--init", syntax], code: 1, names: `${syntax}:3: Unexpected token`, hint: /fix the template/ },
    { args: ["initramfs", "--init", unknownVar], code: 1, names: `${unknownVar}:4: hostnmae is not defined`, hint: /fix the template or pass the missing variable/ },
    { args: ["initramfs", "--init", unclosed], code: 1, names: `${unclosed}:3: a block opened here is never closed` },
    { args: ["initramfs", "--init", unknownVar, "--set", "hostname=vm1"], code: 1, names: `${unknownVar}:4` },
    { args: ["kernel", "config", "--version", "6.1", "--config", fragSyntax], code: 1, names: `${fragSyntax}:2: Unexpected token` },
    { args: ["kernel", "config", "--version", "6.1", "--config", fragVar], code: 1, names: `${fragVar}:3: nr_cpus is not defined`, hint: /pass the missing variable/ },
    { args: ["kernel", "config", "--version", "6.1", "--config", fragOpt], code: 1, names: `${fragOpt}:2: Cannot read properties of undefined (reading 'max')` },
    // build: the layers are checked once the version is known, before the tarball download.
    { args: ["kernel", "build", "--version", "6.1", "--config", fragSyntax], code: 1, names: `${fragSyntax}:2` },
    { args: ["kernel", "build", "--version", "6.1", "--features", "virtio", "--config", fragVar], code: 1, names: `${fragVar}:3` },
    { args: ["initramfs", "--init", "init.sh.ejs.bak"], code: 1, names: "Template init.sh.ejs.bak was not found" },
  ]);
  check(t, outcomes);
});

test("lock file that is not JSON, not a lock, or pins a wrong sha256 → exit 1 naming the file and what is wrong, hint --update; lock untouched, no bytes kept", { skip, timeout: 600_000 }, async (t) => {
  const { lockNotJson, lockNotLock, lockWrongSha, lockBadHex } = files;
  const before = Object.fromEntries(await Promise.all([lockNotJson, lockNotLock, lockWrongSha, lockBadHex].map(async (f) => [f, await readFile(f, "utf8")])));
  const cases: Case[] = [
    { args: ["fetch", "kernel", "6.1", "--lock", lockNotJson], code: 1, names: `${lockNotJson} is not valid JSON`, hint: /--update/ },
    { args: ["kernel", "build", "--version", "6.1", "--lock", lockNotJson], code: 1, names: `${lockNotJson} is not valid JSON`, hint: /--update/ },
    { args: ["fetch", "kernel", "6.1", "--lock", lockNotLock], code: 1, names: `${lockNotLock} is not a microforge lock file`, hint: /--update/ },
    { args: ["fetch", "kernel", "6.1", "--lock", lockBadHex], code: 1, names: "entry kernel has no valid version and sha256", hint: /--update/ },
    { args: ["fetch", "kernel", "6.6", "--lock", lockWrongSha, "--locked"], code: 1, names: 'locked to spec "6.1" but "6.6" was asked for', hint: /--update/ },
  ];
  const outcomes = await attempt(cases);
  // The wrong sha256 is only found by downloading: the bytes must be refused and not kept, and no build may start.
  const pinned: Case[] = [
    { args: ["fetch", "kernel", "6.1", "--lock", lockWrongSha], code: 1, names: /Checksum mismatch|sha256/, hint: /--update/, says: /0{64}/ },
    { args: ["kernel", "build", "--version", "6.1", "--lock", lockWrongSha], code: 1, names: /Checksum mismatch|sha256/, hint: /--update/ },
  ];
  const cache = await tempDir("bad-input-cache-");
  const env = { ...upstream, MICROFORGE_CACHE: cache, MICROFORGE_KERNEL_SOURCE: undefined, MICROFORGE_LOCK: undefined };
  for (const c of pinned) {
    const r = await microforge(c.args, env);
    const first = r.stderr.split("\n").find((l) => l.startsWith("microforge: ")) ?? "";
    const left = (await snapshot(cache)).filter((p) => !p.endsWith("/") && !p.startsWith("locks/"));
    // Downloads are expected here; what must not be left is any file (blob, temp file, source tree, build).
    outcomes.push({ c, ...r, first, cacheBefore: [], cacheAfter: left, downloads: 0 });
  }
  check(t, outcomes);
  for (const [f, text] of Object.entries(before)) assert.equal(await readFile(f, "utf8"), text, `${f} was rewritten`);
});

test("unknown flag or subcommand (run --memroy, buidl) → exit 2 with a \"did you mean\" and where the help is", { skip, timeout: 600_000 }, async (t) => {
  const outcomes = await attempt([
    { args: ["run", "--memroy", "1G"], code: 2, names: "Unknown option --memroy", hint: /did you mean --memory\?/ },
    { args: ["emit", "--kernal", "/boot/vmlinuz"], code: 2, names: "Unknown option --kernal", hint: /did you mean --kernel\?/ },
    { args: ["kernel", "build", "--verison", "6.1"], code: 2, names: "Unknown option --verison", hint: /did you mean --version\?/ },
    { args: ["buidl"], code: 2, names: "Unknown command buidl", hint: /did you mean `microforge build`\?/ },
    { args: ["kernel", "biuld"], code: 2, names: '"biuld"', hint: /did you mean `microforge kernel build`\?/ },
    { args: ["versions", "kernels"], code: 2, names: '"kernels"', hint: /did you mean `microforge versions kernel`\?/ },
    { args: ["emit", "--kernel", files.kernel, "--initrd", files.initrd, "--accel", "kmv"], code: 2, names: '"kmv"', hint: /did you mean kvm\?/ },
    { args: ["kernel", "build", "--features", "virtio,vritio"], code: 2, names: "Unknown kernel feature vritio", hint: /did you mean virtio\?/ },
    { args: ["fetch", "kernel", "--kernel-source", "kernelorg"], code: 2, names: '"kernelorg"', hint: /did you mean kernel\.org\?/ },
    { args: ["fetch", "kernel", "6.1", "extra"], code: 2, names: "Unexpected argument extra" },
    { args: ["kernel", "build", "--update", "--locked", "--lock", "x.json"], code: 2, names: "--update and --locked contradict each other" },
  ]);
  check(t, outcomes);
});

test("malformed Kconfig override (CONFIG_X=maybe, FOO, CONFIG_=y) → exit 2 naming it, with the accepted forms; in a fragment file exit 1 with file:line", { skip, timeout: 600_000 }, async (t) => {
  const forms = /CONFIG_NAME=VALUE.*y, m, n, a "quoted string", a decimal number or 0x hex/;
  const outcomes = await attempt([
    { args: ["kernel", "config", "--version", "6.1", "--set", "CONFIG_X=maybe"], code: 2, names: '"CONFIG_X=maybe": the value "maybe"', hint: forms },
    { args: ["kernel", "config", "--version", "6.1", "--set", "FOO"], code: 2, names: '"FOO": it has no =VALUE', hint: forms },
    { args: ["kernel", "config", "--version", "6.1", "--set", "CONFIG_=y"], code: 2, names: '"CONFIG_=y": "CONFIG_" is not a symbol name', hint: forms },
    { args: ["kernel", "config", "--version", "6.1", "--set", 'CONFIG_CMDLINE="console=ttyS0'], code: 2, names: "CONFIG_CMDLINE", hint: forms },
    { args: ["kernel", "config", "--version", "6.1", "--set", "CONFIG_X="], code: 2, names: '"CONFIG_X="', hint: forms },
    // build: refused before the tarball is fetched.
    { args: ["kernel", "build", "--version", "6.1", "--set", "CONFIG_X=maybe"], code: 2, names: '"CONFIG_X=maybe"', hint: forms },
    { args: ["kernel", "build", "--version", "6.1", "--make", "FOO"], code: 2, names: '--make "FOO"', hint: /VAR=VALUE|KCFLAGS=-O2/ },
    { args: ["kernel", "build", "--version", "6.1", "--jobs", "0"], code: 2, names: '--jobs "0"' },
    { args: ["kernel", "build", "--version", "6.1", "--config", files.fragMaybe], code: 1, names: `${files.fragMaybe}:2: the value of CONFIG_TTY is "maybe"`, hint: /CONFIG_TTY=y/ },
    // Control: a good override lands in the printed fragment.
    { args: ["kernel", "config", "--version", "6.1", "--set", "CONFIG_NR_CPUS=4"], code: 0, names: "CONFIG_NR_CPUS=4\n" },
  ]);
  check(t, outcomes);
});
