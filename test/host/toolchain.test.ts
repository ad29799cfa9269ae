import { test } from "node:test";
import assert from "node:assert/strict";
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { assertBuildToolchain } from "../../lib/host/toolchain.ts";
import { MissingToolError } from "../../lib/util/errors.ts";
import { findOnPath } from "../../lib/util/find-on-path.ts";
import { tempDir } from "../helpers.ts";

test("a missing build tool is named before any long work, with the doctor hint", async () => {
  const bin = await tempDir("tools-");
  for (const tool of ["gcc", "make", "bison", "bc", "xz", "tar"]) {
    const real = await findOnPath(tool);
    if (real) await symlink(real, join(bin, tool));
  }
  await assert.rejects(assertBuildToolchain({ env: { PATH: bin } }), (err: unknown) => {
    assert.ok(err instanceof MissingToolError);
    assert.match(err.message, /^flex is missing: building the kernel needs it/);
    assert.match(err.message, /microforge doctor --fix/);
    return true;
  });
});

test("the real host has the whole toolchain (installed by .ci/run)", async () => {
  await assertBuildToolchain();
});
