/**
 * The stages of lib/ and the one rule between them: a module imports only
 * from its own stage or an earlier one (README, "Architecture").
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { repoRoot } from "./helpers.ts";

/** The stages in pipeline order; kernel and initramfs are one step, side by side. */
export const STAGES: readonly (readonly string[])[] = [["util"], ["host"], ["sources"], ["fetch"], ["kernel", "initramfs"], ["vm"], ["run"], ["recipe"], ["cli"]];

const lib = join(repoRoot, "lib");
const rank = (file: string): number => {
  const top = relative(lib, file).split("/");
  if (top.length === 1) return STAGES.length; // lib/mod.ts and lib/cli.ts: the entry points, above every stage
  const i = STAGES.findIndex((s) => s.includes(top[0]));
  assert.ok(i >= 0, `${relative(repoRoot, file)} is in no stage folder (${STAGES.flat().join(", ")})`);
  return i;
};

/** Every relative import of a TypeScript source: `from "x"`, `import("x")`, `export ... from "x"`. */
export function relativeImports(source: string): string[] {
  return [...source.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]);
}

/** Every import in lib/ that points to a later stage, as "from → to". */
export function upwardImports(): string[] {
  const bad: string[] = [];
  for (const f of readdirSync(lib, { recursive: true }) as string[]) {
    if (!f.endsWith(".ts")) continue;
    const file = join(lib, f);
    for (const spec of relativeImports(readFileSync(file, "utf8"))) {
      const target = normalize(join(dirname(file), spec));
      if (rank(target) > rank(file)) bad.push(`${relative(repoRoot, file)} → ${relative(repoRoot, target)}`);
    }
  }
  return bad;
}

test("every lib/ module sits in a stage folder and imports only from its own stage or an earlier one", () => {
  assert.deepEqual(upwardImports(), []);
});

test("the scan sees imports in all their forms, so an upward one cannot hide", () => {
  const text = `import { a } from "../cli/x.ts";\nexport { b } from './y.ts';\nconst m = await import("../run/z.ts");\nimport type { T } from "../vm/t.ts";`;
  assert.deepEqual(relativeImports(text), ["../cli/x.ts", "./y.ts", "../run/z.ts", "../vm/t.ts"]);
});
