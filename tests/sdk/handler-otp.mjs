// Sign-in with an emailed code on a project's pages, in headless Chromium at 1440 px and
// 390 px: ask for a code, a wrong one refused, the right one from the real email (MAIL_DIR)
// signs in (a new account); sign out; then the email's magic link signs in with one press;
// then, for an app on another origin, a code signs in and the session goes back to the app,
// and so does the magic link of a later sign-in for that app.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";

const { PAGES_URL, MAIL_DIR, ARTIFACTS, HANDOFF_SIGN_IN_URL, CALLBACK } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });
const EMAIL = "coder@example.com";

const mail = async (n) => {
  for (let i = 0; i < 200; i++) {
    const mails = readdirSync(MAIL_DIR)
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => JSON.parse(readFileSync(`${MAIL_DIR}/${f}`, "utf8")))
      .filter((m) => m.to.includes(EMAIL));
    if (mails.length >= n) return mails[n - 1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`email ${n} did not arrive`);
};

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext();
const page = await context.newPage();
await page.setViewportSize({ width: 1440, height: 900 });
const phone = await context.newPage();
await phone.setViewportSize({ width: 390, height: 844 });
const widths = [];
const shots = async (name) => {
  await page.screenshot({ path: `${ARTIFACTS}/${name}-1440.png`, fullPage: true });
  await phone.goto(page.url());
  await phone.screenshot({ path: `${ARTIFACTS}/${name}-390.png`, fullPage: true });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  widths.push([name, overflow]);
  assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at 390px`);
};
try {
  await page.goto(`${PAGES_URL}/sign-in`);
  await shots("01-sign-in-with-code");
  await page.fill("#code-email", EMAIL);
  await page.click("text=Email me a code");
  assert.equal(await page.textContent("h1"), "Check your email");
  await page.screenshot({ path: `${ARTIFACTS}/02-enter-code-1440.png`, fullPage: true });
  const first = await mail(1);
  const otp = first.subject.match(/Your code is (\w+)/)[1];
  await page.fill("#otp", otp === "AAAAAA" ? "BBBBBB" : "AAAAAA");
  await page.click("button[type=submit]");
  assert.equal(await page.locator("[role=alert]").count(), 1);
  await page.fill("#otp", otp);
  await page.click("button[type=submit]");
  assert.equal(await page.textContent("h1"), "Account settings");
  assert.match(await page.textContent("#signed-in-as"), /coder@example\.com/);
  await page.click("button:text-is('Sign out')");

  await page.fill("#code-email", EMAIL);
  await page.click("text=Email me a code");
  const link = (await mail(2)).text.split(/\s+/).find((w) => w.startsWith("http"));
  assert.ok(link.startsWith(`${PAGES_URL}/magic-link-callback?code=`), link);
  await page.goto(link);
  await shots("03-magic-link");
  await page.click("button:text-is('Sign in')");
  assert.equal(await page.textContent("h1"), "Account settings");

  // For an app on another origin: the emailed code signs in and the page hands the session
  // back with a one-time code.
  await page.click("button:text-is('Sign out')");
  await page.goto(HANDOFF_SIGN_IN_URL);
  await page.fill("#code-email", EMAIL);
  await page.click("text=Email me a code");
  const third = await mail(3);
  await page.fill("#otp", third.subject.match(/Your code is (\w+)/)[1]);
  // The app is not running here: the browser's request to its callback is what counts.
  const toApp = page.waitForRequest((r) => r.url().startsWith(CALLBACK));
  await page.click("button[type=submit]");
  const back = new URL((await toApp).url());
  assert.equal(back.searchParams.get("state"), "app-state");
  assert.ok(back.searchParams.get("code"));

  // The magic link from that sign-in's email ends at the app as well (in a new tab: this one
  // is still failing to reach the app that is not running).
  const tab = await page.context().newPage();
  await tab.goto(`${PAGES_URL}/account-settings`);
  await tab.click("button:text-is('Sign out')");
  await tab.goto(HANDOFF_SIGN_IN_URL);
  await tab.fill("#code-email", EMAIL);
  await tab.click("text=Email me a code");
  const appLink = (await mail(4)).text.split(/\s+/).find((w) => w.startsWith("http"));
  assert.ok(appLink.includes("after_auth_return_to="), appLink);
  await tab.goto(appLink);
  const linkToApp = tab.waitForRequest((r) => r.url().startsWith(CALLBACK));
  await tab.click("button:text-is('Sign in')");
  const fromLink = new URL((await linkToApp).url());
  assert.equal(fromLink.searchParams.get("state"), "app-state");
  assert.ok(fromLink.searchParams.get("code"));
  console.log(JSON.stringify({ ok: true, overflow: widths }));
} catch (e) {
  await page.screenshot({ path: `${ARTIFACTS}/failure.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
