/**
 * Choosing the accelerator: KVM only where a probe guest really ran on it
 * (see kvm-probe.ts), else TCG with a loud warning. `--accel kvm` that
 * cannot work is an error, not a hang.
 */
import { VmSpecError } from "../util/errors.ts";
import type { KvmProbeResult } from "../host/kvm-probe.ts";
import { probeKvmCached } from "../host/kvm-verdict.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import { type Arch, hostArch, isCross } from "../util/arch.ts";

/** What the user asks for. */
export type AccelChoice = "auto" | "kvm" | "tcg";

/** Injected side effects. */
export interface AccelDeps {
  qemu: string;
  /** The guest architecture: KVM only runs the host's own. */
  arch?: Arch;
  probe?: (qemu: string) => Promise<KvmProbeResult>;
  log?: Logger;
}

/** Resolve `want` to "kvm" or "tcg" on this host. */
export async function chooseAccel(want: AccelChoice, deps: AccelDeps): Promise<"kvm" | "tcg"> {
  if (want === "tcg") return "tcg";
  if (want !== "auto" && want !== "kvm") throw new VmSpecError(`Unknown accelerator ${want}`, "use auto, kvm or tcg");
  if (deps.arch && isCross(deps.arch)) {
    if (want === "kvm") throw new VmSpecError(`--accel kvm cannot run an ${deps.arch} guest on this ${hostArch()} host`, "use --accel tcg (or auto)");
    sayOnce(deps.log, `${deps.arch} guests on this ${hostArch()} host run under TCG, software emulation, which is several times slower`);
    return "tcg";
  }
  const probe = await (deps.probe ?? ((qemu: string) => probeKvmCached({ qemu })))(deps.qemu);
  if (probe.usable) return "kvm";
  if (want === "kvm") {
    throw new VmSpecError(`--accel kvm cannot work on this host: ${probe.reason}`, probe.hint ?? "use --accel tcg (or auto)");
  }
  sayOnce(deps.log, `KVM is not usable here (${probe.reason}); booting with TCG, software emulation, which is several times slower`);
  return "tcg";
}

/** Warnings already given by this process: a matrix of many VMs says each once. */
const said = new Set<string>();

function sayOnce(log: Logger | undefined, message: string): void {
  if (said.has(message)) return;
  said.add(message);
  (log ?? stderrLogger()).warn(message);
}
