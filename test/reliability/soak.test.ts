/**
 * The soak, as CI runs it: `npm run soak -- --boots 20` on the default VM
 * (the kernel from Debian's linux-source-6.1 that the other VM tests build,
 * a cache hit; the host's static busybox; TCG). Every boot must succeed:
 * no hang, no failure, no QEMU left behind.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import { onDeno, repoRoot, tempDir, testCache, tsRunner } from "../helpers.ts";
import type { SoakReport } from "../../scripts/soak.ts";

const skip = onDeno ? "Node only" : false;
const BOOTS = 20;

/** QEMU processes whose command line mentions `marker`. */
async function qemusMentioning(marker: string): Promise<number> {
  let n = 0;
  for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes("qemu-system") && cmd.includes(marker)) n++;
  }
  return n;
}

test(`${BOOTS} scripted boots of the default VM in a row (npm run soak) → ${BOOTS}/${BOOTS} ok, no hang, no failure, no QEMU left`, { skip, timeout: 30 * 60_000 }, async (t: TestContext) => {
  const tmp = await tempDir("soak-");
  const argv = [...tsRunner(), join(repoRoot, "scripts", "soak.ts"), "--boots", String(BOOTS), "--kernel-source", "debian", "--kernel-version", "6.1", "--accel", "tcg", "--json", "--quiet"];
  const started = performance.now();
  const r = await runProcess(argv, {
    env: { ...process.env, MICROFORGE_CACHE: testCache, MICROFORGE_BUSYBOX_SOURCE: "host", MICROFORGE_LOCK: undefined, TMPDIR: tmp },
    cwd: repoRoot,
    nothrow: true,
    timeoutMs: 25 * 60_000,
  });
  const seconds = (performance.now() - started) / 1000;
  let report: SoakReport | undefined;
  try {
    report = JSON.parse(r.stdout);
  } catch { /* reported below */ }
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const left = await qemusMentioning(tmp);
  t.diagnostic(report
    ? `observed: exit ${r.code} after ${seconds.toFixed(0)} s; ${report.ok}/${report.boots} ok, ${report.hangs} hangs, ${report.failures} failures, ${report.leftoverQemu + left} QEMU left; wall time per boot median ${s(report.wallMs.median)} s, p90 ${s(report.wallMs.p90)} s, max ${s(report.wallMs.max)} s (min ${s(report.wallMs.min)} s)${report.problems.length ? `; ${report.problems.map((p) => `boot ${p.boot} ${p.status}: ${p.reason}`).join("; ")}` : ""}`
    : `observed: exit ${r.code} after ${seconds.toFixed(0)} s, no report: ${r.stderr.split("\n").slice(0, 3).join(" / ")}`);
  assert.ok(report, `no JSON report:\n${r.stderr}\n${r.stdout}`);
  assert.equal(report.boots, BOOTS);
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, BOOTS);
  assert.equal(report.hangs, 0);
  assert.equal(report.failures, 0);
  assert.equal(report.leftoverQemu, 0);
  assert.equal(left, 0);
  assert.equal(r.code, 0, r.stderr);
  await rm(tmp, { recursive: true, force: true });
});
