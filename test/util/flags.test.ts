import { test } from "node:test";
import assert from "node:assert/strict";
import { type FlagSpec, parseFlagList } from "../../lib/util/flags.ts";

const flags: FlagSpec[] = [
  { name: "memory", alias: "m", type: "string", default: "512M", description: "" },
  { name: "quiet", alias: "q", type: "boolean", description: "" },
  { name: "yes", alias: "y", type: "boolean", description: "" },
  { name: "append", type: "strings", description: "" },
  { name: "output", alias: "o", type: "string", description: "" },
];
const parse = (...argv: string[]) => parseFlagList(flags, argv, { who: "`t`", help: "`t --help`", env: {} });

test("the forms people type: groups, attached values, true/false words, --no-, negative numbers, and -- before positionals", () => {
  assert.deepEqual(parse("-qy", "-m1G", "--append", "a", "--append=b", "x", "--", "--not-a-flag").memory, "1G");
  const r = parse("-qy", "--append", "a", "--append=b", "x", "--", "--not-a-flag");
  assert.deepEqual([r.quiet, r.yes, r.append, r._], [true, true, ["a", "b"], ["x", "--not-a-flag"]]);
  assert.equal(parse("--quiet", "false").quiet, false);
  assert.equal(parse("--quiet=false").quiet, false);
  assert.equal(parse("--no-quiet").quiet, false);
  assert.equal(parse("--memory", "-1").memory, "-1", "a negative number is a value, so the flag's own check names it");
  assert.equal(parse().memory, "512M");
  assert.deepEqual(parse().append, []);
});

test("mistakes are usage errors (exit 2) that say what to do", () => {
  const refused = (argv: string[], re: RegExp) => assert.throws(() => parse(...argv), (err: Error & { exitCode?: number }) => err.name === "UsageError" && err.exitCode === 2 && re.test(err.message));
  refused(["--memroy", "1G"], /^Unknown option --memroy for `t`\n {2}→ did you mean --memory\? See `t --help`$/);
  refused(["-z"], /^Unknown option -z for `t`/);
  refused(["--output"], /^Option --output needs a value/);
  refused(["-o", "a", "--output", "b"], /^Option --output was given more than once/);
});

test("lenient parsing reads its own flags out of a longer argv; keepUnset leaves the rest to the caller", () => {
  const own: FlagSpec[] = [{ name: "locked", type: "boolean", description: "" }];
  assert.equal(parseFlagList(own, ["--hz", "250", "--locked", "--", "x"], { who: "r", help: "h", lenient: true }).locked, true);
  assert.equal(parseFlagList(own, ["--hz", "250"], { who: "r", help: "h", lenient: true }).locked, false);
  assert.equal(parseFlagList(flags, [], { who: "r", help: "h", keepUnset: true }).memory, undefined);
});

test("a value flag with an optional value: bare, with a value, before -- and attached", () => {
  const flags: FlagSpec[] = [{ name: "gdb", type: "string", optional: "1234", description: "" }, { name: "quiet", type: "boolean", description: "" }];
  const o = { who: "t", help: "t --help" };
  assert.equal(parseFlagList(flags, ["--gdb"], o).gdb, "1234");
  assert.equal(parseFlagList(flags, ["--gdb", "--quiet"], o).gdb, "1234");
  assert.equal(parseFlagList(flags, ["--gdb", "4321"], o).gdb, "4321");
  assert.equal(parseFlagList(flags, ["--gdb=4000"], o).gdb, "4000");
  const r = parseFlagList(flags, ["--gdb", "--", "true"], o);
  assert.equal(r.gdb, "1234");
  assert.deepEqual(r._, ["true"]);
  assert.equal(parseFlagList(flags, [], o).gdb, undefined);
});
