/**
 * Finding a static x86_64 busybox for the initramfs: busybox.net's prebuilt
 * binaries, Debian's `busybox-static` package (apt-get download + dpkg-deb -x
 * into the cache, no root needed), the host's own when static, or a path.
 */
import { resolve } from "node:path";
import { BusyboxError, DebianPackageError, MicroforgeError, VersionError } from "../util/errors.ts";
import { type Busybox, type BusyboxDeps, inspectBusybox } from "../sources/busybox-inspect.ts";
import { busyboxNet } from "./busybox-net.ts";
import { unverifiedAllowed } from "../sources/policy.ts";
import { toSemver } from "../sources/kernel-version.ts";
import { resolveSpec } from "../sources/version-spec.ts";
import { findOnPath } from "../util/find-on-path.ts";
import { aptPackages, debianFile } from "../sources/debian.ts";
import { stderrLogger } from "../util/log.ts";
import { archInfo, hostArch, isCross } from "../util/arch.ts";
import { foreignAptRoot } from "../sources/apt-root.ts";

/** Where busybox comes from: "busybox.net", "debian" (package), "host" (PATH), a file path, or "auto" (those three in turn). */
export type BusyboxSource = "auto" | "busybox.net" | "host" | "debian" | (string & Record<never, never>);

function checkVersion(bb: Busybox, spec: string | undefined, from: string): Busybox {
  if (!spec || spec === "latest" || !bb.version) return bb;
  resolveSpec(spec, [{ version: bb.version, semver: toSemver(bb.version) ?? "0.0.0" }], { what: "busybox", from });
  return bb;
}

/** The host's busybox from PATH, if static. */
export async function hostBusybox(deps: BusyboxDeps = {}): Promise<Busybox> {
  const found = await findOnPath("busybox", deps.env);
  if (!found) throw new BusyboxError("No busybox on PATH", "install it (`apt-get install busybox-static`, or run `microforge doctor --fix`), or use --busybox debian");
  return checkVersion({ ...(await inspectBusybox(found, "host", deps.arch, deps.env)), url: found }, deps.version, "the host");
}

export type { Busybox, BusyboxDeps };

/** Resolve a busybox from `source` matching `deps.version`; see {@linkcode BusyboxSource}. */
export async function resolveBusybox(source: BusyboxSource = "auto", deps: BusyboxDeps = {}): Promise<Busybox> {
  const env = deps.env ?? process.env;
  const kind = source === "auto" ? env.MICROFORGE_BUSYBOX_SOURCE || "auto" : source;
  if (kind === "busybox.net") return await busyboxNet(deps);
  if (kind === "debian") return await debianBusybox(deps);
  if (kind === "host") return await hostBusybox(deps);
  if (kind !== "auto") return checkVersion({ ...(await inspectBusybox(kind, "path", deps.arch, deps.env)), url: resolve(kind) }, deps.version, kind);
  const log = deps.log ?? stderrLogger({ quiet: deps.quiet });
  const failures: string[] = [];
  for (const [name, get] of [["busybox.net", busyboxNet], ["debian", debianBusybox], ["host", hostBusybox]] as const) {
    // busybox.net publishes no checksums: `auto` only asks it when a lock pins the bytes or the user opted in.
    if (name === "busybox.net" && !deps.expectSha256 && !unverifiedAllowed(deps.allowUnverified, env)) continue;
    try {
      const bb = await get(deps);
      if (failures.length) log.warn(`busybox: ${failures.join("; ")}; using ${name}`);
      return bb;
    } catch (err) {
      // A version the fallback cannot provide is an answer, not a reason to try the next source.
      if (err instanceof VersionError) throw err;
      failures.push(`${name}: ${err instanceof MicroforgeError ? err.summary : (err as Error).message}`);
    }
  }
  throw new BusyboxError(`No busybox source worked:\n  ${failures.join("\n  ")}`, "install busybox-static (or run `microforge doctor --fix`), or pass --busybox PATH to a static x86_64 busybox");
}

/** Debian's `busybox-static` (of the guest's architecture, through multiarch), downloaded once into the cache. */
export async function debianBusybox(deps: BusyboxDeps = {}): Promise<Busybox> {
  const arch = deps.arch ?? hostArch();
  // riscv64 on Debian 12: from Debian 13, through a private apt configuration in the cache.
  const apt = isCross(arch) ? await foreignAptRoot(arch, { env: deps.env, run: deps.run, log: deps.log }) : undefined;
  const name = isCross(arch) && !apt ? `busybox-static:${archInfo(arch).debian}` : "busybox-static";
  const [pkg] = await aptPackages([name], { ...deps, apt });
  if (!pkg) {
    const hint = isCross(arch)
      ? `let apt fetch ${archInfo(arch).debian} packages: \`dpkg --add-architecture ${archInfo(arch).debian} && apt-get update\` (as root; \`microforge doctor --fix --arch ${arch}\` does it)`
      : "run `apt-get update` first (as root or with sudo)";
    throw new DebianPackageError(`apt does not know the package ${name}`, hint);
  }
  const url = `debian:${pkg.name}=${pkg.version}`;
  if (deps.version && deps.version !== "latest") {
    resolveSpec(deps.version, [{ version: pkg.upstream, semver: toSemver(pkg.upstream) ?? "0.0.0" }], { what: "busybox", from: "Debian packages" });
  }
  const path = await debianFile(pkg, ["bin/busybox", "usr/bin/busybox"], { ...deps, apt });
  return { ...(await inspectBusybox(path, "debian", arch, deps.env)), url };
}
