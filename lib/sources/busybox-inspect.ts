/**
 * What a usable busybox is: a static ELF of the guest's architecture (no interpreter, since the
 * initramfs has no shared libraries), described by version and sha256.
 */
import { readFile } from "node:fs/promises";
import { sha256Hex } from "../util/hash.ts";
import { memoByStat } from "../util/stat-memo.ts";
import { resolve } from "node:path";
import { elfInterpreter } from "../util/elf.ts";
import { BusyboxError, MicroforgeError } from "../util/errors.ts";
import type { Runner } from "../util/process.ts";
import type { Logger } from "../util/log.ts";
import { type Arch, hostArch } from "../util/arch.ts";

/** A verified static busybox binary. */
export interface Busybox {
  path: string;
  /** e.g. "1.35.0", read from the binary's banner. */
  version: string | undefined;
  sha256: string;
  /** Which source provided it. */
  origin: "busybox.net" | "debian" | "host" | "path";
  /** Where the bytes came from: URL, `debian:<pkg>=<version>`, or path. */
  url?: string;
}

/** Injected side effects and choices. */
export interface BusyboxDeps {
  run?: Runner;
  env?: Record<string, string | undefined>;
  log?: Logger;
  fetch?: typeof fetch;
  quiet?: boolean;
  /** Version spec: "latest" (default), "1.35", "^1.30", exact. */
  version?: string;
  /** Pinned bytes (from a lock file): the download must have this sha256. */
  expectSha256?: string;
  /** Pinned busybox.net URL (from a lock file): skip resolving. */
  url?: string;
  /** Use a busybox.net binary no lock file pins, trusting it on first use (also `MICROFORGE_ALLOW_UNVERIFIED=1`). */
  allowUnverified?: boolean;
  /** The guest architecture the busybox must be built for (default x86_64). */
  arch?: Arch;
}

/**
 * Check `path` is a static ELF busybox for `arch` (default x86_64) and describe it; throws {@linkcode BusyboxError}.
 * What a file was found to be is remembered until it changes (`env`'s cache), so a warm run does not read and hash it again.
 */
export async function inspectBusybox(path: string, origin: Busybox["origin"], arch: Arch = hostArch(), env: Record<string, string | undefined> = process.env): Promise<Busybox> {
  const found = await memoByStat(`busybox at ${resolve(path)} for ${arch}`, [path], () => inspectFile(path, arch), env);
  return { path: resolve(path), ...found, origin };
}

/** The version (from the binary's banner) and sha256 of the static busybox for `arch` at `path`. */
async function inspectFile(path: string, arch: Arch): Promise<{ version: string | undefined; sha256: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new BusyboxError(`Cannot read busybox at ${path}: ${(err as Error).message}`, "pass an existing file with --busybox PATH", { cause: err });
  }
  let interp: string | undefined;
  try {
    interp = await elfInterpreter(path, arch);
  } catch (err) {
    const why = err instanceof MicroforgeError ? err.summary : (err as Error).message;
    throw new BusyboxError(`${path} cannot be used as busybox: ${why}`, `pass a static ${arch} busybox, or use --busybox debian`, { cause: err });
  }
  if (interp) {
    throw new BusyboxError(
      `${path} is dynamically linked (it needs the loader ${interp}), but the initramfs has no shared libraries`,
      "pass a static one: --busybox debian fetches Debian's busybox-static, or install it (`apt-get install busybox-static`, or run `microforge doctor --fix`) and pass --busybox host",
    );
  }
  // The banner's place, found in the bytes (decoding 2 MB as text costs more than the rest).
  let version: string | undefined;
  for (let at = bytes.indexOf("BusyBox v"); at >= 0 && !version; at = bytes.indexOf("BusyBox v", at + 1)) {
    version = /^BusyBox v(\d+\.\d+\.\d+)/.exec(bytes.subarray(at, at + 40).toString("latin1"))?.[1];
  }
  return { version, sha256: sha256Hex(bytes) };
}
