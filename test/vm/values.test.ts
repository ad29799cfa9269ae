import { test } from "node:test";
import assert from "node:assert/strict";
import { VmSpecError } from "../../lib/util/errors.ts";
import { checkKernelArg, parseCpus, parseHostfwd, parseMemory } from "../../lib/vm/values.ts";

const refused = (fn: () => unknown, message: RegExp) => assert.throws(fn, (err: unknown) => err instanceof VmSpecError && message.test(err.message));

test("parseMemory reads MiB numbers and sizes with units, 1.5G included", () => {
  for (const [value, mib] of [[512, 512], ["512", 512], ["512M", 512], ["1G", 1024], ["1.5G", 1536], ["1536MiB", 1536], ["65536K", 64], [" 2047M ", 2047]] as const) {
    assert.equal(parseMemory(value), mib, String(value));
  }
});

test("parseMemory refuses 0, negative, fractional-MiB, nonsense, 2 GiB exactly and more than 1 TiB, naming the value", () => {
  refused(() => parseMemory("0"), /^Invalid memory size "0": it must be a whole number of MiB, at least 16M\n {2}→ use a size like 512M or 1G$/);
  refused(() => parseMemory("-1"), /^Invalid memory size "-1"\n {2}→ use a size like 512, 512M or 1G$/);
  refused(() => parseMemory("lots"), /^Invalid memory size "lots"\n/);
  refused(() => parseMemory(""), /^Invalid memory size ""\n/);
  refused(() => parseMemory("0.5M"), /^Invalid memory size "0\.5M": it must be a whole number of MiB/);
  refused(() => parseMemory("1e3"), /^Invalid memory size "1e3"\n/);
  refused(() => parseMemory("2G"), /^Memory of exactly 2 GiB is refused/);
  refused(() => parseMemory("2T"), /^Memory size "2T" is larger than 1 TiB/);
});

test("parseCpus takes whole decimal numbers from 1 to 255 only", () => {
  assert.equal(parseCpus("1"), 1);
  assert.equal(parseCpus(" 4 "), 4);
  assert.equal(parseCpus(255), 255);
  for (const bad of ["0", "256", "-1", "two", "1.5", "0x2", "1e1", " ", ""]) {
    refused(() => parseCpus(bad), new RegExp(`^Invalid CPU count ${JSON.stringify(bad).replace(/[.+]/g, "\\$&")}\\n {2}→ use a whole number from 1 to 255$`));
  }
  refused(() => parseCpus(Number.NaN), /^Invalid CPU count NaN\n/);
});

test("kernel arguments with spaces or quotes and malformed port forwards are refused", () => {
  refused(() => checkKernelArg("a b"), /^Kernel argument "a b" is refused/);
  refused(() => checkKernelArg(""), /^Kernel argument "" is refused/);
  assert.equal(parseHostfwd("8080:80"), "tcp::8080-:80");
  refused(() => parseHostfwd("8080"), /^Invalid port forward "8080"\n {2}→ use HOSTPORT:GUESTPORT/);
});
