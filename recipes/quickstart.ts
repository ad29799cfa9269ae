#!/usr/bin/env -S npx tsx
/**
 * Quickstart — the blog post, step for step: a kernel from `make allnoconfig`
 * plus the blog's options, a static busybox, the blog's /init, and the blog's
 * QEMU command, printed and then run. You land at the `/ #` shell; `exit`
 * powers the VM off and returns you to the host.
 *
 *   npx tsx recipes/quickstart.ts            (or: deno run -A recipes/quickstart.ts)
 *   npx tsx recipes/quickstart.ts --yes -- uname -a     (scripted: run a command, exit with its code)
 */
import { ask, busybox, initramfs, kernel, microvm } from "microforge";

const opts = await ask<{ kernel: string; memory: string; features: string; _: string[] }>({
  kernel: { type: "kernel", message: "Kernel version", default: "longterm" },
  memory: { type: "string", message: "Guest memory", default: "512M", validate: (v) => (/^\d+[KMGT]?$/i.test(String(v)) ? true : "use a size like 512M or 1G") },
  features: { type: "string", message: "Kernel features beyond the blog's options (none for the blog's exact set)", default: "virtio,blk,net,9p,console" },
}, { description: "Quickstart: build a tiny kernel and a busybox initramfs, boot them as a QEMU microVM, land in a shell.", dir: import.meta.dirname });

// 1. The kernel: allnoconfig + the blog's options (templates/kernel/base.config.ejs) + features.
const k = await kernel({ version: opts.kernel, features: opts.features === "none" ? [] : opts.features.split(",") });
// 2. Busybox, static, and 3. the initramfs with the blog's /init (templates/init.sh.ejs).
const rd = await initramfs({ busybox: await busybox() });
// 4. The blog's QEMU command: printed, then run.
const vm = await microvm({ kernel: k, initrd: rd, memory: opts.memory });
console.log(vm.toShell());
process.exit(await vm.start(opts._));
