import { test } from "node:test";
import assert from "node:assert/strict";
import { featureSetFeatures, matrixPlan, runMatrix } from "../../lib/recipe/matrix.ts";
import { FeatureError, InputError } from "../../lib/util/errors.ts";

test("a feature set is default, a list, or a list with default standing for the default features", () => {
  assert.deepEqual(featureSetFeatures("default"), ["virtio", "blk", "net", "9p", "console"]);
  assert.deepEqual(featureSetFeatures("virtio,console"), ["virtio", "console"]);
  assert.deepEqual(featureSetFeatures("default,debug"), ["virtio", "blk", "net", "9p", "console", "debug"]);
  assert.throws(() => featureSetFeatures("default,debgu"), (e: unknown) => e instanceof FeatureError && /did you mean debug/.test(e.message));
  assert.throws(() => featureSetFeatures(" , "), InputError);
});

test("the plan is the cross product of the axes, sharded, with longterm as the default kernel", () => {
  assert.deepEqual(matrixPlan({}).cells.map((c) => c.id), ["longterm/default#1"]);
  const p = matrixPlan({ kernels: ["6.1", "6.12", "6.1"], featureSets: ["default", "default,debug"], repeat: 2, shard: { index: 2, count: 3 } });
  assert.equal(p.cells.length, 8);
  assert.deepEqual(p.selected.map((c) => c.index), [1, 4, 7]);
  assert.deepEqual(matrixPlan({ kernelTree: "/src/linux" }).cells.map((c) => c.id), ["tree/default#1"]);
});

test("a plan that cannot run is refused before any build", async () => {
  assert.throws(() => matrixPlan({ kernelTree: "/src/linux", kernels: ["6.1"] }), /kernel versions or a local tree, not both/);
  assert.throws(() => matrixPlan({ kernels: ["tree"] }), /needs a local source tree/);
  assert.throws(() => matrixPlan({ repeat: 0 }), /Invalid repeat count 0/);
  await assert.rejects(runMatrix([], {}), /needs a command/);
  await assert.rejects(runMatrix(["true"], { parallel: 2, disks: [{ path: "/tmp/disk.img", readonly: false }] }), /cannot share the writable disk \/tmp\/disk\.img[\s\S]*--disk PATH:ro/);
});
