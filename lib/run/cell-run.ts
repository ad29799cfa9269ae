/**
 * One cell of a test matrix: the command in a fresh VM, its output kept
 * (not streamed), judged by its KTAP/TAP subtests when it printed any, else
 * by its exit status; a timeout, a panic or a VM that could not run are
 * failures with the reason and the console's tail. A failed cell can leave
 * its repro bundle behind.
 */
import { join } from "node:path";
import { BootTimeoutError, GuestError, MicroforgeError, outputTail } from "../util/errors.ts";
import type { LockFile } from "../sources/lock-file.ts";
import type { MicroVM } from "../vm/microvm.ts";
import { withFreeHostPorts } from "../vm/host-ports.ts";
import { BundleRecorder } from "./bundle-recorder.ts";
import { writeBundle } from "./bundle.ts";
import type { CellPlan } from "./cells.ts";
import { execInVm, type ExecResult, type GuestFailure } from "./exec.ts";
import { parseTap } from "./ktap.ts";
import type { CellResult, CellStatus } from "./test-report.ts";

/** The VM a cell boots, and what the report and a bundle say about its kernel. */
export interface CellTarget {
  vm: MicroVM;
  kernel: CellResult["kernel"];
  /** The lock entries and the kernel's `.config` text, for a bundle. */
  lock: LockFile;
  config?: string;
}

/** Options of {@linkcode runCell}. */
export interface CellRunOptions {
  timeoutMs: number;
  /** Stops the VM (fail-fast, Ctrl-C): the cell is then `skipped`. */
  signal?: AbortSignal;
  /** Write the bundle of a failed cell into this directory, as `<cell id made safe>`. */
  artifacts?: string;
  /** Each chunk of the command's stdout and stderr, as it comes (the live table's last line). */
  onOutput?: (chunk: Uint8Array) => void;
  /** The clock (tests fix it). */
  now?: () => number;
}

/** Lines and bytes a report keeps of each stream. */
const TAIL_LINES = 40;
const TAIL_BYTES = 8 << 10;

/** The last lines of `bytes` as text, at most {@linkcode TAIL_BYTES}. */
export function textTail(bytes: Uint8Array | string): string {
  const text = typeof bytes === "string" ? bytes : new TextDecoder().decode(bytes.length > TAIL_BYTES * 4 ? bytes.subarray(bytes.length - TAIL_BYTES * 4) : bytes);
  const lines = outputTail(text, TAIL_LINES);
  return lines.length > TAIL_BYTES ? lines.slice(lines.length - TAIL_BYTES) : lines;
}

/** A cell id as a folder name: `6.1/default#1` → `6.1-default-1`. */
export function cellFolder(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "cell";
}

/** The status, exit code and reason of a cell that ran to an exit status. */
function judge(r: ExecResult, stdout: string): Pick<CellResult, "status" | "exitCode" | "reason" | "subtests"> {
  const subtests = parseTap(stdout);
  const failed = subtests?.filter((t) => !t.ok) ?? [];
  const status: CellStatus = r.exitCode === 0 && !failed.length ? "passed" : "failed";
  const reasons = [
    ...(failed.length ? [`${failed.length} of ${subtests!.length} subtests failed: ${failed.slice(0, 3).map((t) => t.name).join(", ")}${failed.length > 3 ? ", …" : ""}`] : []),
    ...(r.exitCode !== 0 ? [`exit status ${r.exitCode}`] : []),
  ];
  return { status, exitCode: r.exitCode, ...(reasons.length ? { reason: reasons.join("; ") } : {}), ...(subtests ? { subtests } : {}) };
}

/** The status of a cell whose VM failed: timed out, panicked (with the decoded trace), or could not run. */
function failure(err: MicroforgeError): Pick<CellResult, "status" | "exitCode" | "reason" | "consoleTail" | "decodedPanic"> {
  const reason = err.summary.split("\n")[0];
  if (err instanceof BootTimeoutError) return { status: "timeout", exitCode: 124, reason, consoleTail: textTail(err.consoleTail) };
  if (err instanceof GuestError) {
    const g = err as Partial<GuestFailure>;
    return {
      status: /panicked/.test(reason) ? "panic" : "error",
      exitCode: 255,
      reason,
      consoleTail: textTail(g.consoleTail ?? err.summary),
      ...(g.decodedTrace ? { decodedPanic: g.decodedTrace } : {}),
    };
  }
  // QEMU could not start, or something else of ours: its message is the evidence.
  return { status: "error", exitCode: err.exitCode, reason, consoleTail: textTail(err.message) };
}

/** Run `command` for `plan` in a fresh VM of `target`. Never throws for what the guest did; only for our own bugs. */
export async function runCell(plan: CellPlan, target: CellTarget, command: readonly string[], o: CellRunOptions): Promise<CellResult> {
  const now = o.now ?? Date.now;
  const rec = new BundleRecorder();
  const pass = (chunk: Uint8Array) => void o.onOutput?.(chunk);
  const start = now();
  let outcome: Pick<CellResult, "status" | "exitCode" | "reason" | "subtests" | "consoleTail" | "decodedPanic">;
  let phases: CellResult["phases"];
  let error: MicroforgeError | undefined;
  const keepConsole = o.artifacts !== undefined;
  // Cells run side by side: each forwards its own free host ports.
  const { vm, hostfwd } = await withFreeHostPorts(target.vm);
  try {
    const r = await execInVm(vm, command, {
      stdout: rec.sink("stdout", pass),
      stderr: rec.sink("stderr", pass),
      // A bundle keeps the whole console log, so the kernel is not quiet then.
      ...(keepConsole ? { console: rec.console(), quietKernel: false } : { quietKernel: true }),
      timeoutMs: o.timeoutMs,
      signal: o.signal,
    });
    phases = r.phases.filter((p) => p.depth === 0).map(({ name, startMs, endMs }) => ({ name, startMs, endMs }));
    if (o.signal?.aborted) outcome = { status: "skipped", exitCode: r.exitCode, reason: "stopped: another cell failed (--fail-fast) or the run was interrupted" };
    else {
      outcome = judge(r, new TextDecoder().decode(rec.get().stdout));
      if (outcome.status !== "passed") outcome.consoleTail = textTail(r.console);
    }
  } catch (err) {
    if (!(err instanceof MicroforgeError)) throw err;
    error = err;
    outcome = failure(err);
  }
  const kept = rec.get();
  const result: CellResult = {
    id: plan.id,
    index: plan.index,
    ...(plan.arch ? { arch: plan.arch } : {}),
    kernel: target.kernel,
    features: plan.features,
    repeat: plan.repeat,
    ...outcome,
    durationMs: now() - start,
    ...(phases ? { phases } : {}),
    stdoutTail: textTail(kept.stdout),
    stderrTail: textTail(kept.stderr),
    ...(hostfwd.length ? { hostfwd } : {}),
  };
  if (o.artifacts !== undefined && result.status !== "passed" && result.status !== "skipped") {
    const dir = join(o.artifacts, cellFolder(plan.id));
    try {
      await writeBundle(dir, {
        vm,
        command,
        exitCode: result.exitCode,
        error: error?.message,
        decodedPanic: (error as { decodedTrace?: string } | undefined)?.decodedTrace,
        console: kept.console,
        stdout: kept.stdout,
        stderr: kept.stderr,
        config: target.config,
        lock: target.lock,
        kernel: target.kernel,
        run: { quietKernel: false, timeoutMs: o.timeoutMs },
      });
      result.bundle = dir;
    } catch (err) {
      // A bundle that cannot be written must not hide the cell's own result.
      result.reason = `${result.reason ?? "failed"}; no bundle: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
    }
  }
  return result;
}
