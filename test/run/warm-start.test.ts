/**
 * The warm start's plan: which command lines start a VM early, when a plan
 * is trusted, and that an early VM nobody takes is stopped. The "VM" is a
 * real process (`sleep`), so the kill paths are the real ones; the boots
 * themselves are in test/e2e/warm-start.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planKey, warmStart } from "../../lib/run/warm-start.ts";
import type { LaunchedVm } from "../../lib/run/vm-process.ts";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function fixture() {
  const cache = await mkdtemp(join(tmpdir(), "mf-warm-"));
  const kernel = join(cache, "vmlinux");
  await writeFile(kernel, "kernel bytes");
  const env = { MICROFORGE_CACHE: cache, PATH: process.env.PATH };
  return { cache, kernel, env };
}

/** A "VM" argv: a real process that would run for 30 s, naming the kernel like QEMU's. */
const sleeper = (kernel: string) => (ports: { socket: string }[]) => ["/bin/sh", "-c", "sleep 30", "sh", "-kernel", kernel, ports[0].socket];

test("only a scripted run (run … -- CMD, no --help) gets a warm start", async () => {
  const { env } = await fixture();
  for (const args of [["emit", "--", "true"], ["run"], ["run", "--"], ["run", "--help", "--", "true"], ["test", "--", "true"]]) {
    assert.equal(await warmStart(args, env, "/"), undefined, args.join(" "));
  }
  assert.ok(await warmStart(["run", "--", "true"], env, "/"));
  assert.equal(await warmStart(["run", "--", "true"], { ...env, MICROFORGE_WARM_START: "0" }, "/"), undefined);
});

test("the plan key changes with the args, the directory, and MICROFORGE_ variables, not with other variables", () => {
  const base = planKey(["run", "--", "true"], { PATH: "/bin" }, "/a");
  assert.notEqual(planKey(["run", "--", "false"], { PATH: "/bin" }, "/a"), base);
  assert.notEqual(planKey(["run", "--", "true"], { PATH: "/bin" }, "/b"), base);
  assert.notEqual(planKey(["run", "--", "true"], { PATH: "/bin", MICROFORGE_MEMORY: "1G" }, "/a"), base);
  assert.equal(planKey(["run", "--", "true"], { PATH: "/bin", TERM_PROGRAM: "x" }, "/a"), base);
});

test("a remembered argv starts early and is taken when it is the run's; a changed file means no early start", async () => {
  const { cache, kernel, env } = await fixture();
  const args = ["run", "--", "true"];
  // First run: nothing remembered; the run starts its own VM and remembers it.
  const first = (await warmStart(args, env, "/"))!;
  assert.equal(await first.take(sleeper(kernel)), undefined);
  const { launchVm, closeLaunched } = await import("../../lib/run/vm-process.ts");
  const own = await launchVm(sleeper(kernel));
  await first.remember(own);
  own.qemu.kill();
  await own.qemu.exited;
  await closeLaunched(own);
  assert.equal((await readdir(join(cache, "plans"))).length, 1);
  // Second run: the same argv (in its own socket directory) is started at once and taken.
  const second = (await warmStart(args, env, "/"))!;
  const taken = (await second.take(sleeper(kernel))) as LaunchedVm;
  assert.ok(taken, "the early VM is taken");
  assert.ok(alive(taken.qemu.child.pid!));
  await second.abandon();
  assert.ok(alive(taken.qemu.child.pid!), "a taken VM is the run's: abandon leaves it");
  taken.qemu.kill();
  await taken.qemu.exited;
  await closeLaunched(taken);
  // The kernel changes (a rebuild writes it): the plan is not trusted, nothing starts early.
  await new Promise((r) => setTimeout(r, 5));
  await writeFile(kernel, "other kernel bytes");
  const third = (await warmStart(args, env, "/"))!;
  assert.equal(await third.take(sleeper(kernel)), undefined);
});

test("an early VM whose argv is not the run's is killed and its directory removed; after two such runs in a row the command line is not started early", async () => {
  const { cache, kernel, env } = await fixture();
  const args = ["run", "--", "true"];
  const { launchVm, closeLaunched } = await import("../../lib/run/vm-process.ts");
  const own = await launchVm(sleeper(kernel));
  await (await warmStart(args, env, "/"))!.remember(own);
  own.qemu.kill();
  await closeLaunched(own);
  const plan = async () => JSON.parse(await readFile(join(cache, "plans", (await readdir(join(cache, "plans")))[0]), "utf8"));
  /** One run that works out `argvFor`: whether it found an early VM to take, and whether one was started at all. */
  const runWith = async (argvFor: (ports: { socket: string }[]) => string[]) => {
    const w = (await warmStart(args, env, "/"))!;
    let earlyDir: string | undefined;
    const taken = await w.take((ports) => {
      earlyDir = ports[0].socket.slice(0, ports[0].socket.lastIndexOf("/"));
      return argvFor(ports);
    });
    if (earlyDir && !taken) await assert.rejects(stat(earlyDir), "the early VM's socket directory is gone");
    const vm = taken ?? (await launchVm(argvFor));
    await w.remember(vm);
    vm.qemu.kill();
    await closeLaunched(vm);
    return { started: earlyDir !== undefined, taken: Boolean(taken) };
  };
  // The run works out another VM (a new default, say): the early one goes, and one miss is counted.
  const other = (ports: { socket: string }[]) => [...sleeper(kernel)(ports), "-m", "1G"];
  assert.deepEqual(await runWith(other), { started: true, taken: false });
  assert.equal((await plan()).misses, 1);
  // The next run starts the new argv early and takes it: the misses end.
  assert.deepEqual(await runWith(other), { started: true, taken: true });
  assert.equal((await plan()).misses, undefined);
  // An argv that changes every run (a per-run port): two misses in a row, then no early start.
  let port = 5000;
  const changing = (ports: { socket: string }[]) => [...sleeper(kernel)(ports), "-p", String(port++)];
  assert.deepEqual(await runWith(changing), { started: true, taken: false });
  assert.deepEqual(await runWith(changing), { started: true, taken: false });
  assert.equal((await plan()).misses, 2);
  assert.deepEqual(await runWith(changing), { started: false, taken: false });
});

test("an early VM the run never takes (it failed first) is killed by abandon", async () => {
  const { kernel, env } = await fixture();
  const args = ["run", "--", "true"];
  const { launchVm, closeLaunched } = await import("../../lib/run/vm-process.ts");
  const own = await launchVm(sleeper(kernel));
  await (await warmStart(args, env, "/"))!.remember(own);
  own.qemu.kill();
  await closeLaunched(own);
  const w = (await warmStart(args, env, "/"))!;
  // The early process: the sleeper naming this test's kernel.
  const pids = (await readdir("/proc")).filter((p) => /^\d+$/.test(p));
  const early: number[] = [];
  for (const p of pids) {
    const cmd = await readFile(`/proc/${p}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes(kernel) && cmd.includes("sleep 30") && !cmd.startsWith("setpriv")) early.push(Number(p));
  }
  assert.ok(early.length >= 1, "the early VM runs");
  await w.abandon();
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(early.every((p) => !alive(p)), "no early VM is left");
});
