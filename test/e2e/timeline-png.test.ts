/**
 * The boot timeline of a real run (`run --timings --timeline boot.svg -- true`,
 * the kernel run.test.ts uses, under TCG): the SVG is well-formed XML whose
 * phase labels and durations match the measured total, and headless Chromium
 * draws it as a picture that is not blank.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { runProcess } from "../../lib/util/process.ts";
import { cli, onDeno, tempDir } from "../helpers.ts";
import { decodePng, type PngImage, pngStats, type PngStats } from "../png.ts";
import { assertWellFormed, svgGroup, svgTexts } from "../xml.ts";

const CHROMIUM = "/usr/bin/chromium";
const onCi = !["", "0", "false"].includes(process.env.CI ?? "");
const skip = onDeno ? "boots a VM from the CLI; runs under Node (Deno has its own smoke boot)" : false;
const skipChromium = skip ||
  (!existsSync(CHROMIUM) && !onCi ? `${CHROMIUM} is missing (apt-get install chromium); with CI=true this test fails instead` : false);

let dir: string;
let svgPath: string;
let svg: string;
let table: string;

before(async () => {
  if (skip) return;
  dir = await tempDir("timeline-png-");
  svgPath = join(dir, "boot.svg");
  const args = ["run", "--quiet", "--kernel-source", "debian", "--kernel-version", "6.1", "--accel", "tcg", "--timings", "--timeline", svgPath, "--", "true"];
  const r = await cli(args, { env: { MICROFORGE_BUSYBOX_SOURCE: "host" } });
  assert.equal(r.code, 0, r.stderr);
  table = r.stderr;
  svg = await readFile(svgPath, "utf8");
}, { timeout: 30 * 60_000 });

/** A number from the SVG root's attribute `name`. */
function rootNumber(name: string): number {
  const m = new RegExp(`^<svg [^>]*\\b${name}="([\\d.]+)"`).exec(svg);
  assert.ok(m, `the <svg> root has no ${name}`);
  return Number(m[1]);
}

test("a real run's SVG is well-formed XML, labels every phase, and its durations add up to the measured total", { skip, timeout: 60_000 }, () => {
  assert.equal(assertWellFormed(svg), "svg");
  const tableTotal = /^total\s+(\d+(?:\.\d+)?) ms\s+100\.0%$/m.exec(table);
  assert.ok(tableTotal, `no total in the --timings table:\n${table}`);
  const total = Number(tableTotal[1]);
  assert.ok(total > 0);
  const texts = svgTexts(svg);
  assert.ok(texts.includes(`total ${total} ms`), `the SVG does not show "total ${total} ms":\n${texts.join("\n")}`);

  // The legend: one "name D ms (P%)" row per top-level phase, then the guest-detail key.
  const legend = svgTexts(svgGroup(svg, "legend")).filter((t) => !t.startsWith("guest detail"));
  const parsed = legend.map((t) => /^(.+) (\d+(?:\.\d+)?) ms \((\d+\.\d)%\)$/.exec(t));
  assert.ok(parsed.every(Boolean), `a legend row without "D ms (P%)":\n${legend.join("\n")}`);
  const names = parsed.map((m) => m![1]);
  const durations = parsed.map((m) => Number(m![2]));
  const percents = parsed.map((m) => Number(m![3]));
  // The --timings table printed the same run: "name  start  duration  %" rows, nested ones indented.
  const topRows = table.split("\n").flatMap((l) => /^(\S.*?)\s{2,}[\d.]+ ms\s+([\d.]+) ms\s+[\d.]+%$/.exec(l)?.slice(1) ?? []);
  assert.deepEqual(names.flatMap((name, i) => [name, String(durations[i])]), topRows, "the legend lists the phases and durations of the --timings table");
  assert.ok(names.includes("kernel boot") && names[0].startsWith("QEMU start"), names.join(", "));
  // Each legend duration is rounded to whole ms (0.1 ms below 10): the sum is within half a unit each of the total.
  const sum = durations.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - total) <= 0.5 * durations.length, `legend durations ${durations.join(" + ")} = ${sum}, total ${total}`);
  const pctSum = percents.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(pctSum - 100) <= 0.05 * percents.length, `percentages add up to ${pctSum}`);

  // The bars: the top-level ones tile the axis end to end; every phase has a tooltip, every guest phase a label.
  const bars = svgGroup(svg, "bars");
  const rects = [...bars.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*><title>([^<]*): [\d.]+ ms to [\d.]+ ms \([\d.]+ ms, (host|guest)\)<\/title>/g)];
  const hostRects = rects.filter((m) => m[4] === "host");
  assert.deepEqual(hostRects.map((m) => m[3]), names);
  const width = rootNumber("width");
  let edge = 16;
  for (const [, x, w, name] of hostRects) {
    assert.ok(Math.abs(Number(x) - edge) <= 0.02, `${name} starts at ${x}, not at ${edge}`);
    edge = Number(x) + Number(w);
  }
  assert.ok(Math.abs(edge - (width - 16)) <= 0.02, `the bar ends at ${edge}, not at ${width - 16}`);
  const barTexts = svgTexts(bars).join("\n");
  for (const [, , , name] of rects.filter((m) => m[4] === "guest")) assert.ok(barTexts.includes(name.slice(0, 12)), `no label for ${name}`);
});

/** Throws unless the picture has a white background, many colours (antialiased text) and a fair share of ink. */
function assertNotBlank(stats: PngStats): void {
  const what = `${stats.colours} colour${stats.colours === 1 ? "" : "s"}, ${(stats.nonBackground * 100).toFixed(1)}% of pixels differ from the background ${stats.background}`;
  assert.ok(stats.colours > 16 && stats.nonBackground > 0.03, `The picture is blank: ${what}`);
  assert.ok(stats.nonBackground < 0.6, `The picture is mostly ink, not a chart on a background: ${what}`);
  assert.equal(stats.background, "#ffffffff", `The background is not white: ${what}`);
}

/** Pixels of exactly `hex` (#rrggbb). */
function countColour(image: PngImage, hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let p = 0; p < image.rgba.length; p += 4) if (image.rgba[p] === r && image.rgba[p + 1] === g && image.rgba[p + 2] === b) n++;
  return n;
}

/** Screenshot `svgFile` at width x height with headless Chromium; a fresh profile each time, killed after 60 s. */
async function screenshot(svgFile: string, width: number, height: number): Promise<PngImage> {
  const png = svgFile.replace(/\.svg$/, ".png");
  const profile = await mkdtemp(join(dir, "chromium-"));
  try {
    const r = await runProcess([
      CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
      // No network here: without these it retries QUIC, updates and sync many times.
      "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--hide-scrollbars", "--force-device-scale-factor=1", `--user-data-dir=${profile}`,
      `--window-size=${width},${height}`, `--screenshot=${png}`, pathToFileURL(svgFile).href,
    ], { timeoutMs: 60_000, nothrow: true });
    assert.equal(r.code, 0, `chromium ended with ${r.code ?? r.signal}:\n${r.stderr.slice(-3000)}`);
    return decodePng(new Uint8Array(await readFile(png)));
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

test("headless Chromium draws the chart at its size with the phase colours and text; an empty SVG counts as blank", { skip: skipChromium, timeout: 120_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it with apt-get install chromium (.ci/run does)`);
  const [width, height] = [rootNumber("width"), rootNumber("height")];
  const image = await screenshot(svgPath, width, height);
  assert.deepEqual([image.width, image.height], [width, height]);
  const stats = pngStats(image);
  assertNotBlank(stats);
  // Each top-level phase's fill shows (its legend swatch alone is 12 x 12 px), and so does dark text.
  const fills = [...svgGroup(svg, "bars").matchAll(/<rect [^>]*fill="(#[\da-f]{6})"[^>]*><title>[^<]*, host\)/g)].map((m) => m[1]);
  assert.ok(fills.length >= 3, `${fills.length} top-level bars`);
  for (const fill of fills) assert.ok(countColour(image, fill) >= 100, `${fill}: ${countColour(image, fill)} px`);
  assert.ok(countColour(image, "#111111") >= 300, `text: ${countColour(image, "#111111")} px of #111111`);

  const empty = join(dir, "empty.svg");
  await writeFile(empty, `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"/>\n`);
  const blank = pngStats(await screenshot(empty, width, height));
  assert.throws(() => assertNotBlank(blank), /The picture is blank: 1 colour, 0\.0% of pixels/);
});
