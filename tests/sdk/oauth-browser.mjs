// OAuth sign-in through the published @stackframe/js SDK in headless Chromium. The tiny app
// (oauth-app/, served by serve-oauth-app.mjs on APP_URL, a trusted domain, and UNTRUSTED_URL, not
// one) signs in with GitHub through the provider's login and consent pages (the local
// oidc-provider at OIDC_URL), lands signed in, links Google as a second provider, and from the
// untrusted origin is refused before the browser reaches the provider. Screenshots go to
// ARTIFACTS. The last stdout line is a JSON summary.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";

const { APP_URL, UNTRUSTED_URL, OIDC_URL, PORTCULLIS_URL, ARTIFACTS } = process.env;
for (const [k, v] of Object.entries({ APP_URL, UNTRUSTED_URL, OIDC_URL, PORTCULLIS_URL, ARTIFACTS }))
  assert.ok(v, `${k} must be set`);
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const log = [];
// Every request to the provider and every answer of authorize, in order, over all pages.
const providerRequests = [];
const authorizeAnswers = [];
/** A fresh browser profile (cookies and storage of its own) with its traffic recorded. */
async function newVisitor() {
  const context = await browser.newContext({ viewport: { width: 900, height: 650 } });
  const p = await context.newPage();
  p.on("console", (m) => log.push(`console.${m.type()}: ${m.text()}`));
  p.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
  p.on("requestfailed", (r) => log.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  p.on("response", (r) => r.status() >= 400 && log.push(`${r.status()} ${r.request().method()} ${r.url().split("?")[0]}`));
  p.on("request", (r) => r.url().startsWith(OIDC_URL) && providerRequests.push(r.url()));
  p.on("response", async (r) => {
    if (!r.url().includes("/api/v1/auth/oauth/authorize/")) return;
    const entry = { url: r.url(), status: r.status(), knownError: r.headers()["x-stack-known-error"] ?? null, body: null };
    authorizeAnswers.push(entry);
    if (r.status() < 300 || r.status() >= 400) entry.body = await r.text().catch(() => null);
  });
  return p;
}
let page = await newVisitor();
const shot = (name) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });

/** Waits until the app's page at `origin` has finished rendering. */
async function appReady(origin, path = "/") {
  await page.waitForURL((u) => u.origin === origin && u.pathname === path, { timeout: 20000 });
  await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
}

/** Clicks `selector` and waits until the browser has left the current URL. */
async function clickAndLeave(selector) {
  const from = page.url();
  await page.click(selector);
  await page.waitForURL((u) => u.href !== from, { timeout: 20000 });
}

/** At the provider: signs in as `login` if asked, consents if asked, until the browser leaves it. */
async function atProvider(login, shots) {
  await page.waitForURL((u) => u.href.startsWith(OIDC_URL), { timeout: 20000 });
  for (let i = 0; i < 6 && page.url().startsWith(OIDC_URL); i++) {
    await page.waitForLoadState();
    if (await page.locator("input[name=login]").count()) {
      await page.fill("input[name=login]", login);
      await page.fill("input[name=password]", "any password");
      if (shots.login) await shot(shots.login);
      await clickAndLeave("button:has-text('Sign-in')");
    } else if (await page.locator("input[value=consent]").count()) {
      if (shots.consent) await shot(shots.consent);
      await clickAndLeave("button:has-text('Continue')");
    } else {
      throw new Error(`unexpected provider page ${page.url()}: ${await page.textContent("body")}`);
    }
  }
}

const appOrigin = new URL(APP_URL).origin;
const untrustedOrigin = new URL(UNTRUSTED_URL).origin;
const result = { ok: false };
try {
  // 1. Signed out on the trusted app.
  await page.goto(APP_URL);
  await appReady(appOrigin);
  assert.equal(await page.textContent("#status"), "Signed out");
  await shot("01-app-signed-out");

  // 2. Sign in with GitHub: the provider's login page, then its consent page, then back.
  await page.click("text=Sign in with GitHub");
  await atProvider("octocat", { login: "02-provider-login", consent: "03-provider-consent" });
  await appReady(appOrigin);
  assert.equal(await page.textContent("#status"), "Signed in", await page.textContent("#error"));
  assert.equal(await page.textContent("#email"), "octocat@example.com");
  assert.equal(await page.getAttribute("#providers", "data-ids"), "github");
  await shot("04-signed-in");
  // signInWithOAuth fetched authorize as JSON (stack_response_mode=json) and went to its
  // location, the provider's authorization endpoint.
  assert.equal(authorizeAnswers[0].status, 200, JSON.stringify(authorizeAnswers[0]));
  assert.equal(new URL(authorizeAnswers[0].url).searchParams.get("stack_response_mode"), "json");
  assert.ok(providerRequests[0].startsWith(`${OIDC_URL}/auth?`), providerRequests[0]);
  // Signed in for real: a reload reads the user again from the API with the stored session.
  await page.reload();
  await appReady(appOrigin);
  assert.equal(await page.textContent("#email"), "octocat@example.com");

  // 3. Link Google to the signed-in user (type=link, the access token in the authorize URL).
  // One local issuer plays both providers: forget its session (its cookies only, not the app's),
  // as a real Google would not know the GitHub login, so the user signs in there anew.
  await page.context().clearCookies({ name: /^_session/ });
  await page.click("text=Link Google");
  await atProvider("octocat-google", { login: "05-link-provider-login", consent: "06-link-provider-consent" });
  await appReady(appOrigin);
  assert.equal(await page.textContent("#status"), "Signed in", await page.textContent("#error"));
  assert.equal(await page.textContent("#email"), "octocat@example.com");
  assert.equal(await page.getAttribute("#providers", "data-ids"), "github,google");
  assert.equal(await page.isVisible("#link-google"), false);
  await shot("07-linked");
  const link = authorizeAnswers.find((a) => new URL(a.url).searchParams.get("type") === "link");
  assert.ok(link, "the link went through authorize with type=link");
  assert.equal(link.status, 307, JSON.stringify(link));

  // 4. The same app on an origin that is not a trusted domain, for a new visitor (the app's
  // session cookies are per host, not per port): authorize refuses, and the browser never
  // reaches the provider.
  await page.context().close();
  page = await newVisitor();
  const before = providerRequests.length;
  const answersBefore = authorizeAnswers.length;
  await page.goto(UNTRUSTED_URL);
  await appReady(untrustedOrigin);
  assert.equal(await page.textContent("#status"), "Signed out");
  await page.click("text=Sign in with GitHub");
  await page.waitForSelector("#error[data-code]", { timeout: 20000 });
  await page.waitForTimeout(500);
  assert.equal(await page.getAttribute("#error", "data-code"), "REDIRECT_URL_NOT_WHITELISTED");
  assert.match(await page.textContent("#error"), /Redirect URL not whitelisted/);
  assert.equal(new URL(page.url()).origin, untrustedOrigin);
  assert.deepEqual(providerRequests.slice(before), [], "the browser went to the provider");
  const refused = authorizeAnswers.slice(answersBefore);
  assert.equal(refused.length, 1, JSON.stringify(refused));
  assert.equal(refused[0].status, 400, JSON.stringify(refused[0]));
  assert.equal(refused[0].knownError, "REDIRECT_URL_NOT_WHITELISTED");
  assert.equal(JSON.parse(refused[0].body).code, "REDIRECT_URL_NOT_WHITELISTED");
  assert.ok(new URL(refused[0].url).searchParams.get("redirect_uri").startsWith(untrustedOrigin));
  await shot("08-untrusted-refused");

  Object.assign(result, { ok: true, provider_requests: providerRequests.length, authorize: authorizeAnswers.map((a) => ({ type: new URL(a.url).searchParams.get("type"), status: a.status, knownError: a.knownError })) });
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(`at ${page.url()}\n${log.join("\n")}\nauthorize answers: ${JSON.stringify(authorizeAnswers, null, 1)}`);
  throw e;
} finally {
  writeFileSync(`${ARTIFACTS}/browser.log`, log.join("\n") + "\n");
  await browser.close();
}
console.log(JSON.stringify(result));
