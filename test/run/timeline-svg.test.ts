import { test } from "node:test";
import assert from "node:assert/strict";
import type { Phase } from "../../lib/run/phases.ts";
import { renderTimelineSvg, renderTimelineTable } from "../../lib/run/timeline-svg.ts";
import { assertWellFormed, svgGroup, svgTexts } from "../xml.ts";

const host = (name: string, startMs: number, endMs: number): Phase => ({ name, startMs, endMs, source: "host", depth: 0 });
const guest = (name: string, startMs: number, endMs: number): Phase => ({ name, startMs, endMs, source: "guest", depth: 1 });

/** A typical boot: five top-level phases and two guest details. */
const phases: Phase[] = [
  host("QEMU start + firmware", 0, 48),
  host("kernel boot", 48, 545),
  guest("initramfs unpack", 407.553, 435.553),
  guest("initcall virtio_console_init", 470, 495),
  host("/init to banner", 545, 561),
  host("command", 561, 640),
  host("shutdown", 640, 690),
];
const options = { title: "microforge run -- uname -a", totalMs: 690 };

test("the well-formedness check itself rejects broken XML", () => {
  assert.equal(assertWellFormed(`<a x="1"><b/>t &amp; u</a>`), "a");
  for (const bad of ["<a><b></a></b>", "<a>x & y</a>", '<a b="1" b="2"/>', "<a>1 < 2</a>", "<a>", "<a/><b/>", '<a x="&"/>', "<a x=1/>"]) {
    assert.throws(() => assertWellFormed(bad), assert.AssertionError, bad);
  }
});

test("the SVG is well-formed, self-contained XML with an svg root", () => {
  const svg = renderTimelineSvg(phases, options);
  assert.equal(assertWellFormed(svg), "svg");
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="800"/);
  assert.doesNotMatch(svg, /<script|<style|@import|href=|url\(/);
  assert.doesNotMatch(svg, /NaN|undefined|Infinity/);
});

test("the SVG labels every phase with its duration, and shows the total", () => {
  const all = svgTexts(renderTimelineSvg(phases, options)).join("\n");
  for (const label of ["QEMU start + firmware 48 ms", "kernel boot 497 ms", "/init to banner 16 ms", "command 79 ms", "shutdown 50 ms", "initramfs unpack 28 ms", "initcall virtio_console_init 25 ms"]) {
    assert.ok(all.includes(label), `missing "${label}" in:\n${all}`);
  }
  assert.ok(all.includes("total 690 ms"));
  assert.ok(all.includes("kernel boot 497 ms (72.0%)"));
});

test("the legend's durations add up to the total", () => {
  const svg = renderTimelineSvg(phases, options);
  const legend = svgTexts(svgGroup(svg, "legend"));
  const durations = legend.flatMap((t) => /(\d+(?:\.\d+)?) ms \(/.exec(t)?.[1] ?? []).map(Number);
  assert.equal(durations.length, 5);
  assert.ok(Math.abs(durations.reduce((a, b) => a + b, 0) - 690) <= durations.length * 0.5);
  assert.ok(legend.at(-1)!.startsWith("guest detail"));
});

test("nested phases sit on rows below the stacked bar, one row each", () => {
  const svg = renderTimelineSvg(phases, options);
  const ys = (name: string) => [...svg.matchAll(/<rect x="[^"]*" y="([^"]*)"[^>]*><title>([^<]*)<\/title>/g)].filter((m) => m[2].startsWith(name + ":")).map((m) => Number(m[1]));
  const bar = ys("kernel boot")[0];
  assert.equal(ys("command")[0], bar);
  assert.ok(ys("initramfs unpack")[0] > bar);
  assert.ok(ys("initcall virtio_console_init")[0] > ys("initramfs unpack")[0]);
});

test("the time axis has ticks from 0 within the total", () => {
  const axis = svgGroup(renderTimelineSvg(phases, options), "axis");
  const ticks = svgTexts(axis).map((t) => parseFloat(t));
  assert.ok(svgTexts(axis).every((t) => /^\d+(\.\d+)? ms$/.test(t)));
  assert.equal(ticks[0], 0);
  assert.ok(ticks.length >= 3 && ticks.length <= 12, `${ticks.length} ticks`);
  assert.ok(ticks.every((t, i) => t <= 690 && (i === 0 || t > ticks[i - 1])));
});

test("text is escaped for XML in the title and in labels", () => {
  const nasty = `a<b & "c" 'd'`;
  const svg = renderTimelineSvg([host(nasty, 0, 10)], { title: nasty, totalMs: 10 });
  assertWellFormed(svg);
  assert.ok(svg.includes("a&lt;b &amp; &quot;c&quot; &apos;d&apos;"));
  assert.ok(!svg.includes(nasty));
  assert.ok(svgTexts(svg).includes(`${nasty} 10 ms (100.0%)`));
});

test("a long title is cut with an ellipsis before it reaches the total; <title> keeps it whole", () => {
  const long = `microforge run -- ${"sh -c 'echo a long command line' ".repeat(4)}`;
  const svg = renderTimelineSvg(phases, { ...options, title: long });
  const heading = svgTexts(svg)[0];
  assert.ok(heading.endsWith("…") && long.startsWith(heading.slice(0, -1)), heading);
  // 10 px a character for the 16 px bold title; the total ("total 690 ms") starts at 784 - 12 * 7.
  assert.ok(16 + heading.length * 10 <= 784 - 12 * 7 - 8, `${heading.length} characters`);
  assert.ok(svg.includes(`<title>${long.replace(/'/g, "&apos;")}</title>`));
  assert.equal(svgTexts(renderTimelineSvg(phases, options))[0], options.title);
});

test("a guest label too long for either side of its bar is shortened but keeps its duration", () => {
  const name = "initcall a_really_quite_long_initcall_function_name_here [module]";
  const svg = renderTimelineSvg([host("kernel boot", 0, 1000), guest(name, 450, 550), host("shutdown", 1000, 1100)], { title: "t", totalMs: 1100, width: 400 });
  const label = svgTexts(svg).find((t) => t.startsWith("initcall"))!;
  assert.match(label, /^initcall a_real\S*… 100 ms$/);
  const x = Number(/<text x="([\d.]+)"[^>]*>initcall/.exec(svg)![1]);
  assert.ok(x + label.length * 7 <= 400 - 16, `${label} at ${x} runs past the edge`);
  assert.ok(svg.includes(`<title>${name}: 450 ms to 550 ms (100 ms, guest)</title>`));
});

test("the same phases give the same bytes; a different width changes them", () => {
  assert.equal(renderTimelineSvg(phases, options), renderTimelineSvg(phases.map((p) => ({ ...p })), { ...options }));
  const wide = renderTimelineSvg(phases, { ...options, width: 1200 });
  assert.notEqual(wide, renderTimelineSvg(phases, options));
  assert.match(wide, /^<svg [^>]*width="1200"/);
});

test("an empty timeline still renders", () => {
  const svg = renderTimelineSvg([], { title: "nothing", totalMs: 0 });
  assertWellFormed(svg);
  assert.doesNotMatch(svg, /NaN|Infinity/);
});

test("the table has phase, start, duration and % columns, nested rows indented, and a total", () => {
  const table = renderTimelineTable(phases, 690);
  const lines = table.trimEnd().split("\n");
  assert.deepEqual(lines[0].trim().split(/\s{2,}/), ["phase", "start", "duration", "%"]);
  assert.equal(lines.length, phases.length + 2);
  const row = (name: string) => lines.find((l) => l.trimStart().startsWith(name))!;
  assert.deepEqual(row("kernel boot").trim().split(/\s{2,}/), ["kernel boot", "48 ms", "497 ms", "72.0%"]);
  assert.match(row("initramfs unpack"), /^ {2}initramfs unpack\s+408 ms\s+28 ms\s+4\.1%$/);
  assert.deepEqual(lines.at(-1)!.trim().split(/\s{2,}/), ["total", "690 ms", "100.0%"]);
  // Numbers are right-aligned: every row is as long as the header.
  assert.ok(lines.every((l) => l.length === lines[0].length), table);
});
