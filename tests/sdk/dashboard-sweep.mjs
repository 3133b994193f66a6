// A sweep over every dashboard page in headless Chromium. After a few actions that fill the
// sections the API did not (an invitation, a permission, a webhook endpoint with an attempt, a test
// email in the outbox) — each checked for its success notice — and a fresh project whose settings,
// webhooks and permissions pages show their empty-state sentences, the pages are discovered: from
// the projects list and the project's page, every same-origin `/dashboard/…` link of the project
// navigation and of the pages found is followed (within that project). Each page, at 1440 and
// 390 px wide, must not scroll sideways and must have an h1; a screenshot per page per width goes
// to ARTIFACTS. Prints { ok, visited, widths } last.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { mailTo, linkIn } from "./pages-browser.mjs";
import { capture } from "./shot.mjs";

const setupLink = process.env.SETUP_LINK;
const base = new URL(setupLink).origin;
const projectId = process.env.PROJECT_ID;
const userId = process.env.USER_ID;
const teamId = process.env.TEAM_ID;
const artifacts = process.env.ARTIFACTS;
mkdirSync(artifacts, { recursive: true });
const project = `/dashboard/projects/${projectId}`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
const page = await context.newPage();
const status = async () => (await page.textContent("[role=status]")).trim();
// A screenshot's name: the page's path with its ids named by kind.
const slug = (path) => path
  .replace(/^\/dashboard\/?/, "")
  .replace(projectId, "project")
  .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "id").replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^_|_$/g, "").slice(0, 120) || "dashboard";

/// What the page at `path` is, measured at the current width: sideways scroll and its h1.
const widths = {};
// Screenshot names already given, per width: a second page of the same kind gets a number.
const names = new Map();
const shotName = (path, width) => {
  const name = `${width}-${slug(path)}`;
  const n = (names.get(name) || 0) + 1;
  names.set(name, n);
  return n === 1 ? name : `${name}-${n}`;
};
const problems = [];
async function measure(path, width) {
  // Open every disclosure, so what it holds is measured too.
  for (const d of await page.locator("details").all()) await d.evaluate((e) => (e.open = true));
  const m = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    h1: document.querySelectorAll("h1").length,
    // The widest elements sticking out of the viewport, to say what overflows.
    culprits: [...document.querySelectorAll("main *")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .filter((e) => !e.closest(".scroll, pre.block"))
      .slice(0, 3)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className ? "." + String(e.className).replace(/ /g, ".") : ""} → ${Math.round(e.getBoundingClientRect().right)}px`),
  }));
  widths[`${path}@${width}`] = { scroll: m.scroll, inner: m.inner };
  if (m.scroll > m.inner) problems.push(`${path} at ${width}px scrolls sideways (${m.scroll} > ${m.inner}): ${m.culprits.join("; ")}`);
  if (m.h1 < 1) problems.push(`${path} at ${width}px has no h1`);
  await capture(page, `${artifacts}/${shotName(path, width)}.png`);
}

try {
  await page.goto(setupLink);
  await page.fill("#email", "admin@example.com");
  await page.fill("#password", "admin-password-1");
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/dashboard`);

  // ---- Empty states, on a fresh project made through the home page's form.
  await page.fill("#display_name", "Empty project");
  await page.click('button:text-is("Create project")');
  const emptyId = await page.getAttribute(".card table a:text-is('Empty project')", "href");
  assert.ok(emptyId, "the new project is listed");
  await page.goto(`${base}${emptyId}/settings`);
  assert.match(await page.textContent("#outbox-empty"), /No email sent yet/);
  // (A new project may start with providers on this server's shared keys.)
  if ((await page.locator("#oauth-providers tr").count()) === 1) {
    assert.match(await page.textContent("#oauth-providers-empty"), /No OAuth provider/);
  }
  await page.goto(`${base}${emptyId}/webhooks`);
  assert.match(await page.textContent("#endpoints-empty"), /No endpoint yet/);
  await page.goto(`${base}${emptyId}/permissions`);
  assert.match(await page.textContent("main"), /No project permissions yet/);

  // ---- A second admin invited from the projects page: the join page from the email is swept.
  await page.goto(`${base}/dashboard`);
  await page.fill("#invite_email", "second.admin@example.com");
  await page.click('button:text-is("Send invitation")');
  assert.match(await status(), /Invitation sent/);
  const joinLink = linkIn(await mailTo(process.env.MAIL_DIR, "second.admin@example.com", 1));
  assert.match(joinLink, /\/dashboard\/join\?code=/);

  // ---- The main project's sections, filled through their forms, each action with its notice.
  // A team invitation (and so an email in the outbox).
  await page.goto(`${base}${project}/teams/${teamId}`);
  await page.fill("#invite-email", "invitee.with.a.long.address.too@example.com");
  await page.click("text=Send invitation");
  assert.equal(await status(), "Invitation sent.");
  // A permission definition.
  await page.goto(`${base}${project}/permissions`);
  await page.selectOption("select[name=scope]", "project");
  await page.fill("#permission-id", "read:reports");
  await page.fill("#permission-description", "Read the reports");
  await page.click('button:text-is("Create permission")');
  assert.match(await status(), /Permission .*created/i);
  // A webhook endpoint (nothing listens on port 9: its attempt fails) and a test event.
  await page.goto(`${base}${project}/webhooks`);
  await page.fill("#webhook-url", "http://127.0.0.1:9/hooks/a-rather-long-path/that-goes-on/and-on-and-on");
  await page.fill("#webhook-description", "Sweep endpoint");
  await page.click('button:text-is("Add endpoint")');
  assert.match(await status(), /Endpoint added\./);
  await page.locator('button:text-is("Send test event")').last().click();
  assert.match(await status(), /The test event was (not )?delivered/);
  // The endpoint made before the run has an attempt (the user's sign-up); the new one none yet.
  await page.click("#endpoints a.value >> nth=0");
  assert.ok((await page.locator("#attempts tr").count()) >= 2, "the endpoint's attempt is listed");
  await page.goto(`${base}${project}/webhooks`);
  await page.click("#endpoints a.value >> nth=1");
  assert.match(await page.textContent("#attempts-empty"), /No attempt yet/);
  // Settings: saved, a provider saved, and a test email sent (into the outbox).
  await page.goto(`${base}${project}/settings`);
  await page.click('button:text-is("Save settings")');
  assert.equal(await status(), "Settings saved.");
  await page.selectOption("#oauth-provider", "github");
  await page.selectOption("#oauth-type", "standard");
  await page.fill("#oauth-client-id", "Iv1.a-github-client-id-that-is-rather-long-0123456789abcdef");
  await page.fill("#oauth-client-secret", "a-secret");
  await page.click('button:text-is("Save provider")');
  assert.equal(await status(), "OAuth provider saved.");
  assert.equal(await page.locator("#oauth-providers-empty").count(), 0);
  await page.fill("#test_to", "ops.with.a.long.address@example.com");
  await page.click('button:text-is("Send test email")');
  assert.equal(await status(), "Test email queued.");
  assert.match(await page.textContent("#outbox"), /ops\.with\.a\.long\.address@example\.com/);
  // Launch: the email-verification check kept off on purpose, and production mode on.
  await page.goto(`${base}${project}/launch`);
  if (await page.locator('button:text-is("Keep it off on purpose")').count()) {
    await page.click('button:text-is("Keep it off on purpose")');
    assert.match(await status(), /stays off, on purpose/);
  }
  await page.click('button:text-is("Turn production mode on")');
  assert.match(await status(), /Production mode is on/);

  // ---- Discovery: breadth-first over same-origin dashboard links, at 1440 px.
  // A link's address as the sweep keys it: its path, plus the query only where the query picks
  // another page (a catalog entry's edit form); sorting, searching and notices are the same page.
  const key = (href) => {
    const u = new URL(href, base);
    if (u.origin !== base || !u.pathname.startsWith("/dashboard")) return null;
    if (u.pathname.startsWith("/dashboard/assets/")) return null;
    // Another project's pages (the empty one) are not this sweep's.
    const m = u.pathname.match(/^\/dashboard\/projects\/([^/]+)/);
    if (m && m[1] !== projectId) return null;
    for (const param of ["edit", "edit_item", "edit_line"]) {
      const edit = u.searchParams.get(param);
      if (edit) return `${u.pathname}?${param}=${edit}`;
    }
    return u.pathname;
  };
  const queue = ["/dashboard", project];
  const seen = new Set(queue);
  const visited = [];
  // Per kind of query page (the catalog's edit forms), a few are enough.
  const edits = new Map();
  while (queue.length) {
    const path = queue.shift();
    const res = await page.goto(`${base}${path}`);
    assert.ok(res.status() < 400, `${path} answered ${res.status()}`);
    visited.push(path);
    await measure(path, 1440);
    for (const href of await page.$$eval("nav.project a[href], main a[href]", (as) => as.map((a) => a.getAttribute("href")))) {
      const k = key(href);
      if (!k || seen.has(k)) continue;
      if (k.includes("?edit")) {
        const kind = k.split("=")[0];
        if ((edits.get(kind) || 0) >= 3) continue;
        edits.set(kind, (edits.get(kind) || 0) + 1);
      }
      seen.add(k);
      queue.push(k);
    }
  }
  // The page for an address that is no page (a 404, in the same layout).
  {
    const path = "/dashboard/no-such-page";
    const res = await page.goto(`${base}${path}`);
    assert.equal(res.status(), 404);
    visited.push(path);
    await measure(path, 1440);
  }
  // The project navigation's every section was reached.
  await page.goto(`${base}${project}`);
  for (const href of await page.$$eval("nav.project a[href]", (as) => as.map((a) => a.getAttribute("href")))) {
    assert.ok(visited.includes(key(href)), `the navigation's ${href} was not visited`);
  }

  // ---- The same pages at 390 px.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of visited) {
    await page.goto(`${base}${path}`);
    await measure(path, 390);
  }

  // ---- Pages for someone not signed in: sign-in, the used setup link, a join link that does
  // not work. Measured at both widths in a context without the session.
  const anon = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const anonPage = await anon.newPage();
  const outside = [
    ["/dashboard/sign-in", `${base}/dashboard/sign-in`],
    ["/dashboard/setup", setupLink],
    ["/dashboard/join", joinLink],
    ["/dashboard/join?code=no-such-code", `${base}/dashboard/join?code=no-such-code`],
  ];
  for (const width of [1440, 390]) {
    await anonPage.setViewportSize({ width, height: 900 });
    for (const [path, url] of outside) {
      await anonPage.goto(url);
      const m = await anonPage.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth, h1: document.querySelectorAll("h1").length }));
      widths[`${path}@${width}`] = { scroll: m.scroll, inner: m.inner };
      if (m.scroll > m.inner) problems.push(`${path} at ${width}px scrolls sideways (${m.scroll} > ${m.inner})`);
      if (m.h1 < 1) problems.push(`${path} at ${width}px has no h1`);
      await capture(anonPage, `${artifacts}/${shotName(path, width)}.png`);
    }
  }
  for (const [path] of outside) visited.push(path);
  await anon.close();

  console.error(`visited ${visited.length} pages:\n${visited.join("\n")}`);
  assert.deepEqual(problems, [], problems.join("\n"));
  console.log(JSON.stringify({ ok: true, visited, widths, userId }));
} catch (e) {
  await page.screenshot({ path: `${artifacts}/failure.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
