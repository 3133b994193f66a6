// Sign-in with an emailed code on a project's pages, in headless Chromium at 1440 px and
// 390 px: ask for a code, a wrong one refused, the right one from the real email (MAIL_DIR)
// signs in (a new account); sign out; then the email's magic link signs in with one press;
// then, for an app on another origin, a code signs in and the session goes back to the app,
// and so does the magic link of a later sign-in for that app.
import assert from "node:assert/strict";
import { launch, linkIn, mailTo, twoSizes } from "./pages-browser.mjs";

const { PAGES_URL, MAIL_DIR, ARTIFACTS, HANDOFF_SIGN_IN_URL, CALLBACK } = process.env;
const EMAIL = "coder@example.com";
const mail = (n) => mailTo(MAIL_DIR, EMAIL, n);

const browser = await launch();
const { context, page, phone, widths, shots } = await twoSizes(browser, ARTIFACTS);
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
  const link = linkIn(await mail(2));
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
  const appLink = linkIn(await mail(4));
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
