import { test } from "node:test";
import assert from "node:assert/strict";
import { parseKernelReleases } from "../../lib/sources/kernel-releases.ts";
import { checkSpec, resolveSpec } from "../../lib/sources/version-spec.ts";
import { VersionSpecError } from "../../lib/util/errors.ts";
import { VersionError } from "../../lib/util/errors.ts";
import { releasesJson } from "../fixtures/kernel-org.ts";

const { releases } = parseKernelReleases(releasesJson("https://cdn.example"));
const pick = (spec: string, opts = {}) => resolveSpec(spec, releases, { what: "kernel", ...opts }).version;

test("latest, longterm, stable and mainline", () => {
  assert.equal(pick("latest"), "6.6.2");
  assert.equal(pick("longterm"), "6.1.63");
  assert.equal(pick("stable"), "6.6.2");
  assert.equal(pick("mainline"), "6.7-rc2");
  assert.equal(pick(" Longterm "), "6.1.63");
});

test("a two-part version means the newest of that series", () => {
  assert.equal(pick("6.1"), "6.1.63");
  assert.equal(pick("5.15"), "5.15.139");
});

test("ranges and exact versions", () => {
  assert.equal(pick("^6.1"), "6.6.2");
  assert.equal(pick("~6.6.1"), "6.6.2");
  assert.equal(pick(">=5.15 <6"), "5.15.139");
  assert.equal(pick("6.1.63"), "6.1.63");
  assert.equal(pick("6.7-rc2"), "6.7-rc2");
});

test("prereleases only when asked; EOL only when asked", () => {
  assert.equal(pick(">=6.6"), "6.6.2");
  assert.equal(pick(">=6.6", { includePrerelease: true }), "6.7-rc2");
  assert.throws(() => pick("4.14"), /only end-of-life releases match; pass --include-eol/);
  assert.equal(pick("4.14", { includeEol: true }), "4.14.330");
  assert.equal(pick("6.5", { includeEol: true }), "6.5.12");
});

test("a spec that matches nothing lists the nearest versions", () => {
  assert.throws(() => pick("6.2"), (err: unknown) => {
    assert.ok(err instanceof VersionError);
    assert.match(err.message, /No kernel version matches "6\.2"/);
    assert.match(err.message, /available: 6\.1\.63 \(longterm\), 6\.6\.2 \(stable\)/);
    return true;
  });
});

test("a spec that matches nothing says which versions exist and what to pass (exit 1, not a usage error)", () => {
  assert.throws(() => pick("999"), (err: unknown) => {
    assert.ok(err instanceof VersionError && !(err instanceof VersionSpecError));
    assert.equal(err.exitCode, 1);
    assert.match(err.hint, /^available: .*6\.1\.63 \(longterm\).*; pass one of these, or a range that includes one$/);
    return true;
  });
});

test("checkSpec refuses malformed specs before any lookup: exit 2, the spec named, the forms listed, a near miss suggested", () => {
  for (const ok of ["latest", "longterm", "Stable", "mainline", "6.6", "6.6.3", "^6.1", "~6.6.3", ">=5.15 <6", "6.7-rc2", "999", "6.x"]) checkSpec(ok, { what: "kernel" });
  for (const [spec, extra] of [["6.x.y", undefined], ["^^6", undefined], ["latest-ish", /did you mean latest\?/], ["longterm!", /did you mean longterm\?/], ["", undefined], ["nightly", undefined]] as const) {
    assert.throws(() => checkSpec(spec, { what: "kernel" }), (err: unknown) => {
      assert.ok(err instanceof VersionSpecError && err instanceof VersionError, spec);
      assert.equal(err.exitCode, 2);
      assert.equal(err.summary, `Invalid kernel version spec ${JSON.stringify(spec)}`);
      assert.match(err.hint, /use latest, longterm, stable, mainline, a version \(6\.6, 6\.6\.3\), or a range/i);
      if (extra) assert.match(err.hint, extra);
      return true;
    });
  }
  assert.throws(() => checkSpec("^^1", { what: "busybox", channels: false }), /Invalid busybox version spec "\^\^1"\n {2}→ use latest, a version \(1\.36, 1\.36\.1\)/);
  assert.throws(() => checkSpec("longterm", { what: "busybox", channels: false, from: "busybox.net" }), (err: unknown) => {
    assert.ok(err instanceof VersionSpecError);
    assert.match(err.message, /^Channel longterm does not apply to busybox from busybox\.net/);
    return true;
  });
});

test("nonsense specs are refused with the forms that work", () => {
  assert.throws(() => pick("newest"), /Invalid kernel version spec "newest"[\s\S]*use latest, longterm/);
  assert.throws(() => resolveSpec("longterm", [{ version: "1.36.1", semver: "1.36.1" }], { what: "busybox" }), /Channel longterm does not apply to busybox/);
});
