// portcullis.js on a plain page of another origin (served here by a tiny HTTP server on
// APP_PORT), in headless Chromium: "Sign in" opens the hosted sign-in page, which hands the
// session back; the page then shows the user; "Sign out" ends it.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import http from "node:http";

const { PORTCULLIS_URL, PROJECT_ID, CLIENT_KEY, APP_PORT, ARTIFACTS } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });
const appPage = `<!doctype html><html><body><h1>Some app</h1>
<span data-portcullis="user-button"></span>
<script src="${PORTCULLIS_URL}/js/portcullis.js" data-project-id="${PROJECT_ID}" data-publishable-client-key="${CLIENT_KEY}"></script>
</body></html>`;
const server = http.createServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end(appPage));
await new Promise((r) => server.listen(Number(APP_PORT), "127.0.0.1", r));
const app = `http://localhost:${APP_PORT}/page`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
const problems = [];
page.on("pageerror", (e) => problems.push(String(e)));
try {
  await page.goto(app);
  await page.click("[data-portcullis=user-button] button:text-is('Sign in')");
  await page.waitForURL(`${PORTCULLIS_URL}/handler/**`);
  await page.fill("#email", "pat@example.com");
  await page.fill("#password", "password123");
  await page.click("button[type=submit]");
  await page.waitForURL(app);
  await page.waitForSelector(".portcullis-user");
  assert.equal(await page.textContent(".portcullis-user"), "pat@example.com");
  assert.ok(!page.url().includes("code="), "the code is gone from the address bar");
  await page.screenshot({ path: `${ARTIFACTS}/01-app-signed-in.png`, fullPage: true });
  // Still signed in on the next visit; the access token is refreshed when needed.
  await page.reload();
  await page.waitForSelector(".portcullis-user");
  await page.click("[data-portcullis=user-button] button:text-is('Sign out')");
  await page.waitForSelector("[data-portcullis=user-button] button:text-is('Sign in')");
  await page.screenshot({ path: `${ARTIFACTS}/02-app-signed-out.png`, fullPage: true });
  assert.deepEqual(problems, []);
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  await page.screenshot({ path: `${ARTIFACTS}/failure.png`, fullPage: true }).catch(() => {});
  console.error(problems.join("\n"));
  throw e;
} finally {
  await browser.close();
  server.close();
}
