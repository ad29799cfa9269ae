/**
 * Finding a static x86_64 busybox for the initramfs: a path the user gives,
 * the host's own (when static), or Debian's `busybox-static` package fetched
 * with `apt-get download` + `dpkg-deb -x` into the cache (no root needed).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { BusyboxError, MicroforgeError } from "./errors.ts";
import { elfInterpreter } from "./elf.ts";
import { findOnPath } from "./find-on-path.ts";
import type { Runner } from "./exec.ts";
import { aptPackages, debianFile } from "./debian-packages.ts";
import { type Logger, stderrLogger } from "./log.ts";

/** Where busybox comes from: a file path, "host" (PATH), "debian" (package), or "auto" (host if static, else debian). */
export type BusyboxSource = "auto" | "host" | "debian" | (string & Record<never, never>);

/** A verified static busybox binary. */
export interface Busybox {
  path: string;
  /** e.g. "1.35.0", read from the binary's banner. */
  version: string | undefined;
  sha256: string;
  /** How it was found: "path", "host" or "debian". */
  origin: "path" | "host" | "debian";
}

/** Injected side effects. */
export interface BusyboxDeps {
  run?: Runner;
  env?: Record<string, string | undefined>;
  log?: Logger;
}

/** Check `path` is a static x86_64 ELF busybox and describe it; throws {@linkcode BusyboxError}. */
export async function inspectBusybox(path: string, origin: Busybox["origin"]): Promise<Busybox> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new BusyboxError(`Cannot read busybox at ${path}: ${(err as Error).message}`, "pass an existing file with --busybox PATH", { cause: err });
  }
  let interp: string | undefined;
  try {
    interp = await elfInterpreter(path);
  } catch (err) {
    const why = err instanceof MicroforgeError ? err.summary : (err as Error).message;
    throw new BusyboxError(`${path} cannot be used as busybox: ${why}`, "pass a static x86_64 busybox, or use --busybox debian", { cause: err });
  }
  if (interp) {
    throw new BusyboxError(
      `${path} is dynamically linked (it needs the loader ${interp}), but the initramfs has no shared libraries`,
      "use a static busybox: `apt-get install busybox-static`, or --busybox debian",
    );
  }
  const banner = /BusyBox v(\d+\.\d+\.\d+)/.exec(new TextDecoder("latin1").decode(bytes));
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return { path: resolve(path), version: banner?.[1], sha256, origin };
}

/** Resolve a busybox from `source`; see {@linkcode BusyboxSource}. */
export async function resolveBusybox(source: BusyboxSource = "auto", deps: BusyboxDeps = {}): Promise<Busybox> {
  if (source === "debian") return await debianBusybox(deps);
  if (source === "host" || source === "auto") {
    const found = await findOnPath("busybox", deps.env);
    if (!found && source === "host") {
      throw new BusyboxError("No busybox on PATH", "install it (`apt-get install busybox-static`) or use --busybox debian");
    }
    if (found) {
      try {
        return await inspectBusybox(found, "host");
      } catch (err) {
        if (source === "host") throw err;
        (deps.log ?? stderrLogger()).warn(`host busybox not usable (${(err as MicroforgeError).summary}); using Debian's busybox-static`);
      }
    }
    return await debianBusybox(deps);
  }
  return await inspectBusybox(source, "path");
}

/** Debian's `busybox-static`, downloaded once into the cache. */
export async function debianBusybox(deps: BusyboxDeps = {}): Promise<Busybox> {
  const [pkg] = await aptPackages(["busybox-static"], deps);
  if (!pkg) throw new MicroforgeError("apt does not know the package busybox-static", "run `apt-get update` first (as root or with sudo)");
  const path = await debianFile(pkg, "bin/busybox", deps);
  return await inspectBusybox(path, "debian");
}
