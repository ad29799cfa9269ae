/**
 * Finding a static x86_64 busybox for the initramfs: a path the user gives,
 * the host's own (when static), or Debian's `busybox-static` package fetched
 * with `apt-get download` + `dpkg-deb -x` into the cache (no root needed).
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { BusyboxError, MicroforgeError } from "./errors.ts";
import { elfInterpreter } from "./elf.ts";
import { findOnPath } from "./find-on-path.ts";
import { type Runner, runCommand } from "./exec.ts";
import { cacheRoot } from "./cache-dir.ts";
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

/** Debian's `busybox-static`, downloaded once into `<cache>/busybox/debian/<version>/busybox`. */
export async function debianBusybox(deps: BusyboxDeps = {}): Promise<Busybox> {
  const run = deps.run ?? runCommand;
  const log = deps.log ?? stderrLogger();
  const env = deps.env ?? process.env;
  if (!(await findOnPath("apt-get", env))) {
    throw new MicroforgeError(
      "--busybox debian needs apt-get (Debian or Ubuntu)",
      "on other systems install a static busybox and pass --busybox PATH",
    );
  }
  const show = await run(["apt-cache", "show", "--no-all-versions", "busybox-static"], { nothrow: true, env: { ...env, LC_ALL: "C" } });
  const version = /^Version: (.+)$/m.exec(show.stdout)?.[1];
  if (show.code !== 0 || !version) {
    throw new MicroforgeError("apt does not know the package busybox-static", "run `apt-get update` first (as root or with sudo)");
  }
  const dir = join(cacheRoot(env), "busybox", "debian", version.replace(/[^A-Za-z0-9.+~-]/g, "_"));
  const binary = join(dir, "busybox");
  try {
    return await inspectBusybox(binary, "debian");
  } catch {
    // not cached yet (or damaged): fetch it
  }
  log.step(`fetching Debian busybox-static ${version}`);
  await mkdir(join(cacheRoot(env), "tmp"), { recursive: true });
  const work = await mkdtemp(join(cacheRoot(env), "tmp", "busybox-"));
  try {
    // apt drops privileges to _apt for downloads; it needs to write here.
    await chmod(work, 0o777);
    await run(["apt-get", "download", `busybox-static=${version}`], { cwd: work, env: { ...env, LC_ALL: "C" }, hint: "check that Debian's package mirror is reachable; `apt-get update` may help" });
    const deb = (await readdir(work)).find((f) => f.endsWith(".deb"));
    if (!deb) throw new MicroforgeError(`apt-get download left no .deb in ${work}`, "try `apt-get download busybox-static` by hand");
    await run(["dpkg-deb", "-x", join(work, deb), join(work, "root")]);
    const staged = join(work, "root", "bin", "busybox");
    const bb = await inspectBusybox(staged, "debian");
    await mkdir(join(work, "out"));
    await rename(staged, join(work, "out", "busybox"));
    await mkdir(join(dir, ".."), { recursive: true });
    await rm(dir, { recursive: true, force: true });
    await rename(join(work, "out"), dir);
    return { ...bb, path: binary };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
