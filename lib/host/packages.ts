/**
 * Distribution families and their package managers: which one this host is
 * (from /etc/os-release) and the exact argv that installs a list of packages.
 */
// zx/core, not zx: the full package costs every CLI start ~60 ms more on Node (issue #7).

/** A family of distributions sharing a package manager. */
export type Distro = "debian" | "fedora" | "arch" | "alpine" | "opensuse";

/** Package names per distribution family; a missing family means "no package known". */
export type PackageMap = Partial<Record<Distro, readonly string[]>>;

/** Every family, in the order hints list them. */
export const distros: readonly Distro[] = ["debian", "fedora", "arch", "alpine", "opensuse"];

const families: Record<string, Distro> = {
  debian: "debian",
  ubuntu: "debian",
  fedora: "fedora",
  rhel: "fedora",
  centos: "fedora",
  arch: "arch",
  alpine: "alpine",
  suse: "opensuse",
  opensuse: "opensuse",
  sles: "opensuse",
};

/** Parse os-release text (KEY=value lines, values optionally quoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return out;
}

/** The family of the host described by os-release text: ID first, then ID_LIKE in order; undefined when unknown. */
export function detectDistro(osRelease: string | undefined): Distro | undefined {
  if (!osRelease) return undefined;
  const fields = parseOsRelease(osRelease);
  const ids = [fields.ID ?? "", ...(fields.ID_LIKE ?? "").split(/\s+/)].map((s) => s.toLowerCase()).filter(Boolean);
  for (const id of ids) {
    const family = families[id] ?? families[id.split("-")[0]]; // opensuse-tumbleweed, opensuse-leap
    if (family) return family;
  }
  return undefined;
}

const managers: Record<Distro, { install: string[]; assumeYes: string[] }> = {
  debian: { install: ["apt-get", "install"], assumeYes: ["-y", "--no-install-recommends"] },
  fedora: { install: ["dnf", "install"], assumeYes: ["-y"] },
  arch: { install: ["pacman", "-S", "--needed"], assumeYes: ["--noconfirm"] },
  alpine: { install: ["apk", "add"], assumeYes: [] },
  opensuse: { install: ["zypper", "install"], assumeYes: ["-y"] },
};

/** Options for {@linkcode installArgv}. */
export interface InstallOptions {
  /** Running as root: no sudo prefix. */
  root: boolean;
  /** Add the flags that skip the package manager's questions. */
  assumeYes?: boolean;
}

/** The argv that installs `packages` on `distro`, with sudo when not root. */
export function installArgv(distro: Distro, packages: readonly string[], options: InstallOptions): string[] {
  const m = managers[distro];
  const argv = [...m.install, ...(options.assumeYes ? m.assumeYes : []), ...packages];
  return options.root ? argv : ["sudo", ...argv];
}

/** The packages of `map` for `distro`, de-duplicated across several maps, in first-seen order. */
export function packagesFor(distro: Distro, maps: readonly PackageMap[]): string[] {
  return [...new Set(maps.flatMap((m) => m[distro] ?? []))];
}

/** One line saying how to install `what` when the distribution is unknown, naming each family's packages. */
export function genericInstallHint(what: string, map: PackageMap): string {
  const known = distros.filter((d) => map[d]?.length).map((d) => `${d}: ${map[d]!.join(" ")}`);
  return known.length ? `install ${what} with your package manager (${known.join("; ")})` : `install ${what}`;
}
