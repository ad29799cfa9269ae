import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { crc32, decodePng, pngStats } from "./png.ts";

interface Spec {
  width: number;
  height: number;
  colorType: number;
  /** Unfiltered samples, row by row. */
  samples: number[];
  /** Filter type per row (cycled); default 0. */
  filters?: number[];
  bitDepth?: number;
  interlace?: number;
  extra?: [string, number[]][];
  /** Cut the deflate stream into this many IDAT chunks. */
  idats?: number;
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Paeth as the spec's sample code writes it (§9.4), independent of the reader's. */
function paethRef(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  if (pa <= pb && pa <= pc) return a;
  if (pb <= pc) return b;
  return c;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set([...type].map((ch) => ch.charCodeAt(0)), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encode a PNG by hand: filter each row, deflate, wrap in chunks. */
function buildPng(spec: Spec): Uint8Array {
  const bpp = CHANNELS[spec.colorType];
  const rowBytes = spec.width * bpp;
  const filtered: number[] = [];
  for (let y = 0; y < spec.height; y++) {
    const f = spec.filters?.[y % spec.filters.length] ?? 0;
    const row = spec.samples.slice(y * rowBytes, (y + 1) * rowBytes);
    const up = y > 0 ? spec.samples.slice((y - 1) * rowBytes, y * rowBytes) : new Array(rowBytes).fill(0);
    filtered.push(f);
    for (let i = 0; i < rowBytes; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const c = i >= bpp ? up[i - bpp] : 0;
      const pred = [0, a, up[i], Math.floor((a + up[i]) / 2), paethRef(a, up[i], c)][f] ?? 0;
      filtered.push((row[i] - pred + 256) % 256);
    }
  }
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, spec.width);
  new DataView(ihdr.buffer).setUint32(4, spec.height);
  ihdr.set([spec.bitDepth ?? 8, spec.colorType, 0, 0, spec.interlace ?? 0], 8);
  const z = new Uint8Array(deflateSync(Uint8Array.from(filtered)));
  const n = spec.idats ?? 1;
  const cut = Math.ceil(z.length / n);
  const idats = Array.from({ length: n }, (_, i) => chunk("IDAT", z.subarray(i * cut, (i + 1) * cut)));
  const extra = (spec.extra ?? []).map(([t, d]) => chunk(t, Uint8Array.from(d)));
  const parts = [Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), ...extra, ...idats, chunk("IEND", new Uint8Array())];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** 5x4 RGB samples with steep steps and values near 0 and 255, so every predictor wraps around. */
const rgb = Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 97 + (i % 7) * 41 + (i % 3 === 0 ? 250 : 3)) % 256);
const asRgba = (samples: number[]) => samples.flatMap((v, i) => (i % 3 === 2 ? [v, 255] : [v]));

test("crc32 gives the published check values", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.equal(crc32(enc("")), 0);
  assert.equal(crc32(enc("123456789")), 0xcbf43926);
  assert.equal(crc32(enc("The quick brown fox jumps over the lazy dog")), 0x414fa339);
});

test("an RGB PNG decodes the same under each filter type 0 to 4, and with filters mixed", () => {
  for (const filters of [[0], [1], [2], [3], [4], [4, 3, 2, 1], [1, 4, 0, 4]]) {
    const img = decodePng(buildPng({ width: 5, height: 4, colorType: 2, samples: rgb, filters }));
    assert.deepEqual({ width: img.width, height: img.height, bitDepth: img.bitDepth, colorType: img.colorType }, { width: 5, height: 4, bitDepth: 8, colorType: 2 });
    assert.deepEqual([...img.rgba], asRgba(rgb), `filters ${filters}`);
  }
});

test("image data split over several IDAT chunks is joined before inflating", () => {
  const img = decodePng(buildPng({ width: 5, height: 4, colorType: 2, samples: rgb, filters: [4], idats: 3 }));
  assert.deepEqual([...img.rgba], asRgba(rgb));
});

test("greyscale, grey+alpha, RGBA and palette images come out as RGBA", () => {
  const grey = decodePng(buildPng({ width: 2, height: 2, colorType: 0, samples: [0, 80, 160, 255], filters: [4] }));
  assert.deepEqual([...grey.rgba], [0, 0, 0, 255, 80, 80, 80, 255, 160, 160, 160, 255, 255, 255, 255, 255]);
  const greyAlpha = decodePng(buildPng({ width: 2, height: 1, colorType: 4, samples: [10, 20, 30, 0], filters: [1] }));
  assert.deepEqual([...greyAlpha.rgba], [10, 10, 10, 20, 30, 30, 30, 0]);
  const rgba = decodePng(buildPng({ width: 1, height: 2, colorType: 6, samples: [1, 2, 3, 4, 250, 251, 252, 253], filters: [2] }));
  assert.deepEqual([...rgba.rgba], [1, 2, 3, 4, 250, 251, 252, 253]);
  const plte: [string, number[]] = ["PLTE", [255, 0, 0, 0, 255, 0, 0, 0, 255]];
  const indexed = decodePng(buildPng({ width: 3, height: 1, colorType: 3, samples: [2, 0, 1], extra: [plte, ["tRNS", [128]]] }));
  assert.deepEqual([...indexed.rgba], [0, 0, 255, 255, 255, 0, 0, 128, 0, 255, 0, 255]);
});

test("broken or unsupported PNGs are refused with the reason", () => {
  const good = buildPng({ width: 5, height: 4, colorType: 2, samples: rgb });
  const flipped = (at: number) => good.map((b, i) => (i === at ? b ^ 1 : b));
  // IHDR says `height` rows, with its CRC fixed up, whatever the data holds.
  const claimHeight = (png: Uint8Array, height: number) => {
    const out = png.slice();
    const view = new DataView(out.buffer);
    view.setUint32(20, height);
    view.setUint32(29, crc32(out.subarray(12, 29)));
    return out;
  };
  const cases: [Uint8Array, RegExp][] = [
    [new TextEncoder().encode("GIF89a, not a PNG"), /signature/],
    [flipped(20), /chunk IHDR has a bad CRC/],
    [good.subarray(0, good.length - 12), /ends before IEND/],
    [good.subarray(0, 50), /chunk IDAT runs past the end/],
    [buildPng({ width: 2, height: 2, colorType: 0, samples: [0, 0, 0, 0], bitDepth: 16 }), /bit depth 16 is not supported/],
    [buildPng({ width: 2, height: 2, colorType: 0, samples: [0, 0, 0, 0], interlace: 1 }), /interlaced/],
    [buildPng({ width: 2, height: 2, colorType: 0, samples: [0, 0, 0, 0], filters: [0, 5] }), /row 1 has unknown filter type 5/],
    [claimHeight(buildPng({ width: 3, height: 1, colorType: 2, samples: rgb.slice(0, 9) }), 2), /image data has 10 bytes, expected 20/],
    [buildPng({ width: 1, height: 1, colorType: 3, samples: [0] }), /no PLTE/],
  ];
  for (const [bytes, message] of cases) assert.throws(() => decodePng(bytes), message, String(message));
});

test("pngStats counts colours and the share of pixels that differ from the top-left one", () => {
  const white = new Array(4 * 4 * 3).fill(255);
  const blank = pngStats(decodePng(buildPng({ width: 4, height: 4, colorType: 2, samples: white })));
  assert.deepEqual(blank, { colours: 1, background: "#ffffffff", nonBackground: 0 });
  const dots = [...white];
  dots.splice(5 * 3, 3, 255, 0, 0);
  dots.splice(15 * 3, 3, 0, 0, 0);
  const two = pngStats(decodePng(buildPng({ width: 4, height: 4, colorType: 2, samples: dots, filters: [4] })));
  assert.deepEqual(two, { colours: 3, background: "#ffffffff", nonBackground: 2 / 16 });
});
