/**
 * Pack the default root filesystem of the busybox at argv[0] into argv[1]
 * (gzip -9, no member cache) and print its sha256: the initramfs bench runs
 * this under Deno to check Deno writes the bytes Node writes.
 *
 *   deno run -A bench/lib/pack-once.ts BUSYBOX OUT
 */
import { packInitramfs } from "../../lib/initramfs/pack.ts";
import { rootfsEntries } from "../../lib/initramfs/rootfs.ts";

const [busybox, out] = process.argv.slice(2);
const r = await packInitramfs(await rootfsEntries({ busybox }), out, { gzip: 9 });
process.stdout.write(`${r.sha256}\n`);
