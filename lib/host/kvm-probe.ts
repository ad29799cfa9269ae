/**
 * Whether KVM really runs guests: open /dev/kvm, then boot a 64 KiB firmware
 * that enters long mode, spins a 16M-iteration loop and reports through
 * isa-debug-exit. A stat of /dev/kvm is not enough, nor is a guest that only
 * halts: under emulated nested KVM (seen with kvm-pvm) the device opens and a
 * few instructions run, but guest code crawls (~1.2 µs per loop iteration,
 * ~1000x slower than TCG) and a Linux boot never gets past its setup code.
 */
import { open, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Runner } from "../util/process.ts";
import { runProcess } from "../util/process.ts";

/** Loop iterations the probe guest runs: ~10 ms on hardware KVM, ~0.1 s under TCG. */
export const PROBE_LOOPS = 1 << 24;
/** QEMU exit status when the guest writes 0x31 to isa-debug-exit: (0x31 << 1) | 1. */
export const PROBE_SUCCESS_STATUS = 99;
const DEBUG_EXIT_PORT = 0xf4;

// Hand-assembled; the image's low 64 KiB alias sits at 0xF0000, so code runs with CS=0xF000.
// Addresses below are image offsets (16-bit code) or 0xF0000 + offset (32/64-bit code).
const code = [
  [0x2e, 0x66, 0x0f, 0x01, 0x16, 0xb0, 0x00], // 0x00 lgdtl %cs:0xb0 (gdtr)
  [0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0], // mov %cr0,%eax; or $1,%al; mov %eax,%cr0 (PE)
  [0x66, 0xea, 0x17, 0x00, 0x0f, 0x00, 0x08, 0x00], // ljmpl $0x08,$0xF0017 (pm32)
  [0xb8, 0x10, 0x00, 0x00, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0], // 0x17 pm32: ds=es=ss=0x10
  [0xbf, 0x00, 0x10, 0x00, 0x00, 0x31, 0xc0, 0xb9, 0x00, 0x0c, 0x00, 0x00, 0xf3, 0xab], // zero 0x1000..0x3fff
  [0xc7, 0x05, 0x00, 0x10, 0x00, 0x00, 0x03, 0x20, 0x00, 0x00], // PML4[0] = 0x2003
  [0xc7, 0x05, 0x00, 0x20, 0x00, 0x00, 0x03, 0x30, 0x00, 0x00], // PDPT[0] = 0x3003
  [0xc7, 0x05, 0x00, 0x30, 0x00, 0x00, 0x83, 0x00, 0x00, 0x00], // PD[0] = 2 MiB page at 0
  [0xb8, 0x20, 0x00, 0x00, 0x00, 0x0f, 0x22, 0xe0], // cr4 = PAE
  [0xb8, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x22, 0xd8], // cr3 = 0x1000
  [0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x30], // EFER.LME
  [0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0], // cr0 |= PG
  [0xea, 0x7e, 0x00, 0x0f, 0x00, 0x18, 0x00], // ljmp $0x18,$0xF007E (lm64)
  [0xb9, 0, 0, 0, 0], // 0x7e lm64: mov $loops,%ecx (patched below)
  [0xff, 0xc9, 0x75, 0xfc], // 1: dec %ecx; jnz 1b
  [0xb0, 0x31, 0xe6, DEBUG_EXIT_PORT], // mov $0x31,%al; out %al,$0xf4
  [0xf4, 0xeb, 0xfd, 0x66, 0x90], // 2: hlt; jmp 2b; pad to 8
  [0, 0, 0, 0, 0, 0, 0, 0], // 0x90 gdt: null
  [0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0], // 0x08 flat 32-bit code
  [0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0], // 0x10 flat data
  [0xff, 0xff, 0, 0, 0, 0x9a, 0xaf, 0], // 0x18 64-bit code
  [0x1f, 0x00, 0x90, 0x00, 0x0f, 0x00], // 0xb0 gdtr: limit 31, base 0xF0090
].flat();
const LOOPS_OFFSET = 0x7f;
const RESET_VECTOR = 0xfff0;
const reset = [0xfa, 0xea, 0x00, 0x00, 0x00, 0xf0]; // cli; ljmp $0xF000,$0

/** The 64 KiB probe firmware: reset vector → protected mode → long mode → loop → exit status 99. */
export function kvmProbeFirmware(loops: number = PROBE_LOOPS): Uint8Array {
  if (!Number.isInteger(loops) || loops < 1 || loops > 0xffffffff) throw new RangeError(`Probe loops out of range: ${loops}`);
  const image = new Uint8Array(0x10000).fill(0xf4); // hlt everywhere else
  image.set(code, 0);
  new DataView(image.buffer).setUint32(LOOPS_OFFSET, loops, true);
  image.set(reset, RESET_VECTOR);
  return image;
}

/** The QEMU argv that boots the probe firmware with `accel`. */
export function kvmProbeArgv(qemu: string, firmware: string, accel: "kvm" | "tcg"): string[] {
  return [
    qemu, "-M", `microvm,accel=${accel}`, "-nodefaults", "-no-user-config", "-nographic", "-display", "none",
    "-m", "16", "-bios", firmware, "-device", `isa-debug-exit,iobase=0x${DEBUG_EXIT_PORT.toString(16)},iosize=0x04`,
  ];
}

/** What {@linkcode probeKvm} found. */
export interface KvmProbeResult {
  usable: boolean;
  /** What happened, in one sentence. */
  reason: string;
  /** What to do about it, when not usable. */
  hint?: string;
  /** Wall time of the QEMU run, 0 when it did not run. */
  ms: number;
}

/** Side effects of {@linkcode probeKvm}, injectable for tests. */
export interface KvmProbeDeps {
  /** Path of qemu-system-x86_64. */
  qemu: string;
  run?: Runner;
  /** Opens the device read/write and closes it; rejects with an errno error. */
  openDevice?: (path: string) => Promise<void>;
  /** "tcg" proves the probe itself works where KVM is unavailable. */
  accel?: "kvm" | "tcg";
  device?: string;
  timeoutMs?: number;
  loops?: number;
  now?: () => number;
}

async function openReadWrite(path: string): Promise<void> {
  await (await open(path, "r+")).close();
}

function deviceProblem(device: string, err: unknown): KvmProbeResult {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  if (code === "ENOENT") {
    const hint = "enable VT-x/AMD-V in the firmware (or nested virtualization on the host) and load kvm_intel or kvm_amd";
    return { usable: false, reason: `${device} does not exist`, hint, ms: 0 };
  }
  if (code === "EACCES" || code === "EPERM") {
    const hint = `add yourself to the kvm group: sudo usermod -aG kvm "$USER", then log in again`;
    return { usable: false, reason: `cannot open ${device}: ${code}`, hint, ms: 0 };
  }
  return { usable: false, reason: `cannot open ${device}: ${code}`, ms: 0 };
}

/** Boot the probe guest and say whether KVM (or `accel`) really ran it. */
export async function probeKvm(deps: KvmProbeDeps): Promise<KvmProbeResult> {
  const accel = deps.accel ?? "kvm";
  const device = deps.device ?? "/dev/kvm";
  const timeoutMs = deps.timeoutMs ?? 3000;
  const now = deps.now ?? Date.now;
  if (accel === "kvm") {
    try {
      await (deps.openDevice ?? openReadWrite)(device);
    } catch (err) {
      return deviceProblem(device, err);
    }
  }
  const dir = await mkdtemp(join(tmpdir(), "microforge-kvm-probe-"));
  try {
    const firmware = join(dir, "probe.rom");
    await writeFile(firmware, kvmProbeFirmware(deps.loops));
    const start = now();
    let result;
    try {
      result = await (deps.run ?? runProcess)(kvmProbeArgv(deps.qemu, firmware, accel), { timeoutMs, nothrow: true });
    } catch (err) {
      return { usable: false, reason: `cannot run ${deps.qemu}: ${(err as Error).message}`, hint: "check the QEMU installation", ms: 0 };
    }
    const ms = Math.round(now() - start);
    if (result.code === PROBE_SUCCESS_STATUS) {
      return { usable: true, reason: `a test guest ran in long mode with ${accel} in ${ms} ms`, ms };
    }
    if (result.signal) {
      const seconds = Math.round(timeoutMs / 100) / 10;
      return {
        usable: false,
        reason: `the test guest did not finish within ${seconds} s (hardware ${accel.toUpperCase()} needs well under a second)`,
        hint: "nested virtualization is broken or emulated here: enable it on the host, or run on bare metal",
        ms,
      };
    }
    const said = result.stderr.trim().split("\n").filter((l) => !/warning:/.test(l)).pop() ?? "";
    const reason = `QEMU exited with status ${result.code} under ${accel}${said ? `: ${said}` : ""}`;
    return { usable: false, reason, hint: "QEMU could not use KVM; check `dmesg` for kvm errors", ms };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
