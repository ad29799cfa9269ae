/**
 * The kernel config a build asks for, as ordered layers: the base template,
 * the architecture's (`templates/kernel/arch/<arch>.config.ejs`), feature templates (`templates/kernel/<feature>.config.ejs`), the recipe's
 * fragment files, the user's local layer (`templates/kernel/local.config`,
 * what `microforge kernel menuconfig` writes), then single `CONFIG_X=v`
 * overrides. Later layers win.
 * Templates see `arch`, `opts` (the recipe's options), `kernel` ({version, major,
 * minor}) and `atLeast("6.2")`, so a renamed symbol can be handled per version.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileKind } from "../util/file-kind.ts";
import semver from "semver";
import { suggest } from "../util/suggest.ts";
import { parseDotConfig, parseOverride, renderFragment } from "./dot-config.ts";
import { ConfigFragmentError, FeatureError } from "../util/errors.ts";
import { toSemver } from "../sources/kernel-version.ts";
import { findTemplate, renderTemplate } from "../util/template.ts";
import { type Arch, hostArch } from "../util/arch.ts";

/**
 * Features and the features each needs (net, blk and 9p ride on virtio-mmio).
 * `debug` is DWARF, frame pointers and kallsyms (for gdb and decoded panics);
 * `modules` is loadable module support.
 */
export const FEATURES: Readonly<Record<string, readonly string[]>> = {
  virtio: [],
  blk: ["virtio"],
  net: ["virtio"],
  "9p": ["virtio", "net"],
  console: ["virtio"],
  acpi: [],
  debug: [],
  modules: [],
};

/**
 * What recipes get unless they say otherwise: 9p shares, disks and networking
 * over virtio-mmio, and virtio-console ports, which scripted runs use to keep
 * the command's stdin/stdout/stderr apart from kernel messages.
 */
export const DEFAULT_FEATURES: readonly string[] = ["virtio", "blk", "net", "9p", "console"];

/** `features` plus what they need, in the order of {@linkcode FEATURES}; unknown names are a usage error. */
export function expandFeatures(features: readonly string[]): string[] {
  const want = new Set<string>();
  const add = (f: string) => {
    if (!(f in FEATURES)) {
      const close = suggest(f, Object.keys(FEATURES));
      throw new FeatureError(`Unknown kernel feature ${f}`, `${close ? `did you mean ${close}? ` : ""}features: ${Object.keys(FEATURES).join(", ")}`);
    }
    want.add(f);
    FEATURES[f].forEach(add);
  };
  features.forEach(add);
  return Object.keys(FEATURES).filter((f) => want.has(f));
}

/** One layer of the config. */
export interface FragmentLayer {
  name: string;
  symbols: Map<string, string>;
}

/** The merged request: every symbol with the value asked for, and the fragment for KCONFIG_ALLCONFIG. */
export interface ConfigRequest {
  layers: FragmentLayer[];
  requested: Map<string, string>;
  fragment: string;
}

/** Inputs of {@linkcode kernelConfigRequest}. */
export interface ConfigRequestOptions {
  /** Kernel version the config is for ("6.1.192"). */
  version: string;
  features?: readonly string[];
  /** Recipe options the templates see as `opts`. */
  opts?: Record<string, unknown>;
  /** Fragment files (`.config`, or `.ejs` templates rendered like the built-in ones). */
  fragments?: readonly string[];
  /** Single overrides: `CONFIG_X=y`, `X=n`, `CONFIG_CMDLINE="quiet"`. */
  overrides?: readonly string[];
  /** Directories searched before the built-in templates (a recipe's own `templates/`). */
  templateDirs?: readonly string[];
  /** The local layer's file (see {@linkcode localFragment}): applied after the fragment files, before overrides, when it exists. */
  local?: string;
  /** The guest architecture (default: the host's): its layer `kernel/arch/<arch>.config.ejs` follows the base. */
  arch?: Arch;
}

/** Where the local layer lives inside a templates directory. */
export const LOCAL_FRAGMENT = "kernel/local.config";

/** The first existing `<dir>/kernel/local.config` of `templateDirs`, else `<cwd>/templates/kernel/local.config` if it exists. */
export function localFragment(templateDirs: readonly string[], cwd: string = process.cwd()): string | undefined {
  return [...templateDirs.map((d) => join(d, LOCAL_FRAGMENT)), join(cwd, "templates", LOCAL_FRAGMENT)].find((f) => existsSync(f));
}

/** Refuse a fragment path that is missing or not a regular file (reading a FIFO would block forever). */
export function checkFragmentFile(file: string): void {
  const hint = "check the path given with --config (a .config fragment, or an .ejs template of one)";
  let s;
  try {
    s = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigFragmentError(`Config fragment ${file} ${code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : `cannot be read: ${(err as Error).message}`}`, hint, { cause: err });
  }
  if (!s.isFile()) throw new ConfigFragmentError(`Config fragment ${file} is ${fileKind(s)}, not a file`, hint);
}

/** Render and merge all layers for a kernel build. */
export function kernelConfigRequest(options: ConfigRequestOptions): ConfigRequest {
  const sv = semver.parse(toSemver(options.version) ?? "0.0.0")!;
  const arch = options.arch ?? hostArch();
  const vars = {
    arch,
    opts: options.opts ?? {},
    kernel: { version: options.version, major: sv.major, minor: sv.minor },
    atLeast: (v: string) => semver.gte(sv, toSemver(v) ?? semver.coerce(v) ?? "0.0.0"),
  };
  const layer = (name: string, feature: string): FragmentLayer => {
    const file = findTemplate(`kernel/${feature}.config.ejs`, options.templateDirs);
    return { name, symbols: parseDotConfig(renderTemplate(file, vars), { source: file }) };
  };
  const layers: FragmentLayer[] = [layer("base", "base"), layer(`arch ${arch}`, `arch/${arch}`)];
  for (const f of expandFeatures(options.features ?? DEFAULT_FEATURES)) layers.push(layer(`feature ${f}`, f));
  const read = (file: string) => {
    checkFragmentFile(file);
    const text = file.endsWith(".ejs") ? renderTemplate(file, vars) : readFileSync(file, "utf8");
    return parseDotConfig(text, { source: file });
  };
  for (const file of options.fragments ?? []) layers.push({ name: `file ${file}`, symbols: read(file) });
  if (options.local !== undefined && existsSync(options.local)) layers.push({ name: "local", symbols: read(options.local) });
  if (options.overrides?.length) layers.push({ name: "command line", symbols: new Map(options.overrides.map(parseOverride)) });
  const requested = new Map<string, string>();
  for (const layer of layers) for (const [k, v] of layer.symbols) requested.set(k, v);
  // The header is part of the build's cache key: name only layers that set symbols, files by their base name,
  // so a comment-only fragment or the same fragment in another directory reuses the same kernel.
  const named = layers.filter((l) => l.symbols.size).map((l) => l.name.replace(/^file .*\//, "file "));
  const header = `# microforge kernel config for ${options.version}: ${named.join(" → ")}\n`;
  return { layers, requested, fragment: header + renderFragment(requested) };
}
