// Time to interactive on a throttled connection: Chromium with DevTools' "Fast 4G" network
// emulation and a 4× CPU slowdown opens the sign-in page, the dashboard and a bot's chat page
// with an empty cache, and reports how long until the page is hydrated (the app sets
// body[data-hydrated] when its WASM has taken over; pages served as plain HTML forms without
// WASM, marked body[data-html-only], are interactive at their load event), the bytes that crossed the wire and the
// number of requests. A benchmark, not a test: it prints figures and asserts nothing about them.
//
//   E2E_BASE_URL=http://127.0.0.1:3000 node end2end/benchmarks/first-load.mjs [runs]
//
// The server must be a release build (`./run.sh`, or the one test.sh starts).

import { chromium } from "@playwright/test";

const base = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";
const runs = Number(process.argv[2] ?? 5);
// Chrome DevTools' "Fast 4G" preset: 9 Mbps down and 1.5 Mbps up at 90 %, 60 ms × 2.75 latency.
const FAST_4G = { offline: false, latency: 165, downloadThroughput: (9e6 / 8) * 0.9, uploadThroughput: (1.5e6 / 8) * 0.9 };
const CPU_SLOWDOWN = 4;
const PASSWORD = "correct horse battery staple";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
});

// An owner with a bot, made at full speed; its cookies are reused by the measured visits.
const setup = await browser.newContext({ baseURL: base });
const page = await setup.newPage();
await page.goto("/signup");
await page.locator("body[data-hydrated=true], body[data-html-only]").waitFor({ state: "attached" });
await page.getByLabel("Email").fill(`first-load-${Date.now()}@example.com`);
await page.getByLabel("Display name").fill("Bench");
await page.getByLabel("Password").fill(PASSWORD);
await page.getByRole("button", { name: "Create account" }).click();
await page.getByTestId("dashboard-heading").waitFor();
// Sign-up runs no WASM: the dashboard after it is a fresh page load.
await page.locator("body[data-hydrated=true]").waitFor({ state: "attached" });
await page.getByLabel("New bot").fill("Load bench");
await page.getByRole("button", { name: "Create bot" }).click();
await page.waitForURL(/\/bots\/[a-z0-9]{16}$/);
const bot = new URL(page.url()).pathname;
const signedIn = await setup.storageState();
await setup.close();

async function visit(path, storageState) {
  const context = await browser.newContext({ baseURL: base, storageState });
  const tab = await context.newPage();
  const cdp = await context.newCDPSession(tab);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", FAST_4G);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: CPU_SLOWDOWN });
  let bytes = 0;
  let requests = 0;
  cdp.on("Network.loadingFinished", (e) => {
    bytes += e.encodedDataLength;
    requests += 1;
  });
  const started = Date.now();
  await tab.goto(path, { waitUntil: "commit" });
  await tab.locator("body[data-hydrated=true], body[data-html-only]").waitFor({ state: "attached", timeout: 120_000 });
  if (await tab.locator("body[data-html-only]").count()) await tab.waitForLoadState("load");
  const ms = Date.now() - started;
  await context.close();
  return { ms, bytes, requests };
}

const pages = [
  ["sign-in", "/signin", undefined],
  ["dashboard", "/", signedIn],
  ["chat", `${bot}/chat`, signedIn],
];
console.log(`== time to interactive, empty cache, Fast 4G (165 ms, 9 Mbps) and ${CPU_SLOWDOWN}× CPU slowdown; ${runs} visits each; ${base}`);
for (const [name, path, state] of pages) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await visit(path, state));
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const median = ms[Math.floor((ms.length - 1) / 2)];
  const last = results[results.length - 1];
  console.log(
    `${name.padEnd(10)} interactive p50 ${String(median).padStart(5)} ms  (min ${ms[0]}, max ${ms[ms.length - 1]})   ` +
      `${(last.bytes / 1024).toFixed(0).padStart(5)} KB on the wire in ${last.requests} requests`,
  );
}
await browser.close();
