/**
 * Finding QEMU and its qboot firmware on this host, in pairs: `findX()`
 * returns undefined, `findXOrThrow()` explains how to install it.
 * `MICROFORGE_QEMU` and `MICROFORGE_QBOOT` name either one explicitly.
 */
import { access } from "node:fs/promises";
import { join, resolve } from "node:path";
import { MissingToolError } from "../util/errors.ts";
import { type Runner, runProcess } from "../util/process.ts";
import { findOnPath } from "../util/find-on-path.ts";
import { memoByStat } from "../util/stat-memo.ts";
import { type Arch, archInfo } from "../util/arch.ts";

/** The QEMU binary microforge drives. */
export const QEMU = "qemu-system-x86_64";
/** Where distributions put QEMU's firmware when `-L help` does not say. */
export const QEMU_DATA_DIRS: readonly string[] = ["/usr/share/qemu", "/usr/share/seabios", "/usr/local/share/qemu", "/usr/share/qemu-firmware"];

/** Side effects, injectable, and the guest architecture whose emulator to find (default x86_64). */
export interface QemuHostDeps {
  env?: Record<string, string | undefined>;
  arch?: Arch;
  run?: Runner;
  fileExists?: (path: string) => Promise<boolean>;
}

/** `qemu-system-x86_64` (the arch's emulator) on PATH, or `MICROFORGE_QEMU` for x86_64, if any. */
export async function findQemu(deps: QemuHostDeps = {}): Promise<string | undefined> {
  const env = deps.env ?? process.env;
  const arch = deps.arch ?? "x86_64";
  return await findOnPath((arch === "x86_64" && env.MICROFORGE_QEMU) || archInfo(arch).qemu, env);
}

/** {@linkcode findQemu}, or a {@linkcode MissingToolError} saying how to install it. */
export async function findQemuOrThrow(deps: QemuHostDeps = {}): Promise<string> {
  const qemu = await findQemu(deps);
  if (qemu) return qemu;
  const arch = deps.arch ?? "x86_64";
  if (arch !== "x86_64") {
    const a = archInfo(arch);
    throw new MissingToolError(a.qemu, `it runs ${arch} guests, and it is not on PATH`, `install it with \`apt-get install ${a.qemuPackage}\``);
  }
  const given = (deps.env ?? process.env).MICROFORGE_QEMU;
  if (given) {
    throw new MissingToolError(QEMU, `MICROFORGE_QEMU is ${given}, which is not an executable file`, "point MICROFORGE_QEMU at a qemu-system-x86_64 binary or unset it to use the one on PATH (`apt-get install qemu-system-x86`)");
  }
  throw new MissingToolError(QEMU, "it runs the microVM, and it is not on PATH", "install it with `apt-get install qemu-system-x86`");
}

/** The data directories `qemu -L help` lists, then the usual places. */
export async function qemuDataDirs(qemu: string | undefined, deps: QemuHostDeps = {}): Promise<string[]> {
  if (!qemu) return [...QEMU_DATA_DIRS];
  const ask = async () => {
    const r = await (deps.run ?? runProcess)([qemu, "-L", "help"], { nothrow: true, timeoutMs: 10_000 }).catch(() => undefined);
    return r?.code === 0 ? r.stdout.split("\n").map((l) => l.trim()).filter(Boolean).map((d) => resolve(d)) : [];
  };
  // On the real host, remembered until the QEMU binary changes: a warm run spawns no `-L help`.
  const listed = deps.run ? await ask() : await memoByStat(`${qemu} -L help`, [qemu], ask, deps.env ?? process.env);
  return [...new Set([...listed, ...QEMU_DATA_DIRS])];
}

/** `MICROFORGE_QBOOT` if set (then nothing else is searched), else qboot.rom in {@linkcode qemuDataDirs}, if any. */
export async function findQboot(qemu: string | undefined, deps: QemuHostDeps = {}): Promise<string | undefined> {
  const exists = deps.fileExists ?? ((p: string) => access(p).then(() => true, () => false));
  const given = (deps.env ?? process.env).MICROFORGE_QBOOT;
  if (given) return (await exists(given)) ? resolve(given) : undefined;
  for (const dir of await qemuDataDirs(qemu, deps)) {
    if (await exists(join(dir, "qboot.rom"))) return join(dir, "qboot.rom");
  }
  return undefined;
}

/** {@linkcode findQboot}, or a {@linkcode MissingToolError} naming where it looked and how to install it. */
export async function findQbootOrThrow(qemu: string, deps: QemuHostDeps = {}): Promise<string> {
  const rom = await findQboot(qemu, deps);
  if (rom) return rom;
  const given = (deps.env ?? process.env).MICROFORGE_QBOOT;
  if (given) {
    throw new MissingToolError("qboot.rom", `MICROFORGE_QBOOT is ${given}, which does not exist`, "point MICROFORGE_QBOOT at QEMU's qboot.rom or unset it to search QEMU's data directories (`apt-get install qemu-system-data`)");
  }
  const dirs = (await qemuDataDirs(qemu, deps)).join(", ");
  throw new MissingToolError("qboot.rom", `the microVM boots with the qboot firmware, and it is in none of ${dirs}`, "install it with `apt-get install qemu-system-data`");
}
