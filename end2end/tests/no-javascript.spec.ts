import { expect, test } from "@playwright/test";
import { PASSWORD, uniqueEmail } from "./helpers";

// Before the WASM arrives (or with JavaScript off), the account forms are plain HTML forms
// that post to their server functions and follow the server's redirect.
test.use({ javaScriptEnabled: false });

test("sign up and sign in work without JavaScript", async ({ page }) => {
  const email = uniqueEmail("nojs");
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Display name").fill("No Script");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByTestId("dashboard-heading")).toHaveText("Welcome, No Script");

  await page.context().clearCookies();
  await page.goto("/settings");
  await expect(page).toHaveURL(/\/signin\?next=\/settings$/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByRole("heading", { name: "Account settings" })).toBeVisible();
});
