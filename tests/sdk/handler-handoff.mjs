// Signing in on the hosted page for an app on another origin, in headless Chromium: the form's
// answer is a redirect to the app's callback with a code and the app's state (the page's CSP
// must let the form end there). The app is not running here: its callback is answered in place.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

const { SIGN_IN_URL, CALLBACK, ARTIFACTS } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
await page.route(`${CALLBACK}**`, (route) =>
  route.fulfill({ contentType: "text/html", body: "<h1>Back in the app</h1>" }),
);
try {
  await page.goto(SIGN_IN_URL);
  await page.screenshot({ path: `${ARTIFACTS}/01-sign-in-for-app.png`, fullPage: true });
  await page.fill("#email", "pat@example.com");
  await page.fill("#password", "password123");
  await page.click("button[type=submit]");
  await page.waitForURL(`${CALLBACK}**`);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get("state"), "app-state");
  assert.ok(url.searchParams.get("code"), "a code for the app");
  assert.ok(![...url.searchParams.keys()].some((k) => /token/.test(k)), "no token in the URL");
  await page.screenshot({ path: `${ARTIFACTS}/02-back-in-app.png`, fullPage: true });
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  await page.screenshot({ path: `${ARTIFACTS}/failure.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
