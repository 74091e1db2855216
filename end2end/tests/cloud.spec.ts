import { expect, test } from "@playwright/test";
import { createBotAndOpenKnowledge, hydrated, signUp, uniqueEmail } from "./helpers";

// test.sh runs a second server wired to the fake Gemini and Pinecone services (fake_cloud).
const cloudURL = process.env.E2E_CLOUD_BASE_URL;
test.use({ baseURL: cloudURL });

const GUIDE = `# Harbour office
The harbour office closes at 6 pm on weekdays. Berth fees are paid there.

# Ferries
Ferries to the island leave every hour from the northern quay.
`;

test("a bot on Gemini and Pinecone: choose the model, upload, ask, watch a cited answer stream", async ({ page }) => {
  expect(cloudURL, "test.sh sets E2E_CLOUD_BASE_URL to the server on the fake cloud").toBeTruthy();
  await signUp(page, uniqueEmail("cloud"), "Cloud Owner");
  await page.getByLabel("New bot").fill("Cloud Harbour");
  await page.getByRole("button", { name: "Create bot" }).click();
  await expect(page).toHaveURL(/\/bots\/[a-z0-9]{16}$/);
  await hydrated(page);

  // This deployment embeds with Gemini by default and offers Gemini models for answers.
  await expect(page.getByLabel("Embedding model")).toHaveValue("gemini/gemini-embedding-001@768");
  await page.getByLabel("Model", { exact: true }).selectOption({ label: "Gemini 2.5 Flash" });
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Bot saved.")).toBeVisible();

  await page.getByRole("link", { name: "Knowledge →" }).click();
  await expect(page.getByRole("heading", { name: "Knowledge", exact: true })).toBeVisible();
  await page.getByTestId("file-input").setInputFiles([{ name: "guide.md", mimeType: "text/markdown", buffer: Buffer.from(GUIDE) }]);
  await expect(page.getByTestId("document-row").filter({ hasText: "guide.md" }).getByTestId("document-status")).toHaveText("Ready");

  await page.getByRole("link", { name: "← Bot settings" }).click();
  await page.getByRole("link", { name: "Chat →" }).click();
  await hydrated(page);
  const box = page.getByLabel("Your question");
  await box.fill("When does the harbour office close?");
  await box.press("Enter");

  // Gemini's words arrive in pieces: Stop shows while they do.
  const answer = page.getByTestId("answer").last();
  await expect(page.getByTestId("stop")).toBeVisible();
  await expect(page.getByTestId("message-assistant").last()).toHaveAttribute("data-status", "complete");
  await expect(answer).toContainText("According to the documents, The harbour office closes at 6 pm on weekdays.");
  await expect(answer).not.toContainText("Quoted from your documents");

  await answer.locator("button.cite").first().click();
  await expect(page.getByTestId("source-location")).toContainText("guide.md");
  await expect(page.getByTestId("source-passage")).toContainText("closes at 6 pm");
  await page.screenshot({ path: "test-results/cloud-chat.png", fullPage: true });

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("answer")).toContainText("closes at 6 pm on weekdays.");
});
