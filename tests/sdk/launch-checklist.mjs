// The launch checklist in headless Chromium: on a fresh project (made with the original's default
// sign-in methods: password, magic link, Google and GitHub on shared keys) every check is open;
// the project is then configured for real — trusted domain and no
// localhost, its own SMTP server with a test email sent through it (SMTP_PORT, a sink asking for
// AUTH), its own Google and GitHub keys, Stripe connected (localstripe) with a signed webhook received,
// email verification left off on purpose, a new key set with the first one revoked, and a
// second admin who joined from the invitation email (MAIL_DIR, the instance's sink) — and every
// check is done. Turning production mode on shows what was still open. Then webhook endpoints
// are managed from the dashboard (a signed test event and a user.created delivery to a receiver
// in this script). Screenshots go to ARTIFACTS; the last stdout line is a JSON summary.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { launch, linkIn, mailTo } from "./pages-browser.mjs";

const { SETUP_LINK, ARTIFACTS, SMTP_PORT, MAIL_DIR } = process.env;
const base = new URL(SETUP_LINK).origin;
const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
const shot = (name) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
const openChecks = async () =>
  page.$$eval("#checks li[data-done=false]", (items) => items.map((i) => i.dataset.check));
const result = { ok: false };
try {
  await page.goto(SETUP_LINK);
  await page.fill("#email", "admin@example.com");
  await page.fill("#password", "admin-password-1");
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/dashboard`);
  await page.fill("#display_name", "Launch");
  for (const method of ["credential", "magic_link", "google", "github"]) await page.check(`input[name='method:${method}']`);
  await page.click("text=Create project");
  const keys = {
    publishable: (await page.textContent("#publishable-key")).trim(),
    secret: (await page.textContent("#secret-key")).trim(),
    admin: (await page.textContent("#admin-key")).trim(),
  };
  await page.click("a:has-text('Launch')");
  const projectId = page.url().split("/").pop();
  const here = `${base}/dashboard/projects/${projectId}`;

  // A fresh project: everything is open.
  await page.click("text=Launch checklist →");
  assert.deepEqual(await openChecks(), ["trusted_domains", "email_server", "oauth_keys", "stripe", "email_verification", "fresh_keys", "admins"]);
  assert.match(await page.textContent("[data-check=oauth_keys]"), /Shared development keys: github, google/);
  await shot("01-fresh-project");
  // Production mode on now lists what is open.
  await page.click("text=Turn production mode on");
  assert.match(await page.textContent("#notice"), /Production mode is on, with 7 check\(s\) still open/);
  await page.click("text=Turn production mode off");

  // Trusted domain, localhost off, the project's own SMTP server and a test email through it.
  await page.goto(`${here}/settings`);
  await page.uncheck("input[name=allow_localhost]");
  await page.fill("#domains", "https://app.launch.test");
  await page.fill("#smtp_host", "127.0.0.1");
  await page.fill("#smtp_port", SMTP_PORT);
  await page.fill("#smtp_username", "mailer");
  await page.fill("#smtp_password", "s3cret");
  await page.fill("#sender_name", "Launch");
  await page.fill("#sender_email", "hello@launch.test");
  await page.click("text=Save settings");
  await page.fill("#test_to", "ops@launch.test");
  await page.click("text=Send test email");
  for (let i = 0; i < 50 && !(await page.textContent("#outbox")).includes("sent"); i++) {
    await new Promise((r) => setTimeout(r, 200));
    await page.reload();
  }
  // Its own Google and GitHub keys.
  for (const provider of ["google", "github"]) {
    await page.selectOption("#oauth-provider", provider);
    await page.selectOption("#oauth-type", "standard");
    await page.fill("#oauth-client-id", `${provider}-client`);
    await page.fill("#oauth-client-secret", `${provider}-secret-value`);
    await page.click("text=Save provider");
  }

  // Stripe connected, and a signed webhook from it received.
  const admin = { "x-stack-project-id": projectId, "x-stack-access-type": "admin", "x-stack-secret-server-key": keys.secret, "x-stack-super-secret-admin-key": keys.admin, "content-type": "application/json" };
  const setup = await fetch(`${base}/api/v1/internal/payments/setup`, {
    method: "POST", headers: admin,
    body: JSON.stringify({ stripe_secret_key: "sk_test_portcullis", stripe_webhook_secret: "whsec_launch", stripe_publishable_key: "pk_test_portcullis" }),
  });
  assert.equal(setup.status, 200, await setup.text());
  const event = JSON.stringify({ id: `evt_launch_${Date.now()}`, object: "event", type: "customer.updated", data: { object: { id: "cus_launch", object: "customer" } } });
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac("sha256", "whsec_launch").update(`${t}.${event}`).digest("hex");
  const hook = await fetch(`${base}/api/v1/integrations/stripe/webhooks?project_id=${projectId}`, {
    method: "POST", headers: { "content-type": "application/json", "stripe-signature": `t=${t},v1=${v1}` }, body: event,
  });
  assert.equal(hook.status, 200, await hook.text());

  // A new key set, and the first one revoked.
  await page.goto(here);
  await page.fill("#key-description", "production");
  await page.click("text=Create API keys");
  // The new set's keys: the first set is revoked next.
  keys.secret = (await page.textContent("#new-secret-key")).trim();
  await page.goto(here);
  const first = page.locator("#key-sets tr", { hasText: "active" }).filter({ hasNotText: "production" });
  await first.locator("input[name=confirm]").check();
  await first.locator("text=Revoke").click();

  // A second admin, from the invitation email.
  await page.goto(`${base}/dashboard`);
  await page.fill("#invite_email", "second-admin@example.com");
  await page.click("text=Send invitation");
  const join = linkIn(await mailTo(MAIL_DIR, "second-admin@example.com", 1));
  const other = await (await browser.newContext()).newPage();
  await other.goto(join);
  await other.fill("#password", "second-admin-pass");
  await other.click("button:text-is('Join')");
  await other.waitForURL(`${base}/dashboard`, { timeout: 10000 }).catch(async (e) => {
    throw new Error(`joining failed at ${other.url()}: ${await other.textContent("body")}`);
  });

  // Email verification: off, on purpose.
  await page.goto(`${here}/launch`);
  assert.deepEqual(await openChecks(), ["email_verification"]);
  await page.click("text=Keep it off on purpose");
  assert.deepEqual(await openChecks(), []);
  assert.match(await page.textContent("#progress"), /7 of 7 done/);
  await shot("02-configured-project");
  // The second admin sees the same progress.
  await other.goto(`${here}/launch`);
  assert.match(await other.textContent("#progress"), /7 of 7 done/);
  await page.click("text=Turn production mode on");
  assert.match(await page.textContent("#notice"), /every check is done/);
  await shot("03-production-on");

  // Webhooks from the dashboard: a private address refused; a loopback receiver (this script's
  // own HTTP server; the test server allows loopback) added, its secret shown once, a signed
  // test event delivered, a new secret, removal.
  const received = [];
  const receiver = createServer((req, res) => {
    received.push(req.headers);
    res.end("ok");
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  await page.goto(`${here}/webhooks`);
  await page.fill("#webhook-url", "http://10.1.2.3/hooks");
  await page.click("text=Add endpoint");
  assert.match(await page.textContent(".error"), /private or link-local address/);
  await page.fill("#webhook-url", `http://127.0.0.1:${receiver.address().port}/hooks`);
  await page.check("input[name='type:user.created']");
  await page.click("text=Add endpoint");
  assert.match(await page.textContent("#webhook-secret"), /^whsec_/);
  await shot("04-webhook-added");
  await page.click("text=Send test event");
  assert.match(await page.textContent("#notice"), /test event was delivered/);
  assert.ok(received[0]["webhook-signature"]?.startsWith("v1,"), JSON.stringify(received[0]));
  await page.click("text=New secret");
  assert.match(await page.textContent("#webhook-secret"), /^whsec_/);
  // A real event: a user created through the API is delivered, and its attempt listed.
  const server = { "x-stack-project-id": projectId, "x-stack-access-type": "server", "x-stack-secret-server-key": keys.secret, "content-type": "application/json" };
  const created = await fetch(`${base}/api/v1/users`, { method: "POST", headers: server, body: JSON.stringify({ primary_email: "hooked@launch.test" }) });
  assert.equal(created.status, 201, await created.text());
  await page.click("#endpoints a");
  for (let i = 0; i < 50 && !(await page.textContent("#attempts")).includes(" ms"); i++) {
    await new Promise((r) => setTimeout(r, 200));
    await page.reload();
  }
  assert.match(await page.textContent("#attempts"), /200 ok/);
  await shot("05-webhook-attempts");
  await page.goto(`${here}/webhooks`);
  await page.check("#endpoints input[name=confirm]");
  await page.click("#endpoints button:text-is('Remove')");
  assert.match(await page.textContent("#notice"), /Endpoint removed/);
  receiver.close();
  result.ok = true;
} catch (e) {
  await shot("failure").catch(() => {});
  throw e;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
