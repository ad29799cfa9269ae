#!/usr/bin/env -S npx tsx
/**
 * A recipe with its own kernel config fragment
 * (recipes/templates/kernel/custom-kernel.config.ejs: IKCONFIG, a timer
 * frequency from --hz) and a kernel version prompt listing what kernel.org (or
 * Debian, offline) offers. Every requested symbol is verified after
 * `make allnoconfig`; a dropped one stops the build and says why.
 *
 *   npx tsx recipes/custom-kernel.ts                      (prompts for the version)
 *   npx tsx recipes/custom-kernel.ts --yes -- sh -c 'zcat /proc/config.gz | grep HZ_'
 */
import { ask, busybox, initramfs, kernel, microvm } from "microforge";

const opts = await ask<{ kernel: string; hz: string; _: string[] }>({
  kernel: { type: "kernel", message: "Kernel version", default: "longterm" },
  hz: { type: "select", message: "Timer frequency", choices: ["100", "250", "1000"], default: "100" },
}, { description: "Build a kernel with this recipe's own config fragment and boot it.", dir: import.meta.dirname });

const k = await kernel({ version: opts.kernel, fragments: ["kernel/custom-kernel.config.ejs"], opts: { hz: opts.hz } });
console.log(`kernel ${k.version}, config ${k.configHash.slice(0, 12)}: ${k.config}`);
const vm = await microvm({ kernel: k, initrd: await initramfs({ busybox: await busybox() }) });
process.exit(await vm.start(opts._.length ? opts._ : []));
