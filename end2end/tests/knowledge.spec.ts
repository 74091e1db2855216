import { expect, test } from "@playwright/test";
import * as path from "path";
import { createBotAndOpenKnowledge, signUp, uniqueEmail } from "./helpers";

const fixture = (name: string) => path.join(__dirname, "..", "fixtures", name);

const GUIDE = `# Harbour guide

## Cranes
The harbour crane lifts at most forty tonnes and is inspected every March.

## Tides
High tide at the north pier comes two hours after noon in summer.
`;

test("add knowledge, watch it become ready, read its chunks and find it in the playground", async ({ page }) => {
  await signUp(page, uniqueEmail("knowledge"), "Harbour Master");
  await createBotAndOpenKnowledge(page, "Harbour Bot");

  // Two uploads at once: a Markdown file that works and a binary one that cannot.
  await page.getByTestId("file-input").setInputFiles([
    { name: "guide.md", mimeType: "text/markdown", buffer: Buffer.from(GUIDE) },
    { name: "photo.txt", mimeType: "text/plain", buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d]) },
  ]);
  const guide = page.getByTestId("document-row").filter({ hasText: "guide.md" });
  const photo = page.getByTestId("document-row").filter({ hasText: "photo.txt" });
  await expect(guide.getByTestId("document-status")).toHaveText("Ready");
  await expect(photo.getByTestId("document-status")).toHaveText("Failed");
  await expect(photo.getByRole("alert")).toHaveText("This file is an image, not a document; upload text, PDF, Word, PowerPoint, spreadsheet or web pages.");

  // Pasted text goes through the same pipeline.
  await page.getByLabel("Title").fill("Opening hours");
  await page.locator("#field-text").fill("The harbour office opens at seven and closes at five.");
  await page.getByRole("button", { name: "Add text" }).click();
  await expect(page.getByTestId("document-row").filter({ hasText: "Opening hours" }).getByTestId("document-status")).toHaveText("Ready");

  await guide.getByRole("button", { name: "View chunks" }).click();
  await expect(guide.getByTestId("chunk-list")).toContainText("Harbour guide › Tides");

  await page.getByLabel("Question to search for").fill("When is high tide at the north pier?");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByTestId("playground-hit").first()).toContainText("High tide at the north pier");
  // Every hit shows where its rank came from: keyword, vector (meaning) and the fusion of both.
  await expect(page.getByTestId("playground-scores").first()).toContainText(/fused 1\.000.*keyword 0\.\d+.*vector 0\.\d+/);
  await page.screenshot({ path: "test-results/knowledge.png", fullPage: true });

  await page.reload();
  await expect(page.getByTestId("document-row")).toHaveCount(3);
  await page.getByRole("link", { name: "Dashboard" }).click();
  await expect(page.getByTestId("bot-card").filter({ hasText: "Harbour Bot" }).getByTestId("bot-documents")).toHaveText("3 documents");
});

test("upload a PDF and a DOCX, see them ready, and find a passage from each first", async ({ page }) => {
  await signUp(page, uniqueEmail("formats"), "Format Tester");
  await createBotAndOpenKnowledge(page, "Lighthouse Bot");

  await page.getByTestId("file-input").setInputFiles([fixture("lighthouse.pdf"), fixture("handbook.docx")]);
  const pdf = page.getByTestId("document-row").filter({ hasText: "lighthouse.pdf" });
  const docx = page.getByTestId("document-row").filter({ hasText: "handbook.docx" });
  await expect(pdf.getByTestId("document-status")).toHaveText("Ready");
  await expect(docx.getByTestId("document-status")).toHaveText("Ready");
  await expect(pdf).toContainText("2 pages");

  await docx.getByRole("button", { name: "View chunks" }).click();
  await expect(docx.getByTestId("chunk-list")).toContainText("Crew handbook › Watches");

  const question = page.getByLabel("Question to search for");
  await question.fill("When does the night watch change?");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByTestId("playground-hit").first()).toContainText("The night watch changes at midnight.");

  await question.fill("How often do the fog horns sound?");
  await page.getByRole("button", { name: "Search" }).click();
  const first = page.getByTestId("playground-hit").first();
  await expect(first).toContainText("Fog horns sound every thirty seconds");
  await expect(first).toContainText("lighthouse.pdf · page 2");
});

test("German documents: the bot's settings suggest German keyword search, and after re-indexing a word form finds its passage", async ({ page }) => {
  await signUp(page, uniqueEmail("deutsch"), "Hafenmeisterin");
  await createBotAndOpenKnowledge(page, "Hafen Bot");
  const hafen = `# Fähren
Die Fähren zur Insel fahren stündlich vom Nordkai ab, und die Karten gibt es am Schalter.

# Hafenbüro
Das Hafenbüro schließt werktags um 18 Uhr. Die Liegegebühren werden im Büro bezahlt.
`;
  await page.getByTestId("file-input").setInputFiles([{ name: "hafen.md", mimeType: "text/markdown", buffer: Buffer.from(hafen) }]);
  await expect(page.getByTestId("document-row").filter({ hasText: "hafen.md" }).getByTestId("document-status")).toHaveText("Ready");

  await page.getByRole("link", { name: "← Bot settings" }).click();
  const language = page.getByLabel("Keyword search language");
  await expect(language).toHaveValue("english");
  await expect(page.getByTestId("language-suggestion")).toContainText("Your documents read as German.");
  await page.getByRole("button", { name: "Use German" }).click();
  await expect(language).toHaveValue("german");
  await expect(page.getByTestId("language-suggestion")).toHaveCount(0);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByTestId("save-state")).toHaveText("All changes saved");
  // The workers re-stem the words in the background; the editor says so until they are done.
  await expect(page.getByTestId("language-status")).toHaveCount(0, { timeout: 30_000 });

  // "Fähre" meets "Fähren" only through German stemming: the keyword score shows it.
  await page.getByRole("link", { name: "Knowledge →" }).click();
  await page.getByLabel("Question to search for").fill("Wann fährt eine Fähre?");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByTestId("playground-hit").first()).toContainText("Nordkai");
  await expect(page.getByTestId("playground-scores").first()).toContainText(/keyword 0\.\d+/);
});
