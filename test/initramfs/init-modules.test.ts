import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderInit, rootfsEntries } from "../../lib/initramfs/rootfs.ts";
import { InitVarError } from "../../lib/util/errors.ts";
import { runProcess } from "../../lib/util/process.ts";
import { tempDir } from "../helpers.ts";
import { ko } from "../fixtures/ko.ts";

const lines = (script: string) => script.split("\n");
/** Index of the first line matching `re`; fails the test when none does. */
function lineOf(script: string, re: RegExp): number {
  const i = lines(script).findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no line matches ${re} in:\n${script}`);
  return i;
}

/** `sh -n`: the rendered script parses. */
async function parses(script: string): Promise<void> {
  const dir = await tempDir("init-");
  await writeFile(join(dir, "init"), script);
  const r = await runProcess(["sh", "-n", join(dir, "init")], { nothrow: true });
  assert.equal(r.code, 0, r.stderr);
}

test("/init with modules defines load_modules with one modprobe -a for all of them", async () => {
  const init = renderInit({ vars: { modules: ["dummy", "hello_world"], command: ["uname", "-r"] } });
  assert.match(init, /^ {2}modprobe -a dummy hello_world 2>\/tmp\/\.modprobe-errors && return$/m);
  assert.match(init, /^ {2}echo "microforge: cannot load kernel modules \(modprobe -a dummy hello_world\): \$\(cat \/tmp\/\.modprobe-errors\)" >&2$/m);
  assert.equal(init.match(/modprobe -a/g)?.length, 2, "one modprobe, and its name in the message");
  assert.ok(lineOf(init, /^load_modules\(\) \{$/) < lineOf(init, /load_modules &&/), "the function is defined before it is called");
  await parses(init);
});

test("/init loads the modules before a command, and runs the command only if they loaded", () => {
  const init = renderInit({ vars: { modules: ["dummy"], command: ["uname", "-r"] } });
  const command = lineOf(init, /^ {2}run_sh 'uname -r'$/);
  assert.equal(lines(init)[command - 1], "  load_modules &&");
  assert.equal(lines(init)[command + 1], '  echo "microforge-exit-status:$?"');
  assert.ok(lineOf(init, /^ {2}modprobe -a dummy /) < command);
});

test("/init loads the modules before a scripted command too", () => {
  const init = renderInit({ vars: { modules: ["dummy"], command: null } });
  assert.match(init, /^ {2}\(load_modules && run_sh "\$cmd"\) <"\$mf_stdin" >"\$mf_stdout" 2>"\$mf_stderr"$/m);
  assert.ok(lineOf(init, /^load_modules\(\) \{$/) < lineOf(init, /run_sh "\$cmd"/));
});

test("/init loads the modules before the interactive shell, and starts the shell anyway when they fail", () => {
  const init = renderInit({ vars: { modules: ["dummy"] } });
  const shell = lineOf(init, /else setsid cttyhack sh; fi$/);
  const load = lineOf(init, /^ {2}load_modules \|\| echo "microforge: starting the shell anyway" >&2$/);
  assert.ok(load < shell);
});

test("/init without modules has no modprobe and no load_modules", async () => {
  for (const vars of [{}, { modules: [] }, { command: ["true"] }, { command: ["true"], modules: [] }]) {
    const init = renderInit({ vars });
    assert.doesNotMatch(init, /modprobe/, JSON.stringify(vars));
    assert.doesNotMatch(init, /load_modules/, JSON.stringify(vars));
    assert.match(init, /^ {2}\(run_sh "\$cmd"\) </m, JSON.stringify(vars));
    await parses(init);
  }
  const command = renderInit({ vars: { command: ["uname", "-r"] } });
  const at = lineOf(command, /^ {2}run_sh 'uname -r'$/);
  assert.equal(lines(command)[at - 1], "else");
});

test("/init refuses module names that are not plain words before rendering", () => {
  for (const modules of [["a b"], ["$(reboot)"], ["x;y"], [""], "dummy", [1]]) {
    assert.throws(() => renderInit({ vars: { modules: modules as string[] } }), (err: unknown) => err instanceof InitVarError && /modules/.test(err.message), JSON.stringify(modules));
  }
});


test("the image's /init loads the module set's modules, after those the init vars name, built-in ones left out", async () => {
  const dir = await tempDir("init-");
  const mods = join(dir, "lib", "modules", "6.1.0");
  await mkdir(join(mods, "extra"), { recursive: true });
  await writeFile(join(mods, "extra", "hello.ko"), ko());
  await writeFile(join(mods, "extra", "dummy.ko"), ko());
  await writeFile(join(mods, "modules.builtin"), "kernel/drivers/net/virtio_net.ko\n");
  await writeFile(join(dir, "busybox"), "not busybox", { mode: 0o755 });
  const entries = await rootfsEntries({
    busybox: join(dir, "busybox"),
    init: { vars: { modules: ["dummy"], command: ["true"] } },
    modules: { release: "6.1.0", dirs: [mods], load: ["hello", "virtio_net", "dummy"] },
  });
  const init = entries.find((e) => e.path === "init");
  assert.ok(init && init.type === "file" && "data" in init && init.data);
  const script = new TextDecoder().decode(init.data);
  assert.match(script, /^ {2}modprobe -a dummy hello 2>/m);
  assert.ok(lineOf(script, /^ {2}load_modules &&$/) < lineOf(script, /^ {2}run_sh true$/));
});
