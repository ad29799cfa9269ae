import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { symlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseFlags } from "../../lib/cli/command.ts";
import type { DoctorDeps } from "../../lib/cli/doctor.ts";
import { doctorCommand, runDoctor } from "../../lib/cli/doctor.ts";
import { doctorJson, formatReport } from "../../lib/host/report.ts";
import { elfInterpreter } from "../../lib/util/elf.ts";
import { ElfError, MissingToolError } from "../../lib/util/errors.ts";
import { CommandError } from "../../lib/util/errors.ts";
import type { RunOptions, RunResult } from "../../lib/util/process.ts";
import { findOnPath } from "../../lib/util/find-on-path.ts";
import type { HostDeps, HostItem } from "../../lib/host/checks.ts";
import { hostChecks, hostReady, runHostChecks } from "../../lib/host/checks.ts";
import { planFix } from "../../lib/host/fix.ts";
import { archChecks } from "../../lib/host/arch-checks.ts";
import type { KvmProbeResult } from "../../lib/host/kvm-probe.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { detectDistro } from "../../lib/host/packages.ts";
import { findQbootOrThrow, findQemuOrThrow } from "../../lib/host/qemu.ts";
import { cli, tempDir } from "../helpers.ts";

const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n';
const FEDORA = 'NAME="Fedora Linux"\nID=fedora\n';
const TOOLS = ["qemu-system-x86_64", "gcc", "make", "flex", "bison", "bc", "xz", "tar", "busybox", "cpio"];
const HEADERS = ["/fake/share/qemu/qboot.rom", "/usr/include/gelf.h", "/usr/include/libelf.h", "/usr/include/ncurses.h"];

/** A PATH directory holding do-nothing executables named `names`. */
async function fakeBin(names: readonly string[]): Promise<string> {
  const dir = await tempDir("doctor-bin-");
  for (const n of names) await writeFile(join(dir, n), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  return dir;
}

type Call = { argv: readonly string[]; options?: RunOptions };
type Answer = (argv: readonly string[]) => Partial<RunResult> | undefined;

/** A host whose tools answer like the real ones; `answer` overrides any reply. */
async function fakeHost(options: {
  tools?: readonly string[];
  qemuVersion?: string;
  files?: readonly string[];
  kvm?: KvmProbeResult;
  osRelease?: string;
  isRoot?: boolean;
  answer?: Answer;
} = {}) {
  const bin = await fakeBin(options.tools ?? TOOLS);
  const calls: Call[] = [];
  const kvmProbes: string[] = [];
  const files = new Set(options.files ?? HEADERS);
  const reply = (argv: readonly string[]): Partial<RunResult> => {
    const name = basename(argv[0]);
    if (argv[1] === "--version") {
      return { code: 0, stdout: name.startsWith("qemu") ? `QEMU emulator version ${options.qemuVersion ?? "7.2.22"} (Debian)\n` : `${name} 1.0\n` };
    }
    if (argv[1] === "-L") return { code: 0, stdout: "/fake/bin/../share/qemu\n" };
    if (argv[1] === "--help") return { code: 0, stdout: "BusyBox v1.36.1 (fake) multi-call binary.\n" };
    return { code: 0 };
  };
  const host: HostDeps = {
    env: { PATH: bin },
    run: (argv, opts) => {
      calls.push({ argv, options: opts });
      return Promise.resolve({ code: null, signal: null, stdout: "", stderr: "", ...(options.answer?.(argv) ?? reply(argv)) });
    },
    fileExists: (p) => Promise.resolve(files.has(p)),
    elfInterpreter: () => Promise.resolve(undefined),
    probeKvm: (qemu) => {
      kvmProbes.push(qemu);
      return Promise.resolve(options.kvm ?? { usable: true, reason: "a test guest ran in long mode with kvm in 40 ms", ms: 40 });
    },
    osRelease: options.osRelease ?? DEBIAN,
    isRoot: options.isRoot ?? true,
  };
  return { host, bin, calls, kvmProbes };
}

const byId = (items: readonly HostItem[], id: string) => items.find((i) => i.id === id)!;

function doctorDeps(host: HostDeps, extra: Partial<DoctorDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const logger = memoryLogger();
  const deps: DoctorDeps = {
    host,
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    logger,
    interactive: false,
    confirm: () => Promise.reject(new Error("confirm must not be called")),
    aptNeedsUpdate: () => Promise.resolve(undefined),
    ...extra,
  };
  return { deps, out, err, logger };
}

test("a complete host reports every item ok, in order, with the QEMU version and qboot path", async () => {
  const { host, bin } = await fakeHost();
  const items = await runHostChecks(host);
  assert.deepEqual(items.map((i) => i.id), ["qemu", "qboot", "kvm", "gcc", "make", "flex", "bison", "bc", "libelf", "ncurses", "xz", "tar", "busybox", "cpio"]);
  assert.deepEqual(items.filter((i) => i.status !== "ok"), []);
  assert.equal(byId(items, "qemu").detail, `QEMU 7.2.22 at ${bin}/qemu-system-x86_64`);
  assert.equal(byId(items, "qboot").detail, "/fake/share/qemu/qboot.rom");
  assert.equal(byId(items, "busybox").detail, `${bin}/busybox, statically linked (BusyBox v1.36.1)`);
  assert.equal(byId(items, "flex").detail, `${bin}/flex (flex 1.0)`);
  assert.equal(hostReady(items), true);
});

test("a tool missing from PATH is 'missing' with the apt-get line that installs it", async () => {
  const { host } = await fakeHost({ tools: TOOLS.filter((t) => t !== "flex") });
  const flex = byId(await runHostChecks(host), "flex");
  assert.equal(flex.status, "missing");
  assert.equal(flex.detail, "flex not found on PATH");
  assert.equal(flex.fix?.hint, "apt-get install flex");
  assert.deepEqual(flex.fix?.packages.fedora, ["flex"]);
  const asUser = byId(await runHostChecks({ ...host, isRoot: false }), "flex");
  assert.equal(asUser.fix?.hint, "sudo apt-get install flex");
});

test("hints follow the distribution, and name every package when it is unknown", async () => {
  const { host } = await fakeHost({ tools: [] });
  const hint = async (osRelease: string | undefined, id: string) => byId(await runHostChecks({ ...host, osRelease }), id).fix?.hint;
  assert.equal(await hint(FEDORA, "qemu"), "dnf install qemu-system-x86-core");
  assert.equal(await hint("ID=arch\n", "gcc"), "pacman -S --needed base-devel");
  assert.equal(await hint("ID=alpine\n", "busybox"), "apk add busybox-static");
  assert.equal(await hint("ID=ubuntu\nID_LIKE=debian\n", "xz"), "apt-get install xz-utils");
  assert.match((await hint("ID=gentoo\n", "qemu")) ?? "", /^install QEMU for x86_64 with your package manager \(debian: qemu-system-x86; fedora: /);
});

test("a QEMU older than 4.2 is 'unusable' because it has no microvm", async () => {
  const { host } = await fakeHost({ qemuVersion: "4.1.1" });
  const items = await runHostChecks(host);
  assert.equal(byId(items, "qemu").status, "unusable");
  assert.match(byId(items, "qemu").detail, /QEMU 4\.1\.1 at .* is too old: -M microvm needs 4\.2\.0 or newer/);
  assert.equal(hostReady(items), false);
});

test("qboot is looked up in the dirs `qemu -L help` lists; missing, it points at qemu-system-data", async () => {
  const { host } = await fakeHost({ files: HEADERS.slice(1) });
  const qboot = byId(await runHostChecks(host), "qboot");
  assert.equal(qboot.status, "missing");
  assert.match(qboot.detail, /qboot\.rom is in none of \/fake\/share\/qemu, \/usr\/share\/qemu/);
  assert.equal(qboot.fix?.hint, "apt-get install qemu-system-data");
});

test("MICROFORGE_QEMU and MICROFORGE_QBOOT are what the doctor checks; pointing at nothing, they are named", async () => {
  const { host, bin } = await fakeHost({ tools: TOOLS.filter((t) => t !== "qemu-system-x86_64") });
  await writeFile(join(bin, "qemu-custom"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const custom = await runHostChecks({ ...host, env: { ...host.env, MICROFORGE_QEMU: join(bin, "qemu-custom"), MICROFORGE_QBOOT: "/fake/share/qemu/qboot.rom" } });
  assert.equal(byId(custom, "qemu").detail, `QEMU 7.2.22 at ${bin}/qemu-custom`);
  assert.equal(byId(custom, "qboot").detail, "/fake/share/qemu/qboot.rom");
  const gone = await runHostChecks({ ...host, env: { ...host.env, MICROFORGE_QEMU: "/nowhere/qemu", MICROFORGE_QBOOT: "/nowhere/qboot.rom" } });
  assert.equal(byId(gone, "qemu").status, "missing");
  assert.equal(byId(gone, "qemu").detail, "MICROFORGE_QEMU is /nowhere/qemu, which is not an executable file");
  assert.match(byId(gone, "qemu").fix?.hint ?? "", /point MICROFORGE_QEMU at/);
  assert.equal(byId(gone, "qboot").status, "missing");
  assert.equal(byId(gone, "qboot").detail, "MICROFORGE_QBOOT is /nowhere/qboot.rom, which does not exist");
});

test("findQemuOrThrow and findQbootOrThrow name what is missing, where they looked, and doctor --fix", async () => {
  const empty = await tempDir("no-qemu-");
  await assert.rejects(findQemuOrThrow({ env: { PATH: empty } }), (err: unknown) => {
    assert.ok(err instanceof MissingToolError);
    assert.match(err.message, /^qemu-system-x86_64 is missing: it runs the microVM, and it is not on PATH\n {2}→ install it with `apt-get install qemu-system-x86`, or run `microforge doctor --fix`$/);
    return true;
  });
  await assert.rejects(findQemuOrThrow({ env: { PATH: empty, MICROFORGE_QEMU: "/nowhere/qemu" } }), /MICROFORGE_QEMU is \/nowhere\/qemu, which is not an executable file/);
  const deps = { env: { PATH: empty }, fileExists: () => Promise.resolve(false), run: () => Promise.resolve({ code: 0, signal: null, stdout: "/opt/qemu/share\n", stderr: "" }) };
  await assert.rejects(findQbootOrThrow("/opt/qemu/bin/qemu", deps), (err: unknown) => {
    assert.ok(err instanceof MissingToolError);
    assert.match(err.message, /^qboot\.rom is missing: .* in none of \/opt\/qemu\/share, \/usr\/share\/qemu,.*\n.*qemu-system-data.*microforge doctor --fix/);
    return true;
  });
  await assert.rejects(findQbootOrThrow("/opt/qemu/bin/qemu", { ...deps, env: { MICROFORGE_QBOOT: "/nowhere/qboot.rom" } }), /MICROFORGE_QBOOT is \/nowhere\/qboot\.rom, which does not exist/);
  assert.equal(await findQbootOrThrow("/opt/qemu/bin/qemu", { ...deps, env: { MICROFORGE_QBOOT: "/x/qboot.rom" }, fileExists: (p) => Promise.resolve(p === "/x/qboot.rom") }), "/x/qboot.rom");
});

test("unusable KVM is a loud warning, not a failure", async () => {
  const kvm = { usable: false, reason: "the test guest did not finish within 3 s", hint: "nested virtualization is broken", ms: 3000 };
  const { host } = await fakeHost({ kvm });
  const items = await runHostChecks(host);
  assert.deepEqual(byId(items, "kvm"), {
    id: "kvm", label: "KVM (/dev/kvm)", required: false, status: "unusable",
    detail: "the test guest did not finish within 3 s", fix: { packages: {}, hint: "nested virtualization is broken" },
  });
  assert.equal(hostReady(items), true);
  const text = formatReport(items);
  assert.match(text, /^! KVM \(\/dev\/kvm\) +the test guest did not finish within 3 s$/m);
  assert.match(text, /KVM IS NOT USABLE .* TCG/);
  assert.match(text, /^Ready: /m);
});

test("KVM is not probed without QEMU", async () => {
  const { host, kvmProbes } = await fakeHost({ tools: TOOLS.filter((t) => !t.startsWith("qemu")) });
  const kvm = byId(await runHostChecks(host), "kvm");
  assert.equal(kvm.status, "unusable");
  assert.equal(kvm.detail, "not probed: qemu-system-x86_64 is missing");
  assert.deepEqual(kvmProbes, []);
});

test("a dynamic busybox is 'unusable' and points at busybox-static", async () => {
  const { host } = await fakeHost();
  const dynamic = { ...host, elfInterpreter: () => Promise.resolve("/lib/ld-musl-x86_64.so.1") };
  const bb = byId(await runHostChecks(dynamic), "busybox");
  assert.equal(bb.status, "unusable");
  assert.match(bb.detail, /busybox is dynamically linked \(interpreter \/lib\/ld-musl-x86_64\.so\.1\); the initramfs needs a static one/);
  assert.equal(bb.fix?.hint, "apt-get install busybox-static");
  const notElf = { ...host, elfInterpreter: () => Promise.reject(new ElfError("/x/busybox is not an ELF executable", "hint")) };
  assert.equal(byId(await runHostChecks(notElf), "busybox").detail, "/x/busybox is not an ELF executable");
});

test("a real dynamic binary named busybox on PATH is refused, naming its loader", async () => {
  const bin = await tempDir("doctor-real-");
  const { host } = await fakeHost();
  await symlink("/bin/ls", join(bin, "busybox"));
  const bb = byId(await runHostChecks({ ...host, env: { PATH: bin }, elfInterpreter }), "busybox");
  assert.equal(bb.status, "unusable");
  assert.match(bb.detail, /busybox is dynamically linked \(interpreter \/lib64\/ld-linux-x86-64\.so\.2\)/);
});

test("the real static busybox on PATH is ok", { skip: !existsSync("/bin/busybox") && "no /bin/busybox" }, async () => {
  const bin = await tempDir("doctor-real-");
  const { host } = await fakeHost();
  await symlink("/bin/busybox", join(bin, "busybox"));
  const bb = byId(await runHostChecks({ ...host, env: { PATH: bin }, elfInterpreter }), "busybox");
  assert.equal(bb.status, "ok", bb.detail);
});

test("missing libelf headers point at libelf-dev", async () => {
  const { host } = await fakeHost({ files: ["/fake/share/qemu/qboot.rom", "/usr/include/libelf.h"] });
  const libelf = byId(await runHostChecks(host), "libelf");
  assert.equal(libelf.status, "missing");
  assert.equal(libelf.fix?.hint, "apt-get install libelf-dev");
});

test("a check that throws is reported as unusable instead of crashing the doctor", async () => {
  const { host } = await fakeHost();
  const boom = { ...hostChecks[0], check: () => Promise.reject(new Error("boom")) };
  assert.equal((await runHostChecks(host, [boom]))[0].detail, "check failed: boom");
});

test("the report marks ok ✓, required problems ✗ and optional ones !; --quiet shows only problems", async () => {
  const { host } = await fakeHost({ tools: TOOLS.filter((t) => t !== "bison" && t !== "cpio") });
  const items = await runHostChecks(host);
  const text = formatReport(items);
  assert.match(text, /^✓ gcc +\S+\/gcc \(gcc 1\.0\)$/m);
  assert.match(text, /^✗ bison +bison not found on PATH\n +→ apt-get install bison$/m);
  assert.match(text, /^! cpio \(for tests\) +cpio not found on PATH$/m);
  assert.match(text, /^✗ Not ready: bison\. Run `microforge doctor --fix`/m);
  const quiet = formatReport(items, { quiet: true });
  assert.doesNotMatch(quiet, /✓/);
  assert.match(quiet, /✗ bison/);
  const allGood = await runHostChecks((await fakeHost()).host);
  assert.equal(formatReport(allGood, { quiet: true }), "");
});

test("doctor --json prints ok, kvm, distro and items, and exits 1 when something required is missing", async () => {
  const { host } = await fakeHost({ tools: TOOLS.filter((t) => t !== "qemu-system-x86_64") });
  const { deps, out } = doctorDeps(host);
  assert.equal(await runDoctor({ json: true }, deps), 1);
  const doc = JSON.parse(out.join(""));
  assert.equal(doc.ok, false);
  assert.equal(doc.kvm, false);
  assert.equal(doc.distro, "debian");
  const qemu = doc.items.find((i: HostItem) => i.id === "qemu");
  assert.equal(qemu.status, "missing");
  assert.equal(qemu.fix.hint, "apt-get install qemu-system-x86");
  assert.deepEqual(doc, JSON.parse(JSON.stringify(doctorJson(await runHostChecks(host), "debian"))));
});

test("the fix plan merges packages (gcc and make are both build-essential) and leaves KVM to the user", async () => {
  const kvm = { usable: false, reason: "no", ms: 0 };
  const { host } = await fakeHost({ tools: ["qemu-system-x86_64", "flex", "bison", "bc", "xz", "tar", "busybox", "cpio"], kvm });
  const plan = planFix(await runHostChecks(host), "debian");
  assert.deepEqual(plan.packages, ["build-essential"]);
  assert.deepEqual(plan.manual.map((i) => i.id), ["kvm"]);
});

/** A host where `apt-get install` "installs" a tool by dropping it into the PATH dir. */
async function installableHost(missing: string, extra: { isRoot?: boolean; osRelease?: string; installFails?: number } = {}) {
  let failures = extra.installFails ?? 0;
  const state: { bin?: string } = {};
  const fake = await fakeHost({
    ...extra,
    tools: TOOLS.filter((t) => t !== missing).concat(extra.isRoot === false ? ["sudo"] : []),
    answer: (argv) => {
      if (!argv.includes("apt-get")) return undefined;
      if (argv.includes("install")) {
        if (failures-- > 0) return { code: 100, stderr: "E: Unable to locate package\n" };
        writeFileSync(join(state.bin!, missing), "", { mode: 0o755 });
      }
      return { code: 0, stdout: "apt says hi\n" };
    },
  });
  state.bin = fake.bin;
  const aptCalls = () => fake.calls.filter((c) => c.argv.includes("apt-get"));
  return { ...fake, aptCalls };
}

test("--fix installs the missing package with apt-get, non-interactively, then checks again", async () => {
  const { host, aptCalls, kvmProbes } = await installableHost("flex");
  const { deps, out } = doctorDeps(host);
  assert.equal(await runDoctor({ fix: true }, deps), 0);
  assert.equal(kvmProbes.length, 1, "the re-check reuses the KVM probe");
  assert.doesNotMatch(out[0], /Not ready/, "no 'run --fix' advice while fixing");
  const [install] = aptCalls();
  assert.deepEqual(install.argv, ["apt-get", "install", "-y", "--no-install-recommends", "flex"]);
  assert.equal(install.options?.env?.DEBIAN_FRONTEND, "noninteractive");
  assert.equal(install.options?.stdio, "inherit");
  assert.equal(aptCalls().length, 1, "no apt-get update when the lists are there and install works");
  assert.match(out.join(""), /✗ flex +flex not found on PATH/, "the problems are shown before installing");
  assert.match(out.at(-1)!, /^✓ flex /m, "the final report is from the second check");
});

test("--fix asks first at a terminal; no means nothing is installed", async () => {
  const { host, aptCalls } = await installableHost("bc");
  const asked: string[] = [];
  const { deps } = doctorDeps(host, { interactive: true, confirm: (m) => (asked.push(m), Promise.resolve(false)) });
  assert.equal(await runDoctor({ fix: true }, deps), 1);
  assert.deepEqual(asked, ["Install bc with apt-get?"]);
  assert.deepEqual(aptCalls(), []);
  const yes = await installableHost("bc");
  assert.equal(await runDoctor({ fix: true, yes: true }, doctorDeps(yes.host, { interactive: true }).deps), 0);
});

test("--fix as a user goes through sudo and keeps the noninteractive frontend", async () => {
  const { host, aptCalls } = await installableHost("bison", { isRoot: false });
  assert.equal(await runDoctor({ fix: true }, doctorDeps(host).deps), 0);
  assert.deepEqual(aptCalls()[0].argv, ["sudo", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", "bison"]);
});

test("--fix on a fresh machine runs apt-get update first; a failed install is retried once after an update", async () => {
  const fresh = await installableHost("tar");
  assert.equal(await runDoctor({ fix: true }, doctorDeps(fresh.host, { aptNeedsUpdate: () => Promise.resolve("apt has no package lists yet") }).deps), 0);
  assert.deepEqual(fresh.aptCalls().map((c) => c.argv[1]), ["update", "install"]);
  const stale = await installableHost("tar", { installFails: 1 });
  assert.equal(await runDoctor({ fix: true }, doctorDeps(stale.host).deps), 0);
  assert.deepEqual(stale.aptCalls().map((c) => c.argv[1]), ["install", "update", "install"]);
});

test("--fix fails with the apt-get command and its output when install fails twice", async () => {
  const { host } = await installableHost("tar", { installFails: 2 });
  await assert.rejects(runDoctor({ fix: true }, doctorDeps(host).deps), (err: unknown) => {
    assert.ok(err instanceof CommandError);
    assert.match(err.message, /apt-get install -y --no-install-recommends tar exited with code 100/);
    assert.match(err.message, /Unable to locate package/);
    return true;
  });
});

test("--fix on Fedora prints the exact dnf command and installs nothing", async () => {
  const { host, aptCalls, calls } = await installableHost("make", { osRelease: FEDORA });
  const { deps, logger } = doctorDeps(host);
  assert.equal(await runDoctor({ fix: true }, deps), 1);
  assert.deepEqual(aptCalls(), []);
  assert.ok(!calls.some((c) => c.argv.includes("dnf")));
  assert.match(logger.lines.join("\n"), /run this yourself:\n +dnf install -y make/);
});

test("--fix --json keeps stdout pure JSON and sends apt's output to stderr", async () => {
  const { host, aptCalls } = await installableHost("xz");
  const { deps, out, err } = doctorDeps(host);
  assert.equal(await runDoctor({ fix: true, json: true }, deps), 0);
  assert.equal(aptCalls()[0].options?.stdio, "pipe");
  assert.equal(JSON.parse(out.join("")).ok, true);
  assert.match(err.join(""), /apt says hi/);
});

test("doctor flags: --json, --fix, -y and --quiet parse", () => {
  const args = parseFlags(doctorCommand, ["--fix", "-y", "--json", "--quiet"]);
  assert.deepEqual([args.fix, args.yes, args.json, args.quiet], [true, true, true, true]);
});

/** A PATH dir of symlinks to the host's real tools, minus `without`. */
async function realPathWithout(without: string): Promise<string> {
  const dir = await tempDir("doctor-path-");
  for (const name of TOOLS.filter((t) => t !== without)) {
    const real = await findOnPath(name);
    if (real) await symlink(real, join(dir, name));
  }
  return dir;
}

const hostDistro = detectDistro((() => {
  try {
    return readFileSync("/etc/os-release", "utf8");
  } catch {
    return undefined;
  }
})());

test("`microforge doctor --json` with qemu hidden from PATH reports it missing with an install hint", async () => {
  const PATH = await realPathWithout("qemu-system-x86_64");
  const r = await cli(["doctor", "--json"], { env: { PATH } });
  assert.equal(r.code, 1, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.ok, false);
  const qemu = doc.items.find((i: HostItem) => i.id === "qemu");
  assert.equal(qemu.status, "missing");
  assert.equal(qemu.detail, "qemu-system-x86_64 not found on PATH");
  if (hostDistro === "debian") assert.match(qemu.fix.hint, /apt-get install qemu-system-x86$/);
  else assert.match(qemu.fix.hint, /install/);
  assert.equal(doc.items.find((i: HostItem) => i.id === "kvm").detail, "not probed: qemu-system-x86_64 is missing");
});

test("`microforge doctor` prints ✗ and the fix for a tool hidden from PATH", async () => {
  const PATH = await realPathWithout("bc");
  const r = await cli(["doctor"], { env: { PATH } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^✗ bc +bc not found on PATH$/m);
  if (hostDistro === "debian") assert.match(r.stdout, /→ (sudo )?apt-get install bc$/m);
  assert.match(r.stdout, /✗ Not ready: .*bc/);
});

test("apt-get update runs first when the lists are missing, older than a day, or lack a package", async () => {
  const { aptNeedsUpdate, aptUnknown } = await import("../../lib/host/fix.ts");
  const { tempDir } = await import("../helpers.ts");
  const { utimes } = await import("node:fs/promises");
  const lists = await tempDir("apt-lists-");
  const policy = "tmux:\n  Installed: (none)\n  Candidate: 3.3a-3\n  Version table:\nlinux-source-6.12:\n  Installed: (none)\n  Candidate: (none)\n";
  const run = (argv: readonly string[]) => Promise.resolve({ code: 0, signal: null, stdout: argv[1] === "policy" ? policy : "", stderr: "" });
  assert.equal(await aptNeedsUpdate(run, ["tmux"], lists), "apt has no package lists yet");
  const index = join(lists, "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4");
  await writeFile(index, "");
  const old = new Date(Date.now() - 144 * 24 * 3600_000);
  await utimes(index, old, old);
  assert.equal(await aptNeedsUpdate(run, ["tmux"], lists), "apt's package lists are 144 days old");
  await utimes(index, new Date(), new Date());
  assert.equal(await aptNeedsUpdate(run, ["tmux"], lists), undefined);
  assert.equal(await aptNeedsUpdate(run, ["tmux", "linux-source-6.12", "no-such-pkg"], lists), "apt's package lists have no linux-source-6.12, no-such-pkg");
  assert.deepEqual(await aptUnknown(run, ["tmux:amd64"]), []);
});

test("--fix says why it refreshes apt's lists before installing", async () => {
  const fresh = await installableHost("tar");
  const d = doctorDeps(fresh.host, { aptNeedsUpdate: () => Promise.resolve("apt's package lists are 144 days old") });
  assert.equal(await runDoctor({ fix: true }, d.deps), 0);
  assert.ok(d.logger.lines.includes("apt's package lists are 144 days old: running apt-get update first"), d.logger.lines.join("\n"));
  assert.deepEqual(fresh.aptCalls().map((c) => c.argv[1]), ["update", "install"]);
});

test("doctor --arch arm64 checks the cross compiler, its QEMU and Debian's arm64 busybox; --fix adds the architecture, updates and installs", async () => {
  let foreign = "";
  const { host, calls } = await fakeHost({
    answer: (argv) => {
      if (argv[0] === "dpkg" && argv[1] === "--print-foreign-architectures") return { code: 0, stdout: foreign };
      if (argv[0] === "dpkg" && argv[1] === "--add-architecture") {
        foreign = `${argv[2]}\n`;
        return { code: 0 };
      }
      if (argv[0] === "apt-cache") return { code: 0, stdout: foreign ? "Package: busybox-static\nVersion: 1:1.35.0-4\nArchitecture: arm64\n" : "" };
      if (argv[0] === "apt-get" && argv[1] === "install") {
        for (const name of ["aarch64-linux-gnu-gcc", "qemu-system-aarch64"]) writeFileSync(join(host.env.PATH!, name), "#!/bin/sh\n", { mode: 0o755 });
        return { code: 0 };
      }
      return undefined;
    },
  });
  const items = await runHostChecks(host, [...hostChecks, ...archChecks("arm64")]);
  assert.deepEqual(["aarch64-linux-gnu-gcc", "qemu-system-aarch64", "busybox-arm64"].map((id) => byId(items, id).status), ["missing", "missing", "missing"]);
  assert.match(byId(items, "busybox-arm64").fix!.hint, /dpkg --add-architecture arm64 && apt-get update/);
  const plan = planFix(items, "debian");
  assert.deepEqual(plan.architectures, ["arm64"]);
  assert.deepEqual(plan.packages, ["gcc-aarch64-linux-gnu", "qemu-system-arm"]);
  const { deps } = doctorDeps(host);
  assert.equal(await runDoctor({ fix: true, arches: ["arm64"] }, deps), 0);
  const steps = calls.map((c) => c.argv.join(" ")).filter((a) => /^(dpkg --add|apt-get)/.test(a));
  assert.deepEqual(steps, ["dpkg --add-architecture arm64", "apt-get update", "apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu qemu-system-arm"]);
});

test("doctor --arch riscv64 on Debian 12 takes busybox from Debian 13 and checks QEMU's OpenSBI firmware", async () => {
  const { host } = await fakeHost({ tools: [...TOOLS, "riscv64-linux-gnu-gcc", "qemu-system-riscv64"], osRelease: `${DEBIAN}VERSION_CODENAME=bookworm\n` });
  const items = await runHostChecks(host, archChecks("riscv64"));
  assert.equal(byId(items, "opensbi").status, "missing");
  assert.match(byId(items, "opensbi").fix!.hint, /qemu-system-data/);
  assert.equal(byId(items, "busybox-riscv64").status, "ok");
  assert.match(byId(items, "busybox-riscv64").detail, /from Debian trixie/);
  const found = await runHostChecks({ ...host, fileExists: (p) => Promise.resolve(p.endsWith("opensbi-riscv64-generic-fw_dynamic.bin")) }, archChecks("riscv64"));
  assert.equal(byId(found, "opensbi").status, "ok");
  assert.deepEqual(archChecks("x86_64"), []);
});
