// A project's end-user pages in headless Chromium at 1440 px and 390 px: verify an email from
// the link in a real email (a used link is refused), reset a password (mismatch refused, then
// set), sign in (a wrong password refused), change the display name, sign out. Checks in the
// browser that no page scrolls sideways at 390 px. Screenshots go to ARTIFACTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

const { VERIFY_URL, RESET_URL, SIGN_IN_URL, ARTIFACTS } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
// One browser profile (its cookies) seen at two sizes.
const context = await browser.newContext();
const desktop = await context.newPage();
await desktop.setViewportSize({ width: 1440, height: 900 });
const phone = await context.newPage();
await phone.setViewportSize({ width: 390, height: 844 });
let page = desktop;
const widths = [];
// Both sizes of the current state of `page`'s URL, on a fresh GET for the phone.
const shots = async (name) => {
  await desktop.screenshot({ path: `${ARTIFACTS}/${name}-1440.png`, fullPage: true });
  await phone.goto(desktop.url());
  await phone.screenshot({ path: `${ARTIFACTS}/${name}-390.png`, fullPage: true });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  widths.push([name, overflow]);
  assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at 390px`);
};
try {
  await page.goto(VERIFY_URL);
  assert.equal(await page.textContent("h1"), "Verify your email");
  await shots("01-verify");
  await page.click("text=Verify email");
  assert.equal(await page.textContent("h1"), "Email verified");
  await desktop.screenshot({ path: `${ARTIFACTS}/02-verified-1440.png`, fullPage: true });

  // The same link again: the code is spent; the error is announced.
  await page.goto(VERIFY_URL);
  await page.click("text=Verify email");
  assert.ok(await page.locator("[role=alert]").count() === 1);
  await desktop.screenshot({ path: `${ARTIFACTS}/03-used-link-1440.png`, fullPage: true });

  await page.goto(RESET_URL);
  assert.equal(await page.textContent("h1"), "Reset your password");
  await shots("04-reset");
  await page.fill("#password", "brand-new-password");
  await page.fill("#password-again", "something-else");
  await page.click("text=Set new password");
  assert.match(await page.textContent("[role=alert]"), /do not match/);
  await page.fill("#password", "brand-new-password");
  await page.fill("#password-again", "brand-new-password");
  await page.click("text=Set new password");
  assert.equal(await page.textContent("h1"), "Password changed");
  await desktop.screenshot({ path: `${ARTIFACTS}/05-reset-done-1440.png`, fullPage: true });

  await page.goto(SIGN_IN_URL);
  await shots("06-sign-in");
  await page.fill("#email", "reader@example.com");
  await page.fill("#password", "first-password");
  await page.click("button[type=submit]");
  assert.match(await page.textContent("[role=alert]"), /Wrong e-mail or password/);
  assert.equal(await page.inputValue("#email"), "reader@example.com");
  await desktop.screenshot({ path: `${ARTIFACTS}/07-wrong-password-1440.png`, fullPage: true });
  await page.fill("#password", "brand-new-password");
  await page.click("button[type=submit]");
  assert.equal(await page.textContent("h1"), "Account settings");
  assert.match(await page.textContent("#signed-in-as"), /reader@example\.com/);
  await page.fill("#display-name", "Rita Reader");
  await page.click("text=Save");
  assert.equal(await page.inputValue("#display-name"), "Rita Reader");
  await shots("08-account");
  await page.click("text=Sign out");
  assert.match(await page.textContent("h1"), /Sign in to/);
  await page.goto(SIGN_IN_URL.replace("/sign-in", "/account-settings"));
  assert.match(await page.textContent("h1"), /Sign in to/, "signed out: the account page sends to sign-in");
  console.log(JSON.stringify({ ok: true, overflow: widths }));
} catch (e) {
  await page.screenshot({ path: `${ARTIFACTS}/failure.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
