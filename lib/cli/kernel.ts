/**
 * `microforge kernel config|build`: show the layered config (and verify it
 * against a real tree), or build a cached bzImage.
 */
import { DEFAULT_SPEC, checkSpec } from "../sources/version-spec.ts";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { type Command, listFlag } from "./command.ts";
import { suggest } from "../util/suggest.ts";
import { type ParsedArgs } from "../util/flags.ts";
import { cacheRoot } from "../util/cache-dir.ts";
import { parseOverride } from "../kernel/dot-config.ts";
import { KernelTreeError, UsageError } from "../util/errors.ts";
import { buildKernel, reproducibleEnv } from "../kernel/build.ts";
import { archEnv } from "../kernel/build-steps.ts";
import { treeLockInfo } from "../kernel/tree-lock.ts";
import { assertBuildToolchain } from "../host/toolchain.ts";
import { configureKernel } from "../kernel/config.ts";
import { checkFragmentFile, DEFAULT_FEATURES, expandFeatures, kernelConfigRequest, localFragment } from "../kernel/fragments.ts";
import { localTree, makefileVersion } from "../kernel/local-tree.ts";
import { kernelMenuCmd } from "./kernel-menu.ts";
import { assertTerminal } from "../kernel/menuconfig.ts";
import { resolveKernel } from "../fetch/kernel-tarball.ts";
import { lockedKernel, lockTreeBuild } from "../fetch/locked.ts";
import { stderrLogger } from "../util/log.ts";
import { sourceTree } from "../kernel/source-tree.ts";
import { checkSourceFlag, kernelSourceFlag, lockFlags, lockOptions, selectionFlags } from "./source-flags.ts";
import { archArg, archFlag } from "./arch-flag.ts";

function features(args: ParsedArgs): string[] {
  const list = listFlag(args, "features");
  return list.length ? list : [...DEFAULT_FEATURES];
}

async function treeVersion(tree: string): Promise<string> {
  const hint = "pass the top directory of an extracted kernel (`microforge fetch kernel --extract` prints one)";
  const s = await stat(tree).catch(() => undefined);
  if (!s?.isDirectory()) throw new KernelTreeError(`Kernel tree ${tree} ${s ? "is not a directory" : "does not exist"}`, hint);
  const v = makefileVersion(await readFile(join(tree, "Makefile"), "utf8").catch(() => ""));
  if (!v) throw new KernelTreeError(`${tree} is not a kernel source tree (no VERSION in its Makefile)`, hint);
  return v.version;
}

/** The config inputs the flags ask for, each checked before any lookup or download. */
function configInputs(args: ParsedArgs): { features: string[]; fragments: string[]; overrides: string[] } {
  const inputs = { features: features(args), fragments: args.config as string[], overrides: args.set as string[] };
  expandFeatures(inputs.features);
  inputs.overrides.forEach(parseOverride);
  inputs.fragments.forEach(checkFragmentFile);
  return inputs;
}

/** The version spec from --version, checked. */
function specArg(args: ParsedArgs): string {
  const spec = (args.version as string | undefined) ?? DEFAULT_SPEC.kernel;
  checkSpec(spec, { what: "kernel" });
  return spec;
}

async function configCmd(args: ParsedArgs, common: Record<string, unknown>): Promise<number> {
  const log = stderrLogger({ quiet: args.quiet as boolean });
  const inputs = { ...configInputs(args), arch: archArg(args) };
  let tree = args.tree ? resolve(args.tree as string) : undefined;
  let version: string;
  if (tree) version = await treeVersion(tree);
  else {
    const spec = specArg(args);
    if (args.verify) {
      const beforeFetch = (v: string) => kernelConfigRequest({ version: v, ...inputs });
      const t = await lockedKernel(spec, { ...common, log, lock: lockOptions(args), beforeFetch });
      [version, tree] = [t.version, await sourceTree(t, { log })];
    } else version = (await resolveKernel(spec, { ...common, log })).version;
  }
  const request = kernelConfigRequest({ version, ...inputs, local: localFragment([]) });
  if (!tree) {
    process.stdout.write(request.fragment);
    return 0;
  }
  await mkdir(join(cacheRoot(), "tmp"), { recursive: true });
  const work = await mkdtemp(join(cacheRoot(), "tmp", "config-"));
  try {
    const r = await configureKernel(tree, work, request, { env: { ...reproducibleEnv(process.env), ...archEnv(inputs.arch) }, allowDropped: true });
    if (args.print) process.stdout.write(request.fragment + "\n");
    const summary = { version, arch: inputs.arch, tree, requested: request.requested.size, yes: r.yes, dropped: r.dropped };
    if (args.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    else {
      process.stdout.write(`linux ${version}: ${request.requested.size} symbols requested, ${r.yes} =y in the final .config\n`);
      for (const d of r.dropped) process.stdout.write(`  ✗ CONFIG_${d.symbol}=${d.requested} ${d.actual === "is not set" ? "is not set" : `became ${d.actual}`}${d.why.length ? `: ${d.why.join("; ")}` : ""}\n`);
      if (!r.dropped.length) process.stdout.write("  ✓ every requested symbol stuck\n");
    }
    return r.dropped.length && !args["allow-dropped"] ? 1 : 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** --kernel-tree names the source: a version or a source to look it up in would be ignored, so they are refused. */
function checkTreeAlone(args: ParsedArgs): void {
  if (args["kernel-tree"] === undefined) return;
  // Values from the environment or the default are someone's standing choice, not a request for this command.
  for (const [flag, envName, unset] of [["version", "MICROFORGE_KERNEL_VERSION", undefined], ["kernel-source", "MICROFORGE_KERNEL_SOURCE", "auto"]] as const) {
    if (args[flag] !== unset && process.env[envName] !== args[flag]) {
      throw new UsageError(`--kernel-tree and --${flag} cannot be used together: the tree is the kernel source`, `drop --${flag}, or drop --kernel-tree to build a release`);
    }
  }
}

/** menuconfig/nconfig: the UI runs on the tree of --kernel-tree, or on the extracted release. */
async function menuCmd(args: ParsedArgs, common: Record<string, unknown>): Promise<number> {
  checkTreeAlone(args);
  assertTerminal(args._[0] as string);
  const inputs = configInputs(args);
  const log = stderrLogger({ quiet: args.quiet as boolean });
  if (args["kernel-tree"] !== undefined) {
    const local = await localTree(args["kernel-tree"] as string);
    return await kernelMenuCmd(args, { tree: local.path, version: local.version, inputs });
  }
  const beforeFetch = (v: string) => void kernelConfigRequest({ version: v, ...inputs });
  const t = await lockedKernel(specArg(args), { ...common, log, lock: lockOptions(args), beforeFetch });
  return await kernelMenuCmd(args, { tree: await sourceTree(t, { log }), version: t.version, inputs });
}

async function buildCmd(args: ParsedArgs, common: Record<string, unknown>): Promise<number> {
  const log = stderrLogger({ quiet: args.quiet as boolean });
  checkTreeAlone(args);
  const kernelTree = args["kernel-tree"] as string | undefined;
  const spec = kernelTree === undefined ? specArg(args) : "";
  const inputs = configInputs(args);
  const jobs = args.jobs !== undefined ? /^\d+$/.test(String(args.jobs)) ? Number(args.jobs) : Number.NaN : undefined;
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs > 0 && jobs <= 1024)) throw new UsageError(`Invalid --jobs ${JSON.stringify(args.jobs)}`, "pass a whole number of parallel jobs from 1 to 1024");
  for (const v of args.make as string[]) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) throw new UsageError(`Invalid --make ${JSON.stringify(v)}: not a VAR=VALUE make variable`, "pass variables only, e.g. --make KCFLAGS=-O2 (targets and make options are not allowed)");
  }
  // The config layers are rendered and checked once the version is known, before the tarball is fetched.
  // Before any download: the config renders, and the tools to build it are here.
  const arch = archArg(args);
  const beforeFetch = async (version: string) => {
    kernelConfigRequest({ version, ...inputs, arch });
    await assertBuildToolchain(undefined, arch);
  };
  const tarball = kernelTree === undefined ? await lockedKernel(spec, { ...common, log, quiet: args.quiet as boolean, lock: lockOptions(args), beforeFetch }) : undefined;
  const k = await buildKernel({
    tarball,
    tree: kernelTree,
    ...inputs,
    arch,
    makeVars: args.make as string[],
    jobs,
    allowDropped: args["allow-dropped"] as boolean,
    log,
    quiet: args.quiet as boolean,
  });
  if (k.local) await lockTreeBuild(lockOptions(args), treeLockInfo(k));
  let paths = { bzImage: k.bzImage, vmlinux: k.vmlinux, config: k.config };
  if (args.output) {
    const out = resolve(args.output as string);
    await mkdir(out, { recursive: true });
    // Each under its own name: the boot image is a bzImage on x86_64, an Image elsewhere.
    for (const name of ["bzImage", "vmlinux", "config"] as const) await copyFile(paths[name], join(out, basename(paths[name])));
    paths = { bzImage: join(out, basename(paths.bzImage)), vmlinux: join(out, "vmlinux"), config: join(out, "config") };
  }
  // What to pass to --kernel (QEMU's -kernel): the PVH vmlinux boots faster than the bzImage.
  const boot = k.pvh ? paths.vmlinux : paths.bzImage;
  const result = { version: k.version, arch, release: k.release, tree: k.local?.path, git: k.local?.git, ...paths, boot, pvh: k.pvh, configHash: k.configHash, key: k.key, seconds: k.seconds, cached: k.cached, yes: k.yes };
  if (args.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  else {
    process.stdout.write(`${result.bzImage}\n  version   ${k.version}\n  vmlinux   ${result.vmlinux}${k.pvh ? " (PVH: boot this one, it is faster)" : ""}\n  config    ${result.config} (sha256 ${k.configHash.slice(0, 16)}…, ${k.yes} =y)\n`);
    process.stdout.write(`  built in  ${k.seconds} s${k.cached ? " (cached)" : ""}\n`);
  }
  return 0;
}

/** The `kernel` subcommand. */
export const kernelCommand: Command = {
  name: "kernel",
  summary: "Show/verify the layered kernel config (config), build a cached kernel (build), or pick options in the kernel's own menu (menuconfig, nconfig)",
  usage: "config|build|menuconfig|nconfig [--version SPEC | --kernel-tree DIR] [--features LIST] [--config FILE]... [--set CONFIG_X=y]...",
  flags: [
    archFlag,
    { name: "version", type: "string", env: "MICROFORGE_KERNEL_VERSION", description: `kernel version spec (default ${DEFAULT_SPEC.kernel})` },
    kernelSourceFlag,
    { name: "kernel-tree", type: "string", env: "MICROFORGE_KERNEL_TREE", description: "build, menuconfig: your own source tree (a git checkout), built out of tree; never written to" },
    { name: "features", type: "strings", description: `feature fragments, comma-separated (default ${DEFAULT_FEATURES.join(",")}; also acpi, debug, modules)` },
    { name: "config", type: "strings", description: "your own fragment file (.config, or .ejs rendered like the built-in ones)" },
    { name: "set", type: "strings", description: "one override, CONFIG_X=y|n|m|\"str\"|123 (applied last)" },
    { name: "allow-dropped", type: "boolean", description: "report dropped symbols but go on" },
    { name: "tree", type: "string", description: "config: verify against this extracted source tree" },
    { name: "verify", type: "boolean", description: "config: fetch the source and verify the config (no build)" },
    { name: "print", type: "boolean", description: "config: print the merged fragment too" },
    { name: "make", type: "strings", description: "build: extra make variable VAR=VALUE (part of the cache key)" },
    { name: "jobs", alias: "j", type: "string", description: "build: parallel jobs (default: CPU count)" },
    { name: "output", alias: "o", type: "string", description: "build: also copy bzImage, vmlinux and config here; menuconfig: the fragment to write (default templates/kernel/local.config)" },
    ...selectionFlags,
    ...lockFlags,
    { name: "allow-unverified", type: "boolean", description: "allow mainline snapshots, which have no published checksum" },
    { name: "json", type: "boolean", description: "print JSON" },
    { name: "quiet", alias: "q", type: "boolean", description: "no progress output" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    const sub = args._[0];
    const menu = sub === "menuconfig" || sub === "nconfig";
    if ((sub === "config" || sub === "build" || menu) && args["kernel-tree"] === undefined) checkSourceFlag(args, "kernel-source");
    const common = {
      source: args["kernel-source"] as string,
      includeEol: args["include-eol"] as boolean,
      includePrerelease: args["include-prerelease"] as boolean,
      allowUnverified: args["allow-unverified"] as boolean,
    };
    if (args._[0] === "config") return await configCmd(args, common);
    if (args._[0] === "build") return await buildCmd(args, common);
    if (menu) return await menuCmd(args, common);
    const close = args._[0] ? suggest(args._[0], ["config", "build", "menuconfig", "nconfig"]) : undefined;
    throw new UsageError(`microforge kernel needs config, build, menuconfig or nconfig${args._[0] ? `, not ${JSON.stringify(args._[0])}` : ""}`, `${close ? `did you mean \`microforge kernel ${close}\`? See` : "see"} \`microforge kernel --help\``);
  },
};
