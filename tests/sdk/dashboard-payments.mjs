// The dashboard's payments pages in headless Chromium: the catalog built through its forms (a
// product line, a refused product that keeps its input, a monthly price with a free trial and an
// included item), notices after each write, a customer's grant and adjustment (its note in the
// history), checkout links (none offered to a team without team products; a return URL; the
// checkout page names the customer), refunds offered only for the purchase paid through Stripe,
// and no sideways scroll on any payments page at 390 and 1440 px. Screenshots go to ARTIFACTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { capture } from "./shot.mjs";

const setupLink = process.env.SETUP_LINK;
const base = new URL(setupLink).origin;
const projectId = process.env.PROJECT_ID;
const userId = process.env.USER_ID;
const teamId = process.env.TEAM_ID;
const paidId = process.env.PAID_PURCHASE_ID;
const artifacts = process.env.ARTIFACTS;
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
const shot = (name) => capture(page, `${artifacts}/${name}.png`);
const pay = `${base}/dashboard/projects/${projectId}/payments`;
const status = async () => (await page.textContent("[role=status]")).trim();
const alert = async () => (await page.textContent("[role=alert]")).trim();
try {
  await page.goto(setupLink);
  await page.fill("#email", "admin@example.com");
  await page.fill("#password", "admin-password-1");
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/dashboard`);

  // The catalog: no product line yet (an empty state), then one made through its form.
  await page.goto(pay);
  assert.match(await page.textContent("#lines-empty"), /No product lines yet/);
  // A new product's form holds no real value: every price and included-item field is empty.
  for (const id of ["#product-id", "#product-name", "#amount-0", "#interval-count-0", "#trial-count-0", "#price-id-0", "#inc-quantity-0"]) {
    assert.equal(await page.inputValue(id), "", id);
  }
  assert.equal(await page.inputValue("#interval-unit-0"), "");
  assert.equal(await page.inputValue("#inc-item-0"), "");
  assert.equal(await page.inputValue("#product-prices"), "");
  await shot("01-catalog");
  await page.fill("#line-id", "plans");
  await page.fill("#line-name", "Plans");
  await page.click('button:text-is("Save product line")');
  assert.equal(await status(), "Product line “plans” saved.");
  assert.match(await page.textContent("#product-lines"), /Plans/);

  // A refused product keeps everything typed, with the reason.
  await page.fill("#product-id", "pro");
  await page.fill("#product-name", "Pro");
  await page.selectOption("#product-line", "plans");
  await page.fill("#amount-0", "ten dollars");
  await page.fill("#interval-count-0", "1");
  await page.selectOption("#interval-unit-0", "month");
  await page.fill("#trial-count-0", "7");
  await page.selectOption("#trial-unit-0", "day");
  await page.fill("#price-id-0", "monthly");
  await page.selectOption("#inc-item-0", "credits");
  await page.fill("#inc-quantity-0", "5");
  await page.fill("#inc-repeat-count-0", "1");
  await page.selectOption("#inc-repeat-unit-0", "month");
  await page.click('button:text-is("Save product")');
  assert.match(await alert(), /Price 1: the amount must be a number like 10 or 9\.99/);
  assert.equal(await page.locator("[role=status]").count(), 0);
  assert.equal(await page.inputValue("#product-id"), "pro");
  assert.equal(await page.inputValue("#product-name"), "Pro");
  assert.equal(await page.inputValue("#product-line"), "plans");
  assert.equal(await page.inputValue("#amount-0"), "ten dollars");
  assert.equal(await page.inputValue("#interval-unit-0"), "month");
  assert.equal(await page.inputValue("#trial-count-0"), "7");
  assert.equal(await page.inputValue("#trial-unit-0"), "day");
  assert.equal(await page.inputValue("#inc-item-0"), "credits");
  assert.equal(await page.inputValue("#inc-quantity-0"), "5");
  assert.equal(await page.inputValue("#inc-repeat-unit-0"), "month");
  assert.doesNotMatch(await page.textContent("#products"), /Pro\b/);
  await shot("02-product-refused");

  await page.fill("#amount-0", "10.00");
  await page.click('button:text-is("Save product")');
  assert.equal(await status(), "Product “pro” saved.");
  const row = page.locator("#products tr", { has: page.locator("button[data-copy=pro]") });
  assert.match(await row.textContent(), /\$10\.00 \/ month · 7-day free trial/);
  assert.match(await row.textContent(), /5 × Credits/);
  assert.match(await page.textContent("#product-lines"), /Pro/);
  // The form is empty again for the next product.
  assert.equal(await page.inputValue("#product-id"), "");
  assert.equal(await page.inputValue("#amount-0"), "");
  await shot("03-product-saved");

  // Editing starts from what is stored.
  await row.locator("a:has-text('Edit')").click();
  assert.equal(await page.inputValue("#product-id"), "pro");
  assert.equal(await page.inputValue("#amount-0"), "10.00");
  assert.equal(await page.inputValue("#interval-unit-0"), "month");
  assert.equal(await page.inputValue("#trial-count-0"), "7");
  assert.equal(await page.inputValue("#inc-item-0"), "credits");
  await shot("04-product-edit");

  // A scratch item, deleted with its confirmation ticked.
  await page.goto(pay);
  await page.fill("#item-id", "scratch");
  await page.click('button:text-is("Save item")');
  assert.equal(await status(), "Item “scratch” saved.");
  const scratch = page.locator("#items tr", { has: page.locator("button[data-copy=scratch]") });
  await scratch.locator("input[name=confirm]").check();
  await scratch.locator("button:has-text('Delete')").click();
  assert.equal(await status(), "Item “scratch” deleted.");
  assert.equal(await page.locator("#items button[data-copy=scratch]").count(), 0);

  // A customer: an admin grant, a refused then a made adjustment (its note in the history).
  await page.goto(`${pay}/customers/user/${userId}`);
  await page.selectOption("#grant-product", "credit-pack");
  await page.click("text=Grant product");
  assert.equal(await status(), "Product granted.");
  await page.fill("#adjust-delta", "three");
  await page.fill("#adjust-description", "goodwill credit");
  await page.click("text=Adjust quantity");
  assert.match(await alert(), /The change must be a whole number/);
  assert.equal(await page.inputValue("#adjust-delta"), "three");
  assert.equal(await page.inputValue("#adjust-description"), "goodwill credit");
  await shot("06-customer-refused");
  await page.fill("#adjust-delta", "3");
  await page.click("text=Adjust quantity");
  assert.equal(await status(), "Quantity changed.");
  assert.match(await page.textContent("#transactions"), /Note: goodwill credit/);
  assert.match(await page.textContent("#transactions"), /admin grant/);

  // A checkout link: an untrusted return URL is refused with the input kept; a trusted one works.
  await page.click("details.checkout summary");
  await page.selectOption("details.checkout select[name=product_id]", "credit-pack");
  await page.fill("details.checkout input[name=return_url]", "https://elsewhere.example/done");
  await shot("05-customer");
  await page.click("text=Create checkout link");
  assert.match(await alert(), /Redirect URL not whitelisted/);
  assert.equal(await page.inputValue("details.checkout input[name=return_url]"), "https://elsewhere.example/done");
  assert.equal(await page.inputValue("details.checkout input[name=customer_id]"), userId);
  const returnUrl = `${base}/handler/${projectId}/account-settings`;
  await page.fill("details.checkout input[name=return_url]", returnUrl);
  await page.click("text=Create checkout link");
  assert.match(await status(), /Checkout link created for .*buyer@example\.com.*Credit pack/);
  const checkoutUrl = (await page.textContent("#checkout-url")).trim();
  assert.ok(checkoutUrl.includes("return_url="), checkoutUrl);
  await shot("07-checkout-link");
  await page.goto(checkoutUrl);
  assert.match(await page.textContent("#customer"), /Buying for\s+Buyer One \(buyer@example\.com\)/);
  await shot("08-checkout-page");
  await page.click("text=Complete test purchase");
  // Back at the return URL (a handler page, which asks the buyer to sign in first).
  await page.waitForURL((u) => u.pathname.startsWith(`/handler/${projectId}/`));

  // A team: no product is for teams, so the dialog says why and links to the catalog.
  await page.goto(`${pay}/customers/team/${teamId}`);
  await page.click("details.checkout summary");
  assert.match(await page.textContent(".no-products"), /No product in the catalog is for team customers/);
  assert.equal(await page.locator("details.checkout form").count(), 0);
  assert.equal(await page.getAttribute(".no-products a", "href"), `/dashboard/projects/${projectId}/payments`);
  await shot("09-team-no-products");

  // Transactions: the one purchase paid through Stripe offers a refund; the others say why not.
  await page.goto(`${pay}/transactions`);
  const refundButtons = page.locator("#transactions button:has-text('Refund')");
  assert.equal(await refundButtons.count(), 1);
  const paidRow = page.locator(`#transactions tr[data-id="${paidId}"]`);
  assert.equal(await paidRow.locator("button:has-text('Refund')").count(), 1);
  const text = await page.textContent("#transactions");
  assert.match(text, /admin grant[\s\S]*Granted by an admin: nothing was paid\./);
  assert.match(text, /purchase \(test mode\)[\s\S]*Test mode: nothing was paid\./);
  assert.match(text, /Only purchases can be refunded\./);
  assert.match(text, /Note: goodwill credit/);
  await shot("10-transactions");
  await paidRow.locator("input[name=confirm]").check();
  await paidRow.locator("button:has-text('Refund')").click();
  assert.equal(await status(), "Refund made.");
  assert.match(await page.locator(`#transactions tr[data-id="${paidId}"]`).textContent(), /Refunded already\./);
  assert.equal(await page.locator("#transactions button:has-text('Refund')").count(), 0);
  await shot("11-refunded");

  // Empty states.
  await page.goto(`${pay}/transactions?customer_type=custom`);
  assert.match(await page.textContent("#transactions-empty"), /No transactions yet/);
  await page.goto(`${pay}/customers?query=nobody-matches-this`);
  assert.match(await page.textContent("#customers-empty"), /No customer matches/);

  // No payments page scrolls sideways, narrow or wide.
  const pages = {
    catalog: pay,
    "catalog-edit": `${pay}?edit=pro`,
    customers: `${pay}/customers`,
    "customer-user": `${pay}/customers/user/${userId}`,
    "customer-team": `${pay}/customers/team/${teamId}`,
    transactions: `${pay}/transactions`,
    stripe: `${pay}/stripe`,
  };
  const widths = {};
  for (const width of [390, 1440]) {
    await page.setViewportSize({ width, height: 900 });
    for (const [name, url] of Object.entries(pages)) {
      await page.goto(url);
      // Open every disclosure, so what it holds is measured too.
      for (const d of await page.locator("details").all()) await d.evaluate((e) => (e.open = true));
      const m = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      widths[`${name}@${width}`] = m;
      assert.ok(m.scroll <= m.inner, `${name} at ${width}px scrolls sideways: ${JSON.stringify(m)}`);
      if (width === 390) await shot(`narrow-${name}`);
    }
    // The checkout link page and the checkout itself.
    await page.goto(`${pay}/customers/user/${userId}`);
    await page.click("details.checkout summary");
    await page.selectOption("details.checkout select[name=product_id]", "credit-pack");
    await page.click("text=Create checkout link");
    let m = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    assert.ok(m.scroll <= m.inner, `the checkout link page at ${width}px scrolls sideways: ${JSON.stringify(m)}`);
    widths[`checkout-link@${width}`] = m;
    if (width === 390) await shot("narrow-checkout-link");
    await page.goto((await page.textContent("#checkout-url")).trim());
    m = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    assert.ok(m.scroll <= m.inner, `the checkout page at ${width}px scrolls sideways: ${JSON.stringify(m)}`);
    widths[`checkout@${width}`] = m;
    if (width === 390) await shot("narrow-checkout");
  }
  console.log(JSON.stringify({ ok: true, widths }));
} catch (e) {
  await shot("failure").catch(() => {});
  throw e;
} finally {
  await browser.close();
}
