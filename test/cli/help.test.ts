import { test } from "node:test";
import assert from "node:assert/strict";
import { commands, main } from "../../lib/cli/main.ts";
import { helpText } from "../../lib/cli/command.ts";

test("every subcommand's --help mentions each of its flags", () => {
  for (const cmd of commands) {
    const help = helpText(cmd);
    assert.match(help, new RegExp(`^Usage: microforge ${cmd.name} `));
    for (const f of cmd.flags) assert.ok(help.includes(`--${f.name}`), `${cmd.name} --help lacks --${f.name}`);
  }
});

test("the CLI has the subcommands the docs promise", () => {
  const names = commands.map((c) => c.name).sort();
  assert.deepEqual(names, ["build", "cache", "doctor", "emit", "fetch", "initramfs", "kernel", "new", "rerun", "run", "test", "versions"].sort());
});

test("usage errors exit 2; unknown commands suggest the closest", async () => {
  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => (errors.push(String(s)), true)) as typeof process.stderr.write;
  try {
    assert.equal(await main(["emitt"]), 2);
    assert.equal(await main(["run", "--memroy", "1G"]), 2);
  } finally {
    process.stderr.write = write;
  }
  assert.match(errors.join(""), /did you mean `microforge emit`/);
  assert.match(errors.join(""), /did you mean --memory\?/);
});
