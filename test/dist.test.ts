import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runProcess } from "../lib/util/process.ts";
import { onDeno, repoRoot, tempDir } from "./helpers.ts";

const bin = join(repoRoot, "bin", "microforge.js");

test("dist/cli.js is what npm run build makes from lib/ now", { skip: onDeno }, async () => {
  // Imported here, not at the top: under Deno the test is skipped and esbuild never loads.
  const { buildCli, distCli } = await import("../scripts/build.ts");
  const fresh = join(await tempDir("dist-"), "cli.js");
  await buildCli(fresh);
  const committed = await readFile(distCli, "utf8").catch(() => "(missing)");
  assert.ok((await readFile(fresh, "utf8")) === committed, "dist/cli.js is stale: run npm run build");
});

test("dist/cli.js does not load zx or Inquirer.js at start-up", async () => {
  // Each costs the CLI's start ~100 ms on Node (issue #7); import them inside the function that needs them.
  const bundle = await readFile(join(repoRoot, "dist", "cli.js"), "utf8");
  const eager = [...bundle.matchAll(/^import .* from "(zx|@inquirer\/prompts)";$/gm)].map((m) => m[0]);
  assert.deepEqual(eager, []);
});

test("the bin prints usage for --help and exits 0", { skip: onDeno }, async () => {
  const r = await runProcess([process.execPath, bin, "--help"], { nothrow: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: microforge <command> \[options\]/);
  assert.match(r.stdout, /^ {2}emit {8}/m);
});

test("the bin prints a subcommand's usage for emit --help", { skip: onDeno }, async () => {
  const r = await runProcess([process.execPath, bin, "emit", "--help"], { nothrow: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: microforge emit /);
  assert.match(r.stdout, /--one-line/);
});

test("the bin refuses an unknown option with exit 2 and a suggestion", { skip: onDeno }, async () => {
  const r = await runProcess([process.execPath, bin, "emit", "--one-lin"], { nothrow: true });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^microforge: Unknown option --one-lin for `microforge emit`\n {2}→ did you mean --one-line\?/);
});
