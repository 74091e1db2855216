import { expect, test } from "@playwright/test";
import { createBotAndOpenKnowledge, hydrated, signUp, uniqueEmail } from "./helpers";

// Distinct topics, so a question about one leaves the others below the minimum relevance.
const GUIDE = `# Harbour office
Berth fees are paid at the harbour office. The harbour office closes at 6 pm on weekdays.

# Knitting club
The knitting club meets in the library on Tuesdays to make woollen scarves and mittens for the winter market.

# Volcano geology
Basalt forms when lava rich in iron and magnesium cools quickly at the surface of a volcanic island.
`;

test("Why this answer? shows kept and dropped passages, the prompt and the times; the owner acts on it; nobody else can open it", async ({ page, browser, baseURL }) => {
  await signUp(page, uniqueEmail("trace"), "Tracer");
  await createBotAndOpenKnowledge(page, "Trace Bot");
  await page.getByTestId("file-input").setInputFiles([{ name: "guide.md", mimeType: "text/markdown", buffer: Buffer.from(GUIDE) }]);
  await expect(page.getByTestId("document-row").filter({ hasText: "guide.md" }).getByTestId("document-status")).toHaveText("Ready");
  await page.goto(page.url().replace(/\/knowledge$/, "/chat"));
  await hydrated(page);

  const box = page.getByLabel("Your question");
  await box.fill("When does the harbour office close?");
  await box.press("Enter");
  await expect(page.getByTestId("message-assistant").last()).toHaveAttribute("data-status", "complete");

  // A cited answer: the trace opens as a dialog with its close button focused.
  const traceLoaded = page.waitForResponse((r) => r.url().endsWith("/api/chat/trace"));
  await page.getByRole("button", { name: "Why this answer?" }).last().click();
  const answerId = new URLSearchParams((await traceLoaded).request().postData() ?? "").get("message_id")!;
  const dialog = page.getByRole("dialog", { name: "Why this answer?" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Close" })).toBeFocused();
  await expect(dialog.getByTestId("trace-question")).toHaveText("When does the harbour office close?");
  await expect(dialog.getByTestId("trace-query")).toHaveText("When does the harbour office close?");
  const kept = dialog.locator('[data-testid=trace-candidates] [data-verdict=kept]');
  await expect(kept.first()).toContainText("6 pm");
  await expect(kept.first().getByTestId("trace-verdict")).toHaveText("Kept as [1]");
  // The other topics were found too, and dropped with the reason.
  const dropped = dialog.locator('[data-testid=trace-candidates] [data-verdict=below_minimum]');
  await expect(dropped.first().getByTestId("trace-verdict")).toContainText("is below the minimum 0.20");
  await expect(dialog.getByTestId("trace-timings")).toContainText("Question embedding");
  await expect(dialog.getByTestId("trace-timings")).toContainText("Whole answer");
  await dialog.getByText("The prompt, exactly as the model received it").click();
  await expect(dialog.getByTestId("prompt-system")).toContainText("Answer from the numbered passages");
  await expect(dialog.getByTestId("prompt-user")).toContainText("[1] (guide.md");
  await expect(dialog.getByTestId("prompt-user")).toContainText("Question: When does the harbour office close?");
  await page.screenshot({ path: "test-results/trace.png", fullPage: true });
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);

  // A fallback: no model was asked, every candidate was below the minimum.
  await page.getByRole("link", { name: "+ New conversation" }).click();
  await box.fill("What is the recipe for chocolate cake?");
  await box.press("Enter");
  await expect(page.getByTestId("answer").last()).toContainText("I couldn't find that in my knowledge");
  await page.getByRole("button", { name: "Why this answer?" }).last().click();
  await expect(dialog.getByTestId("trace-no-prompt")).toContainText("No model was asked");
  await expect(dialog.locator("[data-testid=trace-candidates] [data-verdict=below_minimum]").first()).toBeVisible();
  await expect(dialog.locator("[data-testid=trace-candidates] [data-verdict=kept]")).toHaveCount(0);

  // Teach it: a better answer becomes Q&A; searching again finds it once processed.
  await dialog.getByLabel("Add a better answer").fill("Our recipe: melt dark chocolate, fold it into whipped eggs and sugar, bake 25 minutes.");
  await dialog.getByRole("button", { name: "Save as Q&A" }).click();
  await expect(page.getByText(/Saved as “/)).toBeVisible();
  await expect(async () => {
    await dialog.getByRole("button", { name: "Search again with the current knowledge" }).click();
    await expect(dialog.locator("[data-testid=trace-rerun] [data-verdict=kept]").first()).toContainText("melt dark chocolate", { timeout: 2000 });
  }).toPass({ timeout: 60_000 });
  // The stored trace still shows what the answer saw then.
  await expect(dialog.locator("[data-testid=trace-candidates] [data-verdict=kept]")).toHaveCount(0);
  await dialog.getByRole("button", { name: "Close" }).click();

  // From the first answer's trace, open the kept passage in its document.
  await page.getByTestId("conversation").getByRole("link", { name: "When does the harbour office close?" }).click();
  await expect(page.getByTestId("message-user")).toHaveText("When does the harbour office close?");
  await page.getByRole("button", { name: "Why this answer?" }).last().click();
  await dialog.locator("[data-testid=trace-candidates] [data-verdict=kept]").first().getByRole("link", { name: "Open in document" }).click();
  await expect(page).toHaveURL(/\/knowledge\?doc=[0-9a-f-]{36}&chunk=\d+$/);
  await expect(page.locator("[data-testid=chunk-list] li[aria-current=true]")).toContainText("6 pm");

  // Another owner gets "not found" for the same answer's trace and re-run.
  const other = await browser.newContext();
  const mallory = await other.newPage();
  await signUp(mallory, uniqueEmail("mallory"), "Mallory");
  for (const endpoint of ["chat/trace", "chat/trace_rerun"]) {
    const reply = await mallory.request.post(`${baseURL}/api/${endpoint}`, { form: { message_id: answerId }, headers: { Origin: baseURL! } });
    expect(reply.status(), endpoint).toBe(404);
  }
  await other.close();
});
