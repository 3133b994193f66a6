// OAuth sign-in on a project's hosted pages in headless Chromium, with no app at all: the
// sign-in page's "Continue with GitHub" button goes to the provider (the local OpenID Connect
// provider at OIDC_URL), back to the pages' oauth-callback, and on to where the page was asked
// to return (RETURN_URL, the account page here). The callback's URL replayed in another browser
// is refused. Screenshots go to ARTIFACTS; the last stdout line is a JSON summary.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";

const { PAGES_URL, RETURN_URL, OIDC_URL, ARTIFACTS } = process.env;
for (const [k, v] of Object.entries({ PAGES_URL, RETURN_URL, OIDC_URL, ARTIFACTS })) assert.ok(v, `${k} must be set`);
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const log = [];
const callbacks = [];
async function newVisitor(width) {
  const context = await browser.newContext({ viewport: { width, height: 800 } });
  const p = await context.newPage();
  p.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
  p.on("response", (r) => r.status() >= 400 && log.push(`${r.status()} ${r.request().method()} ${r.url().split("?")[0]}`));
  p.on("request", (r) => r.url().includes("/oauth-callback") && callbacks.push(r.url()));
  return p;
}
let page = await newVisitor(1440);
const shot = (name) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
const scrollsSideways = () => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);

const result = { ok: false };
try {
  const signIn = `${PAGES_URL}/sign-in?after_auth_return_to=${encodeURIComponent(RETURN_URL)}`;
  await page.goto(signIn);
  assert.ok(await page.isVisible("text=Continue with GitHub"));
  await shot("01-sign-in-with-providers-1440");
  await page.setViewportSize({ width: 390, height: 800 });
  assert.equal(await scrollsSideways(), false, "the sign-in page scrolls sideways at 390 px");
  await shot("01-sign-in-with-providers-390");
  await page.setViewportSize({ width: 1440, height: 800 });

  await page.click("text=Continue with GitHub");
  await page.waitForURL((u) => u.href.startsWith(OIDC_URL), { timeout: 20000 });
  for (let i = 0; i < 6 && page.url().startsWith(OIDC_URL); i++) {
    await page.waitForLoadState();
    const from = page.url();
    if (await page.locator("input[name=login]").count()) {
      await page.fill("input[name=login]", "octocat");
      await page.fill("input[name=password]", "any password");
      await page.click("button:has-text('Sign-in')");
    } else if (await page.locator("input[value=consent]").count()) {
      await page.click("button:has-text('Continue')");
    } else {
      throw new Error(`unexpected provider page ${page.url()}: ${await page.textContent("body")}`);
    }
    await page.waitForURL((u) => u.href !== from, { timeout: 20000 });
  }
  await page.waitForURL((u) => u.href === RETURN_URL, { timeout: 20000 });
  assert.match(await page.textContent("#signed-in-as"), /octocat@example\.com/);
  await shot("02-signed-in-with-github-1440");

  // The callback's URL (its code and state) opened in another browser signs no one in.
  assert.equal(callbacks.length, 1, JSON.stringify(callbacks));
  await page.context().close();
  page = await newVisitor(390);
  const replay = await page.goto(callbacks[0]);
  assert.equal(replay.status(), 400);
  assert.match(await page.textContent("[role=alert]"), /started in another browser/);
  assert.equal(await scrollsSideways(), false);
  await shot("03-callback-replayed-390");

  Object.assign(result, { ok: true, callbacks: callbacks.length });
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(`at ${page.url()}\n${log.join("\n")}`);
  throw e;
} finally {
  writeFileSync(`${ARTIFACTS}/browser.log`, log.join("\n") + "\n");
  await browser.close();
}
console.log(JSON.stringify(result));
