// Passkeys on a project's hosted pages in headless Chromium with a virtual platform
// authenticator (DevTools protocol WebAuthn domain): a user signed in with a password adds a
// passkey on the account page, signs out, signs in with the passkey alone, and removes it. The
// pages' buttons appear only because the browser has WebAuthn. Screenshots (1440 px and 390 px,
// no sideways scroll) go to ARTIFACTS; the last stdout line is a JSON summary.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

const { PAGES_URL, EMAIL, ARTIFACTS } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext();
const page = await context.newPage();
await page.setViewportSize({ width: 1440, height: 900 });
const phone = await context.newPage();
await phone.setViewportSize({ width: 390, height: 844 });
const log = [];
page.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
page.on("console", (m) => log.push(`console.${m.type()}: ${m.text()}`));
const widths = [];
const shots = async (name) => {
  await page.screenshot({ path: `${ARTIFACTS}/${name}-1440.png`, fullPage: true });
  await phone.goto(page.url());
  await phone.screenshot({ path: `${ARTIFACTS}/${name}-390.png`, fullPage: true });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  widths.push([name, overflow]);
  assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at 390px`);
};
const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable");
const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
});
const credentials = async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
const notice = () => page.textContent("[role=status]");
try {
  await page.goto(`${PAGES_URL}/sign-in`);
  await page.fill("#email", EMAIL);
  await page.fill("#password", "password123");
  await page.click("button:text-is('Sign in')");
  assert.equal(await page.textContent("h1"), "Account settings");
  await page.waitForSelector("#passkey-add:not([hidden])");
  // WebAuthn answers only the focused tab (the phone-sized one takes focus after screenshots).
  await page.bringToFront();
  await page.click("text=Add a passkey");
  await page.waitForSelector("[role=status]");
  assert.match(await notice(), /passkey is added/);
  assert.equal((await credentials()).length, 1);
  assert.match(await page.textContent("#passkeys + ul.rows"), /Passkey 1/);
  await shots("01-account-with-passkey");

  await page.click("button:text-is('Sign out')");
  await page.waitForSelector("#passkey-sign-in:not([hidden])");
  await shots("02-sign-in-with-passkey");
  await page.bringToFront();
  await page.click("text=Sign in with a passkey");
  await page.waitForURL((u) => u.pathname.endsWith("/account-settings"), { timeout: 20000 });
  assert.match(await page.textContent("#signed-in-as"), new RegExp(EMAIL));
  assert.match(await page.textContent("#passkeys + ul.rows"), /last used \d{4}-/);

  await page.click("#passkeys + ul.rows button:text-is('Remove')");
  assert.match(await notice(), /passkey is removed/);
  console.log(JSON.stringify({ ok: true, widths }));
} catch (e) {
  await page.screenshot({ path: `${ARTIFACTS}/failure.png`, fullPage: true }).catch(() => {});
  console.error(log.join("\n"));
  throw e;
} finally {
  await browser.close();
}
