import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { indexTtlSeconds, rememberedIndex } from "../../lib/fetch/index-memo.ts";
import { kernelOrgReleases } from "../../lib/fetch/kernel-tarball.ts";
import { DownloadError, VersionError } from "../../lib/util/errors.ts";
import { tempDir } from "../helpers.ts";

const URL_A = "https://releases.test/releases.json";

/** A fake upstream: counts its fetches, answers `answer()` (or throws it). */
function upstream(answer: () => string | Error) {
  const calls = { n: 0 };
  const load = () => {
    calls.n++;
    const a = answer();
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
  };
  return { calls, load };
}

const parse = (text: string) => JSON.parse(text) as { v: number };

async function setup(env: Record<string, string> = {}) {
  let clock = 1_000_000;
  return { env: { MICROFORGE_CACHE: await tempDir("index-memo-"), ...env }, now: () => clock, tick: (s: number) => (clock += s * 1000) };
}

test("a list is fetched once and reused for the TTL, then fetched again", async () => {
  const { env, now, tick } = await setup();
  let v = 1;
  const up = upstream(() => JSON.stringify({ v }));
  assert.deepEqual(await rememberedIndex(URL_A, up.load, parse, { env, now }), { v: 1 });
  v = 2;
  tick(599);
  assert.deepEqual(await rememberedIndex(URL_A, up.load, parse, { env, now }), { v: 1 });
  assert.equal(up.calls.n, 1);
  tick(2);
  assert.deepEqual(await rememberedIndex(URL_A, up.load, parse, { env, now }), { v: 2 });
  assert.equal(up.calls.n, 2);
});

test("fresh asks upstream now, and later calls reuse what it got", async () => {
  const { env, now } = await setup();
  let v = 1;
  const up = upstream(() => JSON.stringify({ v }));
  await rememberedIndex(URL_A, up.load, parse, { env, now });
  v = 2;
  assert.deepEqual(await rememberedIndex(URL_A, up.load, parse, { env, now, fresh: true }), { v: 2 });
  assert.deepEqual(await rememberedIndex(URL_A, up.load, parse, { env, now }), { v: 2 });
  assert.equal(up.calls.n, 2);
});

test("a failed fetch is thrown again for 60 s with its age, then upstream is asked again", async () => {
  const { env, now, tick } = await setup();
  let down = true;
  const up = upstream(() => (down ? new DownloadError(URL_A, "cannot resolve host releases.test") : JSON.stringify({ v: 3 })));
  await assert.rejects(rememberedIndex(URL_A, up.load, parse, { env, now }), DownloadError);
  tick(20);
  down = false;
  await assert.rejects(rememberedIndex(URL_A, up.load, parse, { env, now }), (err: DownloadError) => {
    assert.match(err.summary, /cannot resolve host releases\.test \(20 s ago; asked again in 40 s\)/);
    assert.match(err.hint, /microforge versions kernel/);
    return true;
  });
  assert.equal(up.calls.n, 1);
  tick(41);
  assert.deepEqual(await rememberedIndex(URL_A, up.load, parse, { env, now }), { v: 3 });
  assert.equal(up.calls.n, 2);
});

test("a list that does not parse is not kept, and other errors are not remembered", async () => {
  const { env, now } = await setup();
  let text = "{not json";
  const up = upstream(() => text);
  await assert.rejects(rememberedIndex(URL_A, up.load, parse, { env, now }), SyntaxError);
  text = JSON.stringify({ v: 4 });
  assert.deepEqual(await rememberedIndex(URL_A, up.load, parse, { env, now }), { v: 4 });
  const odd = upstream(() => new TypeError("a bug, not the network"));
  const other = "https://other.test/releases.json";
  await assert.rejects(rememberedIndex(other, odd.load, parse, { env, now }), TypeError);
  await assert.rejects(rememberedIndex(other, odd.load, parse, { env, now }), TypeError);
  assert.equal(odd.calls.n, 2);
});

test("each URL has its own memo; a damaged or foreign memo file is a miss", async () => {
  const { env, now } = await setup();
  const a = upstream(() => JSON.stringify({ v: 5 }));
  const b = upstream(() => JSON.stringify({ v: 6 }));
  assert.deepEqual(await rememberedIndex(URL_A, a.load, parse, { env, now }), { v: 5 });
  assert.deepEqual(await rememberedIndex("https://b.test/releases.json", b.load, parse, { env, now }), { v: 6 });
  const memos = await readdir(join(env.MICROFORGE_CACHE, "memo"));
  assert.equal(memos.length, 2);
  assert.ok(memos.every((m) => /^[0-9a-f]{32}\.json$/.test(m)), memos.join(" "));
  for (const m of memos) await writeFile(join(env.MICROFORGE_CACHE, "memo", m), "{\"url\":");
  assert.deepEqual(await rememberedIndex(URL_A, a.load, parse, { env, now }), { v: 5 });
  assert.equal(a.calls.n, 2);
});

test("MICROFORGE_INDEX_TTL=0 asks every time and keeps nothing; a bad value is the default", async () => {
  const { env, now } = await setup({ MICROFORGE_INDEX_TTL: "0" });
  const up = upstream(() => JSON.stringify({ v: 7 }));
  await rememberedIndex(URL_A, up.load, parse, { env, now });
  await rememberedIndex(URL_A, up.load, parse, { env, now });
  assert.equal(up.calls.n, 2);
  await assert.rejects(readdir(join(env.MICROFORGE_CACHE, "memo")), { code: "ENOENT" });
  assert.equal(indexTtlSeconds({ MICROFORGE_INDEX_TTL: "30" }), 30);
  assert.equal(indexTtlSeconds({ MICROFORGE_INDEX_TTL: "soon" }), 600);
  assert.equal(indexTtlSeconds({ MICROFORGE_INDEX_TTL: "-1" }), 600);
  assert.equal(indexTtlSeconds({}), 600);
});

test("kernelOrgReleases asks kernel.org once for two lookups; fresh asks again", async () => {
  const { env, now } = await setup({ MICROFORGE_KERNEL_RELEASES_URL: URL_A });
  let fetches = 0;
  const releases = { releases: [{ moniker: "longterm", version: "6.1.63", iseol: false, released: { isodate: "2023-11-20" }, source: "https://cdn.test/linux-6.1.63.tar.xz" }] };
  const fetch = (() => {
    fetches++;
    return Promise.resolve(new Response(JSON.stringify(releases)));
  }) as typeof globalThis.fetch;
  const first = await kernelOrgReleases({ env, fetch, now });
  const second = await kernelOrgReleases({ env, fetch, now });
  assert.deepEqual(second, first);
  assert.equal(first[0].version, "6.1.63");
  assert.equal(fetches, 1);
  await kernelOrgReleases({ env, fetch, now, fresh: true });
  assert.equal(fetches, 2);
  // A list without "releases" is a VersionError, and is not kept.
  const bad = (() => Promise.resolve(new Response("{}"))) as typeof globalThis.fetch;
  await assert.rejects(kernelOrgReleases({ env: { ...env, MICROFORGE_KERNEL_RELEASES_URL: "https://bad.test/r.json" }, fetch: bad, now }), VersionError);
});
