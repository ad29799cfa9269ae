import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultParallel, runPool } from "../../lib/run/pool.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));

test("the pool runs at most N jobs at once, in order, and keeps results by position", async () => {
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const out = await runPool([5, 1, 4, 2, 3], async (n) => {
    started.push(n);
    most = Math.max(most, ++running);
    for (let i = 0; i < n; i++) await tick();
    running--;
    return n * 10;
  }, { parallel: 2 });
  assert.deepEqual(out, [50, 10, 40, 20, 30]);
  assert.equal(most, 2);
  assert.deepEqual(started, [5, 1, 4, 2, 3]);
});

test("fail-fast starts no more jobs after a failure and aborts the running ones", async () => {
  const aborted: number[] = [];
  const out = await runPool([1, 2, 3, 4, 5, 6], async (n, signal) => {
    if (n === 2) return "fail";
    for (let i = 0; i < 20 && !signal.aborted; i++) await tick();
    if (signal.aborted) aborted.push(n);
    return "ok";
  }, { parallel: 2, failFast: (r) => r === "fail" });
  assert.equal(out[1], "fail");
  assert.deepEqual(aborted, [1]);
  assert.deepEqual(out.slice(2), [undefined, undefined, undefined, undefined]);
});

test("an aborted signal starts nothing; a job that throws rejects the pool once the others settle", async () => {
  const ac = new AbortController();
  ac.abort();
  let ran = 0;
  assert.deepEqual(await runPool([1, 2], () => Promise.resolve(++ran), { parallel: 2, signal: ac.signal }), [undefined, undefined]);
  assert.equal(ran, 0);
  const settled: number[] = [];
  await assert.rejects(runPool([1, 2, 3], async (n) => {
    if (n === 1) throw new Error("bug");
    await tick();
    settled.push(n);
    return n;
  }, { parallel: 2 }), /bug/);
  assert.deepEqual(settled, [2]);
});

test("the default parallelism is one VM per CPU, as many as fit in three quarters of free memory, at least 1", () => {
  const gib = 1024 ** 3;
  assert.equal(defaultParallel(512 << 20, { cpus: 2, freeBytes: 20 * gib }), 2);
  assert.equal(defaultParallel(512 << 20, { cpus: 64, freeBytes: 2 * gib }), 2);
  assert.equal(defaultParallel(4 * gib, { cpus: 8, freeBytes: 1 * gib }), 1);
});
