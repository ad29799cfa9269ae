import { test } from "node:test";
import assert from "node:assert/strict";
import { detectDistro, genericInstallHint, installArgv, packagesFor, parseOsRelease } from "../../lib/host/packages.ts";

const osRelease = (fields: Record<string, string>) =>
  Object.entries(fields).map(([k, v]) => `${k}="${v}"`).join("\n") + "\n";

test("os-release values are read with or without quotes", () => {
  assert.deepEqual(parseOsRelease('ID=debian\nVERSION_ID="12"\nID_LIKE=\'rhel fedora\'\n# comment\n'), {
    ID: "debian",
    VERSION_ID: "12",
    ID_LIKE: "rhel fedora",
  });
});

test("distributions map to their package-manager family through ID, then ID_LIKE", () => {
  assert.equal(detectDistro(osRelease({ ID: "debian" })), "debian");
  assert.equal(detectDistro(osRelease({ ID: "linuxmint", ID_LIKE: "ubuntu debian" })), "debian");
  assert.equal(detectDistro(osRelease({ ID: "rocky", ID_LIKE: "rhel centos fedora" })), "fedora");
  assert.equal(detectDistro(osRelease({ ID: "manjaro", ID_LIKE: "arch" })), "arch");
  assert.equal(detectDistro(osRelease({ ID: "alpine" })), "alpine");
  assert.equal(detectDistro(osRelease({ ID: "opensuse-tumbleweed", ID_LIKE: "opensuse suse" })), "opensuse");
  assert.equal(detectDistro(osRelease({ ID: "gentoo" })), undefined);
  assert.equal(detectDistro(undefined), undefined);
});

test("install commands are exact argv per family, with sudo only when not root", () => {
  assert.deepEqual(installArgv("debian", ["flex", "bc"], { root: true, assumeYes: true }), [
    "apt-get", "install", "-y", "--no-install-recommends", "flex", "bc",
  ]);
  assert.deepEqual(installArgv("debian", ["flex"], { root: false }), ["sudo", "apt-get", "install", "flex"]);
  assert.deepEqual(installArgv("fedora", ["flex"], { root: false, assumeYes: true }), ["sudo", "dnf", "install", "-y", "flex"]);
  assert.deepEqual(installArgv("arch", ["flex"], { root: true, assumeYes: true }), ["pacman", "-S", "--needed", "--noconfirm", "flex"]);
  assert.deepEqual(installArgv("alpine", ["flex"], { root: true, assumeYes: true }), ["apk", "add", "flex"]);
  assert.deepEqual(installArgv("opensuse", ["flex"], { root: true, assumeYes: true }), ["zypper", "install", "-y", "flex"]);
});

test("packages are merged across items without duplicates", () => {
  const gcc = { debian: ["build-essential"], fedora: ["gcc"] };
  const make = { debian: ["build-essential"], fedora: ["make"] };
  assert.deepEqual(packagesFor("debian", [gcc, make]), ["build-essential"]);
  assert.deepEqual(packagesFor("fedora", [gcc, make]), ["gcc", "make"]);
  assert.deepEqual(packagesFor("alpine", [gcc, make]), []);
});

test("an unknown distribution gets the need in words and every known package name", () => {
  assert.equal(
    genericInstallHint("bc", { debian: ["bc"], fedora: ["bc"] }),
    "install bc with your package manager (debian: bc; fedora: bc)",
  );
  assert.equal(genericInstallHint("KVM", {}), "install KVM");
});
