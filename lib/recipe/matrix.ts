/**
 * A test matrix: one command across kernels, feature sets and repeats, each
 * cell in a fresh VM. Every kernel (and feature set) is built first, one
 * after another, since a build already uses every core; then the cells run
 * `parallel` at a time. `microforge test` and the DSL's `matrix()` run it.
 */
import { mkdir, readFile } from "node:fs/promises";
import { DEFAULT_FEATURES, expandFeatures } from "../kernel/fragments.ts";
import { type CellPlan, matrixCells, shardCells } from "../run/cells.ts";
import { type CellTarget, runCell } from "../run/cell-run.ts";
import { defaultParallel, runPool } from "../run/pool.ts";
import { type CellResult, type Shard, summarize, TEST_REPORT_FORMAT, type TestReport } from "../run/test-report.ts";
import { InputError, VmSpecError } from "../util/errors.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import { parseMemory } from "../vm/values.ts";
import { type AccelChoice, chooseAccel } from "../vm/accel.ts";
import { findQemuOrThrow } from "../host/qemu.ts";
import { type Arch, hostArch } from "../util/arch.ts";

/** The build a cell boots: one per architecture, kernel and feature set. */
const targetKey = (c: CellPlan): string => `${c.arch ?? ""}\0${c.kernel}\0${c.features}`;
import { type BuiltVm, type DefaultVmOptions, vmWithDefaults } from "./defaults.ts";

/** The spec that names a `kernelTree` build in the matrix. */
export const TREE_KERNEL = "tree";

/** Options of {@linkcode runMatrix}: the VM's, plus the axes and how to run. */
export interface MatrixOptions extends Omit<DefaultVmOptions, "kernelVersion" | "features" | "command" | "onBuilt"> {
  /** Kernel version specs, each resolved through the lock (default: longterm; `tree` with `kernelTree`). */
  kernels?: readonly string[];
  /** Guest architectures, an axis of the matrix (default: just `arch`, the host's unless given). */
  arches?: readonly Arch[];
  /** Feature sets: `default`, or comma-separated features where `default` stands for the default ones (default: just `default`). */
  featureSets?: readonly string[];
  /** Runs of each kernel and feature set (default 1). */
  repeat?: number;
  /** VMs at once (default: from the CPUs and free memory). */
  parallel?: number;
  /** Each cell's time limit in ms (default 120 s). */
  timeoutMs?: number;
  /** Start no more cells after the first failure, and stop the running ones. */
  failFast?: boolean;
  /** Run only this slice of the cells. */
  shard?: Shard;
  /** Write the repro bundle of each failed cell into this directory. */
  artifacts?: string;
  /** Stop the whole run (Ctrl-C). */
  signal?: AbortSignal;
  /** Told as cells start, print and finish (the live status). */
  observer?: MatrixObserver;
  /** The clock (tests fix it). */
  now?: () => number;
}

/** What watches a matrix run. */
export interface MatrixObserver {
  started?(cell: CellPlan): void;
  output?(cell: CellPlan, chunk: Uint8Array): void;
  finished?(result: CellResult): void;
}

/** The cells of the whole matrix, and the ones this shard runs. */
export interface MatrixPlan {
  cells: CellPlan[];
  selected: CellPlan[];
}

/** The features of a feature set's name: `default` is the default features, and stands for them inside a list too. */
export function featureSetFeatures(name: string): string[] {
  const items = name.split(",").map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new InputError(`Empty feature set ${JSON.stringify(name)}`, "name features, e.g. --features default or --features virtio,console");
  const features = [...new Set(items.flatMap((f) => (f === "default" ? DEFAULT_FEATURES : [f])))];
  expandFeatures(features);
  return features;
}

/** The cells `o` describes, checked before anything slow. */
export function matrixPlan(o: MatrixOptions): MatrixPlan {
  const tree = o.kernelTree !== undefined;
  if (tree && o.kernels?.length && !(o.kernels.length === 1 && o.kernels[0] === TREE_KERNEL)) {
    throw new InputError("A matrix takes kernel versions or a local tree, not both", "leave out --kernels to test your tree, or --kernel-tree to test released kernels");
  }
  const kernels = tree ? [TREE_KERNEL] : [...new Set(o.kernels?.length ? o.kernels : ["longterm"])];
  if (!tree && kernels.includes(TREE_KERNEL)) throw new InputError(`The kernel spec "tree" needs a local source tree`, "pass --kernel-tree DIR");
  const featureSets = [...new Set(o.featureSets?.length ? o.featureSets : ["default"])];
  featureSets.forEach(featureSetFeatures);
  const repeat = o.repeat ?? 1;
  if (!(Number.isInteger(repeat) && repeat >= 1)) throw new InputError(`Invalid repeat count ${repeat}`, "pass a whole number of at least 1");
  const cells = matrixCells({ arches: o.arches, kernels, featureSets, repeat });
  return { cells, selected: shardCells(cells, o.shard) };
}

/** A kernel and feature set, built and ready to boot for its cells. */
async function buildTarget(cell: CellPlan, kernels: readonly string[], o: MatrixOptions & { log: Logger }): Promise<CellTarget> {
  const { kernel, features } = cell;
  let built: BuiltVm | undefined;
  const vm = await vmWithDefaults({
    ...o,
    ...(cell.arch ? { arch: cell.arch } : {}),
    ...(kernel === TREE_KERNEL ? {} : { kernelVersion: kernel }),
    // One kernel keeps the lock's usual entry; several get one each.
    kernelLockName: kernels.length > 1 && kernel !== TREE_KERNEL ? `kernel:${kernel}` : undefined,
    features: featureSetFeatures(features),
    onBuilt: (b) => (built = b),
  });
  const k = built?.kernel ?? {};
  return {
    vm,
    kernel: { spec: kernel, ...(k.version ? { version: k.version } : {}), ...(k.release ? { release: k.release } : {}), ...(k.configHash ? { configHash: k.configHash } : {}), ...(o.kernelTree ? { tree: o.kernelTree } : {}) },
    lock: built!.lock,
    config: built?.config === undefined ? undefined : await readFile(built.config, "utf8"),
  };
}

/** Refuse what cannot run side by side, before the builds. */
function checkParallel(o: MatrixOptions, parallel: number): void {
  if (!(Number.isInteger(parallel) && parallel >= 1)) throw new InputError(`Invalid parallel count ${parallel}`, "pass a whole number of at least 1");
  const writable = (o.disks ?? []).filter((d) => !d.readonly);
  if (parallel > 1 && writable.length) {
    throw new VmSpecError(`Cells running side by side cannot share the writable disk ${writable[0].path}`, "make it read-only (--disk PATH:ro), or run one cell at a time (--parallel 1)");
  }
}

/** Run `command` in every cell of this shard; resolves to the report (never throws for a failing cell). */
export async function runMatrix(command: readonly string[], o: MatrixOptions = {}): Promise<TestReport> {
  if (!command.length) throw new InputError("A test matrix needs a command to run in each cell", "pass one after --, e.g. `microforge test --kernels 6.1,6.12 -- uname -r`");
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  const now = o.now ?? Date.now;
  const { cells, selected } = matrixPlan(o);
  const parallel = o.parallel ?? defaultParallel(parseMemory(o.memory ?? "512M") * 1024 * 1024);
  checkParallel(o, parallel);
  const startedAt = new Date(now()).toISOString();
  const start = now();
  if (o.artifacts !== undefined) await mkdir(o.artifacts, { recursive: true });
  // The accelerator once per architecture, so a fallback to TCG is said once, not per kernel.
  const machines = new Map<string, { qemu: string; accel: "kvm" | "tcg" }>();
  for (const arch of new Set(selected.map((c) => c.arch ?? o.arch ?? hostArch()))) {
    const qemu = arch === (o.arch ?? hostArch()) && o.qemu ? o.qemu : await findQemuOrThrow({ env: o.env, arch });
    const accel = await chooseAccel(o.accel ?? (((o.env ?? process.env).MICROFORGE_ACCEL as AccelChoice | undefined) || "auto"), { qemu, log, arch });
    machines.set(arch, { qemu, accel });
  }
  // Build every kernel this shard needs first: builds use all cores, and a broken one fails before any VM starts.
  const kernels = [...new Set(cells.map((c) => c.kernel))];
  const targets = new Map<string, CellTarget>();
  for (const c of selected) {
    const key = targetKey(c);
    if (targets.has(key)) continue;
    log.step(`kernel ${c.kernel}${c.arch ? ` for ${c.arch}` : ""} with features ${c.features}`);
    targets.set(key, await buildTarget(c, kernels, { ...o, ...machines.get(c.arch ?? o.arch ?? hostArch())!, log }));
  }
  log.step(`${selected.length} of ${cells.length} cells, ${parallel} at a time`);
  const timeoutMs = o.timeoutMs ?? 120_000;
  const failed = (r: CellResult) => r.status !== "passed" && r.status !== "skipped";
  const results = await runPool(selected, async (cell, signal) => {
    o.observer?.started?.(cell);
    const r = await runCell(cell, targets.get(targetKey(cell))!, command, {
      timeoutMs,
      signal,
      artifacts: o.artifacts,
      onOutput: (chunk) => o.observer?.output?.(cell, chunk),
      now,
    });
    o.observer?.finished?.(r);
    return r;
  }, { parallel, failFast: o.failFast ? failed : undefined, signal: o.signal });
  const done: CellResult[] = results.map((r, i) => r ?? notRun(selected[i], targets.get(targetKey(selected[i]))!));
  done.filter((_, i) => !results[i]).forEach((r) => o.observer?.finished?.(r));
  return {
    format: TEST_REPORT_FORMAT,
    command: [...command],
    total: cells.length,
    ...(o.shard ? { shards: [o.shard] } : {}),
    startedAt,
    durationMs: now() - start,
    cells: done,
    summary: summarize(done),
  };
}

/** The result of a cell that never started (after a fail-fast stop, or an interrupt). */
function notRun(cell: CellPlan, target: CellTarget): CellResult {
  return {
    id: cell.id,
    index: cell.index,
    ...(cell.arch ? { arch: cell.arch } : {}),
    kernel: target.kernel,
    features: cell.features,
    repeat: cell.repeat,
    status: "skipped",
    exitCode: 0,
    reason: "not run: another cell failed (--fail-fast) or the run was interrupted",
    durationMs: 0,
    stdoutTail: "",
    stderrTail: "",
  };
}
