/**
 * Drawing a boot timeline: a self-contained SVG (no fonts, CSS or scripts to
 * fetch) and a plain-text table for the terminal. The same phases always give
 * the same bytes.
 */
import type { Phase } from "./phases.ts";

/** Options of {@linkcode renderTimelineSvg}. */
export interface TimelineSvgOptions {
  title: string;
  /** The run's length in ms: the axis spans [0, totalMs]. */
  totalMs: number;
  /** Image width in px (default 800). */
  width?: number;
}

// Light colours, so dark text on them stays readable.
const PALETTE = ["#a6cee3", "#fdbf6f", "#b2df8a", "#fb9a99", "#cab2d6", "#ffff99", "#8dd3c7", "#fccde5"];
const GUEST = "#e0e0e0";
const PAD = 16;
const BAR_H = 28;
const ROW_H = 18;
const GAP = 4;
// Rough average advances: 12 px sans-serif, and the 16 px bold title. No font
// metrics without a browser, so text is laid out from these estimates.
const CHAR_W = 7;
const TITLE_CHAR_W = 10;

/** The chart's horizontal scale: the plot's width and where a time lands on it. */
interface Scale {
  width: number;
  plotW: number;
  total: number;
  x(ms: number): number;
}

/** The bars: one row for the top-level phases, then one row per nested (guest) phase. */
function bars(top: readonly Phase[], nested: readonly Phase[], sc: Scale, barY: number): string[] {
  const out: string[] = [`<g id="bars">`];
  top.forEach((p, i) => {
    const x0 = sc.x(p.startMs);
    const w = sc.x(p.endMs) - x0;
    out.push(rect(x0, barY, w, BAR_H, PALETTE[i % PALETTE.length], p));
    const label = [`${p.name} ${ms(p.endMs - p.startMs)}`, ms(p.endMs - p.startMs)].find((l) => textW(l) + 6 <= w);
    if (label) out.push(text(x0 + w / 2, barY + BAR_H / 2 + 4, label, "middle"));
  });
  nested.forEach((p, i) => {
    const y = barY + BAR_H + GAP + i * (ROW_H + GAP);
    const x0 = sc.x(p.startMs);
    const x1 = sc.x(p.endMs);
    out.push(rect(x0, y, x1 - x0, ROW_H, GUEST, p));
    const duration = ms(p.endMs - p.startMs);
    const label = `${p.name} ${duration}`;
    const ty = y + ROW_H / 2 + 4;
    const right = sc.width - PAD - (x1 + 4);
    const left = x0 - 4 - PAD;
    // Beside the bar when it is too narrow: right if the label fits there,
    // else the roomier side, the name shortened if need be (the tooltip has it whole).
    const beside = (room: number) => `${shorten(p.name, room - textW(` ${duration}`), CHAR_W)} ${duration}`;
    if (textW(label) + 6 <= x1 - x0) out.push(text((x0 + x1) / 2, ty, label, "middle"));
    else if (textW(label) <= right || right >= left) out.push(text(x1 + 4, ty, beside(right), "start"));
    else out.push(text(x0 - 4, ty, beside(left), "end"));
  });
  out.push(`</g>`);
  return out;
}

/** The time axis at `axisY`, with ticks at a round step. */
function axis(sc: Scale, axisY: number): string[] {
  const out = [`<g id="axis">`, `<line x1="${n(PAD)}" y1="${n(axisY)}" x2="${n(PAD + sc.plotW)}" y2="${n(axisY)}" stroke="#333"/>`];
  const step = niceStep(sc.total / Math.max(1, Math.floor(sc.plotW / 90)));
  for (let i = 0; step > 0 && i * step <= sc.total + 1e-9; i++) {
    const v = Number((i * step).toPrecision(12));
    const tx = sc.x(v);
    const anchor = i === 0 ? "start" : tx > PAD + sc.plotW - 30 ? "end" : "middle";
    out.push(`<line x1="${n(tx)}" y1="${n(axisY)}" x2="${n(tx)}" y2="${n(axisY + 5)}" stroke="#333"/>`);
    out.push(text(tx, axisY + 18, `${v} ms`, anchor, "#333"));
  }
  out.push(`</g>`);
  return out;
}

/** The legend from `y` down: a swatch and the share of the total per top-level phase; resolves to its items and where it ends. */
function legend(top: readonly Phase[], nested: readonly Phase[], total: number, y: number): { items: string[]; end: number } {
  const items: string[] = [];
  let ly = y;
  top.forEach((p, i) => {
    items.push(swatch(ly, PALETTE[i % PALETTE.length]), text(PAD + 18, ly + 10, `${p.name} ${ms(p.endMs - p.startMs)} (${pct(p.endMs - p.startMs, total)})`, "start"));
    ly += ROW_H;
  });
  if (nested.length) {
    items.push(swatch(ly, GUEST), text(PAD + 18, ly + 10, "guest detail (kernel printk timestamps)", "start"));
    ly += ROW_H;
  }
  return { items, end: ly };
}

/** Render phases as an SVG: top-level phases as one stacked bar, nested ones on rows below, an axis and a legend. */
export function renderTimelineSvg(phases: readonly Phase[], options: TimelineSvgOptions): string {
  const width = options.width ?? 800;
  const total = Math.max(0, options.totalMs);
  const plotW = width - 2 * PAD;
  const sc: Scale = { width, plotW, total, x: (ms) => PAD + (total > 0 ? (Math.min(Math.max(ms, 0), total) / total) * plotW : 0) };
  const top = phases.filter((p) => p.depth === 0);
  const nested = phases.filter((p) => p.depth !== 0);
  const barY = 44;
  const axisY = barY + BAR_H + GAP + nested.length * (ROW_H + GAP) + 6;
  const { items, end } = legend(top, nested, total, axisY + 40);
  const height = end + PAD;
  const title = esc(options.title);
  const totalLabel = `total ${ms(total)}`;
  // A long command line would run into the total: cut it (the <title> keeps it whole).
  const heading = esc(shorten(options.title, width - 2 * PAD - textW(totalLabel) - 16, TITLE_CHAR_W));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${n(height)}" viewBox="0 0 ${width} ${n(height)}" role="img" aria-label="${title}" font-family="sans-serif" font-size="12">`,
    `<title>${title}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${PAD}" y="26" font-size="16" font-weight="bold" fill="#111">${heading}</text>`,
    text(width - PAD, 26, totalLabel, "end"),
    ...bars(top, nested, sc, barY),
    ...axis(sc, axisY),
    `<g id="legend">`,
    ...items,
    `</g>`,
    `</svg>`,
    "",
  ].join("\n");
}

/** Render phases as a plain-text table: phase, start, duration and % of `totalMs`; nested phases indented. */
export function renderTimelineTable(phases: readonly Phase[], totalMs: number): string {
  const rows = [
    ["phase", "start", "duration", "%"],
    ...phases.map((p) => ["  ".repeat(p.depth) + p.name, ms(p.startMs), ms(p.endMs - p.startMs), pct(p.endMs - p.startMs, totalMs)]),
    ["total", "", ms(totalMs), pct(totalMs, totalMs)],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ").trimEnd()).join("\n") + "\n";
}

/** A duration for people: whole ms, one decimal below 10 ms. */
function ms(value: number): string {
  const r = Math.abs(value) < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  return `${Object.is(r, -0) ? 0 : r} ms`;
}

function pct(part: number, total: number): string {
  return `${(total > 0 ? (part / total) * 100 : 0).toFixed(1)}%`;
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  if (!(raw > 0)) return 0;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw * (1 - 1e-9))!;
}

function textW(s: string): number {
  return s.length * CHAR_W;
}

/** `s`, or its start and an ellipsis, in at most `maxW` px at `charW` px a character. */
function shorten(s: string, maxW: number, charW: number): string {
  const chars = Math.floor(maxW / charW);
  return s.length <= chars ? s : `${s.slice(0, Math.max(0, chars - 1)).trimEnd()}…`;
}

/** A number for an attribute: at most two decimals, so the output is stable. */
function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&${({ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" } as Record<string, string>)[c]};`);
}

function text(tx: number, ty: number, content: string, anchor: "start" | "middle" | "end", fill = "#111"): string {
  return `<text x="${n(tx)}" y="${n(ty)}" text-anchor="${anchor}" fill="${fill}">${esc(content)}</text>`;
}

function rect(rx: number, ry: number, w: number, h: number, fill: string, p: Phase): string {
  const tip = `${p.name}: ${ms(p.startMs)} to ${ms(p.endMs)} (${ms(p.endMs - p.startMs)}, ${p.source})`;
  return `<rect x="${n(rx)}" y="${n(ry)}" width="${n(Math.max(w, 0))}" height="${h}" fill="${fill}" stroke="#555" stroke-width="0.5"><title>${esc(tip)}</title></rect>`;
}

function swatch(y: number, fill: string): string {
  return `<rect x="${PAD}" y="${n(y)}" width="12" height="12" fill="${fill}" stroke="#555" stroke-width="0.5"/>`;
}
