// The dashboard in headless Chromium: first-admin setup, create a project (keys shown once),
// open it, sign out, a wrong password, sign in again. Screenshots of each page go to ARTIFACTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { capture } from "./shot.mjs";

// Pages are reached through the link the server printed, so its origin is the one to expect.
const base = new URL(process.env.SETUP_LINK).origin;
const setupLink = process.env.SETUP_LINK;
const artifacts = process.env.ARTIFACTS;
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
const shot = (name) => capture(page, `${artifacts}/${name}.png`);
try {
  await page.goto(setupLink);
  await shot("01-setup");
  await page.fill("#email", "admin@example.com");
  await page.fill("#password", "short");
  await page.click("button[type=submit]");
  assert.match(await page.textContent(".error"), /Password too short/);
  await page.fill("#email", "admin@example.com");
  await page.fill("#password", "admin-password-1");
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/dashboard`);
  assert.equal(await page.textContent("h1"), "Projects");
  await shot("02-projects-empty");

  await page.fill("#display_name", "Acme");
  await page.click("text=Create project");
  const publishable = (await page.textContent("#publishable-key")).trim();
  const secret = (await page.textContent("#secret-key")).trim();
  assert.match(secret, /^ssk_/);
  await shot("03-project-created");

  await page.click("a:has-text('Acme')");
  assert.equal((await page.textContent("#user-count")).trim(), "0");
  const projectId = page.url().split("/").pop();
  await shot("04-project");

  // Users: create one, give them a session through the API, then manage them from the page.
  await page.click("text=Users →");
  await page.fill("#new-email", "customer@example.com");
  await page.fill("#new-password", "customer-pass-1");
  await page.click("text=Create user");
  assert.ok((await page.textContent("h1")).includes("customer@example.com"));
  const userUrl = page.url().split("?")[0];
  const signIn = await fetch(`${base}/api/v1/auth/password/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-stack-project-id": projectId, "x-stack-access-type": "client", "x-stack-publishable-client-key": publishable },
    body: JSON.stringify({ email: "customer@example.com", password: "customer-pass-1" }),
  });
  assert.equal(signIn.status, 200);
  await page.reload();
  assert.equal(await page.locator("button.revoke").count(), 1);
  await shot("07-user-detail");
  await page.click("button.revoke");
  assert.equal(await page.locator("button.revoke").count(), 0);
  // Metadata: invalid JSON is refused with a message and nothing saved; valid JSON is saved.
  await page.fill("#server_metadata", "{not json");
  await page.click("text=Save metadata");
  assert.match(await page.textContent(".error"), /server_metadata is not valid JSON/);
  await shot("08-metadata-error");
  await page.fill("#server_metadata", '{"plan": "pro"}');
  await page.click("text=Save metadata");
  assert.equal(page.url().split("?")[0], userUrl);
  assert.match(await page.inputValue("#server_metadata"), /"plan": "pro"/);
  await page.goto(`${base}/dashboard/projects/${projectId}/users?query=customer`);
  assert.ok((await page.textContent("table")).includes("customer@example.com"));
  await shot("06-users");

  // Settings: sign-in methods, a trusted domain, the project's own SMTP server, a test email.
  await page.goto(`${base}/dashboard/projects/${projectId}/settings`);
  await page.check("input[name=magic_link_enabled]");
  await page.fill("#domains", "https://app.acme.test");
  await page.fill("#smtp_host", "127.0.0.1");
  await page.fill("#smtp_port", "not-a-port");
  await page.click("text=Save settings");
  assert.match(await page.textContent(".error"), /SMTP port must be a number/);
  await page.fill("#smtp_port", process.env.SMTP_PORT);
  await page.fill("#smtp_username", "mailer");
  await page.fill("#smtp_password", "s3cret");
  await page.fill("#sender_name", "Acme");
  await page.fill("#sender_email", "hello@acme.test");
  await page.check("input[name=magic_link_enabled]");
  await page.click("text=Save settings");
  assert.equal(await page.inputValue("#smtp_host"), "127.0.0.1");
  assert.equal(await page.isChecked("input[name=magic_link_enabled]"), true);
  await page.fill("#test_to", "ops@acme.test");
  await page.click("text=Send test email");
  assert.equal((await page.textContent("#notice [role=status]")).trim(), "Test email queued.");
  for (let i = 0; i < 50 && !(await page.textContent("#outbox")).includes("sent"); i++) {
    await new Promise((r) => setTimeout(r, 200));
    await page.reload();
  }
  assert.ok((await page.textContent("#outbox")).includes("sent"), await page.textContent("#outbox"));
  await shot("09-settings");

  // OAuth: own keys need both values; a saved provider is listed, its secret never shown.
  await page.selectOption("#oauth-provider", "github");
  await page.fill("#oauth-client-id", "gh-client");
  await page.click("text=Save provider");
  assert.match(await page.textContent(".error"), /client_secret must be defined/);
  await page.selectOption("#oauth-provider", "github");
  await page.fill("#oauth-client-id", "gh-client");
  await page.fill("#oauth-client-secret", "gh-secret-value");
  await page.click("text=Save provider");
  assert.match(await page.textContent("#oauth-providers"), /github/);
  // The exact callback URL to register at the provider.
  assert.match(await page.textContent("#oauth-providers"), /\/api\/v1\/auth\/oauth\/callback\/github/);
  assert.doesNotMatch(await page.content(), /gh-secret-value/);
  // Any OpenID Connect issuer, under a name of the project's own.
  await page.selectOption("#oauth-provider", "oidc");
  await page.fill("#oauth-oidc-id", "keycloak");
  await page.fill("#oauth-issuer", "https://sso.example.com/realms/main");
  await page.fill("#oauth-client-id", "kc-client");
  await page.fill("#oauth-client-secret", "kc-secret-value");
  await page.click("text=Save provider");
  const providers = await page.textContent("#oauth-providers");
  assert.match(providers, /keycloak\s*OpenID Connect: https:\/\/sso\.example\.com\/realms\/main/);
  assert.match(providers, /\/api\/v1\/auth\/oauth\/callback\/keycloak/);
  assert.match(providers, /github/);
  assert.doesNotMatch(await page.content(), /kc-secret-value/);
  await shot("09b-oauth-providers");

  // Payments: an item, a refused then a saved product, granted from the customers page.
  await page.goto(`${base}/dashboard/projects/${projectId}/payments`);
  assert.match(await page.textContent("#test-mode"), /on/);
  await page.fill("#item-id", "credits");
  await page.fill("#item-name", "Credits");
  await page.click("text=Save item");
  assert.match(await page.textContent("#items"), /Credits/);
  await page.fill("#product-id", "starter-pack");
  await page.fill("#product-name", "Starter pack");
  await page.click("details.advanced summary");
  await page.fill("#product-prices", "{ not json");
  await page.click('button:text-is("Save product")');
  assert.match(await page.textContent(".error"), /Prices must be a JSON object/);
  assert.equal(await page.inputValue("#product-prices"), "{ not json");
  assert.equal(await page.locator("#products").count(), 0);
  await shot("10-product-error");
  await page.fill("#product-prices", '{ "once": { "USD": "5" } }');
  await page.fill("#product-items", '{ "credits": { "quantity": 100 } }');
  await page.check("input[name=stackable]");
  await page.click('button:text-is("Save product")');
  assert.match(await page.textContent("#products"), /Starter pack/);
  assert.match(await page.textContent("#products"), /\$5\.00/);
  await shot("11-catalog");

  await page.click("text=Customers");
  await page.fill("#customer-query", "customer@");
  await page.click("text=Search");
  await page.click("#customers a:has-text('customer@example.com')");
  await page.selectOption("#grant-product", "starter-pack");
  await page.click("text=Grant product");
  assert.match(await page.textContent("#owned"), /Starter pack/);
  assert.equal((await page.textContent("#balances .quantity[data-item=credits]")).trim(), "100");
  await page.fill("#adjust-delta", "-150");
  await page.click("text=Adjust quantity");
  assert.match(await page.textContent(".error"), /insufficient quantity/);
  await page.fill("#adjust-delta", "-30");
  await page.fill("#adjust-description", "support refund");
  await page.click("text=Adjust quantity");
  assert.equal((await page.textContent("#balances .quantity[data-item=credits]")).trim(), "70");
  await page.click("details.checkout summary");
  await shot("12-customer");
  await page.click("text=Create checkout link");
  assert.match(await page.textContent("#checkout-url"), /\/purchase\/.+_/);
  await page.click("text=Open checkout");
  assert.equal(await page.textContent("h1"), "Starter pack");

  await page.goto(`${base}/dashboard/projects/${projectId}/payments/transactions`);
  assert.match(await page.textContent("#transactions"), /manual-item-quantity-change/);
  // Nothing listed was paid through Stripe: no refund is offered, and each row says why.
  assert.equal(await page.locator("#transactions button:has-text('Refund')").count(), 0);
  assert.match(await page.textContent("#transactions"), /admin grant[\s\S]*Granted by an admin/);
  await shot("13-transactions");

  // API keys: a new set is shown once, works, and stops working once revoked.
  await page.goto(`${base}/dashboard/projects/${projectId}`);
  await page.fill("#key-description", "CI keys");
  await page.click("text=Create API keys");
  const newSecret = (await page.textContent("#new-secret-key")).trim();
  const current = (key) => fetch(`${base}/api/v1/projects/current`, { headers: { "x-stack-project-id": projectId, "x-stack-access-type": "server", "x-stack-secret-server-key": key } });
  assert.equal((await current(newSecret)).status, 200);
  await shot("14-project-keys");
  await page.goto(`${base}/dashboard/projects/${projectId}`);
  assert.equal(await page.locator("#new-secret-key").count(), 0);
  const row = page.locator("#key-sets tr", { hasText: "CI keys" });
  await row.locator("button:has-text('Revoke')").click();
  assert.match(await page.textContent(".error"), /Tick/);
  await page.locator("#key-sets tr", { hasText: "CI keys" }).locator("input[name=confirm]").check();
  await page.locator("#key-sets tr", { hasText: "CI keys" }).locator("button:has-text('Revoke')").click();
  assert.match(await page.textContent("#key-sets"), /revoked/);
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal((await current(newSecret)).status, 401);

  // Teams and permissions.
  await page.goto(`${base}/dashboard/projects/${projectId}/permissions`);
  await page.fill("#permission-id", "Bad ID");
  await page.click("text=Create permission");
  assert.match(await page.textContent(".error"), /must match/);
  await page.fill("#permission-id", "read:reports");
  await page.fill("#permission-description", "Read reports");
  await page.click("text=Create permission");
  assert.match(await page.textContent("#team-permissions"), /read:reports/);
  await shot("16-permissions");
  await page.goto(`${base}/dashboard/projects/${projectId}/teams`);
  await page.fill("#team-name", "Acme Team");
  await page.click("text=Create team");
  await page.fill("#member-email", "nobody@example.com");
  await page.click("text=Add member");
  assert.match(await page.textContent(".error"), /User not found/);
  await page.fill("#member-email", "customer@example.com");
  await page.click("text=Add member");
  const member = page.locator("#members tr", { hasText: "customer@example.com" });
  await member.locator("select[name=permission_id]").selectOption("read:reports");
  await member.locator("button:has-text('Grant')").click();
  assert.match(await page.textContent("#members"), /read:reports/);
  await shot("15-team");
  const teamUrl = page.url().split("?")[0];

  // Deleting a project takes its exact name.
  await page.goto(`${base}/dashboard`);
  await page.fill("#display_name", "Scratch");
  await page.click("text=Create project");
  await page.click("a:has-text('Scratch')");
  await page.fill("#delete-confirm", "scratch");
  await page.click("button:has-text('Delete project')");
  assert.match(await page.textContent(".error"), /Type the project's name exactly/);
  await page.fill("#delete-confirm", "Scratch");
  await page.click("button:has-text('Delete project')");
  await page.waitForURL(`${base}/dashboard?done=project-deleted`);
  assert.match(await page.textContent(".notice[role=status]"), /Project deleted/);
  assert.doesNotMatch(await page.textContent("main"), /Scratch/);

  await page.click("text=Sign out");
  await page.waitForURL(`${base}/dashboard/sign-in`);
  await page.fill("#email", "admin@example.com");
  await page.fill("#password", "wrong-password");
  await page.click("button[type=submit]");
  assert.match(await page.textContent(".error"), /Wrong e-mail or password/);
  await shot("05-sign-in-error");
  await page.fill("#email", "admin@example.com");
  await page.fill("#password", "admin-password-1");
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/dashboard`);
  assert.ok((await page.textContent("table")).includes("Acme"));

  // The setup link worked once: opened again, it says so and offers no form.
  await page.goto(setupLink);
  assert.match(await page.textContent("main"), /no longer works[\s\S]*already been used/);
  assert.equal(await page.locator("form").count(), 0);
  await shot("17-setup-link-used");
  console.log(JSON.stringify({ ok: true, project_id: projectId, publishable_client_key: publishable, secret_server_key: secret, user_url: userUrl, team_url: teamUrl }));
} catch (e) {
  await shot("failure").catch(() => {});
  throw e;
} finally {
  await browser.close();
}
