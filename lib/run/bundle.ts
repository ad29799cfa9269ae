/**
 * A repro bundle: one folder with everything needed to run a VM again and
 * to show a colleague what happened. It holds the kernel image and the
 * initramfs that booted (copied, not linked), the kernel's `.config`, the
 * lock entries of what went into them, the command, its exit code, its
 * stdout and stderr, the console log, the decoded panic when there was one,
 * and the QEMU argv as a script for people. `manifest.json` describes the
 * VM (what `microforge rerun` boots) and lists every file with its sha256,
 * which `rerun` checks first.
 *
 * The folder is written under a temporary name beside its final one and
 * renamed into place at the end: it is either whole or absent.
 */
import { copyFile, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { BundleError } from "../util/errors.ts";
import { fileKind } from "../util/file-kind.ts";
import { sha256File } from "../util/hash.ts";
import { tempPathFor, writeError } from "../util/cache-dir.ts";
import { formatScript } from "../util/shell-command.ts";
import { shellJoin } from "../util/shell-quote.ts";
import type { LockFile } from "../sources/lock-file.ts";
import { MicroVM, type MicroVMSpec } from "../vm/microvm.ts";

/** The manifest's name inside a bundle. */
export const BUNDLE_MANIFEST = "manifest.json";
/** Bump when the bundle layout changes; `rerun` refuses other formats. */
export const BUNDLE_FORMAT = 1;

/** The VM as a bundle records it: the spec without this host's QEMU, firmware and sockets, the kernel and initrd as file names in the bundle. */
export type BundleVm = Omit<MicroVMSpec, "qemu" | "bios" | "ports" | "serial" | "symbols" | "tscKhz">;

/** `manifest.json`. */
export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  /** When the run ended (ISO 8601). */
  created: string;
  /** The command run in the guest (empty: a shell fed from stdin). */
  command: string[];
  /** Its exit status (124: timed out, 255: the guest failed without one). */
  exitCode: number;
  /** The error microforge reported, when the guest failed. */
  error?: string;
  /** The kernel: its version, `uname -r`, and the local tree it was built from. */
  kernel: { version?: string; release?: string; configHash?: string; tree?: unknown };
  vm: BundleVm;
  /** Options of the run that change what the guest sees. */
  run: { quietKernel: boolean; timeoutMs?: number };
  /** Every other file of the bundle: its sha256 and size. */
  files: Record<string, { sha256: string; bytes: number }>;
}

/** What a finished run gives the bundle. */
export interface BundleContent {
  vm: MicroVM;
  command: readonly string[];
  exitCode: number;
  error?: string;
  decodedPanic?: string;
  console: Uint8Array;
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** The kernel's final `.config` (a kernel given as a file has none we know of). */
  config?: string;
  lock: LockFile;
  kernel: BundleManifest["kernel"];
  run: BundleManifest["run"];
  /** The clock (tests fix it). */
  now?: () => Date;
}

const HINT_TARGET = "pass a directory that does not exist yet (or is empty); its parent must exist";

/** Refuse a bundle path that cannot be written, before the run: it must not exist (or be an empty directory), its parent must. */
export async function checkBundleTarget(dir: string, flag = "--bundle"): Promise<void> {
  const path = resolve(dir);
  const s = await lstat(path).catch(() => undefined);
  if (s) {
    if (!s.isDirectory()) throw new BundleError(`Cannot write the bundle to ${dir} (${flag}): it is ${fileKind(s)}`, HINT_TARGET);
    if ((await readdir(path)).length) throw new BundleError(`Cannot write the bundle to ${dir} (${flag}): the directory is not empty`, `${HINT_TARGET}; remove the old bundle first`);
  }
  const parent = await lstat(dirname(path)).catch(() => undefined);
  if (!parent?.isDirectory()) throw new BundleError(`Cannot write the bundle to ${dir} (${flag}): there is no directory ${dirname(path)}`, HINT_TARGET);
}

/** The file name a kernel image keeps in the bundle: `bzImage` or `vmlinux` as it was, else `kernel`. */
function kernelName(path: string): string {
  const name = basename(path);
  return /^(?:bzImage|vmlinux|Image)$/.test(name) ? name : "kernel";
}

/** The QEMU argv as a script that runs from the bundle's folder. */
function qemuScript(vm: MicroVM, dir: string, c: BundleContent): string {
  const argv = vm.toArgv().map((a) => a.split(`${dir}/`).join(""));
  return formatScript(argv, [
    "The VM of a microforge repro bundle, with the same kernel and initramfs.",
    "It boots to a shell on this terminal (Ctrl-A X quits); the command went in over virtio-serial, so type it:",
    `  ${shellJoin(c.command.length ? [...c.command] : ["sh"])}`,
    "`microforge rerun .` runs it as it ran, and exits with its status.",
  ], ['cd "$(dirname "$0")" || exit 1']);
}

/** Write the bundle of a finished run to `dir` (see the module doc); resolves to its manifest. */
export async function writeBundle(dir: string, c: BundleContent): Promise<BundleManifest> {
  const final = resolve(dir);
  await checkBundleTarget(final);
  const tmp = tempPathFor(final);
  try {
    await mkdir(tmp);
    const spec = c.vm.spec;
    const kernel = kernelName(spec.kernel);
    const initrd = spec.initrd ? "initramfs.cpio" + (spec.initrd.endsWith(".gz") ? ".gz" : "") : undefined;
    await copyFile(spec.kernel, join(tmp, kernel));
    if (spec.initrd && initrd) await copyFile(spec.initrd, join(tmp, initrd));
    const text: Record<string, string | Uint8Array> = {
      "command.txt": `${shellJoin([...c.command])}\n`,
      "exit-code": `${c.exitCode}\n`,
      "console.log": c.console,
      "stdout": c.stdout,
      "stderr": c.stderr,
      "lock.json": `${JSON.stringify(c.lock, null, 2)}\n`,
      ...(c.config !== undefined ? { ".config": c.config } : {}),
      ...(c.decodedPanic ? { "panic.txt": `${c.decodedPanic}\n` } : {}),
    };
    // The VM as it will be booted from the final folder: its script names files there.
    const vm = c.vm.with({ kernel: join(final, kernel), initrd: initrd && join(final, initrd), symbols: undefined });
    text["qemu.sh"] = qemuScript(vm, final, c);
    for (const [name, data] of Object.entries(text)) await writeFile(join(tmp, name), data, { mode: name === "qemu.sh" ? 0o755 : 0o644 });
    const files: BundleManifest["files"] = {};
    for (const name of (await readdir(tmp)).sort()) {
      files[name] = { sha256: await sha256File(join(tmp, name)), bytes: (await lstat(join(tmp, name))).size };
    }
    const { qemu: _q, bios: _b, ports: _p, serial: _s, symbols: _y, tscKhz: _t, ...rest } = spec;
    const manifest: BundleManifest = {
      format: BUNDLE_FORMAT,
      created: (c.now?.() ?? new Date()).toISOString(),
      command: [...c.command],
      exitCode: c.exitCode,
      ...(c.error ? { error: c.error } : {}),
      kernel: c.kernel,
      vm: { ...rest, kernel, initrd },
      run: c.run,
      files,
    };
    const json = JSON.stringify(manifest, null, 2);
    await writeFile(join(tmp, BUNDLE_MANIFEST), `${json}\n`);
    // An empty directory at the target is replaced by the rename; a non-empty one was refused above.
    await rename(tmp, final);
    return JSON.parse(json);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (err instanceof BundleError) throw err;
    throw await writeError(err, final);
  }
}

/** A bundle read back and checked: its manifest, and where its files are. */
export interface Bundle {
  dir: string;
  manifest: BundleManifest;
}

/** Read the bundle in `dir` and check every file against the manifest's sha256; any difference is a {@linkcode BundleError}. */
export async function readBundle(dir: string): Promise<Bundle> {
  const root = resolve(dir);
  const hint = "pass a folder that `microforge run --bundle DIR` wrote, unchanged";
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(await readFile(join(root, BUNDLE_MANIFEST), "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? `there is no ${BUNDLE_MANIFEST}` : code ? (err as Error).message : `its ${BUNDLE_MANIFEST} is not JSON`;
    throw new BundleError(`${dir} is not a readable repro bundle: ${why}`, hint);
  }
  if (manifest?.format !== BUNDLE_FORMAT) throw new BundleError(`${dir} is a bundle of format ${JSON.stringify(manifest?.format)}; this microforge reads format ${BUNDLE_FORMAT}`, "rerun it with the microforge that wrote it");
  if (!manifest.vm?.kernel || !manifest.files?.[manifest.vm.kernel]) throw new BundleError(`${dir}: the manifest names no kernel file`, hint);
  const changed: string[] = [];
  for (const [name, want] of Object.entries(manifest.files)) {
    if (name.includes("/") || name.startsWith("..")) throw new BundleError(`${dir}: the manifest names a file outside the bundle (${name})`, hint);
    const got = await sha256File(join(root, name)).catch(() => "missing");
    if (got !== want.sha256) changed.push(got === "missing" ? `${name} is missing` : `${name} has sha256 ${got}, not ${want.sha256}`);
  }
  if (changed.length) throw new BundleError(`The bundle ${dir} was changed since it was written: ${changed.join("; ")}`, "rerun needs the same bytes: get the bundle again from where it was made");
  return { dir: root, manifest };
}

/** The VM spec of a bundle, its files resolved in the bundle's folder, for this host's QEMU and firmware. */
export function bundleSpec(b: Bundle, host: { qemu: string; bios: string }): MicroVMSpec {
  const { vm } = b.manifest;
  return { ...vm, kernel: join(b.dir, vm.kernel), initrd: vm.initrd && join(b.dir, vm.initrd), qemu: host.qemu, bios: host.bios };
}
