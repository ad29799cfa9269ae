/**
 * A small PNG reader for tests: enough of the format (PNG spec, 2nd ed.,
 * https://www.w3.org/TR/png/) to check that a screenshot shows something.
 * 8-bit greyscale, RGB, palette, grey+alpha and RGBA, not interlaced; every
 * chunk's CRC is checked.
 */
import { inflateSync } from "node:zlib";

/** A decoded PNG: its header and the pixels as 8-bit RGBA, row by row. */
export interface PngImage {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** `width * height * 4` bytes: R, G, B, A per pixel. */
  rgba: Uint8Array;
}

/** What a picture holds, judged against its top-left pixel as the background. */
export interface PngStats {
  /** Distinct RGBA values. */
  colours: number;
  /** The top-left pixel as `#rrggbbaa`. */
  background: string;
  /** Share of pixels (0 to 1) that differ from the background. */
  nonBackground: number;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Samples per pixel by colour type (§11.2.2). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309, the one PNG chunks and gzip use) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Decode a PNG file's bytes; throws naming what is wrong or unsupported. */
export function decodePng(bytes: Uint8Array): PngImage {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) throw new Error("Cannot decode PNG: the signature is wrong");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat: Uint8Array[] = [];
  let header: { width: number; height: number; bitDepth: number; colorType: number } | undefined;
  let palette: Uint8Array | undefined;
  let alphas: Uint8Array | undefined;
  let ended = false;
  for (let at = 8; !ended;) {
    if (at + 12 > bytes.length) throw new Error("Cannot decode PNG: it ends before IEND");
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (at + 12 + length > bytes.length) throw new Error(`Cannot decode PNG: chunk ${type} runs past the end`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) throw new Error(`Cannot decode PNG: chunk ${type} has a bad CRC`);
    if (!header && type !== "IHDR") throw new Error(`Cannot decode PNG: ${type} comes before IHDR`);
    if (type === "IHDR") {
      const d = new DataView(data.buffer, data.byteOffset, data.byteLength);
      header = { width: d.getUint32(0), height: d.getUint32(4), bitDepth: data[8], colorType: data[9] };
      if (data[12] !== 0) throw new Error("Cannot decode PNG: interlaced images are not supported");
    } else if (type === "PLTE") palette = data;
    else if (type === "tRNS") alphas = data;
    else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") ended = true;
    at += 12 + length;
  }
  const { width, height, bitDepth, colorType } = header!;
  const channels = CHANNELS[colorType];
  if (!channels || bitDepth !== 8) throw new Error(`Cannot decode PNG: colour type ${colorType} at bit depth ${bitDepth} is not supported (8-bit only)`);
  if (colorType === 3 && !palette) throw new Error("Cannot decode PNG: a palette image has no PLTE chunk");
  if (!(width > 0 && height > 0)) throw new Error(`Cannot decode PNG: the size ${width}x${height} is empty`);
  const raw = unfilter(new Uint8Array(inflateSync(concat(idat))), width * channels, height, channels);
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const s = raw.subarray(p * channels, (p + 1) * channels);
    const px = colorType === 0 ? [s[0], s[0], s[0], 255]
      : colorType === 2 ? [s[0], s[1], s[2], 255]
      : colorType === 3 ? [palette![s[0] * 3], palette![s[0] * 3 + 1], palette![s[0] * 3 + 2], alphas?.[s[0]] ?? 255]
      : colorType === 4 ? [s[0], s[0], s[0], s[1]]
      : [s[0], s[1], s[2], s[3]];
    rgba.set(px, p * 4);
  }
  return { width, height, bitDepth, colorType, rgba };
}

/** Colours and the share of non-background pixels, the background being the top-left pixel. */
export function pngStats(image: PngImage): PngStats {
  const px = new DataView(image.rgba.buffer, image.rgba.byteOffset, image.rgba.byteLength);
  const background = px.getUint32(0);
  const colours = new Set<number>();
  let differ = 0;
  for (let p = 0; p < image.width * image.height; p++) {
    const c = px.getUint32(p * 4);
    colours.add(c);
    if (c !== background) differ++;
  }
  return { colours: colours.size, background: `#${background.toString(16).padStart(8, "0")}`, nonBackground: differ / (image.width * image.height) };
}

/** Undo the per-scanline filters (§9): each row starts with its filter type 0 to 4. */
function unfilter(data: Uint8Array, rowBytes: number, height: number, bpp: number): Uint8Array {
  if (data.length !== height * (rowBytes + 1)) throw new Error(`Cannot decode PNG: the image data has ${data.length} bytes, expected ${height * (rowBytes + 1)}`);
  const out = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = data[y * (rowBytes + 1)];
    if (filter > 4) throw new Error(`Cannot decode PNG: row ${y} has unknown filter type ${filter}`);
    const line = data.subarray(y * (rowBytes + 1) + 1, (y + 1) * (rowBytes + 1));
    const row = out.subarray(y * rowBytes, (y + 1) * rowBytes);
    const up = y > 0 ? out.subarray((y - 1) * rowBytes, y * rowBytes) : new Uint8Array(rowBytes);
    for (let i = 0; i < rowBytes; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = up[i];
      const c = i >= bpp ? up[i - bpp] : 0;
      row[i] = (line[i] + predict(filter, a, b, c)) & 0xff;
    }
  }
  return out;
}

/** What filter type `filter` predicts from the bytes left (a), up (b) and upper-left (c). */
function predict(filter: number, a: number, b: number, c: number): number {
  switch (filter) {
    case 1:
      return a;
    case 2:
      return b;
    case 3:
      return (a + b) >> 1;
    case 4:
      return paeth(a, b, c);
    default:
      return 0;
  }
}

/** The Paeth predictor (§9.4): whichever of left, up, upper-left is nearest a + b - c, ties in that order. */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
