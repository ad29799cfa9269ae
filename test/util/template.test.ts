import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { findTemplate, renderTemplate } from "../../lib/util/template.ts";
import { TemplateFileError } from "../../lib/util/errors.ts";
import { TemplateError } from "../../lib/util/errors.ts";
import { defaultInitVars, renderInit } from "../../lib/initramfs/rootfs.ts";
import { tempDir } from "../helpers.ts";

async function templateFile(name: string, text: string): Promise<string> {
  const file = join(await tempDir("tpl-"), name);
  await writeFile(file, text);
  return file;
}

test("an unknown variable names the template file and line", async () => {
  const file = await templateFile("x.sh.ejs", "echo hi\n<% if (true) { %>\necho <%= nope %>\n<% } %>\n");
  assert.throws(() => renderTemplate(file, {}), (err: unknown) => {
    assert.ok(err instanceof TemplateError);
    assert.equal(err.file, file);
    assert.equal(err.line, 3);
    assert.match(err.message, new RegExp(`${file}:3: nope is not defined`));
    return true;
  });
});

test("a syntax error names the template file and line", async () => {
  const file = await templateFile("y.config.ejs", "CONFIG_A=y\nCONFIG_B=y\n<% if (opts.net) { ) %>\nCONFIG_NET=y\n<% } %>\n");
  assert.throws(() => renderTemplate(file, { opts: {} }), (err: unknown) => {
    assert.ok(err instanceof TemplateError);
    assert.equal(err.line, 3);
    assert.match(err.message, /y\.config\.ejs:3: Unexpected token/);
    return true;
  });
});

test("sh templates shell-quote <%= %> and keep <%- %> raw", async () => {
  const file = await templateFile("q.sh.ejs", "echo <%= v %>\necho <%- v %>\n");
  assert.equal(renderTemplate(file, { v: "it's $HOME" }), "echo 'it'\\''s $HOME'\necho it's $HOME\n");
});

test("other templates insert values as they are", async () => {
  const file = await templateFile("k.config.ejs", 'CONFIG_X="<%= v %>"\n');
  assert.equal(renderTemplate(file, { v: "a b" }), 'CONFIG_X="a b"\n');
});

test("templates are found in the given dirs first, then built in", async () => {
  const dir = await tempDir("tpl-");
  await writeFile(join(dir, "init.sh.ejs"), "custom");
  assert.equal(findTemplate("init.sh.ejs", [dir]), join(dir, "init.sh.ejs"));
  assert.match(findTemplate("init.sh.ejs"), /templates\/init\.sh\.ejs$/);
  assert.throws(() => findTemplate("missing.ejs"), (err: unknown) => {
    assert.ok(err instanceof TemplateFileError);
    assert.match(err.message, /^Template missing\.ejs was not found \(looked in .*templates\)\n {2}→ check the name/);
    return true;
  });
  assert.throws(() => findTemplate("/no/such/init.sh.ejs"), /^TemplateFileError: Template file \/no\/such\/init\.sh\.ejs does not exist\n {2}→ check the path/);
});

test("an unclosed block, an unclosed tag and a stray } name the line they start on", async () => {
  const cases = [
    ["block.sh.ejs", "a\n<% if (true) { %>\nb\n<% if (x) { %>\nc\n<% } %>\nd\n", 2, /a block opened here is never closed: add <% } %>/],
    ["tag.sh.ejs", "a <%= x %>\nb\necho <%= hostname \nc\n", 3, /Could not find matching close tag for "<%=": a tag opened here is never closed with %>/],
    ["stray.sh.ejs", "a\n<% } %>\nb\n", 2, /a } here closes a block that was never opened/],
  ] as const;
  for (const [name, text, line, detail] of cases) {
    const file = await templateFile(name, text);
    assert.throws(() => renderTemplate(file, { x: 1, hostname: "h" }), (err: unknown) => {
      assert.ok(err instanceof TemplateError, name);
      assert.equal(err.line, line, name);
      assert.match(err.message, new RegExp(`${name.replace(".", "\\.")}:${line}: `));
      assert.match(err.message, detail);
      return true;
    });
  }
});

test("a directory or a FIFO is refused as a template instead of blocking", async () => {
  const dir = await tempDir("tpl-");
  await mkdir(join(dir, "d.sh.ejs"));
  execFileSync("mkfifo", [join(dir, "f.sh.ejs")]);
  assert.throws(() => renderTemplate(join(dir, "d.sh.ejs"), {}), (err: unknown) => err instanceof TemplateFileError && /is a directory, not a template file/.test(err.message));
  assert.throws(() => renderTemplate(join(dir, "f.sh.ejs"), {}), (err: unknown) => err instanceof TemplateFileError && /is a FIFO, not a template file/.test(err.message));
  assert.throws(() => renderTemplate(join(dir, "gone.sh.ejs"), {}), /Template file .*gone\.sh\.ejs does not exist/);
});

test("the default /init mounts proc, sysfs, devtmpfs and tmpfs, runs sh, then reboots", () => {
  const init = renderInit();
  assert.match(init, /^#!\/bin\/busybox sh\n/);
  assert.match(init, /busybox --install -s \/bin/);
  // All four from one fstab: `mount -a` (every command in /init is a fork under TCG).
  for (const t of ["proc /proc", "sysfs /sys", "devtmpfs /dev", "tmpfs /tmp"]) assert.match(init, new RegExp(`^printf '%s\\\\n' .*'${t} ${t.split(" ")[0]} defaults 0 0'.* >/etc/fstab$`, "m"));
  assert.match(init, /^mount -a$/m);
  assert.match(init, /setsid cttyhack sh; fi\n/);
  assert.match(init, /reboot -f\n$/);
  assert.match(init, /if \[ -e \/sys\/class\/net\/eth0 \]; then[\s\S]*udhcpc .* -s \/etc\/udhcpc\.script/);
  assert.match(init, /microforge\.mount=\*\)/);
  assert.doesNotMatch(init, /ip addr add/);
});

test("/init can run a command, set up the network and mount a 9p share", () => {
  const init = renderInit({
    vars: {
      command: ["sh", "-c", "echo 'hi there'; exit 3"],
      network: { address: "10.0.2.15/24", gateway: "10.0.2.2", dns: "10.0.2.3" },
      share: { tag: "host share", mountpoint: "/mnt/host", readonly: true },
    },
  });
  // The argv is quoted once into shell text, and that text once more for run_sh.
  assert.match(init, /^ {2}run_sh 'sh -c '\\''echo '\\''\\'\\'''\\''hi there'\\''\\'\\'''\\''; exit 3'\\'''\n {2}echo "microforge-exit-status:\$\?"$/m);
  assert.match(init, /ip addr add 10\.0\.2\.15\/24 dev eth0/);
  assert.match(init, /^root= roottag= mounts= cwd=\/ p9=trans=virtio,version=9p2000\.L/m);
  assert.match(init, /mount -t 9p -o "\$p9,ro" 'host share' \/mnt\/host/);
  assert.doesNotMatch(init, /cttyhack/);
  assert.equal(defaultInitVars().interactiveShell, true);
});
