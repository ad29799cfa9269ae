/**
 * Snapshot experiment (issue 18, item 6): boot `microforge run`'s VM once
 * until its /init waits for the command on the cmd port, save it with QMP
 * (`stop`, `migrate` to a file), and start later runs from that file with
 * `-incoming`, through the same scripted-run code as `microforge run`
 * (`execInVm`). Timed against a cold boot of the VM `emit -- true` prints
 * and against a cold scripted run; then checks that exit codes, stdout vs
 * stderr, stdin, the timeout, the guest clock and its randomness still hold.
 * Target to adopt it: ≥ 1.5× faster (ratio ≤ 0.67) with the checks holding.
 *
 *   npx tsx bench/snapshot.ts [--rounds 10 --quick]
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { minimist } from "zx";
import { parseFlags } from "../lib/cli/command.ts";
import { emitCommand } from "../lib/cli/emit.ts";
import { vmOptions } from "../lib/cli/vm-flags.ts";
import { defaultInitVars } from "../lib/initramfs/rootfs.ts";
import { vmWithDefaults } from "../lib/recipe/defaults.ts";
import { execInVm, type ExecResult } from "../lib/run/exec.ts";
import { BootTimeoutError, CommandError } from "../lib/util/errors.ts";
import type { Logger } from "../lib/util/log.ts";
import { spawnTracked } from "../lib/util/process.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { shellQuote } from "../lib/util/shell-quote.ts";
import type { MicroVM, Port } from "../lib/vm/microvm.ts";
import { bootOnce } from "./lib/boot-once.ts";
import { type BenchOptions, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, formatMs, renderResult, type Row } from "./lib/report.ts";
import { alternate, ratio, summarize, times } from "./lib/stats.ts";

const silent: Logger = { step: () => undefined, warn: () => undefined };
const TIMEOUT_MS = 60_000;
/** The ports `execInVm` gives a scripted run, in its order (chardevs port0..port4). */
const PORTS = ["cmd", "stdin", "stdout", "stderr", "status"] as const;

/** A minimal QMP client: one command at a time, events skipped. */
class Qmp {
  #socket: Socket;
  #buf = "";
  #waiting: ((reply: Record<string, unknown>) => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding("utf8").on("data", (d: string) => {
      const lines = (this.#buf + d).split("\n");
      this.#buf = lines.pop() ?? "";
      for (const line of lines.filter((l) => l.trim())) {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if ("return" in msg || "error" in msg) this.#waiting.shift()?.(msg);
      }
    });
  }

  /** Connect to QEMU's `-qmp unix:PATH,server=on,wait=off` (retrying until QEMU made it) and leave capabilities mode. */
  static async connect(path: string, timeoutMs: number): Promise<Qmp> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const socket = await new Promise<Socket | undefined>((res) => {
        const s = connect(path).once("connect", () => res(s)).once("error", () => res(undefined));
      });
      if (socket) {
        const qmp = new Qmp(socket);
        await qmp.execute("qmp_capabilities");
        return qmp;
      }
      if (Date.now() > end) throw new Error(`Cannot connect to QMP at ${path} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Run `command`; resolves to its `return`, throws its `error`. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((res, rej) => {
      this.#waiting.push((msg) => (msg.error ? rej(new Error(`QMP ${command} failed: ${JSON.stringify(msg.error)}`)) : res(msg.return)));
      this.#socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) }) + "\n");
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What saving the snapshot took. */
export interface Snapshot {
  file: string;
  bytes: number;
  /** Spawn → the guest's /init holds the cmd port open (ready for a command). */
  readyMs: number;
  /** `migrate` → `query-migrate` says completed. */
  saveMs: number;
}

/** Listen on the scripted run's port sockets and keep what QEMU connects (nothing is sent: /init waits for its command). */
async function holdPorts(dir: string): Promise<{ ports: Port[]; servers: Server[]; sockets: Socket[] }> {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  const ports: Port[] = [];
  for (const name of PORTS) {
    const path = join(dir, name);
    const server = createServer((s) => void sockets.push(s.on("error", () => undefined)));
    await new Promise<void>((res, rej) => server.once("error", rej).listen(path, res));
    servers.push(server);
    ports.push({ name: `microforge.${name}`, socket: path });
  }
  return { ports, servers, sockets };
}

/**
 * Boot `vm` as a scripted run boots it, wait until /init has opened the cmd
 * port (QMP `query-chardev`: port0's frontend is open), then migrate the
 * VM to `file` and quit.
 */
export async function saveSnapshot(vm: MicroVM, file: string, parent: string): Promise<Snapshot> {
  const dir = await mkdtemp(join(parent, "save-"));
  const { ports, servers, sockets } = await holdPorts(dir);
  const qmpPath = join(dir, "qmp");
  const argv = vm.with({ ports, serial: "stdio", quiet: true, extraArgs: [...(vm.spec.extraArgs ?? []), "-qmp", `unix:${qmpPath},server=on,wait=off`] }).toArgv();
  const start = performance.now();
  const qemu = spawnTracked(argv, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  qemu.child.stdout!.setEncoding("utf8").on("data", (d: string) => (output = (output + d).slice(-4000)));
  qemu.child.stderr!.setEncoding("utf8").on("data", (d: string) => (output = (output + d).slice(-4000)));
  let qmp: Qmp | undefined;
  try {
    qmp = await Qmp.connect(qmpPath, 10_000);
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const chardevs = (await qmp.execute("query-chardev")) as { label: string; "frontend-open": boolean }[];
      if (chardevs.find((c) => c.label === "port0")?.["frontend-open"]) break;
      if (Date.now() > deadline) throw new Error(`The guest did not open its cmd port within ${TIMEOUT_MS / 1000} s:\n${output}`);
      await sleep(20);
    }
    const readyMs = performance.now() - start;
    // The default limit (128 MiB/s in QEMU 7.2) would throttle the save.
    await qmp.execute("migrate-set-parameters", { "max-bandwidth": 10 * 2 ** 30 });
    const t = performance.now();
    // A live migration, no `stop` first: the state records a running VM, so
    // `-incoming` starts it by itself (a stopped one would stay paused until
    // a QMP `cont`). The guest is idle in a read, so it converges at once.
    await qmp.execute("migrate", { uri: `exec:cat > ${shellQuote(file)}` });
    for (;;) {
      const m = (await qmp.execute("query-migrate")) as { status?: string; "error-desc"?: string };
      if (m.status === "completed") break;
      if (m.status === "failed" || m.status === "cancelled") throw new Error(`Saving the VM failed: ${m["error-desc"] ?? m.status}`);
      await sleep(5);
    }
    const saveMs = performance.now() - t;
    await qmp.execute("quit").catch(() => undefined);
    await qemu.exited;
    return { file, bytes: (await stat(file)).size, readyMs, saveMs };
  } finally {
    qmp?.close();
    qemu.kill();
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
  }
}

/** `vm` started from the state in `file`: QEMU reads it through a shell and starts the guest once it is loaded (no -S). */
const restoring = (vm: MicroVM, file: string) => vm.with({ extraArgs: [...(vm.spec.extraArgs ?? []), "-incoming", `exec:cat ${shellQuote(file)}`] });

/** A scripted run of `command` in `vm`, its stdout and stderr collected. */
async function scripted(vm: MicroVM, command: string[], o: { stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult & { stdout: string; stderr: string }> {
  let [stdout, stderr] = ["", ""];
  const dec = new TextDecoder();
  const r = await execInVm(vm, command, { stdin: o.stdin ?? null, timeoutMs: o.timeoutMs ?? TIMEOUT_MS, stdout: (c) => void (stdout += dec.decode(c)), stderr: (c) => void (stderr += dec.decode(c)) });
  return { ...r, stdout, stderr };
}

/** Live QEMU processes whose command line mentions `needle` (the snapshot file). */
async function qemusWith(needle: string): Promise<number[]> {
  const pids = (await readdir("/proc")).filter((n) => /^\d+$/.test(n));
  const found: number[] = [];
  for (const pid of pids) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    const state = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (cmd.includes("qemu-system") && cmd.includes(needle) && !/\) Z /.test(state)) found.push(Number(pid));
  }
  return found;
}

/** One correctness check on the snapshot side. */
interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** The checks on `plain` restored from `file`: exit codes, streams, stdin, the timeout, the guest clock (against `plain` booted cold), randomness, a damaged state. */
async function checkSnapshot(plain: MicroVM, file: string): Promise<Check[]> {
  const restored = restoring(plain, file);
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string) => void checks.push({ name, ok, detail });
  for (const [cmd, want] of [[["true"], 0], [["false"], 1], [["sh", "-c", "exit 5"], 5]] as const) {
    const r = await scripted(restored, [...cmd]);
    add(`\`${cmd.join(" ")}\` → ${want}`, r.exitCode === want, `status ${r.exitCode}`);
  }
  const streams = await scripted(restored, ["sh", "-c", "echo out; echo err >&2; exit 3"]);
  add("stdout and stderr apart", streams.stdout === "out\n" && streams.stderr === "err\n" && streams.exitCode === 3, `stdout ${JSON.stringify(streams.stdout)}, stderr ${JSON.stringify(streams.stderr)}, status ${streams.exitCode}`);
  const stdin = await scripted(restored, ["cat"], { stdin: "hello\n" });
  add("stdin reaches the command", stdin.stdout === "hello\n", `stdout ${JSON.stringify(stdin.stdout)}`);
  const t = performance.now();
  const timeout = await scripted(restored, ["sleep", "30"], { timeoutMs: 3000 }).then((r) => `finished with status ${r.exitCode}`, (e) => e);
  const waited = performance.now() - t;
  const left = await qemusWith(file);
  add("a sleeping command times out (QEMU killed)", timeout instanceof BootTimeoutError && waited < 6000 && !left.length, `${timeout instanceof Error ? timeout.constructor.name : timeout} after ${(waited / 1000).toFixed(1)} s; QEMU left: ${left.length ? left.join(", ") : "none"}`);
  const clock = async (vm: MicroVM) => Number((await scripted(vm, ["date", "+%s"])).stdout) - Date.now() / 1000;
  const [snapSkew, coldSkew] = [await clock(restored), await clock(plain)];
  add("guest clock is the host's (±2 s)", Math.abs(snapSkew) <= 2, `snapshot guest ${snapSkew.toFixed(0)} s off the host, cold guest ${coldSkew.toFixed(0)} s`);
  const uuid = async () => (await scripted(restored, ["cat", "/proc/sys/kernel/random/uuid"])).stdout.trim();
  const [a, b] = [await uuid(), await uuid()];
  add("two restores draw different random numbers", a !== b && a !== "", `${a} / ${b}`);
  // A stale or damaged state must fail at once and visibly (so `run` could fall back to a cold boot), not hang or pass.
  const cut = `${file}.truncated`;
  const state = await readFile(file);
  await writeFile(cut, state.subarray(0, state.length >> 1));
  const t2 = performance.now();
  const broken = await scripted(restoring(plain, cut), ["true"], { timeoutMs: 20_000 }).then((r) => `status ${r.exitCode}`, (e) => e);
  const brokenMs = performance.now() - t2;
  const why = broken instanceof CommandError ? /load of migration failed[^\n]*/.exec(broken.message)?.[0] ?? "QEMU failed" : undefined;
  add("a truncated state fails fast with an error", broken instanceof CommandError && brokenMs < 10_000, `${broken instanceof Error ? `${broken.constructor.name}: ${why}` : broken} after ${(brokenMs / 1000).toFixed(1)} s`);
  await rm(cut, { force: true });
  return checks;
}

/** The checks `run` must keep to adopt snapshots; the others are caveats to fix when adopting. */
const MUST_HOLD = /→|stdout and stderr|stdin|times out/;

/** Time `run -- true` restored from a snapshot against a cold boot, and check what still holds. */
export async function run(opts: BenchOptions = {}): Promise<BenchResult> {
  const env = process.env;
  useBenchCache(env);
  const rounds = opts.rounds ?? (opts.quick ? 3 : 10);
  const progress = opts.progress ?? (() => undefined);
  const { banner } = defaultInitVars();
  // `run` and `emit` share the VM flags; emit bakes the command into /init, run boots the default image.
  const flags = vmOptions(parseFlags(emitCommand, []));
  const emitted = (await vmWithDefaults({ ...flags, command: ["true"], log: silent, quiet: true, env })).with({ quiet: true }).toArgv();
  const runVm = await vmWithDefaults({ ...flags, log: silent, quiet: true, env });
  const dir = await mkdtemp(join(tmpdir(), "mf-snapshot-"));
  try {
    const file = join(dir, "vm.state");
    progress("snapshot: booting once and saving the VM");
    const snap = await saveSnapshot(runVm, file, dir);
    // init_on_free=1: pages the kernel freed (the initramfs image once unpacked) are zeroed, and zero pages cost the state almost nothing.
    const zeroedVm = runVm.with({ append: [...(runVm.spec.append ?? []), "init_on_free=1"] });
    const zeroedFile = join(dir, "vm-zeroed.state");
    progress("snapshot: saving the VM booted with init_on_free=1");
    const zeroed = await saveSnapshot(zeroedVm, zeroedFile, dir);
    const ok = (side: string) => (r: ExecResult) => {
      if (r.exitCode !== 0) throw new Error(`The ${side} run of \`true\` ended with status ${r.exitCode}:\n${r.console}`);
      return r;
    };
    const scriptedTrue = (vm: MicroVM, side: string) => async () => ok(side)(await execInVm(vm, ["true"], { stdin: null, timeoutMs: TIMEOUT_MS }));
    const samples = await alternate({
      cold: async () => {
        const o = await bootOnce(emitted, { banner, timeoutMs: TIMEOUT_MS });
        if (o.hung || o.exitCode !== 0) throw new Error(`Cold boot failed (${o.hung ? "hang" : `status ${o.exitCode}`}):\n${o.tail}`);
        return o;
      },
      coldRun: scriptedTrue(runVm, "cold scripted"),
      snapshot: scriptedTrue(restoring(runVm, file), "snapshot"),
      zeroed: scriptedTrue(restoring(zeroedVm, zeroedFile), "zeroed snapshot"),
    }, { rounds, warmup: 1, onSample: (side, i, s) => progress(`snapshot ${side} ${i + 1}/${rounds}: ${s.ms.toFixed(0)} ms`) });
    const [cold, coldRun, snapshot, zeroedRun] = [times(samples.cold), times(samples.coldRun), times(samples.snapshot), times(samples.zeroed)].map(summarize);
    progress("snapshot: correctness checks");
    const checks = await checkSnapshot(runVm, file);
    const mustHold = checks.filter((c) => MUST_HOLD.test(c.name));
    const held = mustHold.every((c) => c.ok);
    const r = ratio(snapshot.median, cold.median);
    const fast = r <= 1 / 1.5;
    const left = await qemusWith(dir);
    const caveats = checks.filter((c) => !c.ok && !MUST_HOLD.test(c.name)).map((c) => c.name);
    const decision = fast && held
      ? `Decision: adopt, opt-in first: ${(1 / r).toFixed(1)}× faster than a cold boot, and exit codes, streams, stdin and the timeout hold${caveats.length ? `; to fix first: ${caveats.join(", ")}` : ""}.`
      : `Decision: do not adopt: ${[fast ? "" : `only ${(1 / r).toFixed(2)}× faster (needs 1.5×)`, held ? "" : `fails: ${mustHold.filter((c) => !c.ok).map((c) => c.name).join(", ")}`].filter(Boolean).join("; ")}.`;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    const rows: Row[] = [
      { benchmark: "run -- true from a snapshot vs cold boot", ours: formatMs(snapshot), theirs: formatMs(cold), ratio: r, target: "≥ 1.5× faster to adopt", met: fast && held },
      { benchmark: "run -- true from a snapshot vs cold scripted run", ours: formatMs(snapshot), theirs: formatMs(coldRun), ratio: ratio(snapshot.median, coldRun.median), target: "" },
      { benchmark: "run -- true, snapshot with init_on_free=1 vs plain snapshot", ours: formatMs(zeroedRun), theirs: formatMs(snapshot), ratio: ratio(zeroedRun.median, snapshot.median), target: "" },
      { benchmark: "snapshot correctness (exit codes, streams, stdin, timeout)", ours: `${mustHold.filter((c) => c.ok).length}/${mustHold.length} hold`, theirs: "", target: "all hold", met: held },
    ];
    const notes = [
      `"cold boot": the QEMU command \`emit -- true\` prints (/init runs \`true\` on the console and powers off), spawn → exit. "cold scripted run": execInVm (what \`microforge run -- true\` does, in-process) on run's default VM. "snapshot": the same execInVm with \`-incoming exec:cat FILE\` added. Sides alternate after a warm-up.`,
      `Snapshot: ${mib(snap.bytes)} for ${runVm.memoryMiB} MiB of guest RAM; boot to ready ${snap.readyMs.toFixed(0)} ms, save (migrate → completed) ${snap.saveMs.toFixed(0)} ms. With init_on_free=1: ${mib(zeroed.bytes)}, boot to ready ${zeroed.readyMs.toFixed(0)} ms (the kernel zeroes what it frees), save ${zeroed.saveMs.toFixed(0)} ms.`,
      ...checks.map((c) => `Check ${c.ok ? "holds" : "FAILS"}: ${c.name} (${c.detail}).`),
      `QEMU processes left behind: ${left.length ? left.join(", ") : "none"}.`,
      decision,
    ];
    return {
      name: "snapshot",
      title: `Snapshot experiment: run -- true restored from a saved VM vs cold boot (${rounds} rounds, ${(runVm.spec.accel ?? "tcg").toUpperCase()})`,
      timestamp: new Date().toISOString(),
      quick: !!opts.quick,
      rows,
      notes,
      data: { rounds, accel: runVm.spec.accel, cold, coldRun, snapshot, zeroed: zeroedRun, save: { plain: snap, zeroed }, checks, emitted, restored: restoring(runVm, file).toArgv() },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["rounds"], boolean: ["quick"] });
  const result = await run({ quick: args.quick, rounds: args.rounds ? Number(args.rounds) : undefined, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
