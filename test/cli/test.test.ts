import { test } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../lib/cli/main.ts";

/** Run the CLI in-process, capturing stdout and stderr. */
async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (stdout += s, true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (stderr += s, true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

test("test --list --json prints the cells for a CI config to fan out, per shard", async () => {
  const all = await capture(["test", "--list", "--json", "--kernels", "6.1,6.12", "--features", "default", "--features", "default,debug", "--repeat", "2"]);
  assert.equal(all.code, 0, all.stderr);
  const list = JSON.parse(all.stdout);
  assert.equal(list.total, 8);
  assert.equal(list.cells[0].id, "6.1/default#1");
  const shard = JSON.parse((await capture(["test", "--list", "--json", "--kernels", "6.1,6.12", "--repeat", "2", "--shard", "2/2"])).stdout);
  assert.deepEqual(shard.shard, { index: 2, count: 2 });
  assert.deepEqual(shard.cells.map((c: { id: string }) => c.id), ["6.1/default#2", "6.12/default#2"]);
  const plain = await capture(["test", "--list", "--kernels", "6.1"]);
  assert.equal(plain.stdout, "6.1/default#1\n");
});

test("test refuses bad values with exit 2 and says what to pass, before any build", async () => {
  const cases: [string[], RegExp][] = [
    [["test", "--shard", "3/2", "--", "true"], /Invalid --shard "3\/2"[\s\S]*K\/N/],
    [["test", "--repeat", "0", "--", "true"], /Invalid --repeat "0"/],
    [["test", "--parallel", "x", "--", "true"], /Invalid --parallel "x"/],
    [["test", "--timeout", "0", "--", "true"], /Invalid --timeout "0"/],
    [["test", "--features", "nett", "--", "true"], /Unknown kernel feature nett[\s\S]*did you mean net/],
    [["test", "--json", "--tap", "--", "true"], /--json and --tap both print/],
    [["test", "--gdb", "--", "true"], /Unknown option --gdb/],
    [["test"], /needs a command to run in each cell/],
    [["test", "--merge"], /needs the JSON reports to merge/],
  ];
  for (const [argv, want] of cases) {
    const r = await capture(argv);
    assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, want, argv.join(" "));
  }
});
