// Teams on a project's pages in headless Chromium at 1440 px and 390 px: an owner signs up,
// creates a team and invites a member by email; the member opens the invitation from the real
// email (MAIL_DIR), creates an account from there, comes back to the invitation and joins; the
// team page then lists both. The member makes it their current team, the owner renames it (the
// member may not), and the member leaves. Checks that no page scrolls sideways at 390 px.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";

const { PAGES_URL, MAIL_DIR, ARTIFACTS } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });

const linkInMailTo = async (to) => {
  for (let i = 0; i < 200; i++) {
    const mail = readdirSync(MAIL_DIR)
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => JSON.parse(readFileSync(`${MAIL_DIR}/${f}`, "utf8")))
      .find((m) => m.to.includes(to) && /invited/i.test(m.subject));
    if (mail) return mail.text.split(/\s+/).find((w) => w.startsWith("http"));
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no invitation to ${to}`);
};

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const device = async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.setViewportSize({ width: 1440, height: 900 });
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  return { page, phone };
};
const widths = [];
const shots = async ({ page, phone }, name) => {
  await page.screenshot({ path: `${ARTIFACTS}/${name}-1440.png`, fullPage: true });
  await phone.goto(page.url());
  await phone.screenshot({ path: `${ARTIFACTS}/${name}-390.png`, fullPage: true });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  widths.push([name, overflow]);
  assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at 390px`);
};
const signUp = async (page, email) => {
  await page.fill("#email", email);
  await page.fill("#password", "a-long-password");
  await page.click("button[type=submit]");
};
const owner = await device();
const member = await device();
try {
  await owner.page.goto(`${PAGES_URL}/sign-up`);
  await signUp(owner.page, "owner@example.com");
  assert.equal(await owner.page.textContent("h1"), "Account settings");
  await owner.page.fill("#team-name", "Readers Club");
  await owner.page.click("text=Create team");
  assert.equal(await owner.page.textContent("h1"), "Readers Club");
  assert.match(await owner.page.textContent("#members"), /owner@example\.com/);
  await owner.page.fill("#invite-email", "member@example.com");
  await owner.page.click("text=Send invitation");
  assert.equal(await owner.page.textContent("h1"), "Readers Club");
  await shots(owner, "01-team");

  const invitation = await linkInMailTo("member@example.com");
  assert.ok(invitation.startsWith(`${PAGES_URL}/team-invitation?code=`), invitation);
  await member.page.goto(invitation);
  assert.equal(await member.page.textContent("h1"), "Join Readers Club");
  await shots(member, "02-invitation-signed-out");
  await member.page.click("text=create an account");
  assert.equal(await member.page.textContent("h1"), "Create an account");
  await signUp(member.page, "member@example.com");
  // Back on the invitation, signed in now.
  assert.equal(await member.page.textContent("h1"), "Join Readers Club");
  await shots(member, "03-invitation");
  await member.page.click("text=Join team");
  assert.equal(await member.page.textContent("h1"), "Readers Club");
  const members = await member.page.textContent("#members");
  assert.match(members, /owner@example\.com/);
  assert.match(members, /member@example\.com/);
  await member.page.goto(`${PAGES_URL}/account-settings`);
  assert.match(await member.page.textContent("#teams"), /Readers Club/);
  await shots(member, "04-account-with-team");
  // The member makes it their current team; the owner renames it; the member leaves.
  await member.page.click("#teams button:text-is('Make current')");
  assert.match(await member.page.textContent("[role=status]"), /current team is changed/);
  assert.match(await member.page.textContent("#teams"), /Current/);
  await owner.page.fill("#team-display-name", "Book Club");
  await owner.page.click("text=Rename team");
  assert.equal(await owner.page.textContent("h1"), "Book Club");
  await member.page.reload();
  await member.page.click("#teams a:text-is('Book Club')");
  assert.equal(await member.page.locator("#team-display-name").count(), 0, "a member without $update_team may not rename");
  await shots(member, "05-team-as-member");
  await member.page.check("#confirm-leave");
  await member.page.click("text=Leave team");
  assert.match(await member.page.textContent("[role=status]"), /You left the team/);
  assert.doesNotMatch(await member.page.textContent("#teams"), /Book Club/);
  console.log(JSON.stringify({ ok: true, overflow: widths }));
} catch (e) {
  await owner.page.screenshot({ path: `${ARTIFACTS}/failure-owner.png`, fullPage: true }).catch(() => {});
  await member.page.screenshot({ path: `${ARTIFACTS}/failure-member.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
