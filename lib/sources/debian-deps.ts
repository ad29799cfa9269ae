/**
 * The dependency closure of Debian packages, from apt and without root:
 * `apt-cache depends --recurse` gives the graph (Depends and Pre-Depends, no
 * Recommends), we walk it from the named packages choosing one package per
 * alternative group the way apt would, then `apt-cache show` gives each
 * chosen package's candidate version and sha256. Nothing is skipped: libc6
 * and other Essential packages are part of the closure, since the image has
 * no Debian base system. Version constraints are not checked: the graph is
 * that of the candidates, which apt keeps installable together.
 */
import { aptPackages, type DebianDeps } from "./debian.ts";
import { outputTail, PackageError } from "../util/errors.ts";
import { findOnPath } from "../util/find-on-path.ts";
import { runProcess } from "../util/process.ts";
import { memoByStat } from "../util/stat-memo.ts";

/** One package that can satisfy a dependency. */
export interface DepAlternative {
  name: string;
  /** Printed as `<name>`: no package of that name, only packages that provide it. */
  virtual: boolean;
  /** Packages that provide `name`, as apt lists them. */
  providers: string[];
}

/** One Depends or Pre-Depends field entry: any one of `alternatives` satisfies it. */
export interface DepGroup {
  kind: "Depends" | "PreDepends";
  alternatives: DepAlternative[];
}

/** What `apt-cache depends --recurse` says: each real package's groups, and the virtual names it met. */
export interface DepGraph {
  packages: Map<string, DepGroup[]>;
  virtual: Set<string>;
}

/** The chosen packages in the order they were reached, and what each one needs of them. */
export interface Closure {
  order: string[];
  depends: Record<string, string[]>;
}

/** A package of the closure with what the index says about its candidate version. */
export interface ResolvedPackage {
  name: string;
  version: string;
  /** sha256 of the .deb from apt's index (undefined when the index has none). */
  sha256: string | undefined;
  size: number | undefined;
  /** The packages of the closure it depends on (one per alternative group). */
  depends: string[];
}

/** Options of {@linkcode resolvePackages}. */
export interface ResolveOptions extends DebianDeps {
  /** A Debian architecture ("amd64", "arm64"); default the host's. Another one must be enabled (`dpkg --add-architecture`). */
  arch?: string;
}

/** A Debian package name as policy allows it (lower case, digits, + - .), optionally NAME:ARCH. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?$/;

/** Check a package name given by the user (`--package jq`), before apt is asked. */
export function checkPackageName(name: string): string {
  if (!PACKAGE_NAME.test(name)) throw new PackageError(`Invalid Debian package name ${JSON.stringify(name)}`, "give the package's name as apt knows it, e.g. --package jq (`apt-cache search WORD` finds names)");
  return name;
}

/** The apt-cache argv that prints the recursive graph of `names`: hard dependencies only, Pre-Depends included. */
export function aptDependsArgv(names: readonly string[]): string[] {
  const skip = ["recommends", "suggests", "conflicts", "breaks", "replaces", "enhances"].map((f) => `--no-${f}`);
  return ["apt-cache", "depends", "--recurse", ...skip, ...names];
}

/** Parse `apt-cache depends --recurse` output (LC_ALL=C) into a {@linkcode DepGraph}. */
export function parseAptDepends(text: string): DepGraph {
  const graph: DepGraph = { packages: new Map(), virtual: new Set() };
  let groups: DepGroup[] | undefined;
  let open = false; // the previous line ended with "|": the next alternative joins its group
  let last: DepAlternative | undefined;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const header = /^(\S+)$/.exec(line);
    if (header) {
      const virtual = /^<(.+)>$/.exec(header[1]);
      if (virtual) {
        graph.virtual.add(virtual[1]);
        groups = undefined;
      } else graph.packages.set(header[1], groups = []);
      open = false;
      continue;
    }
    const dep = /^ ([ |])(PreDepends|Depends): (\S+)$/.exec(line);
    if (dep && groups) {
      const virtual = /^<(.+)>$/.exec(dep[3]);
      last = { name: virtual ? virtual[1] : dep[3], virtual: !!virtual, providers: [] };
      if (open) groups[groups.length - 1].alternatives.push(last);
      else groups.push({ kind: dep[2] as DepGroup["kind"], alternatives: [last] });
      open = dep[1] === "|";
      continue;
    }
    // Four spaces: a package providing the alternative above.
    const provider = /^ {4}(\S+)$/.exec(line);
    if (provider && last) last.providers.push(provider[1]);
  }
  return graph;
}

function choose(group: DepGroup, chosen: Set<string>, graph: DepGraph): string | undefined {
  const candidates = group.alternatives.flatMap((a) => a.virtual ? a.providers : [a.name, ...a.providers]);
  const taken = candidates.find((n) => chosen.has(n));
  if (taken) return taken;
  for (const a of group.alternatives) {
    if (!a.virtual && graph.packages.has(a.name)) return a.name;
    const provider = a.providers.find((p) => graph.packages.has(p));
    if (provider) return provider;
  }
  return undefined;
}

/**
 * Walk `graph` from `roots`. Single dependencies are followed first; each
 * alternative group is decided afterwards, in the order met, so one already
 * needed elsewhere is reused, else the first real package (or the first
 * provider of a virtual one) is taken, as apt does.
 */
export function dependencyClosure(roots: readonly string[], graph: DepGraph): Closure {
  const chosen = new Set<string>();
  const order: string[] = [];
  const depends: Record<string, string[]> = {};
  const queue: string[] = [];
  const pending: { from: string; group: DepGroup }[] = [];
  const add = (name: string) => {
    if (chosen.has(name)) return;
    chosen.add(name);
    order.push(name);
    queue.push(name);
    depends[name] = [];
  };
  for (const root of roots) {
    if (graph.packages.has(root)) add(root);
    else if (graph.virtual.has(root)) throw new PackageError(`${root} is a virtual package: several packages may provide it`, `name one of them (\`apt-cache showpkg ${root}\` lists them under "Reverse Provides")`);
    else throw new PackageError(`apt knows no package ${root}`, "check the name (`apt-cache search NAME`), or run `apt-get update` (as root) if the lists are old");
  }
  for (;;) {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      for (const group of graph.packages.get(name) ?? []) {
        const [only] = group.alternatives;
        if (group.alternatives.length === 1 && !only.virtual && graph.packages.has(only.name)) {
          if (!depends[name].includes(only.name)) depends[name].push(only.name);
          add(only.name);
        } else pending.push({ from: name, group });
      }
    }
    const next = pending.shift();
    if (!next) break;
    const pick = choose(next.group, chosen, graph);
    if (!pick) {
      const what = next.group.alternatives.map((a) => a.name).join(" | ");
      throw new PackageError(`${next.from} ${next.group.kind === "PreDepends" ? "pre-depends" : "depends"} on ${what}, which no package apt knows provides`, "run `apt-get update` (as root); if that does not help, the package cannot be used from this mirror");
    }
    if (!depends[next.from].includes(pick)) depends[next.from].push(pick);
    add(pick);
  }
  return { order, depends };
}

/** What apt's answers depend on (as in debian.ts): until one changes, an answer is reused. */
const APT_STATE = ["/var/lib/apt/lists", "/var/lib/dpkg/status", "/etc/apt/sources.list", "/etc/apt/sources.list.d"];

async function aptDepends(names: readonly string[], deps: DebianDeps): Promise<string> {
  const env = deps.env ?? process.env;
  const [cmd, ...rest] = aptDependsArgv(names);
  const argv = [cmd, ...(deps.apt?.options ?? []), ...rest];
  const query = async () => {
    const r = await (deps.run ?? runProcess)(argv, { nothrow: true, env: { ...env, LC_ALL: "C" } });
    if (r.code !== 0) throw new PackageError("apt cannot list the dependencies", "run `apt-get update` (as root) and try again", { argv, code: r.code, tail: outputTail(r.stderr || r.stdout) });
    return r.stdout;
  };
  return deps.run ? await query() : await memoByStat(argv.join(" "), deps.apt?.state ?? APT_STATE, query, env);
}

async function hostArch(deps: DebianDeps): Promise<string> {
  const r = await (deps.run ?? runProcess)(["dpkg", "--print-architecture"], { nothrow: true });
  return r.code === 0 ? r.stdout.trim() : "";
}

/**
 * `names` and everything they need, each with its candidate version and
 * sha256: the order is the walk's (the named packages first). Unknown or
 * purely virtual names are a {@linkcode PackageError}.
 */
export async function resolvePackages(names: readonly string[], options: ResolveOptions = {}): Promise<ResolvedPackage[]> {
  if (!(await findOnPath("apt-cache", options.env ?? process.env))) {
    throw new PackageError("Debian packages need apt (Debian or Ubuntu)", "run on a Debian or Ubuntu host, or add the files with --file instead");
  }
  // A foreign architecture is named per package ("jq:arm64"); apt then names its dependencies the same way.
  const foreign = options.arch && options.arch !== (await hostArch(options)) ? `:${options.arch}` : "";
  const roots = names.map((n) => foreign && !n.includes(":") ? `${n}${foreign}` : n);
  const closure = dependencyClosure(roots, parseAptDepends(await aptDepends(roots, options)));
  const found = await aptPackages(closure.order, options);
  const byName = new Map(found.map((p) => [p.name, p]));
  return closure.order.map((name) => {
    const pkg = byName.get(name) ?? byName.get(name.replace(/:[^:]+$/, ""));
    if (!pkg) throw new PackageError(`apt lists no version of ${name}${foreign ? ` for ${options.arch}` : ""}`, foreign ? `enable the architecture (\`dpkg --add-architecture ${options.arch} && apt-get update\`)` : "run `apt-get update` (as root)");
    return { name, version: pkg.version, sha256: pkg.sha256?.toLowerCase(), size: pkg.size, depends: closure.depends[name] };
  });
}
