import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ask, askHelp, type AskOption, type Prompts } from "../../lib/recipe/ask.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { tempDir } from "../helpers.ts";

const defs: Record<string, AskOption> = {
  kernel: { type: "string", message: "Kernel version", default: "longterm" },
  memory: { type: "string", message: "Memory", default: "512M", validate: (v) => (/^\d+[MG]$/.test(String(v)) ? true : "use 512M or 1G") },
  cpus: { type: "number", message: "CPUs", default: 1 },
  net: { type: "boolean", message: "Network?", default: false },
  features: { type: "checkbox", message: "Features", choices: ["net", "share", "disk"], default: ["net"] },
  mode: { type: "select", message: "Mode", choices: ["shell", "command"], default: "shell" },
};

function fakePrompts(answers: Record<string, unknown>, seen: string[]): Prompts {
  const answer = (cfg: { message: string }) => {
    seen.push(cfg.message);
    return Promise.resolve(answers[cfg.message]);
  };
  return { input: answer, confirm: answer, select: answer, checkbox: answer } as unknown as Prompts;
}

test("flags win over the environment; values stay strings unless numeric options", async () => {
  const r = await ask(defs, { argv: ["--kernel", "6.10", "--cpus", "2", "--features", "net,disk", "--", "uname", "-r"], env: { MICROFORGE_KERNEL: "6.1", MICROFORGE_MEMORY: "1G" }, interactive: false, log: memoryLogger() });
  assert.equal(r.kernel, "6.10");
  assert.equal(r.memory, "1G");
  assert.equal(r.cpus, 2);
  assert.deepEqual(r.features, ["net", "disk"]);
  assert.deepEqual(r._, ["uname", "-r"]);
});

test("not interactive: defaults are used and printed", async () => {
  const log = memoryLogger();
  const r = await ask(defs, { argv: [], env: {}, interactive: false, log });
  assert.deepEqual({ ...r, _: undefined }, { kernel: "longterm", memory: "512M", cpus: 1, net: false, features: ["net"], mode: "shell", _: undefined, _scripted: true });
  assert.match(log.lines.join("\n"), /options: kernel=longterm memory=512M cpus=1 net=false features=net mode=shell/);
});

test("interactive: only what was not given is asked, through the prompts", async () => {
  const seen: string[] = [];
  const prompts = fakePrompts({ "Kernel version": "6.6", "CPUs": "3", "Network?": true, "Features": ["share"], "Mode": "command" }, seen);
  const r = await ask(defs, { argv: ["--memory", "1G"], env: {}, interactive: true, prompts, log: memoryLogger() });
  assert.deepEqual(seen, ["Kernel version", "CPUs", "Network?", "Features", "Mode"]);
  assert.equal(r.memory, "1G");
  assert.equal(r.kernel, "6.6");
  assert.deepEqual(r.features, ["share"]);
});

test("invalid values are refused naming the flag; a required option without a default too", async () => {
  await assert.rejects(ask(defs, { argv: ["--memory", "lots"], env: {}, interactive: false, log: memoryLogger() }), /Invalid --memory "lots": use 512M or 1G/);
  await assert.rejects(ask({ name: { type: "string", required: true } }, { argv: [], env: {}, interactive: false, log: memoryLogger() }), /Option --name is required[\s\S]*MICROFORGE_NAME/);
});

test("--save remembers the answers for the next run", async () => {
  const dir = await tempDir("ask-");
  await ask(defs, { argv: ["--save", "--kernel", "6.6"], env: {}, interactive: false, dir, log: memoryLogger() });
  assert.equal(JSON.parse(await readFile(join(dir, "microforge.options.json"), "utf8")).kernel, "6.6");
  const seen: string[] = [];
  const r = await ask(defs, { argv: [], env: {}, interactive: true, dir, prompts: fakePrompts({}, seen), log: memoryLogger() });
  assert.equal(r.kernel, "6.6");
  assert.ok(!seen.includes("Kernel version"));
});

test("--help lists every option with its default and environment variable", () => {
  const help = askHelp(defs, "A recipe.");
  for (const name of Object.keys(defs)) assert.match(help, new RegExp(`--${name}\\b.*\\[env MICROFORGE_${name.toUpperCase()}\\]`));
  assert.match(help, /--yes/);
});
