import { expect, test } from "@playwright/test";
import { hydrated, signUp, uniqueEmail } from "./helpers";

test("create a bot, edit persona and colour with a live preview, reload, delete", async ({ page }) => {
  await signUp(page, uniqueEmail("bots"), "Bot Builder");
  await page.getByLabel("New bot").fill("Pirate Helper");
  await page.getByRole("button", { name: "Create bot" }).click();
  await expect(page).toHaveURL(/\/bots\/[a-z0-9]{16}$/);
  await expect(page.getByTestId("preview-name")).toHaveText("Pirate Helper");
  await expect(page.getByTestId("save-state")).toHaveText("All changes saved");

  await page.getByLabel("Persona (system prompt)").fill("You are a pirate. Answer in pirate speak.");
  await page.getByLabel("Welcome message").fill("Ahoy! Ask me about the treasure.");
  await expect(page.getByTestId("preview-welcome")).toHaveText("Ahoy! Ask me about the treasure.");
  await page.locator("#bot-accent").fill("#ff0066");
  await expect(page.getByTestId("preview-header")).toHaveAttribute("style", /#ff0066/);
  await page.getByRole("button", { name: "+ Add a question" }).click();
  await page.getByLabel("Suggested question 1").fill("Where is the treasure?");
  await expect(page.getByTestId("chat-preview")).toContainText("Where is the treasure?");
  await expect(page.getByTestId("save-state")).toHaveText("Unsaved changes");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByTestId("save-state")).toHaveText("All changes saved");

  await page.reload();
  await hydrated(page);
  await expect(page.getByLabel("Persona (system prompt)")).toHaveValue("You are a pirate. Answer in pirate speak.");
  await expect(page.getByTestId("preview-header")).toHaveAttribute("style", /#ff0066/);
  await expect(page.getByLabel("Suggested question 1")).toHaveValue("Where is the treasure?");
  await page.screenshot({ path: "test-results/bot-editor.png", fullPage: true });

  // Rules are checked as you type, at the field, and block saving.
  await page.locator("#bot-accent").fill("red");
  await expect(page.locator("#bot-accent-error")).toHaveText("Use a colour like #4f46e5.");
  await expect(page.getByRole("button", { name: "Save changes" })).toBeDisabled();
  await page.getByRole("button", { name: "Discard" }).click();
  await expect(page.locator("#bot-accent")).toHaveValue("#ff0066");

  await page.getByRole("link", { name: "← Bots" }).click();
  const card = page.getByTestId("bot-card").filter({ hasText: "Pirate Helper" });
  await expect(card).toBeVisible();
  await card.getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("dialog")).toContainText("Delete “Pirate Helper”?");
  await page.getByRole("button", { name: "Delete bot" }).click();
  await expect(page.getByTestId("bot-card")).toHaveCount(0);
  await expect(page.getByText("No bots yet")).toBeVisible();
});

test("duplicate a bot from the dashboard, and another user cannot open it", async ({ page, browser }) => {
  await signUp(page, uniqueEmail("dup"), "Duplicator");
  await page.getByLabel("New bot").fill("Original");
  await page.getByRole("button", { name: "Create bot" }).click();
  await expect(page).toHaveURL(/\/bots\/[a-z0-9]{16}$/);
  const botUrl = page.url();

  await page.getByRole("link", { name: "Dashboard" }).click();
  await page.getByTestId("bot-card").filter({ hasText: "Original" }).getByRole("button", { name: "Duplicate" }).click();
  await expect(page.getByTestId("bot-card").filter({ hasText: "Copy of Original" })).toBeVisible();
  await expect(page.getByTestId("bot-card")).toHaveCount(2);

  const other = await browser.newContext();
  const intruder = await other.newPage();
  await signUp(intruder, uniqueEmail("intruder"), "Intruder");
  await intruder.goto(botUrl);
  await expect(intruder.getByText("Bot not found.")).toBeVisible();
  await other.close();
});
