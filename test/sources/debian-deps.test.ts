import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { aptDependsArgv, dependencyClosure, parseAptDepends, resolvePackages } from "../../lib/sources/debian-deps.ts";
import { PackageError } from "../../lib/util/errors.ts";
import type { Runner } from "../../lib/util/process.ts";
import { repoRoot } from "../helpers.ts";

/** Output of `apt-cache depends --recurse ...` and `apt-cache show` recorded on Debian 12 (amd64). */
const fixture = (name: string) => readFileSync(join(repoRoot, "test", "fixtures", "apt", name), "utf8");

test("the apt-cache command asks for hard dependencies only, Pre-Depends included", () => {
  const argv = aptDependsArgv(["jq"]);
  assert.deepEqual(argv.slice(0, 3), ["apt-cache", "depends", "--recurse"]);
  assert.ok(argv.includes("--no-recommends") && argv.includes("--no-suggests"));
  assert.ok(!argv.includes("--no-pre-depends"), "Pre-Depends are needed to run a package");
  assert.equal(argv.at(-1), "jq");
});

test("jq's closure is jq, its libraries and libc6 with what libc6 needs", () => {
  const closure = dependencyClosure(["jq"], parseAptDepends(fixture("depends-jq.txt")));
  assert.deepEqual(closure.order, ["jq", "libjq1", "libc6", "libonig5", "libgcc-s1", "gcc-12-base"]);
  assert.deepEqual(closure.depends.jq, ["libjq1", "libc6"]);
  assert.deepEqual(closure.depends["gcc-12-base"], []);
});

test("Pre-Depends are followed: python3-minimal needs dpkg, tar and their libraries", () => {
  const graph = parseAptDepends(fixture("depends-python3-minimal.txt"));
  assert.deepEqual(graph.packages.get("python3-minimal")?.map((g) => [g.kind, g.alternatives[0].name]), [["PreDepends", "python3.11-minimal"], ["Depends", "dpkg"]]);
  const closure = dependencyClosure(["python3-minimal"], graph);
  assert.equal(closure.order.length, 18);
  for (const name of ["python3.11-minimal", "libpython3.11-minimal", "dpkg", "tar", "libacl1", "libc6", "libssl3"]) assert.ok(closure.order.includes(name), name);
});

test("an alternative takes the first real package, and a virtual one is read with its providers", () => {
  const graph = parseAptDepends(fixture("depends-man-db.txt"));
  const groups = graph.packages.get("man-db")!;
  const bsd = groups.find((g) => g.alternatives[0].name === "bsdextrautils")!;
  assert.deepEqual(bsd.alternatives.map((a) => a.name), ["bsdextrautils", "bsdmainutils"]);
  const debconf = groups.find((g) => g.alternatives[0].name === "debconf")!;
  assert.deepEqual(debconf.alternatives[1], { name: "debconf-2.0", virtual: true, providers: ["cdebconf", "debconf"] });
  assert.ok(graph.virtual.has("debconf-2.0"));
  const closure = dependencyClosure(["man-db"], graph);
  assert.ok(closure.order.includes("bsdextrautils") && closure.order.includes("debconf"));
  // apt-cache recursed into every alternative; the closure takes one of each.
  assert.ok(!closure.order.includes("bsdmainutils") && !closure.order.includes("cdebconf"));
  assert.ok(graph.packages.has("bsdmainutils") && graph.packages.has("cdebconf"));
});

test("an alternative already needed elsewhere is reused instead of the first one", () => {
  const text = "app\n |Depends: mawk\n  Depends: gawk\n  Depends: tool\ntool\n  Depends: gawk\nmawk\ngawk\n";
  const closure = dependencyClosure(["app"], parseAptDepends(text));
  assert.deepEqual(closure.order, ["app", "tool", "gawk"]);
  assert.deepEqual(closure.depends.app, ["tool", "gawk"]);
});

test("a virtual-only dependency takes its first provider apt knows", () => {
  const text = "app\n  Depends: <mail-transport-agent>\n    gone\n    exim4-daemon-light\nexim4-daemon-light\n<mail-transport-agent>\n";
  assert.deepEqual(dependencyClosure(["app"], parseAptDepends(text)).order, ["app", "exim4-daemon-light"]);
});

test("a dependency nothing provides is refused, naming the package and what it needs", () => {
  const text = "app\n  Depends: <nothing-provides-this>\n<nothing-provides-this>\n";
  assert.throws(() => dependencyClosure(["app"], parseAptDepends(text)), (err: unknown) => {
    assert.ok(err instanceof PackageError);
    assert.match(err.message, /app depends on nothing-provides-this, which no package apt knows provides/);
    return true;
  });
});

test("an unknown name and a virtual one are refused with what to do", () => {
  const graph = parseAptDepends(fixture("depends-virtual-root.txt"));
  assert.throws(() => dependencyClosure(["nosuchpkg"], graph), /apt knows no package nosuchpkg\n.*apt-cache search/);
  assert.throws(() => dependencyClosure(["awk"], graph), /awk is a virtual package.*\n.*apt-cache showpkg awk/);
});

test("resolvePackages gives each package of the closure its candidate version and sha256 from apt's index", async () => {
  const calls: string[][] = [];
  const run: Runner = (argv) => {
    calls.push([...argv]);
    const stdout = argv[1] === "depends" ? fixture("depends-jq.txt") : argv[1] === "show" ? fixture("show-jq-closure.txt") : "";
    return Promise.resolve({ code: 0, signal: null, stdout, stderr: "" });
  };
  const pkgs = await resolvePackages(["jq"], { run });
  assert.deepEqual(pkgs.map((p) => p.name), ["jq", "libjq1", "libc6", "libonig5", "libgcc-s1", "gcc-12-base"]);
  const jq = pkgs[0];
  assert.equal(jq.version, "1.6-2.1+deb12u3");
  assert.equal(jq.sha256, "c25f3fda201207ed98b1d63686f2d81b9dfeb99f1ab2d1d35fb3f7b6a1c107dc");
  assert.deepEqual(jq.depends, ["libjq1", "libc6"]);
  assert.equal(pkgs.find((p) => p.name === "libc6")?.version, "2.36-9+deb12u14");
  assert.deepEqual(calls[1].slice(0, 3), ["apt-cache", "show", "--no-all-versions"]);
});

test("a failing apt-cache is a PackageError with its command, exit code and output", async () => {
  const run: Runner = () => Promise.resolve({ code: 100, signal: null, stdout: "", stderr: "E: Could not open lock file\n" });
  await assert.rejects(resolvePackages(["jq"], { run }), (err: unknown) => {
    assert.ok(err instanceof PackageError);
    assert.equal(err.command?.code, 100);
    assert.match(err.message, /apt cannot list the dependencies: apt-cache depends --recurse .* jq exited with code 100\n--- last lines of output ---\nE: Could not open lock file/);
    assert.match(err.hint, /apt-get update/);
    return true;
  });
});
