// Passkeys through the published @stackframe/js SDK in headless Chromium, with Chromium's virtual
// authenticator (DevTools protocol WebAuthn domain: a CTAP2 platform authenticator holding
// discoverable credentials, user verification on, presence simulated). The tiny app (oauth-app/,
// on APP_URL, a trusted domain, and UNTRUSTED_URL, not one) signs in with a password, adds a
// passkey (user.registerPasskey), signs out, and signs in with the passkey alone
// (app.signInWithPasskey); from the untrusted origin the same passkey is refused by the server.
// Screenshots go to ARTIFACTS. The last stdout line is a JSON summary.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";

const { APP_URL, UNTRUSTED_URL, EMAIL, PASSWORD, ARTIFACTS } = process.env;
for (const [k, v] of Object.entries({ APP_URL, UNTRUSTED_URL, EMAIL, PASSWORD, ARTIFACTS }))
  assert.ok(v, `${k} must be set`);
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const log = [];
const passkeyAnswers = [];
const context = await browser.newContext({ viewport: { width: 900, height: 650 } });
const page = await context.newPage();
page.on("console", (m) => log.push(`console.${m.type()}: ${m.text()}`));
page.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
page.on("response", async (r) => {
  if (!r.url().includes("/api/v1/auth/passkey/")) return;
  passkeyAnswers.push({ path: new URL(r.url()).pathname, status: r.status(), knownError: r.headers()["x-stack-known-error"] ?? null });
});
const shot = (name) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });

// The virtual authenticator lives with this tab, across navigations and origins.
const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable");
const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: {
    protocol: "ctap2",
    transport: "internal",
    hasResidentKey: true,
    hasUserVerification: true,
    isUserVerified: true,
    automaticPresenceSimulation: true,
  },
});
const credentials = async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;

async function appReady(origin) {
  await page.waitForURL((u) => u.origin === origin && u.pathname === "/", { timeout: 20000 });
  await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
}
/** Does `action` and waits for the app to render `/` again at `origin` (a reload or redirect). */
async function andReload(origin, action) {
  await Promise.all([page.waitForEvent("load", { timeout: 20000 }), action()]);
  await appReady(origin);
}
const statusText = () => page.textContent("#status");

const appOrigin = new URL(APP_URL).origin;
const untrustedOrigin = new URL(UNTRUSTED_URL).origin;
const result = { ok: false };
try {
  await page.goto(APP_URL);
  await appReady(appOrigin);
  assert.equal(await statusText(), "Signed out");
  await shot("01-signed-out");

  // Sign in with the password, then add a passkey.
  await page.fill("#email-input", EMAIL);
  await page.fill("#password-input", PASSWORD);
  await andReload(appOrigin, () => page.click("text=Sign in with password"));
  assert.equal(await statusText(), "Signed in", await page.textContent("#error"));
  assert.equal(await page.textContent("#passkey"), "no");
  await shot("02-signed-in-with-password");
  await andReload(appOrigin, () => page.click("text=Add a passkey"));
  assert.equal(await statusText(), "Signed in", await page.textContent("#error"));
  assert.equal(await page.textContent("#passkey"), "yes");
  const stored = await credentials();
  assert.equal(stored.length, 1);
  assert.equal(stored[0].rpId, "localhost");
  assert.equal(stored[0].isResidentCredential, true);
  await shot("03-passkey-added");

  // Sign out, then sign in with the passkey alone.
  await andReload(appOrigin, () => page.click("text=Sign out"));
  assert.equal(await statusText(), "Signed out");
  await andReload(appOrigin, () => page.click("text=Sign in with a passkey"));
  assert.equal(await statusText(), "Signed in", await page.textContent("#error"));
  assert.equal(await page.textContent("#email"), EMAIL);
  assert.ok((await credentials())[0].signCount >= 2, "the authenticator counted both uses");
  await shot("04-signed-in-with-passkey");
  await andReload(appOrigin, () => page.click("text=Sign out"));

  // The same app on an origin the project does not trust: the browser signs for it, the server
  // refuses.
  await page.goto(UNTRUSTED_URL);
  await appReady(untrustedOrigin);
  await page.click("text=Sign in with a passkey");
  await page.waitForSelector("#error[data-code]", { timeout: 20000 });
  assert.equal(await page.getAttribute("#error", "data-code"), "PASSKEY_AUTHENTICATION_FAILED");
  assert.equal(await statusText(), "Error");
  await shot("05-untrusted-refused");
  const last = passkeyAnswers.at(-1);
  // (The SDK asks for errors with status 200, x-stack-override-error-status; the code is in the
  // x-stack-known-error header.)
  assert.deepEqual([last.path, last.knownError], ["/api/v1/auth/passkey/sign-in", "PASSKEY_AUTHENTICATION_FAILED"]);

  Object.assign(result, { ok: true, passkey_answers: passkeyAnswers });
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(`at ${page.url()}\n${log.join("\n")}\npasskey answers: ${JSON.stringify(passkeyAnswers)}`);
  throw e;
} finally {
  writeFileSync(`${ARTIFACTS}/browser.log`, log.join("\n") + "\n");
  await browser.close();
}
console.log(JSON.stringify(result));
