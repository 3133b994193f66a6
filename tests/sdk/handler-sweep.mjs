// Every page of a project's hosted pages in headless Chromium at 1440 px and 390 px, signed out
// and signed in, with the project offering every sign-in method: each page answers, fits a
// 390 px phone with no sideways scroll (measured in the browser), ties every visible input to a
// label, and is screenshot at both widths. Screenshots go to ARTIFACTS; the last stdout line is
// a JSON summary with each page's overflow.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

const { PAGES_URL, EMAIL, PASSWORD, TEAM_ID, ARTIFACTS } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext();
const pages = { wide: await context.newPage(), phone: await context.newPage() };
await pages.wide.setViewportSize({ width: 1440, height: 900 });
await pages.phone.setViewportSize({ width: 390, height: 844 });
const result = { ok: false, pages: [] };

async function check(name, path, expectStatus = [200]) {
  for (const [size, page] of Object.entries(pages)) {
    const answer = await page.goto(`${PAGES_URL}/${path}`);
    assert.ok(expectStatus.includes(answer.status()), `${name}: ${answer.status()}`);
    const look = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      // Visible inputs a screen reader could not name.
      unlabelled: [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
        .filter((i) => i.offsetParent !== null)
        .filter((i) => !i.labels?.length && !i.getAttribute("aria-label"))
        .map((i) => i.name || i.id),
      h1: document.querySelector("h1")?.textContent,
    }));
    await page.screenshot({ path: `${ARTIFACTS}/${name}-${size === "wide" ? 1440 : 390}.png`, fullPage: true });
    assert.ok(look.overflow <= 0, `${name} scrolls sideways by ${look.overflow}px at ${size}`);
    assert.deepEqual(look.unlabelled, [], `${name}: inputs without labels`);
    assert.ok(look.h1, `${name}: no heading`);
    if (size === "phone") result.pages.push({ name, overflow: look.overflow, h1: look.h1 });
  }
}

try {
  await check("sign-in", "sign-in");
  await check("sign-up", "sign-up");
  await check("forgot-password", "forgot-password");
  await check("password-reset", "password-reset?code=not-a-code");
  await check("email-verification", "email-verification?code=not-a-code");
  await check("magic-link-callback", "magic-link-callback?code=not-a-code");
  await check("mfa", "mfa");
  await check("error", "error?errorCode=SOMETHING_WENT_WRONG&message=The%20provider%20refused.", [400]);
  await check("team-invitation", "team-invitation?code=not-a-code", [200, 400]);
  await check("oauth-callback", "oauth-callback?code=x&state=y", [400]);
  await check("unknown-page", "no-such-page", [404]);

  await pages.wide.goto(`${PAGES_URL}/sign-in`);
  await pages.wide.fill("#email", EMAIL);
  await pages.wide.fill("#password", PASSWORD);
  await pages.wide.click("button:text-is('Sign in')");
  assert.equal(await pages.wide.textContent("h1"), "Account settings");
  await check("account-settings", "account-settings");
  await check("mfa-setup", "account-settings/mfa");
  await check("billing", "billing");
  await check("team", `teams/${TEAM_ID}`);
  await check("cli-auth-confirm", "cli-auth-confirm?login_code=not-a-code", [200, 400]);
  result.ok = true;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
