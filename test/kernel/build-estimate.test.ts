import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { chooseEstimate, estimateSteps, readStepRecords, recordBuildSteps, stepRecordsPath, type StepRecord, TYPICAL_STEPS } from "../../lib/kernel/build-estimate.ts";
import { makeProgress } from "../../lib/kernel/make-progress.ts";
import { tempDir } from "../helpers.ts";

const typical: StepRecord[] = [{ version: "6.1.100", steps: 1300, compiled: 800, yes: 300 }, { version: "6.12.10", steps: 1500, compiled: 1000, yes: 320 }];

/** A recorded build. */
function rec(version: string, configHash: string, compiled: number, yes: number): StepRecord & { configHash: string } {
  return { version, configHash, steps: Math.round(compiled * 1.5), compiled, yes };
}

test("an earlier build of the same version and config gives the exact count", () => {
  const records = [rec("6.1.192", "aaa", 811, 305), rec("6.1.192", "bbb", 999, 400)];
  assert.deepEqual(chooseEstimate({ version: "6.1.192", configHash: "bbb", yes: 400 }, records, typical), { compiled: 999, exact: true, from: "an earlier build of 6.1.192 with this config" });
});

test("without one, the typical count of the same major.minor is an estimate", () => {
  const got = chooseEstimate({ version: "6.1.192", configHash: "x", yes: 300 }, [], typical);
  assert.deepEqual(got, { compiled: 800, exact: false, from: "a typical build of 6.1.100" });
});

test("a version with no count of its own takes the nearest major.minor's count as it is", () => {
  assert.deepEqual(chooseEstimate({ version: "6.6.30", configHash: "x", yes: 350 }, [], typical), { compiled: 800, exact: false, from: "a typical build of 6.1.100" });
  assert.equal(chooseEstimate({ version: "6.10.2", configHash: "x" }, [], typical)?.from, "a typical build of 6.12.10");
  assert.equal(chooseEstimate({ version: "5.15.1", configHash: "x" }, [], typical)?.from, "a typical build of 6.1.100");
  assert.equal(chooseEstimate({ version: "6.1.1", configHash: "x" }, [], []), undefined);
});

test("an earlier build of a similar version here wins over a typical count further away", () => {
  const records = [rec("6.6.20", "old", 900, 310)];
  const got = chooseEstimate({ version: "6.6.30", configHash: "new", yes: 310 }, records, typical);
  assert.deepEqual(got, { compiled: 900, exact: false, from: "an earlier build of 6.6.20" });
  const sameVersion = chooseEstimate({ version: "6.6.20", configHash: "new", yes: 310 }, records, typical);
  assert.deepEqual(sameVersion, { compiled: 900, exact: false, from: "an earlier build of 6.6.20 with another config" });
});

test("among builds of the same major.minor, the one with the most similar config is used", () => {
  const records = [rec("6.1.150", "small", 700, 440), rec("6.1.190", "big", 1200, 560)];
  assert.equal(chooseEstimate({ version: "6.1.192", configHash: "x", yes: 450 }, records, typical)?.from, "an earlier build of 6.1.150");
  assert.equal(chooseEstimate({ version: "6.1.192", configHash: "x", yes: 550 }, records, typical)?.from, "an earlier build of 6.1.190");
});

test("a config with more =y symbols expects more compile steps than the one it is estimated from, within reason", () => {
  const at = (yes: number) => chooseEstimate({ version: "6.1.192", configHash: "x", yes }, [], typical)!.compiled;
  assert.ok(at(260) < at(300) && at(300) < at(340), `${at(260)} < ${at(300)} < ${at(340)}`);
  assert.equal(at(100_000), 1600, "at most twice the record");
  assert.equal(at(0), 400, "at least half of it");
});

test("the built-in typical counts are real measurements", () => {
  assert.ok(TYPICAL_STEPS.length >= 1);
  for (const t of TYPICAL_STEPS) {
    assert.match(t.version, /^\d+\.\d+\.\d+$/);
    assert.ok(t.compiled > 500 && t.steps > t.compiled && (t.yes ?? 0) > 100, JSON.stringify(t));
  }
});

test("recorded builds are kept in host/build-steps.json, one per version and config", async () => {
  const root = await tempDir("steps-");
  assert.deepEqual(await readStepRecords(root), []);
  await recordBuildSteps(root, { ...rec("6.1.192", "aaa", 800, 300), seconds: 200 });
  await recordBuildSteps(root, { ...rec("6.1.192", "bbb", 900, 340), seconds: 240 });
  await recordBuildSteps(root, { ...rec("6.1.192", "aaa", 812, 300), seconds: 190 });
  assert.equal(stepRecordsPath(root), join(root, "host", "build-steps.json"));
  const saved = JSON.parse(await readFile(stepRecordsPath(root), "utf8"));
  assert.deepEqual(saved.builds.map((b: StepRecord) => [b.configHash, b.compiled, b.seconds]), [["bbb", 900, 240], ["aaa", 812, 190]]);
  assert.deepEqual(await estimateSteps(root, { version: "6.1.192", configHash: "aaa", yes: 300 }), { compiled: 812, exact: true, from: "an earlier build of 6.1.192 with this config" });
});

test("an unreadable record file is ignored: the estimate falls back to the typical count", async () => {
  const root = await tempDir("steps-");
  const [t] = TYPICAL_STEPS;
  await mkdir(dirname(stepRecordsPath(root)), { recursive: true });
  await writeFile(stepRecordsPath(root), "{ not json");
  assert.deepEqual(await readStepRecords(root), []);
  assert.deepEqual(await estimateSteps(root, { version: t.version, configHash: "x", yes: t.yes }), { compiled: t.compiled, exact: false, from: `a typical build of ${t.version}` });
  const builds = [{ version: "6.1.1", steps: "many", compiled: 3 }, { version: "6.1.2", steps: 900 }, rec("6.1.3", "c", 600, 400)];
  await writeFile(stepRecordsPath(root), JSON.stringify({ builds }));
  assert.deepEqual((await readStepRecords(root)).map((r) => r.version), ["6.1.3"]);
});

test("what the user sees: the first build of a config says 'about', the next build of it does not", async () => {
  const root = await tempDir("steps-");
  const target = { version: "6.1.192", configHash: "c0ffee", yes: TYPICAL_STEPS[0].yes };
  const line = async () => {
    let out = "";
    let clock = 0;
    const expected = await estimateSteps(root, target);
    const p = makeProgress({ label: "building linux 6.1.192 (2 jobs)", expected, tty: false, now: () => clock, write: (t) => void (out += t) });
    clock = 60_000;
    p.feed("  CC      init/main.o\n".repeat(200));
    return out.split("\n")[1];
  };
  assert.match(await line(), /^• building linux 6\.1\.192 \(2 jobs\): about \d+% \(200 of ~\d+ files compiled\), 1m00s, about \d+m\d\ds left$/);
  await recordBuildSteps(root, { ...target, steps: 1200, compiled: 800 });
  assert.equal(await line(), "• building linux 6.1.192 (2 jobs): 25% (200 of 800 files compiled), 1m00s, 3m00s left");
});
