import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findTemplate, renderTemplate } from "../lib/template.ts";
import { TemplateError } from "../lib/errors.ts";
import { defaultInitVars, renderInit } from "../lib/rootfs.ts";
import { tempDir } from "./helpers.ts";

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
  assert.throws(() => findTemplate("missing.ejs"), /template not found/);
});

test("the default /init mounts proc, sysfs, devtmpfs and tmpfs, runs sh, then reboots", () => {
  const init = renderInit();
  assert.match(init, /^#!\/bin\/busybox sh\n/);
  assert.match(init, /busybox --install -s \/bin/);
  for (const t of ["proc /proc", "sysfs /sys", "devtmpfs /dev", "tmpfs /tmp"]) assert.match(init, new RegExp(`mount -t ${t.split(" ")[0]} ${t}`));
  assert.match(init, /setsid cttyhack sh\n/);
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
  assert.match(init, /^sh -c 'echo '\\''hi there'\\''; exit 3'\n {2}echo "microforge-exit-status:\$\?"$/m);
  assert.match(init, /ip addr add 10\.0\.2\.15\/24 dev eth0/);
  assert.match(init, /mount -t 9p -o trans=virtio,version=9p2000\.L,ro 'host share' \/mnt\/host/);
  assert.doesNotMatch(init, /cttyhack/);
  assert.equal(defaultInitVars().shell, true);
});
