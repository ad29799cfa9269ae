/**
 * The KVM probe's verdict, remembered for the current host boot: probing
 * takes up to 3 s where KVM is broken, and the answer only changes when the
 * host reboots or QEMU changes. Stored as `<cache>/host/kvm-probe.json`.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot, writeFileAtomic } from "../util/cache-dir.ts";
import { type KvmProbeDeps, type KvmProbeResult, probeKvm } from "./kvm-probe.ts";

/** Extra inputs of {@linkcode probeKvmCached}. */
export interface KvmVerdictDeps extends KvmProbeDeps {
  cacheDir?: string;
  /** Identifies this boot of the host (Linux: /proc/sys/kernel/random/boot_id). */
  bootId?: () => Promise<string | undefined>;
  probe?: (deps: KvmProbeDeps) => Promise<KvmProbeResult>;
}

async function linuxBootId(): Promise<string | undefined> {
  return (await readFile("/proc/sys/kernel/random/boot_id", "utf8").catch(() => ""))?.trim() || undefined;
}

/** {@linkcode probeKvm}, but reuse the verdict from earlier in this host boot for the same QEMU binary. */
export async function probeKvmCached(deps: KvmVerdictDeps): Promise<KvmProbeResult & { cached: boolean }> {
  const probe = deps.probe ?? probeKvm;
  const boot = await (deps.bootId ?? linuxBootId)();
  const qemuStat = await stat(deps.qemu).catch(() => undefined);
  if (!boot || !qemuStat || deps.accel === "tcg") return { ...(await probe(deps)), cached: false };
  const key = `${boot} ${deps.qemu} ${qemuStat.size} ${qemuStat.mtimeMs} ${deps.device ?? "/dev/kvm"}`;
  const file = join(deps.cacheDir ?? join(cacheRoot(), "host"), "kvm-probe.json");
  try {
    const saved = JSON.parse(await readFile(file, "utf8"));
    if (saved.key === key && typeof saved.result?.usable === "boolean") return { ...saved.result, cached: true };
  } catch {
    // no verdict yet, or an unreadable one: probe again
  }
  const result = await probe(deps);
  await writeFileAtomic(file, JSON.stringify({ key, result }, null, 2) + "\n").catch(() => undefined);
  return { ...result, cached: false };
}
