import { expect, Page } from "@playwright/test";

export const PASSWORD = "correct horse battery staple";

export function uniqueEmail(tag: string): string {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the page is interactive: the WASM has hydrated it, so clicks run Rust code, or
 *  it is one of the pages served as plain HTML forms without WASM (`body[data-html-only]`). */
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true], body[data-html-only]")).toBeAttached();
}

export async function signUp(page: Page, email: string, name: string) {
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByTestId("dashboard-heading")).toHaveText(`Welcome, ${name}`);
  // The sign-up page runs no WASM, so the dashboard is a fresh page load: wait for the app.
  await hydrated(page);
}

export async function signOut(page: Page) {
  await page.getByTestId("user-name").click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);
}

/** Creates a bot from the dashboard and opens its Knowledge page. */
export async function createBotAndOpenKnowledge(page: Page, name: string) {
  await page.getByLabel("New bot").fill(name);
  await page.getByRole("button", { name: "Create bot" }).click();
  await expect(page).toHaveURL(/\/bots\/[a-z0-9]{16}$/);
  await page.getByRole("link", { name: "Knowledge →" }).click();
  await expect(page.getByRole("heading", { name: "Knowledge", exact: true })).toBeVisible();
}
