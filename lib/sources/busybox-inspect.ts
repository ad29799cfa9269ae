/**
 * What a usable busybox is: a static ELF of the guest's architecture (no interpreter, since the
 * initramfs has no shared libraries), described by version and sha256.
 */
import { readFile } from "node:fs/promises";
import { sha256Hex } from "../util/hash.ts";
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

/** Check `path` is a static ELF busybox for `arch` (default x86_64) and describe it; throws {@linkcode BusyboxError}. */
export async function inspectBusybox(path: string, origin: Busybox["origin"], arch: Arch = hostArch()): Promise<Busybox> {
  let bytes: Uint8Array;
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
  const banner = /BusyBox v(\d+\.\d+\.\d+)/.exec(new TextDecoder("latin1").decode(bytes));
  const sha256 = sha256Hex(bytes);
  return { path: resolve(path), version: banner?.[1], sha256, origin };
}
