import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { chooseEstimate, estimateSteps, readStepRecords, recordBuildSteps, stepRecordsPath, type StepRecord, TYPICAL_STEPS } from "../lib/build-estimate.ts";
import { makeProgress } from "../lib/make-progress.ts";
import { tempDir } from "./helpers.ts";

const typical: StepRecord[] = [{ version: "6.1.100", steps: 2000, yes: 300 }, { version: "6.12.10", steps: 2500, yes: 320 }];

test("an earlier build of the same version and config gives the exact count", () => {
  const records = [{ version: "6.1.192", configHash: "aaa", steps: 2111, yes: 305 }, { version: "6.1.192", configHash: "bbb", steps: 2999, yes: 400 }];
  assert.deepEqual(chooseEstimate({ version: "6.1.192", configHash: "bbb", yes: 400 }, records, typical), { steps: 2999, exact: true, from: "an earlier build of 6.1.192 with this config" });
});

test("without one, the typical count of the same major.minor is an estimate", () => {
  const got = chooseEstimate({ version: "6.1.192", configHash: "x", yes: 300 }, [], typical);
  assert.deepEqual(got, { steps: 2000, exact: false, from: "a typical build of 6.1.100" });
});

test("a version with no count of its own takes the nearest major.minor", () => {
  assert.equal(chooseEstimate({ version: "6.6.30", configHash: "x" }, [], typical)?.from, "a typical build of 6.1.100");
  assert.equal(chooseEstimate({ version: "6.10.2", configHash: "x" }, [], typical)?.from, "a typical build of 6.12.10");
  assert.equal(chooseEstimate({ version: "5.15.1", configHash: "x" }, [], typical)?.from, "a typical build of 6.1.100");
  assert.equal(chooseEstimate({ version: "6.1.1", configHash: "x" }, [], []), undefined);
});

test("an earlier build of a similar version here wins over a typical count further away", () => {
  const records = [{ version: "6.6.20", configHash: "old", steps: 2300, yes: 310 }];
  const got = chooseEstimate({ version: "6.6.30", configHash: "new", yes: 310 }, records, typical);
  assert.deepEqual(got, { steps: 2300, exact: false, from: "an earlier build of 6.6.20" });
  const sameVersion = chooseEstimate({ version: "6.6.20", configHash: "new", yes: 310 }, records, typical);
  assert.equal(sameVersion?.from, "an earlier build of 6.6.20 with another config");
  assert.equal(sameVersion?.exact, false);
});

test("a config with more =y symbols expects more steps than the one it is estimated from", () => {
  const base = chooseEstimate({ version: "6.1.192", configHash: "x", yes: 300 }, [], typical)!.steps;
  const more = chooseEstimate({ version: "6.1.192", configHash: "x", yes: 340 }, [], typical)!.steps;
  const fewer = chooseEstimate({ version: "6.1.192", configHash: "x", yes: 260 }, [], typical)!.steps;
  assert.ok(fewer < base && base < more, `${fewer} < ${base} < ${more}`);
});

test("the built-in typical counts are real measurements", () => {
  assert.ok(TYPICAL_STEPS.length >= 1);
  for (const t of TYPICAL_STEPS) {
    assert.match(t.version, /^\d+\.\d+\.\d+$/);
    assert.ok(t.steps > 500 && (t.yes ?? 0) > 100, JSON.stringify(t));
  }
});

test("recorded builds are kept in host/build-steps.json, one per version and config", async () => {
  const root = await tempDir("steps-");
  assert.deepEqual(await readStepRecords(root), []);
  await recordBuildSteps(root, { version: "6.1.192", configHash: "aaa", steps: 2100, yes: 300, seconds: 200 });
  await recordBuildSteps(root, { version: "6.1.192", configHash: "bbb", steps: 2500, yes: 340, seconds: 240 });
  await recordBuildSteps(root, { version: "6.1.192", configHash: "aaa", steps: 2123, yes: 300, seconds: 190 });
  assert.equal(stepRecordsPath(root), join(root, "host", "build-steps.json"));
  const saved = JSON.parse(await readFile(stepRecordsPath(root), "utf8"));
  assert.deepEqual(saved.builds.map((b: StepRecord) => [b.configHash, b.steps]), [["bbb", 2500], ["aaa", 2123]]);
  assert.deepEqual(await estimateSteps(root, { version: "6.1.192", configHash: "aaa", yes: 300 }), { steps: 2123, exact: true, from: "an earlier build of 6.1.192 with this config" });
});

test("an unreadable record file is ignored: the estimate falls back to the typical count", async () => {
  const root = await tempDir("steps-");
  await mkdir(dirname(stepRecordsPath(root)), { recursive: true });
  await writeFile(stepRecordsPath(root), "{ not json");
  assert.deepEqual(await readStepRecords(root), []);
  const got = await estimateSteps(root, { version: TYPICAL_STEPS[0].version, configHash: "x", yes: TYPICAL_STEPS[0].yes });
  assert.deepEqual(got, { steps: TYPICAL_STEPS[0].steps, exact: false, from: `a typical build of ${TYPICAL_STEPS[0].version}` });
  await writeFile(stepRecordsPath(root), JSON.stringify({ builds: [{ version: "6.1.1", steps: "many" }, { version: "6.1.2", configHash: "c", steps: 900 }] }));
  assert.deepEqual((await readStepRecords(root)).map((r) => r.version), ["6.1.2"]);
});

test("what the user sees: the first build of a config says 'about', the next build of it does not", async () => {
  const root = await tempDir("steps-");
  const target = { version: "6.1.192", configHash: "c0ffee", yes: TYPICAL_STEPS[0].yes };
  const line = async () => {
    let out = "";
    let clock = 0;
    const expected = await estimateSteps(root, target);
    const p = makeProgress({ label: "building linux 6.1.192", expected, tty: false, now: () => clock, write: (t) => void (out += t) });
    clock = 60_000;
    p.feed("  CC      init/main.o\n".repeat(500));
    return out.split("\n")[1];
  };
  assert.match(await line(), /^• building linux 6\.1\.192: about \d+% \(500 of ~\d+ steps\), 1m00s, about \d+m\d\ds left$/);
  await recordBuildSteps(root, { ...target, steps: 2000 });
  assert.equal(await line(), "• building linux 6.1.192: 25% (500 of 2000 steps), 1m00s, 3m00s left");
});
