import { test } from "node:test";
import assert from "node:assert/strict";
import * as mod from "../lib/mod.ts";

test("lib/mod.ts exports exactly the public API: the DSL and every error class", () => {
  assert.deepEqual(Object.keys(mod).sort(), [
    "$",
    "ArchiveFormatError",
    "BinaryError",
    "BootTimeoutError",
    "BundleError",
    "BusyboxError",
    "CacheWriteError",
    "ChecksumError",
    "CommandError",
    "ConfigFragmentError",
    "ConfigOverrideError",
    "DebianPackageError",
    "DownloadError",
    "ElfError",
    "FeatureError",
    "GuestError",
    "InitVarError",
    "InputError",
    "KconfigError",
    "KernelBuildError",
    "KernelTreeError",
    "LockFileError",
    "MicroforgeError",
    "MissingToolError",
    "ModuleBuildError",
    "ModuleError",
    "MutexError",
    "OptionError",
    "PackageError",
    "QmpError",
    "ReportError",
    "RootfsError",
    "ScaffoldError",
    "ShellQuoteError",
    "SignatureError",
    "SourcePathError",
    "TemplateError",
    "TemplateFileError",
    "UnsafeArchiveError",
    "UnverifiedError",
    "UsageError",
    "VersionError",
    "VersionSpecError",
    "Vm",
    "VmSpecError",
    "WriteError",
    "ask",
    "busybox",
    "chalk",
    "fs",
    "initramfs",
    "kernel",
    "matrix",
    "microvm",
    "path",
  ]);
});

test("every error class carries a hint and is a MicroforgeError", () => {
  const err = new mod.BusyboxError("x is dynamic", "use a static one");
  assert.ok(err instanceof mod.MicroforgeError);
  assert.equal(err.hint, "use a static one");
  assert.equal(err.name, "BusyboxError");
  assert.match(err.message, /x is dynamic\n {2}→ use a static one/);
});

test("every error class in util/errors.ts is exported, so a recipe can catch each by type", async () => {
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(new URL("../lib/util/errors.ts", import.meta.url), "utf8");
  const classes = [...text.matchAll(/^export class (\w+)/gm)].map((m) => m[1]);
  assert.ok(classes.length > 20);
  for (const c of classes) assert.equal(typeof (mod as Record<string, unknown>)[c], "function", c);
});
