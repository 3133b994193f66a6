// The checkout page with Stripe in headless Chromium: Stripe.js (localstripe's stand-in, served
// at /js.stripe.com/v3/) mounts its card element in the page; a declined card is reported in
// place and the same page then pays with a good card, waits for Stripe's webhook to grant the
// monthly plan, and lands back on the app. Screenshots go to ARTIFACTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

const { CHECKOUT_URL, RETURN_URL, ARTIFACTS } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
const shot = (name) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
const problems = [];
page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
page.on("pageerror", (e) => problems.push(String(e)));
// The app the buyer returns to is not running here: answer for it.
await page.route(`${RETURN_URL}**`, (route) =>
  route.fulfill({ contentType: "text/html", body: "<h1>Back in the app</h1>" }),
);
const card = async (number) => {
  for (const [field, value] of [["number", number], ["exp_month", "12"], ["exp_year", "30"], ["cvc", "123"], ["postal_code", "42424"]]) {
    await page.fill(`#card-element input[placeholder=${field}]`, value);
  }
};
try {
  await page.goto(CHECKOUT_URL);
  assert.equal(await page.textContent("h1"), "Pro");
  assert.match(await page.textContent("form"), /\$25\.00 \/ month/);
  assert.equal(await page.locator(".notice").count(), 0, "no test-mode notice");
  // Stripe.js mounted its card inputs in the page itself: no hop to another site.
  await page.waitForSelector("#card-element input[placeholder=number]");
  await shot("01-checkout");

  await card("4000000000000002");
  await page.click("#pay-button");
  await page.waitForSelector("#pay-status.error");
  assert.match(await page.textContent("#pay-status"), /declin|card/i);
  assert.equal(page.url(), CHECKOUT_URL);
  await shot("02-declined");

  await card("4242424242424242");
  await page.click("#pay-button");
  await page.waitForURL(`${RETURN_URL}**`, { timeout: 30000 });
  assert.equal(await page.textContent("h1"), "Back in the app");
  await shot("03-back-in-app");
  assert.deepEqual(problems.filter((p) => !/favicon|400|402/.test(p)), []);
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(problems.join("\n"));
  throw e;
} finally {
  await browser.close();
}
