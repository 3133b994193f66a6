// A project's end-user pages in headless Chromium at 1440 px and 390 px, with mail from a real
// SMTP sink (MAIL_DIR): sign up (a short password refused), verify the email from the link in
// the email (a used link refused), sign out, ask for a reset, reset the password (mismatch
// refused), sign in (a wrong password refused), change the display name, sign out another
// device's session, change the password, sign out, delete the account. Checks in the browser
// that no page scrolls sideways at 390 px.
// Screenshots go to ARTIFACTS.
import assert from "node:assert/strict";
import { launch, linkIn, mailTo, twoSizes } from "./pages-browser.mjs";

const { PAGES_URL, MAIL_DIR, ARTIFACTS } = process.env;
const EMAIL = "reader@example.com";
// The link in the `n`th email (1-based) to EMAIL, once it has arrived.
const linkInMail = async (n) => linkIn(await mailTo(MAIL_DIR, EMAIL, n));

const browser = await launch();
const { context, page, phone, widths, shots } = await twoSizes(browser, ARTIFACTS);
const shot = (name) => page.screenshot({ path: `${ARTIFACTS}/${name}-1440.png`, fullPage: true });
try {
  await page.goto(`${PAGES_URL}/sign-up`);
  assert.equal(await page.textContent("h1"), "Create an account");
  await shots("01-sign-up");
  await page.fill("#email", EMAIL);
  await page.fill("#password", "short");
  await page.click("button[type=submit]");
  assert.match(await page.textContent("[role=alert]"), /too short/i);
  await shot("02-short-password");
  await page.fill("#password", "first-password");
  await page.click("button[type=submit]");
  assert.equal(await page.textContent("h1"), "Account settings");

  const verify = await linkInMail(1);
  assert.ok(verify.startsWith(`${PAGES_URL}/email-verification?code=`), verify);
  await page.goto(verify);
  assert.equal(await page.textContent("h1"), "Verify your email");
  await shots("03-verify");
  await page.click("text=Verify email");
  assert.equal(await page.textContent("h1"), "Email verified");
  await shot("04-verified");
  // The same link again: the code is spent; the error is announced.
  await page.goto(verify);
  await page.click("text=Verify email");
  assert.equal(await page.locator("[role=alert]").count(), 1);
  await shot("05-used-link");

  await page.goto(`${PAGES_URL}/account-settings`);
  await page.click("button:text-is('Sign out')");
  assert.match(await page.textContent("h1"), /Sign in to/);
  await shots("06-sign-in");
  await page.click("text=Forgot your password?");
  await shots("07-forgot");
  await page.fill("#email", EMAIL);
  await page.click("button[type=submit]");
  assert.equal(await page.textContent("h1"), "Check your email");
  const reset = await linkInMail(2);
  assert.ok(reset.startsWith(`${PAGES_URL}/password-reset?code=`), reset);
  await page.goto(reset);
  await shots("08-reset");
  await page.fill("#password", "brand-new-password");
  await page.fill("#password-again", "something-else");
  await page.click("text=Set new password");
  assert.match(await page.textContent("[role=alert]"), /do not match/);
  await page.fill("#password", "brand-new-password");
  await page.fill("#password-again", "brand-new-password");
  await page.click("text=Set new password");
  assert.equal(await page.textContent("h1"), "Password changed");

  await page.goto(`${PAGES_URL}/sign-in`);
  await page.fill("#email", EMAIL);
  await page.fill("#password", "first-password");
  await page.click("button[type=submit]");
  assert.match(await page.textContent("[role=alert]"), /Wrong e-mail or password/);
  assert.equal(await page.inputValue("#email"), EMAIL);
  await shot("09-wrong-password");
  await page.fill("#password", "brand-new-password");
  await page.click("button[type=submit]");
  assert.equal(await page.textContent("h1"), "Account settings");
  assert.match(await page.textContent("#signed-in-as"), /reader@example\.com/);
  await page.fill("#display-name", "Rita Reader");
  await page.click("text=Save");
  assert.equal(await page.inputValue("#display-name"), "Rita Reader");
  await shots("10-account");

  // Change the password: a wrong current one is refused, then it changes.
  await page.fill("#current-password", "not-my-password");
  await page.fill("#new-password", "third-password");
  await page.fill("#new-password-again", "third-password");
  await page.click("text=Change password");
  assert.equal(await page.locator("[role=alert]").count(), 1);
  await shot("10b-wrong-current-password");
  await page.fill("#current-password", "brand-new-password");
  await page.fill("#new-password", "third-password");
  await page.fill("#new-password-again", "third-password");
  await page.click("text=Change password");
  assert.match(await page.textContent("[role=status]"), /password is changed/);

  // Another device signs in; from this one, every other session is signed out.
  const other = await (await browser.newContext()).newPage();
  await other.goto(`${PAGES_URL}/sign-in`);
  await other.fill("#email", EMAIL);
  await other.fill("#password", "third-password");
  await other.click("button[type=submit]");
  assert.equal(await other.textContent("h1"), "Account settings");
  await page.reload();
  assert.equal(await page.locator("#sessions tr").count(), 3, "a header row and two sessions");
  assert.equal(await page.locator("#sessions >> text=This device").count(), 1);
  await shot("11-two-sessions");
  await page.click("text=Sign out everywhere else");
  assert.equal(await page.locator("#sessions tr").count(), 2, "only this session is left");
  await other.goto(`${PAGES_URL}/account-settings`);
  assert.match(await other.textContent("h1"), /Sign in to/, "the other device is signed out");

  await page.click("button:text-is('Sign out')");
  await page.goto(`${PAGES_URL}/account-settings`);
  assert.match(await page.textContent("h1"), /Sign in to/, "signed out: the account page sends to sign-in");

  // Sign in once more and delete the account; it cannot sign in after.
  await page.fill("#email", EMAIL);
  await page.fill("#password", "third-password");
  await page.click("button[type=submit]");
  await page.check("#confirm-delete");
  await page.click("button:text-is('Delete account')");
  assert.equal(await page.textContent("h1"), "Account deleted");
  await shot("12-deleted");
  await page.goto(`${PAGES_URL}/sign-in`);
  await page.fill("#email", EMAIL);
  await page.fill("#password", "third-password");
  await page.click("button[type=submit]");
  assert.match(await page.textContent("[role=alert]"), /Wrong e-mail or password/);
  console.log(JSON.stringify({ ok: true, overflow: widths }));
} catch (e) {
  await page.screenshot({ path: `${ARTIFACTS}/failure.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
