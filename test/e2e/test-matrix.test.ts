/**
 * `microforge test` on real builds and boots: Debian's 6.1 and 6.12 kernels
 * with a command that passes on one and fails on the other (exit status,
 * JSON, JUnit parsed, the failed cell's bundle), KTAP subtests as testcases,
 * shards that together run each cell once and merge into the full report,
 * and parallel cells that leave no QEMU behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import type { TestReport } from "../../lib/run/test-report.ts";
import { cli, debianKernelSource, onDeno, repoRoot, tempDir, testCache, tsRunner } from "../helpers.ts";
import { junitCounts } from "../xml.ts";

const skip = onDeno ? "builds and boots real VMs from the CLI; runs under Node" : false;
const BASE = ["test", "--quiet", "--kernel-source", "debian", "--accel", "tcg"];
const KTAP = String.raw`printf 'KTAP version 1\n1..3\nok 1 first\n# second: EXPECTATION FAILED: expected 1, got 2\nnot ok 2 second\nok 3 third # SKIP not here\n'`;

test("6.1 passes and 6.12 fails: exit 1, a JSON cell each, JUnit with 2 testcases and 1 failure, the failure's bundle", { skip, timeout: 60 * 60_000 }, async () => {
  const dir = await tempDir("matrix-kernels-");
  const junit = join(dir, "junit.xml");
  const artifacts = join(dir, "artifacts");
  const cmd = ["sh", "-c", 'r=$(uname -r); echo "$r"; case "$r" in 6.1.*) ;; *) echo "not 6.1: $r" >&2; exit 3;; esac'];
  const lock = join(dir, "microforge.lock.json");
  const r = await cli([...BASE, "--kernels", "6.1,6.12", "--lock", lock, "--json", "--junit", junit, "--artifacts", artifacts, "--", ...cmd]);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as TestReport;
  assert.equal(report.total, 2);
  const [old, young] = report.cells;
  assert.equal(old.kernel.version, (await debianKernelSource("6.1")).version);
  assert.equal(young.kernel.version, (await debianKernelSource("6.12")).version);
  assert.deepEqual([old.status, old.exitCode], ["passed", 0]);
  assert.deepEqual([young.status, young.exitCode, young.reason], ["failed", 3, "exit status 3"]);
  assert.equal(old.stdoutTail, old.kernel.release);
  assert.match(young.stderrTail, /^not 6\.1: 6\.12\./);
  assert.match(old.kernel.configHash ?? "", /^[0-9a-f]{16,64}$/);
  assert.ok(old.phases?.some((p) => p.name === "command"), JSON.stringify(old.phases));
  assert.deepEqual(report.summary, { passed: 1, failed: 1, skipped: 0 });
  // Each kernel of the matrix is pinned under an entry of its own.
  const pinned = JSON.parse(await readFile(lock, "utf8")).artifacts;
  assert.deepEqual([pinned["kernel:6.1"].spec, pinned["kernel:6.1"].version], ["6.1", old.kernel.version]);
  assert.deepEqual([pinned["kernel:6.12"].spec, pinned["kernel:6.12"].version], ["6.12", young.kernel.version]);
  assert.equal(pinned.kernel, undefined);
  // One plain line per cell off a terminal, in the order they finish, then the summary.
  assert.match(r.stderr, /^PASS +6\.1\/default#1 +\d+\.\ds$/m);
  assert.match(r.stderr, /^FAIL +6\.12\/default#1 +\d+\.\ds {2}exit status 3$/m);
  assert.match(r.stderr, /2 cells: 1 passed, 1 failed/);
  const counts = junitCounts(await readFile(junit, "utf8"));
  assert.deepEqual({ suites: counts.suites, tests: counts.testcases, failures: counts.failures }, { suites: 2, tests: 2, failures: 1 });
  // The failed cell left a bundle that `rerun` takes; the passing one none.
  assert.equal(old.bundle, undefined);
  const manifest = JSON.parse(await readFile(join(young.bundle!, "manifest.json"), "utf8"));
  assert.equal(manifest.exitCode, 3);
  assert.equal(manifest.kernel.version, young.kernel.version);
});

test("KTAP subtests become testcases; --shard 1/2 and 2/2 run each cell once and --merge gives the full report", { skip, timeout: 30 * 60_000 }, async () => {
  const dir = await tempDir("matrix-shards-");
  const shard = async (k: number) => {
    const junit = join(dir, `junit-${k}.xml`);
    const r = await cli([...BASE, "--kernels", "6.1", "--repeat", "3", "--shard", `${k}/2`, "--json", "--junit", junit, "--", "sh", "-c", KTAP]);
    assert.equal(r.code, 1, r.stderr);
    await writeFile(join(dir, `shard-${k}.json`), r.stdout);
    return { report: JSON.parse(r.stdout) as TestReport, junit: await readFile(junit, "utf8") };
  };
  const one = await shard(1);
  const two = await shard(2);
  assert.deepEqual(one.report.cells.map((c) => c.index), [0, 2]);
  assert.deepEqual(two.report.cells.map((c) => c.index), [1]);
  const cell = two.report.cells[0];
  assert.equal(cell.status, "failed");
  assert.deepEqual(cell.subtests?.map((t) => [t.name, t.ok]), [["first", true], ["second", false], ["third", true]]);
  assert.match(cell.subtests![1].diagnostics, /EXPECTATION FAILED: expected 1, got 2/);
  assert.deepEqual(junitCounts(two.junit), { suites: 1, testcases: 3, failures: 1, errors: 0, skipped: 1 });

  const merged = await cli(["test", "--merge", "--json", "--junit", join(dir, "merged.xml"), join(dir, "shard-1.json"), join(dir, "shard-2.json")]);
  assert.equal(merged.code, 1, merged.stderr);
  const all = JSON.parse(merged.stdout) as TestReport;
  assert.equal(all.total, 3);
  assert.deepEqual(all.cells.map((c) => c.id), ["6.1/default#1", "6.1/default#2", "6.1/default#3"]);
  assert.deepEqual(all.shards, [{ index: 1, count: 2 }, { index: 2, count: 2 }]);
  assert.deepEqual(all.summary, { passed: 0, failed: 3, skipped: 0 });
  assert.deepEqual(junitCounts(await readFile(join(dir, "merged.xml"), "utf8")), { suites: 1, testcases: 9, failures: 3, errors: 0, skipped: 3 });
  // A shard given twice overlaps: refused.
  const twice = await cli(["test", "--merge", join(dir, "shard-2.json"), join(dir, "shard-2.json")]);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /6\.1\/default#2/);
});

test("--repeat 8 --parallel 2 -- true passes 8 cells with ports of their own and leaves no QEMU; --fail-fast stops after a timeout; a panic fails its cell", { skip, timeout: 30 * 60_000 }, async () => {
  const marker = `microforge.test=${randomUUID()}`;
  // Every cell forwards the same --hostfwd: each gets a host port of its own, or the second QEMU could not bind it.
  const r = await cli([...BASE, "--kernels", "6.1", "--repeat", "8", "--parallel", "2", "--append", marker, "--hostfwd", "18080:80", "--json", "--", "true"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /8 cells: 8 passed, 0 failed/);
  assert.equal((r.stderr.match(/^PASS /gm) ?? []).length, 8);
  const ports = (JSON.parse(r.stdout) as TestReport).cells.map((c) => c.hostfwd?.[0]);
  assert.equal(new Set(ports).size, 8, ports.join(" "));
  for (const p of ports) assert.match(p ?? "", /^tcp::\d+-:80$/);
  const left = await runProcess(["pgrep", "-f", marker], { nothrow: true });
  assert.equal(left.stdout, "", "QEMU processes left behind");

  // SIGTERM while two cells run: every VM goes, and we exit 143.
  const [bin, ...pre] = tsRunner("node");
  const child = spawn(bin, [...pre, join(repoRoot, "lib", "cli.ts"), ...BASE, "--kernels", "6.1", "--repeat", "4", "--parallel", "2", "--append", marker, "--", "sleep", "1000"], { stdio: "ignore", env: { ...process.env, MICROFORGE_CACHE: testCache } });
  const qemus = async () => (await runProcess(["pgrep", "-f", `qemu-system.*${marker}`], { nothrow: true })).stdout.trim().split("\n").filter(Boolean);
  for (let i = 0; i < 300 && (await qemus()).length < 2; i++) await new Promise((res) => setTimeout(res, 100));
  assert.equal((await qemus()).length, 2, "two cells never ran side by side");
  child.kill("SIGTERM");
  assert.equal(await new Promise((res) => child.once("close", (c, sig) => res(c ?? sig))), 143);
  await new Promise((res) => setTimeout(res, 300));
  assert.deepEqual(await qemus(), [], "a QEMU process survived");

  const ff = await cli([...BASE, "--kernels", "6.1", "--repeat", "3", "--parallel", "1", "--fail-fast", "--timeout", "8", "--json", "--", "sleep", "600"]);
  assert.equal(ff.code, 1, ff.stderr);
  const report = JSON.parse(ff.stdout) as TestReport;
  assert.deepEqual(report.cells.map((c) => c.status), ["timeout", "skipped", "skipped"]);
  assert.equal(report.cells[0].exitCode, 124);
  assert.match(report.cells[0].reason ?? "", /did not finish within 8 s/);

  // A panicking init: the cell is a panic, status 255, with the console's tail.
  const panic = await cli([...BASE, "--kernels", "6.1", "--append", "rdinit=/bin/false", "--json", "--", "true"]);
  assert.equal(panic.code, 1, panic.stderr);
  const cell = (JSON.parse(panic.stdout) as TestReport).cells[0];
  assert.deepEqual([cell.status, cell.exitCode], ["panic", 255]);
  assert.match(cell.reason ?? "", /panicked: .*Attempted to kill init/);
  assert.match(cell.consoleTail ?? "", /Call Trace:/);
  assert.match(panic.stderr, /^PANIC +6\.1\/default#1 /m);
});
