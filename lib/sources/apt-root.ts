/**
 * A private apt configuration in the cache, for guest packages that the
 * host's Debian release does not carry: Debian 12 has no riscv64, which
 * became an official architecture with Debian 13 (trixie). Its sources list,
 * package lists and (empty) dpkg status live under `<cache>/apt/<suite>-<arch>`
 * and are given to apt-get and apt-cache as `-o` options, so the system's
 * own apt configuration is never touched and no root is needed. apt checks
 * the suite's signed InRelease against the host's Debian archive keyring.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Arch, archInfo, foreignSuite } from "../util/arch.ts";
import { cacheRoot } from "../util/cache-dir.ts";
import { DebianPackageError } from "../util/errors.ts";
import { type Runner, runProcess } from "../util/process.ts";
import type { Logger } from "../util/log.ts";

/** The keyring apt checks the suite's signature with (Debian's archive keys, trixie's included since 12.x). */
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

/** Package lists older than this are refreshed. */
const MAX_AGE_MS = 24 * 3600_000;

/** What {@linkcode foreignAptRoot} needs. */
export interface AptRootDeps {
  env?: Record<string, string | undefined>;
  run?: Runner;
  log?: Logger;
  /** /etc/os-release text (tests give their own). */
  osRelease?: string;
  /** The host's sources, to take the mirror from (default: /etc/apt/sources.list and sources.list.d/debian.sources). */
  sources?: string;
}

/** The host's Debian mirror: the first `URIs:` / `deb` URL that ends in /debian, else https://deb.debian.org/debian. */
export function debianMirror(sources: string): string {
  const urls = [...sources.matchAll(/^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(https?:\/\/\S+)/gm)].map((m) => m[1].replace(/\/+$/, ""));
  return urls.find((u) => /\/debian$/.test(u)) ?? "https://deb.debian.org/debian";
}

/**
 * The apt `-o` options of the private root for `arch` (and the files its
 * answers depend on), its package lists
 * refreshed when missing or a day old; undefined when the host's own apt
 * configuration (with `dpkg --add-architecture`) is the one to use.
 */
export async function foreignAptRoot(arch: Arch, deps: AptRootDeps = {}): Promise<{ options: string[]; state: string[] } | undefined> {
  const osRelease = deps.osRelease ?? (await readFile("/etc/os-release", "utf8").catch(() => ""));
  const suite = foreignSuite(arch, osRelease);
  if (!suite) return undefined;
  const env = deps.env ?? process.env;
  const run = deps.run ?? runProcess;
  const debian = archInfo(arch).debian;
  const dir = join(cacheRoot(env), "apt", `${suite}-${debian}`);
  const sources = deps.sources ?? [await readFile("/etc/apt/sources.list", "utf8").catch(() => ""), await readFile("/etc/apt/sources.list.d/debian.sources", "utf8").catch(() => "")].join("\n");
  const line = `deb [arch=${debian} signed-by=${KEYRING}] ${debianMirror(sources)} ${suite} main\n`;
  await mkdir(join(dir, "lists", "partial"), { recursive: true });
  await mkdir(join(dir, "cache", "archives", "partial"), { recursive: true });
  const listFile = join(dir, "sources.list");
  const changed = (await readFile(listFile, "utf8").catch(() => "")) !== line;
  if (changed) await writeFile(listFile, line);
  await writeFile(join(dir, "status"), "", { flag: "a" });
  const options = [
    "-o", `Dir::Etc::SourceList=${listFile}`,
    "-o", "Dir::Etc::SourceParts=/dev/null",
    "-o", `Dir::State::Lists=${join(dir, "lists")}`,
    "-o", `Dir::State::Status=${join(dir, "status")}`,
    "-o", `Dir::Cache=${join(dir, "cache")}`,
    "-o", `APT::Architecture=${debian}`,
    "-o", `APT::Architectures::=${debian}`,
  ];
  const fresh = await stat(join(dir, "lists", "lock")).then((s) => Date.now() - s.mtimeMs < MAX_AGE_MS, () => false);
  if (changed || !fresh) {
    deps.log?.step(`apt: Debian ${suite}'s ${debian} package lists (the host's release has no ${debian}), in ${dir}`);
    const r = await run(["apt-get", "-q", ...options, "update"], { nothrow: true, env: { ...env, LC_ALL: "C" } });
    if (r.code !== 0 || /^(W|E): .*(Failed|not signed|NO_PUBKEY)/m.test(r.stderr)) {
      throw new DebianPackageError(`apt could not read Debian ${suite}'s ${debian} package lists: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`, `check that ${debianMirror(sources)} is reachable and that debian-archive-keyring is up to date`);
    }
    // apt touches the lock each update: its mtime says when the lists were read.
    await writeFile(join(dir, "lists", "lock"), "");
  }
  return { options, state: [listFile, join(dir, "lists")] };
}
