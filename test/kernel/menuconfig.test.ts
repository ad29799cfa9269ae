import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { configChanges, menuconfig, mergeFragment } from "../../lib/kernel/menuconfig.ts";
import { kernelConfigRequest } from "../../lib/kernel/fragments.ts";
import { parseDotConfig, renderFragment } from "../../lib/kernel/dot-config.ts";
import { UsageError } from "../../lib/util/errors.ts";
import type { RunOptions, Runner } from "../../lib/util/process.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { tempDir } from "../helpers.ts";

type Call = { argv: readonly string[]; options?: RunOptions };

/** A kernel that takes the fragment as its .config (allnoconfig), then lets `edit` play the user in the UI. */
function fakeKernel(edit: (config: Map<string, string>) => void) {
  const calls: Call[] = [];
  const run: Runner = async (argv, options) => {
    calls.push({ argv, options });
    const dir = argv.find((a) => a.startsWith("O="))!.slice(2);
    if (argv.at(-1) === "allnoconfig") {
      const fragment = argv.find((a) => a.startsWith("KCONFIG_ALLCONFIG="))!.slice("KCONFIG_ALLCONFIG=".length);
      const symbols = parseDotConfig(await readFile(fragment, "utf8"));
      await writeFile(join(dir, ".config"), "#\n# Automatically generated file; DO NOT EDIT.\n#\n" + renderFragment(symbols));
    } else {
      const config = parseDotConfig(await readFile(join(dir, ".config"), "utf8"));
      edit(config);
      await writeFile(join(dir, ".config"), renderFragment(config));
    }
    return { code: 0, signal: null, stdout: "", stderr: "" };
  };
  return { run, calls };
}

async function setup() {
  const dir = await tempDir("menuconfig-");
  const tree = join(dir, "linux");
  return { dir, tree, output: join(dir, "templates", "kernel", "local.config"), scratch: join(dir, "scratch") };
}

test("configChanges lists changed, new and unset symbols; a symbol going from absent to n is no change", () => {
  const before = new Map([["A", "y"], ["B", "y"], ["C", "n"], ["HZ", "250"]]);
  const after = new Map([["A", "y"], ["B", "n"], ["C", "n"], ["HZ", "100"], ["D", "y"], ["E", "n"]]);
  assert.deepEqual([...configChanges(before, after)], [["B", "n"], ["HZ", "100"], ["D", "y"]]);
  assert.deepEqual([...configChanges(new Map([["GONE", "y"]]), new Map())], [["GONE", "n"]]);
});

test("mergeFragment rewrites symbols in place, keeps comments, drops duplicates and appends new ones", () => {
  const existing = "# my layer\nCONFIG_A=y\n# keep this\n# CONFIG_B is not set\nCONFIG_A=m\n";
  const merged = mergeFragment(existing, new Map([["B", "y"], ["A", "n"], ["C", '"x"']]), "# header\n");
  assert.equal(merged, "# my layer\n# CONFIG_A is not set\n# keep this\nCONFIG_B=y\nCONFIG_C=\"x\"\n");
  assert.equal(mergeFragment(undefined, new Map([["A", "y"]]), "# header\n"), "# header\nCONFIG_A=y\n");
});

test("menuconfig writes exactly the symbols the user changed, including ones the change selected, then removes the scratch dir", async () => {
  const { tree, output, scratch } = await setup();
  const request = kernelConfigRequest({ version: "6.1.192" });
  const { run, calls } = fakeKernel((c) => {
    c.set("IKCONFIG", "y");
    c.set("IKCONFIG_PROC", "y"); // what Kconfig turns on with it
    c.set("PRINTK_TIME", "n");
  });
  const r = await menuconfig({ tree, buildDir: scratch, request, ui: "menuconfig", output, run, tty: true, log: memoryLogger(), version: "6.1.192", env: {} });
  assert.deepEqual([...r.changed], [["PRINTK_TIME", "n"], ["IKCONFIG", "y"], ["IKCONFIG_PROC", "y"]]);
  assert.equal(r.wrote, true);
  const text = await readFile(output, "utf8");
  assert.match(text, /^# microforge local kernel config layer, written by `microforge kernel menuconfig` on linux 6\.1\.192\.$/m);
  assert.doesNotMatch(text, /20\d\d/, "no date in the header");
  assert.deepEqual([...parseDotConfig(text)], [["PRINTK_TIME", "n"], ["IKCONFIG", "y"], ["IKCONFIG_PROC", "y"]]);
  const ui = calls[1];
  assert.deepEqual(ui.argv.slice(0, 3), ["make", "-C", tree]);
  assert.equal(ui.argv.at(-1), "menuconfig");
  assert.equal(ui.options?.stdio, "inherit", "the UI gets the user's terminal");
  assert.equal(ui.options?.env?.KBUILD_BUILD_USER, "microforge", "the reproducible environment");
  assert.deepEqual(await readdir(scratch), [], "the scratch O= dir is gone");
});

test("menuconfig with no change writes nothing and leaves an existing file alone", async () => {
  const { tree, output, scratch } = await setup();
  const request = kernelConfigRequest({ version: "6.1.192" });
  const none = await menuconfig({ tree, buildDir: scratch, request, ui: "nconfig", output, run: fakeKernel(() => {}).run, tty: true, log: memoryLogger(), env: {} });
  assert.deepEqual(none, { changed: new Map(), wrote: false, output });
  assert.equal(existsSync(output), false);
});

test("a second session merges its changes over the local layer, which is part of the request", async () => {
  const { tree, output, scratch } = await setup();
  const opts = { tree, buildDir: scratch, ui: "menuconfig" as const, output, tty: true, log: memoryLogger(), env: {} };
  await menuconfig({ ...opts, request: kernelConfigRequest({ version: "6.1.192" }), run: fakeKernel((c) => c.set("IKCONFIG", "y")).run });
  await writeFile(output, (await readFile(output, "utf8")) + "# my note\nCONFIG_HZ_100=y\n");
  const request = kernelConfigRequest({ version: "6.1.192", local: output });
  assert.equal(request.layers.at(-1)?.name, "local");
  const r = await menuconfig({ ...opts, request, run: fakeKernel((c) => (c.set("IKCONFIG", "n"), c.set("SMP", "y"))).run });
  assert.deepEqual([...r.changed], [["IKCONFIG", "n"], ["SMP", "y"]]);
  const text = await readFile(output, "utf8");
  assert.match(text, /# my note\n/);
  assert.deepEqual([...parseDotConfig(text)], [["IKCONFIG", "n"], ["HZ_100", "y"], ["SMP", "y"]]);
});

test("menuconfig refuses without a terminal, before configuring anything", async () => {
  const { tree, output, scratch } = await setup();
  const { run, calls } = fakeKernel(() => {});
  await assert.rejects(
    menuconfig({ tree, buildDir: scratch, request: kernelConfigRequest({ version: "6.1" }), ui: "menuconfig", output, run, tty: false, env: {} }),
    (err: unknown) => err instanceof UsageError && /^menuconfig needs a terminal/.test(err.message),
  );
  assert.equal(calls.length, 0);
  assert.equal(existsSync(scratch), false);
});
