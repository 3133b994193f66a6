// A full-page screenshot for people to look at. Chromium now and then answers
// "Unable to capture screenshot" under load: try again, then settle for the viewport rather
// than fail a run whose assertions passed.
export async function capture(page, path) {
  try {
    await page.screenshot({ path, fullPage: true });
  } catch {
    await page.waitForTimeout(250);
    await page.screenshot({ path, fullPage: true }).catch(() => page.screenshot({ path }));
  }
}
