/**
 * A warm `microforge run -- CMD` starts its VM before microforge has loaded.
 *
 * Booting under TCG keeps one core busy for ~350 ms; loading microforge,
 * resolving the versions and checking the cache take ~100 ms more on top,
 * before QEMU can start. The QEMU argv of a run is remembered under its
 * command line (argv, working directory, environment); the next run with
 * the same command line starts that argv at once, from this small module,
 * while the rest loads and works out the VM as always. The guest boots to
 * its /init, which waits for the command on a port, so nothing runs in it
 * until the run takes the VM: if the argv worked out is the one started,
 * it does; if anything changed (a kernel rebuilt, a new version), the early
 * VM is killed unseen and the right one starts, costing only that boot.
 * `MICROFORGE_WARM_START=0` turns it off.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Port } from "../vm/microvm.ts";
import { cacheRoot, writeFileAtomic } from "../util/cache-dir.ts";
import { sha256Hex } from "../util/hash.ts";
import { fileSignature } from "../util/stat-memo.ts";
import { closeLaunched, launchVm, type LaunchedVm } from "./vm-process.ts";

/** Bump when a plan's format or the argv it holds changes meaning. */
const FORMAT = "warm-start/v1";
/** Runs in a row whose argv was not the one started early, after which a command line is not started early. */
const MAX_MISSES = 2;
/** Stands for the run's own temp directory (its sockets) in a remembered argv. */
const DIR = "\u0000dir\u0000";
/** The environment a run's VM can depend on; the rest does not reach the plan's key. */
const ENV_KEY = /^(MICROFORGE_|KBUILD_|SOURCE_DATE_EPOCH$|PATH$|HOME$|TMPDIR$|LANG$|LC_)/;

/** What a warm start hands the run: the VM it started, if any, and where the run's argv is remembered. */
export interface WarmStart {
  /** The early VM, when its argv is `argvFor(its ports)`; it is then the caller's. Otherwise it is stopped, and undefined. */
  take(argvFor: (ports: Port[]) => string[]): Promise<LaunchedVm | undefined>;
  /** Remember the argv `vm` was started with, for the next run with this command line. */
  remember(vm: LaunchedVm): Promise<void>;
  /** Stop the early VM if the run did not take it (the run failed before booting, or took another). */
  abandon(): Promise<void>;
}

/** The plan of a command line: the argv of its last VM and how the files it boots looked. */
interface Plan {
  format: string;
  argv: string[];
  watch: [string, string][];
  /**
   * How many runs in a row found another argv than the one started early.
   * One is a change (a new default, a new kernel version); two in a row mean
   * an argv that changes every run (a per-run path or port), which is then
   * not started early again.
   */
  misses?: number;
}

/** True for `run [options] -- CMD...` without --help: a scripted run, whose guest waits for its command. */
function isScriptedRun(args: readonly string[]): boolean {
  const dd = args.indexOf("--");
  return args[0] === "run" && dd > 0 && dd < args.length - 1 && !args.slice(0, dd).some((a) => a === "--help" || a === "-h");
}

/** The key of a command line: its args, working directory, runtime and the environment a VM can depend on. */
export function planKey(args: readonly string[], env: Record<string, string | undefined>, cwd: string): string {
  const vars = Object.entries(env).filter(([k, v]) => v !== undefined && ENV_KEY.test(k)).sort(([a], [b]) => (a < b ? -1 : 1));
  const runtime = (globalThis as { Deno?: unknown }).Deno ? "deno" : "node";
  return sha256Hex(JSON.stringify({ format: FORMAT, args, cwd, runtime, vars }));
}

/** The files an argv boots (QEMU, kernel, initramfs, firmware): a plan whose files changed is not started. */
function bootedFiles(argv: readonly string[]): string[] {
  const files = [argv[0]];
  argv.forEach((a, i) => ["-kernel", "-initrd", "-bios"].includes(a) && argv[i + 1] && files.push(argv[i + 1]));
  return files;
}

async function readPlan(path: string): Promise<Plan | undefined> {
  try {
    const plan = JSON.parse(await readFile(path, "utf8")) as Plan;
    if (plan.format !== FORMAT || !Array.isArray(plan.argv) || !Array.isArray(plan.watch)) return undefined;
    for (const [file, sig] of plan.watch) if (sig === "missing" || (await fileSignature(file)) !== sig) return undefined;
    return plan;
  } catch {
    return undefined;
  }
}

/**
 * For a scripted `run` (`args` as given to `microforge`), start the VM its
 * command line booted last time, if the files it boots did not change; and
 * return the {@linkcode WarmStart} the run takes it from. Undefined for any
 * other command, or when `MICROFORGE_WARM_START=0`.
 */
export async function warmStart(args: readonly string[], env: Record<string, string | undefined> = process.env, cwd: string = process.cwd()): Promise<WarmStart | undefined> {
  if (!isScriptedRun(args) || env.MICROFORGE_WARM_START === "0") return undefined;
  const key = planKey(args, env, cwd);
  const path = join(cacheRoot(env), "plans", `${key}.json`);
  const plan = await readPlan(path);
  let early: LaunchedVm | undefined;
  let taken = false;
  let missed = false;
  if (plan && (plan.misses ?? 0) < MAX_MISSES) {
    early = await launchVm((ports) => plan.argv.map((a) => a.replaceAll(DIR, dirOf(ports))));
    early.qemu.exited.catch(() => undefined);
  }
  const stop = async () => {
    if (!early || taken) return;
    early.qemu.kill();
    await Promise.race([early.qemu.exited.catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
    await closeLaunched(early);
    early = undefined;
  };
  return {
    async take(argvFor) {
      if (!early) return undefined;
      const same = JSON.stringify(argvFor(early.ports)) === JSON.stringify(early.argv);
      if (!same) {
        missed = true;
        return void (await stop());
      }
      taken = true;
      return early;
    },
    async remember(vm) {
      const hit = taken && vm === early;
      if (hit && !plan?.misses) return;
      // A hit ends a run of misses; a miss adds one; a run not started early (a changed file) keeps the count.
      const misses = hit ? 0 : missed ? (plan?.misses ?? 0) + 1 : plan?.misses ?? 0;
      const argv = vm.argv.map((a) => a.replaceAll(vm.dir, DIR));
      const watch = await Promise.all(bootedFiles(vm.argv).map(async (f) => [f, await fileSignature(f)] as [string, string]));
      // Only saves time: a cache that cannot be written is no reason to fail the run.
      await writeFileAtomic(path, JSON.stringify({ format: FORMAT, argv, watch, ...(misses ? { misses } : {}) } satisfies Plan) + "\n").catch(() => undefined);
    },
    abandon: stop,
  };
}

/** The temp directory the ports' sockets are in. */
function dirOf(ports: Port[]): string {
  const socket = ports[0].socket;
  return socket.slice(0, socket.lastIndexOf("/"));
}
