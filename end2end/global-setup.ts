import { baseURL } from "./playwright.config";

// The server may still be starting (cargo leptos end-to-end does not wait): wait until it
// reports the database reachable.
export default async function globalSetup() {
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${baseURL}/readyz`);
      if (res.ok) return;
      last = `${res.status}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`server at ${baseURL} not ready after 120 s (${last})`);
}
