#!/usr/bin/env -S npx tsx
/**
 * Run a command in a fresh microVM and return its exit code, like a
 * container: the CI use case. The command's stdout/stderr are yours, piped
 * stdin reaches it, and kernel messages stay out of the way.
 *
 *   npx tsx recipes/run-command.ts -- sh -c 'echo hi; exit 3'; echo $?    → hi, 3
 *   echo data | deno run -A recipes/run-command.ts -- cat
 */
import { ask, busybox, initramfs, kernel, microvm } from "microforge";

const opts = await ask<{ kernel: string; memory: string; timeout: number; _: string[] }>({
  kernel: { type: "kernel", message: "Kernel version", default: "longterm" },
  memory: { type: "string", message: "Guest memory", default: "512M" },
  timeout: { type: "number", message: "Stop the VM after this many seconds (exit 124)", default: 120 },
}, { description: "Boot a fresh microVM, run the command given after --, exit with its exit code.", dir: import.meta.dirname, interactive: false });

const command = opts._.length ? opts._ : ["uname", "-a"];
const vm = await microvm({ kernel: await kernel({ version: opts.kernel }), initrd: await initramfs({ busybox: await busybox() }), memory: opts.memory });
process.exit(await vm.start(command, { timeoutMs: opts.timeout * 1000 }));
