import { test } from "node:test";
import assert from "node:assert/strict";
import * as mod from "../lib/mod.ts";

test("lib/mod.ts exports exactly the public API", () => {
  assert.deepEqual(Object.keys(mod).sort(), [
    "$",
    "BootTimeoutError",
    "BusyboxError",
    "ChecksumError",
    "CommandError",
    "DownloadError",
    "ElfError",
    "InitVarError",
    "LockFileError",
    "MicroforgeError",
    "MissingToolError",
    "RootfsError",
    "TemplateError",
    "UsageError",
    "VersionError",
    "Vm",
    "argv",
    "ask",
    "busybox",
    "chalk",
    "checkInitVars",
    "cpioArchive",
    "debianBusybox",
    "defaultInitVars",
    "download",
    "fetchKernel",
    "findTemplate",
    "fs",
    "initramfs",
    "inspectBusybox",
    "kernel",
    "lockedBusybox",
    "lockedKernel",
    "microvm",
    "packInitramfs",
    "path",
    "renderInit",
    "renderTemplate",
    "resolveBusybox",
    "resolveKernel",
    "runHostChecks",
    "shellJoin",
    "shellQuote",
    "sourceTree",
  ]);
});

test("every error class carries a hint and is a MicroforgeError", () => {
  const err = new mod.BusyboxError("x is dynamic", "use a static one");
  assert.ok(err instanceof mod.MicroforgeError);
  assert.equal(err.hint, "use a static one");
  assert.equal(err.name, "BusyboxError");
  assert.match(err.message, /x is dynamic\n {2}→ use a static one/);
});
