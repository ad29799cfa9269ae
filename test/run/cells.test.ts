import { test } from "node:test";
import assert from "node:assert/strict";
import { matrixCells, parseShard, shardCells } from "../../lib/run/cells.ts";
import { UsageError } from "../../lib/util/errors.ts";

test("the cells are the cross product, kernels outermost, with stable indices and ids", () => {
  const cells = matrixCells({ kernels: ["6.1", "6.12"], featureSets: ["default", "default,debug"], repeat: 2 });
  assert.equal(cells.length, 8);
  assert.deepEqual(cells.map((c) => c.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(cells.slice(0, 3).map((c) => c.id), ["6.1/default#1", "6.1/default#2", "6.1/default,debug#1"]);
  assert.deepEqual(cells[7], { index: 7, id: "6.12/default,debug#2", kernel: "6.12", features: "default,debug", repeat: 2 });
});

test("--shard K/N runs every N-th cell; the shards together run each cell exactly once", () => {
  const cells = matrixCells({ kernels: ["a", "b", "c"], featureSets: ["default"], repeat: 3 });
  for (const n of [1, 2, 3, 4, 9, 10]) {
    const seen = Array.from({ length: n }, (_, k) => shardCells(cells, { index: k + 1, count: n })).flat().map((c) => c.index).sort((x, y) => x - y);
    assert.deepEqual(seen, cells.map((c) => c.index), `${n} shards`);
  }
  // Each shard of three gets a cell of every kernel.
  assert.deepEqual(shardCells(cells, { index: 2, count: 3 }).map((c) => c.id), ["a/default#2", "b/default#2", "c/default#2"]);
  assert.equal(shardCells(cells, undefined).length, 9);
});

test("--shard takes K/N with 1 ≤ K ≤ N and refuses the rest", () => {
  assert.deepEqual(parseShard("2/4"), { index: 2, count: 4 });
  assert.deepEqual(parseShard(" 1 / 1 "), { index: 1, count: 1 });
  for (const bad of ["0/2", "3/2", "1", "a/b", "1/0", "-1/2", "1/2/3", ""]) {
    assert.throws(() => parseShard(bad), (e: unknown) => e instanceof UsageError && /Invalid --shard/.test(e.message) && /K\/N/.test(e.hint), bad);
  }
});
