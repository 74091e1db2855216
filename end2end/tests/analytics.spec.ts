import { expect, test } from "@playwright/test";
import { createBotAndOpenKnowledge, hydrated, signUp, uniqueEmail } from "./helpers";

const GUIDE = `# Harbour office
Berth fees are paid at the harbour office. The harbour office closes at 6 pm on weekdays.
`;

async function ask(page, question: string) {
  const box = page.getByLabel("Your question");
  await box.fill(question);
  await box.press("Enter");
  await expect(page.getByTestId("message-assistant").last()).toHaveAttribute("data-status", "complete");
}

test("analytics: figures, charts, and an unanswered question answered from the page", async ({ page }) => {
  await signUp(page, uniqueEmail("analytics"), "Analyst");
  await createBotAndOpenKnowledge(page, "Harbour Bot");
  await page.getByTestId("file-input").setInputFiles([{ name: "guide.md", mimeType: "text/markdown", buffer: Buffer.from(GUIDE) }]);
  await expect(page.getByTestId("document-row").filter({ hasText: "guide.md" }).getByTestId("document-status")).toHaveText("Ready");

  await page.getByRole("link", { name: "← Bot settings" }).click();
  await page.getByRole("link", { name: "Chat →" }).click();
  await hydrated(page);
  await ask(page, "When does the harbour office close?");
  await page.getByRole("button", { name: "Good answer" }).click();
  await expect(page.getByRole("button", { name: "Good answer" })).toHaveAttribute("aria-pressed", "true");
  await page.getByRole("link", { name: "+ New conversation" }).click();
  await ask(page, "Do you sell gift cards?");
  await expect(page.getByTestId("answer").last()).toContainText("I couldn't find that in my knowledge");

  await page.getByRole("link", { name: "Analytics" }).click();
  await hydrated(page);
  await expect(page.getByTestId("stat-conversations").getByTestId("stat-value")).toHaveText("2");
  await expect(page.getByTestId("stat-messages").getByTestId("stat-value")).toHaveText("4");
  await expect(page.getByTestId("stat-visitors").getByTestId("stat-value")).toHaveText("1");
  await expect(page.getByTestId("stat-answered").getByTestId("stat-value")).toHaveText("50%");
  await expect(page.getByTestId("stat-thumbs-up").getByTestId("stat-value")).toHaveText("100%");
  await expect(page.getByTestId("answered-split")).toHaveText("1 answered from knowledge · 1 fallback");
  await expect(page.getByTestId("chart-activity").locator("polyline").first()).toBeVisible();
  await expect(page.getByTestId("chart-speed").locator("circle").first()).toBeAttached();
  await expect(page.getByTestId("top-documents")).toContainText("guide.md");
  await expect(page.getByTestId("usage")).toContainText("offline/extractive");

  const group = page.getByTestId("unanswered").filter({ hasText: "Do you sell gift cards?" });
  await expect(group.getByTestId("unanswered-count")).toHaveText("×1");
  await page.screenshot({ path: "test-results/analytics.png", fullPage: true });
  await group.getByRole("button", { name: "Add an answer" }).click();
  await group.getByLabel("Answer").fill("Yes, we sell gift cards at the harbour office for 25, 50 or 100 euros.");
  await group.getByRole("button", { name: "Save answer" }).click();
  await expect(page.getByText("Added to the bot's knowledge")).toBeVisible();
  await expect(page.getByTestId("no-unanswered")).toBeVisible();

  // The answer is now knowledge: once indexed, the same question is answered from it.
  await page.getByRole("link", { name: "Bots" }).first().click();
  await page.getByTestId("bot-card").filter({ hasText: "Harbour Bot" }).getByRole("link", { name: "Chat" }).click();
  await hydrated(page);
  await page.getByRole("link", { name: "+ New conversation" }).click();
  await expect(async () => {
    await ask(page, "Do you sell gift cards?");
    await expect(page.getByTestId("answer").last()).toContainText("gift cards at the harbour office", { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
});
