// A project's theme on its hosted pages in headless Chromium: the primary colour on the buttons,
// the logo in the header, dark colours when the visitor prefers them (THEME_SCHEME "system") or
// always ("dark"), at 1440 px and 390 px with no sideways scroll. Screenshots go to ARTIFACTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

const { PAGES_URL, PRIMARY, ARTIFACTS } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const rgb = (hex) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(", ")})`;
const result = { ok: false, pages: [] };
try {
  for (const [scheme, width] of [["light", 1440], ["dark", 1440], ["dark", 390], ["light", 390]]) {
    const context = await browser.newContext({ colorScheme: scheme, viewport: { width, height: 844 } });
    const page = await context.newPage();
    for (const name of ["sign-in", "sign-up", "forgot-password"]) {
      await page.goto(`${PAGES_URL}/${name}`);
      const look = await page.evaluate(() => {
        const button = document.querySelector("button[type=submit]:not(.secondary)");
        const logo = document.querySelector("header img.logo");
        return {
          button: getComputedStyle(button).backgroundColor,
          body: getComputedStyle(document.body).backgroundColor,
          logo: logo ? logo.naturalWidth : 0,
          overflow: document.documentElement.scrollWidth - window.innerWidth,
        };
      });
      assert.equal(look.button, rgb(PRIMARY), `${name}: the button's colour`);
      assert.ok(look.logo > 0, `${name}: the logo did not load`);
      assert.equal(look.body === "rgb(245, 246, 248)", scheme === "light", `${name} in ${scheme}: body ${look.body}`);
      assert.ok(look.overflow <= 0, `${name} scrolls sideways by ${look.overflow}px at ${width}px`);
      result.pages.push({ name, scheme, width, ...look });
      await page.screenshot({ path: `${ARTIFACTS}/${name}-${scheme}-${width}.png`, fullPage: true });
    }
    await context.close();
  }
  result.ok = true;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
