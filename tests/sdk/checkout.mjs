// The hosted checkout page in headless Chromium: buy a plan in test mode and land on return_url,
// a used link, a link for a product already owned, and a stackable pack with a bad then a good
// quantity. Screenshots go to ARTIFACTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { capture } from "./shot.mjs";

const { PLAN_URL, PLAN_URL_AGAIN, PACK_URL, ARTIFACTS } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
const shot = (name) => capture(page, `${ARTIFACTS}/${name}.png`);
// The app the buyer returns to is not running here: answer for it.
await page.route("http://localhost:3000/**", (route) =>
  route.fulfill({ contentType: "text/html", body: "<h1>Back in the app</h1>" }),
);
try {
  await page.goto(PLAN_URL);
  assert.equal(await page.textContent("h1"), "Starter");
  assert.match(await page.textContent(".notice"), /Test mode/);
  assert.match(await page.textContent("form"), /\$10\.00 \/ month/);
  assert.match(await page.textContent("main"), /100 × Credits/);
  await shot("01-checkout");
  await page.click("text=Complete test purchase");
  await page.waitForURL("http://localhost:3000/after");
  assert.equal(await page.textContent("h1"), "Back in the app");

  const used = await page.goto(PLAN_URL);
  assert.equal(used.status(), 404);
  assert.match(await page.textContent("h1"), /expired/);
  await shot("03-used-link");

  await page.goto(PLAN_URL_AGAIN);
  assert.match(await page.textContent("main"), /You already own this product/);
  assert.equal(await page.locator("form").count(), 0);
  await shot("04-already-owned");

  await page.goto(PACK_URL);
  await page.fill("#quantity", "abc");
  await page.click("text=Complete test purchase");
  assert.match(await page.textContent(".error"), /Quantity must be a whole number/);
  await shot("05-quantity-error");
  await page.fill("#quantity", "3");
  await page.click("text=Complete test purchase");
  assert.equal(await page.textContent("h1"), "Purchase complete");
  await shot("02-complete");
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  await shot("failure").catch(() => {});
  throw e;
} finally {
  await browser.close();
}
