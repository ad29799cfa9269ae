/**
 * `doctor --fix`: install the packages behind missing items. On Debian and
 * Ubuntu it runs apt-get (asking first when a person is at the terminal); on
 * other distributions it prints the exact command and leaves it to the user.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { CommandError, outputTail } from "../util/errors.ts";
import type { Runner } from "../util/process.ts";
import { findOnPath } from "../util/find-on-path.ts";
import type { HostItem } from "./checks.ts";
import type { Distro } from "./packages.ts";
import { shellJoin } from "../util/shell-quote.ts";
import { genericInstallHint, installArgv, packagesFor } from "./packages.ts";
import type { Logger } from "../util/log.ts";

/** What to install: packages for this distribution, and items no package fixes. */
export interface FixPlan {
  distro: Distro | undefined;
  packages: string[];
  /** Debian architectures to add with `dpkg --add-architecture` first (multiarch packages of a guest's). */
  architectures?: string[];
  /** Items that are not ok and that no known package provides here (e.g. KVM, unknown distro). */
  manual: HostItem[];
}

/** Collect the packages that fix every item that is not ok. */
export function planFix(items: readonly HostItem[], distro: Distro | undefined): FixPlan {
  const broken = items.filter((i) => i.status !== "ok" && i.fix);
  const fixable = distro ? broken.filter((i) => i.fix!.packages[distro]?.length) : [];
  const architectures = distro === "debian" ? [...new Set(broken.flatMap((i) => (i.fix!.architecture ? [i.fix!.architecture] : [])))] : [];
  return {
    distro,
    packages: distro ? packagesFor(distro, fixable.map((i) => i.fix!.packages)) : [],
    ...(architectures.length ? { architectures } : {}),
    manual: broken.filter((i) => !fixable.includes(i) && !(distro === "debian" && i.fix!.architecture)),
  };
}

/** Side effects of {@linkcode applyFix}. */
export interface FixDeps {
  run: Runner;
  env: Record<string, string | undefined>;
  isRoot: boolean;
  /** A person can answer a prompt (stdin is a TTY and CI is not set). */
  interactive: boolean;
  confirm(message: string): Promise<boolean>;
  /** Why `apt-get update` must run before installing `packages` (lists missing, stale, or without one of them), or undefined. */
  aptNeedsUpdate(packages: readonly string[]): Promise<string | undefined>;
  logger: Logger;
  /** Capture apt's output and pass it to `echo` instead of inheriting stdout (for `--json`). */
  echo?: (text: string) => void;
}

/** How {@linkcode applyFix} ended. */
export type FixOutcome = "nothing" | "installed" | "declined" | "printed";

/** apt's lists older than this are refreshed before an install (a fresh image's lists can be months old). */
export const APT_LISTS_MAX_AGE_MS = 24 * 3600_000;

/** Age in ms of the newest package index in `dir`; Infinity when there is none (a fresh container). */
export async function aptListsAgeMs(dir = "/var/lib/apt/lists", now = Date.now()): Promise<number> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith("_Packages") || n.includes("_Packages."));
  const times = await Promise.all(names.map((n) => stat(join(dir, n)).then((s) => s.mtimeMs, () => 0)));
  return times.length ? now - Math.max(...times) : Infinity;
}

/** The packages of `packages` that apt has no candidate for (`apt-cache policy` says "(none)" or nothing). */
export async function aptUnknown(run: Runner, packages: readonly string[]): Promise<string[]> {
  if (!packages.length) return [];
  const r = await run(["apt-cache", "policy", ...packages], { nothrow: true, timeoutMs: 60_000 });
  const known = new Set<string>();
  for (const block of r.stdout.split(/^(?=\S)/m)) {
    const name = /^([^\s:]+)(?::\w+)?:/.exec(block)?.[1];
    const candidate = /^\s+Candidate:\s*(\S+)/m.exec(block)?.[1];
    if (name && candidate && candidate !== "(none)") known.add(name);
  }
  return packages.filter((p) => !known.has(p.split(":")[0]) && !known.has(p));
}

/** Why `apt-get update` must run before installing `packages`: no lists, lists older than a day, or a package they lack. */
export async function aptNeedsUpdate(run: Runner, packages: readonly string[], dir?: string): Promise<string | undefined> {
  const age = await aptListsAgeMs(dir);
  if (age === Infinity) return "apt has no package lists yet";
  if (age > APT_LISTS_MAX_AGE_MS) return `apt's package lists are ${Math.floor(age / (24 * 3600_000))} days old`;
  const unknown = await aptUnknown(run, packages);
  if (unknown.length) return `apt's package lists have no ${unknown.join(", ")}`;
  return undefined;
}

/** The apt-get argv, with sudo and the noninteractive frontend when not root. */
function aptArgv(args: string[], root: boolean): string[] {
  return root ? ["apt-get", ...args] : ["sudo", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", ...args];
}

/** Install `plan.packages` (Debian/Ubuntu) or print how to; throws {@linkcode CommandError} when apt-get fails twice. */
export async function applyFix(plan: FixPlan, options: { yes?: boolean }, deps: FixDeps): Promise<FixOutcome> {
  const { logger } = deps;
  for (const item of plan.manual) logger.warn(`${item.label}: ${item.fix?.hint ?? genericInstallHint(item.label, {})}`);
  const archs = plan.architectures ?? [];
  if (!plan.packages.length && !archs.length) return "nothing";
  const install = installArgv(plan.distro!, plan.packages, { root: deps.isRoot, assumeYes: true });
  if (plan.distro !== "debian") {
    logger.warn(`microforge installs packages only on Debian and Ubuntu; run this yourself:\n    ${shellJoin(install)}`);
    return "printed";
  }
  if (!deps.isRoot && !(await findOnPath("sudo", deps.env))) {
    logger.warn(`not root and no sudo on PATH; as root, run:\n    ${shellJoin(install.slice(1))}`);
    return "printed";
  }
  if (deps.interactive && !options.yes) {
    const what = [...(archs.length ? [`let apt fetch ${archs.join(", ")} packages (dpkg --add-architecture, apt-get update)`] : []), ...(plan.packages.length ? [`install ${plan.packages.join(" ")} with apt-get`] : [])].join(" and ");
    if (!(await deps.confirm(`${what[0].toUpperCase()}${what.slice(1)}?`))) {
      logger.warn(`nothing installed; to do it yourself:\n    ${shellJoin(install)}`);
      return "declined";
    }
  }
  const apt = async (args: string[]) => {
    const argv = aptArgv(args, deps.isRoot);
    logger.step(`Running ${shellJoin(argv)}`);
    const r = await deps.run(argv, {
      env: { ...deps.env, DEBIAN_FRONTEND: "noninteractive" },
      stdio: deps.echo ? "pipe" : "inherit",
      nothrow: true,
    });
    deps.echo?.(r.stdout + r.stderr);
    return { argv, ...r };
  };
  const installArgs = ["install", "-y", "--no-install-recommends", ...plan.packages];
  let updated = false;
  for (const a of archs) {
    const argv = deps.isRoot ? ["dpkg", "--add-architecture", a] : ["sudo", "dpkg", "--add-architecture", a];
    logger.step(`Running ${shellJoin(argv)}`);
    const r = await deps.run(argv, { env: deps.env, nothrow: true });
    if (r.code !== 0) throw new CommandError(argv, r.code, r.signal, outputTail(r.stdout + r.stderr), "run it yourself as root, then `apt-get update`");
  }
  if (archs.length && !plan.packages.length) {
    await apt(["update"]);
    return "installed";
  }
  const why = archs.length ? `dpkg now knows ${archs.join(", ")}` : await deps.aptNeedsUpdate(plan.packages);
  if (why) {
    logger.step(`${why}: running apt-get update first`);
    // A repository that cannot be reached makes apt-get update fail while the others refresh: the install decides.
    await apt(["update"]);
    updated = true;
  }
  let r = await apt(installArgs);
  if (r.code !== 0 && !updated) {
    logger.step("apt-get install failed; refreshing the package lists and trying once more");
    await apt(["update"]);
    r = await apt(installArgs);
  }
  if (r.code !== 0) {
    throw new CommandError(r.argv, r.code, r.signal, outputTail(r.stdout + r.stderr), "read apt-get's output above, fix the cause and run `microforge doctor --fix` again");
  }
  return "installed";
}
