// The account page in headless Chromium at 1440 px and 390 px, with mail from a real SMTP
// sink (MAIL_DIR). A user who signs in with an emailed code (no password yet) uploads a profile
// picture (a file that is not an image refused); adds a second email, verified from the link in
// its email, made primary and its sign-in email; sets a first password; turns on two-factor
// authentication by the key under the QR code (a wrong code refused); turns marketing emails
// off; creates an API key (shown once) and revokes it; signs out, and signs in again with the
// password and the authenticator's code. Checks in the browser that no page scrolls sideways at
// 390 px. Screenshots go to ARTIFACTS.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { launch, linkIn, mailTo, twoSizes } from "./pages-browser.mjs";

const { PAGES_URL, MAIL_DIR, ARTIFACTS } = process.env;
const FIRST = "first@example.com";
const SECOND = "second@example.com";

// RFC 6238 as an authenticator app computes it from the base32 key the page shows.
function totp(base32, offsetSteps = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offsetSteps));
  const mac = createHmac("sha1", key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1e6).padStart(6, "0");
}

const browser = await launch();
const { page, phone, widths, shots, shotsHere } = await twoSizes(browser, ARTIFACTS);
const notice = () => page.textContent("[role=status]");
try {
  // Signed in with an emailed code: an account with no password.
  await page.goto(`${PAGES_URL}/sign-in`);
  await page.fill("#code-email", FIRST);
  await page.click("text=Email me a code");
  const code = (await mailTo(MAIL_DIR, FIRST, 1)).text.match(/\b[A-Z0-9]{6}\b/)[0];
  await page.fill("#otp", code);
  await page.click("button:text-is('Sign in')");
  assert.equal(await page.textContent("h1"), "Account settings");
  assert.equal(await page.textContent("#password ~ form button"), "Set password");
  await shots("01-account-no-password");

  // A profile picture: a text file refused, a PNG shown.
  await page.setInputFiles("#picture-file", { name: "notes.txt", mimeType: "image/png", buffer: Buffer.from("not an image") });
  await page.click("text=Upload picture");
  assert.match(await page.textContent("[role=alert]"), /must be a PNG, JPEG, GIF or WebP/);
  const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAYAAADED76LAAAAHElEQVR4nGNgYGD4z8DAwMDEgAYYGBgYGBgYAAAcAAEBpNaJdgAAAABJRU5ErkJggg==", "base64");
  await page.setInputFiles("#picture-file", { name: "me.png", mimeType: "image/png", buffer: png });
  await page.click("text=Upload picture");
  assert.match(await notice(), /profile picture is saved/);
  assert.ok(await page.evaluate(() => document.querySelector("img.avatar").naturalWidth > 0));

  // A second email: added, verified from its link, made primary.
  await page.fill("#new-email", SECOND);
  await page.click("text=Add email");
  assert.match(await notice(), /We sent it a link/);
  const verify = linkIn(await mailTo(MAIL_DIR, SECOND, 1));
  assert.ok(verify.startsWith(`${PAGES_URL}/email-verification?code=`), verify);
  await page.goto(verify);
  await page.click("text=Verify email");
  assert.equal(await page.textContent("h1"), "Email verified");
  await page.goto(`${PAGES_URL}/account-settings`);
  const second = page.locator("ul.rows li", { hasText: SECOND });
  assert.match(await second.textContent(), /Verified/);
  await second.locator("text=Make primary").click();
  assert.match(await notice(), /emails are updated/);
  assert.match(await page.locator("ul.rows li", { hasText: SECOND }).textContent(), /Primary/);
  await page.locator("ul.rows li", { hasText: SECOND }).locator("text=Use for sign-in").click();
  assert.match(await page.locator("ul.rows li", { hasText: SECOND }).textContent(), /Sign-in/);
  await shots("02-account-two-emails");

  // A first password (mismatch refused), then two-factor authentication.
  await page.fill("#new-password", "first-password");
  await page.fill("#new-password-again", "other-password");
  await page.click("text=Set password");
  assert.match(await page.textContent("[role=alert]"), /do not match/);
  await page.fill("#new-password", "first-password");
  await page.fill("#new-password-again", "first-password");
  await page.click("text=Set password");
  assert.match(await notice(), /password is set/);

  await page.click("#mfa-setup");
  assert.equal(await page.textContent("h1"), "Set up two-factor authentication");
  assert.equal(await page.locator(".qr svg").count(), 1);
  await shots("03-mfa-setup");
  const key = (await page.textContent("#totp-key")).trim();
  const right = totp(key);
  await page.fill("#totp", right === "123456" ? "654321" : "123456");
  await page.click("text=Turn on");
  assert.match(await page.textContent("[role=alert]"), /TOTP code is invalid/);
  await page.fill("#totp", totp(key));
  await page.click("text=Turn on");
  assert.match(await notice(), /Two-factor authentication is on/);
  await shots("04-account-mfa-on");

  // Marketing emails turned off; transactional ones cannot be.
  assert.equal(await page.isDisabled("input[type=checkbox][disabled]"), true);
  await page.uncheck("#notifications + form input[type=checkbox]:not([disabled])");
  await page.click("text=Save notifications");
  assert.match(await notice(), /notification settings are saved/);
  assert.equal(await page.isChecked("#notifications + form input[type=checkbox]:not([disabled])"), false);

  // An API key: its value shown once, then revoked.
  await page.fill("#api-key-description", "CI deploys");
  await page.click("text=Create API key");
  assert.equal(await page.textContent("h1"), "API key created");
  const apiKey = (await page.textContent("#new-api-key")).trim();
  await shotsHere("05-api-key-created");
  await page.click("text=Done");
  assert.match(await page.textContent("#api-keys + ul.rows"), new RegExp(`CI deploys.*…${apiKey.slice(-4)}.*Active`));
  await page.click("#api-keys + ul.rows button:text-is('Revoke')");
  assert.match(await page.textContent("#api-keys + ul.rows"), /Revoked/);

  // Signed out and in again: the password, then the authenticator's code.
  await page.click("button:text-is('Sign out')");
  await page.fill("#email", SECOND);
  await page.fill("#password", "first-password");
  await page.click("button:text-is('Sign in')");
  assert.equal(await page.textContent("h1"), "Two-factor authentication");
  await page.screenshot({ path: `${ARTIFACTS}/06-mfa-step-1440.png`, fullPage: true });
  await page.fill("#totp", totp(key));
  await page.click("text=Verify");
  assert.equal(await page.textContent("h1"), "Account settings");
  assert.match(await page.textContent("#signed-in-as"), new RegExp(SECOND));
  console.log(JSON.stringify({ ok: true, widths, apiKey }));
} catch (e) {
  await page.screenshot({ path: `${ARTIFACTS}/failure.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
