// What the hosted-pages browser scripts share: headless Chromium, one browser profile seen at
// 1440 px and 390 px with screenshots at both and the sideways-scroll check, and the emails the
// SMTP sink (tests/smtp_sink.py) wrote to MAIL_DIR.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";

export function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * One browser profile (its cookies) with a 1440 px tab (`page`) and a 390 px one (`phone`).
 * `shots(name)` screenshots the page at both sizes (the phone loads the same URL) and asserts
 * the phone does not scroll sideways; `shotsHere(name)` does so for a page answered to a form,
 * whose URL cannot be opened again, by resizing it in place. `widths` lists each overflow.
 */
export async function twoSizes(browser, artifacts) {
  mkdirSync(artifacts, { recursive: true });
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.setViewportSize({ width: 1440, height: 900 });
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  const widths = [];
  const overflowOf = (tab) => tab.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  const record = (name, overflow) => {
    widths.push([name, overflow]);
    assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at 390px`);
  };
  return {
    context,
    page,
    phone,
    widths,
    async shots(name) {
      await page.screenshot({ path: `${artifacts}/${name}-1440.png`, fullPage: true });
      await phone.goto(page.url());
      await phone.screenshot({ path: `${artifacts}/${name}-390.png`, fullPage: true });
      record(name, await overflowOf(phone));
    },
    async shotsHere(name) {
      await page.screenshot({ path: `${artifacts}/${name}-1440.png`, fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: `${artifacts}/${name}-390.png`, fullPage: true });
      const overflow = await overflowOf(page);
      await page.setViewportSize({ width: 1440, height: 900 });
      record(name, overflow);
    },
  };
}

/** The `n`th email (1-based) to `to` in the sink's folder, once it has arrived. */
export async function mailTo(mailDir, to, n) {
  for (let i = 0; i < 200; i++) {
    const mails = readdirSync(mailDir)
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => JSON.parse(readFileSync(`${mailDir}/${f}`, "utf8")))
      .filter((m) => m.to.includes(to));
    if (mails.length >= n) return mails[n - 1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`email ${n} to ${to} did not arrive`);
}

/** The first link in an email's text. */
export const linkIn = (mail) => mail.text.split(/\s+/).find((w) => w.startsWith("http"));
