/**
 * The doctor's report as text for people (one line per item, ✓ ✗ !) and as
 * JSON for scripts. Pure functions of the checked items.
 */
import type { HostItem } from "./checks.ts";
import { hostReady } from "./checks.ts";

/** The `--json` document. */
export interface DoctorJson {
  /** Every required item is ok (KVM is not required). */
  ok: boolean;
  /** KVM ran a test guest; false means guests boot under TCG. */
  kvm: boolean;
  /** Distribution family used for install hints, null when unknown. */
  distro: string | null;
  items: HostItem[];
}

/** Build the `--json` document. */
export function doctorJson(items: readonly HostItem[], distro: string | undefined): DoctorJson {
  return { ok: hostReady(items), kvm: kvmUsable(items), distro: distro ?? null, items: [...items] };
}

/** True when the KVM item is present and ok. */
export function kvmUsable(items: readonly HostItem[]): boolean {
  return items.some((i) => i.id === "kvm" && i.status === "ok");
}

function icon(item: HostItem): string {
  if (item.status === "ok") return "✓";
  return item.required ? "✗" : "!";
}

/** Options for {@linkcode formatReport}. */
export interface ReportOptions {
  /** Only the items that are not ok, and the warnings. */
  quiet?: boolean;
  /** Add the KVM warning and the ready / not ready line (default true). */
  summary?: boolean;
}

/** The report for people: one line per item with how to fix it, then a summary. */
export function formatReport(items: readonly HostItem[], options: ReportOptions = {}): string {
  const shown = options.quiet ? items.filter((i) => i.status !== "ok") : items;
  const width = Math.max(0, ...shown.map((i) => i.label.length)) + 2;
  const lines: string[] = [];
  for (const item of shown) {
    lines.push(`${icon(item)} ${item.label.padEnd(width)}${item.detail}`);
    if (item.fix) lines.push(`  ${"".padEnd(width)}→ ${item.fix.hint}`);
  }
  if (options.summary === false) return lines.length ? `${lines.join("\n")}\n` : "";
  const kvm = items.find((i) => i.id === "kvm");
  if (kvm && kvm.status !== "ok") {
    lines.push("", "! KVM IS NOT USABLE (see above): microforge will boot guests with TCG, software emulation.");
    lines.push("! They work, but boot several times slower.");
  }
  const missing = items.filter((i) => i.required && i.status !== "ok");
  if (missing.length) {
    lines.push("", `✗ Not ready: ${missing.map((i) => i.label).join(", ")}. Run \`microforge doctor --fix\` to install what is missing.`);
  } else if (!options.quiet) {
    lines.push("", "Ready: everything microforge needs is here.");
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}
