import { expect, test } from "@playwright/test";
import { createBotAndOpenKnowledge, hydrated, signUp, uniqueEmail } from "./helpers";

const GUIDE = `# Harbour office
Berth fees are paid at the harbour office. The harbour office closes at 6 pm on weekdays.

# Ferries
Ferries to the island leave every hour from the northern quay.
`;

// Markup hidden in knowledge, meant to run in the reader's browser.
const HOSTILE = `# Warning signs
The warning siren <script>window.__pwned = "script"</script> sounds at noon <img src=x onerror="window.__pwned = 'onerror'"> every Friday.
`;

async function addDocument(page, name: string, body: string) {
  await page.getByTestId("file-input").setInputFiles([{ name, mimeType: "text/markdown", buffer: Buffer.from(body) }]);
  await expect(page.getByTestId("document-row").filter({ hasText: name }).getByTestId("document-status")).toHaveText("Ready");
}

test("ask, watch the answer stream, open its citation, give a thumbs-down, reload and find it all", async ({ page }) => {
  await signUp(page, uniqueEmail("chat"), "Harbour Master");
  await createBotAndOpenKnowledge(page, "Harbour Bot");
  await addDocument(page, "guide.md", GUIDE);

  await page.getByRole("link", { name: "← Bot settings" }).click();
  await page.getByRole("link", { name: "Chat →" }).click();
  await hydrated(page);
  await expect(page.getByTestId("welcome")).toContainText("Hi! I'm Harbour Bot");

  // Enter sends; Shift+Enter would have made a new line.
  const box = page.getByLabel("Your question");
  // The answer streams: while it is being written, Stop shows and the text grows. What the
  // page showed while streaming is recorded as it happens (every DOM change), so the check
  // does not depend on sampling the page mid-answer on a busy machine.
  await page.evaluate(() => {
    const seen = { lengths: [] as number[], stop: false };
    (window as any).__streaming = seen;
    new MutationObserver(() => {
      const messages = document.querySelectorAll('[data-testid="message-assistant"]');
      const last = messages[messages.length - 1];
      if (last?.getAttribute("data-status") !== "streaming") return;
      seen.lengths.push(last.querySelector('[data-testid="answer"]')?.textContent?.length ?? 0);
      seen.stop ||= document.querySelector('[data-testid="stop"]') !== null;
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  await box.fill("When does the harbour office close?");
  await box.press("Enter");

  const answer = page.getByTestId("answer").last();
  await expect(page.getByTestId("message-assistant").last()).toHaveAttribute("data-status", "complete");
  const whole = ((await answer.textContent()) ?? "").length;
  const seen = await page.evaluate(() => (window as any).__streaming as { lengths: number[]; stop: boolean });
  expect(seen.stop, "Stop showed while the answer was written").toBe(true);
  expect(seen.lengths.some((n) => n > 0 && n < whole), `part of the answer showed before the whole (${seen.lengths.join(",")} of ${whole})`).toBe(true);
  await expect(answer).toContainText("Quoted from your documents");
  await expect(answer).toContainText("The harbour office closes at 6 pm on weekdays.");
  await expect(page.getByTestId("stop")).toHaveCount(0);
  await expect(box).toHaveValue("");
  await expect(page).toHaveURL(/\/chat\?c=[0-9a-f-]{36}$/);

  // The citation opens its passage in context.
  await answer.locator("button.cite").first().click();
  await expect(page.getByTestId("source-location")).toContainText("guide.md");
  await expect(page.getByTestId("source-passage")).toContainText("closes at 6 pm");

  // Thumbs down, with a comment.
  await page.getByRole("button", { name: "Bad answer" }).click();
  await page.getByLabel("Feedback comment").fill("Saturday hours are missing");
  await page.getByLabel("Feedback comment").press("Enter");
  await expect(page.getByTestId("feedback-comment")).toContainText("Saturday hours are missing");
  await page.screenshot({ path: "test-results/chat.png", fullPage: true });

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("message-user")).toHaveText("When does the harbour office close?");
  await expect(page.getByTestId("answer")).toContainText("closes at 6 pm on weekdays.");
  await expect(page.getByRole("button", { name: "Bad answer" })).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByTestId("feedback-comment")).toContainText("Saturday hours are missing");
  await expect(page.getByTestId("conversation").getByRole("link")).toHaveText(["When does the harbour office close?"]);

  // Something the knowledge does not cover gets the fallback, in a new conversation.
  await page.getByRole("link", { name: "+ New conversation" }).click();
  await expect(page.getByTestId("welcome")).toBeVisible();
  await box.fill("What is the recipe for chocolate cake?");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByTestId("answer").last()).toContainText("I couldn't find that in my knowledge");
  await expect(page.getByTestId("conversation")).toHaveCount(2);

  await page.getByRole("link", { name: "Dashboard" }).click();
  await expect(page.getByTestId("bot-card").filter({ hasText: "Harbour Bot" }).getByTestId("bot-conversations")).toHaveText("2 conversations");
});

test("Esc stops an answer and keeps what was written", async ({ page }) => {
  await signUp(page, uniqueEmail("stop"), "Stopper");
  await createBotAndOpenKnowledge(page, "Long Bot");
  const long = "# Notes\n" + Array.from({ length: 40 }, (_, i) => `The northern quay ferry note number ${i} says that the ferries leave the northern quay on time every single morning, with the harbour master watching the gangway, the tide tables, the weather reports and the passenger lists.`).join(" ") + "\n";
  await addDocument(page, "notes.md", long);
  await page.goto(page.url().replace(/\/knowledge$/, "/chat"));
  await hydrated(page);
  const box = page.getByLabel("Your question");
  await box.fill("When do ferries leave the northern quay?");
  await box.press("Enter");
  await expect(page.getByTestId("stop")).toBeVisible();
  await expect(page.getByTestId("answer").last()).toContainText("Quoted from your documents");
  await box.press("Escape");
  await expect(page.getByTestId("finish-note")).toHaveText("Stopped.");
  // What had arrived before Esc is kept; the rest of the three quoted sentences never came.
  const kept = await page.getByTestId("answer").last().innerText();
  expect(kept).toContain("Quoted from your documents");
  expect(kept).not.toContain("passenger lists");
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("finish-note")).toHaveText("Stopped.");
  await expect(page.getByTestId("answer").last()).toHaveText(kept);
});

test("markup in documents and answers is shown, never run", async ({ page }) => {
  await signUp(page, uniqueEmail("xss"), "Careful");
  await createBotAndOpenKnowledge(page, "Safe Bot");
  await addDocument(page, "signs.md", HOSTILE);
  await page.goto(page.url().replace(/\/knowledge$/, "/chat"));
  await hydrated(page);
  await page.getByLabel("Your question").fill("When does the warning siren sound?");
  await page.getByLabel("Your question").press("Enter");
  const answer = page.getByTestId("answer").last();
  await expect(page.getByTestId("message-assistant").last()).toHaveAttribute("data-status", "complete");
  // The quoted sentence carries the payloads as visible text …
  await expect(answer).toContainText("<script>");
  await expect(answer).toContainText("onerror=");
  await answer.locator("button.cite").first().click();
  await expect(page.getByTestId("source-passage")).toContainText("<img src=x onerror=");
  // … and none of it became an element or ran, in the answer or the sources panel.
  await expect(page.locator("[data-testid=messages] script, [data-testid=messages] img, [data-testid=source-panel] img")).toHaveCount(0);
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("answer").last()).toContainText("<script>");
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
});
