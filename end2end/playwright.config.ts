import { defineConfig } from "@playwright/test";

// test.sh starts the release server on this address with a throw-away database.
export const baseURL = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  globalSetup: "./global-setup.ts",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download cannot work offline.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // The widget journeys' customer websites (http://localhost:…) are answered by Playwright
        // itself, so Chromium cannot tell they are local too and would block their requests to
        // the app on 127.0.0.1 as "public site → loopback" (Local Network Access). Real sites
        // and a real ChatSphere are both public; this check has no part in what is tested.
        "--disable-features=LocalNetworkAccessChecks",
      ],
    },
  },
});
