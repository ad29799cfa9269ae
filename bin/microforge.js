#!/usr/bin/env node
// Node entry for the `microforge` bin: load the prebuilt bundle (`npm run build`
// writes dist/cli.js; `npm pack` and `npm test` run it), so start-up
// does not compile TypeScript. Without the bundle (a fresh checkout before
// `npm run build`), fall back to loading the TypeScript CLI through tsx.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/cli.js", import.meta.url);
let cli;
if (existsSync(bundle)) {
  cli = await import(bundle.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import("../lib/cli.ts");
}
process.exitCode = await cli.main(process.argv.slice(2));
