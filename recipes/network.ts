#!/usr/bin/env -S npx tsx
/**
 * User-mode networking with a port forward: the guest serves a page with
 * busybox httpd on port 80, and the host reaches it on 127.0.0.1:PORT.
 * Interactive: a shell with httpd already running (try `wget -O- 10.0.2.2:...`
 * for the other direction). Scripted (--yes or no tty): boots, fetches the page
 * from the host side, prints it, and stops the VM.
 *
 *   npx tsx recipes/network.ts --port 8080       then: curl http://127.0.0.1:8080/
 */
import { ask, busybox, initramfs, kernel, microvm } from "microforge";

const opts = await ask<{ port: number; kernel: string; _: string[]; _scripted: boolean }>({
  port: { type: "number", message: "Host port forwarded to the guest's port 80", default: 8080 },
  kernel: { type: "kernel", message: "Kernel version", default: "longterm" },
}, { description: "Serve a page from the guest (busybox httpd) and fetch it from the host through a port forward.", dir: import.meta.dirname });

const page = "hello from the microVM\n";
const vm = await microvm({
  kernel: await kernel({ version: opts.kernel }),
  initrd: await initramfs({ busybox: await busybox(), extra: [{ dest: "/www/index.html", content: page }] }),
  net: { hostfwd: [`${opts.port}:80`] },
});
const serve = ["httpd", "-p", "80", "-h", "/www"];
if (!opts._scripted) {
  console.log(`Inside the VM run: ${serve.join(" ")}   then on the host: curl http://127.0.0.1:${opts.port}/`);
  process.exit(await vm.run());
}
const stop = new AbortController();
const running = vm.exec(["sh", "-c", `${serve.join(" ")} -f`], { signal: stop.signal, timeoutMs: 120_000 });
let body: string | undefined;
for (let i = 0; i < 600 && body === undefined; i++) {
  body = await fetch(`http://127.0.0.1:${opts.port}/`).then((r) => (r.ok ? r.text() : undefined), () => undefined);
  if (body === undefined) await new Promise((r) => setTimeout(r, 100));
}
stop.abort();
await running;
if (body === undefined) {
  console.error(`microforge: the guest's httpd never answered on 127.0.0.1:${opts.port}`);
  process.exit(1);
}
process.stdout.write(`host got from the guest: ${body}`);
