import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { adoptBlob, blobPath, findBlob, putBlob, readUrlRecord, urlRecordPath, writeUrlRecord } from "../../lib/fetch/blob-store.ts";
import { sha256Hex } from "../../lib/util/hash.ts";
import { tempDir } from "../helpers.ts";

test("a blob is stored once, read-only, under its sha256", async () => {
  const cacheDir = await tempDir("blob-");
  const data = new TextEncoder().encode("hello");
  const sha = sha256Hex(data);
  assert.equal(sha, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  assert.equal(await findBlob(cacheDir, sha), undefined);
  const blob = await putBlob(cacheDir, data);
  assert.deepEqual(blob, { path: join(cacheDir, "blobs", "sha256", sha), sha256: sha, size: 5 });
  assert.equal((await stat(blob.path)).mode & 0o777, 0o444);
  assert.deepEqual(await putBlob(cacheDir, data), blob);
  assert.deepEqual(await findBlob(cacheDir, sha), blob);
  assert.throws(() => blobPath(cacheDir, "../../etc/passwd"), /Not a sha256/);
});

test("adopting a temp file moves it into the store and leaves no temp file", async () => {
  const cacheDir = await tempDir("blob-");
  const sha = sha256Hex("x");
  for (let i = 0; i < 2; i++) {
    const temp = join(cacheDir, "blobs", "sha256", `incoming.tmp-${i}`);
    await mkdir(dirname(temp), { recursive: true });
    await writeFile(temp, "x");
    const blob = await adoptBlob(cacheDir, temp, sha);
    assert.equal(blob.size, 1);
  }
  assert.deepEqual(await readdir(join(cacheDir, "blobs", "sha256")), [sha]);
});

test("the URL index remembers what a URL gave, and ignores a damaged record", async () => {
  const cacheDir = await tempDir("blob-");
  const url = "https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.6.tar.xz";
  assert.equal(await readUrlRecord(cacheDir, url), undefined);
  const record = { url, sha256: sha256Hex("k"), size: 1, fetchedAt: "2026-01-01T00:00:00.000Z" };
  await writeUrlRecord(cacheDir, record);
  assert.equal(urlRecordPath(cacheDir, url), join(cacheDir, "urls", `${sha256Hex(url)}.json`));
  assert.deepEqual(await readUrlRecord(cacheDir, url), record);
  await writeFile(urlRecordPath(cacheDir, url), "{ not json");
  assert.equal(await readUrlRecord(cacheDir, url), undefined);
  await writeFile(urlRecordPath(cacheDir, url), JSON.stringify({ ...record, url: "https://other/" }));
  assert.equal(await readUrlRecord(cacheDir, url), undefined);
});
