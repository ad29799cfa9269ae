/**
 * Debian packages as an offline source: `apt-cache` says which versions the
 * configured mirror offers, `apt-get download` + `dpkg-deb -x` fetch and
 * unpack one file without installing anything (no root needed). apt checks
 * the .deb against the mirror's signed index; we check its sha256 against
 * that index too before unpacking it, so what we use is verified.
 */
import { archInfo, hostArch } from "../util/arch.ts";
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { cacheRoot, formatSize } from "../util/cache-dir.ts";
import { ChecksumError, DebianPackageError, UnverifiedError } from "../util/errors.ts";
import { type Runner, runProcess } from "../util/process.ts";
import { findOnPath } from "../util/find-on-path.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import { memoByStat } from "../util/stat-memo.ts";
import { sha256File } from "../util/hash.ts";

/** A package version the mirror offers. */
export interface DebianPackage {
  name: string;
  /** Debian version, e.g. "6.1.192-2" or "1:1.35.0-4+b3". */
  version: string;
  /** The upstream part: "6.1.192", "1.35.0". */
  upstream: string;
  /** sha256 of the .deb, from the mirror's index. */
  sha256: string | undefined;
  size: number | undefined;
  /** Its Debian architecture (`amd64`, `arm64`, `all`), when the index says. */
  architecture?: string;
}

/** `name`, with `:arch` when the package is of another architecture than dpkg's own (multiarch). */
export function qualifiedName(pkg: Pick<DebianPackage, "name" | "architecture">): string {
  const a = pkg.architecture;
  return a && a !== "all" && a !== archInfo(hostArch()).debian ? `${pkg.name}:${a}` : pkg.name;
}

/** Injected side effects, and another apt configuration than the system's (see apt-root.ts). */
export interface DebianDeps {
  run?: Runner;
  env?: Record<string, string | undefined>;
  log?: Logger;
  /** `-o` options for apt-get and apt-cache, and the files their answers depend on. */
  apt?: { options: readonly string[]; state: readonly string[] };
}

/** "1:1.35.0-4+b3" → "1.35.0"; "6.12.117-1~deb12u1" → "6.12.117". */
export function upstreamVersion(debVersion: string): string {
  return debVersion.replace(/^\d+:/, "").replace(/-[^-]*$/, "").replace(/[~+].*$/, "");
}

async function needApt(env: Record<string, string | undefined>): Promise<void> {
  if (!(await findOnPath("apt-cache", env))) {
    throw new DebianPackageError("Debian packages need apt (Debian or Ubuntu)", "use another source, e.g. a local path");
  }
}

/** The candidate version of each named package that apt knows; unknown names are left out. */
export async function aptPackages(names: readonly string[], deps: DebianDeps = {}): Promise<DebianPackage[]> {
  const env = deps.env ?? process.env;
  await needApt(env);
  const options = deps.apt?.options ?? [];
  const query = () => aptQuery(["apt-cache", ...options, "show", "--no-all-versions", ...names], deps);
  return parseStanzas(deps.run ? await query() : await memoByStat(`apt-cache ${options.join(" ")} show ${names.join(" ")}`, deps.apt?.state ?? APT_STATE, query, env));
}

/**
 * What apt's answers depend on: the package lists, the sources and dpkg's
 * status. Until one changes, an answer is reused (an `apt-cache` call costs
 * about a second, on every `run`). Injected runners (tests) are never memoized.
 */
const APT_STATE = ["/var/lib/apt/lists", "/var/lib/dpkg/status", "/etc/apt/sources.list", "/etc/apt/sources.list.d"];

async function aptQuery(argv: string[], deps: DebianDeps): Promise<string> {
  const env = deps.env ?? process.env;
  const run = deps.run ?? runProcess;
  return (await run(argv, { nothrow: true, env: { ...env, LC_ALL: "C" } })).stdout;
}

function parseStanzas(text: string): DebianPackage[] {
  return text.split(/\n\n+/).flatMap((stanza) => {
    const field = (f: string) => new RegExp(`^${f}: (.+)$`, "m").exec(stanza)?.[1];
    const [name, version] = [field("Package"), field("Version")];
    if (!name || !version) return [];
    const size = field("Size");
    const architecture = field("Architecture");
    return [{ name, version, upstream: upstreamVersion(version), sha256: field("SHA256"), size: size ? Number(size) : undefined, ...(architecture ? { architecture } : {}) }];
  });
}

/** Package names matching `regex` that apt knows, e.g. `^linux-source-[0-9.]+$`. */
export async function aptSearch(regex: string, deps: DebianDeps = {}): Promise<string[]> {
  const env = deps.env ?? process.env;
  await needApt(env);
  const query = () => aptQuery(["apt-cache", "search", "--names-only", regex], deps);
  const text = deps.run ? await query() : await memoByStat(`apt-cache search ${regex}`, APT_STATE, query, env);
  return text.split("\n").map((l) => l.split(" - ")[0].trim()).filter(Boolean);
}

/** The installed version of `name`, if dpkg has it installed. */
export async function installedVersion(name: string, deps: DebianDeps = {}): Promise<string | undefined> {
  const run = deps.run ?? runProcess;
  const query = async () => {
    const r = await run(["dpkg-query", "-W", "-f", "${Version} ${Status}", name], { nothrow: true }).catch(() => undefined);
    const m = r && r.code === 0 ? /^(\S+) install ok installed$/.exec(r.stdout.trim()) : null;
    return m?.[1] ?? null;
  };
  const version = deps.run ? await query() : await memoByStat(`dpkg-query ${name}`, ["/var/lib/dpkg/status"], query, deps.env ?? process.env);
  return version ?? undefined;
}


/**
 * One file (`member`, a path inside the package like "bin/busybox") of
 * package `pkg`, unpacked into `<cache>/debian/<name>_<version>/` once.
 */
export async function debianFile(pkg: DebianPackage, members: string | readonly string[], deps: DebianDeps = {}): Promise<string> {
  const candidates = typeof members === "string" ? [members] : members;
  const member = candidates[0];
  const env = deps.env ?? process.env;
  const run = deps.run ?? runProcess;
  const log = deps.log ?? stderrLogger();
  const qualified = qualifiedName(pkg);
  const dir = join(cacheRoot(env), "debian", `${qualified}_${pkg.version}`.replace(/[^A-Za-z0-9.+~_-]/g, "_"));
  const target = join(dir, basename(member));
  if (await stat(target).then((s) => s.isFile(), () => false)) return target;
  const mb = pkg.size ? ` (${formatSize(pkg.size)})` : "";
  log.step(`fetching Debian package ${pkg.name} ${pkg.version}${mb}`);
  await mkdir(join(cacheRoot(env), "tmp"), { recursive: true });
  const work = await mkdtemp(join(cacheRoot(env), "tmp", "deb-"));
  try {
    // apt drops privileges to _apt for downloads; it needs to write here.
    await chmod(work, 0o777);
    const aptEnv = { ...env, LC_ALL: "C" };
    const hint = "check that Debian's package mirror is reachable; `apt-get update` may help";
    // A package from the lock file carries no sha256: ask the index for this exact version.
    const expected = pkg.sha256 ?? (await aptPackages([`${qualified}=${pkg.version}`], deps)).find((p) => p.version === pkg.version)?.sha256;
    if (!expected) {
      throw new UnverifiedError(`apt's index lists no sha256 for ${pkg.name} ${pkg.version}, so the package cannot be verified`, "run `apt-get update`, or re-resolve with --update");
    }
    await run(["apt-get", ...(deps.apt?.options ?? []), "download", `${qualified}=${pkg.version}`], { cwd: work, env: aptEnv, hint });
    const deb = (await readdir(work)).find((f) => f.endsWith(".deb"));
    if (!deb) throw new DebianPackageError(`apt-get download left no .deb in ${work}`, `try \`apt-get download ${pkg.name}\` by hand`);
    const actual = await sha256File(join(work, deb));
    if (actual !== expected.toLowerCase()) throw new ChecksumError(`debian:${pkg.name}=${pkg.version}`, expected, actual);
    await run(["dpkg-deb", "-x", join(work, deb), join(work, "root")]);
    // The first of the candidate paths the package has (Debian 13 moved /bin to /usr/bin).
    let staged: string | undefined;
    for (const m of candidates) {
      const p = join(work, "root", m);
      if (await stat(p).then((s) => s.isFile(), () => false)) {
        staged = p;
        break;
      }
    }
    if (!staged) {
      throw new DebianPackageError(`Package ${pkg.name} ${pkg.version} has no file ${candidates.map((m) => `/${m}`).join(" or ")}`, "the package layout changed; use another source");
    }
    await mkdir(join(work, "out"));
    await rename(staged, join(work, "out", basename(member)));
    await mkdir(join(dir, ".."), { recursive: true });
    await rm(dir, { recursive: true, force: true });
    await rename(join(work, "out"), dir);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
