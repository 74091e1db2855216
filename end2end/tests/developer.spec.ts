import { expect, test } from "@playwright/test";
import { hydrated, signUp, uniqueEmail } from "./helpers";

test("an owner makes an API key, sees it once, uses it, and revokes it from the keyboard", async ({ page }) => {
  await signUp(page, uniqueEmail("apikeys"), "Key Owner");
  await page.getByLabel("New bot").fill("Harbour desk");
  await page.getByRole("button", { name: "Create bot" }).click();
  await expect(page).toHaveURL(/\/bots\/[a-z0-9]{16}$/);
  const bot = page.url().split("/").pop()!;

  await page.goto("/settings");
  await hydrated(page);
  await page.getByRole("link", { name: "Manage API keys" }).click();
  await expect(page.getByRole("heading", { name: "API keys" })).toBeVisible();
  await hydrated(page);
  await page.getByLabel("Name").fill("Support backend");
  await page.getByLabel("Bots it may use").selectOption({ label: "Harbour desk" });
  await page.getByLabel("Permission").selectOption("chat");
  await page.getByRole("button", { name: "Create key" }).click();

  const shown = page.getByRole("textbox", { name: "New API key" });
  await expect(page.getByTestId("new-key")).toContainText("it will not be shown again");
  await expect(shown).toHaveValue(/^csk_[0-9a-f]{64}$/);
  const secret = await shown.inputValue();
  await expect(page.getByRole("button", { name: "Copy the new api key" })).toBeVisible();
  const row = page.getByTestId("api-key").filter({ hasText: "Support backend" });
  await expect(row).toContainText("Harbour desk");
  await expect(row).toContainText("Chat only");
  await expect(row).toContainText(secret.slice(0, 12));

  // The key works for its bot from outside the browser.
  const auth = { Authorization: `Bearer ${secret}` };
  const models = await page.request.get("/v1/models", { headers: auth });
  expect(models.status()).toBe(200);
  expect((await models.json()).data.map((m: { id: string }) => m.id)).toEqual([bot]);

  // Shown once: after a reload only its prefix is on the page.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("api-key")).toHaveCount(1);
  expect(await page.content()).not.toContain(secret.slice(12));
  await expect(page.getByTestId("api-key")).toContainText("1 requests");

  // Revoke from the keyboard; the key stops working at once.
  await page.getByRole("button", { name: "Revoke the key Support backend" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("dialog")).toContainText("Revoke “Support backend”?");
  await page.getByRole("button", { name: "Revoke key" }).click();
  await expect(page.getByTestId("api-key")).toContainText("Revoked");
  const refused = await page.request.get("/v1/models", { headers: auth });
  expect(refused.status()).toBe(401);
  expect((await refused.json()).error.type).toBe("authentication_error");

  // The reference page has examples for this bot to copy.
  await page.getByRole("link", { name: "API", exact: true }).click();
  await expect(page.getByRole("heading", { name: "API reference" })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Python with the openai package" })).toHaveValue(new RegExp(`model="${bot}"`));
  await expect(page.getByRole("textbox", { name: "JavaScript (fetch, streamed)" })).toHaveValue(/text\/event-stream/);
  await expect(page.getByRole("button", { name: "Copy the curl (streamed)" })).toBeVisible();
});
