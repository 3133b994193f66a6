// The users, teams and project-keys pages in headless Chromium: the quick-start panel (copy
// buttons read back from the clipboard, the .env block, the @stackframe/js script run against
// this server), every user-page and team-page action with its notice (role=status), refusals
// (role=alert) that keep what was typed, empty states, and no sideways scroll at 390 and
// 1440 px on each page. Prints a JSON summary the Rust test checks through the REST API.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { capture } from "./shot.mjs";

const setupLink = process.env.SETUP_LINK;
const base = new URL(setupLink).origin;
const artifacts = process.env.ARTIFACTS;
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
// Refused forms answer 400 (Chromium logs those as failed loads); anything else is a fault.
page.on("console", (m) => m.type() === "error" && !/status of (400|404)/.test(m.text()) && errors.push(m.text()));
const shot = (name) => capture(page, `${artifacts}/${name}.png`);
const text = async (sel) => (await page.textContent(sel)).trim();
const summary = { ok: false };
const widths = {};

/// The notice of the last action (role=status) must say `re`.
async function notice(re) {
  const got = await page.textContent(".notice[role=status]");
  assert.match(got, re, `notice on ${page.url()}`);
}
/// The refusal (role=alert) must say `re`.
async function refusal(re) {
  const got = await page.textContent(".error[role=alert]");
  assert.match(got, re, `refusal on ${page.url()}`);
}
/// No sideways scroll at 390 px (phone, screenshot `<name>-390`) and 1440 px.
async function noSideScroll(name) {
  for (const width of [390, 1440]) {
    await page.setViewportSize({ width, height: 900 });
    const m = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    widths[`${name}@${width}`] = m;
    assert.ok(m.scroll <= m.inner, `${name} scrolls sideways at ${width}px: ${JSON.stringify(m)}`);
    if (width === 390) await shot(`${name}-390`);
  }
}
/// Clicks the copy button after the value `sel` (a selector) and reads the clipboard: it must
/// hold the value shown.
async function copyOf(sel) {
  const shown = await text(sel);
  const button = page.locator(`${sel} + button.copy`);
  assert.equal(await button.getAttribute("data-copy"), shown);
  await page.evaluate(() => navigator.clipboard.writeText("(nothing copied)"));
  await button.click();
  await page.waitForFunction((sel) => document.querySelector(`${sel} + button.copy`).dataset.copied === "yes", sel);
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, shown, `clipboard after copying ${sel}`);
  return shown;
}
/// The code element of the project id in the quick-start panel.
const projectIdCode = ".quick-start .qs-row:has(> button[aria-label='Copy Project ID']) > code";

try {
  // First admin.
  await page.goto(setupLink);
  await page.fill("#email", "admin@example.com");
  await page.fill("#password", "admin-password-1");
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/dashboard`);

  // ---- A new project's quick-start panel ----------------------------------------------------
  await page.fill("#display_name", "Quick");
  await page.click("text=Create project");
  const projectId = await copyOf(projectIdCode);
  const publishable = await copyOf("#publishable-key");
  const secret = await copyOf("#secret-key");
  const adminKey = await copyOf("#admin-key");
  assert.match(publishable, /^pck_/);
  assert.match(secret, /^ssk_/);
  assert.match(adminKey, /^sak_/);
  assert.match(await text("#copy-status"), /Copied Super secret admin key/);
  const env = await text("#env-block");
  for (const line of [`NEXT_PUBLIC_STACK_API_URL=${base}`, `NEXT_PUBLIC_STACK_PROJECT_ID=${projectId}`, `NEXT_PUBLIC_STACK_PUBLISHABLE_CLIENT_KEY=${publishable}`, `STACK_SECRET_SERVER_KEY=${secret}`]) {
    assert.ok(env.split("\n").includes(line), `.env has ${line}: ${env}`);
  }
  // The .env and script copy buttons copy the blocks as shown.
  await page.click("button[aria-label='Copy the .env block']");
  assert.equal((await page.evaluate(() => navigator.clipboard.readText())).trim(), env);
  await page.click("button[aria-label='Copy the script']");
  const snippet = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(snippet.trim(), await text("#snippet"));
  assert.ok(snippet.includes(`baseUrl: "${base}"`) && snippet.includes(`projectId: "${projectId}"`) && snippet.includes(secret), snippet);
  // The script runs as it is against this server and sees the project (no users yet).
  const ran = execFileSync("node", ["--input-type=module"], { input: snippet, cwd: process.cwd(), encoding: "utf8", timeout: 60000 });
  assert.match(ran, /Connected: 0 user\(s\) in the project/);
  summary.snippet_output = ran.trim();
  await shot("01-quick-start");
  await noSideScroll("01-quick-start");
  // On a phone a long key ends in an ellipsis on one line instead of wrapping.
  await page.setViewportSize({ width: 390, height: 900 });
  const truncated = await page.$eval("#secret-key", (el) => ({ overflow: getComputedStyle(el).textOverflow, cut: el.scrollWidth > el.clientWidth, lines: Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight || "18")) }));
  assert.equal(truncated.overflow, "ellipsis");
  assert.ok(truncated.cut, `the secret key is cut at 390px: ${JSON.stringify(truncated)}`);
  await page.setViewportSize({ width: 1440, height: 900 });

  // ---- The project's keys page: a new key set in the same panel, then revoked ---------------
  await page.goto(`${base}/dashboard/projects/${projectId}`);
  await page.fill("#key-description", "Second set");
  await page.click("text=Create API keys");
  await notice(/API keys created/);
  const secondSecret = await copyOf("#new-secret-key");
  assert.notEqual(secondSecret, secret);
  assert.ok((await text("#new-env-block")).includes(`STACK_SECRET_SERVER_KEY=${secondSecret}`));
  assert.ok((await text("#new-snippet")).includes(secondSecret));
  await shot("02-project-keys");
  await noSideScroll("02-project-keys");
  const second = page.locator("#key-sets tr", { hasText: "Second set" });
  await second.locator("button:has-text('Revoke')").click();
  await refusal(/Tick “sure”/);
  await page.locator("#key-sets tr", { hasText: "Second set" }).locator("input[name=confirm]").check();
  await page.locator("#key-sets tr", { hasText: "Second set" }).locator("button:has-text('Revoke')").click();
  await notice(/API keys revoked/);
  summary.revoked_secret = secondSecret;

  // ---- Users ----------------------------------------------------------------------------------
  const users = `${base}/dashboard/projects/${projectId}/users`;
  await page.goto(users);
  assert.match(await text("p.empty"), /No users yet/);
  await noSideScroll("03-users-empty");
  const createUser = async (email) => {
    await page.goto(users);
    await page.fill("#new-email", email);
    await page.click("text=Create user");
  };
  await createUser("alice@example.com");
  await notice(/User created/);
  const aliceUrl = page.url().split("?")[0];
  // A second user with the same address is refused, and the form keeps it.
  await createUser("alice@example.com");
  await refusal(/already/i);
  assert.equal(await page.inputValue("#new-email"), "alice@example.com");
  await shot("04-users-refused");

  await page.goto(aliceUrl);
  // Display name: too long is refused with the text kept; then saved.
  const long = "A".repeat(300);
  await page.fill("#display_name", long);
  await page.click("text=Save name");
  await refusal(/^Keep the display name to 256 characters or fewer\.$/);
  assert.equal(await page.inputValue("#display_name"), long);
  await shot("05-user-refused");
  await page.fill("#display_name", "Alice Liddell");
  await page.click("text=Save name");
  await notice(/Display name saved/);
  assert.equal(await text("#display-name"), "Alice Liddell");
  // Password: too short is refused; then set.
  await page.fill("#new_password", "short");
  await page.click("#set-password");
  await refusal(/too short/i);
  await page.fill("#new_password", "alice-pass-1234");
  await page.click("#set-password");
  await notice(/Password set/);
  // Emails: the reset link and the verification link go out; then marked verified.
  await page.click("#send-reset");
  await notice(/Password reset email sent/);
  await page.click("#send-verification");
  await notice(/Verification email sent/);
  await page.click("#mark-verified");
  await notice(/marked as verified/);
  assert.match(await text("#emails"), /verified/);
  assert.equal(await page.locator("#mark-verified").count(), 0);
  // Restriction with a reason and private details.
  await page.fill("#restriction_reason", "Chargebacks");
  await page.fill("#restriction_details", "ticket 42");
  await page.click("#restrict");
  await notice(/User restricted/);
  assert.match(await text("#status"), /restricted \(restricted_by_administrator\)/);
  assert.match(await text("#restricted-banner"), /Chargebacks/);
  await shot("06-user-restricted");
  await noSideScroll("06-user");
  summary.alice_id = aliceUrl.split("/").pop();

  // Bob: restricted, then lifted.
  await createUser("bob@example.com");
  const bobUrl = page.url().split("?")[0];
  await page.click("#restrict");
  await notice(/User restricted/);
  await page.click("#lift-restriction");
  await notice(/Restriction lifted/);
  assert.equal(await text("#status"), "active");
  summary.bob_id = bobUrl.split("/").pop();
  // A session of Bob's (signed in through the API) revoked from the page; metadata saved.
  await page.fill("#new_password", "bob-pass-12345");
  await page.click("#set-password");
  await notice(/Password set/);
  const signIn = await fetch(`${base}/api/v1/auth/password/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-stack-project-id": projectId, "x-stack-access-type": "client", "x-stack-publishable-client-key": publishable },
    body: JSON.stringify({ email: "bob@example.com", password: "bob-pass-12345" }),
  });
  assert.equal(signIn.status, 200);
  await page.goto(bobUrl);
  assert.equal(await page.locator("button.revoke").count(), 1);
  await page.click("button.revoke");
  await notice(/Session revoked/);
  assert.match(await text("#sessions-card p.empty"), /No active sessions/);
  await page.fill("#server_metadata", "{oops");
  await page.click("text=Save metadata");
  await refusal(/server_metadata is not valid JSON/);
  assert.equal(await page.inputValue("#server_metadata"), "{oops");
  await page.fill("#server_metadata", '{"tier": "gold"}');
  await page.click("text=Save metadata");
  await notice(/Metadata saved/);

  // Carol: deleting needs the box ticked.
  await createUser("carol@example.com");
  summary.carol_id = page.url().split("?")[0].split("/").pop();
  await page.click("button:has-text('Delete user')");
  await refusal(/Tick the box/);
  await page.check("#delete input[name=confirm]");
  await page.click("button:has-text('Delete user')");
  await notice(/User deleted/);
  assert.ok(!(await text("#users")).includes("carol@example.com"));
  await shot("07-users");
  await noSideScroll("07-users");

  // ---- Teams ----------------------------------------------------------------------------------
  const teams = `${base}/dashboard/projects/${projectId}/teams`;
  await page.goto(teams);
  assert.match(await text("p.empty"), /No teams yet/);
  await noSideScroll("08-teams-empty");
  await page.fill("#team-name", "Red");
  await page.click("text=Create team");
  await notice(/Team created/);
  const teamUrl = page.url().split("?")[0];
  assert.match(await text("#members-card p.empty"), /No members yet/);
  assert.match(await text("#invitations-card p.empty"), /No pending invitations/);
  // Rename: too long is refused with the text kept; then renamed.
  await page.fill("#rename", long);
  await page.click("text=Rename team");
  await refusal(/^Keep the team name to 256 characters or fewer\.$/);
  assert.equal(await page.inputValue("#rename"), long);
  await page.fill("#rename", "Blue Team");
  await page.click("text=Rename team");
  await notice(/Team renamed/);
  assert.equal(await text("#team-name-title"), "Blue Team");
  // Members: an unknown user is refused with the text kept; alice is added.
  await page.fill("#member-email", "nobody@example.com");
  await page.click("text=Add member");
  await refusal(/User not found/);
  assert.equal(await page.inputValue("#member-email"), "nobody@example.com");
  await page.fill("#member-email", "alice@example.com");
  await page.click("text=Add member");
  await notice(/Member added/);
  // Invitations: two sent, one revoked.
  for (const email of ["invitee@example.com", "second@example.com"]) {
    await page.fill("#invite-email", email);
    await page.click("text=Send invitation");
    await notice(/Invitation sent/);
  }
  assert.equal(await page.locator("#invitations tr").count(), 3);
  await page.click("button[aria-label='Revoke the invitation to second@example.com']");
  await notice(/Invitation revoked/);
  assert.ok(!(await text("#invitations")).includes("second@example.com"));
  assert.ok((await text("#invitations")).includes("invitee@example.com"));
  await shot("09-team");
  await noSideScroll("09-team");
  // Deleting takes the exact name; a wrong one is refused and kept.
  await page.fill("#delete-team-confirm", "blue team");
  await page.click("button:has-text('Delete team')");
  await refusal(/Type the team's name exactly/);
  assert.equal(await page.inputValue("#delete-team-confirm"), "blue team");
  summary.team_id = teamUrl.split("/").pop();
  // A second team, deleted for good.
  await page.goto(teams);
  await page.fill("#team-name", "Doomed");
  await page.click("text=Create team");
  summary.deleted_team_id = page.url().split("?")[0].split("/").pop();
  await page.fill("#delete-team-confirm", "Doomed");
  await page.click("button:has-text('Delete team')");
  await notice(/Team deleted/);
  assert.equal(page.url().split("?")[0], teams);
  assert.ok(!(await text("#teams")).includes("Doomed"));
  await shot("10-teams");
  await noSideScroll("10-teams");

  // ---- Permissions: a refused definition keeps its fields; then created ---------------------
  await page.goto(`${base}/dashboard/projects/${projectId}/permissions`);
  assert.match(await text("p.empty"), /No project permissions yet/);
  await page.fill("#permission-id", "Bad ID!");
  await page.fill("#permission-description", "Read the reports");
  await page.click("text=Create permission");
  await page.waitForSelector(".error[role=alert]");
  assert.equal(await page.inputValue("#permission-id"), "Bad ID!");
  assert.equal(await page.inputValue("#permission-description"), "Read the reports");
  await page.fill("#permission-id", "read:reports");
  await page.click("text=Create permission");
  await notice(/Permission created/);
  assert.match(await text("#team-permissions"), /read:reports/);
  await noSideScroll("11-permissions");

  assert.deepEqual(errors, [], "no script errors or CSP refusals");
  Object.assign(summary, { ok: true, project_id: projectId, publishable_client_key: publishable, secret_server_key: secret, widths });
  console.log(JSON.stringify(summary));
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(e);
  console.error(`at ${page.url()}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
