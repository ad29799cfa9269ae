/**
 * A scripted run's boot timeline: keep the kernel's timestamped console
 * lines (bounded), turn them and the host marks into phases, and write the
 * SVG chart. Shared by `microforge run --timeline` and `vm.exec(cmd, { timeline })`.
 */
import type { Phase } from "./phases.ts";
import { lineSplitter } from "../util/lines.ts";
import { writeFileAtomic } from "../util/cache-dir.ts";
import { renderTimelineSvg } from "./timeline-svg.ts";

/** Keeps console lines that start with a printk timestamp, at most `max` of them. */
export function printkCollector(max = 20_000): { feed(chunk: string): void; readonly lines: readonly string[] } {
  const lines: string[] = [];
  const split = lineSplitter((l) => {
    if (l.startsWith("[") && lines.length < max) lines.push(l);
  });
  return { lines, feed: (chunk) => split.feed(chunk) };
}

/** Write the SVG chart of `phases` to `path` (atomically). */
export async function writeTimeline(path: string, phases: readonly Phase[], o: { title: string; totalMs: number }): Promise<void> {
  await writeFileAtomic(path, renderTimelineSvg(phases, o));
}
