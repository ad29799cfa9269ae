/**
 * A node:test reporter (plain JS: the runner loads reporters before tsx) for the reliability suite: one row per test, read
 * from the test's name "FAULT → EXPECTED" and its `observed: ...`
 * diagnostics, then a Markdown table and an `N passed, N failed` line.
 *
 *   npm run reliability
 */
const cell = (s) => s.replaceAll("|", "\\|").replaceAll("\n", " ").trim();

/** The reporter: an async generator over the runner's events. */
export default async function* tableReporter(source) {
  const rows = [];
  for await (const { type, data } of source) {
    if (type === "test:diagnostic" && data.message?.startsWith("observed: ")) {
      // A test's diagnostics arrive right after its pass/fail event, without its name.
      const row = rows.findLast((r) => r.file === (data.file ?? "")) ?? rows.at(-1);
      row?.observed.push(data.message.slice("observed: ".length));
    } else if ((type === "test:pass" || type === "test:fail") && data.nesting === 0) {
      const [fault, expected = ""] = data.name.split(" → ", 2);
      const status = data.skip ? "skip" : type === "test:pass" ? "pass" : "fail";
      const observed = [];
      if (status === "fail") {
        const err = data.details?.error;
        observed.push(`FAILED: ${(err?.cause?.message ?? err?.message ?? "").split("\n")[0]}`);
      }
      if (status === "skip") observed.push(`skipped: ${data.skip}`);
      rows.push({ fault, expected, observed, status, file: data.file ?? "" });
    }
  }
  yield "| fault | expected | observed | result |\n|---|---|---|---|\n";
  for (const r of rows) {
    yield `| ${cell(r.fault)} | ${cell(r.expected)} | ${cell(r.observed.join("; ") || "as expected")} | ${r.status === "pass" ? "pass" : r.status === "skip" ? "skipped" : "**FAIL**"} |\n`;
  }
  const passed = rows.filter((r) => r.status === "pass").length;
  const failed = rows.filter((r) => r.status === "fail").length;
  const skipped = rows.filter((r) => r.status === "skip").length;
  yield `\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`;
}
