/**
 * One gzip member made on several cores, the way pigz makes it: the input
 * is cut into fixed 256 KiB parts, each part is deflated on its own with
 * the 32 KiB before it as its dictionary, every part but the last ends in a
 * sync flush (so the next part's stream can follow it), and the parts'
 * streams are joined under one gzip header and trailer. The parts are fixed,
 * so the bytes do not depend on how many cores did the work, nor on the
 * runtime: Node and Deno both run fflate. Busybox (2 MB, ~110 ms at -9)
 * then takes about half as long on two cores, for ~0.1% more bytes.
 *
 * The workers are started by the first large member a process compresses
 * and kept (unref'd) for the next ones; one that fails leaves its part to
 * the main thread, which compresses parts too while the workers start.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { GzipLevel } from "./gzip.ts";
import { setImmediate } from "node:timers";
import { crc32Fast } from "./crc32.ts";

/** The part size; part of the output format (gzip-members.ts's cache key names it). */
export const PART = 256 * 1024;
/** Deflate's window: each part's dictionary is this much of the input before it. */
const WINDOW = 32 * 1024;

type DeflateCtor = typeof import("fflate").Deflate;

/**
 * Deflate `data` with `dict` as its dictionary; `last` ends the stream, else
 * a sync flush ends the part on a byte boundary. Self-contained (no
 * closures): its source is also the workers' code.
 */
function deflatePart(Deflate: DeflateCtor, data: Uint8Array, dict: Uint8Array | undefined, last: boolean, level: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  const d = new Deflate(dict && dict.length ? { level: level as GzipLevel, dictionary: dict } : { level: level as GzipLevel }, (c: Uint8Array) => void chunks.push(c));
  if (last) d.push(data, true);
  else {
    d.push(data, false);
    d.flush(false);
    // The sync flush by hand: fflate 0.8.3's flush(true) writes its empty
    // stored block at a wrong bit offset. The state's `r` holds the bits
    // used in the last, partial byte (low 3 bits) and that byte (above):
    // finish that byte with a stored block's header (3 zero bits, then
    // padding to the byte boundary), then LEN 0 and NLEN 0xffff.
    const r: number = (d as unknown as { s: { r?: number } }).s.r ?? 0;
    const head = (r & 7) + 3 > 8 ? [r >> 3, 0] : [r >> 3];
    chunks.push(Uint8Array.from([...head, 0, 0, 0xff, 0xff]));
  }
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** One job for a worker: a part, its dictionary, whether it is the last, the level. */
interface PartJob {
  id: number;
  data: Uint8Array;
  dict?: Uint8Array;
  last: boolean;
  level: number;
}

/** A worker of the pool; `dead` once it failed (its parts go to the main thread). */
interface PoolWorker {
  worker: Worker;
  dead: boolean;
  waiting: Map<number, { resolve: (out: Uint8Array) => void; reject: (err: unknown) => void }>;
}

const pool: PoolWorker[] = [];
let nextJob = 0;

/** The workers' module: fflate from where this runtime resolves it, and deflatePart. */
function workerSource(): string {
  const fflate = import.meta.resolve("fflate");
  return [
    `import { Deflate } from ${JSON.stringify(fflate)};`,
    `import { parentPort } from "node:worker_threads";`,
    `const deflatePart = ${deflatePart.toString()};`,
    `parentPort.on("message", (j) => { const out = deflatePart(Deflate, j.data, j.dict, j.last, j.level); parentPort.postMessage({ id: j.id, out }, [out.buffer]); });`,
  ].join("\n");
}

/** A started worker, unref'd while idle so it never keeps the process alive. */
function startWorker(): PoolWorker {
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(workerSource())}`));
  const w: PoolWorker = { worker, dead: false, waiting: new Map() };
  const fail = (err: unknown) => {
    w.dead = true;
    for (const p of w.waiting.values()) p.reject(err);
    w.waiting.clear();
  };
  worker.on("message", (m: { id: number; out: Uint8Array }) => {
    w.waiting.get(m.id)?.resolve(m.out);
    w.waiting.delete(m.id);
    if (!w.waiting.size) worker.unref?.();
  });
  worker.on("error", fail);
  worker.on("exit", () => fail(new Error("the gzip worker exited")));
  worker.unref?.();
  return w;
}

function onWorker(w: PoolWorker, job: Omit<PartJob, "id">): Promise<Uint8Array> {
  const id = nextJob++;
  if (w.dead) return Promise.reject(new Error("the gzip worker is gone"));
  return new Promise((resolve, reject) => {
    w.waiting.set(id, { resolve, reject });
    // Held while a part is out, so the process waits for it.
    w.worker.ref?.();
    // Copies (a Buffer's slice() would share, and transferring would detach, the caller's input).
    const data = new Uint8Array(job.data);
    const dict = job.dict && new Uint8Array(job.dict);
    w.worker.postMessage({ id, ...job, data, dict }, dict ? [data.buffer, dict.buffer] : [data.buffer]);
  });
}

/** The gzip header fflate writes: no name, mtime 0, XFL by level, OS Unix. */
function gzipHeader(level: GzipLevel): Uint8Array {
  return new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level < 2 ? 4 : level === 9 ? 2 : 0, 3]);
}

/** `input` as one gzip member, its parts deflated on the main thread and up to `cores - 1` workers. */
export async function gzipParts(input: Uint8Array, level: GzipLevel, cores: number = availableParallelism()): Promise<Uint8Array> {
  const { Deflate } = await import("fflate");
  const count = Math.max(1, Math.ceil(input.length / PART));
  const job = (i: number) => ({
    data: input.subarray(i * PART, Math.min(input.length, (i + 1) * PART)),
    dict: i ? input.subarray(Math.max(0, i * PART - WINDOW), i * PART) : undefined,
    last: i === count - 1,
    level,
  });
  const local = (i: number) => {
    const j = job(i);
    return deflatePart(Deflate, j.data, j.dict, j.last, j.level);
  };
  const parts: Uint8Array[] = new Array(count);
  let next = 0;
  const take = () => (next < count ? next++ : -1);
  const wanted = Math.min(Math.max(0, cores - 1), 3, count - 1);
  while (pool.filter((w) => !w.dead).length < wanted) {
    try {
      pool.push(startWorker());
    } catch {
      break; // no workers here: the main thread does it all
    }
  }
  // Two lanes a worker: it has the next part already while this thread is
  // busy with its own and has not read the reply yet (15% faster on 2 cores).
  const lanes = pool.filter((w) => !w.dead).slice(0, wanted).flatMap((w) => [w, w]);
  const helpers = lanes.map(async (w) => {
    for (let i = take(); i >= 0; i = take()) {
      parts[i] = await onWorker(w, job(i)).catch(() => local(i));
    }
  });
  for (let i = take(); i >= 0; i = take()) {
    parts[i] = local(i);
    // Let the workers' replies in (and hand them the next parts) between our
    // own: setImmediate, since a setTimeout(0) idles this core for 1 ms a part.
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(helpers);
  const size = input.length;
  const trailer = new Uint8Array(8);
  new DataView(trailer.buffer).setUint32(0, await crc32Fast(input), true);
  new DataView(trailer.buffer).setUint32(4, size >>> 0, true);
  const header = gzipHeader(level);
  const out = new Uint8Array(header.length + parts.reduce((n, p) => n + p.length, 0) + trailer.length);
  let at = 0;
  for (const p of [header, ...parts, trailer]) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
