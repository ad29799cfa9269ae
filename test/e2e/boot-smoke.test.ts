/**
 * A smoke boot on both runtimes, in-process: build (or reuse) the default
 * kernel from Debian's linux-source-6.1 and the default initramfs, boot
 * them under TCG, run a command. (Many boots in a row: `npm run soak`, and
 * test/reliability/soak.test.ts in CI.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildInitramfs } from "../../lib/initramfs/build.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { type ExecOptions, execInVm } from "../../lib/run/exec.ts";
import { defaultKernel } from "../../lib/recipe/defaults.ts";
import { prepareVm } from "../../lib/vm/prepare.ts";
import { onDeno, tempDir, testCache } from "../helpers.ts";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { MicroVM } from "../../lib/vm/microvm.ts";
import { runMatrix } from "../../lib/recipe/matrix.ts";

const env = { ...process.env, MICROFORGE_CACHE: testCache };
let vm: MicroVM;

async function capture(command: string[], options: ExecOptions = {}) {
  let out = "";
  const r = await execInVm(vm, command, { stdout: (c) => (out += new TextDecoder().decode(c)), stderr: () => undefined, timeoutMs: 60_000, ...options });
  return { ...r, out };
}

test(`smoke boot on ${onDeno ? "Deno" : "Node"}: the default kernel runs a command`, { timeout: 30 * 60_000 }, async () => {
  const log = memoryLogger();
  const kernel = await defaultKernel({ kernelSource: "debian", kernelVersion: "6.1", env, log, quiet: true });
  const rd = await buildInitramfs({ busybox: "host", env, log });
  vm = await prepareVm({ kernel, initrd: rd, accel: "tcg", env, log });
  // Scripted runs boot the kernel `quiet`: only /init's banner marks the boot.
  const r = await capture(["uname", "-r"]);
  assert.equal(r.exitCode, 0);
  assert.equal(r.out, `${kernel.version}\n`, "uname -r is the version the build reported");
  assert.equal(r.timings.runInitMs, undefined, JSON.stringify(r.timings));
  assert.ok(r.timings.initMarkerMs! > 0 && r.timings.exitMs! > r.timings.initMarkerMs!, JSON.stringify(r.timings));
  // With a timeline the kernel talks again, and the phases tile the run.
  const svg = join(await tempDir("smoke-"), "boot.svg");
  const t = await capture(["true"], { timeline: svg });
  assert.equal(t.exitCode, 0);
  const m = t.timings;
  assert.ok(m.firstOutputMs! < m.runInitMs! && m.runInitMs! < m.initMarkerMs! && m.initMarkerMs! <= m.commandEndMs! && m.commandEndMs! < m.exitMs!, JSON.stringify(m));
  const top = t.phases.filter((p) => p.depth === 0);
  assert.deepEqual(top.map((p) => p.name), ["QEMU start + firmware", "kernel boot", "/init to banner", "command", "shutdown"]);
  assert.equal(top.at(-1)!.endMs, t.timings.exitMs);
  const chart = await readFile(svg, "utf8");
  for (const p of top) assert.ok(chart.includes(p.name.replaceAll("&", "&amp;")), p.name);
});

test(`smoke matrix on ${onDeno ? "Deno" : "Node"}: two cells side by side, KTAP subtests judged`, { timeout: 30 * 60_000 }, async () => {
  // Exit status 0, but a subtest failed: the cell fails.
  const ktap = "printf 'KTAP version 1\\n1..2\\nok 1 one\\nnot ok 2 two\\n'";
  const report = await runMatrix(["sh", "-c", ktap], { kernelSource: "debian", kernels: ["6.1"], repeat: 2, parallel: 2, accel: "tcg", env, log: memoryLogger(), quiet: true });
  assert.equal(report.total, 2);
  assert.deepEqual(report.cells.map((c) => [c.id, c.status]), [["6.1/default#1", "failed"], ["6.1/default#2", "failed"]]);
  assert.deepEqual(report.cells[0].subtests?.map((t) => [t.name, t.ok]), [["one", true], ["two", false]]);
  assert.equal(report.cells[0].reason, "1 of 2 subtests failed: two");
  assert.deepEqual(report.summary, { passed: 0, failed: 2, skipped: 0 });
});
