/**
 * Checking the kernel build toolchain before any long work starts, so a
 * missing tool is one clear error instead of a make failure minutes in.
 */
import { MissingToolError } from "../util/errors.ts";
import { hostChecks, type HostDeps, loadHostDeps, runHostChecks } from "./checks.ts";
import { type Arch, archInfo, hostArch, isCross } from "../util/arch.ts";
import { findOnPath } from "../util/find-on-path.ts";

/** Host items a kernel build needs. */
export const BUILD_TOOLS: readonly string[] = ["gcc", "make", "flex", "bison", "bc", "libelf", "xz", "tar"];

/** Throw {@linkcode MissingToolError} for the first missing build tool (and the cross compiler, for another architecture). */
export async function assertBuildToolchain(deps?: Partial<HostDeps>, arch: Arch = hostArch()): Promise<void> {
  const host = await loadHostDeps(deps);
  const items = await runHostChecks(host, hostChecks.filter((c) => BUILD_TOOLS.includes(c.id)));
  const missing = items.find((i) => i.status !== "ok");
  if (missing) throw new MissingToolError(missing.label, `building the kernel needs it (${missing.detail})`, missing.fix?.hint ?? "install it");
  if (!isCross(arch)) return;
  const a = archInfo(arch);
  if (!(await findOnPath(`${a.crossCompile}gcc`, host.env))) {
    throw new MissingToolError(`${a.crossCompile}gcc`, `cross-building an ${arch} kernel needs it`, `install ${a.crossPackage} (apt-get install ${a.crossPackage})`);
  }
}
