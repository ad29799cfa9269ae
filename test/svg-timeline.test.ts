import { test } from "node:test";
import assert from "node:assert/strict";
import type { Phase } from "../lib/boot-phases.ts";
import { renderTimelineSvg, renderTimelineTable } from "../lib/svg-timeline.ts";

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

/**
 * Check that `xml` is well-formed: one root, tags nested and closed in order,
 * attribute values quoted and unique, `<` never and `&` only as an entity in
 * text or values. Returns the root element's name. (Node has no DOMParser.)
 */
function assertWellFormed(xml: string): string {
  const badAmp = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[\da-fA-F]+);)/;
  const stack: string[] = [];
  let root: string | undefined;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const content = xml.slice(i, lt < 0 ? xml.length : lt);
    assert.doesNotMatch(content, badAmp, `bare & in text at ${i}`);
    if (!stack.length) assert.equal(content.trim(), "", `text outside the root at ${i}`);
    if (lt < 0) break;
    if (xml.startsWith("<!--", lt) || xml.startsWith("<?", lt)) {
      const close = xml.startsWith("<!--", lt) ? "-->" : "?>";
      const e = xml.indexOf(close, lt);
      assert.ok(e >= 0, `unterminated ${close} at ${lt}`);
      i = e + close.length;
      continue;
    }
    let gt = lt + 1;
    for (let quote = ""; gt < xml.length && (quote || xml[gt] !== ">"); gt++) {
      if (quote ? xml[gt] === quote : xml[gt] === '"' || xml[gt] === "'") quote = quote ? "" : xml[gt];
      else if (!quote) assert.notEqual(xml[gt], "<", `< inside a tag at ${gt}`);
    }
    assert.ok(gt < xml.length, `unterminated tag at ${lt}`);
    const tag = xml.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      assert.equal(stack.pop(), name, `</${name}> at ${lt} closes the wrong element`);
      continue;
    }
    const selfClosing = tag.endsWith("/");
    const m = /^([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*$/.exec(selfClosing ? tag.slice(0, -1) : tag);
    assert.ok(m, `malformed tag <${tag}>`);
    const attrs = [...m[2].matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*("[^"]*"|'[^']*')/g)];
    assert.equal(new Set(attrs.map((a) => a[1])).size, attrs.length, `duplicate attribute in <${tag}>`);
    for (const a of attrs) assert.doesNotMatch(a[2], badAmp, `bare & in <${tag}>`);
    if (!stack.length) {
      assert.equal(root, undefined, `a second root <${m[1]}>`);
      root = m[1];
    }
    if (!selfClosing) stack.push(m[1]);
  }
  assert.deepEqual(stack, [], "unclosed elements");
  assert.ok(root, "no root element");
  return root;
}

/** The text of every <text> element, unescaped. */
function texts(svg: string): string[] {
  const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1].replace(/&(\w+);/g, (_, e: string) => entities[e]));
}

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
  const all = texts(renderTimelineSvg(phases, options)).join("\n");
  for (const label of ["QEMU start + firmware 48 ms", "kernel boot 497 ms", "/init to banner 16 ms", "command 79 ms", "shutdown 50 ms", "initramfs unpack 28 ms", "initcall virtio_console_init 25 ms"]) {
    assert.ok(all.includes(label), `missing "${label}" in:\n${all}`);
  }
  assert.ok(all.includes("total 690 ms"));
  assert.ok(all.includes("kernel boot 497 ms (72.0%)"));
});

test("the legend's durations add up to the total", () => {
  const svg = renderTimelineSvg(phases, options);
  const legend = texts(/<g id="legend">([\s\S]*?)<\/g>/.exec(svg)![1]);
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
  const axis = /<g id="axis">([\s\S]*?)<\/g>/.exec(renderTimelineSvg(phases, options))![1];
  const ticks = texts(axis).map((t) => parseFloat(t));
  assert.ok(texts(axis).every((t) => /^\d+(\.\d+)? ms$/.test(t)));
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
  assert.ok(texts(svg).includes(`${nasty} 10 ms (100.0%)`));
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
