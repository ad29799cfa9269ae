#!/usr/bin/env -S npx tsx
/**
 * Quickstart: the blog post, step by step. For now it builds the busybox
 * initramfs with the blog's /init; building the kernel and booting it come
 * with the kernel and QEMU steps of the DSL.
 *
 *   npx tsx recipes/quickstart.ts [--busybox auto|host|debian|PATH] [-o FILE]
 *   deno run -A recipes/quickstart.ts
 */
import { argv, initramfs } from "../lib/mod.ts";

if (argv.help || argv.h) {
  console.log(`Usage: quickstart [--busybox auto|host|debian|PATH] [-o FILE]

Builds the blog's initramfs: static busybox, /init that mounts proc, sysfs,
devtmpfs and tmpfs and starts a shell.`);
  process.exit(0);
}

const rd = await initramfs({ busybox: argv.busybox ?? "auto", output: argv.o ?? argv.output });
console.log(`initramfs: ${rd.path}`);
console.log(`  ${rd.size} bytes, sha256 ${rd.sha256}`);
console.log(`  busybox ${rd.busybox.version} (${rd.busybox.origin})`);
