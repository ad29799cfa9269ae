/**
 * Validating the values of a VM spec: memory sizes, CPU counts, kernel
 * arguments, and escaping for QEMU option lists (`,` doubles to `,,`).
 */
import { VmSpecError } from "../util/errors.ts";

const MIB = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 } as const;

/** A value as the user typed it: strings quoted, numbers as numbers (JSON.stringify would print NaN as null). */
const show = (value: string | number) => (typeof value === "string" ? JSON.stringify(value) : String(value));

/** Memory in MiB from 512, "512", "512M", "1G", "1536MiB"; refuses 0, nonsense, and exactly 2 GiB (microvm hangs there). */
export function parseMemory(value: string | number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(String(value));
  if (!m) throw new VmSpecError(`Invalid memory size ${show(value)}`, "use a size like 512, 512M or 1G");
  const mib = Number(m[1]) * MIB[(m[2].toUpperCase() || "M") as keyof typeof MIB];
  if (!Number.isInteger(mib) || mib < 16) throw new VmSpecError(`Invalid memory size ${show(value)}: it must be a whole number of MiB, at least 16M`, "use a size like 512M or 1G");
  if (mib === 2048) throw new VmSpecError("Memory of exactly 2 GiB is refused: QEMU microvm is known to hang with it", "use 2047M or 2049M, or 1G / 3G");
  if (mib > 1024 * 1024) throw new VmSpecError(`Memory size ${show(value)} is larger than 1 TiB`, "use a smaller size");
  return mib;
}

/** A CPU count from 1 to 255, as a number or decimal digits ("0x2", "1e1" and " " are refused, not read as 2, 10 and 0). */
export function parseCpus(value: string | number): number {
  const n = typeof value === "number" ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 255) throw new VmSpecError(`Invalid CPU count ${show(value)}`, "use a whole number from 1 to 255");
  return n;
}

/** Check one kernel argument: no whitespace, double quote or newline (the kernel's own quoting cannot be passed safely). */
export function checkKernelArg(arg: string): string {
  if (!arg || /["\s]/.test(arg)) {
    throw new VmSpecError(`Kernel argument ${JSON.stringify(arg)} is refused: it is empty or holds a space, double quote or newline`, "pass each argument separately, without quotes");
  }
  return arg;
}

/** Escape a value inside a QEMU option list: `,` becomes `,,`. */
export function qemuValue(value: string): string {
  return value.replaceAll(",", ",,");
}

/** Check a 9p mount tag or a virtio port name: short, no commas or spaces. */
export function checkTag(tag: string, what: string): string {
  if (!/^[A-Za-z0-9_.-]{1,31}$/.test(tag)) throw new VmSpecError(`Invalid ${what} ${JSON.stringify(tag)}`, "use up to 31 letters, digits, dots, dashes or underscores");
  return tag;
}

/** A QEMU user-net host forward: "tcp::8080-:80", "udp:127.0.0.1:5353-:53", or the short form "8080:80" (tcp). */
export function parseHostfwd(spec: string): string {
  const short = /^(\d{1,5}):(\d{1,5})$/.exec(spec);
  if (short) return `tcp::${short[1]}-:${short[2]}`;
  if (/^(tcp|udp):[\d.]*:\d{1,5}-[\d.]*:\d{1,5}$/.test(spec)) return spec;
  throw new VmSpecError(`Invalid port forward ${JSON.stringify(spec)}`, "use HOSTPORT:GUESTPORT (8080:80) or QEMU's form tcp::8080-:80");
}
