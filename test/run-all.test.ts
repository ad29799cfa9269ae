import { test } from "node:test";
import assert from "node:assert/strict";
import { denoCounts, nodeCounts, summaryLine, testFiles } from "./run-all.ts";

test("Deno's closing line is read with steps, ignored tests and colours", () => {
  assert.deepEqual(denoCounts("...\nok | 292 passed | 0 failed | 1 ignored (4m12s)\n"), { passed: 292, failed: 0, skipped: 1 });
  assert.deepEqual(denoCounts("\x1b[31mFAILED\x1b[0m | 291 passed (3 steps) | 1 failed (1 step) (4m)\n"), { passed: 291, failed: 1, skipped: 0 });
  assert.equal(denoCounts("error: Module not found\n"), undefined);
});

test("the Node runner's summary is read in spec and TAP form; cancelled counts as failed", () => {
  const spec = "ℹ tests 405\nℹ suites 0\nℹ pass 400\nℹ fail 2\nℹ cancelled 1\nℹ skipped 2\nℹ todo 0\nℹ duration_ms 1\n";
  assert.deepEqual(nodeCounts(spec), { passed: 400, failed: 3, skipped: 2 });
  assert.deepEqual(nodeCounts("# pass 3\n# fail 0\n"), { passed: 3, failed: 0, skipped: 0 });
  assert.equal(nodeCounts("TypeError: boom\n"), undefined);
});

test("the closing line adds both suites up in the form CI reads", () => {
  const line = summaryLine([{ passed: 292, failed: 0, skipped: 1 }, { passed: 400, failed: 3, skipped: 2 }]);
  assert.equal(line, "692 passed, 3 failed, 3 skipped");
  assert.match(summaryLine([{ passed: 1, failed: 0, skipped: 0 }]), /^\d+ passed, \d+ failed$/);
});

test("the Node suite is every *.test.ts below test/, fixtures left out", () => {
  const files = testFiles();
  assert.ok(files.includes("test/run-all.test.ts"));
  assert.ok(files.some((f) => f.startsWith("test/e2e/")) && files.some((f) => f.startsWith("test/reliability/")));
  assert.ok(files.every((f) => f.endsWith(".test.ts") && !f.includes("fixtures")));
});
