// Billing on a project's pages in headless Chromium at 1440 px and 390 px, against localstripe's
// Stripe.js: a user signs up, opens Billing, buys the monthly plan on the checkout page with a
// test card, comes back to Billing with the plan (granted by Stripe's webhook), cancels it at
// the period's end and reactivates it, switches to the line's other plan, and changes the card
// in place. Checks that no page scrolls sideways at 390 px.
import assert from "node:assert/strict";
import { launch, twoSizes } from "./pages-browser.mjs";

const { PAGES_URL, ARTIFACTS } = process.env;
const browser = await launch();
const { page, phone, widths, shots } = await twoSizes(browser, ARTIFACTS);
try {
  await page.goto(`${PAGES_URL}/sign-up`);
  await page.fill("#email", "buyer@example.com");
  await page.fill("#password", "a-long-password");
  await page.click("button[type=submit]");
  await page.click("#billing-link");
  assert.equal(await page.textContent("h1"), "Billing");
  assert.equal(await page.locator("#no-plan").count(), 1);
  await shots("01-billing-empty");

  await page.click("text=Buy Pro");
  assert.equal(await page.textContent("h1"), "Pro");
  await page.waitForSelector("#card-element input[placeholder=number]");
  for (const [field, value] of [["number", "4242424242424242"], ["exp_month", "12"], ["exp_year", "30"], ["cvc", "123"], ["postal_code", "42424"]]) {
    await page.fill(`#card-element input[placeholder=${field}]`, value);
  }
  await page.click("#pay-button");
  await page.waitForURL(`${PAGES_URL}/billing`, { timeout: 30000 });
  assert.match(await page.textContent(".plan"), /Pro — renews on/);
  await shots("02-billing-plan");

  await page.click("text=Cancel at period end");
  assert.match(await page.textContent(".plan"), /Pro — ends on/);
  await shots("03-billing-canceled");
  await page.click("text=Reactivate");
  assert.match(await page.textContent(".plan"), /Pro — renews on/);
  assert.ok((await page.locator("#invoices tr").count()) >= 1, "the first invoice is listed");
  // The line's other plan is a switch, not a second purchase.
  assert.equal(await page.locator("text=Buy Max").count(), 0);
  await page.click("text=Switch to Max");
  assert.match(await page.textContent("[role=status]"), /plan is changed/);
  assert.match(await page.textContent(".plan"), /Max — renews on/);
  await shots("04-billing-switched");

  // A new card, in place: invoices are charged to it from now on.
  assert.match(await page.textContent("#card"), /4242/);
  await page.click("#change-card");
  assert.equal(await page.textContent("h1"), "Change card");
  await page.waitForSelector("#card-element input[placeholder=number]");
  for (const [field, value] of [["number", "5555555555554444"], ["exp_month", "11"], ["exp_year", "31"], ["cvc", "321"], ["postal_code", "42424"]]) {
    await page.fill(`#card-element input[placeholder=${field}]`, value);
  }
  await shots("05-change-card");
  await page.click("text=Save card");
  await page.waitForURL(`${PAGES_URL}/billing?card=1`, { timeout: 30000 });
  assert.match(await page.textContent("[role=status]"), /new card is saved/);
  assert.match(await page.textContent("#card"), /•••• 4444/);
  console.log(JSON.stringify({ ok: true, overflow: widths }));
} catch (e) {
  await page.screenshot({ path: `${ARTIFACTS}/failure.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
