/**
 * What the pipeline needs from the host, as data: each check finds one thing
 * (a tool, a firmware file, a header, KVM) and reports ok / missing / unusable
 * with the packages that provide it. Side effects come in through HostDeps.
 */
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import { elfInterpreter } from "../util/elf.ts";
import { ElfError } from "../util/errors.ts";
import type { Runner } from "../util/process.ts";
import { runProcess } from "../util/process.ts";
import { findOnPath } from "../util/find-on-path.ts";
import { findQboot, QEMU, qemuDataDirs } from "./qemu.ts";
import type { Distro, PackageMap } from "./packages.ts";
import { shellJoin } from "../util/shell-quote.ts";
import { detectDistro, genericInstallHint, installArgv } from "./packages.ts";
import type { KvmProbeResult } from "./kvm-probe.ts";
import { probeKvmCached } from "./kvm-verdict.ts";

/** How one item stands: present, absent, or present but not good enough. */
export type ItemStatus = "ok" | "missing" | "unusable";

/** One line of the doctor's report. */
export interface HostItem {
  id: string;
  label: string;
  /** False for items the pipeline can do without (KVM falls back to TCG; cpio is for tests). */
  required: boolean;
  status: ItemStatus;
  detail: string;
  /** How to get it, when the status is not ok: packages, and a Debian architecture dpkg must know first (multiarch). */
  fix?: { packages: PackageMap; hint: string; architecture?: string };
}

/** The host as the checks see it; tests replace any part. */
export interface HostDeps {
  env: Record<string, string | undefined>;
  run: Runner;
  fileExists(path: string): Promise<boolean>;
  elfInterpreter(path: string): Promise<string | undefined>;
  /** Runs the KVM probe with the qemu found on PATH. */
  probeKvm(qemu: string): Promise<KvmProbeResult>;
  /** Text of /etc/os-release, undefined when unreadable. */
  osRelease: string | undefined;
  isRoot: boolean;
}

/** What a check function returns; the hint overrides the package-derived one. */
export interface CheckOutcome {
  status: ItemStatus;
  detail: string;
  hint?: string;
  /** `dpkg --add-architecture` this (then `apt-get update`) fixes it. */
  architecture?: string;
}

/** A check function's view of the host: the deps plus a memoized PATH lookup. */
export type CheckContext = HostDeps & { find(name: string): Promise<string | undefined> };

/** One thing to check, as data. */
export interface HostCheck {
  id: string;
  label: string;
  required: boolean;
  /** What to install, in words, for distributions we do not know. */
  what: string;
  packages: PackageMap;
  check(ctx: CheckContext): Promise<CheckOutcome>;
}

const MIN_QEMU = "4.2.0"; // -M microvm appeared in QEMU 4.2
const INCLUDE_DIRS = ["/usr/include", "/usr/local/include"];
const CONCURRENCY = 4;

async function firstLine(ctx: CheckContext, argv: string[]): Promise<string> {
  try {
    const r = await ctx.run(argv, { nothrow: true, timeoutMs: 10_000 });
    return r.code === 0 ? (r.stdout || r.stderr).trim().split("\n")[0] : "";
  } catch {
    return "";
  }
}

/** A program on PATH, its first `--version` line as the detail. */
export function tool(id: string, what: string, packages: PackageMap, required = true, label = id): HostCheck {
  return {
    id, label, required, what, packages,
    async check(ctx) {
      const path = await ctx.find(id);
      if (!path) return { status: "missing", detail: `${id} not found on PATH` };
      const version = await firstLine(ctx, [path, "--version"]);
      return { status: "ok", detail: version ? `${path} (${version})` : path };
    },
  };
}

const qemuPackages: PackageMap = {
  debian: ["qemu-system-x86"], fedora: ["qemu-system-x86-core"], arch: ["qemu-system-x86"],
  alpine: ["qemu-system-x86_64"], opensuse: ["qemu-x86"],
};

/** The QEMU microforge would run: `MICROFORGE_QEMU`, else the one on PATH. */
const findQemuIn = (ctx: CheckContext) => ctx.find(ctx.env.MICROFORGE_QEMU || QEMU);

const qemuCheck: HostCheck = {
  id: "qemu", label: QEMU, required: true, what: "QEMU for x86_64", packages: qemuPackages,
  async check(ctx) {
    const path = await findQemuIn(ctx);
    const given = ctx.env.MICROFORGE_QEMU;
    if (!path && given) return { status: "missing", detail: `MICROFORGE_QEMU is ${given}, which is not an executable file`, hint: "point MICROFORGE_QEMU at a qemu-system-x86_64 binary, or unset it" };
    if (!path) return { status: "missing", detail: `${QEMU} not found on PATH` };
    const line = await firstLine(ctx, [path, "--version"]);
    const version = semver.coerce(/version\s+(\S+)/i.exec(line)?.[1] ?? "");
    if (!version) return { status: "unusable", detail: `${path} --version did not say a version (${line || "no output"})` };
    if (semver.lt(version, MIN_QEMU)) {
      return { status: "unusable", detail: `QEMU ${version} at ${path} is too old: -M microvm needs ${MIN_QEMU} or newer` };
    }
    return { status: "ok", detail: `QEMU ${version} at ${path}` };
  },
};

const qbootCheck: HostCheck = {
  id: "qboot", label: "qboot firmware", required: true, what: "QEMU's firmware files (qboot.rom)",
  packages: { ...qemuPackages, debian: ["qemu-system-data"], arch: ["qemu-system-x86-firmware"] },
  async check(ctx) {
    const deps = { run: ctx.run, fileExists: ctx.fileExists, env: ctx.env };
    const qemu = await findQemuIn(ctx);
    const rom = await findQboot(qemu, deps);
    if (rom) return { status: "ok", detail: rom };
    const given = ctx.env.MICROFORGE_QBOOT;
    if (given) return { status: "missing", detail: `MICROFORGE_QBOOT is ${given}, which does not exist`, hint: "point MICROFORGE_QBOOT at QEMU's qboot.rom, or unset it" };
    return { status: "missing", detail: `qboot.rom is in none of ${(await qemuDataDirs(qemu, deps)).join(", ")}` };
  },
};

const kvmCheck: HostCheck = {
  id: "kvm", label: "KVM (/dev/kvm)", required: false, what: "KVM", packages: {},
  async check(ctx) {
    const qemu = await findQemuIn(ctx);
    if (!qemu) {
      return { status: "unusable", detail: `not probed: ${QEMU} is missing`, hint: `install QEMU first, then run microforge doctor again` };
    }
    const probe = await ctx.probeKvm(qemu);
    const detail = probe.reason + ("cached" in probe && probe.cached ? " (verdict from earlier this host boot)" : "");
    if (probe.usable) return { status: "ok", detail };
    return { status: "unusable", detail, hint: probe.hint ?? "microforge falls back to TCG (software emulation)" };
  },
};

const libelfCheck: HostCheck = {
  id: "libelf", label: "libelf headers", required: true, what: "the libelf development headers (gelf.h)",
  packages: { debian: ["libelf-dev"], fedora: ["elfutils-libelf-devel"], arch: ["libelf"], alpine: ["elfutils-dev"], opensuse: ["libelf-devel"] },
  async check(ctx) {
    for (const dir of INCLUDE_DIRS) {
      const gelf = join(dir, "gelf.h");
      if ((await ctx.fileExists(gelf)) && (await ctx.fileExists(join(dir, "libelf.h")))) return { status: "ok", detail: gelf };
    }
    return { status: "missing", detail: `gelf.h and libelf.h are not in ${INCLUDE_DIRS.join(" or ")}` };
  },
};

// scripts/kconfig/mconf-cfg.sh and nconf-cfg.sh ask pkg-config, then look for these headers.
const NCURSES_HEADERS = ["ncursesw/ncurses.h", "ncurses.h"];

const ncursesCheck: HostCheck = {
  id: "ncurses", label: "ncurses headers (for menuconfig)", required: false, what: "the ncurses development headers (ncurses.h)",
  packages: { debian: ["libncurses-dev"], fedora: ["ncurses-devel"], arch: ["ncurses"], alpine: ["ncurses-dev"], opensuse: ["ncurses-devel"] },
  async check(ctx) {
    for (const dir of INCLUDE_DIRS) {
      for (const h of NCURSES_HEADERS) if (await ctx.fileExists(join(dir, h))) return { status: "ok", detail: join(dir, h) };
    }
    return { status: "missing", detail: `ncurses.h is not in ${INCLUDE_DIRS.join(" or ")}; \`microforge kernel menuconfig\` and nconfig need it` };
  },
};

const busyboxCheck: HostCheck = {
  id: "busybox", label: "static busybox", required: true, what: "a statically linked busybox",
  packages: { debian: ["busybox-static"], fedora: ["busybox"], arch: ["busybox"], alpine: ["busybox-static"], opensuse: ["busybox-static"] },
  async check(ctx) {
    const path = await ctx.find("busybox");
    if (!path) return { status: "missing", detail: "busybox not found on PATH" };
    try {
      const interp = await ctx.elfInterpreter(path);
      if (interp) return { status: "unusable", detail: `${path} is dynamically linked (interpreter ${interp}); the initramfs needs a static one` };
    } catch (err) {
      if (err instanceof ElfError) return { status: "unusable", detail: err.message.split("\n")[0] };
      throw err;
    }
    const banner = /BusyBox v\S+/.exec(await firstLine(ctx, [path, "--help"]))?.[0];
    return { status: "ok", detail: `${path}, statically linked${banner ? ` (${banner})` : ""}` };
  },
};

const same = (name: string): PackageMap => ({ debian: [name], fedora: [name], arch: [name], alpine: [name], opensuse: [name] });

/** Every check, in report order. */
export const hostChecks: readonly HostCheck[] = [
  qemuCheck,
  qbootCheck,
  kvmCheck,
  tool("gcc", "a C compiler (gcc)", { debian: ["build-essential"], fedora: ["gcc"], arch: ["base-devel"], alpine: ["build-base"], opensuse: ["gcc"] }),
  tool("make", "GNU make", { ...same("make"), debian: ["build-essential"], arch: ["base-devel"], alpine: ["build-base"] }),
  tool("flex", "flex", same("flex")),
  tool("bison", "bison", same("bison")),
  tool("bc", "bc", same("bc")),
  libelfCheck,
  ncursesCheck,
  tool("xz", "xz", { ...same("xz"), debian: ["xz-utils"] }),
  tool("tar", "tar", same("tar")),
  busyboxCheck,
  tool("cpio", "cpio (tests use it to check archives)", same("cpio"), false, "cpio (for tests)"),
];

function fixHint(check: HostCheck, outcome: CheckOutcome, distro: Distro | undefined, root: boolean): string {
  if (outcome.hint) return outcome.hint;
  const pkgs = distro ? check.packages[distro] : undefined;
  if (distro && pkgs?.length) return shellJoin(installArgv(distro, pkgs, { root }));
  return genericInstallHint(check.what, check.packages);
}

/** Run `checks` (all by default) concurrently; a check that throws is reported as unusable, never thrown. */
export async function runHostChecks(deps: HostDeps, checks: readonly HostCheck[] = hostChecks): Promise<HostItem[]> {
  const found = new Map<string, Promise<string | undefined>>();
  const find = (name: string) => {
    if (!found.has(name)) found.set(name, findOnPath(name, deps.env));
    return found.get(name)!;
  };
  const ctx: CheckContext = { ...deps, find };
  const distro = detectDistro(deps.osRelease);
  const one = async (c: HostCheck): Promise<HostItem> => {
    const outcome = await c.check(ctx).catch((err: unknown): CheckOutcome => ({
      status: "unusable",
      detail: `check failed: ${err instanceof Error ? err.message : String(err)}`,
    }));
    const item: HostItem = { id: c.id, label: c.label, required: c.required, status: outcome.status, detail: outcome.detail };
    if (outcome.status !== "ok") item.fix = { packages: c.packages, hint: fixHint(c, outcome, distro, deps.isRoot), ...(outcome.architecture ? { architecture: outcome.architecture } : {}) };
    return item;
  };
  // A few at a time: each running command holds a process "exit" listener (lib/exec.ts),
  // and more than 10 at once trips Node's MaxListenersExceededWarning.
  const items: HostItem[] = new Array(checks.length);
  let next = 0;
  const worker = async () => {
    while (next < checks.length) {
      const i = next++;
      items[i] = await one(checks[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, checks.length) }, worker));
  return items;
}

/** True when every required item is ok. */
export function hostReady(items: readonly HostItem[]): boolean {
  return items.every((i) => !i.required || i.status === "ok");
}

function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

async function readOsRelease(): Promise<string | undefined> {
  for (const path of ["/etc/os-release", "/usr/lib/os-release"]) {
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text !== undefined) return text;
  }
  return undefined;
}

/** The real host, with any part replaced by `overrides`. */
export async function loadHostDeps(overrides: Partial<HostDeps> = {}): Promise<HostDeps> {
  const run = overrides.run ?? runProcess;
  return {
    env: process.env,
    run,
    fileExists: exists,
    elfInterpreter,
    probeKvm: (qemu) => probeKvmCached({ qemu, run }),
    osRelease: "osRelease" in overrides ? overrides.osRelease : await readOsRelease(),
    isRoot: process.getuid?.() === 0,
    ...overrides,
  };
}
