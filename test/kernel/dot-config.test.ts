import { test } from "node:test";
import assert from "node:assert/strict";
import { isConfigValue, parseDotConfig, parseOverride, renderFragment } from "../../lib/kernel/dot-config.ts";
import { ConfigFragmentError } from "../../lib/util/errors.ts";
import { ConfigOverrideError } from "../../lib/util/errors.ts";

const dotConfig = [
  "#",
  "# Automatically generated file; DO NOT EDIT.",
  "# Linux/x86 6.1.192 Kernel Configuration",
  "#",
  'CONFIG_CC_VERSION_TEXT="gcc (Debian 12.2.0-14) 12.2.0"',
  "CONFIG_64BIT=y",
  "CONFIG_VIRTIO_BLK=m",
  "# CONFIG_VIRTIO_NET is not set",
  "CONFIG_NR_CPUS=64",
  "CONFIG_PHYSICAL_START=0x1000000",
  "CONFIG_CONSOLE_LOGLEVEL_DEFAULT=-1",
  'CONFIG_CMDLINE="console=ttyS0 init=\\"/init\\""',
  'CONFIG_INITRAMFS_SOURCE=""',
  "",
].join("\r\n");

test("a kernel .config parses into symbols without the CONFIG_ prefix, values as written", () => {
  const m = parseDotConfig(dotConfig);
  assert.deepEqual([...m], [
    ["CC_VERSION_TEXT", '"gcc (Debian 12.2.0-14) 12.2.0"'],
    ["64BIT", "y"],
    ["VIRTIO_BLK", "m"],
    ["VIRTIO_NET", "n"],
    ["NR_CPUS", "64"],
    ["PHYSICAL_START", "0x1000000"],
    ["CONSOLE_LOGLEVEL_DEFAULT", "-1"],
    ["CMDLINE", '"console=ttyS0 init=\\"/init\\""'],
    ["INITRAMFS_SOURCE", '""'],
  ]);
});

test("in a fragment the later line wins, and comments and blank lines are skipped", () => {
  const m = parseDotConfig("# base\nCONFIG_NET=y\n\n  # CONFIG_NET is not set  \n# just a comment\nCONFIG_INET=y  \n");
  assert.deepEqual([...m], [["NET", "n"], ["INET", "y"]]);
});

test("renderFragment writes KCONFIG_ALLCONFIG lines, n as 'is not set', in map order", () => {
  const text = renderFragment(new Map([["NET", "y"], ["IPV6", "n"], ["CMDLINE", '"quiet"'], ["NR_CPUS", "2"]]));
  assert.equal(text, 'CONFIG_NET=y\n# CONFIG_IPV6 is not set\nCONFIG_CMDLINE="quiet"\nCONFIG_NR_CPUS=2\n');
  assert.equal(renderFragment(new Map()), "");
});

test("parse → render → parse keeps every symbol and value", () => {
  const m = parseDotConfig(dotConfig);
  assert.deepEqual([...parseDotConfig(renderFragment(m))], [...m]);
});

test("a fragment line Kconfig would silently ignore is an error naming the file and line (exit 1: the file is wrong, not the command line)", () => {
  const bad = (text: string) => () => parseDotConfig(text, { source: "my.config" });
  assert.throws(bad("CONFIG_NET=y\nNET=y\n"), (err: Error) => {
    assert.ok(err instanceof ConfigFragmentError);
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /my\.config:2: "NET=y" is not CONFIG_NAME=VALUE/);
    return true;
  });
  assert.throws(bad("CONFIG_NET=yes"), /my\.config:1: the value of CONFIG_NET is "yes", expected y, m, n/);
  assert.throws(bad("CONFIG_X=y\nCONFIG_TTY=maybe"), /my\.config:2: the value of CONFIG_TTY is "maybe"/);
  assert.throws(() => parseDotConfig("\nCONFIG_X=maybe", { source: "f.config.ejs" }), /f\.config\.ejs:2 \(as rendered\): /);
  assert.throws(bad("CONFIG_NET="), /the value of CONFIG_NET is ""/);
  assert.throws(bad("CONFIG_CMDLINE=quiet"), (err: Error) => {
    assert.match(err.message, /CONFIG_CMDLINE is "quiet"/);
    assert.match((err as ConfigFragmentError).hint, /CONFIG_CMDLINE="quiet"/);
    return true;
  });
  assert.throws(bad('CONFIG_CMDLINE="unterminated'), /CONFIG_CMDLINE is/);
  assert.throws(() => parseDotConfig("CONFIG_X=Y"), /^ConfigFragmentError: Cannot parse config line 1: /);
});

test("parseOverride takes CONFIG_X=v or X=v with every value form", () => {
  assert.deepEqual(parseOverride("CONFIG_VIRTIO_NET=y"), ["VIRTIO_NET", "y"]);
  assert.deepEqual(parseOverride("VIRTIO_NET=m"), ["VIRTIO_NET", "m"]);
  assert.deepEqual(parseOverride("9P_FS=n"), ["9P_FS", "n"]);
  assert.deepEqual(parseOverride('CONFIG_CMDLINE="console=ttyS0 quiet"'), ["CMDLINE", '"console=ttyS0 quiet"']);
  assert.deepEqual(parseOverride("NR_CPUS=4"), ["NR_CPUS", "4"]);
  assert.deepEqual(parseOverride("CONFIG_PHYSICAL_ALIGN=0x1f"), ["PHYSICAL_ALIGN", "0x1f"]);
  assert.deepEqual(parseOverride(" CONFIG_NET=y "), ["NET", "y"]);
});

test("a malformed override is a usage error that lists the accepted forms", () => {
  for (const [input, why] of [
    ["CONFIG_X=maybe", /the value "maybe" is not y, m, n, a "quoted string", a decimal number or 0x hex/],
    ["X", /"X": it has no =VALUE/],
    ["CONFIG_X", /it has no =VALUE/],
    ["=y", /"" is not a symbol name/],
    ["CONFIG_A-B=y", /"CONFIG_A-B" is not a symbol name/],
    ["CONFIG_CMDLINE=quiet splash", /the value "quiet splash" is not/],
    ["CONFIG_=y", /"CONFIG_" is not a symbol name/],
    ["CONFIG_X=", /the value "" is not/],
    ['CONFIG_CMDLINE="console=ttyS0', /the value "\\"console=ttyS0" is not/],
  ] as const) {
    assert.throws(() => parseOverride(input), (err: Error) => {
      assert.ok(err instanceof ConfigOverrideError, input);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, why);
      assert.match(err.hint, /CONFIG_NAME=VALUE \(the CONFIG_ prefix is optional\)/);
      assert.match(err.hint, /'CONFIG_CMDLINE="console=ttyS0"'/);
      return true;
    });
  }
});

test("isConfigValue accepts exactly the forms Kconfig reads back unchanged", () => {
  for (const v of ["y", "m", "n", "0", "-3", "0x1F", '""', '"a \\"b\\""']) assert.ok(isConfigValue(v), v);
  for (const v of ["", "Y", "yes", "1.5", "0x", '"a', 'a"', '"a"b"', "quiet"]) assert.ok(!isConfigValue(v), v);
});
