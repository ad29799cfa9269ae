import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CpioEntry } from "../../lib/initramfs/cpio.ts";
import { packInitramfs } from "../../lib/initramfs/pack.ts";
import { packedBefore, packInputKey, rememberPack } from "../../lib/initramfs/pack-memo.ts";

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "mf-packmemo-"));
  const host = join(dir, "tool");
  await writeFile(host, "#!/bin/sh\necho tool\n");
  const init = (text: string, mode = 0o755): CpioEntry => ({ type: "file", path: "init", data: new TextEncoder().encode(text), mode });
  const entries: CpioEntry[] = [{ type: "dir", path: "bin" }, init("#!/bin/sh\necho hi\n"), { type: "file", path: "bin/tool", source: host, mode: 0o755 }];
  return { dir, host, entries, init };
}

/** Pack `entries` into `dir` under its sha256 name and remember it, as buildInitramfs does. */
async function packAndRemember(dir: string, entries: CpioEntry[], key: string) {
  const r = await packInitramfs(entries, join(dir, "building.cpio"), { gzip: false });
  const final = join(dir, `${r.sha256}.cpio`);
  await rename(r.path, final);
  const result = { ...r, path: final };
  await rememberPack(dir, key, result);
  return result;
}

test("the same entries give the same key; a changed in-memory file, mode or host file gives another", async () => {
  const { host, entries, init } = await setup();
  const key = await packInputKey(entries, { gzip: false });
  assert.equal(await packInputKey([...entries].reverse(), { gzip: false }), key, "order does not matter: the archive is sorted");
  assert.notEqual(await packInputKey(entries, { gzip: 9 }), key);
  assert.notEqual(await packInputKey([entries[0], init("#!/bin/sh\necho ho\n"), entries[2]], { gzip: false }), key);
  assert.notEqual(await packInputKey([entries[0], init("#!/bin/sh\necho hi\n", 0o700), entries[2]], { gzip: false }), key);
  await new Promise((r) => setTimeout(r, 5));
  await writeFile(host, "#!/bin/sh\necho other tool\n");
  assert.notEqual(await packInputKey(entries, { gzip: false }), key, "a host file that changed");
});

test("an image packed from the same inputs is reused while untouched; written to, it is not", async () => {
  const { dir, entries } = await setup();
  const key = await packInputKey(entries, { gzip: false });
  assert.equal(await packedBefore(dir, key), undefined);
  const packed = await packAndRemember(dir, entries, key);
  assert.deepEqual(await packedBefore(dir, key), packed);
  await new Promise((r) => setTimeout(r, 5));
  await writeFile(packed.path, "damaged");
  assert.equal(await packedBefore(dir, key), undefined, "a damaged image is packed again");
});
