#!/usr/bin/env node
// Node entry for the `microforge` bin: load the TypeScript CLI through tsx.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../lib/cli.ts");
process.exitCode = await main(process.argv.slice(2));
