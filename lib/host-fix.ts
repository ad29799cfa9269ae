/**
 * `doctor --fix`: install the packages behind missing items. On Debian and
 * Ubuntu it runs apt-get (asking first when a person is at the terminal); on
 * other distributions it prints the exact command and leaves it to the user.
 */
import { readdir } from "node:fs/promises";
import { CommandError, outputTail } from "./errors.ts";
import type { Runner } from "./exec.ts";
import { findOnPath } from "./find-on-path.ts";
import type { HostItem } from "./host-checks.ts";
import type { Distro } from "./host-packages.ts";
import { formatArgv, genericInstallHint, installArgv, packagesFor } from "./host-packages.ts";
import type { Logger } from "./log.ts";

/** What to install: packages for this distribution, and items no package fixes. */
export interface FixPlan {
  distro: Distro | undefined;
  packages: string[];
  /** Items that are not ok and that no known package provides here (e.g. KVM, unknown distro). */
  manual: HostItem[];
}

/** Collect the packages that fix every item that is not ok. */
export function planFix(items: readonly HostItem[], distro: Distro | undefined): FixPlan {
  const broken = items.filter((i) => i.status !== "ok" && i.fix);
  const fixable = distro ? broken.filter((i) => i.fix!.packages[distro]?.length) : [];
  return {
    distro,
    packages: distro ? packagesFor(distro, fixable.map((i) => i.fix!.packages)) : [],
    manual: broken.filter((i) => !fixable.includes(i)),
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
  /** True when apt has no package lists yet (fresh container), so `apt-get update` must run first. */
  aptListsEmpty(): Promise<boolean>;
  logger: Logger;
  /** Capture apt's output and pass it to `echo` instead of inheriting stdout (for `--json`). */
  echo?: (text: string) => void;
}

/** How {@linkcode applyFix} ended. */
export type FixOutcome = "nothing" | "installed" | "declined" | "printed";

/** True when /var/lib/apt/lists holds no downloaded package index. */
export async function aptListsEmpty(dir = "/var/lib/apt/lists"): Promise<boolean> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return !names.some((n) => n.endsWith("_Packages") || n.includes("_Packages."));
}

/** The apt-get argv, with sudo and the noninteractive frontend when not root. */
function aptArgv(args: string[], root: boolean): string[] {
  return root ? ["apt-get", ...args] : ["sudo", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", ...args];
}

/** Install `plan.packages` (Debian/Ubuntu) or print how to; throws {@linkcode CommandError} when apt-get fails twice. */
export async function applyFix(plan: FixPlan, options: { yes?: boolean }, deps: FixDeps): Promise<FixOutcome> {
  const { logger } = deps;
  for (const item of plan.manual) logger.warn(`${item.label}: ${item.fix?.hint ?? genericInstallHint(item.label, {})}`);
  if (!plan.packages.length) return "nothing";
  const install = installArgv(plan.distro!, plan.packages, { root: deps.isRoot, assumeYes: true });
  if (plan.distro !== "debian") {
    logger.warn(`microforge installs packages only on Debian and Ubuntu; run this yourself:\n    ${formatArgv(install)}`);
    return "printed";
  }
  if (!deps.isRoot && !(await findOnPath("sudo", deps.env))) {
    logger.warn(`not root and no sudo on PATH; as root, run:\n    ${formatArgv(install.slice(1))}`);
    return "printed";
  }
  if (deps.interactive && !options.yes) {
    if (!(await deps.confirm(`Install ${plan.packages.join(" ")} with apt-get?`))) {
      logger.warn(`nothing installed; to do it yourself:\n    ${formatArgv(install)}`);
      return "declined";
    }
  }
  const apt = async (args: string[]) => {
    const argv = aptArgv(args, deps.isRoot);
    logger.step(`Running ${formatArgv(argv)}`);
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
  if (await deps.aptListsEmpty()) {
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
