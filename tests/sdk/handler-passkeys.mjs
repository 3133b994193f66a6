// Passkeys on a project's hosted pages in headless Chromium with a virtual platform
// authenticator (DevTools protocol WebAuthn domain): a user signed in with a password adds a
// passkey on the account page, signs out, signs in with the passkey alone, and removes it. The
// pages' buttons appear only because the browser has WebAuthn. Screenshots (1440 px and 390 px,
// no sideways scroll) go to ARTIFACTS; the last stdout line is a JSON summary.
import assert from "node:assert/strict";
import { launch, twoSizes } from "./pages-browser.mjs";

const { PAGES_URL, EMAIL, ARTIFACTS } = process.env;
const browser = await launch();
const { context, page, phone, widths, shots } = await twoSizes(browser, ARTIFACTS);
const log = [];
page.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
page.on("console", (m) => log.push(`console.${m.type()}: ${m.text()}`));
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
