#!/usr/bin/env -S npx tsx
/**
 * Share a host directory with the guest over 9p and drop into a shell there
 * (/mnt/share). Files the guest writes are on the host afterwards, unless
 * --readonly. With `-- CMD`, run CMD in the shared directory instead.
 *
 *   npx tsx recipes/share-folder.ts --dir ~/src/project
 *   npx tsx recipes/share-folder.ts --dir . --yes -- ls -la
 */
import { ask, busybox, initramfs, kernel, microvm } from "microforge";

const opts = await ask<{ dir: string; readonly: boolean; kernel: string; _: string[] }>({
  dir: { type: "string", message: "Host directory to share", default: "." },
  readonly: { type: "boolean", message: "Share it read-only?", default: false },
  kernel: { type: "kernel", message: "Kernel version", default: "longterm" },
}, { description: "Mount a host directory in the guest over 9p (virtio-9p) and work in it.", dir: import.meta.dirname });

const vm = await microvm({
  kernel: await kernel({ version: opts.kernel }),
  initrd: await initramfs({ busybox: await busybox() }),
  shares: [{ path: opts.dir, mountpoint: "/mnt/share", readonly: opts.readonly }],
});
if (!opts._.length) console.log(`The guest's shell starts in /mnt/share, which is ${opts.dir} on the host.`);
process.exit(await vm.start(opts._));
